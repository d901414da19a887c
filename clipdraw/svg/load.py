"""SVG -> Scene: any SVG (a logo, a sketch, an earlier result) as the start of a drawing.

Parsing, CSS, ``<use>``, units and transforms are left to svgelements (maintained, pure Python,
resolves styles, inheritance, ``currentColor``, ``viewBox`` and every transform into absolute
geometry); this module turns its shapes into the Scene's cubic chains and paints.

Mapping to the canvas: the canvas is the document size in px (``width``/``height`` at 96 px per
inch, so ``210mm`` is 793.7 px), rounded to whole pixels; the ``viewBox`` and every transform map
user units onto it, and a final scale stretches the document by the rounding (< 0.5 px) so that
the ``viewBox`` fills the canvas exactly. Without ``width``/``height`` the ``viewBox`` size is used.

Approximations: lines and quadratics become cubics exactly, arcs within 0.1 px; ``opacity`` (also on
groups) is multiplied into the fill and stroke alphas rather than compositing a group; joins are
round. What the Scene cannot hold (text, images, gradients and patterns, dashes, markers, filters,
clip paths, masks, symbols) is skipped with one warning that lists it; the rest loads.
"""

from __future__ import annotations

import io
import json
import math
import os
import warnings
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

import svgelements as se
import torch

from clipdraw.scene import FillRule, LineCap, Scene
from clipdraw.svg.export import BACKGROUND_ID, METADATA_ID

__all__ = ["SvgImportError", "load_svg", "read_svg_metadata"]

_ARC_TOLERANCE = 0.1  # px, the most an arc's cubics may stray from the arc
_LARGEST = 1e7  # px; beyond this float32 coordinates are meaningless (or infinite)
_CAPS = {"butt": LineCap.BUTT, "round": LineCap.ROUND, "square": LineCap.SQUARE}
_RULES = {"nonzero": FillRule.NONZERO, "evenodd": FillRule.EVENODD}
_GRADIENT_TAGS = ("linearGradient", "radialGradient")

Point = tuple[float, float]


class SvgImportError(ValueError):
    """The file is not an SVG document that can be read (empty, not XML, not SVG)."""


@dataclass
class _Path:
    """One sub-path: a cubic chain ``[p0, c1, c2, p1, ...]`` and its paint."""

    points: list[Point]
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


def _read_document(path: str | os.PathLike) -> tuple[bytes, ElementTree.Element]:
    """The file's bytes and parsed root, or :class:`SvgImportError` saying why it is unusable."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise SvgImportError(f"cannot read SVG file {os.fspath(path)!r}: {error}") from error
    if not data.strip():
        raise SvgImportError(f"SVG file {os.fspath(path)!r} is empty")
    try:
        root = ElementTree.fromstring(data)
    except (ElementTree.ParseError, LookupError) as error:  # LookupError: unknown encoding
        raise SvgImportError(f"{os.fspath(path)!r} is not valid XML: {error}") from error
    if _local(root.tag) != "svg":
        raise SvgImportError(
            f"{os.fspath(path)!r} is not an SVG document (its root element is "
            f"<{_local(root.tag)}>, not <svg>)"
        )
    return data, root


def _local(tag: Any) -> str:
    """An element tag without its namespace (comments and processing instructions give '')."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def read_svg_metadata(path: str | os.PathLike) -> dict[str, Any] | None:
    """The JSON metadata :func:`clipdraw.svg.save_svg` stored in the file (prompt, seed, settings,
    ...), or ``None`` when the file has none or it is not a JSON object."""
    _, root = _read_document(path)
    for element in root.iter():
        if _local(element.tag) == "metadata" and element.get("id") == METADATA_ID:
            try:
                value = json.loads(element.text or "")
            except json.JSONDecodeError:
                return None
            return value if isinstance(value, dict) else None
    return None


_HIDDEN_CONTAINERS = ("mask", "marker", "pattern", "symbol", "clipPath")


