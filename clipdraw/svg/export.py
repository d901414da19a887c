"""Scene -> SVG: the one writer of the drawing pipeline.

The document is plain SVG 1.1 that Inkscape, Illustrator, browsers, cairo and resvg all draw the
same way: ``viewBox="0 0 W H"`` with ``width``/``height`` equal to the canvas (one user unit is one
pixel), an optional background ``<rect>``, and every path inside one Inkscape layer so that editors
show the drawing as a layer. Each compound shape is one ``<path>`` whose sub-paths are joined in
one ``d``; colours are 8-bit ``rgb()`` with separate ``fill-opacity``/``stroke-opacity`` (not
``opacity``, which would composite fill and stroke as a group and differ from the renderer).
Metadata (prompt, seed, settings, ...) is stored as JSON text in ``<metadata>`` so a drawing can be
reproduced from its file (see :func:`clipdraw.svg.load.read_svg_metadata`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any
from xml.etree import ElementTree

import svgwrite
import torch

from clipdraw.io import atomic_write
from clipdraw.scene import DEFAULT_MITER_LIMIT, FillRule, LineCap, LineJoin, Scene

__all__ = ["INKSCAPE_NS", "LAYER_ID", "METADATA_ID", "BACKGROUND_ID", "save_svg", "scene_to_svg"]

INKSCAPE_NS = "http://www.inkscape.org/namespaces/inkscape"
LAYER_ID = "clipdraw"
METADATA_ID = "clipdraw-metadata"
BACKGROUND_ID = "clipdraw-background"
_CAPS = {LineCap.BUTT: "butt", LineCap.ROUND: "round", LineCap.SQUARE: "square"}
_JOINS = {LineJoin.ROUND: "round", LineJoin.MITER: "miter", LineJoin.BEVEL: "bevel"}
_RULES = {FillRule.NONZERO: "nonzero", FillRule.EVENODD: "evenodd"}
_OPACITY_DECIMALS = 3  # 8-bit colour channels need ~3 decimals of alpha to round-trip


class _MetadataElement:
    """A ``<metadata>`` element holding JSON text (svgwrite's own only holds XML children)."""

    elementname = "metadata"

    def __init__(self, text: str) -> None:
        self.text = text

    def get_xml(self) -> ElementTree.Element:
        element = ElementTree.Element("metadata", id=METADATA_ID)
        element.text = self.text  # ElementTree escapes &, < and >
        return element


def format_number(value: float, precision: int) -> str:
    """Shortest decimal of ``value`` rounded to ``precision`` places: ``1.50 -> "1.5"``,
    ``-0.001 -> "0"``, ``3.0 -> "3"``."""
    text = f"{value:.{precision}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text


def format_color(rgb: Sequence[float]) -> str:
    """``rgb(r,g,b)`` with 8-bit channels, the form every SVG client understands."""
    channels = (min(255, max(0, round(float(c) * 255))) for c in rgb[:3])
    return "rgb({},{},{})".format(*channels)


def path_data(points: torch.Tensor, segments: int, closed: bool, precision: int) -> str:
    """The ``d`` of one cubic chain: ``M p0 C p1 p2 p3 ...``, closed chains end at ``p0`` and
    add ``Z`` so the join at the start is a join, not two caps.

    Shape:
        - points: :math:`(P, 2)`, only the first ``3 * segments + 1`` (open) or ``3 * segments``
          (closed) rows are used.
    """
    if segments <= 0:
        return ""
    used = 3 * segments if closed else 3 * segments + 1
    coords = points[:used].tolist()
    if closed:
        coords.append(coords[0])

    def xy(point: Sequence[float]) -> str:
        return f"{format_number(point[0], precision)},{format_number(point[1], precision)}"

    parts = [f"M{xy(coords[0])}"]
    for s in range(segments):
        a, b, c = coords[3 * s + 1 : 3 * s + 4]
        parts.append(f"C{xy(a)} {xy(b)} {xy(c)}")
    if closed:
        parts.append("Z")
    return "".join(parts)


def _style(scene: Scene, b: int, n: int, precision: int) -> dict[str, str]:
    """SVG presentation attributes of path ``n``; defaults are left out except the ones editors
    need to show our intent (cap, join, fill-rule)."""
    attrs: dict[str, str] = {}
    if bool(scene.filled[b, n]):
        fill = scene.fill_color[b, n].tolist()
        attrs["fill"] = format_color(fill)
        if fill[3] < 1:
            attrs["fill-opacity"] = format_number(fill[3], _OPACITY_DECIMALS)
        attrs["fill-rule"] = _RULES[FillRule(int(scene.fill_rule[b, n]))]
    else:
        attrs["fill"] = "none"
    if bool(scene.stroked[b, n]):
        stroke = scene.stroke_color[b, n].tolist()
        attrs["stroke"] = format_color(stroke)
        if stroke[3] < 1:
            attrs["stroke-opacity"] = format_number(stroke[3], _OPACITY_DECIMALS)
        width = float(scene.stroke_width[b, n])
        attrs["stroke-width"] = format_number(width, max(precision, 2))
        attrs["stroke-linecap"] = _CAPS[LineCap(int(scene.linecap[b, n]))]
        join = LineJoin(int(scene.linejoin[b, n]))
        attrs["stroke-linejoin"] = _JOINS[join]
        limit = float(scene.miter_limit[b, n])
        if limit != DEFAULT_MITER_LIMIT:
            attrs["stroke-miterlimit"] = format_number(limit, max(precision, 3))
    return attrs


def _shape_groups(shape: list[int]) -> list[list[int]]:
    """Indices of consecutive paths that share one compound-shape index."""
    groups: list[list[int]] = []
    for n, value in enumerate(shape):
        if groups and shape[groups[-1][0]] == value:
            groups[-1].append(n)
        else:
            groups.append([n])
    return groups


def scene_to_svg(
    scene: Scene,
    *,
    index: int = 0,
    metadata: Mapping[str, Any] | None = None,
    precision: int = 2,
) -> str:
    """The SVG document of canvas ``index`` of ``scene``.

    Args:
        scene: the drawing; any device, dtype or autograd state.
        index: which canvas of the batch to write.
        metadata: JSON-serialisable facts that reproduce the drawing (prompt, seed, settings,
            similarity, version), stored as JSON text in ``<metadata>``.
        precision: decimals of coordinates and stroke widths (trailing zeros are stripped).

    Returns:
        The document as text, starting with the XML declaration.
    """
    if not 0 <= precision <= 8:
        raise ValueError(f"precision must lie in [0, 8], got {precision}")
    if not -scene.batch_size <= index < scene.batch_size:
        raise IndexError(f"index {index} out of range for a batch of {scene.batch_size}")
    scene = scene[index].detach().to("cpu", torch.float64)
    scene.validate()
    width, height = scene.width, scene.height
    drawing = svgwrite.Drawing(
        size=(str(width), str(height)), viewBox=f"0 0 {width} {height}", profile="full",
        debug=False,
    )
    drawing.attribs["xmlns:inkscape"] = INKSCAPE_NS
    if metadata is not None:
        text = json.dumps(dict(metadata), ensure_ascii=False, sort_keys=True, allow_nan=False)
        drawing.elements.append(_MetadataElement(text))
    background = scene.background[0].tolist()
    if background[3] > 0:
        rect = {"id": BACKGROUND_ID, "fill": format_color(background)}
        if background[3] < 1:
            rect["fill-opacity"] = format_number(background[3], _OPACITY_DECIMALS)
        drawing.add(drawing.rect(size=(str(width), str(height)), **rect))
    layer = drawing.g(id=LAYER_ID, **{"inkscape:groupmode": "layer", "inkscape:label": "clipdraw"})
    drawing.add(layer)
    num_segments = scene.num_segments[0].tolist()
    closed = scene.closed[0].tolist()
    for group in _shape_groups(scene.compound[0].tolist()):
        d = "".join(
            path_data(scene.points[0, n], num_segments[n], closed[n], precision) for n in group
        )
        if d:
            layer.add(drawing.path(d=d, **_style(scene, 0, group[0], precision)))
    return _serialise(drawing)


def _serialise(drawing: svgwrite.Drawing) -> str:
    """Indented XML text without what svgwrite adds unasked (an empty ``<defs>``, unused
    namespaces, ``baseProfile``) and without the redundant ``x="0" y="0"``."""
    root = drawing.get_xml()
    for name in ("xmlns:ev", "xmlns:xlink", "baseProfile"):
        root.attrib.pop(name, None)
    for child in list(root):
        if child.tag == "defs" and not len(child):
            root.remove(child)
        if child.tag == "rect":
            for name in ("x", "y"):
                if child.get(name) == "0":
                    del child.attrib[name]
    ElementTree.indent(root, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(
        root, encoding="unicode") + "\n"


def save_svg(
    scene: Scene,
    path: str | os.PathLike,
    *,
    index: int = 0,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Write canvas ``index`` of ``scene`` to ``path`` as SVG, atomically (readers never see a
    half-written file)."""
    atomic_write(path, scene_to_svg(scene, index=index, metadata=metadata))
