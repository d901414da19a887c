"""Shading helpers: edge normals, and the pixels one straight edge describes badly.

Most pixels take their coverage from the distance to the nearest edge. Near a joint of two
segments, at the small round ends of thin strokes, at fill corners and at butt or square caps
the outline is not one straight edge across the pixel; these functions correct those pixels.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from clipdraw.render.bezier import polynomial, power_basis, project
from clipdraw.render.coverage import band_coverage, edge_coverage
from clipdraw.render.fusion import fused
from clipdraw.render.pieces import PathTable
from clipdraw.render.plan import Sizes, put
from clipdraw.render.settings import RenderSettings
from clipdraw.scene import LineCap

__all__ = ['cap_ends', 'edge_normal', 'supersample_corners', 'supersample_joints']

def edge_normal(offset: Tensor, distance: Tensor, coefficients: Tensor, t: Tensor) -> Tensor:
    """Unit normal of the nearest edge.

    Inside a segment it is the curve's normal: the direction to the pixel centre is the same
    there, but with the parameter held fixed its derivative would swing with every sideways
    move of the curve. At an end point (a cap or join disc) it is the direction to the centre.
    """
    tangent = polynomial(coefficients, t, 1)
    across = torch.stack([-tangent[:, 1], tangent[:, 0]], -1)
    length = across.norm(dim=-1, keepdim=True)
    radial = offset / distance.clamp_min(1e-9)[:, None]
    fallback = torch.where((distance > 1e-6)[:, None], radial, _unit_x(t))
    interior = ((t > 0) & (t < 1))[:, None] & (length > 1e-6)
    return torch.where(interior, across / length.clamp_min(1e-6), fallback)


def _subpixel_distances(
    centre: Tensor, curve: Tensor, t: Tensor, subsamples: int, other: Tensor | None = None,
    other_t: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Sub-pixel centres of each pixel and their distances to the nearest of one or two cubics,
    projected from the parameters ``t`` (and ``other_t``) found for the pixel centre.

    Shape:
        - centre, t, other_t: :math:`(M, 2)`, :math:`(M,)`, :math:`(M,)`
        - curve, other: :math:`(M, 4, 2)` control points
        - Output: samples :math:`(M \\cdot S^2, 2)` and distances :math:`(M, S^2)`,
          ``S = subsamples``
    """
    steps = (torch.arange(subsamples, device=t.device, dtype=t.dtype) + 0.5) / subsamples - 0.5
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


def supersample_joints(
    coverage: Tensor,
    centre: Tensor,
    distance: Tensor,
    t: Tensor,
    is_stroke: Tensor,
    path: Tensor,
    slot: Tensor,
    paths: PathTable,
    compile: bool,
    sizes: Sizes,
    number: int,
    settings: RenderSettings,
) -> Tensor:
    """Supersample the stroke pixels that one straight edge describes badly.

    Those are pixels crossed by the edges of two segments meeting at an angle (the inner
    corner of a join), and pixels whose closest point ends a segment of a thin stroke, where
    the outline bends round a small disc (a round cap or join). Each of ``subsamples**2``
    sub-pixels takes its distance to the exact curves of the segment and its neighbour across
    the joint.
    """
    table, slots = paths.segments.detach(), paths.slots
    half_width = paths.half_width.detach()
    subsamples = settings.subsamples
    if coverage.shape[0] == 0:
        return coverage
    # Enum comparisons stay outside compiled code: torch.compile folds a tensor == IntEnum
    # comparison to a constant False.
    round_cap = paths.linecap == LineCap.ROUND
    near_corner, small_end, joined, neighbour = fused(_joint_candidates, compile)(
        centre, distance, t, is_stroke, path, slot, half_width, paths.num_segments, paths.closed,
        round_cap, table, slots, settings.small_radius,
    )
    other_t = torch.where(t > 0.5, 0.0, 1.0).to(t.dtype)
    count = coverage.shape[0]
    corner = sizes.nonzero(("corner", number), near_corner)
    if corner.numel():
        read = corner.clamp(max=count - 1)
        found, inner = _inner_corner(
            table[path[read] * slots + neighbour[read]], centre[read], other_t[read],
            half_width[path[read]],
        )
        other_t = put(other_t, corner, found)
        small_end = put(small_end, corner, inner | small_end[read])
    chosen = sizes.nonzero(("joint", number), small_end)
    if chosen.numel() == 0:
        return coverage

    read = chosen.clamp(max=count - 1)
    owner = path[read]
    # An open path's end has no neighbour: measure its own curve twice instead.
    own = paths.segments[owner * slots + slot[read]]
    joint = joined[read]
    other = torch.where(joint[:, None, None],
                        paths.segments[owner * slots + neighbour[read]], own)
    _, nearest = _subpixel_distances(centre[read], own, t[read], subsamples, other,
                                     torch.where(joint, other_t[read], t[read]))
    half_width = paths.half_width[owner][:, None]
    inner = (0.5 + subsamples * (half_width - nearest)).clamp(0, 1)
    outer = (0.5 + subsamples * (-half_width - nearest)).clamp(0, 1)
    return put(coverage, chosen, (inner - outer).mean(-1))