def _prepared(data: bytes, root: ElementTree.Element, skipped: set[str]) -> bytes:
    """The document rewritten around svgelements 1.9's structural gaps, drawing the same:

    - containers whose content is never drawn in place (mask, marker, pattern, symbol, clipPath)
      are removed: svgelements flattens them and would draw their content; ``<use>`` of a
      symbol counts as skipped;
    - a nested ``<svg>`` at ``x``/``y`` moves into ``<g transform="translate(x y)">``
      (svgelements misplaces it);
    - a root with a size but no ``viewBox`` gets ``viewBox="0 0 W H"`` (svgelements reads
      ``height="100%"`` against the width without one).

    The bytes are returned unchanged when nothing needs rewriting.
    """
    changed = False
    symbols = set()
    for parent in list(root.iter()):
        for child in list(parent):
            tag = _local(child.tag)
            if tag in _HIDDEN_CONTAINERS:
                if tag == "symbol" and child.get("id"):
                    symbols.add(child.get("id"))
                parent.remove(child)
                changed = True
            elif tag == "svg" and (child.get("x") or child.get("y")):
                offset = f"translate({child.get('x') or 0} {child.get('y') or 0})"
                wrapper = ElementTree.Element(child.tag[: -len("svg")] + "g", transform=offset)
                child.attrib.pop("x", None)
                child.attrib.pop("y", None)
                position = list(parent).index(child)
                parent.remove(child)
                wrapper.append(child)
                parent.insert(position, wrapper)
                changed = True
    for element in root.iter():
        if _local(element.tag) == "use":
            target = next((v for k, v in element.attrib.items() if _local(k) == "href"), "")
            if target.lstrip("#") in symbols:
                skipped.add("symbols")
    if root.get("viewBox") is None:
        sizes = [se.Length(root.get(name, "")).value(ppi=96.0) for name in ("width", "height")]
        if all(isinstance(size, float) and size > 0 for size in sizes):
            root.set("viewBox", f"0 0 {sizes[0]!r} {sizes[1]!r}")
            changed = True
    return ElementTree.tostring(root) if changed else data


def _paint_servers(root: ElementTree.Element) -> dict[str, str]:
    """Ids of gradients and patterns mapped to the name of what they are, for the warning."""
    kinds = {}
    for element in root.iter():
        tag = _local(element.tag)
        if element.get("id") and tag in (*_GRADIENT_TAGS, "pattern"):
            kinds[element.get("id")] = "gradients" if tag in _GRADIENT_TAGS else "patterns"
    return kinds


def _arc_pieces(arc: se.Arc) -> int:
    """Cubics needed for ``arc`` to stay within :data:`_ARC_TOLERANCE`: a cubic of angle ``t``
    strays up to about ``2.7e-4 * r * (t / 90deg) ** 6`` from a circle of radius ``r``."""
    sweep = abs(arc.sweep)
    radius = max(abs(arc.rx), abs(arc.ry), 1e-9)
    largest = (math.pi / 2) * min(1.0, (_ARC_TOLERANCE / 2 / (2.7e-4 * radius)) ** (1 / 6))
    return max(1, math.ceil(sweep / (math.tau / 12)), math.ceil(sweep / largest))


def _cubics(segment: se.PathSegment) -> list[tuple[Point, Point, Point]]:
    """The segment as cubics ``(c1, c2, end)``; lines and quadratics exactly."""
    start = (segment.start.x, segment.start.y)
    end = (segment.end.x, segment.end.y)
    if isinstance(segment, se.CubicBezier):
        return [((segment.control1.x, segment.control1.y),
                 (segment.control2.x, segment.control2.y), end)]
    if isinstance(segment, se.QuadraticBezier):
        q = (segment.control.x, segment.control.y)
        return [((start[0] + 2 / 3 * (q[0] - start[0]), start[1] + 2 / 3 * (q[1] - start[1])),
                 (end[0] + 2 / 3 * (q[0] - end[0]), end[1] + 2 / 3 * (q[1] - end[1])), end)]
    if isinstance(segment, se.Arc):
        if segment.sweep == 0 or segment.rx == 0 or segment.ry == 0:
            return _cubics(se.Line(segment.start, segment.end))
        return [((c.control1.x, c.control1.y), (c.control2.x, c.control2.y), (c.end.x, c.end.y))
                for c in segment.as_cubic_curves(_arc_pieces(segment))]
    return [(_lerp(start, end, 1 / 3), _lerp(start, end, 2 / 3), end)]  # Line, Close


