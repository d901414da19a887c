"""Optional backend: render a :class:`~clipdraw.scene.Scene` with diffvg's ``pydiffvg``.

diffvg is a C++/CUDA library that is not on PyPI; this backend exists for comparison with the
research code that uses it. It is imported only when asked for. Its conventions differ from
ours, and are converted here: diffvg stores half stroke widths, draws on a transparent canvas
and knows only round caps (butt and square caps are drawn round).
"""

from __future__ import annotations

import torch
from torch import Tensor

from clipdraw.render.composite import over
from clipdraw.scene import FillRule, Scene

__all__ = ["rasterise_diffvg"]

# diffvg's anti-aliasing: jittered samples per pixel along each axis, as CLIPDraw uses.
SAMPLES = 2


def rasterise_diffvg(scene: Scene, scale: float, seed: int = 0) -> Tensor:
    """Render every canvas of ``scene`` with pydiffvg; see :func:`clipdraw.render.render`.

    Shape:
        - Output: :math:`(B, 4, H, W)` straight-alpha RGBA.
    """
    try:
        import pydiffvg
    except ImportError as error:
        raise ValueError(
            "backend 'diffvg' needs pydiffvg (https://github.com/BachiLi/diffvg), which is not "
            "installed; use the default backend 'torch'"
        ) from error

    pydiffvg.set_use_gpu(scene.device.type == "cuda")
    height = max(1, round(scene.height * scale))
    width = max(1, round(scene.width * scale))
    images = []
    for canvas in range(scene.batch_size):
        shapes, groups = _diffvg_shapes(pydiffvg, scene, canvas, scale)
        arguments = pydiffvg.RenderFunction.serialize_scene(width, height, shapes, groups)
        image = pydiffvg.RenderFunction.apply(width, height, SAMPLES, SAMPLES, seed, None,
                                              *arguments)
        images.append(over(image.permute(2, 0, 1).to(scene.points),
                           scene.background[canvas, :, None, None]))
    return torch.stack(images)


def _diffvg_shapes(pydiffvg, scene: Scene, canvas: int, scale: float) -> tuple[list, list]:
    """One pydiffvg Path per sub-path, one ShapeGroup per (compound) shape."""
    shapes, groups, members = [], [], []
    count = scene.num_paths
    leader = 0
    for index in range(count):
        if index and bool(scene.compound[canvas, index] != scene.compound[canvas, index - 1]):
            leader = index
        segments = int(scene.num_segments[canvas, index])
        if segments:
            closed = bool(scene.closed[canvas, index])
            used = 3 * segments + (0 if closed else 1)
            members.append(len(shapes))
            shapes.append(pydiffvg.Path(
                num_control_points=torch.full((segments,), 2, dtype=torch.int32),
                points=scene.points[canvas, index, :used] * scale,
                stroke_width=scene.stroke_width[canvas, index] * (scale / 2),
                is_closed=closed,
            ))
        last_of_shape = index + 1 == count or bool(
            scene.compound[canvas, index + 1] != scene.compound[canvas, index])
        if last_of_shape and members:
            groups.append(pydiffvg.ShapeGroup(
                shape_ids=torch.tensor(members),
                fill_color=scene.fill_color[canvas, leader]
                if bool(scene.filled[canvas, leader]) else None,
                stroke_color=scene.stroke_color[canvas, leader]
                if bool(scene.stroked[canvas, leader]) else None,
                use_even_odd_rule=int(scene.fill_rule[canvas, leader]) == FillRule.EVENODD,
            ))
        if last_of_shape:
            members = []
    return shapes, groups

