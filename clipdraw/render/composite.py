"""Source-over compositing: of two images (:func:`over`), and of the renderer's sparse
fragments in paint order over each canvas' background (:func:`composite`).

Convention:
    Colours are straight (non-premultiplied) RGBA in [0, 1]; a pixel of alpha 0 has colour 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["WHITE", "composite", "over"]

#: Opaque white, the background most images are shown and judged on.
WHITE = (1.0, 1.0, 1.0, 1.0)

# Scaling alpha by this keeps log(1 - alpha) finite for opaque paint, so that opaque strokes over
# each other still get finite gradients; the change it makes to a pixel is below 1e-6.
_OPAQUE_LIMIT = 1.0 - 1e-6


def over(top: Tensor, bottom: Tensor | Sequence[float], dim: int = -3) -> Tensor:
    """``top`` composited source-over ``bottom``, both straight-alpha RGBA, differentiably.

    This is the one compositing formula of the package: the renderer's fragments
    (:func:`composite`) follow it pixel by pixel, and images are shown or judged over a
    background with it.

    Args:
        top: straight RGBA with its channels along ``dim``.
        bottom: straight RGBA broadcastable to ``top`` (channels along the same ``dim``), or
            one colour ``(r, g, b, a)`` of numbers for every pixel. An opaque colour of
            numbers gives alpha exactly 1 and colour exactly ``rgb * a + bottom * (1 - a)``.
        dim: the channel dimension.

    Returns:
        Straight RGBA, the shape of ``top`` broadcast with ``bottom``.

    Shape:
        - top: :math:`(..., 4, H, W)` for ``dim=-3``; :math:`(..., 4)` for ``dim=-1``
        - Output: like ``top``

    Examples:
        >>> import torch
        >>> red = torch.tensor([1.0, 0.0, 0.0, 0.5])
        >>> over(red, WHITE, dim=-1)
        tensor([1.0000, 0.5000, 0.5000, 1.0000])
        >>> over(red, torch.tensor([0.0, 0.0, 1.0, 0.5]), dim=-1)
        tensor([0.6667, 0.0000, 0.3333, 0.7500])
        >>> over(torch.zeros(1, 4, 2, 2), WHITE).shape
        torch.Size([1, 4, 2, 2])
    """
    rgb, alpha = top.split([3, 1], dim)
    if not isinstance(bottom, Tensor):
        shape = [1] * top.dim()
        shape[dim] = 4
        colour = torch.tensor(bottom, dtype=top.dtype, device=top.device).view(shape)
        if float(bottom[3]) == 1:
            paint = rgb * alpha + colour.narrow(dim, 0, 3) * (1 - alpha)
            return torch.cat([paint, torch.ones_like(alpha)], dim)
        bottom = colour
    bottom_rgb, bottom_alpha = bottom.split([3, 1], dim)
    under = bottom_alpha * (1 - alpha)
    total = alpha + under
    paint = rgb * alpha + bottom_rgb * under
    straight = paint / torch.where(total > 0, total, torch.ones_like(total))
    return torch.cat([torch.where(total > 0, straight, torch.zeros_like(straight)), total], dim)


def composite(
    pixel: Tensor, alpha: Tensor, color: Tensor, background: Tensor, height: int, width: int
) -> Tensor:
    """Composite fragments source-over, each pixel's fragments in the order they are given.

    Args:
        pixel: flat pixel index ``(b * height + y) * width + x`` of each fragment.
        alpha: effective opacity of each fragment (paint alpha times coverage).
        color: straight RGB of each fragment.
        background: straight RGBA background of each canvas.
        height: canvas height in pixels.
        width: canvas width in pixels.

    Returns:
        Straight-alpha RGBA images.

    Shape:
        - pixel, alpha: :math:`(F,)`
        - color: :math:`(F, 3)`
        - background: :math:`(B, 4)`
        - Output: :math:`(B, 4, H, W)`
    """
    batch = background.shape[0]
    count = batch * height * width
    dtype = alpha.dtype
    # Transmittance through the fragments painted later in the same pixel, from sums of
    # log(1 - alpha) over the fragments sorted by pixel (stably, so in paint order within each);
    # float64 keeps the differences of the running sums exact enough. Devices without float64
    # (Apple MPS) run this scan on the CPU.
    scan = pixel.device if pixel.device.type != "mps" else torch.device("cpu")
    pixels = pixel.to(scan)
    clear = torch.log1p(-alpha.to(scan, torch.float64) * _OPAQUE_LIMIT)
    total = torch.zeros(count, dtype=torch.float64, device=scan).index_add(0, pixels, clear)
    # 32-bit keys sort twice as fast.
    keys = pixels.int() if count <= torch.iinfo(torch.int32).max else pixels
    by_pixel, order = torch.sort(keys, stable=True)
    # index_select rather than indexing: its backward is a plain index_add, where indexing's
    # accumulating index_put sorts a million indices first.
    running = torch.cumsum(clear.index_select(0, order), 0)
    # A pixel's fragments end where the running sum reaches the sum over all pixels up to it.
    later = (torch.cumsum(total, 0).index_select(0, by_pixel) - running).clamp(max=0)
    later = torch.zeros_like(later).index_copy(0, order, later)
    contribution = alpha * torch.exp(later).to(alpha)

    paint = torch.zeros(count, 3, dtype=dtype, device=pixel.device)
    paint = paint.index_add(0, pixel, color * contribution[:, None])
    cover = torch.zeros(count, dtype=dtype, device=pixel.device).index_add(0, pixel, contribution)
    through = torch.exp(total).to(alpha).view(batch, height * width)

    back_alpha = background[:, 3:4]
    out_alpha = cover.view(batch, -1) + back_alpha * through
    back_paint = background[:, None, :3] * back_alpha[:, None]
    out_paint = paint.view(batch, -1, 3) + back_paint * through[..., None]
    visible = out_alpha > 0
    straight = out_paint / torch.where(visible, out_alpha, 1.0)[..., None]
    straight = torch.where(visible[..., None], straight, 0.0)
    image = torch.cat([straight, out_alpha[..., None]], dim=-1)
    return image.view(batch, height, width, 4).permute(0, 3, 1, 2)
