"""Differentiable rasterisation of a :class:`~clipdraw.scene.Scene`.

The subpackage is itself callable: ``clipdraw.render(scene)`` is :func:`render`, so that the
function and the subpackage's other names (``clipdraw.render.RenderPlan``,
``clipdraw.render.RenderSettings``) share one name.

Examples:
    >>> import torch
    >>> import clipdraw
    >>> scene = clipdraw.Scene.create(torch.tensor([[[2.0, 8], [6, 2], [10, 14], [14, 8]]]),
    ...                               torch.tensor([1]), 16, 16, stroke_width=3.0,
    ...                               stroke_color=torch.tensor([0.0, 0, 0, 1]))
    >>> clipdraw.render(scene, scale=2).shape
    torch.Size([1, 4, 32, 32])
    >>> clipdraw.render.render is clipdraw.render.api.render
    True
"""

from __future__ import annotations

import inspect
import sys
import types

from clipdraw.render.api import available_backends, render
from clipdraw.render.composite import WHITE, over
from clipdraw.render.plan import RenderPlan
from clipdraw.render.settings import RenderSettings

__all__ = ["WHITE", "RenderPlan", "RenderSettings", "available_backends", "over", "render"]


class _CallableModule(types.ModuleType):
    """A module that calls :func:`render` when called."""

    __call__ = staticmethod(render)


sys.modules[__name__].__class__ = _CallableModule
__signature__ = inspect.signature(render)
