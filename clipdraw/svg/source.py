"""Reading an SVG file's bytes and XML tree within :class:`~clipdraw.svg.limits.SvgLimits`.

Everything here is linear in the file's size and checked while it is read: the byte count (so
``/dev/zero`` ends), gunzip of ``.svgz`` (so a zip bomb ends), element count and nesting depth
(while parsing), and, before usvg expands anything, the number of elements the document draws
once every ``<use>`` is expanded (a chain of uses multiplies). Shapes whose geometry holds numbers
no float32 canvas can use (``1e40``, ``inf``) are removed before normalising, because usvg would
spend its whole budget cutting a radius-1e40 arc into pieces; they are reported as skipped.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from dataclasses import dataclass, field
from xml.etree import ElementTree

from clipdraw.svg.limits import SvgImportError, SvgLimits, exceeded

__all__ = ["SVG_NS", "Source", "local_name", "read_source"]

SVG_NS = "http://www.w3.org/2000/svg"
_CHUNK = 1 << 20
_HUGE = 1e9  # user units; no float32 canvas coordinate survives beyond this
# only numbers that can be huge: with an exponent, ten digits or more, or NaN / infinity
_SUSPECT = re.compile(r"(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+|\d{10,}|(?i:nan|inf)")
_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_MAYBE = re.compile(r"[eEnNiI]|\d{10}")  # a quick scan before the slower _SUSPECT
_GEOMETRY = {
    "path": ("d",), "polyline": ("points",), "polygon": ("points",),
    "line": ("x1", "y1", "x2", "y2"), "rect": ("x", "y", "width", "height", "rx", "ry"),
    "circle": ("cx", "cy", "r"), "ellipse": ("cx", "cy", "rx", "ry"),
}
_TEXT = ("text", "flowRoot")


@dataclass
class Source:
    """A parsed SVG file.

    Args:
        data: the document's bytes (gunzipped), rewritten when preflight removed something.
        root: its XML root element.
        skipped: features noticed in the source that will not be drawn (``"text"``, ...).
    """

    data: bytes
    root: ElementTree.Element
    skipped: set[str] = field(default_factory=set)


def local_name(tag: object) -> str:
    """An element tag without its namespace (comments and processing instructions give '')."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _read_bytes(path: str | os.PathLike, limits: SvgLimits) -> bytes:
    """The file's bytes, gunzipped when it is gzip (``.svgz``), at most ``max_file_bytes``."""
    name = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(limits.max_file_bytes + 1)
    except OSError as error:
        raise SvgImportError(f"cannot read SVG file {name!r}: {error}") from error
    if len(data) > limits.max_file_bytes:
        raise exceeded(limits, "max_file_bytes", f"more than {limits.max_file_bytes} bytes")
    if data[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=_BytesReader(data)) as unzipped:
                data = unzipped.read(limits.max_file_bytes + 1)
        except (OSError, EOFError, zlib.error) as error:
            raise SvgImportError(f"{name!r} is not a readable .svgz (gzip): {error}") from None
        if len(data) > limits.max_file_bytes:
            raise exceeded(limits, "max_file_bytes",
                           f"more than {limits.max_file_bytes} bytes once unzipped")
    if not data.strip():
        raise SvgImportError(f"SVG file {name!r} is empty")
    return data


class _BytesReader:
    """A minimal file object over bytes (io.BytesIO copies; this does not)."""

    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)
        self._at = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size < 0 else self._at + size
        chunk = bytes(self._view[self._at : end])
        self._at += len(chunk)
        return chunk


def _parse(data: bytes, name: str, limits: SvgLimits) -> ElementTree.Element:
    """The XML tree, counting elements and depth while parsing so that the limits stop it."""
    parser = ElementTree.XMLPullParser(events=("start", "end"))
    depth = elements = 0
    root = None
    try:
        for at in range(0, len(data), _CHUNK):
            parser.feed(data[at : at + _CHUNK])
            for event, element in parser.read_events():
                if event == "end":
                    depth -= 1
                    continue
                root = element if root is None else root
                depth += 1
                elements += 1
                if depth > limits.max_depth:
                    raise exceeded(limits, "max_depth", f"elements nested over {depth} deep")
                if elements > limits.max_elements:
                    raise exceeded(limits, "max_elements", f"over {elements - 1} elements")
        parser.close()
    except (ElementTree.ParseError, LookupError) as error:  # LookupError: unknown encoding
        raise SvgImportError(f"{name!r} is not valid XML: {error}") from None
    if root is None:
        raise SvgImportError(f"{name!r} is not valid XML: no root element")
    return root


