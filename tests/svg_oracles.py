"""Independent SVG writing and rasterisation by real SVG renderers (cairosvg, resvg) for tests.

The writer is deliberately tiny and separate from clipdraw's exporter: one ``<path>`` per compound
shape (colours, fill rule and flags from its first path; stroke width and cap from it too), a white
(or given) background rectangle, absolute ``M``/``C``/``Z`` commands at full float precision.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image
from torch import Tensor

__all__ = [
    "random_clipdraw_scene",
    "render_cairo",
    "render_resvg",
    "rgb_over_white",
    "scene_to_svg_string",
]

_CAPS = {0: "butt", 1: "round", 2: "square"}


def _colour(rgba: Tensor) -> tuple[str, float]:
    """SVG ``rgb(...)`` (float percentages keep full precision) and the opacity."""
    r, g, b, a = (float(v) for v in rgba)
    return f"rgb({r * 100:.6f}%,{g * 100:.6f}%,{b * 100:.6f}%)", a


def _path_data(points: Tensor, segments: int, closed: bool) -> str:
    """``d`` attribute for one sub-path."""
    if segments <= 0:
        return ""
    used = points[: 3 * segments + (0 if closed else 1)].tolist()
    if closed:
        used = used + used[:1]
    parts = [f"M {used[0][0]!r} {used[0][1]!r}"]
    for s in range(segments):
        c = used[3 * s + 1 : 3 * s + 4]
        parts.append("C " + " ".join(f"{x!r} {y!r}" for x, y in c))
    if closed:
        parts.append("Z")
    return " ".join(parts)


def scene_to_svg_string(scene, index: int = 0) -> str:
    """An SVG document for canvas ``index`` of ``scene``."""
    w, h = scene.width, scene.height
    bg_fill, bg_alpha = _colour(scene.background[index])
    body = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}">'
    ]
    if bg_alpha > 0:
        body.append(f'<rect x="0" y="0" width="{w}" height="{h}" fill="{bg_fill}" '
                    f'fill-opacity="{bg_alpha!r}"/>')
    compound = scene.compound[index].tolist()
    points = scene.points[index].detach().double().cpu()
    n = 0
    while n < len(compound):
        group = [n]
        while group[-1] + 1 < len(compound) and compound[group[-1] + 1] == compound[n]:
            group.append(group[-1] + 1)
        first = group[0]
        d = " ".join(
            _path_data(points[m], int(scene.num_segments[index, m]), bool(scene.closed[index, m]))
            for m in group
        ).strip()
        n = group[-1] + 1
        if not d:
            continue
        attrs = []
        if bool(scene.filled[index, first]):
            fill, alpha = _colour(scene.fill_color[index, first])
            rule = "evenodd" if int(scene.fill_rule[index, first]) == 1 else "nonzero"
            attrs.append(f'fill="{fill}" fill-opacity="{alpha!r}" fill-rule="{rule}"')
        else:
            attrs.append('fill="none"')
        if bool(scene.stroked[index, first]):
            stroke, alpha = _colour(scene.stroke_color[index, first])
            width = float(scene.stroke_width[index, first])
            cap = _CAPS[int(scene.linecap[index, first])]
            attrs.append(f'stroke="{stroke}" stroke-opacity="{alpha!r}" stroke-width="{width!r}" '
                         f'stroke-linecap="{cap}" stroke-linejoin="round"')
        body.append(f'<path d="{d}" {" ".join(attrs)}/>')
    body.append("</svg>")
    return "\n".join(body)


def _png_to_rgba(data: bytes) -> np.ndarray:
    """Decode PNG bytes to straight RGBA float64 ``(H, W, 4)`` in [0, 1]."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGBA"), dtype=np.float64) / 255.0


def render_cairo(svg: str, width: int, height: int) -> np.ndarray:
    """Rasterise ``svg`` with cairosvg at ``width`` x ``height`` pixels; straight RGBA (H, W, 4)."""
    import cairosvg

    data = cairosvg.svg2png(bytestring=svg.encode(), output_width=width, output_height=height)
    return _png_to_rgba(data)


def render_resvg(svg: str, width: int, height: int) -> np.ndarray:
    """Rasterise ``svg`` with resvg at ``width`` x ``height`` pixels; straight RGBA (H, W, 4)."""
    import resvg_py

    data = resvg_py.svg_to_bytes(svg_string=svg, width=width, height=height,
                                 shape_rendering="geometric_precision")
    return _png_to_rgba(bytes(data))


def rgb_over_white(rgba: np.ndarray) -> np.ndarray:
    """Straight RGBA ``(H, W, 4)`` composited onto white, scaled to 0..255."""
    from clipdraw.render.composite import WHITE, over

    return over(torch.from_numpy(rgba), WHITE, dim=-1)[..., :3].numpy() * 255.0


def random_clipdraw_scene(
    num_paths: int, width: int, height: int, *, seed: int, min_width: float = 2.0,
    max_width: float = 100.0, step: float = 0.1, max_segments: int = 3,
):
    """A CLIPDraw-style random scene: ``randint(1, max_segments)`` cubic segments per path, start
    uniform on the canvas, each next control point ``step * size * (rand - 0.5)`` from the last,
    widths uniform in ``[min_width, max_width]``, random RGBA stroke colours, white background."""
    from clipdraw.scene import Scene

    gen = torch.Generator().manual_seed(seed)
    size = torch.tensor([width, height], dtype=torch.float32)
    slots = 3 * max_segments + 1
    segments = torch.randint(1, max_segments + 1, (num_paths,), generator=gen)
    start = torch.rand(num_paths, 1, 2, generator=gen) * size
    steps = step * size * (torch.rand(num_paths, slots - 1, 2, generator=gen) - 0.5)
    points = torch.cat([start, start + steps.cumsum(dim=1)], dim=1)
    widths = min_width + (max_width - min_width) * torch.rand(num_paths, generator=gen)
    colours = torch.rand(num_paths, 4, generator=gen)
    return Scene.create(points, segments, width, height, stroke_width=widths,
                        stroke_color=colours)
