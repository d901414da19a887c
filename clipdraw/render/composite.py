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

    Differentiable in ``alpha``, ``color`` and ``background``. The backward pass is written out
    (:class:`_Composite`) rather than recorded: it keeps only the inputs and the image, and
    recomputes the per-fragment transmittances, so that millions of fragments cost a few bytes
    each rather than the dozens that autograd would keep.

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

    Examples:
        Half-transparent red over opaque blue in the second of two pixels:

        >>> image = composite(torch.tensor([1, 1]), torch.tensor([1.0, 0.5]),
        ...                   torch.tensor([[0.0, 0, 1], [1, 0, 0]]), torch.zeros(1, 4), 1, 2)
        >>> image[0, :, 0, 1]
        tensor([0.5000, 0.0000, 0.5000, 1.0000])
        >>> image[0, :, 0, 0]  # no fragment: the transparent background
        tensor([0., 0., 0., 0.])
    """
    return _Composite.apply(pixel, alpha, color, background, height, width)


def _scan(pixel: Tensor, alpha: Tensor, count: int) -> tuple[Tensor, ...]:
    """Transmittance to each fragment through the fragments painted later in the same pixel.

    Returns ``total``, the sum of ``log(1 - alpha)`` over each pixel; ``transmit``, ``exp`` of
    that sum over each fragment's later ones (in ``alpha``'s dtype); and the stable sort by
    pixel the sums run over (``order``, the sorted pixel indices ``by_pixel``, and ``rising``:
    where, in that order, rounding made a sum of logs positive and the clamp to 0 cut it).

    The running sums are float64, which keeps their differences exact enough; work arrays are
    updated in place, as fragments may number tens of millions. Devices without float64 (Apple
    MPS) run this on the CPU.
    """
    scan = pixel.device if pixel.device.type != "mps" else torch.device("cpu")
    pixels = pixel.to(scan)
    clear = alpha.to(scan, torch.float64, copy=True).mul_(-_OPAQUE_LIMIT).log1p_()
    total = torch.zeros(count, dtype=torch.float64, device=scan).index_add_(0, pixels, clear)
    # 32-bit keys sort twice as fast.
    keys = pixels.int() if count <= torch.iinfo(torch.int32).max else pixels
    by_pixel, order = torch.sort(keys, stable=True)
    del keys
    running = clear.index_select(0, order).cumsum_(0)
    del clear
    # A pixel's fragments end where the running sum reaches the sum over all pixels up to it.
    later = torch.cumsum(total, 0).index_select(0, by_pixel).sub_(running)
    del running
    rising = later > 0
    sorted_transmit = later.clamp_(max=0).exp_().to(alpha.dtype)
    del later
    transmit = torch.empty_like(sorted_transmit).index_copy_(0, order, sorted_transmit)
    return total, transmit, order, by_pixel, rising


class _Composite(torch.autograd.Function):
    """:func:`composite` with its backward pass written out (see there)."""

    @staticmethod
    def forward(ctx, pixel: Tensor, alpha: Tensor, color: Tensor, background: Tensor,
                height: int, width: int) -> Tensor:
        batch = background.shape[0]
        count = batch * height * width
        dtype = alpha.dtype
        total, transmit, _, _, _ = _scan(pixel, alpha, count)
        contribution = alpha * transmit.to(alpha.device)

        paint = torch.zeros(count, 3, dtype=dtype, device=pixel.device)
        for channel in range(3):  # no (F, 3) temporary
            paint[:, channel].index_add_(0, pixel, color[:, channel] * contribution)
        cover = torch.zeros(count, dtype=dtype, device=pixel.device).index_add(0, pixel,
                                                                               contribution)
        through = torch.exp(total).to(alpha).view(batch, height * width)

        back_alpha = background[:, 3:4]
        out_alpha = cover.view(batch, -1) + back_alpha * through
        back_paint = background[:, None, :3] * back_alpha[:, None]
        out_paint = paint.view(batch, -1, 3) + back_paint * through[..., None]
        visible = out_alpha > 0
        straight = out_paint / torch.where(visible, out_alpha, 1.0)[..., None]
        straight = torch.where(visible[..., None], straight, 0.0)
        image = torch.cat([straight, out_alpha[..., None]], dim=-1)
        ctx.save_for_backward(pixel, alpha, color, background, image)
        return image.view(batch, height, width, 4).permute(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, grad: Tensor):
        pixel, alpha, color, background, image = ctx.saved_tensors
        batch, size = image.shape[0], image.shape[1]
        count = batch * size
        straight, out_alpha = image[..., :3], image[..., 3]
        grad = grad.permute(0, 2, 3, 1).reshape(batch, size, 4).to(alpha.dtype)
        grad_straight, grad_alpha = grad[..., :3], grad[..., 3]
        visible = out_alpha > 0
        shown = torch.where(visible, out_alpha, 1.0)
        # straight = out_paint / out_alpha where visible (else 0, with no gradient).
        grad_paint = torch.where(visible[..., None], grad_straight / shown[..., None], 0.0)
        grad_cover = grad_alpha - torch.where(
            visible, (grad_straight * straight).sum(-1) / shown, 0.0)

        total, transmit, order, by_pixel, rising = _scan(pixel, alpha, count)
        scan = total.device
        transmit = transmit.to(alpha.device)
        contribution = alpha * transmit
        through = torch.exp(total).to(alpha).view(batch, size)
        back_alpha = background[:, 3:4]

        grad_background = None
        if ctx.needs_input_grad[3]:
            paint_through = (grad_paint * through[..., None]).sum(1)  # (B, 3)
            grad_background = torch.cat([
                paint_through * back_alpha,
                (grad_cover * through).sum(1, keepdim=True)
                + (paint_through * background[:, :3]).sum(1, keepdim=True),
            ], dim=1)
        grad_paint = grad_paint.reshape(count, 3)
        grad_alpha_in = None
        if ctx.needs_input_grad[1]:
            # Gradient of each fragment's contribution alpha * transmit, channel by channel so
            # that no (F, 3) array is made.
            grad_contribution = grad_cover.reshape(count).index_select(0, pixel)
            for channel in range(3):
                grad_contribution += grad_paint[:, channel].index_select(0, pixel) \
                    * color[:, channel]
            back_paint = background[:, None, :3] * back_alpha[:, None]
            grad_through = grad_cover * back_alpha + (grad_paint.view(batch, size, 3)
                                                      * back_paint).sum(-1)
            grad_total = (grad_through * through).reshape(count).to(scan, torch.float64)
            # transmit = exp(later), later = cumsum(total)[by_pixel] - cumsum(clear[order]) in
            # sorted order, clamped at 0.
            grad_later = (grad_contribution * contribution).to(scan).index_select(0, order)
            grad_later = grad_later.to(torch.float64).masked_fill_(rising, 0.0)
            del rising
            grad_total += _reverse_cumsum(
                torch.zeros_like(grad_total).index_add_(0, by_pixel, grad_later))
            del by_pixel
            grad_clear = torch.empty_like(grad_later).index_copy_(
                0, order, _reverse_cumsum(grad_later).neg_())
            del grad_later, order
            grad_clear += grad_total.index_select(0, pixel.to(scan))
            # clear = log(1 - alpha * _OPAQUE_LIMIT)
            opacity = alpha.to(scan, torch.float64, copy=True).mul_(-_OPAQUE_LIMIT).add_(1)
            grad_clear.mul_(-_OPAQUE_LIMIT).div_(opacity)
            del opacity
            grad_alpha_in = grad_clear.to(alpha).add_(grad_contribution * transmit)
            del grad_clear, grad_contribution
        grad_color = None
        if ctx.needs_input_grad[2]:  # last: the largest array, (F, 3)
            grad_color = grad_paint.index_select(0, pixel).mul_(contribution[:, None])
        return None, grad_alpha_in, grad_color, grad_background, None, None


def _reverse_cumsum(values: Tensor) -> Tensor:
    """``out[i] = values[i:].sum()``: the backward pass of a cumulative sum; ``values`` is
    overwritten."""
    running = values.cumsum(0)
    return values.sub_(running).add_(running[-1:])
