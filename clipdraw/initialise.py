"""Random starting scenes (CLIPDraw's strokes or closed blobs), drawn from a ``torch.Generator``.

Convention:
    Every random number is drawn on the CPU in float64 from the drawing's own generator, then
    converted, so a seed gives the same scene on every device and in every batch.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from clipdraw.scene import Scene
from clipdraw.settings import DrawSettings

__all__ = ["append_paths", "random_scene"]


def random_scene(
    settings: DrawSettings,
    generator: torch.Generator,
    *,
    paths: int | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Scene:
    """``paths`` random strokes or blobs (default ``settings.paths``) on one canvas.

    Strokes (CLIPDraw): ``randint(min_segments, max_segments)`` cubic segments started at a
    uniform random point, each control point stepping by ``init_radius * canvas * (rand - 0.5)``
    from the previous one; width ``stroke_width``; random RGBA stroke colour.
    Blobs: closed paths of ``min_segments..max_segments`` segments whose control points lie on a
    jittered circle of radius ``init_radius * canvas`` around a uniform random centre; random RGBA
    fill, no stroke.

    Shape:
        - Output: a :class:`Scene` with B = 1, N = ``paths``, P = ``3 * max_segments + 1``.
    """
    s = settings.resolved()
    count = s.paths if paths is None else paths
    lo, hi = s.min_segments, s.max_segments
    slots = 3 * hi + 1
    f64 = torch.float64
    segments = torch.randint(lo, hi + 1, (count,), generator=generator)
    start = torch.rand(count, 1, 2, generator=generator, dtype=f64)
    size = torch.tensor([s.width, s.height], dtype=f64)
    if s.shape == "blobs":
        jitter = torch.rand(count, slots, 2, generator=generator, dtype=f64)
        color = torch.rand(count, 4, generator=generator, dtype=f64)
        index = torch.arange(slots, dtype=f64)
        angle = 2 * math.pi * index / (3 * segments.unsqueeze(1).to(f64))  # (N, P)
        circle = torch.stack([angle.cos(), angle.sin()], dim=-1)
        radius = s.init_radius * (0.75 + 0.5 * jitter)
        points = start + radius * circle
        used = index < 3 * segments.unsqueeze(1)
        closed, stroke_color, fill_color = True, None, color
    else:
        steps = torch.rand(count, slots - 1, 2, generator=generator, dtype=f64) - 0.5
        color = torch.rand(count, 4, generator=generator, dtype=f64)
        walk = torch.cat([torch.zeros(count, 1, 2, dtype=f64), steps.cumsum(1)], dim=1)
        points = start + s.init_radius * walk
        used = torch.arange(slots) < 3 * segments.unsqueeze(1) + 1
        closed, stroke_color, fill_color = False, color, None
    points = torch.where(used.unsqueeze(-1), points * size, torch.zeros((), dtype=f64))

    def convert(tensor: Tensor | None) -> Tensor | None:
        return None if tensor is None else tensor.to(device=device, dtype=dtype)

    return Scene.create(
        convert(points),
        segments.to(device),
        s.width,
        s.height,
        stroke_width=s.stroke_width,
        stroke_color=convert(stroke_color),
        fill_color=convert(fill_color),
        closed=closed,
        background=s.background,
    )


def append_paths(first: Scene, second: Scene) -> Scene:
    """Paths of ``second`` painted after those of ``first`` (same canvas and batch size).

    Shape:
        - Output: :math:`(B, N_1 + N_2, \\max(P_1, P_2), 2)` points.
    """
    if (first.width, first.height) != (second.width, second.height):
        raise ValueError("scenes must share the canvas size")
    slots = max(first.points.shape[2], second.points.shape[2])

    def pad_points(points: Tensor) -> Tensor:
        return torch.nn.functional.pad(points, (0, 0, 0, slots - points.shape[2]))

    offset = first.compound.amax(dim=1, keepdim=True) + 1 if first.num_paths else 0
    joined = {}
    for name in ("num_segments", "closed", "stroke_width", "stroke_color", "fill_color",
                 "stroked", "filled", "fill_rule", "linecap",
                 "linejoin", "miter_limit"):
        joined[name] = torch.cat([getattr(first, name), getattr(second, name)], dim=1)
    return first.replace(
        points=torch.cat([pad_points(first.points), pad_points(second.points)], dim=1),
        compound=torch.cat([first.compound, second.compound - second.compound[:, :1] + offset],
                           dim=1),
        **joined,
    )
