"""The search pass (no autograd): each pixel's nearest piece, and fills' winding numbers.

Pixels learn their nearest piece by a scatter-min of packed (distance, piece) keys over dense
square windows around the pieces, batched by window size; fills count scanline crossings.
"""

from __future__ import annotations

import torch
from torch import Tensor

from clipdraw.render.fusion import fused
from clipdraw.render.pieces import FILL, KEY_BIAS, KEY_SCALE, NO_PIECE, Group, Pieces
from clipdraw.render.plan import Sizes, spread
from clipdraw.render.settings import RenderSettings

__all__ = ['filled', 'search', 'winding_numbers']

def search(
    chosen: Tensor,
    pieces: Pieces,
    group: Group,
    end: int,
    compile: bool,
    sizes: Sizes,
    number: int,
    settings: RenderSettings,
) -> None:
    """Scatter into ``chosen`` the packed (distance, piece) key of each pixel's nearest piece
    among the pieces of the group's layers (up to layer ``end``).

    Pieces are batched by the size of their pixel windows, so that each batch is a dense
    (pieces, rows, columns) block computed by broadcasting rather than by gathers. The last
    entry of ``chosen`` is a spare that takes pixels outside the buffer.
    """
    first, x0, y0, w, h, offset = group.first, group.x0, group.y0, group.w, group.h, group.offset
    start, stop = pieces.start, pieces.end
    reach, inset = pieces.reach, pieces.inset
    in_group = (pieces.layer >= first) & (pieces.layer < end)
    layer = torch.where(in_group, pieces.layer - first, 0)
    low = torch.floor(torch.minimum(start, stop) - reach[:, None]).clamp(-1, 1 << 20).long()
    high = torch.ceil(torch.maximum(start, stop) + reach[:, None]).clamp(-1, 1 << 20).long()
    box_low = torch.stack([x0, y0], -1)[layer]
    box_high = box_low + torch.stack([w, h], -1)[layer]
    low = torch.minimum(torch.maximum(low, box_low), box_high)
    span = (torch.minimum(torch.maximum(high, low), box_high) - low).clamp(min=0)
    span = torch.where(in_group[:, None], span, 0)
    stride = w[layer]
    base = offset[layer] + (low[:, 1] - y0[layer]) * stride + (low[:, 0] - x0[layer])
    along = stop - start
    inverse = 1.0 / along.square().sum(-1).clamp_min(1e-12)
    corner = low.to(start.dtype) + 0.5 - start
    limit = reach - inset
    extent = torch.where((span > 0).all(-1),
                         _window_extent(span, settings.window_steps_per_octave), 0)
    count = extent.numel()
    spare = chosen.numel() - 1
    window_sizes = sizes.distinct(("windows", number), extent, ignore=0)
    for smaller, size in zip([0, *window_sizes], window_sizes):
        batch = sizes.nonzero(("window", number, size), (extent > smaller) & (extent <= size))
        step = max(1, settings.pairs_per_chunk // (size * size))
        for part in range(0, batch.numel(), step):
            members = batch[part : part + step]
            read = members.clamp(max=count - 1)
            block = (corner[read], along[read], inverse[read], inset[read], limit[read],
                     torch.where((members < count)[:, None], span[read], 0), base[read],
                     stride[read], read)
            index, key = fused(_window_keys, compile)(*block, size, spare)
            chosen.scatter_reduce_(0, index, key, "amin")


def _window_extent(span: Tensor, steps_per_octave: int) -> Tensor:
    """Side of the square window each piece is scanned in: its larger span rounded up to one of
    ``steps_per_octave`` steps per octave (a power of two), so few window sizes waste little."""
    size = span.amax(-1).clamp(min=1)
    octave_steps = steps_per_octave.bit_length() - 1
    step = torch.pow(2, (torch.log2(size.float()).floor().long() - octave_steps).clamp(min=1))
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
    index = torch.where(inside & (index < spare), index, spare)
    return index.reshape(-1), key.reshape(-1)


def winding_numbers(
    pieces: Pieces,
    group: Group,
    end: int,
    total: int,
    sizes: Sizes,
    number: int,
) -> Tensor | None:
    """Winding number of each of the ``total`` entries of the group's buffer and of the spare
    entry after them (0 outside fill layers); ``None`` when the group has no fill."""
    first, w, h, offset = group.first, group.w, group.h, group.offset
    device = w.device
    area = w * h
    layers = w.numel()
    fill_layer = ((torch.arange(layers, device=device) + first) % 2 == FILL) & (area > 0)
    fill_piece = (pieces.kind == FILL) & (pieces.layer >= first) & (pieces.layer < end)
    if not sizes.flag(("fills", "search", number), fill_layer.any() & fill_piece.any()):
        return None
    crossings = _winding(pieces, fill_piece, group, sizes, number)
    row_offset = torch.cumsum(h * (w + 1), 0) - h * (w + 1)
    entry = torch.arange(total + 1, device=device)
    layer = torch.searchsorted(offset + area, entry, right=True).clamp(max=layers - 1)
    within = entry - offset[layer]
    # Entry (row, column) of a layer's box is count column of row ``row`` of its w + 1 counts.
    position = row_offset[layer] + within + within // w[layer].clamp(min=1)
    keep = fill_layer[layer] & (within < area[layer]) & (position < crossings.numel())
    return torch.where(keep, crossings[position.clamp(0, max(crossings.numel() - 1, 0))], 0)


def filled(winding: Tensor, layer_evenodd: Tensor, layer_end: Tensor, first: int) -> Tensor:
    """Whether each entry's winding number is filled under its layer's fill rule."""
    entry = torch.arange(winding.numel(), device=winding.device)
    layer = torch.searchsorted(layer_end, entry, right=True).clamp(max=layer_end.numel() - 1)
    layer = layer + first
    return torch.where(layer_evenodd[layer], winding % 2 != 0, winding != 0) & (layer % 2 == FILL)


def _winding(pieces: Pieces, fill: Tensor, group: Group, sizes: Sizes, number: int) -> Tensor:
    """Winding numbers of every pixel centre of the group's fill layers, by scanline crossings
    of the pieces marked in ``fill``.

    Returns a flat buffer holding, per layer, ``h`` rows of ``w + 1`` counts (the last unused).
    """
    first, x0, y0, w, h = group.first, group.x0, group.y0, group.w, group.h
    device = pieces.start.device
    a, b = pieces.start, pieces.end
    layer = torch.where(fill, pieces.layer - first, 0)
    top = torch.ceil(torch.minimum(a[:, 1], b[:, 1]) - 0.5).clamp(-1, 1 << 20).long()
    bottom = torch.ceil(torch.maximum(a[:, 1], b[:, 1]) - 0.5).clamp(-1, 1 << 20).long()
    top = (top - y0[layer]).clamp(0, None)
    top = torch.minimum(top, h[layer])
    bottom = torch.minimum((bottom - y0[layer]).clamp(0, None), h[layer])
    counts = torch.where(fill, (bottom - top).clamp(min=0), 0)
    stride = w + 1
    row_offset = torch.cumsum(h * stride, 0) - h * stride
    rows = sizes.count(("rows", number), (h * stride).sum())
    # One spare count past the end takes the crossings that fall outside the buffer.
    buffer = torch.zeros(rows + 1, dtype=torch.long, device=device)
    owner, row = spread(counts, sizes.count(("crossings", number), counts.sum()))
    real = owner < counts.numel()
    owner = owner.clamp(max=max(counts.numel() - 1, 0))
    if owner.numel():
        row = top[owner] + row
        edge_a, edge_b = a[owner], b[owner]
        centre_y = (y0[layer[owner]] + row).to(a.dtype) + 0.5
        cross = edge_a[:, 0] + (centre_y - edge_a[:, 1]) * (edge_b[:, 0] - edge_a[:, 0]) / (
            edge_b[:, 1] - edge_a[:, 1]
        )
        column = torch.ceil(cross - 0.5).clamp(-1, 1 << 20).long() - x0[layer[owner]]
        column = torch.minimum(column.clamp(min=0), w[layer[owner]])
        direction = torch.where(real, torch.where(edge_b[:, 1] > edge_a[:, 1], 1, -1), 0)
        base = row_offset[layer[owner]] + row * stride[layer[owner]]
        buffer.index_add_(0, base.clamp(max=rows), direction)
        buffer.index_add_(0, (base + column).clamp(max=rows), -direction)
    return torch.cumsum(buffer, 0)[:-1]
