"""CLIPDraw's augmentations, every view of every canvas in one batched kornia warp.

CLIPDraw applies ``RandomPerspective(distortion_scale=0.5, p=1, fill=white)`` then
``RandomResizedCrop(size, scale=(0.7, 0.9))``. Its notebook, which made the paper's figures, then
feeds the views to CLIP as they are ("we don't normalize... but really you should"); clipdraw
normalises them by the model's mean and std unless told not to (``--no-normalize``). Both
geometric steps are homographies, so they are composed into one matrix per view and applied by
one :func:`kornia.geometry.transform.warp_perspective` call (one bilinear resampling instead of
two). Canvases larger than the model's input are area-averaged first (``antialias``), since one
bilinear sample per view pixel would skip most of their pixels.
The parameters are sampled with each drawing's own ``torch.Generator`` by the rules of kornia's
``PerspectiveGenerator`` (``"basic"``) and ``ResizedCropGenerator``, in their order (the tests
compare them with kornia's generators draw for draw), so a drawing sees the same views whether it
is optimised alone or in a batch, and a seed gives the same views on every run.

Convention:
    Pixel ``(i, j)`` has its centre at ``(j, i)`` for the warp (kornia's ``align_corners=True``
    convention); corner points of an image of width W are ``0`` and ``W - 1``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from kornia.enhance import normalize
from kornia.geometry.transform import get_perspective_transform, warp_perspective
from torch import Tensor

__all__ = ["augment", "prefilter_factors", "sample_views"]


def _box(x: Tensor, y: Tensor, width: Tensor, height: Tensor) -> Tensor:
    """Corner points (top-left, top-right, bottom-right, bottom-left) of boxes whose first pixel
    is ``(x, y)``: kornia's ``bbox_generator``.

    Shape:
        - x, y, width, height: :math:`(N,)`
        - Output: :math:`(N, 4, 2)`
    """
    right, bottom = x + width - 1, y + height - 1
    return torch.stack([torch.stack([x, y], -1), torch.stack([right, y], -1),
                        torch.stack([right, bottom], -1), torch.stack([x, bottom], -1)], dim=1)


def _end_and_extent(size: int) -> tuple[int, int]:
    """Last pixel of a side and the extent its distortion scales: ``(size - 1, size)``; a side
    of one pixel keeps a unit end and no distortion (kornia's rule)."""
    return (1, 0) if size == 1 else (size - 1, size)


def sample_views(
    generator: torch.Generator,
    count: int,
    height: int,
    width: int,
    size: tuple[int, int],
    *,
    distortion: float = 0.5,
    crop_scale: tuple[float, float] = (0.7, 0.9),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> Tensor:
    """Homographies mapping a ``height`` x ``width`` canvas to ``count`` augmented views.

    Each is a random perspective distortion followed by a random resized crop to ``size``
    (``(h, w)``), sampled from ``generator`` on the CPU in float64 by kornia's own rules, in
    kornia's order: ``PerspectiveGenerator`` (``"basic"``: each corner moves inwards by up to
    ``distortion * W / 2`` and ``distortion * H / 2``), then ``ResizedCropGenerator`` (ten
    candidate whole-pixel crop sizes from the area and log-ratio ranges, the first that fits,
    else the whole canvas; a whole-pixel start). With the global generator seeded as
    ``generator`` is and kornia's generators set to float64, kornia draws the same views.

    Shape:
        - Output: :math:`(count, 3, 3)` float64.

    Example:
        >>> views = sample_views(torch.Generator().manual_seed(0), 4, 64, 64, (32, 32))
        >>> views.shape, views.dtype
        (torch.Size([4, 3, 3]), torch.float64)
    """
    f64 = torch.float64
    x_end, x_extent = _end_and_extent(width)
    y_end, y_extent = _end_and_extent(height)
    start = torch.tensor([[[0, 0], [x_end, 0], [x_end, y_end], [0, y_end]]], dtype=f64)
    start = start.expand(count, 4, 2)
    distortion_t = torch.tensor(distortion, dtype=f64)
    factor = torch.stack([distortion_t * x_extent / 2, distortion_t * y_extent / 2]).view(1, 1, 2)
    inwards = torch.tensor([[[1, 1], [-1, 1], [-1, -1], [1, -1]]], dtype=f64)
    offset = factor * torch.rand(count, 4, 2, generator=generator, dtype=f64) * inwards
    perspective = get_perspective_transform(start, start + offset)

    scale_t = torch.tensor(crop_scale, dtype=f64)
    log_ratio = torch.log(torch.tensor(ratio, dtype=f64))
    area = (torch.rand(count, 10, generator=generator, dtype=f64) * (scale_t[1] - scale_t[0])
            + scale_t[0]) * height * width
    aspect = torch.exp(log_ratio[0] + torch.rand(count, 10, generator=generator, dtype=f64)
                       * (log_ratio[1] - log_ratio[0]))
    crop_w = torch.sqrt(area * aspect).round().floor()
    crop_h = torch.sqrt(area / aspect).round().floor()
    fits = (crop_w > 0) & (crop_w <= width) & (crop_h > 0) & (crop_h <= height)
    found, first = ((fits.cumsum(1) == 1) & fits).int().max(1)
    rows = torch.arange(count)
    fallback_h, fallback_w = _whole_canvas_crop(height, width, ratio)
    crop_h = torch.where(found.bool(), crop_h[rows, first], fallback_h).clamp(1, height)
    crop_w = torch.where(found.bool(), crop_w[rows, first], fallback_w).clamp(1, width)
    x_draw = torch.rand(count, generator=generator, dtype=f64)
    y_draw = torch.rand(count, generator=generator, dtype=f64)
    x0 = (x_draw * (width - crop_w + 1).clamp(min=0)).floor()
    y0 = (y_draw * (height - crop_h + 1).clamp(min=0)).floor()
    zero = torch.zeros(count, dtype=f64)
    out = _box(zero, zero, zero + size[1], zero + size[0])
    crop = get_perspective_transform(_box(x0, y0, crop_w, crop_h), out)
    return crop @ perspective


def _whole_canvas_crop(height: int, width: int, ratio: tuple[float, float]) -> tuple[float, float]:
    """The crop size when no candidate fits: the canvas, cut to the nearest allowed ratio."""
    aspect = width / height
    if aspect < min(ratio):
        return float(math.floor(round(width / min(ratio)))), float(width)
    if aspect > max(ratio):
        return float(height), float(math.floor(round(height * max(ratio))))
    return float(height), float(width)


def prefilter_factors(canvas: tuple[int, int], size: tuple[int, int]) -> tuple[int, int]:
    """Whole-pixel area-averaging factors ``(ky, kx)`` that bring a ``canvas`` ``(H, W)`` close
    to the model's input ``size`` ``(h, w)``: ``max(1, round(H / h))`` and the same across.

    A view then steps about one averaged pixel per view pixel (up to two where the perspective
    stretches it), so its bilinear samples reach every averaged pixel and, through the average,
    every canvas pixel; a canvas no larger than about 1.5 times the input is left as it is.

    Example:
        >>> prefilter_factors((224, 224), (224, 224)), prefilter_factors((1024, 512), (224, 224))
        ((1, 1), (5, 2))
    """
    return tuple(max(1, round(side / out)) for side, out in zip(canvas, size))  # type: ignore


def augment(
    images: Tensor,
    views: Tensor,
    size: tuple[int, int],
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    *,
    fill: float = 1.0,
    antialias: bool = False,
) -> Tensor:
    """Warp each image to its views, fill outside with ``fill`` and normalise, in one call.

    With ``antialias``, a canvas larger than ``size`` is first area-averaged by whole-pixel
    factors (:func:`prefilter_factors`; the canvas padded with ``fill`` to a multiple of them)
    and the views are warped from the averaged image: a prefilter for the downscaling, so that
    thin strokes do not alias and every canvas pixel receives gradient. Where the factors are 1
    the result is the unfiltered warp, bit for bit.

    Args:
        images: RGB canvases in [0, 1].
        views: homographies from :func:`sample_views`, ``A`` per canvas, canvas-major.
        size: output ``(h, w)`` (the CLIP model's input size).
        mean, std: the model's normalisation; ``None``: none (views in [0, 1]).
        fill: value of pixels that come from outside the canvas (CLIPDraw: white).
        antialias: prefilter canvases larger than ``size``.

    Shape:
        - images: :math:`(B, 3, H, W)`
        - views: :math:`(B \\cdot A, 3, 3)`
        - Output: :math:`(B \\cdot A, 3, h, w)`

    Example:
        >>> canvas = torch.zeros(1, 3, 64, 64)
        >>> canvas[..., ::2] = 1  # one-pixel stripes, finer than the views' pixels
        >>> views = sample_views(torch.Generator().manual_seed(0), 2, 64, 64, (16, 16))
        >>> sharp = augment(canvas, views, (16, 16))
        >>> smooth = augment(canvas, views, (16, 16), antialias=True)
        >>> centre = (..., slice(6, 10), slice(6, 10))  # inside the canvas in every view
        >>> bool(sharp[centre].std() > 0.2), bool((smooth[centre] - 0.5).abs().max() < 1e-6)
        (True, True)
    """
    repeats = views.shape[0] // images.shape[0]
    source = images - fill
    homographies = views.to(images)
    factors = prefilter_factors(tuple(images.shape[-2:]), size) if antialias else (1, 1)
    if factors != (1, 1):
        source, to_canvas = _area_average(source, factors)
        homographies = (views @ to_canvas.to(views)).to(images)
    source = source.repeat_interleave(repeats, dim=0)
    warped = warp_perspective(
        source, homographies, size, mode="bilinear", padding_mode="zeros", align_corners=True
    ) + fill
    if mean is None or std is None:
        return warped
    mean_t = torch.as_tensor(mean, device=images.device, dtype=images.dtype)
    std_t = torch.as_tensor(std, device=images.device, dtype=images.dtype)
    return normalize(warped, mean_t, std_t)


def _area_average(source: Tensor, factors: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """``source`` averaged over ``ky`` x ``kx`` blocks (zero-padded at the bottom and right to
    whole blocks), and the homography from averaged pixels to canvas pixels.

    Convention:
        Averaged pixel ``(i, j)`` covers canvas pixels ``ky i .. ky i + ky - 1`` (and across),
        so its centre is canvas point ``(kx j + (kx - 1) / 2, ky i + (ky - 1) / 2)``.

    Shape:
        - source: :math:`(B, C, H, W)`
        - Output: :math:`(B, C, \\lceil H / k_y \\rceil, \\lceil W / k_x \\rceil)`, and
          :math:`(3, 3)` float64.
    """
    ky, kx = factors
    height, width = source.shape[-2:]
    padded = torch.nn.functional.pad(source, (0, -width % kx, 0, -height % ky))
    averaged = torch.nn.functional.avg_pool2d(padded, (ky, kx))
    to_canvas = torch.tensor([[kx, 0, (kx - 1) / 2], [0, ky, (ky - 1) / 2], [0, 0, 1]],
                             dtype=torch.float64)
    return averaged, to_canvas
