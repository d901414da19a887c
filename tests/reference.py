"""Brute-force reference rasteriser for a :class:`clipdraw.scene.Scene`, sharing no rasteriser code.

Every pixel is supersampled with an ``S x S`` grid of sample points and each sample gets an exact
inside test against a densely flattened outline (``flatten`` points per cubic segment):

* stroke: the union of, per polyline edge, the rectangle swept by the edge's normal of half
  length ``width / 2``; at each interior vertex the round-join wedge of the disc of radius
  ``width / 2`` between the two edges' normals; for round caps whole discs at the two end points;
  for square caps rectangles reaching ``width / 2`` beyond the ends along the end tangents; butt
  caps add nothing. Closed paths have no caps. Zero-length edges are dropped first.
* fill: the winding number of the flattened outline (open paths closed by a straight line) summed
  over the sub-paths of one compound shape; nonzero or odd (``fill_rule``) means inside.

Coverage is the fraction of inside samples. Paint order: per compound shape (consecutive paths
with equal ``compound``; fill colour, stroke colour, fill rule and the ``filled`` / ``stroked``
flags come from its first path, widths and caps from each sub-path), the fill then the stroke,
straight-alpha source-over onto ``background`` (by :func:`clipdraw.render.over`, which the
renderer's own sparse compositing does not use). The result is straight-alpha RGBA, float64,
``(B, 4, H, W)``.

Sample work is split into pixel tiles; per tile only polyline edges whose bounding box can matter
are tested, which keeps 64 x 64 canvases at ``S = 16`` to a few seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from clipdraw.render.composite import WHITE, over

__all__ = ["Outline", "reference_coverage", "reference_render"]

_BUTT, _ROUND, _SQUARE = 0, 1, 2
_DTYPE = torch.float64


@dataclass
class Outline:
    """One flattened sub-path in pixel units.

    Shape:
        - vertices: :math:`(V, 2)`; closed outlines repeat the first vertex at the end.
    """

    vertices: Tensor
    closed: bool
    half_width: float
    linecap: int


def _bezier_points(control: Tensor, flatten: int) -> Tensor:
    """Flatten cubic segments ``(K, 4, 2)`` into one chain of ``K * flatten + 1`` vertices."""
    t = torch.linspace(0.0, 1.0, flatten + 1, dtype=_DTYPE)[:-1, None]
    u = 1.0 - t
    basis = torch.cat([u**3, 3 * u**2 * t, 3 * u * t**2, t**3], dim=1)  # (F, 4)
    chain = torch.einsum("fj,kjd->kfd", basis, control).reshape(-1, 2)
    return torch.cat([chain, control[-1:, 3]], dim=0)


def path_outline(
    points: Tensor, segments: int, closed: bool, half_width: float, linecap: int,
    scale: float, flatten: int,
) -> Outline | None:
    """Flatten one path (its padded ``(P, 2)`` points) to pixel units; ``None`` when empty."""
    if segments <= 0:
        return None
    used = points[: 3 * segments + (0 if closed else 1)].to(_DTYPE) * scale
    if closed:
        used = torch.cat([used, used[:1]], dim=0)
    index = torch.arange(segments)[:, None] * 3 + torch.arange(4)[None, :]
    vertices = _bezier_points(used[index], flatten)
    return Outline(vertices, closed, half_width * scale, linecap)


def _dedupe(vertices: Tensor) -> Tensor:
    """Drop vertices equal to their predecessor (zero-length polyline edges)."""
    moved = (vertices[1:] - vertices[:-1]).norm(dim=1) > 1e-12
    return torch.cat([vertices[:1], vertices[1:][moved]], dim=0)


def _stroke_pieces(outline: Outline) -> tuple[Tensor, Tensor]:
    """The stroke as rectangles and disc wedges.

    Returns rectangles ``(R, 2, 2)`` (an edge swept by ``+-r`` normals) and discs ``(D, 3, 2)``
    (centre, incoming and outgoing unit directions). A disc only counts where
    ``(p - c) . in >= 0`` and ``(p - c) . out <= 0``: the round-join wedge between the two normals;
    zero directions make a whole disc (round caps). Straight continuations add nothing, so dense
    flattening leaves no bulges near butt or square caps.
    """
    v = _dedupe(outline.vertices)
    r = outline.half_width
    zero = torch.zeros(2, dtype=_DTYPE)
    if v.shape[0] == 1:  # the whole path is one point
        if outline.linecap == _ROUND:
            return torch.zeros(0, 2, 2, dtype=_DTYPE), torch.stack([v[0], zero, zero])[None]
        if outline.linecap == _SQUARE:
            x = torch.tensor([r, 0.0], dtype=_DTYPE)
            return torch.stack([v[0] - x, v[0] + x])[None], torch.zeros(0, 3, 2, dtype=_DTYPE)
        return torch.zeros(0, 2, 2, dtype=_DTYPE), torch.zeros(0, 3, 2, dtype=_DTYPE)
    rects = torch.stack([v[:-1], v[1:]], dim=1)
    steps = v[1:] - v[:-1]
    dirs = steps / steps.norm(dim=1, keepdim=True)
    discs = torch.stack([v[1:-1], dirs[:-1], dirs[1:]], dim=1)
    if outline.closed:
        discs = torch.cat([discs, torch.stack([v[0], dirs[-1], dirs[0]])[None]], dim=0)
    elif outline.linecap == _ROUND:
        ends = torch.stack([torch.stack([v[0], zero, zero]), torch.stack([v[-1], zero, zero])])
        discs = torch.cat([discs, ends], dim=0)
    elif outline.linecap == _SQUARE:
        caps = torch.stack([
            torch.stack([v[0], v[0] - r * dirs[0]]),
            torch.stack([v[-1], v[-1] + r * dirs[-1]]),
        ])
        rects = torch.cat([rects, caps], dim=0)
    return rects, discs


def _inside_stroke(samples: Tensor, rects: Tensor, rect_radii: Tensor, discs: Tensor,
                   disc_radii: Tensor) -> Tensor:
    """Whether each sample ``(M, 2)`` lies in any rectangle or disc wedge.

    Geometry is shifted to the samples' first point in float64, then tested in float32 (local
    coordinates, error ~1e-5 px) to halve the memory traffic of the ``(M, R)`` broadcasts.
    """
    origin = samples[0]
    local = (samples - origin).float()
    inside = torch.zeros(samples.shape[0], dtype=torch.bool)
    sx, sy = local[:, 0:1], local[:, 1:2]
    if rects.shape[0]:
        a = rects[:, 0]
        d = rects[:, 1] - a
        length = d.norm(dim=1)
        u = (d / length.clamp_min(1e-300)[:, None]).float()
        a = (a - origin).float()
        rx, ry = sx - a[:, 0], sy - a[:, 1]  # (M, R)
        along = rx * u[:, 0] + ry * u[:, 1]
        across = (rx * u[:, 1] - ry * u[:, 0]).abs_()
        hit = (along >= 0) & (along <= length.float()) & (across <= rect_radii.float())
        hit &= length > 0
        inside |= hit.any(1)
    if discs.shape[0]:
        c = (discs[:, 0] - origin).float()
        d_in, d_out = discs[:, 1].float(), discs[:, 2].float()
        rx, ry = sx - c[:, 0], sy - c[:, 1]  # (M, D)
        hit = rx * rx + ry * ry <= disc_radii.float() ** 2
        hit &= rx * d_in[:, 0] + ry * d_in[:, 1] >= 0
        hit &= rx * d_out[:, 0] + ry * d_out[:, 1] <= 0
        inside |= hit.any(1)
    return inside


def _winding(samples: Tensor, edges: Tensor) -> Tensor:
    """Winding number of each sample ``(M, 2)`` about directed edges ``(E, 2, 2)``.

    Counts signed crossings of the ray to ``+x`` (half-open in y, so vertices count once), in
    float32 coordinates local to the first sample (error ~1e-5 px).
    """
    if edges.shape[0] == 0:
        return torch.zeros(samples.shape[0], dtype=torch.long)
    origin = samples[0]
    local = (samples - origin).float()
    a = (edges[:, 0] - origin).float()
    b = (edges[:, 1] - origin).float()
    px, py = local[:, 0:1], local[:, 1:2]
    rise = b[:, 1] - a[:, 1]
    slope = torch.where(rise != 0, (b[:, 0] - a[:, 0]) / rise, torch.zeros_like(rise))
    direction = torch.sign(rise)
    below_a = a[:, 1] <= py
    crosses = below_a != (b[:, 1] <= py)  # (M, E): the edge spans the sample's row
    right = a[:, 0] + (py - a[:, 1]) * slope > px
    return ((crosses & right).float() * direction).sum(1).round().long()


def _pixel_samples(pixels: Tensor, samples_per_side: int) -> Tensor:
    """Sample points ``(M * S * S, 2)`` of pixels given as ``(M, 2)`` top-left ``(x, y)``."""
    offsets = (torch.arange(samples_per_side, dtype=_DTYPE) + 0.5) / samples_per_side
    oy, ox = torch.meshgrid(offsets, offsets, indexing="ij")
    grid = torch.stack([ox.reshape(-1), oy.reshape(-1)], dim=1)  # (S*S, 2)
    return (pixels[:, None, :] + grid[None]).reshape(-1, 2)


def _near(lo: Tensor, hi: Tensor, box: tuple[float, float, float, float], pad: Tensor) -> Tensor:
    """Which items with bounding boxes ``lo``/``hi`` ``(K, 2)`` come within ``pad`` of ``box``."""
    x0, y0, x1, y1 = box
    return ((hi[:, 0] + pad >= x0) & (lo[:, 0] - pad <= x1)
            & (hi[:, 1] + pad >= y0) & (lo[:, 1] - pad <= y1))


def _distance(points: Tensor, edges: Tensor, chunk: int = 1 << 22) -> Tensor:
    """Distance ``(M,)`` from each point ``(M, 2)`` to the nearest edge ``(E, 2, 2)`` (clamped).

    float32 in coordinates local to the first point (error ~1e-5 px, far inside the 1e-4 px slack
    of the pixel classification that uses it).
    """
    origin = points[0]
    local = (points - origin).float()
    a = (edges[:, 0] - origin).float()
    d = (edges[:, 1] - edges[:, 0]).float()
    length2 = (d * d).sum(1).clamp_min(1e-30)
    out = torch.empty(points.shape[0], dtype=_DTYPE)
    step = max(1, chunk // max(1, edges.shape[0]))
    for start in range(0, points.shape[0], step):
        rx = local[start : start + step, 0:1] - a[:, 0]
        ry = local[start : start + step, 1:2] - a[:, 1]
        t = ((rx * d[:, 0] + ry * d[:, 1]) / length2).clamp_(0, 1)
        gx, gy = rx - t * d[:, 0], ry - t * d[:, 1]
        out[start : start + step] = (gx * gx + gy * gy).amin(1).sqrt().double()
    return out


# A pixel's samples all lie within this distance of its centre (sqrt(2) / 2, rounded up).
_HALF_DIAGONAL = 0.7072


def _stroke_pixel_bounds(outline: Outline, centres: Tensor) -> tuple[Tensor, Tensor]:
    """Pixels ``(M,)`` certainly fully inside / fully outside one sub-path's stroke.

    Exact reasoning, no approximation: the stroke lies within ``r * sqrt(2)`` of the polyline
    (square-cap corners are farthest) and contains every point within ``r`` whose nearest polyline
    point is not an open end point (that point's normal segment or join wedge holds it).
    """
    r = outline.half_width
    v = _dedupe(outline.vertices)
    edges = torch.stack([v[:-1], v[1:]], dim=1) if v.shape[0] > 1 else v[None, [0, 0]]
    dist = _distance(centres, edges)
    outside = dist > r * math.sqrt(2) + _HALF_DIAGONAL
    inside = dist <= r - _HALF_DIAGONAL
    if v.shape[0] == 1:
        inside &= outline.linecap == _ROUND
    elif not outline.closed and outline.linecap != _ROUND:
        far = _HALF_DIAGONAL + r
        inside &= ((centres - v[0]).norm(dim=1) > far) & ((centres - v[-1]).norm(dim=1) > far)
    return inside, outside


def reference_coverage(
    outlines: list[Outline], kind: str, height: int, width: int, *,
    evenodd: bool = False, samples_per_side: int = 16, tile: int = 4, cull: bool = True,
) -> Tensor:
    """Supersampled coverage ``(H, W)`` of one compound shape's fill or stroke (``kind``).

    With ``cull`` pixels provably fully inside or outside skip sampling (same result, faster).
    """
    s = samples_per_side
    coverage = torch.zeros(height, width, dtype=_DTYPE)
    if not outlines:
        return coverage
    ys, xs = torch.meshgrid(torch.arange(height, dtype=_DTYPE), torch.arange(width, dtype=_DTYPE),
                            indexing="ij")
    corners = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)
    centres = corners + 0.5
    if kind == "stroke":
        pieces = [_stroke_pieces(o) for o in outlines]
        rects = torch.cat([p[0] for p in pieces])
        discs = torch.cat([p[1] for p in pieces])
        radii = torch.cat([torch.full((p[0].shape[0],), o.half_width, dtype=_DTYPE)
                           for p, o in zip(pieces, outlines)])
        disc_radii = torch.cat([torch.full((p[1].shape[0],), o.half_width, dtype=_DTYPE)
                                for p, o in zip(pieces, outlines)])
        rect_lo, rect_hi = rects.amin(1), rects.amax(1)
        disc_centres = discs[:, 0]
        full = torch.zeros(height * width, dtype=torch.bool)
        empty = torch.ones(height * width, dtype=torch.bool)
        if cull:
            for outline in outlines:
                inside, outside = _stroke_pixel_bounds(outline, centres)
                full |= inside
                empty &= outside
        else:
            empty[:] = False
    elif kind == "fill":
        closed = [torch.cat([o.vertices, o.vertices[:1]]) for o in outlines]
        edges = torch.cat([torch.stack([c[:-1], c[1:]], dim=1) for c in closed])
        edge_lo, edge_hi = edges.amin(1), edges.amax(1)
        if cull:
            far = _distance(centres, edges) > _HALF_DIAGONAL
            wind = _winding(centres, edges)
            centre_inside = (wind % 2 == 1) if evenodd else (wind != 0)
            full, empty = far & centre_inside, far & ~centre_inside
        else:
            full = empty = torch.zeros(height * width, dtype=torch.bool)
    else:
        raise ValueError(f"kind must be 'stroke' or 'fill', got {kind!r}")
    coverage.view(-1)[full] = 1.0
    partial = (~full & ~empty).reshape(height, width)
    for y0 in range(0, height, tile):
        for x0 in range(0, width, tile):
            y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
            todo = partial[y0:y1, x0:x1]
            if not todo.any():
                continue
            pixels = corners.reshape(height, width, 2)[y0:y1, x0:x1][todo]
            samples = _pixel_samples(pixels, s)
            box = (float(x0), float(y0), float(x1), float(y1))
            if kind == "stroke":
                keep = _near(rect_lo, rect_hi, box, radii)
                keep_discs = _near(disc_centres, disc_centres, box, disc_radii)
                inside = _inside_stroke(samples, rects[keep], radii[keep], discs[keep_discs],
                                        disc_radii[keep_discs])
            else:
                # A ray to +x from the tile meets only edges overlapping its rows; those wholly
                # right of the tile are crossed or not by row alone: count them once per row.
                rows = (edge_hi[:, 1] >= y0) & (edge_lo[:, 1] <= y1)
                right = rows & (edge_lo[:, 0] > x1)
                near = rows & ~right & (edge_hi[:, 0] >= x0)
                ys, row_of = torch.unique(samples[:, 1], return_inverse=True)
                row_points = torch.stack([torch.full_like(ys, float(x0)), ys], dim=1)
                wind = _winding(samples, edges[near]) + _winding(row_points, edges[right])[row_of]
                inside = (wind % 2 == 1) if evenodd else (wind != 0)
            values = inside.reshape(-1, s * s).to(_DTYPE).mean(-1)
            block = coverage[y0:y1, x0:x1]
            block[todo] = values
    return coverage


def _paint(dst: Tensor, colour: Tensor, coverage: Tensor) -> Tensor:
    """Straight ``colour`` (4,) at ``coverage`` (H, W) source-over ``dst`` (4, H, W)."""
    top = torch.cat([colour[:3, None, None].expand(3, *coverage.shape),
                     (colour[3] * coverage)[None]])
    return over(top, dst)


def _groups(compound: list[int]) -> list[list[int]]:
    """Runs of consecutive equal compound-shape indices."""
    groups: list[list[int]] = []
    for n, s in enumerate(compound):
        if groups and compound[groups[-1][0]] == s:
            groups[-1].append(n)
        else:
            groups.append([n])
    return groups


def reference_render(
    scene, scale: float = 1.0, *, samples_per_side: int = 16, flatten: int = 256,
    cull: bool = True,
) -> Tensor:
    """Rasterise ``scene`` by brute-force supersampling; straight RGBA ``(B, 4, H, W)`` float64.

    ``cull=False`` samples every pixel (slow; for checking that culling changes nothing).
    """
    height = int(round(scene.height * scale))
    width = int(round(scene.width * scale))
    points = scene.points.detach().cpu().to(_DTYPE)
    images = []
    for b in range(points.shape[0]):
        background = scene.background[b].detach().cpu().to(_DTYPE)
        image = background[:, None, None].expand(4, height, width).clone()
        if background[3] == 0:
            image[:3] = 0
        for group in _groups(scene.compound[b].tolist()):
            first = group[0]
            outlines = []
            for n in group:
                outline = path_outline(
                    points[b, n], int(scene.num_segments[b, n]), bool(scene.closed[b, n]),
                    float(scene.stroke_width[b, n]) / 2, int(scene.linecap[b, n]), scale, flatten,
                )
                if outline is not None:
                    outlines.append(outline)
            if not outlines:
                continue
            if bool(scene.filled[b, first]):
                cover = reference_coverage(
                    outlines, "fill", height, width,
                    evenodd=int(scene.fill_rule[b, first]) == 1,
                    samples_per_side=samples_per_side, cull=cull,
                )
                image = _paint(image, scene.fill_color[b, first].detach().cpu().to(_DTYPE), cover)
            if bool(scene.stroked[b, first]):
                cover = reference_coverage(outlines, "stroke", height, width,
                                           samples_per_side=samples_per_side, cull=cull)
                image = _paint(image, scene.stroke_color[b, first].detach().cpu().to(_DTYPE),
                               cover)
        images.append(image)
    return torch.stack(images)


def over_white(image: Tensor) -> Tensor:
    """Composite straight RGBA ``(B, 4, H, W)`` onto opaque white: RGB ``(B, 3, H, W)``."""
    return over(image, WHITE)[:, :3]