def _lerp(a: Point, b: Point, t: float) -> Point:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)


def _subpaths(path: se.Path) -> list[tuple[list[Point], bool]]:
    """The sub-paths of a reified path as cubic chains ``[p0, c1, c2, p1, ...]`` with their
    closedness; a closed chain ends at its start point, which is dropped later."""
    result: list[tuple[list[Point], bool]] = []
    chain: list[Point] = []

    def finish(closed: bool) -> None:
        if len(chain) > 1:
            result.append((list(chain), closed))
        chain.clear()

    for segment in path:
        if isinstance(segment, se.Move):
            finish(False)
            chain.append((segment.end.x, segment.end.y))
            continue
        if segment.start is None or segment.end is None:
            continue
        if not chain:
            chain.append((segment.start.x, segment.start.y))
        if isinstance(segment, se.Close):
            start = chain[0]
            if math.dist(chain[-1], start) > 1e-9:
                for c1, c2, end in _cubics(se.Line(segment.start, se.Point(start))):
                    chain.extend((c1, c2, end))
            if len(chain) > 1:
                chain[-1] = start
            finish(True)
            chain.append(start)  # drawing may continue from the start point without a move
            continue
        for c1, c2, end in _cubics(segment):
            chain.extend((c1, c2, end))
    finish(False)
    return result


def _colour(color: Any, raw: Any, opacity: Any, servers: dict[str, str],
            skipped: set[str]) -> Any:
    """The straight RGBA of a paint, or ``None`` for no paint; gradients and patterns are not
    representable, so they count as skipped and paint nothing. ``opacity`` is the raw
    ``fill-opacity``/``stroke-opacity``, read here at full precision (svgelements keeps 8 bits)."""
    if isinstance(raw, str) and raw.strip().startswith("url("):
        target = raw.strip()[4:].split(")")[0].strip().strip("'\"").lstrip("#")
        skipped.add(servers.get(target, "gradients"))
        return None
    if color is None or getattr(color, "value", None) is None:
        return None
    alpha = color.alpha / 255
    if opacity is not None:  # svgelements replaced the colour's own alpha (rgba()) by it
        own = se.Color(raw) if isinstance(raw, str) else None
        alpha = (1.0 if own is None or own.value is None else own.alpha / 255) * _fraction(opacity)
    return (color.red / 255, color.green / 255, color.blue / 255, alpha)


def _fraction(raw: Any) -> float:
    """An opacity value (``0.5`` or ``50%``) clamped to [0, 1]; unreadable values count as 1."""
    text = str(raw).strip()
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        return 1.0
    return min(1.0, max(0.0, value)) if math.isfinite(value) else 1.0


def _style(element: se.Shape, width: float, opacity: float, servers: dict[str, str],
           skipped: set[str]) -> dict[str, Any]:
    """Paint of one shape in Scene terms, ``width`` its stroke width on the canvas; notes
    unrepresentable properties in ``skipped``."""
    values = element.values
    fill = _colour(element.fill, values.get("fill"), values.get("fill-opacity"), servers, skipped)
    stroke = _colour(element.stroke, values.get("stroke"), values.get("stroke-opacity"), servers,
                     skipped)
    if stroke is not None and width <= 0:
        stroke = None
    if stroke is not None:
        dashes = str(values.get("stroke-dasharray", "none")).strip()
        if dashes not in ("", "none", "0"):
            skipped.add("dashes")
    if any(str(values.get(f"marker-{m}", "none")).strip() not in ("", "none")
           for m in ("start", "mid", "end")):
        skipped.add("markers")
    return {
        "fill": None if fill is None else (*fill[:3], fill[3] * opacity),
        "stroke": None if stroke is None else (*stroke[:3], stroke[3] * opacity),
        "width": width,
        "cap": _CAPS.get(str(values.get("stroke-linecap", "butt")).strip(), LineCap.BUTT),
        "rule": _RULES.get(str(values.get("fill-rule", "nonzero")).strip(), FillRule.NONZERO),
    }