def _joint_candidates(
    centre: Tensor,
    distance: Tensor,
    t: Tensor,
    is_stroke: Tensor,
    path: Tensor,
    slot: Tensor,
    half_width: Tensor,
    num_segments: Tensor,
    closed: Tensor,
    round_cap: Tensor,
    table: Tensor,
    slots: int,
    small_radius: float,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Which stroke fragments may lie at the inner corner of a join (to be checked against the
    neighbouring segment), which at a small round end (of radius below ``small_radius``),
    whether their segment has a neighbour across its nearer joint, and which slot that
    neighbour is."""
    radius = half_width[path]
    count = num_segments[path]
    after = t > 0.5
    wraps = closed[path]
    neighbour = slot + torch.where(after, 1, -1)
    neighbour = torch.where(wraps, torch.remainder(neighbour, count.clamp(min=1)), neighbour)
    joined = wraps | ((neighbour >= 0) & (neighbour < count))
    own = table[path * slots + slot]
    joint = torch.where(after[:, None], own[:, 3], own[:, 0])
    edge = is_stroke & ((distance - radius).abs() < 1.25)
    near_joint = (centre - joint).norm(dim=-1) < 2 * radius + 2
    near_corner = edge & joined & near_joint & (t > 0) & (t < 1)
    at_end = (t <= 0) | (t >= 1)
    small_end = edge & at_end & (radius < small_radius) & (joined | round_cap[path])
    return near_corner, small_end, joined, torch.where(joined, neighbour, slot)


def _inner_corner(
    other: Tensor, centre: Tensor, start: Tensor, radius: Tensor
) -> tuple[Tensor, Tensor]:
    """Closest parameter on the neighbouring segment ``other`` (control points) and whether the
    pixel lies at the inner corner of the join: beside an inner corner both closest points lie
    inside their segments; beside the round outer side of a join one of them is the joint."""
    coefficients = power_basis(other)
    found = project(coefficients, centre, start, iterations=3)
    gap = (centre - polynomial(coefficients, found)).norm(dim=-1)
    return found, ((gap - radius).abs() < 1.25) & (found > 0) & (found < 1)


def supersample_corners(
    coverage: Tensor,
    centre: Tensor,
    distance: Tensor,
    t: Tensor,
    is_fill: Tensor,
    inside: Tensor,
    path: Tensor,
    slot: Tensor,
    paths: PathTable,
    sizes: Sizes,
    number: int,
    settings: RenderSettings,
) -> Tensor:
    """Supersample the fill pixels at a corner, where one straight edge describes them badly.

    The two segments meeting at the corner split the pixel into the side of its centre and
    the other side (across either edge); each of ``subsamples**2`` sub-pixels takes the side
    from the tangent rays at the corner and its distance from the exact curves.
    """
    subsamples = settings.subsamples
    closed, num_segments = paths.closed, paths.num_segments
    table, slots = paths.segments, paths.slots
    fragments = coverage.shape[0]
    doubtful = sizes.nonzero(("doubtful", number), is_fill & (distance < 1.25))
    if doubtful.numel() == 0 or fragments == 0:
        return coverage
    read = doubtful.clamp(max=fragments - 1)
    centre, t, inside = centre[read], t[read], inside[read]
    path, slot = path[read], slot[read]
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
    real = doubtful < fragments
    chosen = sizes.nonzero(("fill corner", number), real & near & (turn.abs() > 0.05))
    if chosen.numel() == 0:
        return coverage
    target = torch.cat([doubtful, doubtful.new_full((1,), fragments)])[chosen]
    chosen = chosen.clamp(max=doubtful.numel() - 1)

    owner = path[chosen]
    samples, nearest = _subpixel_distances(
        centre[chosen], table[owner * slots + slot[chosen]], t[chosen], subsamples,
        table[owner * slots + neighbour[chosen]],
        torch.where(after[chosen], 0.0, 1.0).to(t.dtype))
    repeat = subsamples * subsamples

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
    sub = (0.5 + subsamples * signed).clamp(0, 1)
    return put(coverage, target, sub.mean(-1))


def cap_ends(
    coverage: Tensor,
    centre: Tensor,
    path: Tensor,
    slot: Tensor,
    paths: PathTable,
    sizes: Sizes,
    number: int,
) -> Tensor:
    """Cut (butt) or extend (square) the round stroke ends of open paths."""
    closed, linecap = paths.closed, paths.linecap
    num_segments, table, slots = paths.num_segments, paths.segments, paths.slots
    capped = ~closed[path] & (linecap[path] != LineCap.ROUND)
    if not sizes.flag(("caps", number), capped.any()):
        return coverage
    half_width = paths.half_width[path]
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
        near = capped & on_end_segment & (offset.norm(dim=-1) <= half_width * math.sqrt(2) + 2)
        across = torch.stack([-outward[:, 1], outward[:, 0]], -1)
        body = torch.where(beyond > 0, band_coverage(lateral, half_width, across), coverage)
        limit = torch.where(square, half_width - beyond, -beyond)
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
    direction = torch.where(found[:, None], direction, _unit_x(tip))
    return direction / direction.norm(dim=-1, keepdim=True)


def _unit_x(like: Tensor) -> Tensor:
    """The vector (1, 0) on ``like``'s device, made there: copying it from the host would make
    a GPU wait."""
    return torch.eye(2, dtype=like.dtype, device=like.device)[0]
