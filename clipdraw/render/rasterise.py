"""The pure-PyTorch renderer: exact box-filtered coverage of stroked and filled Bézier paths.

A path's stroke is the set of points within half its width of the curve (round joins and caps
for free; butt and square caps cut or extend the ends), its fill the set of points with nonzero
or odd winding number. Rendering runs in two passes:

1. *Search* (no autograd, chunked): each path is flattened into short pieces; every pixel in a
   piece's reach learns which piece of its shape is nearest, by a scatter-min of packed
   (distance, piece) keys into a buffer over the shape's bounding box. Fills also get winding
   numbers by scanline crossing counts. Pixels that no shape reaches cost nothing.
2. *Shading* (autograd): for the pixels a shape touches, the nearest point on the exact cubic is
   refined by Newton steps and kept fixed (at a closest point the distance's derivative in the
   curve parameter vanishes, so this loses no gradient); distance -> box-filter coverage ->
   alpha, composited in paint order. Only these fragments are kept for the backward pass.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass

import torch
from torch import Tensor

from clipdraw.render.bezier import evaluate, path_segments, polynomial, power_basis, project
from clipdraw.render.composite import composite
from clipdraw.render.coverage import band_coverage, edge_coverage
from clipdraw.scene import FillRule, LineCap, Scene

__all__ = ["rasterise"]

FILL, STROKE = 0, 1
# Segments are cut into pieces whose distance from the curve is at most this (in pixels): coarse
# for strokes, whose distances are refined on the exact curve, fine for fills, whose winding
# numbers come from the pieces themselves.
STROKE_FLATNESS = 0.5
FILL_FLATNESS = 0.05
MIN_PIECES = 2
MAX_PIECES = 256
# How far beyond a shape's edge a pixel centre can still be partly covered: the box filter reaches
# 0.71 px, the rest is margin for the flattening's error during the search.
EDGE_REACH = 1.5
# Strokes thinner than twice this (in pixels) get their round caps and joins supersampled.
SMALL_RADIUS = 3.0
SUBSAMPLES = 4
PAIRS_PER_CHUNK = 1 << 21
ENTRIES_PER_GROUP = 1 << 23
_KEY_SCALE = 256.0
_KEY_BIAS = 8192.0
_NO_PIECE = torch.iinfo(torch.int64).max


@dataclass
class _Pieces:
    """Straight pieces of flattened segments, sorted by layer. Shapes: (Q, ...)."""

    start: Tensor  # (Q, 2)
    end: Tensor  # (Q, 2)
    layer: Tensor  # (Q,) long
    segment: Tensor  # (Q,) long, flat index into the (G * (S + 1)) segment table
    t0: Tensor  # (Q,) parameter of `start` on its segment
    dt: Tensor  # (Q,) parameter span of the piece
    inset: Tensor  # (Q,) half stroke width (0 for fills): subtracted from distances
    reach: Tensor  # (Q,) how far beyond `inset` the piece can cover pixels
    flatness: Tensor  # (Q,) bound on the distance between the piece and its sub-curve
    deep_key: Tensor  # (Q,) packed distances below this lie deep inside a round-ended stroke
    kind: Tensor  # (Q,) FILL or STROKE


@dataclass
class _Layers:
    """Bounding boxes of fill and stroke layers on the pixel grid. Shapes: (L,)."""

    x0: Tensor
    y0: Tensor
    w: Tensor
    h: Tensor


def rasterise(scene: Scene, scale: float, compiled: bool = False) -> Tensor:
    """Render ``scene`` at ``scale`` pixels per unit; see :func:`clipdraw.render.render`.

    Shape:
        - Output: :math:`(B, 4, H, W)` straight-alpha RGBA.
    """
    batch, paths, slots, _ = scene.points.shape
    height = max(1, round(scene.height * scale))
    width = max(1, round(scene.width * scale))
    device = scene.points.device

    points = (scene.points * scale).reshape(batch * paths, slots, 2)
    half = (scene.stroke_width * (scale / 2)).reshape(-1)
    num_segments = scene.num_segments.reshape(-1)
    closed = scene.closed.reshape(-1)
    controls, valid = path_segments(points, num_segments, closed)
    table = controls.reshape(-1, 4, 2)

    shape_starts = torch.ones(batch, paths, dtype=torch.bool, device=device)
    shape_starts[:, 1:] = scene.shape[:, 1:] != scene.shape[:, :-1]
    shape_starts = shape_starts.reshape(-1)
    shape_of_path = torch.cumsum(shape_starts.long(), 0) - 1
    leader = torch.nonzero(shape_starts).squeeze(1)
    layer_paint = torch.stack(
        [scene.fill_color.reshape(-1, 4)[leader], scene.stroke_color.reshape(-1, 4)[leader]], 1
    ).reshape(-1, 4)
    layer_on = torch.stack(
        [scene.filled.reshape(-1)[leader], scene.stroked.reshape(-1)[leader]], 1
    ).reshape(-1)
    layer_canvas = (leader // max(paths, 1)).repeat_interleave(2)
    layer_evenodd = (scene.fill_rule.reshape(-1)[leader] == FillRule.EVENODD).repeat_interleave(2)

    background = scene.background
    if leader.numel() == 0:
        return composite(
            torch.zeros(0, dtype=torch.long, device=device),
            background.new_zeros(0),
            background.new_zeros(0, 3),
            background,
            height,
            width,
        )

    with torch.no_grad():
        pieces = _flatten(
            controls.detach(),
            valid,
            half.detach(),
            closed,
            scene.linecap.reshape(-1),
            shape_of_path,
            layer_on,
        )
        layers = _layer_boxes(pieces, layer_on.shape[0], width, height)

    fragments = []
    for first_layer, end_layer in _layer_groups(layers):
        fragments.append(
            _shade_group(
                first_layer,
                end_layer,
                layers,
                pieces,
                table,
                half,
                closed,
                num_segments,
                scene.linecap.reshape(-1),
                layer_evenodd,
                controls.shape[1],
                compiled,
            )
        )
    layer = torch.cat([f[0] for f in fragments])
    x = torch.cat([f[1] for f in fragments])
    y = torch.cat([f[2] for f in fragments])
    coverage = torch.cat([f[3] for f in fragments])
    paint = layer_paint.index_select(0, layer)
    pixel = (layer_canvas[layer] * height + y) * width + x
    return composite(pixel, paint[:, 3] * coverage, paint[:, :3], background, height, width)


def _flatten(
    controls: Tensor,
    valid: Tensor,
    half: Tensor,
    closed: Tensor,
    linecap: Tensor,
    shape_of_path: Tensor,
    layer_on: Tensor,
) -> _Pieces:
    """Cut every drawn segment into straight pieces, strokes and fills alike."""
    slots = controls.shape[1]
    fill_layer = 2 * shape_of_path
    stroke_layer = fill_layer + 1
    stroke_sources = valid & layer_on[stroke_layer][:, None] & (half > 0)[:, None]
    stroke_sources[:, -1] = False
    fill_sources = valid & layer_on[fill_layer][:, None]
    square = (linecap == LineCap.SQUARE) & ~closed
    stroke_extra = torch.where(square, half * (math.sqrt(2) - 1), 0.0) + EDGE_REACH

    parts = []
    for kind, sources, tolerance in ((FILL, fill_sources, FILL_FLATNESS),
                                     (STROKE, stroke_sources, STROKE_FLATNESS)):
        path, slot = torch.nonzero(sources, as_tuple=True)
        curves = controls[path, slot]
        bend = torch.stack([curves[:, 0] - 2 * curves[:, 1] + curves[:, 2],
                            curves[:, 1] - 2 * curves[:, 2] + curves[:, 3]], 1)
        bend = 0.75 * bend.norm(dim=-1).amax(-1)
        count = torch.ceil(torch.sqrt(bend / tolerance)).clamp(MIN_PIECES, MAX_PIECES).long()
        source = torch.repeat_interleave(torch.arange(path.numel(), device=path.device), count)
        step = (1.0 / count).to(controls.dtype)[source]
        index = torch.arange(source.numel(), device=path.device) - (torch.cumsum(count, 0)
                                                                     - count)[source]
        t0 = index.to(controls.dtype) * step
        curve = curves[source]
        inset = half[path] if kind == STROKE else torch.zeros_like(half[path])
        extra = stroke_extra[path] if kind == STROKE else torch.full_like(inset, EDGE_REACH)
        layer = (stroke_layer if kind == STROKE else fill_layer)[path]
        flatness = bend / count.square()
        deep_key = torch.floor((_KEY_BIAS - EDGE_REACH - flatness) * _KEY_SCALE).long() - 1
        round_ended = closed[path] | (linecap[path] == LineCap.ROUND)
        deep_key = torch.where(round_ended & (kind == STROKE), deep_key, -1)
        parts.append(
            _Pieces(
                start=evaluate(curve, t0),
                end=evaluate(curve, torch.where(index + 1 == count[source], 1.0, t0 + step)),
                layer=layer[source],
                segment=(path * slots + slot)[source],
                t0=t0,
                dt=step,
                inset=inset[source],
                reach=(inset + extra)[source],
                flatness=flatness[source],
                deep_key=deep_key[source],
                kind=torch.full_like(source, kind),
            )
        )
    names = _Pieces.__annotations__
    joined = {name: torch.cat([getattr(p, name) for p in parts]) for name in names}
    order = torch.argsort(joined["layer"], stable=True)
    return _Pieces(**{name: value[order] for name, value in joined.items()})


def _layer_boxes(pieces: _Pieces, count: int, width: int, height: int) -> _Layers:
    """Pixel bounding box of every layer, clipped to its canvas."""
    low = torch.minimum(pieces.start, pieces.end) - pieces.reach[:, None]
    high = torch.maximum(pieces.start, pieces.end) + pieces.reach[:, None]
    index = pieces.layer[:, None].expand(-1, 2)
    lowest = torch.full((count, 2), math.inf, device=low.device, dtype=low.dtype)
    lowest = lowest.scatter_reduce(0, index, low, "amin")
    highest = torch.full((count, 2), -math.inf, device=low.device, dtype=low.dtype)
    highest = highest.scatter_reduce(0, index, high, "amax")
    limit = torch.tensor([width, height], device=low.device)
    lowest = torch.floor(lowest.clamp(-1, max(width, height) + 1)).long().clamp(min=0)
    lowest = torch.minimum(lowest, limit)
    highest = torch.ceil(highest.clamp(-1, max(width, height) + 1)).long()
    highest = torch.minimum(highest, limit)
    size = (highest - lowest).clamp(min=0)
    return _Layers(x0=lowest[:, 0], y0=lowest[:, 1], w=size[:, 0], h=size[:, 1])


def _layer_groups(layers: _Layers) -> list[tuple[int, int]]:
    """Split the layers into consecutive runs whose boxes hold at most ENTRIES_PER_GROUP pixels."""
    area = (layers.w * layers.h).tolist()
    groups, start, held = [], 0, 0
    for index, size in enumerate(area):
        if held and held + size > ENTRIES_PER_GROUP:
            groups.append((start, index))
            start, held = index, 0
        held += size
    groups.append((start, len(area)))
    return groups


def _shade_group(
    first: int,
    end: int,
    layers: _Layers,
    pieces: _Pieces,
    table: Tensor,
    half: Tensor,
    closed: Tensor,
    num_segments: Tensor,
    linecap: Tensor,
    layer_evenodd: Tensor,
    slots: int,
    compiled: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Fragments (layer, x, y, coverage) of layers ``first`` to ``end`` (exclusive)."""
    device = table.device
    with torch.no_grad():
        x0, y0 = layers.x0[first:end], layers.y0[first:end]
        w, h = layers.w[first:end], layers.h[first:end]
        area = w * h
        offset = torch.cumsum(area, 0) - area
        total = int(area.sum())
        lo, hi = torch.searchsorted(
            pieces.layer, torch.tensor([first, end], device=device)
        ).tolist()
        chosen = torch.full((total + 1,), _NO_PIECE, dtype=torch.long, device=device)
        _search(chosen, pieces, lo, hi, first, x0, y0, w, h, offset, compiled)
        chosen = chosen[:-1]
        active = chosen != _NO_PIECE
        winding = _winding_numbers(pieces, lo, hi, first, x0, y0, w, h, offset)
        if winding is not None:
            inside = _filled(winding, layer_evenodd, offset + area, first)
            active |= inside
        active = torch.nonzero(active).squeeze(1)
        layer = torch.searchsorted(offset + area, active, right=True)
        local = active - offset[layer]
        row = local // w[layer]
        x = x0[layer] + local - row * w[layer]
        y = y0[layer] + row
        layer = layer + first
        key = chosen[active]
        piece = key & 0xFFFFFFFF
        near = key != _NO_PIECE
        # A pixel this deep inside a round-ended stroke is covered whatever the exact distance:
        # it needs no geometry and has none of its gradient.
        deep = (key >> 32) < pieces.deep_key[piece.clamp(max=max(pieces.layer.numel() - 1, 0))]
        shaded = torch.nonzero(near & ~deep).squeeze(1)
        is_stroke = (layer[shaded] % 2) == STROKE
        if winding is not None:
            inside = inside[active[shaded]]
            winding = winding[active[shaded]]
        else:
            inside = torch.zeros_like(is_stroke)
            winding = torch.zeros_like(shaded)
        piece = piece[shaded]
        segment = pieces.segment[piece]
        path = segment // slots
        centre = torch.stack([x[shaded], y[shaded]], -1).to(table.dtype) + 0.5
        start_point, along = pieces.start[piece], pieces.end[piece] - pieces.start[piece]
        t = ((centre - start_point) * along).sum(-1) / along.square().sum(-1).clamp_min(1e-12)
        guess = pieces.t0[piece] + t.clamp(0, 1) * pieces.dt[piece]

    coefficients = power_basis(table[segment])
    with torch.no_grad():
        t = project(coefficients.detach(), centre, guess, iterations=2)
    offset_vector = centre - polynomial(coefficients, t)
    distance = torch.sqrt(offset_vector.square().sum(-1) + 1e-12)
    normal = _edge_normal(offset_vector, distance, coefficients, t)
    stroke = band_coverage(distance, half[path], normal)
    stroke = _supersample_joints(stroke, centre, distance.detach(), t, is_stroke, path,
                                 segment % slots, half, closed, num_segments, linecap, table,
                                 slots)
    stroke = _cap(stroke, centre, path, segment % slots, half, closed, num_segments, linecap,
                  table, slots)
    fill = edge_coverage(torch.where(inside, distance, -distance), normal)
    with torch.no_grad():
        # The nearest edge bounds the fill only if the winding number across it is filled
        # differently; inside a nonzero fill an edge may separate winding 1 from 2.
        tangent = polynomial(coefficients.detach(), t, 1)
        side = tangent[:, 0] * offset_vector[:, 1] - tangent[:, 1] * offset_vector[:, 0]
        across = winding - torch.where(side > 0, 1, -1)
        evenodd = layer_evenodd[layer[shaded]]
        across_inside = torch.where(evenodd, across % 2 != 0, across != 0)
        interior = (across_inside == inside) & inside & (distance > 2 * FILL_FLATNESS)
    fill = torch.where(interior, 1.0, fill)
    fill = _supersample_corners(fill, centre, distance.detach(), t, ~is_stroke & ~interior, inside,
                                path, segment % slots, closed, num_segments, table, slots)
    values = torch.where(is_stroke, stroke, fill)
    coverage = torch.ones(layer.shape[0], dtype=values.dtype, device=device)
    coverage = coverage.index_put((shaded,), values)
    return layer, x, y, coverage


