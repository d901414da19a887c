"""Exact clipping of filled cubic chains to an axis-aligned rectangle (nested viewports).

Each half-plane of the rectangle is applied in turn (Sutherland-Hodgman on curves): segments are
split where they cross the boundary line, pieces outside are dropped, and each run of outside
pieces becomes one straight segment along the line from where the chain left to where it came
back. The clipped chain differs from the original only outside the half-plane, so every point
inside keeps its winding number: the fill is exact under both fill rules.

Convention:
    A chain is a closed cubic chain ``[p0, c1, c2, p1, ..., c1, c2]`` of ``3k`` points whose last
    segment returns to ``p0`` (the Scene's closed-path layout).
"""

from __future__ import annotations

import numpy as np

__all__ = ["clip_to_rectangle"]

_EPSILON = 1e-9


def _split(segment: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    """de Casteljau split of a cubic ``(4, 2)`` at ``t``."""
    p0, p1, p2, p3 = segment
    a, b, c = p0 + t * (p1 - p0), p1 + t * (p2 - p1), p2 + t * (p3 - p2)
    d, e = a + t * (b - a), b + t * (c - b)
    f = d + t * (e - d)
    return np.stack([p0, a, d, f]), np.stack([f, e, c, p3])


def _crossings(segment: np.ndarray, axis: int, value: float) -> list[float]:
    """Parameters in (0, 1) where the cubic's ``axis`` coordinate equals ``value``."""
    p0, p1, p2, p3 = segment[:, axis]
    coefficients = [-p0 + 3 * p1 - 3 * p2 + p3, 3 * p0 - 6 * p1 + 3 * p2, -3 * p0 + 3 * p1,
                    p0 - value]
    if not np.any(np.abs(coefficients[:3]) > 0):
        return []
    roots = np.roots(coefficients)
    real = roots[np.abs(roots.imag) < 1e-9].real
    return sorted(float(t) for t in real if _EPSILON < t < 1 - _EPSILON)


def _clip_half(segments: list[np.ndarray], axis: int, value: float,
               sign: float) -> list[np.ndarray] | None:
    """The closed chain's segments clipped to ``sign * (x[axis] - value) >= 0``, or ``None``
    when nothing is left."""
    pieces: list[np.ndarray] = []
    for segment in segments:
        rest, done = segment, 0.0
        for t in _crossings(segment, axis, value):
            head, rest = _split(rest, (t - done) / (1 - done))
            pieces.append(head)
            done = t
        pieces.append(rest)
    inside = [sign * (_split(p, 0.5)[1][0, axis] - value) >= 0 for p in pieces]
    if all(inside):
        return segments
    if not any(inside):
        return None
    first = next(i for i in range(len(pieces)) if inside[i] and not inside[i - 1])
    order = pieces[first:] + pieces[:first]
    flags = inside[first:] + inside[:first]
    result: list[np.ndarray] = []
    exit_point = None
    for piece, keep in zip(order, flags):
        if keep:
            if exit_point is not None:
                entry = piece[0].copy()
                entry[axis] = value
                result.append(_straight(exit_point, entry))
                exit_point = None
            result.append(piece)
        elif exit_point is None:
            exit_point = piece[0].copy()
            exit_point[axis] = value
    if exit_point is not None:
        entry = order[0][0].copy()
        entry[axis] = value
        result.append(_straight(exit_point, entry))
    return result


def _straight(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    return np.stack([start, start + (end - start) / 3, start + 2 * (end - start) / 3, end])


def clip_to_rectangle(chain: np.ndarray, rectangle: np.ndarray) -> np.ndarray | None:
    """The closed ``chain`` clipped to ``rectangle`` ``[xmin, ymin, xmax, ymax]``, as a closed
    chain, or ``None`` when it lies wholly outside.

    Shape:
        - chain: :math:`(3k, 2)`; output :math:`(3m, 2)`.

    Example:
        >>> square = np.array([[0, 0], [2, 0], [4, 0], [6, 0], [6, 2], [6, 4], [6, 6], [4, 6],
        ...                    [2, 6], [0, 6], [0, 4], [0, 2]], dtype=float)
        >>> clipped = clip_to_rectangle(square, np.array([3.0, -1.0, 9.0, 9.0]))
        >>> sorted({(float(x), float(y)) for x, y in clipped[::3]})
        [(3.0, 0.0), (3.0, 6.0), (6.0, 0.0), (6.0, 6.0)]
    """
    closed = np.concatenate([chain, chain[:1]])
    segments: list[np.ndarray] | None = [closed[i : i + 4] for i in range(0, len(chain), 3)]
    for axis, value, sign in ((0, rectangle[0], 1.0), (0, rectangle[2], -1.0),
                              (1, rectangle[1], 1.0), (1, rectangle[3], -1.0)):
        segments = _clip_half(segments, axis, float(value), sign)
        if segments is None:
            return None
    return np.concatenate([s[:3] for s in segments])
