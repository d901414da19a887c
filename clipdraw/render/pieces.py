"""Flattening: every drawn segment cut into straight pieces, grouped into fill and stroke layers.

Each compound shape has two layers, numbered after its first path ``g`` (the shape's leader):
its fill (layer ``2 * g``) and its stroke (``2 * g + 1``), painted in that order; each layer
gets a pixel bounding box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from clipdraw.render.bezier import evaluate
from clipdraw.render.plan import Sizes, spread
from clipdraw.render.settings import RenderSettings
from clipdraw.scene import LineCap

__all__ = [
    "EDGE_REACH",
    "FILL",
    "KEY_BIAS",
    "KEY_SCALE",
    "NO_PIECE",
    "STROKE",
    "Group",
    "Layers",
    "PathTable",
    "Pieces",
    "flatten",
    "layer_boxes",
    "layer_groups",
]

FILL, STROKE = 0, 1
# How far beyond a shape's edge a pixel centre can still be partly covered: the box filter reaches
# 0.71 px, the rest is margin for the flattening's error during the search.
EDGE_REACH = 1.5
# A pixel's nearest piece is found as the minimum of packed keys: the distance in 1/KEY_SCALE px
# (offset by KEY_BIAS, so that distances inside wide strokes stay positive) above the piece index.
KEY_SCALE = 256.0
KEY_BIAS = 8192.0
NO_PIECE = torch.iinfo(torch.int64).max


@dataclass
class Pieces:
    """Straight pieces of flattened segments, sorted by layer: what flattening hands to the
    search and shading passes. Padding pieces (planned renders leave a list's unused capacity
    as padding) come last, with layer ``L`` (the number of layers, past every real one), so
    that no layer's search or box sees them."""

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
class PathTable:
    """The scene's paths in pixel units, flattened over its canvases: what the passes look up.

    ``segments[g * slots + s]`` holds the control points of slot ``s`` of path ``g``; the last
    slot of each path is the straight line that closes it for filling.
    """

    segments: Tensor  # (G * slots, 4, 2), differentiable
    slots: int
    half_width: Tensor  # (G,) half stroke widths, differentiable
    closed: Tensor  # (G,) bool
    num_segments: Tensor  # (G,) long
    linecap: Tensor  # (G,) long


@dataclass
class Group:
    """Consecutive layers searched together, and where each one's pixels start in their buffer."""

    first: int
    x0: Tensor
    y0: Tensor
    w: Tensor
    h: Tensor
    offset: Tensor


@dataclass
class Layers:
    """Bounding boxes of fill and stroke layers on the pixel grid. Shapes: (L,)."""

    x0: Tensor
    y0: Tensor
    w: Tensor
    h: Tensor

    def group(self, first: int, end: int) -> Group:
        """Layers ``first`` to ``end`` (exclusive) as one search group."""
        w, h = self.w[first:end], self.h[first:end]
        area = w * h
        return Group(first, self.x0[first:end], self.y0[first:end], w, h,
                     torch.cumsum(area, 0) - area)


