"""usvg's geometry in numbers: affine matrices and absolute path data as cubic chains.

Convention:
    A matrix is SVG's ``(a, b, c, d, e, f)``: ``x' = a x + c y + e``, ``y' = b x + d y + f``.
    A cubic chain is ``[p0, c1, c2, p1, ...]`` of ``3k + 1`` points (``k`` segments); lines and
    quadratics become cubics exactly.
"""

from __future__ import annotations

import math
import re
import warnings
from xml.etree import ElementTree

import numpy as np

__all__ = ["IDENTITY", "Matrix", "apply", "compose", "cubic_chains", "cubic_chains_slowly",
           "inverse", "stretches", "transform_of"]

Matrix = tuple[float, float, float, float, float, float]
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
_COMMANDS = re.compile(r"([MLCQZmlcqz])")
_CODES = {"M": 0, "L": 1, "C": 2, "Q": 3, "Z": 4}
_ARGUMENTS = np.array([2, 2, 6, 4, 0])  # numbers each command takes, by code
_END = np.array([0, 0, 4, 2, 0])  # where in its numbers each command's end point is
_FOREIGN = re.compile(r"[^MLCQZ0-9eE.+\-,\s]")
_MATRIX = re.compile(r"matrix\(([^)]*)\)")




def compose(outer: Matrix, inner: Matrix) -> Matrix:
    """The matrix applying ``inner`` first, then ``outer``."""
    a, b, c, d, e, f = outer
    a2, b2, c2, d2, e2, f2 = inner
    return (a * a2 + c * b2, b * a2 + d * b2, a * c2 + c * d2, b * c2 + d * d2,
            a * e2 + c * f2 + e, b * e2 + d * f2 + f)


def transform_of(element: ElementTree.Element) -> Matrix:
    """usvg writes every transform as one ``matrix(a b c d e f)``."""
    found = _MATRIX.search(element.get("transform", ""))
    if not found:
        return IDENTITY
    values = [float(v) for v in found.group(1).replace(",", " ").split()]
    return tuple(values) if len(values) == 6 else IDENTITY  # type: ignore[return-value]


def inverse(matrix: Matrix) -> Matrix:
    a, b, c, d, e, f = matrix
    det = a * d - b * c
    return (d / det, -b / det, -c / det, a / det, (c * f - d * e) / det, (b * e - a * f) / det)


def apply(matrix: Matrix, points: np.ndarray) -> np.ndarray:
    a, b, c, d, e, f = matrix
    x, y = points[:, 0], points[:, 1]
    return np.stack([a * x + c * y + e, b * x + d * y + f], axis=1)


def cubic_chains(data: str) -> list[tuple[np.ndarray, bool]]:
    """usvg's path data (absolute ``M L C Q Z``, one command letter per segment) as cubic chains
    with their closedness; a closed chain ends back at its start point. Vectorised, so a path of
    a million segments takes about a second; other path data takes :func:`cubic_chains_slowly`.

    Example:
        >>> [(chain.tolist(), closed) for chain, closed in cubic_chains("M 0 0 L 3 0")]
        [([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]], False)]
    """
    if _FOREIGN.search(data):
        return cubic_chains_slowly(data)
    text = data
    for letter, code in _CODES.items():
        text = text.replace(letter, f" nan {code} ")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy warns that fromstring is deprecated for binary
        values = np.fromstring(text.replace(",", " "), sep=" ")
    marks = np.flatnonzero(np.isnan(values))
    if len(marks) == 0:
        return []
    codes = values[marks + 1].astype(np.int64)
    firsts = marks + 2
    counts = np.diff(np.append(marks, len(values))) - 2
    closes = codes == _CODES["Z"]
    moves = codes == _CODES["M"]
    after_close = np.append(False, closes[:-1]) & ~moves
    if marks[0] != 0 or codes[0] != _CODES["M"] or not np.array_equal(
            counts, _ARGUMENTS[codes]) or after_close.any():
        return cubic_chains_slowly(data)
    values = np.append(values, [0.0, 0.0])  # a closing Z at the end reads past the numbers
    ends = np.stack([values[firsts + _END[codes]], values[firsts + _END[codes] + 1]], axis=1)
    subpath = np.cumsum(moves) - 1
    starts = ends[moves][subpath]
    ends[closes] = starts[closes]
    before = np.roll(ends, 1, axis=0)
    third = (ends - before) / 3
    c1, c2 = before + third, before + 2 * third
    cubic = codes == _CODES["C"]
    c1[cubic] = np.stack([values[firsts[cubic]], values[firsts[cubic] + 1]], axis=1)
    c2[cubic] = np.stack([values[firsts[cubic] + 2], values[firsts[cubic] + 3]], axis=1)
    quadratic = codes == _CODES["Q"]
    control = np.stack([values[firsts[quadratic]], values[firsts[quadratic] + 1]], axis=1)
    c1[quadratic] = before[quadratic] + 2 / 3 * (control - before[quadratic])
    c2[quadratic] = ends[quadratic] + 2 / 3 * (control - ends[quadratic])
    empty_close = closes & (np.abs(ends - before).max(axis=1) == 0)
    segment = ~moves & ~empty_close
    # each command contributes its end point (moves) or c1, c2, end (segments)
    rows = np.stack([ends, c1, c2, ends], axis=1)  # (commands, 4, 2)
    pick = np.zeros((len(codes), 4), dtype=bool)
    pick[moves, 0] = True
    pick[segment, 1:] = True
    points = rows[pick]
    per_command = pick.sum(1)
    boundaries = np.cumsum(per_command)[moves] - 1  # index of each subpath's start point
    chains = np.split(points, boundaries[1:])
    closed = np.zeros(int(moves.sum()), dtype=bool)
    closed[subpath[closes]] = True
    return [_dot(chain) if len(chain) == 1 else (chain, bool(shut))
            for chain, shut in zip(chains, closed) if len(chain) > 1 or shut]


