"""Exact box-filter coverage of straight edges, the anti-aliasing of the renderer.

Convention:
    A pixel is the unit square around its centre. For an edge with unit normal ``n`` whose
    covered side lies at signed offsets ``<= s`` from the pixel centre, the covered fraction of
    the pixel is the distribution function of ``n . (u, v)`` for ``u, v`` uniform in
    [-1/2, 1/2]: a trapezoid whose width depends on the edge's orientation. Coverage therefore
    reaches exactly 0 and 1 within ``(|n_x| + |n_y|) / 2 <= 0.71`` px of the edge.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["band_coverage", "edge_coverage"]


def edge_coverage(offset: Tensor, normal: Tensor) -> Tensor:
    """Fraction of each pixel covered by the half-plane ``{x : n . (x - centre) <= offset}``.

    Args:
        offset: signed distance from the pixel centre to the edge, positive when the centre is
            covered.
        normal: unit normal of the edge (its sign does not matter).

    Shape:
        - offset: :math:`(...)`
        - normal: :math:`(..., 2)`
        - Output: :math:`(...)` in [0, 1]

    Examples:
        >>> import torch
        >>> offset = torch.tensor([-0.5, -0.25, 0.0, 0.25, 0.5])
        >>> edge_coverage(offset, torch.tensor([1.0, 0.0])).round(decimals=4)  # axis-aligned
        tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000])
        >>> diagonal = torch.tensor([0.6, 0.8])  # a slanted edge: smooth at both ends
        >>> edge_coverage(offset, diagonal).round(decimals=4)
        tensor([0.0417, 0.2109, 0.5000, 0.7891, 0.9583])
    """
    x, y = normal.abs().unbind(-1)
    major = x.maximum(y).clamp_min(1e-6)
    minor = x.minimum(y).clamp_min(1e-6)
    inner = (major - minor) / 2
    outer = (major + minor) / 2
    s = offset.clamp(-outer, outer)
    ramp = 2 * major * minor
    rising = (s + outer).square() / ramp
    falling = 1 - (outer - s).square() / ramp
    middle = 0.5 + s / major
    return torch.where(s < -inner, rising, torch.where(s > inner, falling, middle))


def band_coverage(distance: Tensor, half_width: Tensor, normal: Tensor) -> Tensor:
    """Fraction of each pixel covered by a straight band of half-width ``half_width`` whose
    centre line passes ``distance`` from the pixel centre.

    Shape:
        - distance, half_width: :math:`(...)`
        - normal: :math:`(..., 2)`, unit normal of the centre line
        - Output: :math:`(...)` in [0, 1]

    Examples:
        >>> import torch
        >>> distance = torch.tensor([0.0, 0.5, 1.0])
        >>> band_coverage(distance, torch.tensor(0.25), torch.tensor([0.0, 1.0])).round(decimals=4)
        tensor([0.5000, 0.2500, 0.0000])
    """
    return edge_coverage(half_width - distance, normal) - edge_coverage(
        -half_width - distance, normal
    )
