"""One entry point for every rendering backend."""

from __future__ import annotations

import importlib.util

from torch import Tensor

from clipdraw.render.plan import RenderPlan
from clipdraw.scene import Scene

__all__ = ["RenderPlan", "available_backends", "render"]


def available_backends() -> list[str]:
    """Names of the backends usable here: ``"torch"`` always, ``"diffvg"`` when pydiffvg imports."""
    backends = ["torch"]
    if importlib.util.find_spec("pydiffvg") is not None:
        backends.append("diffvg")
    return backends


def render(
    scene: Scene,
    *,
    scale: float = 1.0,
    backend: str = "torch",
    compile: bool = False,
    plan: RenderPlan | None = None,
) -> Tensor:
    """Rasterise every canvas of ``scene``, differentiably in all its floating-point fields.

    Args:
        scene: the canvases to draw; validated first (``ValueError`` names a bad field).
        scale: pixels per SVG unit; ``4`` draws the same scene at four times the resolution.
        backend: ``"torch"`` (pure PyTorch, default) or ``"diffvg"`` (needs pydiffvg).
        compile: let :func:`torch.compile` fuse the renderer's elementwise stages (torch
            backend): about twice as fast per call on wide strokes, but the first call in a
            process compiles (about 30 s the first time on a machine, 5 s once torch has cached
            the kernels): worth it for an optimisation of hundreds of steps, not for one
            picture. Falls back to eager code, with a warning, where compilation fails.
        plan: capacities shared by the renders of one optimisation (torch backend), so that
            on a GPU they never wait for the device; see :class:`RenderPlan`. Check
            ``plan.fits()`` after each render and render again when it is ``False``.

    Returns:
        Straight-alpha sRGB RGBA images, the background composited underneath.

    Shape:
        - Output: :math:`(B, 4, H, W)`, ``H = round(height * scale)``, ``W = round(width * scale)``.
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    scene.validate(values=plan is None or not plan.measured or backend != "torch")
    if backend == "torch":
        from clipdraw.render.rasterise import rasterise

        return rasterise(scene, scale, compiled=compile, plan=plan)
    if backend == "diffvg":
        from clipdraw.render.diffvg_backend import rasterise_diffvg

        return rasterise_diffvg(scene, scale)
    raise ValueError(f"unknown backend {backend!r}; choose from {available_backends()}")
