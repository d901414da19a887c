"""clipdraw: text prompt -> editable vector drawing, with a pure-PyTorch differentiable renderer.

The pipeline, one module each: :mod:`~clipdraw.scene` (the drawing as tensors) ->
:mod:`~clipdraw.render` (differentiable rasteriser) -> :mod:`~clipdraw.augment` (kornia) ->
:mod:`~clipdraw.objectives` (CLIP and pixel losses, models from :mod:`~clipdraw.models`) ->
:mod:`~clipdraw.optimise` (the loop) -> :mod:`~clipdraw.svg` / :mod:`~clipdraw.io` (SVG and
PNG out). :mod:`~clipdraw.drawing` ties them together; :mod:`~clipdraw.batch` runs many.

>>> import clipdraw  # doctest: +SKIP
>>> drawing = clipdraw.draw("a watercolor painting of a submarine", seed=1)  # doctest: +SKIP
>>> drawing.save("submarine.svg")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

from clipdraw import render  # the subpackage, callable as its function render()
from clipdraw._version import __version__
from clipdraw.scene import FillRule, LineCap, Scene

# Heavy names (open_clip, kornia) load on first use, so `import clipdraw` and the CLI stay quick.
_LAZY = {
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

__all__ = ["FillRule", "LineCap", "Scene", "__version__", "render", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'clipdraw' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
