"""The pure-PyTorch renderer: exact box-filtered coverage of stroked and filled Bézier paths.

A path's stroke is the set of points within half its width of the curve (round joins and caps
for free; butt and square caps cut or extend the ends), its fill the set of points with nonzero
or odd winding number. Rendering runs in two passes:

1. *Search* (no autograd, chunked): each path is flattened into short pieces; every pixel in a
   piece's reach learns which piece of its layer (a compound shape's fill or stroke) is
   nearest, by a scatter-min of packed (distance, piece) keys into a buffer over the layer's
   bounding box. Fills also get winding
   numbers by scanline crossing counts. Pixels that no layer reaches cost nothing.
2. *Shading* (autograd): for the pixels a shape touches, the nearest point on the exact cubic is
   refined by Newton steps and kept fixed (at a closest point the distance's derivative in the
   curve parameter vanishes, so this loses no gradient); distance -> box-filter coverage ->
   alpha, composited in paint order. Only these fragments are kept for the backward pass.

The passes hand each other :class:`~clipdraw.render.pieces.Pieces` (flattened segments) and
:class:`Fragments` (shaded pixels); the tuning constants are a
:class:`~clipdraw.render.settings.RenderSettings`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from clipdraw.render.bezier import path_segments, polynomial, power_basis, project
from clipdraw.render.composite import composite
from clipdraw.render.coverage import band_coverage, edge_coverage
from clipdraw.render.fusion import fused
from clipdraw.render.joins import Joints, joint_table, shape_joins
from clipdraw.render.pieces import (
    FILL,
    NO_PIECE,
    STROKE,
    Group,
    PathTable,
    Pieces,
    flatten,
    layer_boxes,
    layer_groups,
)
from clipdraw.render.plan import RenderPlan, Sizes
from clipdraw.render.search import filled, search, winding_numbers
from clipdraw.render.settings import RenderSettings
from clipdraw.render.shade import cap_ends, edge_normal, supersample_corners, supersample_joints
from clipdraw.scene import FillRule, LineJoin, Scene

__all__ = ["Fragments", "rasterise"]


@dataclass
class Fragments:
    """The shaded pixels of some layers: what the shading pass hands to compositing.

    Fragments are ordered by layer (so in paint order), each layer's in raster order. Padding
    fragments (planned renders leave a list's unused capacity as padding) have coverage 0 at
    pixel ``(0, 0)`` of some real layer, so that compositing them changes nothing.
    """

    layer: Tensor  # (F,) long, fill layer 2 * g or stroke layer 2 * g + 1 of leader path g
    x: Tensor  # (F,) long, pixel column
    y: Tensor  # (F,) long, pixel row
    coverage: Tensor  # (F,) float in [0, 1], differentiable; 0 for padding

    @staticmethod
    def cat(parts: list[Fragments]) -> Fragments:
        """The fragments of ``parts``, one after another."""
        return Fragments(*(torch.cat([getattr(part, name) for part in parts])
                           for name in ("layer", "x", "y", "coverage")))

    def covering(self) -> Fragments:
        """The fragments of nonzero coverage (those of zero coverage have no gradient)."""
        seen = torch.nonzero(self.coverage.detach() > 0).squeeze(1)
        return Fragments(self.layer[seen], self.x[seen], self.y[seen],
                         self.coverage.index_select(0, seen))


def rasterise(
    scene: Scene,
    scale: float,
    compile: bool = False,
    plan: RenderPlan | None = None,
    settings: RenderSettings | None = None,
) -> Tensor:
    """Render ``scene`` at ``scale`` pixels per unit; see :func:`clipdraw.render.render`.

    Shape:
        - Output: :math:`(B, 4, H, W)` straight-alpha RGBA.
    """
    settings = RenderSettings() if settings is None else settings
    batch, paths, slots, _ = scene.points.shape
    height = max(1, round(scene.height * scale))
    width = max(1, round(scene.width * scale))
    device = scene.points.device
    sizes = Sizes(plan, (tuple(scene.points.shape), height, width), settings)
    # Planned renders leave the values unchecked (reading them would wait for the device), but
    # they are safe on any values: a bad scene makes the plan not fit, and the next render,
    # which measures, raises.
    sizes.forbid("invalid values", scene.invalid_values)

    points = (scene.points * scale).reshape(batch * paths, slots, 2)
    half_width = (scene.stroke_width * (scale / 2)).reshape(-1)
    num_segments = scene.num_segments.reshape(-1)
    closed = scene.closed.reshape(-1)
    controls, valid = path_segments(points, num_segments, closed)
    table = controls.reshape(-1, 4, 2)

    # Every path has a fill and a stroke layer; only a compound shape's first path (its leader)
    # turns them on, and the shape's other paths add their pieces to the leader's layers.
    leads = torch.ones(batch, paths, dtype=torch.bool, device=device)
    leads[:, 1:] = scene.compound[:, 1:] != scene.compound[:, :-1]
    leads = leads.reshape(-1)
    index = torch.arange(leads.numel(), device=device)
    leader = torch.where(leads, index, 0).cummax(0).values
    layer_paint = torch.stack(
        [scene.fill_color.reshape(-1, 4), scene.stroke_color.reshape(-1, 4)], 1
    ).reshape(-1, 4)
    layer_on = torch.stack(
        [scene.filled.reshape(-1) & leads, scene.stroked.reshape(-1) & leads], 1
    ).reshape(-1)
    layer_canvas = (index // max(paths, 1)).repeat_interleave(2)
    layer_evenodd = (scene.fill_rule.reshape(-1) == FillRule.EVENODD).repeat_interleave(2)

    background = scene.background
    if leads.numel() == 0:
        return composite(
            torch.zeros(0, dtype=torch.long, device=device),
            background.new_zeros(0),
            background.new_zeros(0, 3),
            background,
            height,
            width,
        )

    # Miter and bevel joins cost nothing in scenes of round joins only (our drawings).
    joints: Joints | None = None
    end_reach = shallow = None
    if sizes.flag("joins", ((scene.linejoin != int(LineJoin.ROUND)) & scene.stroked).any()):
        joints = joint_table(table, controls.shape[1], half_width, closed, num_segments,
                             scene.linejoin.reshape(-1), scene.miter_limit.reshape(-1))
        end_reach, shallow = joints.search_margins(half_width, controls.shape[1])
    with torch.no_grad():
        pieces = flatten(
            controls.detach(),
            valid,
            half_width.detach(),
            closed,
            scene.linecap.reshape(-1),
            leader,
            layer_on,
            sizes,
            settings,
            end_reach,
            shallow,
        )
        layers = layer_boxes(pieces, layer_on.shape[0], width, height)

    paths_table = PathTable(table, controls.shape[1], half_width, closed, num_segments,
                            scene.linecap.reshape(-1))
    groups = sizes.groups(lambda: layer_groups(layers, settings.entries_per_group))
    parts = []
    for group, (first, end) in enumerate(groups):
        part = _shade_group(layers.group(first, end), group, end, pieces, paths_table,
                            layer_evenodd, compile, sizes, settings, joints)
        # Fragments in a shape's outer search margin often cover nothing: exactly zero
        # coverage, and zero gradient too, so compositing can skip them (planned renders keep
        # their fixed lengths).
        parts.append(part if sizes.planned else part.covering())
    fragments = Fragments.cat(parts)
    del parts  # large scenes have tens of millions of fragments: keep one copy alive
    layer, coverage = fragments.layer, fragments.coverage
    pixel = (layer_canvas[layer] * height + fragments.y) * width + fragments.x
    del fragments
    # Gathered apart, so that the backward pass keeps no (F, 4) paint, only the (F,) layers.
    alpha = layer_paint[:, 3].index_select(0, layer) * coverage
    color = layer_paint[:, :3].index_select(0, layer)
    return composite(pixel, alpha, color, background, height, width)


def _locate(
    active: Tensor,
    chosen: Tensor,
    offset: Tensor,
    area: Tensor,
    x0: Tensor,
    y0: Tensor,
    w: Tensor,
    deep_key: Tensor,
    first: int,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Layer, pixel, nearest-piece key, whether to shade, and whether it is real (not padding
    at the spare entry) of each active entry of a group's buffer. Gathers and integer
    arithmetic only: what :func:`torch.compile` fuses into one loop.
    """
    real = active < chosen.shape[0] - 1
    layer = torch.searchsorted(offset + area, active, right=True).clamp(max=offset.shape[0] - 1)
    local = active - offset[layer]
    row = local // w[layer].clamp(min=1)
    x = torch.where(real, x0[layer] + local - row * w[layer], 0)
    y = torch.where(real, y0[layer] + row, 0)
    key = chosen[active]
    piece = key & 0xFFFFFFFF
    near = key != NO_PIECE
    # A pixel this deep inside a round-ended stroke is covered whatever the exact distance:
    # it needs no geometry and has none of its gradient.
    deep = (key >> 32) < deep_key[piece.clamp(max=max(deep_key.numel() - 1, 0))]
    return layer + first, x, y, key, near & ~deep, real


def _first_guess(
    shaded: Tensor,
    key: Tensor,
    x: Tensor,
    y: Tensor,
    piece_segment: Tensor,
    piece_start: Tensor,
    piece_end: Tensor,
    piece_t0: Tensor,
    piece_dt: Tensor,
    dtype: torch.dtype,
) -> tuple[Tensor, Tensor, Tensor]:
    """Segment, pixel centre and a first guess of the closest curve parameter of each shaded
    entry: the projection onto its nearest piece."""
    # Padding reads may land on an entry with no piece: any piece will do for them.
    piece = (key[shaded] & 0xFFFFFFFF).clamp(max=piece_segment.numel() - 1)
    centre = torch.stack([x[shaded], y[shaded]], -1).to(dtype) + 0.5
    start, along = piece_start[piece], piece_end[piece] - piece_start[piece]
    t = ((centre - start) * along).sum(-1) / along.square().sum(-1).clamp_min(1e-12)
    return piece_segment[piece], centre, piece_t0[piece] + t.clamp(0, 1) * piece_dt[piece]


def _nearest_points(
    table: Tensor, segment: Tensor, centre: Tensor, guess: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Closest parameter on each fragment's segment, the offset and distance from it to the pixel
    centre (differentiable in the control points) and the edge normal there."""
    coefficients = power_basis(table[segment])
    with torch.no_grad():
        t = project(coefficients.detach(), centre, guess, iterations=2)
    offset = centre - polynomial(coefficients, t)
    distance = torch.sqrt(offset.square().sum(-1) + 1e-12)
    return t, offset, distance, edge_normal(offset, distance, coefficients, t)


def _shade_group(
    group: Group,
    number: int,
    end: int,
    pieces: Pieces,
    paths: PathTable,
    layer_evenodd: Tensor,
    compile: bool,
    sizes: Sizes,
    settings: RenderSettings,
    joints: Joints | None = None,
) -> Fragments:
    """Fragments of the group's layers, up to layer ``end``."""
    table, slots, half_width = paths.segments, paths.slots, paths.half_width
    first, x0, y0, w, offset = group.first, group.x0, group.y0, group.w, group.offset
    area = w * group.h
    device = table.device
    with torch.no_grad():
        total = sizes.count(("entries", number), area.sum())
        # One spare entry past the end takes what falls outside the buffer.
        chosen = torch.full((total + 1,), NO_PIECE, dtype=torch.long, device=device)
        search(chosen, pieces, group, end, compile, sizes, number, settings)
        active = chosen[:-1] != NO_PIECE
        winding = winding_numbers(pieces, group, end, total, sizes, number)
        if winding is not None:
            inside = filled(winding, layer_evenodd, offset + area, first)
            active |= inside[:-1]
        active = sizes.nonzero(("active", number), active)
        layer, x, y, key, shading, real = fused(_locate, compile)(
            active, chosen, offset, area, x0, y0, w, pieces.deep_key, first
        )
        count = active.numel()
        if count == 0:
            return Fragments(layer, x, y, torch.zeros(0, dtype=table.dtype, device=device))
        shaded = sizes.nonzero(("shaded", number), shading)
        read = shaded.clamp(max=count - 1)
        kind = torch.where(shaded < count, layer[read] % 2, -1)
        is_stroke, is_fill = kind == STROKE, kind == FILL
        if winding is not None:
            inside = inside[active[read]]
            winding = winding[active[read]]
        else:
            inside = torch.zeros_like(is_stroke)
            winding = torch.zeros_like(read)
        segment, centre, guess = _first_guess(
            read, key, x, y, pieces.segment, pieces.start, pieces.end, pieces.t0, pieces.dt,
            table.dtype,
        )
        path = segment // slots

    t, offset_vector, distance, normal = fused(_nearest_points, compile)(table, segment, centre,
                                                                         guess)
    slot = segment % slots
    # Each fragment is a stroke's or a fill's: shade only the kinds present.
    values = torch.zeros_like(distance)
    if sizes.flag(("strokes", number), is_stroke.any()):
        stroke = band_coverage(distance, half_width[path], normal)
        stroke = supersample_joints(stroke, centre, distance.detach(), t, is_stroke, path, slot,
                                    paths, compile, sizes, number, settings)
        stroke = cap_ends(stroke, centre, path, slot, paths, sizes, number)
        if joints is not None:
            stroke = shape_joins(stroke, centre, distance, t, is_stroke, path, slot,
                                 paths.segments, slots, half_width, paths.closed,
                                 paths.num_segments, joints, sizes, number, settings)
        values = torch.where(is_stroke, stroke, values)
    if sizes.flag(("fills", number), is_fill.any()):
        fill = edge_coverage(torch.where(inside, distance, -distance), normal)
        with torch.no_grad():
            # The nearest edge bounds the fill only if the winding number across it is filled
            # differently; inside a nonzero fill an edge may separate winding 1 from 2.
            tangent = polynomial(power_basis(table[segment].detach()), t, 1)
            side = tangent[:, 0] * offset_vector[:, 1] - tangent[:, 1] * offset_vector[:, 0]
            across = winding - torch.where(side > 0, 1, -1)
            evenodd = layer_evenodd[layer[read]]
            across_inside = torch.where(evenodd, across % 2 != 0, across != 0)
            interior = (across_inside == inside) & inside & (distance > 2 * settings.fill_flatness)
        fill = torch.where(interior, 1.0, fill)
        fill = supersample_corners(fill, centre, distance.detach(), t, is_fill & ~interior,
                                   inside, path, slot, paths, sizes, number, settings)
        values = torch.where(is_fill, fill, values)
    coverage = torch.ones(count + 1, dtype=values.dtype, device=device)
    coverage = coverage.index_put((shaded,), values)[:-1]
    return Fragments(layer, x, y, torch.where(real, coverage, 0.0))