def _own_opacity(element: se.SVGElement) -> float:
    """The element's own ``opacity`` (attribute or style), clamped to [0, 1]."""
    return _fraction(element.values.get("attributes", {}).get("opacity", "1"))


def _effects(element: se.SVGElement, skipped: set[str]) -> None:
    """Note the non-inherited effects on ``element`` that the Scene cannot hold."""
    own = element.values.get("attributes", {})
    for name, label in (("clip-path", "clip paths"), ("mask", "masks"), ("filter", "filters")):
        if str(own.get(name, "none")).strip() not in ("", "none"):
            skipped.add(label)


def _is_background(element: se.Shape, style: dict[str, Any], subpaths: list, width: float,
                   height: float) -> bool:
    """Whether ``element`` is a plain rectangle filling the whole canvas (ours or an editor's
    page background), which becomes the Scene's background instead of a path."""
    if not isinstance(element, se.Rect) or style["stroke"] is not None or style["fill"] is None:
        return False
    if element.id == BACKGROUND_ID:
        return True
    if len(subpaths) != 1 or not subpaths[0][1]:
        return False
    corners = {(round(x, 3), round(y, 3)) for x, y in subpaths[0][0][::3]}
    return corners == {(0, 0), (round(width, 3), 0), (0, round(height, 3)),
                       (round(width, 3), round(height, 3))}


def _degenerate(element: se.Shape) -> bool:
    """Shapes SVG does not draw: a rect, circle or ellipse with a zero or negative size."""
    if isinstance(element, se.Rect):
        sizes = (element.width, element.height)
    elif isinstance(element, (se.Circle, se.Ellipse)):
        sizes = (element.rx, element.ry)
    else:
        return False
    return any(not isinstance(size, (int, float)) or not size > 0 for size in sizes)


def _walk(node: se.Group, opacity: float, out: _Collected, servers: dict[str, str],
          canvas: tuple[float, float], stretch: tuple[float, float]) -> None:
    """Collect the shapes under ``node`` in document order, multiplying group opacities."""
    for element in node:
        if not isinstance(element, se.SVGElement) or not hasattr(element, "values"):
            continue
        values = element.values
        if isinstance(element, (se.Group, se.Use)):
            _effects(element, out.skipped)
            _walk(element, opacity * _own_opacity(element), out, servers, canvas, stretch)
        elif isinstance(element, se.Text):
            out.skipped.add("text")
        elif isinstance(element, se.Image):
            out.skipped.add("images")
        elif isinstance(element, se.Shape):
            hidden = str(values.get("visibility", "visible")).strip() in ("hidden", "collapse")
            if hidden or _degenerate(element):
                continue
            _effects(element, out.skipped)
            path = se.Path(element)
            path.reify()  # applies every transform, scaling the stroke width by sqrt(|det|)
            width = float(path.stroke_width or 0.0) * math.sqrt(stretch[0] * stretch[1])
            style = _style(element, width, opacity * _own_opacity(element), servers, out.skipped)
            subpaths = [([(x * stretch[0], y * stretch[1]) for x, y in chain], closed)
                        for chain, closed in _subpaths(path)]
            numbers = [v for chain, _ in subpaths for p in chain for v in p] + [width]
            if not all(abs(v) <= _LARGEST for v in numbers):  # also catches NaN
                out.skipped.add("shapes with huge or infinite coordinates")
                continue
            if not subpaths:
                continue
            if not out.paths and out.background is None and _is_background(
                    element, style, subpaths, *canvas):
                out.background = style["fill"]
                continue
            for chain, closed in subpaths:
                out.paths.append(_Path(chain[:-1] if closed else chain, closed, out.shapes, style))
            out.shapes += 1


def _canvas(document: se.SVG) -> tuple[int, int, float, float]:
    """Whole-pixel canvas size and the document size in px it is rounded from."""
    width, height = float(document.width), float(document.height)
    if not (math.isfinite(width) and math.isfinite(height)) or width <= 0 or height <= 0:
        raise SvgImportError(f"the SVG document has no usable size ({width} x {height} px from "
                             "its width, height and viewBox)")
    return max(1, round(width)), max(1, round(height)), width, height


