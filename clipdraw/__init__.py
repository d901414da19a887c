"""clipdraw: text prompt -> editable vector drawing, with a pure-PyTorch differentiable renderer."""

from clipdraw._version import __version__
from clipdraw.render import render
from clipdraw.scene import FillRule, LineCap, Scene

__all__ = ["FillRule", "LineCap", "Scene", "__version__", "render"]
