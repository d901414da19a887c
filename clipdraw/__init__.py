"""clipdraw: text prompt -> editable vector drawing, with a pure-PyTorch differentiable renderer.

The pipeline, one module each: :mod:`~clipdraw.scene` (the drawing as tensors) ->
:mod:`~clipdraw.render` (differentiable rasteriser) -> :mod:`~clipdraw.augment` (kornia) ->
:mod:`~clipdraw.objectives` (CLIP and pixel losses, models from :mod:`~clipdraw.models`) ->
:mod:`~clipdraw.optimise` (the loop) -> :mod:`~clipdraw.svg` / :mod:`~clipdraw.io` (SVG and
PNG out). :mod:`~clipdraw.drawing` ties them together; :mod:`~clipdraw.batch` runs many.

Drawing needs CLIP weights (downloaded on first use), so this example does not run here:

>>> import clipdraw
>>> drawing = clipdraw.draw("a watercolor painting of a submarine", seed=1)  # doctest: +SKIP
>>> drawing.save("submarine.svg")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

from clipdraw._version import __version__

# Every name loads on first use (torch, open_clip, kornia), so `import clipdraw` is instant and
# `clipdraw --help` prints without importing torch.
_SUBPACKAGES = {"render"}  # clipdraw.render: the subpackage, callable as its function render()
_LAZY = {
    "FillRule": "clipdraw.scene",
    "LineCap": "clipdraw.scene",
    "LineJoin": "clipdraw.scene",
    "Scene": "clipdraw.scene",
    "Drawing": "clipdraw.drawing",
    "draw": "clipdraw.drawing",
    "draw_batch": "clipdraw.drawing",
    "DrawSettings": "clipdraw.settings",
    "load_clip": "clipdraw.models",
    "shipped_models": "clipdraw.models",
    "ModelLoadError": "clipdraw.models",
    "load_svg": "clipdraw.svg",
    "save_svg": "clipdraw.svg",
    "scene_to_svg": "clipdraw.svg",
    "read_svg_metadata": "clipdraw.svg",
    "SvgImportError": "clipdraw.svg",
    "read_rows": "clipdraw.batch",
    "run_batch": "clipdraw.batch",
}

__all__ = ["__version__", "render", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"clipdraw.{name}")
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'clipdraw' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