def _to_scene(collected: _Collected, width: int, height: int, device: Any,
              dtype: torch.dtype) -> Scene:
    """Pack the collected sub-paths into a Scene of one canvas."""
    paths = collected.paths
    count = len(paths)
    slots = max((len(p.points) + (1 if p.closed else 0) for p in paths), default=1)
    points = torch.zeros(1, count, slots, 2, dtype=torch.float64)
    for n, path in enumerate(paths):
        points[0, n, : len(path.points)] = torch.tensor(path.points, dtype=torch.float64)
    num_segments = [len(p.points) // 3 if p.closed else (len(p.points) - 1) // 3 for p in paths]
    none = (0.0, 0.0, 0.0, 0.0)

    def per_path(values: list, kind: torch.dtype) -> torch.Tensor:
        return torch.tensor(values, dtype=kind).reshape(1, count).to(device)

    background = collected.background or (1.0, 1.0, 1.0, 0.0)
    return Scene(
        width=width,
        height=height,
        points=points.to(device=device, dtype=dtype),
        num_segments=per_path(num_segments, torch.long),
        closed=per_path([p.closed for p in paths], torch.bool),
        stroke_width=per_path([p.style["width"] if p.style["stroke"] else 1.0 for p in paths],
                              dtype),
        stroke_color=_colours([p.style["stroke"] or none for p in paths], device, dtype),
        fill_color=_colours([p.style["fill"] or none for p in paths], device, dtype),
        stroked=per_path([p.style["stroke"] is not None for p in paths], torch.bool),
        filled=per_path([p.style["fill"] is not None for p in paths], torch.bool),
        fill_rule=per_path([int(p.style["rule"]) for p in paths], torch.long),
        linecap=per_path([int(p.style["cap"]) for p in paths], torch.long),
        shape=per_path([p.shape for p in paths], torch.long),
        background=torch.tensor([background], dtype=dtype, device=device).clamp(0, 1),
    )


def _colours(values: list[tuple[float, ...]], device: Any, dtype: torch.dtype) -> torch.Tensor:
    """Per-path RGBA colours as a :math:`(1, N, 4)` tensor clamped to [0, 1]."""
    return torch.tensor(values, dtype=dtype).reshape(1, len(values), 4).clamp(0, 1).to(device)


def load_svg(
    path: str | os.PathLike,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Scene:
    """Read an SVG file as a Scene of one canvas (see the module notes for what is supported).

    Args:
        path: the SVG file.
        device: where the tensors go (CPU by default).
        dtype: floating-point type of points, widths and colours.

    Returns:
        A validated Scene with ``B = 1``; each element is one compound shape (its sub-paths share
        one ``shape`` index); a full-canvas background rectangle becomes ``background``, otherwise
        the background is transparent.

    Raises:
        SvgImportError: the file is empty, not XML, or not SVG.
    """
    data, root = _read_document(path)
    collected = _Collected()
    servers = _paint_servers(root)
    try:
        source = io.BytesIO(_prepared(data, root, collected.skipped))
        document = se.SVG.parse(source, reify=False, ppi=96.0, on_error="ignore")
    except Exception as error:  # svgelements raises assorted errors on broken documents
        raise SvgImportError(f"cannot read SVG file {os.fspath(path)!r}: {error}") from error
    if not isinstance(document, se.SVG):
        raise SvgImportError(
            f"{os.fspath(path)!r} is not an SVG document (its <svg> root is not in the SVG "
            f"namespace: {root.tag!r})")
    width, height, exact_width, exact_height = _canvas(document)
    _walk(document, 1.0, collected, servers, (width, height),
          (width / exact_width, height / exact_height))
    if collected.skipped:
        warnings.warn(
            f"{os.fspath(path)}: skipped what a Scene cannot represent: "
            + ", ".join(sorted(collected.skipped)),
            stacklevel=2,
        )
    return _to_scene(collected, width, height, device or "cpu", dtype).validate()
