"""Cubic Bézier segments: assembling them from a scene's point chains, evaluating, projecting."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["evaluate", "path_segments", "polynomial", "power_basis", "project"]


def path_segments(points: Tensor, num_segments: Tensor, closed: Tensor) -> tuple[Tensor, Tensor]:
    """Gather each path's cubic segments, plus the straight closing segment a fill needs.

    Slot ``S`` (the last) holds the line from an open path's end point back to its start, as a
    cubic with evenly spaced handles so that it stays linear in its parameter; closed paths,
    whose own last segment returns to point 0, leave it invalid.

    Args:
        points: padded point chains.
        num_segments: segments per path.
        closed: whether each path is closed.

    Returns:
        ``controls`` with the control points of every slot and ``valid``, whether a slot is a
        segment of the path (for slot ``S``: whether the path needs a closing line).

    Shape:
        - points: :math:`(G, P, 2)`
        - num_segments, closed: :math:`(G,)`
        - controls: :math:`(G, S + 1, 4, 2)` with ``S = P // 3``
        - valid: :math:`(G, S + 1)` bool
    """
    paths, slots = points.shape[:2]
    max_segments = slots // 3
    device = points.device
    segment = torch.arange(max_segments, device=device)
    index = (3 * segment[:, None] + torch.arange(4, device=device)).expand(paths, -1, -1)
    is_last = segment[None, :] == (num_segments[:, None] - 1)
    wraps = closed[:, None] & is_last
    index = torch.cat([index[..., :3], torch.where(wraps, 0, index[..., 3])[..., None]], dim=-1)
    index = index.clamp(max=max(slots - 1, 0))
    controls = torch.gather(
        points[:, None].expand(-1, max_segments, -1, -1),
        2,
        index[..., None].expand(-1, -1, -1, 2),
    )
    end = torch.gather(
        points, 1, (3 * num_segments).clamp(max=max(slots - 1, 0))[:, None, None].expand(-1, 1, 2)
    )[:, 0]
    start = points[:, 0]
    steps = torch.arange(4, device=device, dtype=points.dtype) / 3
    closing = end[:, None] + steps[None, :, None] * (start - end)[:, None]
    controls = torch.cat([controls, closing[:, None]], dim=1)
    valid = torch.cat(
        [segment[None, :] < num_segments[:, None], (~closed & (num_segments > 0))[:, None]], dim=1
    )
    return controls, valid


def evaluate(controls: Tensor, t: Tensor, derivative: int = 0) -> Tensor:
    """Point (or first/second derivative) of cubic segments at parameters ``t``.

    Shape:
        - controls: :math:`(..., 4, 2)`
        - t: :math:`(...)`
        - Output: :math:`(..., 2)`
    """
    p0, p1, p2, p3 = controls.unbind(-2)
    t = t[..., None]
    s = 1 - t
    if derivative == 0:
        return s**3 * p0 + 3 * s**2 * t * p1 + 3 * s * t**2 * p2 + t**3 * p3
    if derivative == 1:
        return 3 * s**2 * (p1 - p0) + 6 * s * t * (p2 - p1) + 3 * t**2 * (p3 - p2)
    if derivative == 2:
        return 6 * s * (p2 - 2 * p1 + p0) + 6 * t * (p3 - 2 * p2 + p1)
    raise ValueError(f"derivative must be 0, 1 or 2, got {derivative}")


def power_basis(controls: Tensor) -> Tensor:
    """Polynomial coefficients ``c`` with ``B(t) = c0 + c1 t + c2 t^2 + c3 t^3``, cheaper to
    evaluate repeatedly than the Bernstein form.

    Shape:
        - controls: :math:`(..., 4, 2)`
        - Output: :math:`(..., 4, 2)`
    """
    p0, p1, p2, p3 = controls.unbind(-2)
    return torch.stack(
        [p0, 3 * (p1 - p0), 3 * (p2 - 2 * p1 + p0), p3 - 3 * p2 + 3 * p1 - p0], dim=-2
    )


def polynomial(coefficients: Tensor, t: Tensor, derivative: int = 0) -> Tensor:
    """Point (or first/second derivative) of cubics in power basis at parameters ``t``.

    Shape:
        - coefficients: :math:`(..., 4, 2)` from :func:`power_basis`
        - t: :math:`(...)`
        - Output: :math:`(..., 2)`
    """
    c0, c1, c2, c3 = coefficients.unbind(-2)
    t = t[..., None]
    if derivative == 0:
        return ((c3 * t + c2) * t + c1) * t + c0
    if derivative == 1:
        return (3 * c3 * t + 2 * c2) * t + c1
    if derivative == 2:
        return 6 * c3 * t + 2 * c2
    raise ValueError(f"derivative must be 0, 1 or 2, got {derivative}")


def project(coefficients: Tensor, query: Tensor, t: Tensor, iterations: int = 3) -> Tensor:
    """Refine parameters ``t`` towards the closest point of each cubic to ``query`` by Newton
    steps on the squared distance, never accepting a step that moves away.

    Shape:
        - coefficients: :math:`(M, 4, 2)` from :func:`power_basis`
        - query: :math:`(M, 2)`
        - t: :math:`(M,)`, an initial guess in [0, 1]
        - Output: :math:`(M,)` in [0, 1]
    """
    best = t
    best_distance = (polynomial(coefficients, t) - query).square().sum(-1)
    for _ in range(iterations):
        offset = polynomial(coefficients, best) - query
        first = polynomial(coefficients, best, 1)
        slope = (offset * first).sum(-1)
        speed = first.square().sum(-1)
        curvature = speed + (offset * polynomial(coefficients, best, 2)).sum(-1)
        curvature = torch.where(curvature > 1e-9, curvature, speed + 1e-9)
        candidate = (best - slope / curvature).clamp(0, 1)
        distance = (polynomial(coefficients, candidate) - query).square().sum(-1)
        better = distance < best_distance
        best = torch.where(better, candidate, best)
        best_distance = torch.where(better, distance, best_distance)
    return best