def _use_target(element: ElementTree.Element) -> str:
    href = next((v for k, v in element.attrib.items() if local_name(k) == "href"), "")
    return href.strip()[1:] if href.strip().startswith("#") else ""


def _edges(element: ElementTree.Element, ids: dict[str, ElementTree.Element]) -> list:
    """What drawing ``element`` draws: its target for a ``<use>``, else its children."""
    if local_name(element.tag) == "use":
        target = ids.get(_use_target(element))
        return [] if target is None else [target]
    return list(element)


def _recursive_uses(root: ElementTree.Element,
                    ids: dict[str, ElementTree.Element]) -> list[ElementTree.Element]:
    """The ``<use>`` elements that reach themselves (or an ancestor) through their target:
    those on a cycle of the drawing graph (Tarjan's strongly connected components, iterative
    so that long chains cannot overflow the stack)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[ElementTree.Element] = []
    looping: list[ElementTree.Element] = []
    for start in root.iter():
        if id(start) in index:
            continue
        work = [(start, iter(_edges(start, ids)))]
        index[id(start)] = low[id(start)] = len(index)
        stack.append(start)
        on_stack.add(id(start))
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if id(child) not in index:
                    index[id(child)] = low[id(child)] = len(index)
                    stack.append(child)
                    on_stack.add(id(child))
                    work.append((child, iter(_edges(child, ids))))
                elif id(child) in on_stack:
                    low[id(node)] = min(low[id(node)], index[id(child)])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[id(parent)] = min(low[id(parent)], low[id(node)])
            if low[id(node)] == index[id(node)]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(id(member))
                    component.append(member)
                    if member is node:
                        break
                if len(component) > 1 or node in _edges(node, ids):
                    looping.extend(m for m in component if local_name(m.tag) == "use")
    return looping


def _drawn_copies(root: ElementTree.Element, ids: dict[str, ElementTree.Element]) -> int:
    """Elements drawn once every ``<use>`` is expanded; a reference back into the expansion
    in progress counts 0 (there are none once :func:`_recursive_uses` are removed)."""
    counts: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[ElementTree.Element, bool]] = [(root, False)]
    while stack:
        element, done = stack.pop()
        parts = _edges(element, ids)
        if done:
            active.discard(id(element))
            counts[id(element)] = 1 + sum(counts.get(id(p), 0) for p in parts)
        elif id(element) not in counts and id(element) not in active:
            active.add(id(element))
            stack.append((element, True))
            stack.extend((p, False) for p in parts if id(p) not in counts)
    return counts[id(root)]


def _huge(element: ElementTree.Element) -> bool:
    """Whether a shape's geometry holds a number beyond :data:`_HUGE` (or NaN/inf)."""
    for name in _GEOMETRY.get(local_name(element.tag), ()):
        text = element.get(name, "")
        if not _MAYBE.search(text):
            continue
        for number in _SUSPECT.findall(text):
            value = float(number)
            if not abs(value) <= _HUGE:
                return True
    return False


_ORIGIN = re.compile(r"^\s*([-+]?[\d.]+(?:[eE][-+]?\d+)?)(?:px)?\s*[,\s]\s*"
                     r"([-+]?[\d.]+(?:[eE][-+]?\d+)?)(?:px)?\s*$")