def flatten(
    controls: Tensor,
    valid: Tensor,
    half_width: Tensor,
    closed: Tensor,
    linecap: Tensor,
    leader: Tensor,
    layer_on: Tensor,
    sizes: Sizes,
    settings: RenderSettings,
    end_reach: Tensor | None = None,
    shallow: Tensor | None = None,
) -> Pieces:
    """Cut every drawn segment into straight pieces, strokes and fills alike.

    Pieces of path ``g`` belong to the layers of its shape's leader ``leader[g]``. Padding
    pieces (planned renders) have layer ``len(layer_on)``, past every real one. Miter and bevel
    joins (:mod:`clipdraw.render.joins`) give a segment's first and last stroke pieces
    ``end_reach`` more reach (a miter's tip), and make the "deep inside" test of its stroke
    pieces ``shallow`` px stricter (a bevel cuts the round join).

    Shape:
        - end_reach: :math:`(G \\cdot slots, 2)`, at the first and last piece
        - shallow: :math:`(G \\cdot slots,)`
    """
    slots = controls.shape[1]
    fill_layer = 2 * leader
    stroke_layer = fill_layer + 1
    # The last slot is a fill's closing line, never stroked.
    stroked_slot = torch.arange(slots, device=valid.device) < slots - 1
    stroked = layer_on[stroke_layer] & (half_width > 0)
    stroke_sources = valid & stroked[:, None] & stroked_slot
    fill_sources = valid & layer_on[fill_layer][:, None]
    square = (linecap == LineCap.SQUARE) & ~closed
    stroke_extra = torch.where(square, half_width * (math.sqrt(2) - 1), 0.0) + EDGE_REACH
    curves = controls.reshape(-1, 4, 2)
    bend = torch.stack(
        [
            curves[:, 0] - 2 * curves[:, 1] + curves[:, 2],
            curves[:, 1] - 2 * curves[:, 2] + curves[:, 3],
        ],
        1,
    )
    bend = 0.75 * bend.norm(dim=-1).amax(-1)
    no_layer = layer_on.shape[0]

    parts = []
    for kind, sources, tolerance in (
        (FILL, fill_sources, settings.fill_flatness),
        (STROKE, stroke_sources, settings.stroke_flatness),
    ):
        count = torch.ceil(torch.sqrt(bend / tolerance))
        count = count.clamp(settings.min_pieces, settings.max_pieces).long()
        count = torch.where(sources.reshape(-1), count, 0)
        total = sizes.count(("pieces", kind), count.sum())
        source, index = spread(count, total)
        real = source < count.numel()
        source = source.clamp(max=count.numel() - 1)
        path = source // slots
        pieces = count[source].clamp(min=1)
        step = (1.0 / pieces).to(controls.dtype)
        t0 = index.to(controls.dtype) * step
        curve = curves[source]
        inset = half_width[path] if kind == STROKE else torch.zeros_like(half_width[path])
        extra = stroke_extra[path] if kind == STROKE else torch.full_like(inset, EDGE_REACH)
        layer = (stroke_layer if kind == STROKE else fill_layer)[path]
        flatness = bend[source] / pieces.square()
        depth = KEY_BIAS - EDGE_REACH - flatness
        if kind == STROKE and end_reach is not None and shallow is not None:
            extra = extra + torch.maximum(torch.where(index == 0, end_reach[source, 0], 0.0),
                                          torch.where(index + 1 >= pieces, end_reach[source, 1],
                                                      0.0))
            depth = depth - shallow[source]
        deep_key = torch.floor(depth * KEY_SCALE).long() - 1
        round_ended = closed[path] | (linecap[path] == LineCap.ROUND)
        deep_key = torch.where(round_ended & (kind == STROKE), deep_key, -1)
        parts.append(
            Pieces(
                start=evaluate(curve, t0),
                end=evaluate(curve, torch.where(index + 1 >= pieces, 1.0, t0 + step)),
                layer=torch.where(real, layer, no_layer),
                segment=source,
                t0=t0,
                dt=step,
                inset=inset,
                reach=inset + extra,
                flatness=flatness,
                deep_key=deep_key,
                kind=torch.full_like(source, kind),
            )
        )
    names = Pieces.__annotations__
    joined = {name: torch.cat([getattr(p, name) for p in parts]) for name in names}
    order = torch.argsort(joined["layer"], stable=True)
    return Pieces(**{name: value[order] for name, value in joined.items()})


def layer_boxes(pieces: Pieces, count: int, width: int, height: int) -> Layers:
    """Pixel bounding box of every layer, clipped to its canvas."""
    low = torch.minimum(pieces.start, pieces.end) - pieces.reach[:, None]
    high = torch.maximum(pieces.start, pieces.end) + pieces.reach[:, None]
    index = pieces.layer[:, None].expand(-1, 2)
    # Row ``count`` collects the padding pieces.
    lowest = torch.full((count + 1, 2), math.inf, device=low.device, dtype=low.dtype)
    lowest = lowest.scatter_reduce(0, index, low, "amin")[:count]
    highest = torch.full((count + 1, 2), -math.inf, device=low.device, dtype=low.dtype)
    highest = highest.scatter_reduce(0, index, high, "amax")[:count]
    lowest = torch.floor(lowest.clamp(-1, max(width, height) + 1)).long().clamp(min=0)
    highest = torch.ceil(highest.clamp(-1, max(width, height) + 1)).long()
    x0, y0 = lowest[:, 0].clamp(max=width), lowest[:, 1].clamp(max=height)
    w = (highest[:, 0].clamp(max=width) - x0).clamp(min=0)
    h = (highest[:, 1].clamp(max=height) - y0).clamp(min=0)
    return Layers(x0=x0, y0=y0, w=w, h=h)


def layer_groups(layers: Layers, entries_per_group: int) -> list[tuple[int, int]]:
    """Split the layers into consecutive runs whose boxes hold at most ``entries_per_group``
    pixels (or one layer, if it alone holds more)."""
    area = (layers.w * layers.h).tolist()
    groups, start, held = [], 0, 0
    for index, size in enumerate(area):
        if held and held + size > entries_per_group:
            groups.append((start, index))
            start, held = index, 0
        held += size
    groups.append((start, len(area)))
    return groups
