"""Miter and bevel joins: where they differ from the round joins of the stroke's distance field.

A stroke is drawn as the points within half its width ``h`` of the path, which joins segments
round. Where the path turns at a joint ``P`` from unit direction ``d_in`` to ``d_out``, only the
wedge ``W = {x : (x - P) . d_in >= 0 and (x - P) . d_out <= 0}`` on the outer side of the turn
has ``P`` as its nearest point, and only there do the joins differ. Inside ``W``:

* a round join is the disc ``|x - P| <= h``;
* a bevel join is the triangle of ``P`` and the two outer corners, cut by the chord at
  ``h cos(theta / 2)`` along the bisector ``u = (d_in - d_out) / |d_in - d_out|`` (``theta`` is
  the turning angle);
* a miter join continues both segments' outer edges, ``(x - P) . n <= h`` for both outer normals
  ``n``, up to the tip at ``h / cos(theta / 2)``. SVG 1.1: when that ratio exceeds the path's
  ``miter_limit`` the joint is bevelled.

The renderer finds the pixels of ``W`` by their nearest point (the joint), gives the miter tips
room in the search, and shades the pixels across a join's edge by supersampling a signed
distance: the join's inside ``W``, the segments' outside it.

Convention:
    Joint ``j = g * slots + s`` is the one at the end of slot ``s`` of path ``g`` (for a closed
    path the last segment's end joins segment 0). Lengths are pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from clipdraw.render.plan import Sizes, put
from clipdraw.render.settings import RenderSettings
from clipdraw.render.shade import _end_direction, _subpixel_distances
from clipdraw.scene import LineJoin

__all__ = ["Joints", "joint_table", "shape_joins"]

_ROUND, _MITER, _BEVEL = int(LineJoin.ROUND), int(LineJoin.MITER), int(LineJoin.BEVEL)
# A join that moves the outline by less than this (px) is drawn round: smooth joints of curves.
_UNSEEN = 1.0 / 512
# Pixels whose centre lies this close (px) to a join's outline are supersampled; a pixel reaches
# 0.71 px from its centre.
_BAND = 1.0


@dataclass
class Joints:
    """Every segment slot's end joint as the renderer draws it.

    Shape:
        - point, incoming, outgoing: :math:`(J, 2)`, ``J = G * slots``; differentiable
        - kind, following: :math:`(J,)` long
        - reach, excess, inner: :math:`(J,)` float
    """

    point: Tensor  # the joint P
    incoming: Tensor  # unit direction of travel arriving at P
    outgoing: Tensor  # unit direction of travel leaving P
    kind: Tensor  # LineJoin as drawn: ROUND also where there is no joint or it is smooth,
    # BEVEL also for miters over the limit
    following: Tensor  # slot of the segment that leaves P (within its path)
    reach: Tensor  # how far from P the join reaches: h / cos(theta / 2) for miters, else h
    excess: Tensor  # h (1 - cos(theta / 2)): how far a bevel's chord lies inside the disc
    inner: Tensor  # how far from P the inner corner lies, h / cos(theta / 2) (at most 10 h)

    def search_margins(self, half_width: Tensor, slots: int) -> tuple[Tensor, Tensor]:
        """What the search needs (no autograd): each slot's extra reach at its first and last
        piece, where a miter tip lies beyond the round join, and how much shallower its pieces'
        "deep inside" test must be, where a bevel cuts the round join.

        Shape:
            - half_width: :math:`(G,)`
            - Output: :math:`(J, 2)` and :math:`(J,)`
        """
        with torch.no_grad():
            path = torch.arange(self.kind.numel(), device=self.kind.device) // slots
            tip = torch.where(self.kind == _MITER, self.reach - half_width[path], 0.0)
            start = torch.zeros_like(tip).index_add(0, path * slots + self.following, tip)
            cut = torch.where(self.kind == _BEVEL, self.excess, 0.0)
            shallow = torch.zeros_like(cut).index_add(0, path * slots + self.following, cut)
            return torch.stack([start, tip], -1), shallow.maximum(cut)


def joint_table(
    segments: Tensor,
    slots: int,
    half_width: Tensor,
    closed: Tensor,
    num_segments: Tensor,
    linejoin: Tensor,
    miter_limit: Tensor,
) -> Joints:
    """The joint at the end of every segment slot and how it is drawn.

    Args:
        segments: control points of every slot, ``segments[g * slots + s]``, in pixels.
        slots: slots per path (the last is a fill's closing line, never joined).
        half_width: half stroke widths in pixels.
        closed, num_segments, linejoin, miter_limit: the paths' fields of the scene.

    Shape:
        - segments: :math:`(G \\cdot slots, 4, 2)`
        - half_width, closed, num_segments, linejoin, miter_limit: :math:`(G,)`

    Examples:
        A right angle with a miter limit of 1.5 (the ratio is sqrt 2) is mitred, its tip
        2 sqrt 2 from the corner; with a limit of 1.4 it is bevelled:

        >>> import torch
        >>> corner = torch.tensor([[[0.0, 0], [1, 0], [2, 0], [3, 0]],
        ...                        [[3.0, 0], [3, 1], [3, 2], [3, 3]],
        ...                        [[0.0, 0], [0, 0], [0, 0], [0, 0]]])
        >>> def joint(limit):
        ...     return joint_table(corner, 3, torch.tensor([2.0]), torch.tensor([False]),
        ...                        torch.tensor([2]), torch.tensor([1]), torch.tensor([limit]))
        >>> mitred = joint(1.5)
        >>> mitred.kind.tolist(), round(float(mitred.reach[0]), 4)
        ([1, 0, 0], 2.8284)
        >>> joint(1.4).kind.tolist()
        [2, 0, 0]
    """
    device = segments.device
    paths = half_width.numel()
    slot = torch.arange(slots, device=device).repeat(paths)
    path = torch.arange(paths, device=device).repeat_interleave(slots)
    count = num_segments[path]
    wraps = closed[path] & (slot == count - 1)
    following = torch.where(wraps, 0, slot + 1)
    joined = (slot < count) & ((slot < count - 1) | wraps)
    own = segments
    leaving = segments[path * slots + following.clamp(max=slots - 1)]
    incoming = _end_direction(own, False)
    outgoing = -_end_direction(leaving, True)
    h = half_width[path]
    cos_half = ((incoming + outgoing).norm(dim=-1) / 2).clamp(max=1)
    excess = h * (1 - cos_half)
    join = linejoin[path]
    # At the limit (ratio == limit) the join is still a miter, whatever float rounding says.
    mitred = (join == _MITER) & (cos_half * miter_limit[path] >= 1 - 1e-6)
    kind = torch.where(mitred, _MITER, _BEVEL)
    # A segment that does not move gives its joints no direction: they stay round.
    still = (segments.detach() == segments.detach()[:, :1]).all(-1).all(-1)
    moving = ~still & ~still[path * slots + following.clamp(max=slots - 1)]
    drawn = joined & moving & (join != _ROUND) & (excess.detach() >= _UNSEEN)
    kind = torch.where(drawn, kind, _ROUND)
    inner = h / cos_half.clamp(min=0.1)
    reach = torch.where(kind == _MITER, inner, h)
    return Joints(point=own[:, 3], incoming=incoming, outgoing=outgoing, kind=kind,
                  following=torch.where(joined, following, slot), reach=reach, excess=excess,
                  inner=inner)


def join_distance(offset: Tensor, incoming: Tensor, outgoing: Tensor, half_width: Tensor,
                  kind: Tensor) -> Tensor:
    """Signed distance bound (negative inside) of a miter or bevel join, for points ``offset``
    from the joint inside its wedge ``W``: exact inside, at most the distance outside.

    Shape:
        - offset, incoming, outgoing: :math:`(..., 2)`
        - half_width, kind: :math:`(...)`
        - Output: :math:`(...)`

    Examples:
        A right-angle join of half-width 1, turning from +x to +y (outer corner at (1, -1)):

        >>> import torch
        >>> east, south = torch.tensor([1.0, 0]), torch.tensor([0.0, 1])
        >>> tip = torch.tensor([1.0, -1])
        >>> join_distance(tip, east, south, torch.tensor(1.0), torch.tensor(1))  # miter
        tensor(0.)
        >>> join_distance(tip / 2, east, south, torch.tensor(1.0), torch.tensor(2))  # bevel
        tensor(0.)
    """
    turn = incoming - outgoing
    bisector = turn / turn.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    cos_half = ((incoming + outgoing).norm(dim=-1) / 2).clamp(max=1)
    along = (offset * bisector).sum(-1)
    bevel = torch.maximum(along - half_width * cos_half, offset.norm(dim=-1) - half_width)
    # The outer normals are the directions of travel turned away from the bisector's side.
    outer_in = _turned_towards(incoming, bisector)
    outer_out = _turned_towards(outgoing, bisector)
    miter = torch.maximum((offset * outer_in).sum(-1), (offset * outer_out).sum(-1)) - half_width
    return torch.where(kind == _MITER, miter, bevel)


def _turned_towards(direction: Tensor, side: Tensor) -> Tensor:
    """``direction`` turned a quarter turn towards ``side``."""
    normal = torch.stack([-direction[..., 1], direction[..., 0]], -1)
    return torch.where(((normal * side).sum(-1) >= 0)[..., None], normal, -normal)


def _in_wedge(offset: Tensor, incoming: Tensor, outgoing: Tensor) -> Tensor:
    return ((offset * incoming).sum(-1) >= 0) & ((offset * outgoing).sum(-1) <= 0)


def shape_joins(
    coverage: Tensor,
    centre: Tensor,
    distance: Tensor,
    t: Tensor,
    is_stroke: Tensor,
    path: Tensor,
    slot: Tensor,
    segments: Tensor,
    slots: int,
    half_width: Tensor,
    closed: Tensor,
    num_segments: Tensor,
    joints: Joints,
    sizes: Sizes,
    number: int,
    settings: RenderSettings,
) -> Tensor:
    """Stroke coverage with the miter and bevel joins drawn instead of round ones.

    Each stroke fragment belongs to the joint at the nearer end of its nearest segment. Inside
    the joint's wedge a pixel well inside or outside the join is covered or not; a pixel across
    the outline of a join (or of the segments beside it, the inner corner included) averages
    ``subsamples**2`` sub-pixels, each covered by the join inside the wedge and by the
    segments' band outside it, with the gradients of those distances.

    Shape:
        - coverage, distance, t, is_stroke, path, slot: :math:`(M,)`; centre :math:`(M, 2)`
        - Output: :math:`(M,)`
    """
    count = coverage.shape[0]
    if count == 0:
        return coverage
    subsamples = settings.subsamples
    segments_in_path = num_segments[path]
    after = t > 0.5
    before = torch.where(slot == 0, torch.where(closed[path], segments_in_path - 1, -1), slot - 1)
    own_slot = torch.where(after, slot, before)
    joint = path * slots + own_slot.clamp(min=0)
    kind = torch.where(is_stroke & (own_slot >= 0), joints.kind[joint], _ROUND)
    point = joints.point[joint].detach()
    incoming, outgoing = joints.incoming[joint].detach(), joints.outgoing[joint].detach()
    h = half_width[path].detach()
    offset = centre - point
    # Besides the join itself, the inner corner, where the segments' inner edges cross on the
    # bisector (for sharp joins far from P), is drawn from both segments' exact curves.
    turn = incoming - outgoing
    bisector = turn / turn.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    inner_corner = offset + bisector * joints.inner[joint].detach()[:, None]
    at_inner_corner = inner_corner.norm(dim=-1) < 2.0
    near = (kind != _ROUND) & ((offset.norm(dim=-1) < joints.reach[joint].detach() + 1.5)
                               | at_inner_corner)
    wedge = _in_wedge(offset, incoming, outgoing)
    # Outside the wedge the band is right unless the pixel reaches into the wedge.
    reaches_in = torch.minimum((offset * incoming).sum(-1).abs(),
                               (offset * outgoing).sum(-1).abs()) < _BAND
    inside_join = join_distance(offset, incoming, outgoing, h, kind)
    signed = torch.where(wedge, inside_join, distance.detach() - h)
    across = near & (signed.abs() < _BAND) & (wedge | reaches_in | at_inner_corner)
    settled = near & wedge & ~across
    coverage = torch.where(settled, (inside_join < 0).to(coverage.dtype), coverage)

    chosen = sizes.nonzero(("join", number), across)
    if chosen.numel() == 0:
        return coverage
    read = chosen.clamp(max=count - 1)
    owner, j = path[read], joint[read]
    neighbour = torch.where(after[read], joints.following[j], own_slot[read].clamp(min=0))
    own = segments[owner * slots + slot[read]]
    other = segments[owner * slots + neighbour]
    other_t = torch.where(after[read], 0.0, 1.0).to(t.dtype)
    samples, nearest = _subpixel_distances(centre[read], own, t[read], subsamples, other,
                                           other_t)
    repeat = subsamples * subsamples
    radius = half_width[owner][:, None]
    body = ((0.5 + subsamples * (radius - nearest)).clamp(0, 1)
            - (0.5 + subsamples * (-radius - nearest)).clamp(0, 1))
    offsets = samples.view(-1, repeat, 2) - joints.point[j][:, None]
    arriving = joints.incoming[j][:, None].expand(-1, repeat, -1)
    leaving = joints.outgoing[j][:, None].expand(-1, repeat, -1)
    inside = join_distance(offsets, arriving, leaving, radius.expand(-1, repeat),
                           kind[read][:, None].expand(-1, repeat))
    join = (0.5 - subsamples * inside).clamp(0, 1)
    covered = torch.where(_in_wedge(offsets, arriving, leaving), join, body)
    return put(coverage, chosen, covered.mean(-1))
