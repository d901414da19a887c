"""Paths that contribute nothing visible: found by rendering, dropped at export.

A path is invisible when removing it changes no pixel by more than a tolerance (0.5/255 by
default): its alpha is about 0, it lies off the canvas, or the paths above it cover it fully.
:func:`visible_change` measures, for every path at once, the largest change its removal makes,
from one render of each shape alone: source-over compositing is affine in each layer, so
removing layer ``g`` changes the premultiplied image by
``T_{g+1} * (p_g - a_g * P_{g-1})``, where ``p_g, a_g`` are the layer's premultiplied colour and
alpha, ``P_{g-1}`` the premultiplied image below it and ``T_{g+1}`` the transmittance
``prod_{j > g} (1 - a_j)`` of the layers above. :func:`prune` then drops the invisible paths
and checks the result against a render of the whole drawing.

Convention:
    Changes are measured at render scale 1 on premultiplied RGBA (what any background shows).
    The paths of one compound shape (one SVG ``<path>``) are kept or dropped together.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from clipdraw.render import render
from clipdraw.scene import Scene

__all__ = ["PruneResult", "PruneSettings", "invisible_paths", "prune", "select_paths",
           "shape_index", "visible_change"]


@dataclass(frozen=True)
class PruneSettings:
    """The tolerances of :func:`prune` and how many shapes are rendered at once.

    Args:
        tolerance: a path is invisible when its removal changes no premultiplied channel of any
            pixel by more than this.
        total_tolerance: the pruned drawing must render within this of the whole one (else
            paths are dropped one at a time, each only if the result stays within it).
        pixels_per_chunk: shapes are rendered alone, as many at once as fit this many pixels.
    """

    tolerance: float = 0.5 / 255
    total_tolerance: float = 0.9 / 255
    pixels_per_chunk: int = 2**22


@dataclass(frozen=True)
class PruneResult:
    """What :func:`prune` gives.

    Args:
        scene: the drawing without its invisible paths.
        kept: which paths of the original remain.
        removed: how many paths were dropped.
        max_change: the largest change of any premultiplied channel of any pixel (render
            scale 1) between the original and the pruned drawing.

    Shape:
        - kept: :math:`(N,)` bool
    """

    scene: Scene
    kept: Tensor
    removed: int
    max_change: float


def shape_index(compound: Tensor) -> Tensor:
    """0-based index of each path's compound shape (consecutive equal ``compound`` values).

    Shape:
        - compound: :math:`(N,)`
        - Output: :math:`(N,)` long

    >>> shape_index(torch.tensor([0, 1, 1, 4]))
    tensor([0, 1, 1, 2])
    """
    change = torch.ones_like(compound, dtype=torch.long)
    if len(compound):
        change[0] = 0
        change[1:] = (compound[1:] != compound[:-1]).long()
    return change.cumsum(0)


def _per_path_fields(scene: Scene) -> dict[str, Tensor]:
    return {name: value for name, value in vars(scene).items()
            if isinstance(value, Tensor) and name != "background"}


def select_paths(scene: Scene, kept: Tensor) -> Scene:
    """Canvas 0 of ``scene`` with only the paths where ``kept`` is true, in order.

    Shape:
        - kept: :math:`(N,)` bool
    """
    scene = scene[0]
    return scene.replace(**{name: value[:, kept] for name, value in
                            _per_path_fields(scene).items()})


def _shapes_alone(scene: Scene, shapes: Tensor, first: int, count: int) -> Scene:
    """Shapes ``first .. first + count - 1`` of canvas 0, each alone on a transparent canvas."""
    members = [(shapes == g).nonzero()[:, 0] for g in range(first, first + count)]
    size = max(len(m) for m in members)
    index = torch.stack([torch.nn.functional.pad(m, (0, size - len(m)), value=-1)
                         for m in members])  # (C, M), -1: padding
    valid = index >= 0
    index = index.clamp_min(0)
    fields = {name: value[0][index] for name, value in _per_path_fields(scene).items()}
    fields["num_segments"] = torch.where(valid, fields["num_segments"], 0)
    fields["compound"] = torch.where(valid, 0, torch.arange(size, device=index.device))
    return scene.replace(background=scene.background.new_zeros(count, 4), **fields)


def _premultiplied(image: Tensor) -> Tensor:
    return torch.cat([image[:, :3] * image[:, 3:], image[:, 3:]], dim=1)


@torch.no_grad()
def visible_change(scene: Scene, settings: PruneSettings | None = None) -> Tensor:
    """For every path of canvas 0, the largest change of any premultiplied channel of any pixel
    that removing its compound shape would make (at render scale 1).

    Shape:
        - Output: :math:`(N,)`, the dtype of ``scene``

    Example:
        >>> from clipdraw import LineCap, Scene
        >>> line = torch.tensor([[[2.0, 4], [4, 4], [6, 4], [8, 4]]] * 3)
        >>> colours = torch.tensor([[1.0, 0, 0, 1], [0, 0, 1, 0], [0, 0, 0, 1]])
        >>> scene = Scene.create(line, torch.tensor([1, 1, 1]), 10, 8, stroke_width=2.0,
        ...                      stroke_color=colours, linecap=LineCap.BUTT)
        >>> visible_change(scene).round(decimals=4)  # red under black, clear blue, black on top
        tensor([0., 0., 1.])
    """
    settings = settings or PruneSettings()
    scene = scene[0].detach()
    shapes = shape_index(scene.compound[0])
    total = int(shapes[-1]) + 1 if len(shapes) else 0
    chunk = max(1, settings.pixels_per_chunk // (scene.width * scene.height))
    below = _premultiplied(scene.background[:, :, None, None].expand(
        1, 4, scene.height, scene.width))[0].clone()  # (4, H, W): P_{g-1}
    crops: list[tuple[tuple[slice, slice], Tensor, Tensor]] = []
    for first in range(0, total, chunk):
        count = min(chunk, total - first)
        layers = _premultiplied(render(_shapes_alone(scene, shapes, first, count)))
        for layer in layers:
            alpha = layer[3]
            rows, cols = (alpha > 0).any(1).nonzero()[:, 0], (alpha > 0).any(0).nonzero()[:, 0]
            if not len(rows):
                crops.append(((slice(0, 0), slice(0, 0)), layer[:, :0, :0], alpha[:0, :0]))
                continue
            box = (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))
            paint, cover = layer[:, box[0], box[1]], alpha[box]
            crops.append((box, paint - cover * below[:, box[0], box[1]], cover))
            below[:, box[0], box[1]] = paint + (1 - cover) * below[:, box[0], box[1]]
    through = torch.ones(scene.height, scene.width, dtype=below.dtype, device=below.device)
    change = below.new_zeros(total)
    for g in range(total - 1, -1, -1):  # top down: `through` is T_{g+1}
        box, difference, cover = crops[g]
        if difference.numel():
            change[g] = (through[box] * difference).abs().amax()
            through[box] *= 1 - cover
    return change[shapes]


def invisible_paths(scene: Scene, settings: PruneSettings | None = None) -> Tensor:
    """Which paths change no pixel by more than ``settings.tolerance``, per canvas.

    Shape:
        - Output: :math:`(B, N)` bool
    """
    settings = settings or PruneSettings()
    return torch.stack([visible_change(scene[b], settings) <= settings.tolerance
                        for b in range(scene.batch_size)])


def _max_change(reference: Tensor, scene: Scene) -> float:
    with torch.no_grad():
        return float((_premultiplied(render(scene)) - reference).abs().amax())


def prune(scene: Scene, settings: PruneSettings | None = None) -> PruneResult:
    """Canvas 0 of ``scene`` without the paths that contribute nothing visible.

    Drops every path :func:`visible_change` finds invisible, then checks that the pruned
    drawing renders within ``settings.total_tolerance`` of the whole one; where the small
    changes add up to more, the invisible paths are instead dropped one at a time, least
    visible first, each only if the drawing stays within it.

    Example:
        >>> from clipdraw import LineCap, Scene
        >>> line = torch.tensor([[[2.0, 4], [4, 4], [6, 4], [8, 4]]] * 2)
        >>> scene = Scene.create(line, torch.tensor([1, 1]), 10, 8, stroke_width=2.0,
        ...                      stroke_color=torch.tensor([[1.0, 0, 0, 1], [0, 0, 0, 1]]),
        ...                      linecap=LineCap.BUTT)
        >>> result = prune(scene)
        >>> result.removed, result.kept.tolist(), result.scene.num_paths
        (1, [False, True], 1)
    """
    settings = settings or PruneSettings()
    scene = scene[0].detach()
    with torch.no_grad():
        reference = _premultiplied(render(scene))
    change = visible_change(scene, settings)
    invisible = change <= settings.tolerance
    kept = ~invisible
    worst = _max_change(reference, select_paths(scene, kept)) if invisible.any() else 0.0
    if worst > settings.total_tolerance:
        kept = torch.ones_like(invisible)
        worst = 0.0
        for n in sorted(invisible.nonzero()[:, 0].tolist(), key=lambda n: float(change[n])):
            trial = kept.clone()
            trial[shape_index(scene.compound[0]) == shape_index(scene.compound[0])[n]] = False
            difference = _max_change(reference, select_paths(scene, trial))
            if difference <= settings.total_tolerance:
                kept, worst = trial, difference
    return PruneResult(select_paths(scene, kept), kept, int((~kept).sum()), worst)
