"""CLIPDraw's augmentations, every view of every canvas in one batched kornia warp.

CLIPDraw applies ``RandomPerspective(distortion_scale=0.5, p=1, fill=white)`` then
``RandomResizedCrop(size, scale=(0.7, 0.9))`` then CLIP's normalisation. Both geometric steps are
homographies, so they are composed into one matrix per view and applied by one
:func:`kornia.geometry.transform.warp_perspective` call (one bilinear resampling instead of two).
The parameters are sampled with each drawing's own ``torch.Generator`` exactly as kornia's
``PerspectiveGenerator`` (``"basic"``) and ``ResizedCropGenerator`` sample them, so a drawing sees
the same views whether it is optimised alone or in a batch.

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

__all__ = ["augment", "sample_views"]


def _corners(width: float, height: float, dtype: torch.dtype) -> Tensor:
    x, y = width - 1, height - 1
    return torch.tensor([[0, 0], [x, 0], [x, y], [0, y]], dtype=dtype)


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
    (``(h, w)``). Sampled on the CPU in float64 from ``generator``.

    Shape:
        - Output: :math:`(count, 3, 3)` float64.
    """
    f64 = torch.float64
    start = _corners(width, height, f64).expand(count, 4, 2)
    factor = distortion * torch.tensor([(width - 1) / 2, (height - 1) / 2], dtype=f64)
    signs = torch.tensor([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=f64)
    offset = factor * torch.rand(count, 4, 2, generator=generator, dtype=f64) * signs
    perspective = get_perspective_transform(start, start + offset)

    area = width * height * (
        crop_scale[0] + (crop_scale[1] - crop_scale[0]) * torch.rand(count, generator=generator,
                                                                       dtype=f64)
    )
    log_ratio = math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * torch.rand(
        count, generator=generator, dtype=f64
    )
    aspect = log_ratio.exp()
    crop_w = (area * aspect).sqrt().clamp(max=width)
    crop_h = (area / aspect).sqrt().clamp(max=height)
    shift = torch.rand(count, 2, generator=generator, dtype=f64)
    x0 = shift[:, 0] * (width - crop_w)
    y0 = shift[:, 1] * (height - crop_h)
    box = torch.stack(
        [
            torch.stack([x0, y0], -1),
            torch.stack([x0 + crop_w - 1, y0], -1),
            torch.stack([x0 + crop_w - 1, y0 + crop_h - 1], -1),
            torch.stack([x0, y0 + crop_h - 1], -1),
        ],
        dim=1,
    )
    out = _corners(size[1], size[0], f64).expand(count, 4, 2)
    crop = get_perspective_transform(box, out)
    return crop @ perspective


def augment(
    images: Tensor,
    views: Tensor,
    size: tuple[int, int],
    mean: Sequence[float],
    std: Sequence[float],
    *,
    fill: float = 1.0,
) -> Tensor:
    """Warp each image to its views, fill outside with ``fill`` and normalise, in one call.

    Args:
        images: RGB canvases in [0, 1].
        views: homographies from :func:`sample_views`, ``A`` per canvas, canvas-major.
        size: output ``(h, w)`` (the CLIP model's input size).
        mean, std: the model's normalisation.
        fill: value of pixels that come from outside the canvas (CLIPDraw: white).

    Shape:
        - images: :math:`(B, 3, H, W)`
        - views: :math:`(B \\cdot A, 3, 3)`
        - Output: :math:`(B \\cdot A, 3, h, w)`
    """
    repeats = views.shape[0] // images.shape[0]
    source = (images - fill).repeat_interleave(repeats, dim=0)
    warped = warp_perspective(
        source, views.to(images), size, mode="bilinear", padding_mode="zeros", align_corners=True
    ) + fill
    mean_t = torch.as_tensor(mean, device=images.device, dtype=images.dtype)
    std_t = torch.as_tensor(std, device=images.device, dtype=images.dtype)
    return normalize(warped, mean_t, std_t)
