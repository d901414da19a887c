"""SVG -> Scene: any SVG (a logo, a sketch, an earlier result) as the start of a drawing.

Reading is done in three steps, each with its own job:

1. :mod:`clipdraw.svg.source` reads the file within :class:`SvgLimits` (size, ``.svgz``, element
   count, depth, ``<use>`` copies) and notes text and images, which the Scene cannot hold.
2. :mod:`clipdraw.svg.usvg` normalises it with usvg, resvg's own simplifier: CSS, inheritance,
   ``currentColor``, ``<switch>``, ``<use>``, units, nested viewports, markers, shapes and path
   data the way SVG renderers read them, into ``<g>`` and ``<path>`` elements.
3. This module walks usvg's output into the Scene's cubic chains and paints, keeping strokes as
   strokes.

Mapping to the canvas: the canvas is the document size in px (``width``/``height`` at 96 px per
inch, so ``210mm`` is 793.7 px), rounded to whole pixels; the ``viewBox`` (with its
``preserveAspectRatio``) and every transform map user units onto it, and a final scale stretches
the document by the rounding (< 0.5 px) so that the ``viewBox`` fills the canvas exactly.

Approximations, each named in the one warning a load gives: a stroke under a skew or
non-uniform scale keeps one width (``sqrt |det|`` of the transform); ``opacity`` on a group is
multiplied into its shapes' alphas, exact unless shapes in the group overlap (or one shape has
both fill and stroke); a clip path is exact when it is an axis-aligned rectangle (nested viewports)
and otherwise ignored. Skipped: text, images, gradients and patterns, dashes (drawn solid), masks,
filters, blend modes. Joins (miter with ``stroke-miterlimit``, bevel, round) are drawn as SVG 1.1
says; zero-length segments, which give a join no direction, are dropped.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

import numpy as np
import torch

from clipdraw.scene import DEFAULT_MITER_LIMIT, FillRule, LineCap, LineJoin, Scene
from clipdraw.svg.clip import clip_to_rectangle
from clipdraw.svg.export import BACKGROUND_ID, METADATA_ID
from clipdraw.svg.geometry import (
    IDENTITY,
    Matrix,
    apply,
    compose,
    cubic_chains,
    inverse,
    stretches,
    transform_of,
)
from clipdraw.svg.limits import SvgImportError, SvgLimits, exceeded
from clipdraw.svg.source import local_name, read_source
from clipdraw.svg.usvg import normalise

__all__ = ["SvgImportError", "SvgLimits", "load_svg", "read_svg_metadata"]

_LARGEST = 1e7  # px; beyond this float32 coordinates are meaningless (or infinite)
_VISIBLE = 0.5  # px; an approximation that moves an edge by less than this goes unnamed
_CAPS = {"butt": LineCap.BUTT, "round": LineCap.ROUND, "square": LineCap.SQUARE}
# usvg writes miter (its initial value) for SVG 2's miter-clip and arcs, as resvg draws them.
_JOINS = {"miter": LineJoin.MITER, "round": LineJoin.ROUND, "bevel": LineJoin.BEVEL}
_RULES = {"nonzero": FillRule.NONZERO, "evenodd": FillRule.EVENODD}
_MOST_SHAPES_COMPARED = 256  # group opacity: beyond this many shapes, assume some overlap
_SKIPPED_MESSAGES = {"Recursive 'use'": "recursive <use> references (dropped)"}



@dataclass
class _Path:
    """One sub-path on the canvas: a cubic chain ``[p0, c1, c2, p1, ...]`` and its paint; a
    closed chain drops its repeated start point."""

    points: np.ndarray  # (3k + 1, 2), or (3k, 2) when closed
    closed: bool
    shape: int
    style: dict[str, Any]


@dataclass
class _Collected:
    """What the tree walk found."""

    paths: list[_Path] = field(default_factory=list)
    skipped: set[str] = field(default_factory=set)
    background: tuple[float, float, float, float] | None = None
    shapes: int = 0
    segments: int = 0


def read_svg_metadata(path: str | os.PathLike) -> dict[str, Any] | None:
    """The JSON metadata :func:`clipdraw.svg.save_svg` stored in the file (prompt, seed, settings,
    ...), or ``None`` when the file has none or it is not a JSON object."""
    for element in read_source(path).root.iter():
        if local_name(element.tag) == "metadata" and element.get("id") == METADATA_ID:
            try:
                value = json.loads(element.text or "")
            except json.JSONDecodeError:
                return None
            return value if isinstance(value, dict) else None
    return None


# ---- numbers ----------------------------------------------------------------------------------


def _number(text: str | None, default: float) -> float:
    try:
        value = float(text) if text is not None else default
    except ValueError:
        return default
    return value if math.isfinite(value) else default


# ---- paint and geometry checks --------------------------------------------------------------


def _colour(paint: str | None, opacity: str | None, kinds: dict[str, str],
            skipped: set[str]) -> tuple[float, float, float, float] | None:
    """usvg's ``#rrggbb`` / ``none`` / ``url(#id)`` paint as straight RGBA; paint servers
    (gradients, patterns) are skipped and paint nothing."""
    paint = (paint or "none").strip()
    if paint.startswith("url("):
        target = paint[4:].split(")")[0].strip().strip("'\"").lstrip("#")
        skipped.add(kinds.get(target, "gradients"))
        return None
    if not (paint.startswith("#") and len(paint) == 7):
        return None
    try:
        rgb = [int(paint[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    except ValueError:
        return None
    return (*rgb, min(1.0, max(0.0, _number(opacity, 1.0))))


def _without_empty_segments(chain: np.ndarray) -> np.ndarray:
    """The cubic chain without its zero-length segments, which draw nothing but would give a
    join no direction (a chain of only such segments keeps one: a dot with caps)."""
    count = (len(chain) - 1) // 3
    segments = np.stack([chain[0:-1:3][:count], chain[1::3][:count], chain[2::3][:count],
                         chain[3::3][:count]], axis=1)
    moving = (segments != segments[:, :1]).any(axis=(1, 2))
    if moving.all() or not moving.any():
        return chain
    return np.concatenate([chain[:1], segments[moving, 1:].reshape(-1, 2)])


def _straight_to(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The controls of a straight segment from ``start`` to ``end`` (without its end)."""
    return np.stack([start + (end - start) / 3, start + 2 * (end - start) / 3])


