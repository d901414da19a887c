"""The search pass (no autograd): each pixel's nearest piece, and fills' winding numbers.

Pixels learn their nearest piece by a scatter-min of packed (distance, piece) keys over dense
square windows around the pieces, batched by window size; fills count scanline crossings.
"""

from __future__ import annotations

import torch
from torch import Tensor

from clipdraw.render.fusion import fused
from clipdraw.render.pieces import FILL, KEY_BIAS, KEY_SCALE, NO_PIECE, Group, Pieces

__all__ = ['filled', 'search', 'winding_numbers']

# Pixel-piece pairs scanned at once.
PAIRS_PER_CHUNK = 1 << 21

def search(
    chosen: Tensor,
    pieces: Pieces,
    lo: int,
    hi: int,
    group: Group,
    compiled: bool,
) -> None:
    """Scatter into ``chosen`` the packed (distance, piece) key of each pixel's nearest piece.

    Pieces are batched by the size of their pixel windows, so that each batch is a dense
    (pieces, rows, columns) block computed by broadcasting rather than by gathers.
    """
    first, x0, y0, w, h, offset = group.first, group.x0, group.y0, group.w, group.h, group.offset
    device = chosen.device
    start, end = pieces.start[lo:hi], pieces.end[lo:hi]
    reach = pieces.reach[lo:hi]
    inset = pieces.inset[lo:hi]
    layer = pieces.layer[lo:hi] - first
    low = torch.floor(torch.minimum(start, end) - reach[:, None]).clamp(-1, 1 << 20).long()
    high = torch.ceil(torch.maximum(start, end) + reach[:, None]).clamp(-1, 1 << 20).long()
    box_low = torch.stack([x0, y0], -1)[layer]
    box_high = box_low + torch.stack([w, h], -1)[layer]
    low = torch.minimum(torch.maximum(low, box_low), box_high)
    span = (torch.minimum(torch.maximum(high, low), box_high) - low).clamp(min=0)
    stride = w[layer]
    base = offset[layer] + (low[:, 1] - y0[layer]) * stride + (low[:, 0] - x0[layer])
    along = end - start
    inverse = 1.0 / along.square().sum(-1).clamp_min(1e-12)
    corner = low.to(start.dtype) + 0.5 - start
    limit = reach - inset
    extent = _window_extent(span)
    sizes, members = torch.unique(extent, return_inverse=True)
    order = torch.argsort(members, stable=True)
    bounds = torch.searchsorted(members[order], torch.arange(sizes.numel() + 1, device=device))
    for size, begin, stop in zip(sizes.tolist(), bounds[:-1].tolist(), bounds[1:].tolist()):
        group = order[begin:stop]
        step = max(1, PAIRS_PER_CHUNK // (size * size))
        for part in range(0, group.numel(), step):
            members = group[part : part + step]
            block = (corner[members], along[members], inverse[members], inset[members],
                     limit[members], span[members], base[members], stride[members],
                     members + lo)
            index, key = fused(_window_keys, compiled)(*block, size, chosen.numel() - 1)
            chosen.scatter_reduce_(0, index, key, "amin")


def _window_extent(span: Tensor) -> Tensor:
    """Side of the square window each piece is scanned in: its larger span rounded up to one of
    eight steps per octave, so few window sizes waste little."""
    size = span.amax(-1).clamp(min=1)
    step = torch.pow(2, (torch.log2(size.float()).floor().long() - 3).clamp(min=1))
    return (size + step - 1) // step * step


def _window_keys(
    corner: Tensor,
    along: Tensor,
    inverse: Tensor,
    inset: Tensor,
    limit: Tensor,
    span: Tensor,
    base: Tensor,
    stride: Tensor,
    piece: Tensor,
    size: int,
    spare: int,
) -> tuple[Tensor, Tensor]:
    """Buffer indices and packed (distance, piece) keys of a block of square pixel windows.

    Pixels outside a window's span, or out of its piece's reach, get index ``spare`` or the
    empty key. Pure elementwise work: what :func:`torch.compile` fuses into one loop.

    Shape:
        - corner, along, span: :math:`(M, 2)`; the rest :math:`(M,)`
        - Output: two :math:`(M \\cdot size^2,)` long tensors
    """
    column = torch.arange(size, device=corner.device)
    row = column[:, None]
    dx = corner[:, 0, None, None] + column
    dy = corner[:, 1, None, None] + row
    ax = along[:, 0, None, None]
    ay = along[:, 1, None, None]
    t = ((dx * ax + dy * ay) * inverse[:, None, None]).clamp(0, 1)
    value = torch.sqrt((dx - t * ax).square() + (dy - t * ay).square()) - inset[:, None, None]
    inside = (column < span[:, 0, None, None]) & (row < span[:, 1, None, None])
    key = ((value + KEY_BIAS) * KEY_SCALE).long().clamp(0, (1 << 30) - 1)
    key = (key << 32) | piece[:, None, None]
    key = torch.where(inside & (value < limit[:, None, None]), key, NO_PIECE)
    index = base[:, None, None] + row * stride[:, None, None] + column
    index = torch.where(inside, index, spare)
    return index.reshape(-1), key.reshape(-1)


def winding_numbers(
    pieces: Pieces,
    lo: int,
    hi: int,
    group: Group,
) -> Tensor | None:
    """Winding number of every entry of the group's buffer (0 outside fill layers); ``None``
    when the group has no fill."""
    first, w, h, offset = group.first, group.w, group.h, group.offset
    device = w.device
    area = w * h
    layer = torch.arange(w.numel(), device=device)
    fills = layer[((layer + first) % 2 == FILL) & (area > 0)]
    if fills.numel() == 0 or not bool((pieces.kind[lo:hi] == FILL).any()):
        return None
    crossings = _winding(pieces, lo, hi, group)
    row_offset = torch.cumsum(h * (w + 1), 0) - h * (w + 1)
    owner = torch.repeat_interleave(fills, area[fills])
    within = torch.arange(owner.numel(), device=device) - torch.repeat_interleave(
        torch.cumsum(area[fills], 0) - area[fills], area[fills]
    )
    winding = torch.zeros(int(area.sum()), dtype=torch.long, device=device)
    winding[offset[owner] + within] = crossings[row_offset[owner] + within + within // w[owner]]
    return winding


def filled(winding: Tensor, layer_evenodd: Tensor, layer_end: Tensor, first: int) -> Tensor:
    """Whether each entry's winding number is filled under its layer's fill rule."""
    entry = torch.arange(winding.numel(), device=winding.device)
    layer = torch.searchsorted(layer_end, entry, right=True) + first
    return torch.where(layer_evenodd[layer], winding % 2 != 0, winding != 0) & (layer % 2 == FILL)


def _winding(pieces: Pieces, lo: int, hi: int, group: Group) -> Tensor:
    """Winding numbers of every pixel centre of the group's fill layers, by scanline crossings.

    Returns a flat buffer holding, per layer, ``h`` rows of ``w + 1`` counts (the last unused).
    """
    first, x0, y0, w, h = group.first, group.x0, group.y0, group.w, group.h
    device = pieces.start.device
    fill = torch.nonzero(pieces.kind[lo:hi] == FILL).squeeze(1) + lo
    a, b = pieces.start[fill], pieces.end[fill]
    layer = pieces.layer[fill] - first
    top = torch.ceil(torch.minimum(a[:, 1], b[:, 1]) - 0.5).clamp(-1, 1 << 20).long()
    bottom = torch.ceil(torch.maximum(a[:, 1], b[:, 1]) - 0.5).clamp(-1, 1 << 20).long()
    top = (top - y0[layer]).clamp(0, None)
    top = torch.minimum(top, h[layer])
    bottom = torch.minimum((bottom - y0[layer]).clamp(0, None), h[layer])
    counts = (bottom - top).clamp(min=0)
    stride = w + 1
    row_offset = torch.cumsum(h * stride, 0) - h * stride
    buffer = torch.zeros(int((h * stride).sum()), dtype=torch.long, device=device)
    owner = torch.repeat_interleave(torch.arange(fill.numel(), device=device), counts)
    if owner.numel():
        row = top[owner] + torch.arange(owner.numel(), device=device) - (
            torch.cumsum(counts, 0) - counts
        )[owner]
        edge_a, edge_b = a[owner], b[owner]
        centre_y = (y0[layer[owner]] + row).to(a.dtype) + 0.5
        cross = edge_a[:, 0] + (centre_y - edge_a[:, 1]) * (edge_b[:, 0] - edge_a[:, 0]) / (
            edge_b[:, 1] - edge_a[:, 1]
        )
        column = torch.ceil(cross - 0.5).clamp(-1, 1 << 20).long() - x0[layer[owner]]
        column = torch.minimum(column.clamp(min=0), w[layer[owner]])
        direction = torch.where(edge_b[:, 1] > edge_a[:, 1], 1, -1)
        base = row_offset[layer[owner]] + row * stride[layer[owner]]
        buffer.index_add_(0, base, direction)
        buffer.index_add_(0, base + column, -direction)
    return torch.cumsum(buffer, 0)