def _svg2_transform(parent: ElementTree.Element, child: ElementTree.Element,
                    skipped: set[str]) -> bool:
    """Rewrite SVG 2 transforms usvg 0.31 does not know into SVG 1.1: ``transform-origin``
    (lengths) folds into ``transform``; a ``transform`` on a nested ``<svg>`` moves onto a
    wrapping ``<g>``. Returns whether ``child`` changed."""
    changed = False
    origin = child.attrib.pop("transform-origin", None)
    if origin is not None:
        changed = True
        found = _ORIGIN.match(origin)
        if found is None:
            skipped.add("transform-origin other than lengths (ignored)")
        elif child.get("transform"):
            x, y = found.groups()
            child.set("transform", f"translate({x} {y}) {child.get('transform')} "
                                   f"translate({-float(x)!r} {-float(y)!r})")
    if local_name(child.tag) == "svg" and child.get("transform"):
        wrapper = ElementTree.Element(child.tag[: -len("svg")] + "g",
                                      transform=child.attrib.pop("transform"))
        position = list(parent).index(child)
        parent.remove(child)
        wrapper.append(child)
        parent.insert(position, wrapper)
        changed = True
    return changed


def _declared(element: ElementTree.Element, name: str) -> str | None:
    """The element's own value of a property, from ``style="..."`` or the attribute."""
    for declaration in _COMMENT.sub("", element.get("style", "")).split(";"):
        key, _, value = declaration.partition(":")
        if key.strip() == name and value.strip():
            return value.strip().removesuffix("!important").strip()
    return element.get(name)


def _pin_current_colour(root: ElementTree.Element) -> bool:
    """Make an inherited ``fill``/``stroke`` of ``currentColor`` explicit on elements that set
    their own ``color``, so the colour is taken where it is used (CSS: ``currentColor`` inherits
    as the keyword), not where it was declared. Returns whether anything changed."""
    changed = False
    stack: list[tuple[ElementTree.Element, dict[str, bool]]] = [(root, {})]
    while stack:
        element, inherited = stack.pop()
        current = {}
        for name in ("fill", "stroke"):
            own = _declared(element, name)
            if own is not None:
                current[name] = own.lower() == "currentcolor"
            else:
                current[name] = inherited.get(name, False)
                if current[name] and _declared(element, "color") is not None:
                    element.set(name, "currentColor")
                    changed = True
        stack.extend((child, current) for child in element)
    return changed


def read_source(path: str | os.PathLike, limits: SvgLimits | None = None) -> Source:
    """Read, check and pre-clean an SVG file (see the module notes).

    Raises:
        SvgImportError: unreadable, empty, not XML, not SVG, or over a limit.
    """
    name = os.fspath(path)
    limits = limits or SvgLimits()
    data = _read_bytes(path, limits)
    root = _parse(data, name, limits)
    if local_name(root.tag) != "svg":
        raise SvgImportError(f"{name!r} is not an SVG document (its root element is "
                             f"<{local_name(root.tag)}>, not <svg>)")
    if root.tag != f"{{{SVG_NS}}}svg":
        raise SvgImportError(f"{name!r} is not an SVG document (its <svg> root is not in the SVG "
                             f"namespace: {root.tag!r})")
    source = Source(data, root)
    changed = False
    for parent in root.iter():
        for child in list(parent):
            tag = local_name(child.tag)
            if tag in _TEXT:
                source.skipped.add("text")
            elif tag == "image":
                source.skipped.add("images")
            elif tag == "foreignObject":
                source.skipped.add("foreignObject (HTML)")
            elif _huge(child):
                parent.remove(child)
                source.skipped.add("shapes with huge or infinite coordinates")
                changed = True
                continue
            changed = _svg2_transform(parent, child, source.skipped) or changed
    changed = _pin_current_colour(root) or changed
    sheets = [e.text or "" for e in root.iter() if local_name(e.tag) == "style"]
    if any("!important" in sheet for sheet in sheets) and any(
            e.get("style") for e in root.iter()):
        source.skipped.add("CSS !important against inline styles (inline style drawn)")
    ids: dict[str, ElementTree.Element] = {}
    parents = {}
    for parent in root.iter():
        ids.setdefault(parent.get("id", ""), parent)  # the first of duplicate ids wins
        for child in parent:
            parents[id(child)] = parent
    for use in _recursive_uses(root, ids):
        parents[id(use)].remove(use)
        source.skipped.add("recursive <use> references (dropped)")
        changed = True
    copies = _drawn_copies(root, ids)
    if copies > limits.max_use_copies:
        raise exceeded(limits, "max_use_copies", f"{copies} elements once <use> is expanded")
    if changed:
        source.data = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return source