def _dot(chain: np.ndarray) -> tuple[np.ndarray, bool]:
    """``M x y Z``: a zero-length segment, which SVG strokes with its round or square cap."""
    return np.repeat(chain[:1], 4, axis=0), False


def cubic_chains_slowly(data: str) -> list[tuple[np.ndarray, bool]]:
    """:func:`cubic_chains` for any absolute ``M L C Q Z`` data, one command at a time."""
    result: list[tuple[np.ndarray, bool]] = []
    chain: list[tuple[float, float]] = []
    start = (0.0, 0.0)

    def finish(closed: bool) -> None:
        if len(chain) > 1:
            result.append((np.asarray(chain, dtype=np.float64), closed))
        elif chain and closed:
            result.append(_dot(np.asarray(chain, dtype=np.float64)))
        chain.clear()

    parts = _COMMANDS.split(data)
    for command, arguments in zip(parts[1::2], parts[2::2]):
        numbers = [float(v) for v in arguments.replace(",", " ").split()]
        command = command.upper()
        if command == "M" and len(numbers) >= 2:
            finish(False)
            start = (numbers[0], numbers[1])
            chain.append(start)
            numbers = numbers[2:]
            command = "L"  # further pairs are lines
        if command == "Z":
            if chain and chain[-1] != start:
                _line(chain, start)
            finish(True)
            chain.append(start)
            continue
        if not chain:
            continue
        if command == "L":
            for at in range(0, len(numbers) - 1, 2):
                _line(chain, (numbers[at], numbers[at + 1]))
        elif command == "C":
            for at in range(0, len(numbers) - 5, 6):
                chain.extend(zip(numbers[at : at + 6 : 2], numbers[at + 1 : at + 6 : 2]))
        elif command == "Q":
            for at in range(0, len(numbers) - 3, 4):
                (x0, y0), (qx, qy) = chain[-1], numbers[at : at + 2]
                x1, y1 = numbers[at + 2 : at + 4]
                chain.extend(((x0 + 2 / 3 * (qx - x0), y0 + 2 / 3 * (qy - y0)),
                              (x1 + 2 / 3 * (qx - x1), y1 + 2 / 3 * (qy - y1)), (x1, y1)))
    finish(False)
    return result


def _line(chain: list[tuple[float, float]], end: tuple[float, float]) -> None:
    """Append a straight cubic with its controls at the thirds."""
    x0, y0 = chain[-1]
    dx, dy = end[0] - x0, end[1] - y0
    chain.extend(((x0 + dx / 3, y0 + dy / 3), (x0 + 2 * dx / 3, y0 + 2 * dy / 3), end))


def stretches(matrix: Matrix) -> tuple[float, float]:
    """Singular values (largest first) of the matrix's linear part."""
    a, b, c, d = matrix[:4]
    sum_sq = a * a + b * b + c * c + d * d
    det = abs(a * d - b * c)
    root = math.sqrt(max(0.0, sum_sq * sum_sq - 4 * det * det))
    return math.sqrt((sum_sq + root) / 2), math.sqrt(max(0.0, (sum_sq - root) / 2))