def _bounds(path: _Path) -> np.ndarray:
    """``[xmin, ymin, xmax, ymax]`` of a sub-path's control points and stroke reach."""
    style = path.style
    corner = style["limit"] if style["join"] == LineJoin.MITER else 1.0
    reach = style["width"] * max(math.sqrt(2), corner) / 2 if style["stroke"] else 0.0
    return np.concatenate([path.points.min(0) - reach, path.points.max(0) + reach])


def _shape_bounds(paths: list[_Path]) -> dict[int, np.ndarray]:
    boxes: dict[int, np.ndarray] = {}
    for path in paths:
        box = _bounds(path)
        old = boxes.get(path.shape)
        boxes[path.shape] = box if old is None else np.concatenate(
            [np.minimum(old[:2], box[:2]), np.maximum(old[2:], box[2:])])
    return boxes


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])


# ---- the walk -------------------------------------------------------------------------------


class _Walker:
    """Turns usvg's tree into :class:`_Path` entries on the canvas."""

    def __init__(self, root: ElementTree.Element, canvas: tuple[int, int], view: Matrix,
                 limits: SvgLimits) -> None:
        self.canvas = canvas
        self.view = view
        self.limits = limits
        self.out = _Collected()
        self.defs: dict[str, ElementTree.Element] = {}
        for element in root.iter():
            if element.get("id") and element.get("id") not in self.defs:
                self.defs[element.get("id")] = element
        self.kinds = {key: "patterns" if local_name(e.tag) == "pattern" else "gradients"
                      for key, e in self.defs.items()}

    def walk(self, root: ElementTree.Element) -> _Collected:
        """Collect the shapes in document order; groups are finished (opacity, clip) on exit.
        Iterative: usvg nests a group per ``<use>``, so depth is not bounded by the file's."""
        stack: list[tuple[ElementTree.Element, Matrix, bool, int | None]] = [
            (child, self.view, True, None) for child in reversed(list(root))]
        while stack:
            element, matrix, plain, start = stack.pop()
            if start is not None:
                self._finish_group(element, matrix, start)
                continue
            tag = local_name(element.tag)
            if tag == "g":
                own = compose(matrix, transform_of(element))
                effects = any(element.get(name) for name in ("opacity", "clip-path", "mask",
                                                             "filter", "mix-blend-mode"))
                stack.append((element, own, plain, len(self.out.paths)))
                stack.extend((child, own, plain and not effects, None)
                             for child in reversed(list(element)))
            elif tag == "path":
                self._path(element, compose(matrix, transform_of(element)), plain)
            elif tag == "image":
                self.out.skipped.add("images")
        return self.out

    def _finish_group(self, group: ElementTree.Element, matrix: Matrix, start: int) -> None:
        paths = self.out.paths
        opacity = min(1.0, max(0.0, _number(group.get("opacity"), 1.0)))
        if opacity < 1:
            self._group_opacity(paths[start:], opacity)
        clip = group.get("clip-path")
        if clip:
            kept = self._clip(paths[start:], clip, matrix)
            paths[start:] = kept
        if group.get("mask"):
            self.out.skipped.add("masks (drawn unmasked)")
        if group.get("filter"):
            self.out.skipped.add("filters (drawn unfiltered)")
        if group.get("mix-blend-mode", "normal") != "normal":
            self.out.skipped.add("blend modes (drawn normal)")

    def _group_opacity(self, paths: list[_Path], opacity: float) -> None:
        """Multiply ``opacity`` into the group's alphas; name it unless that is exact."""
        styles = {id(p.style): p.style for p in paths}.values()
        for style in styles:
            for paint in ("fill", "stroke"):
                if style[paint] is not None:
                    style[paint] = (*style[paint][:3], style[paint][3] * opacity)
        if not paths or opacity == 0:
            return
        both = any(s["fill"] is not None and s["stroke"] is not None for s in styles)
        boxes = list(_shape_bounds(paths).values())
        overlapping = both or len(boxes) > _MOST_SHAPES_COMPARED or any(
            _overlap(boxes[i], boxes[j]) for i in range(len(boxes))
            for j in range(i + 1, len(boxes)))
        if overlapping:
            self.out.skipped.add("group opacity over overlapping shapes (approximated per "
                                 "shape)")

    def _clip_rectangle(self, reference: str, matrix: Matrix) -> tuple[np.ndarray, Matrix] | None:
        """The clip path as a rectangle ``[xmin, ymin, xmax, ymax]`` in its own coordinates and
        the matrix from them to the canvas, when it is one rectangle there (as usvg writes
        nested viewports and markers, also rotated), else ``None``."""
        target = reference.strip()[4:].split(")")[0].strip().strip("'\"").lstrip("#")
        clip = self.defs.get(target)
        if clip is None or clip.get("clip-path") or clip.get("clipPathUnits") == \
                "objectBoundingBox" or len(clip) != 1 or local_name(clip[0].tag) != "path":
            return None
        child = clip[0]
        where = compose(compose(matrix, transform_of(clip)), transform_of(child))
        if abs(where[0] * where[3] - where[1] * where[2]) < 1e-12:
            return None
        chains = cubic_chains(child.get("d", ""))
        if len(chains) != 1 or not chains[0][1]:
            return None
        corners = chains[0][0][::3]
        xs, ys = np.unique(corners[:, 0].round(9)), np.unique(corners[:, 1].round(9))
        if len(xs) != 2 or len(ys) != 2 or len(corners) not in (4, 5):
            return None
        if {(round(x, 9), round(y, 9)) for x, y in corners} != {(x, y) for x in xs for y in ys}:
            return None
        return np.array([xs[0], ys[0], xs[1], ys[1]]), where

    def _clip(self, paths: list[_Path], reference: str, matrix: Matrix) -> list[_Path]:
        """The group's paths after its clip path: shapes inside a rectangular clip are kept,
        shapes outside it dropped, fills across it clipped exactly; anything else is drawn
        unclipped and named."""
        found = self._clip_rectangle(reference, matrix)
        if found is None:
            if paths:
                self.out.skipped.add("clip paths (drawn unclipped)")
            return paths
        rectangle, to_canvas = found
        to_clip = inverse(to_canvas)
        reach_scale = stretches(to_clip)[0]
        local = [_Path(apply(to_clip, p.points), p.closed, p.shape,
                       {**p.style, "width": p.style["width"] * reach_scale}) for p in paths]
        boxes = _shape_bounds(local)
        slack = 1e-6 * max(1.0, float(np.abs(rectangle).max()))
        kept = []
        for path, inner in zip(paths, local):
            box = boxes[path.shape]
            if box[0] >= rectangle[0] - slack and box[1] >= rectangle[1] - slack and \
                    box[2] <= rectangle[2] + slack and box[3] <= rectangle[3] + slack:
                kept.append(path)
            elif not _overlap(box, rectangle):
                continue
            elif path.style["stroke"] is None:  # a fill clips exactly
                points = inner.points
                chain = points if path.closed else points[:-1] if np.array_equal(
                    points[0], points[-1]) else np.concatenate(
                    [points, _straight_to(points[-1], points[0])])
                clipped = clip_to_rectangle(chain, rectangle)
                if clipped is not None:
                    kept.append(_Path(apply(to_canvas, clipped), True, path.shape, path.style))
            else:
                self.out.skipped.add("clip paths (drawn unclipped)")
                kept.append(path)
        return kept

    def _path(self, element: ElementTree.Element, matrix: Matrix, plain: bool) -> None:
        if element.get("visibility", "visible") in ("hidden", "collapse"):
            return
        skipped = self.out.skipped
        get = element.get
        where = matrix
        big, small = stretches(where)
        fill = _colour(get("fill", "#000000"), get("fill-opacity"), self.kinds, skipped)
        stroke = _colour(get("stroke"), get("stroke-opacity"), self.kinds, skipped)
        local_width = max(0.0, _number(get("stroke-width"), 1.0))
        width = local_width * math.sqrt(big * small)
        if stroke is not None and not width > 0:
            stroke = None
        chains = cubic_chains(get("d", ""))
        if not chains or (fill is None and stroke is None):
            return
        subpaths = [(_without_empty_segments(apply(where, chain)), closed)
                    for chain, closed in chains]
        if not all(np.isfinite(c).all() and np.abs(c).max() <= _LARGEST for c, _ in subpaths) \
                or not width <= _LARGEST:
            skipped.add("shapes with huge or infinite coordinates")
            return
        style = {
            "fill": fill, "stroke": stroke, "width": width if stroke is not None else 1.0,
            "cap": _CAPS.get(get("stroke-linecap", "butt"), LineCap.BUTT),
            "join": _JOINS.get(get("stroke-linejoin", "miter"), LineJoin.MITER),
            "limit": max(1.0, _number(get("stroke-miterlimit"), DEFAULT_MITER_LIMIT)),
            "rule": _RULES.get(get("fill-rule", "nonzero"), FillRule.NONZERO),
        }
        if get("shape-rendering") in ("crispEdges", "optimizeSpeed"):
            skipped.add("shape-rendering crispEdges (drawn anti-aliased)")
        if stroke is not None:
            self._stroke_notes(element, local_width, big, small)
            if fill is not None and get("paint-order", "normal").strip().startswith("stroke"):
                skipped.add("paint-order stroke first (drawn fill first)")
        self._count(subpaths)
        if plain and not self.out.paths and self.out.background is None and \
                self._is_background(element, style, subpaths):
            self.out.background = style["fill"]
            return
        for chain, closed in subpaths:
            self.out.paths.append(_Path(chain[:-1] if closed else chain, closed,
                                        self.out.shapes, style))
        self.out.shapes += 1

    def _stroke_notes(self, element: ElementTree.Element, local_width: float, big: float,
                      small: float) -> None:
        """Name what the single-width, undashed stroke draws differently."""
        skipped = self.out.skipped
        if element.get("stroke-dasharray", "none") != "none":
            skipped.add("dashes (drawn solid)")
        if local_width * (big - small) / 2 > _VISIBLE:
            skipped.add("stroke widths under skew or non-uniform scale (one width drawn)")

    def _count(self, subpaths: list) -> None:
        self.out.segments += sum(len(chain) // 3 for chain, _ in subpaths)
        if self.out.segments > self.limits.max_segments:
            raise exceeded(self.limits, "max_segments",
                           f"over {self.limits.max_segments} path segments")

    def _is_background(self, element: ElementTree.Element, style: dict[str, Any],
                       subpaths: list) -> bool:
        """Whether the shape is a plain rectangle filling the whole canvas (ours or an editor's
        page background), which becomes the Scene's background instead of a path."""
        if style["stroke"] is not None or style["fill"] is None:
            return False
        if element.get("id") == BACKGROUND_ID:
            return True
        if len(subpaths) != 1 or not subpaths[0][1]:
            return False
        width, height = self.canvas
        corners = {(round(x, 3), round(y, 3)) for x, y in subpaths[0][0][::3].tolist()}
        return corners == {(0, 0), (round(width, 3), 0), (0, round(height, 3)),
                           (round(width, 3), round(height, 3))}


# ---- the document ---------------------------------------------------------------------------


def _view(root: ElementTree.Element, width: float, height: float) -> Matrix:
    """The ``viewBox`` -> viewport matrix with ``preserveAspectRatio``."""
    box = [_number(v, math.nan) for v in root.get("viewBox", "").replace(",", " ").split()]
    if len(box) != 4 or not all(math.isfinite(v) for v in box) or box[2] <= 0 or box[3] <= 0:
        return IDENTITY
    x, y, box_width, box_height = box
    sx, sy = width / box_width, height / box_height
    align, *rest = (root.get("preserveAspectRatio", "xMidYMid").split() or ["xMidYMid"])
    if align == "none":
        return (sx, 0.0, 0.0, sy, -x * sx, -y * sy)
    scale = max(sx, sy) if rest[:1] == ["slice"] else min(sx, sy)
    share = {"Min": 0.0, "Mid": 0.5, "Max": 1.0}
    ax, ay = share.get(align[1:4], 0.5), share.get(align[5:8], 0.5)
    return (scale, 0.0, 0.0, scale, -x * scale + ax * (width - box_width * scale),
            -y * scale + ay * (height - box_height * scale))


def _to_scene(collected: _Collected, width: int, height: int, limits: SvgLimits, device: Any,
              dtype: torch.dtype) -> Scene:
    """Pack the collected sub-paths into a Scene of one canvas."""
    paths = collected.paths
    count = len(paths)
    slots = max((len(p.points) + (1 if p.closed else 0) for p in paths), default=1)
    if count * slots > limits.max_padded_points:
        raise exceeded(limits, "max_padded_points",
                       f"{count} paths x {slots} points (the longest path) padded")
    points = np.zeros((1, count, slots, 2), dtype=np.float64)
    for n, path in enumerate(paths):
        points[0, n, : len(path.points)] = path.points
    num_segments = [len(p.points) // 3 if p.closed else (len(p.points) - 1) // 3 for p in paths]
    none = (0.0, 0.0, 0.0, 0.0)

    def per_path(values: list, kind: torch.dtype) -> torch.Tensor:
        return torch.tensor(values, dtype=kind).reshape(1, count).to(device)

    background = collected.background or (1.0, 1.0, 1.0, 0.0)
    return Scene(
        width=width,
        height=height,
        points=torch.from_numpy(points).to(device=device, dtype=dtype),
        num_segments=per_path(num_segments, torch.long),
        closed=per_path([p.closed for p in paths], torch.bool),
        stroke_width=per_path([p.style["width"] for p in paths], dtype),
        stroke_color=_colours([p.style["stroke"] or none for p in paths], device, dtype),
        fill_color=_colours([p.style["fill"] or none for p in paths], device, dtype),
        stroked=per_path([p.style["stroke"] is not None for p in paths], torch.bool),
        filled=per_path([p.style["fill"] is not None for p in paths], torch.bool),
        fill_rule=per_path([int(p.style["rule"]) for p in paths], torch.long),
        linecap=per_path([int(p.style["cap"]) for p in paths], torch.long),
        compound=per_path([p.shape for p in paths], torch.long),
        background=torch.tensor([background], dtype=dtype, device=device).clamp(0, 1),
        linejoin=per_path([int(p.style["join"]) for p in paths], torch.long),
        miter_limit=per_path([p.style["limit"] for p in paths], dtype),
    )


def _colours(values: list[tuple[float, ...]], device: Any, dtype: torch.dtype) -> torch.Tensor:
    """Per-path RGBA colours as a :math:`(1, N, 4)` tensor clamped to [0, 1]."""
    return torch.tensor(values, dtype=dtype).reshape(1, len(values), 4).clamp(0, 1).to(device)


def load_svg(
    path: str | os.PathLike,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    limits: SvgLimits | None = None,
) -> Scene:
    """Read an SVG (or gzipped ``.svgz``) file as a Scene of one canvas, the way SVG renderers
    read it (see the module notes for what is approximated or skipped; one warning names it).

    Args:
        path: the SVG file.
        device: where the tensors go (CPU by default).
        dtype: floating-point type of points, widths and colours.
        limits: the most work and memory the file may ask for (default :class:`SvgLimits()`).

    Returns:
        A validated Scene with ``B = 1``; each element is one compound shape (its sub-paths share
        one ``shape`` index); a full-canvas background rectangle becomes ``background``, otherwise
        the background is transparent.

    Raises:
        SvgImportError: the file is empty, not XML, not SVG, or over one of ``limits`` (the
            message names the limit and how to raise it). No other error escapes.

    Example:
        >>> import pathlib, tempfile
        >>> file = pathlib.Path(tempfile.mkdtemp()) / "dot.svg"
        >>> _ = file.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="6">'
        ...                     '<circle cx="4" cy="3" r="2" fill="red"/></svg>')
        >>> scene = load_svg(file)
        >>> (scene.width, scene.height, scene.num_paths, scene.fill_color[0, 0].tolist())
        (8, 6, 1, [1.0, 0.0, 0.0, 1.0])
    """
    name = os.fspath(path)
    limits = limits or SvgLimits()
    try:
        source = read_source(path, limits)
        result = normalise(source.data, limits)
        try:
            root = ElementTree.fromstring(result.svg)
        except ElementTree.ParseError as error:
            raise SvgImportError(f"cannot read {name!r}: unreadable normalised SVG: {error}") \
                from None
        exact = (_number(root.get("width"), 0.0), _number(root.get("height"), 0.0))
        if not all(0 < side <= _LARGEST for side in exact):
            raise SvgImportError(f"the SVG document has no usable size ({exact[0]} x {exact[1]} "
                                 "px from its width, height and viewBox)")
        width, height = (max(1, round(side)) for side in exact)
        stretch: Matrix = (width / exact[0], 0.0, 0.0, height / exact[1], 0.0, 0.0)
        view = compose(stretch, _view(root, *exact))
        collected = _Walker(root, (width, height), view, limits).walk(root)
        scene = _to_scene(collected, width, height, limits, device or "cpu", dtype).validate()
    except SvgImportError:
        raise
    except Exception as error:  # noqa: BLE001 - the documented contract: one error type
        raise SvgImportError(f"{name}: cannot read SVG: {type(error).__name__}: {error}") \
            from None
    skipped = source.skipped | collected.skipped | {
        label for message in result.messages for key, label in _SKIPPED_MESSAGES.items()
        if key in message}
    if skipped:
        warnings.warn(f"{name}: skipped or approximated what a Scene cannot represent: "
                      + ", ".join(sorted(skipped)), stacklevel=2)
    return scene