def _winding_numbers(
    pieces: _Pieces,
    lo: int,
    hi: int,
    first: int,
    x0: Tensor,
    y0: Tensor,
    w: Tensor,
    h: Tensor,
    offset: Tensor,
) -> Tensor | None:
    """Winding number of every entry of the group's buffer (0 outside fill layers); ``None``
    when the group has no fill."""
    device = w.device
    area = w * h
    layer = torch.arange(w.numel(), device=device)
    fills = layer[((layer + first) % 2 == FILL) & (area > 0)]
    if fills.numel() == 0 or not bool((pieces.kind[lo:hi] == FILL).any()):
        return None
    crossings = _winding(pieces, lo, hi, first, x0, y0, w, h)
    row_offset = torch.cumsum(h * (w + 1), 0) - h * (w + 1)
    owner = torch.repeat_interleave(fills, area[fills])
    within = torch.arange(owner.numel(), device=device) - torch.repeat_interleave(
        torch.cumsum(area[fills], 0) - area[fills], area[fills]
    )
    winding = torch.zeros(int(area.sum()), dtype=torch.long, device=device)
    winding[offset[owner] + within] = crossings[row_offset[owner] + within + within // w[owner]]
    return winding


def _filled(winding: Tensor, layer_evenodd: Tensor, layer_end: Tensor, first: int) -> Tensor:
    """Whether each entry's winding number is filled under its layer's fill rule."""
    entry = torch.arange(winding.numel(), device=winding.device)
    layer = torch.searchsorted(layer_end, entry, right=True) + first
    return torch.where(layer_evenodd[layer], winding % 2 != 0, winding != 0) & (layer % 2 == FILL)


def _search(
    chosen: Tensor,
    pieces: _Pieces,
    lo: int,
    hi: int,
    first: int,
    x0: Tensor,
    y0: Tensor,
    w: Tensor,
    h: Tensor,
    offset: Tensor,
    compiled: bool,
) -> None:
    """Scatter into ``chosen`` the packed (distance, piece) key of each pixel's nearest piece.

    Pieces are batched by the size of their pixel windows, so that each batch is a dense
    (pieces, rows, columns) block computed by broadcasting rather than by gathers.
    """
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
            index, key = _scan_windows(block, size, chosen.numel() - 1, compiled)
            chosen.scatter_reduce_(0, index, key, "amin")


def _window_extent(span: Tensor) -> Tensor:
    """Side of the square window each piece is scanned in: its larger span rounded up to one of
    eight steps per octave, so few window sizes waste little."""
    size = span.amax(-1).clamp(min=1)
    step = torch.pow(2, (torch.log2(size.double()).floor().long() - 3).clamp(min=1))
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
    key = ((value + _KEY_BIAS) * _KEY_SCALE).long().clamp(0, (1 << 30) - 1)
    key = (key << 32) | piece[:, None, None]
    key = torch.where(inside & (value < limit[:, None, None]), key, _NO_PIECE)
    index = base[:, None, None] + row * stride[:, None, None] + column
    index = torch.where(inside, index, spare)
    return index.reshape(-1), key.reshape(-1)


@functools.cache
def _compiled_window_keys():
    return torch.compile(_window_keys, dynamic=True)


def _scan_windows(
    arguments: tuple, size: int, spare: int, compiled: bool
) -> tuple[Tensor, Tensor]:
    """:func:`_window_keys`, compiled when asked and possible; eager otherwise."""
    if compiled:
        try:
            return _compiled_window_keys()(*arguments, size, spare)
        except Exception as error:  # no C++ compiler, unsupported platform: stay correct
            warnings.warn(f"torch.compile failed ({error}); rendering without it", stacklevel=4)
    return _window_keys(*arguments, size, spare)


def _winding(
    pieces: _Pieces, lo: int, hi: int, first: int, x0: Tensor, y0: Tensor, w: Tensor, h: Tensor
) -> Tensor:
    """Winding numbers of every pixel centre of the group's fill layers, by scanline crossings.

    Returns a flat buffer holding, per layer, ``h`` rows of ``w + 1`` counts (the last unused).
    """
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


def _edge_normal(offset: Tensor, distance: Tensor, coefficients: Tensor, t: Tensor) -> Tensor:
    """Unit normal of the nearest edge.

    Inside a segment it is the curve's normal: the direction to the pixel centre is the same
    there, but with the parameter held fixed its derivative would swing with every sideways
    move of the curve. At an end point (a cap or join disc) it is the direction to the centre.
    """
    tangent = polynomial(coefficients, t, 1)
    across = torch.stack([-tangent[:, 1], tangent[:, 0]], -1)
    length = across.norm(dim=-1, keepdim=True)
    radial = offset / distance.clamp_min(1e-9)[:, None]
    fallback = torch.where((distance > 1e-6)[:, None], radial,
                           torch.tensor([1.0, 0.0], device=t.device, dtype=t.dtype))
    interior = ((t > 0) & (t < 1))[:, None] & (length > 1e-6)
    return torch.where(interior, across / length.clamp_min(1e-6), fallback)


def _subpixel_distances(
    centre: Tensor, curve: Tensor, t: Tensor, other: Tensor | None = None,
    other_t: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Sub-pixel centres of each pixel and their distances to the nearest of one or two cubics,
    projected from the parameters ``t`` (and ``other_t``) found for the pixel centre.

    Shape:
        - centre, t, other_t: :math:`(M, 2)`, :math:`(M,)`, :math:`(M,)`
        - curve, other: :math:`(M, 4, 2)` control points
        - Output: samples :math:`(M \\cdot S^2, 2)` and distances :math:`(M, S^2)`,
          ``S = SUBSAMPLES``
    """
    steps = (torch.arange(SUBSAMPLES, device=t.device, dtype=t.dtype) + 0.5) / SUBSAMPLES - 0.5
    grid = torch.stack(torch.meshgrid(steps, steps, indexing="xy"), -1).reshape(-1, 2)
    samples = (centre[:, None, :] + grid).reshape(-1, 2)
    repeat = grid.shape[0]

    def distance(controls: Tensor, start: Tensor) -> Tensor:
        coefficients = power_basis(controls).repeat_interleave(repeat, 0)
        with torch.no_grad():
            closest = project(coefficients.detach(), samples, start.repeat_interleave(repeat),
                              iterations=2)
        offset = samples - polynomial(coefficients, closest)
        return torch.sqrt(offset.square().sum(-1) + 1e-12).view(-1, repeat)

    nearest = distance(curve, t)
    if other is not None:
        nearest = nearest.minimum(distance(other, other_t))
    return samples, nearest


def _supersample_joints(
    coverage: Tensor,
    centre: Tensor,
    distance: Tensor,
    t: Tensor,
    is_stroke: Tensor,
    path: Tensor,
    slot: Tensor,
    half: Tensor,
    closed: Tensor,
    num_segments: Tensor,
    linecap: Tensor,
    table: Tensor,
    slots: int,
) -> Tensor:
    """Supersample the stroke pixels that one straight edge describes badly.

    Those are pixels crossed by the edges of two segments meeting at an angle (the inner
    corner of a join), and pixels whose closest point ends a segment of a thin stroke, where
    the outline bends round a small disc (a round cap or join). Each of ``SUBSAMPLES**2``
    sub-pixels takes its distance to the exact curves of the segment and its neighbour across
    the joint.
    """
    doubtful = torch.nonzero(is_stroke & ((distance - half[path].detach()).abs() < 1.25))
    doubtful = doubtful.squeeze(1)
    if doubtful.numel() == 0:
        return coverage
    centre, distance, t = centre[doubtful], distance[doubtful], t[doubtful]
    path, slot = path[doubtful], slot[doubtful]
    radius = half[path].detach()
    count = num_segments[path]
    after = t > 0.5
    wraps = closed[path]
    neighbour = slot + torch.where(after, 1, -1)
    neighbour = torch.where(wraps, torch.remainder(neighbour, count.clamp(min=1)), neighbour)
    joined = wraps | ((neighbour >= 0) & (neighbour < count))
    neighbour = neighbour.clamp(min=0)
    own = power_basis(table[path * slots + slot].detach())
    joint = torch.where(after[:, None], own.sum(1), own[:, 0])
    near_joint = (centre - joint).norm(dim=-1) < 2 * radius + 2
    inside_segment = (t > 0) & (t < 1)
    corner = torch.nonzero(joined & near_joint & inside_segment).squeeze(1)
    other_t = torch.where(after, 0.0, 1.0).to(t.dtype)
    if corner.numel():
        other = power_basis(table[path[corner] * slots + neighbour[corner]].detach())
        found = project(other, centre[corner], other_t[corner], iterations=3)
        other_t = other_t.index_put((corner,), found)
        gap = (centre[corner] - polynomial(other, found)).norm(dim=-1)
        # Beside an inner corner both closest points lie inside their segments; beside the
        # round outer side of a join at least one of them is the joint itself.
        inner = ((gap - radius[corner]).abs() < 1.25) & (found > 0) & (found < 1)
        crossed = torch.zeros_like(after).index_put((corner,), inner)
    else:
        crossed = torch.zeros_like(after)
    at_end = (t <= 0) | (t >= 1)
    small_end = at_end & (radius < SMALL_RADIUS) & (joined | (linecap[path] == LineCap.ROUND))
    chosen = torch.nonzero(crossed | small_end).squeeze(1)
    if chosen.numel() == 0:
        return coverage

    owner = path[chosen]
    # An open path's end has no neighbour: measure its own curve twice instead.
    own = table[owner * slots + slot[chosen]]
    joint = joined[chosen]
    other = torch.where(joint[:, None, None], table[owner * slots + neighbour[chosen]], own)
    _, nearest = _subpixel_distances(centre[chosen], own, t[chosen], other,
                                     torch.where(joint, other_t[chosen], t[chosen]))
    width = half[owner][:, None]
    inner = (0.5 + SUBSAMPLES * (width - nearest)).clamp(0, 1)
    outer = (0.5 + SUBSAMPLES * (-width - nearest)).clamp(0, 1)
    return coverage.index_put((doubtful[chosen],), (inner - outer).mean(-1))


def _supersample_corners(
    coverage: Tensor,
    centre: Tensor,
    distance: Tensor,
    t: Tensor,
    is_fill: Tensor,
    inside: Tensor,
    path: Tensor,
    slot: Tensor,
    closed: Tensor,
    num_segments: Tensor,
    table: Tensor,
    slots: int,
) -> Tensor:
    """Supersample the fill pixels at a corner, where one straight edge describes them badly.

    The two segments meeting at the corner split the pixel into the side of its centre and
    the other side (across either edge); each of ``SUBSAMPLES**2`` sub-pixels takes the side
    from the tangent rays at the corner and its distance from the exact curves.
    """
    doubtful = torch.nonzero(is_fill & (distance < 1.25)).squeeze(1)
    if doubtful.numel() == 0:
        return coverage
    centre, t, inside = centre[doubtful], t[doubtful], inside[doubtful]
    path, slot = path[doubtful], slot[doubtful]
    last = slots - 1
    count = num_segments[path]
    wraps = closed[path]
    after = t > 0.5
    following = torch.where(slot == last, 0, torch.where(
        slot == count - 1, torch.where(wraps, 0, last), slot + 1))
    preceding = torch.where(slot == last, count - 1, torch.where(
        slot == 0, torch.where(wraps, count - 1, last), slot - 1))
    neighbour = torch.where(after, following, preceding)
    own = table[path * slots + slot].detach()
    other = table[path * slots + neighbour].detach()
    corner = torch.where(after[:, None], own[:, 3], own[:, 0])
    into_own = -torch.where(after[:, None], _end_direction(own, False), _end_direction(own, True))
    into_other = -torch.where(after[:, None], _end_direction(other, True),
                              _end_direction(other, False))
    turn = into_own[:, 0] * into_other[:, 1] - into_own[:, 1] * into_other[:, 0]
    near = (centre - corner).norm(dim=-1) < 3.0
    chosen = torch.nonzero(near & (turn.abs() > 0.05)).squeeze(1)
    if chosen.numel() == 0:
        return coverage

    owner = path[chosen]
    samples, nearest = _subpixel_distances(
        centre[chosen], table[owner * slots + slot[chosen]], t[chosen],
        table[owner * slots + neighbour[chosen]],
        torch.where(after[chosen], 0.0, 1.0).to(t.dtype))
    repeat = SUBSAMPLES * SUBSAMPLES

    def in_wedge(relative: Tensor, first: Tensor, second: Tensor, cross: Tensor) -> Tensor:
        along_first = (relative[..., 0] * second[..., 1] - relative[..., 1] * second[..., 0])
        along_second = (first[..., 0] * relative[..., 1] - first[..., 1] * relative[..., 0])
        return (along_first * cross >= 0) & (along_second * cross >= 0)

    first, second, cross = into_own[chosen], into_other[chosen], turn[chosen]
    tip = corner[chosen]
    centre_in = in_wedge(centre[chosen] - tip, first, second, cross)
    sample_in = in_wedge(samples.view(-1, repeat, 2) - tip[:, None], first[:, None],
                         second[:, None], cross[:, None])
    covered = inside[chosen][:, None] == (sample_in == centre_in[:, None])
    signed = torch.where(covered, nearest, -nearest)
    sub = (0.5 + SUBSAMPLES * signed).clamp(0, 1)
    return coverage.index_put((doubtful[chosen],), sub.mean(-1))


def _cap(
    coverage: Tensor,
    centre: Tensor,
    path: Tensor,
    slot: Tensor,
    half: Tensor,
    closed: Tensor,
    num_segments: Tensor,
    linecap: Tensor,
    table: Tensor,
    slots: int,
) -> Tensor:
    """Cut (butt) or extend (square) the round stroke ends of open paths."""
    capped = ~closed[path] & (linecap[path] != LineCap.ROUND)
    if not bool(capped.any()):
        return coverage
    width = half[path]
    square = linecap[path] == LineCap.SQUARE
    last = num_segments[path] - 1
    for at_start in (True, False):
        segment = path * slots + (0 if at_start else last)
        curve = table[segment]
        tip = curve[:, 0] if at_start else curve[:, 3]
        outward = _end_direction(curve.detach(), at_start)
        on_end_segment = slot == (0 if at_start else last)
        offset = centre - tip
        beyond = (offset * outward).sum(-1)
        lateral = (offset[:, 0] * outward[:, 1] - offset[:, 1] * outward[:, 0]).abs()
        near = capped & on_end_segment & (offset.norm(dim=-1) <= width * math.sqrt(2) + 2)
        across = torch.stack([-outward[:, 1], outward[:, 0]], -1)
        body = torch.where(beyond > 0, band_coverage(lateral, width, across), coverage)
        limit = torch.where(square, width - beyond, -beyond)
        capped_coverage = body * edge_coverage(limit, outward)
        coverage = torch.where(near, capped_coverage, coverage)
    return coverage


def _end_direction(curve: Tensor, at_start: bool) -> Tensor:
    """Unit tangent pointing out of a segment's start or end, skipping coincident handles."""
    if at_start:
        tip = curve[:, 0]
        candidates = [curve[:, 1], curve[:, 2], curve[:, 3]]
    else:
        tip = curve[:, 3]
        candidates = [curve[:, 2], curve[:, 1], curve[:, 0]]
    direction = torch.zeros_like(tip)
    found = torch.zeros(tip.shape[0], dtype=torch.bool, device=tip.device)
    for other in candidates:
        step = tip - other
        usable = ~found & (step.norm(dim=-1) > 1e-6)
        direction = torch.where(usable[:, None], step, direction)
        found = found | usable
    direction = torch.where(found[:, None], direction, torch.tensor([1.0, 0.0], device=tip.device,
                                                                     dtype=tip.dtype))
    return direction / direction.norm(dim=-1, keepdim=True)
