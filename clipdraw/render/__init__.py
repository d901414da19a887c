"""Differentiable rasterisation of a :class:`~clipdraw.scene.Scene`."""

from __future__ import annotations

from clipdraw.render.api import available_backends, render

__all__ = ["available_backends", "render"]
