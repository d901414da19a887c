"""Differentiable rasterisation of a :class:`~clipdraw.scene.Scene`."""

from __future__ import annotations

from clipdraw.render.api import available_backends, render
from clipdraw.render.plan import RenderPlan

__all__ = ["RenderPlan", "available_backends", "render"]
