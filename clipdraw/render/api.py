"""One entry point for every rendering backend."""

from __future__ import annotations

import importlib.util

from torch import Tensor

from clipdraw.render.plan import RenderPlan
from clipdraw.render.settings import RenderSettings
from clipdraw.scene import Scene

__all__ = ["available_backends", "render"]


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
    settings: RenderSettings | None = None,
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
            picture. Compiled kernels round differently from eager ones and from run to run,
            so optimisations turn it on by themselves on CUDA only. Falls back to eager code,
            with a warning, where compilation fails.
        plan: capacities shared by the renders of one optimisation (torch backend), so that
            on a GPU they never wait for the device; see :class:`RenderPlan`. Check
            ``plan.fits()`` after each render and render again when it is ``False``.
        settings: the torch renderer's tuning constants; the defaults when ``None``.

    Returns:
        Straight-alpha sRGB RGBA images, the background composited underneath.

    Shape:
        - Output: :math:`(B, 4, H, W)`, ``H = round(height * scale)``, ``W = round(width * scale)``.

    Convention:
        Pixel centres sit at +0.5 (at scale 1 the pixel ``(x, y)`` covers ``[x, x + 1] x
        [y, y + 1]`` in SVG units); stroke widths are full SVG widths; colours are straight
        (non-premultiplied) alpha. Each pixel's colour is its exact box-filtered coverage.

    Examples:
        A red butt-capped stroke from (1, 2) to (4, 2), 2 units wide, covers the 3 x 2 pixels
        of ``[1, 4] x [1, 3]`` exactly; half as wide, it half covers them:

        >>> import torch
        >>> from clipdraw import LineCap, Scene, render
        >>> line = torch.tensor([[[1.0, 2], [2, 2], [3, 2], [4, 2]]])
        >>> scene = Scene.create(line, torch.tensor([1]), 5, 4, stroke_width=2.0,
        ...                      stroke_color=torch.tensor([1.0, 0, 0, 1]), linecap=LineCap.BUTT)
        >>> image = render(scene)
        >>> image.shape
        torch.Size([1, 4, 4, 5])
        >>> image[0, 1].round(decimals=3)  # green: 0 where the red stroke covers the pixel
        tensor([[1., 1., 1., 1., 1.],
                [1., 0., 0., 0., 1.],
                [1., 0., 0., 0., 1.],
                [1., 1., 1., 1., 1.]])
        >>> thinner = render(scene.replace(stroke_width=torch.tensor([[1.0]])))
        >>> thinner[0, 1, 1:3, 2].round(decimals=3)
        tensor([0.5000, 0.5000])
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    scene.validate(values=plan is None or not plan.measured or backend != "torch")
    if backend == "torch":
        from clipdraw.render.rasterise import rasterise

        return rasterise(scene, scale, compile=compile, plan=plan,
                         settings=RenderSettings() if settings is None else settings)
    if backend == "diffvg":
        from clipdraw.render.diffvg_backend import rasterise_diffvg

        return rasterise_diffvg(scene, scale)
    raise ValueError(f"unknown backend {backend!r}; choose from {available_backends()}")
