"""What a drawing is optimised for: small classes behind one interface, combined by their weights.

An :class:`Objective` is prepared once (text and image targets are embedded by every model of the
ensemble, a pixel target is loaded at canvas size), then gives a scalar loss per step from the
drawing's canvas and the CLIP features of its augmented views. Losses sum over views (as CLIPDraw
does) and average over the models of an ensemble. Adding an objective means adding a class here
and one line to :func:`build_objectives`.
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from clipdraw.models import ClipModel
from clipdraw.settings import DrawSettings

__all__ = [
    "ImagePrompt",
    "NegativePrompt",
    "Objective",
    "PixelTarget",
    "StepInputs",
    "TextPrompt",
    "build_objectives",
    "load_image",
]


def load_image(
    path: str | os.PathLike, size: tuple[int, int] | None = None, *, background: float = 1.0
) -> Tensor:
    """Read an image as RGB in [0, 1], alpha composited over ``background``, optionally resized
    to ``size`` = ``(h, w)`` (bicubic, antialiased). Raise ``ValueError`` when unreadable.

    Shape:
        - Output: :math:`(3, H, W)` float32.
    """
    try:
        with Image.open(path) as handle:
            rgba = np.asarray(handle.convert("RGBA"), dtype=np.float32) / 255.0
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read image {os.fspath(path)!r}: {error}") from None
    image = torch.from_numpy(rgba).permute(2, 0, 1)
    rgb = image[:3] * image[3:] + background * (1 - image[3:])
    if size is not None and tuple(rgb.shape[1:]) != tuple(size):
        rgb = torch.nn.functional.interpolate(
            rgb[None], size=size, mode="bicubic", align_corners=False, antialias=True
        )[0].clamp(0, 1)
    return rgb


@dataclass
class StepInputs:
    """What one step gives each objective of one drawing.

    Args:
        canvas: the drawing's RGB canvas over its background (white where transparent).
        features: per model, unit-norm CLIP features of the canvas's augmented views.

    Shape:
        - canvas: :math:`(3, H, W)`
        - features: each :math:`(A, D_m)`
    """

    canvas: Tensor
    features: Sequence[Tensor]


class Objective(ABC):
    """One term of a drawing's loss; ``weight`` scales it."""

    #: whether :meth:`loss` reads CLIP features (so a model must be loaded)
    uses_clip: bool = True
    #: whether :meth:`similarity` is reported as the drawing's CLIP similarity
    reports_similarity: bool = False

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = float(weight)

    def prepare(
        self, models: Sequence[ClipModel], canvas_size: tuple[int, int], device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        """Compute fixed targets once (``canvas_size`` = ``(H, W)``); nothing by default."""
        return None

    @abstractmethod
    def loss(self, inputs: StepInputs) -> Tensor:
        """Scalar loss of one drawing for this step (differentiable in the canvas)."""

    def similarity(self, inputs: StepInputs) -> Tensor | None:
        """Mean cosine similarity to this objective's target, or ``None``."""
        return None

    def metrics(self, inputs: StepInputs) -> dict[str, float]:
        """Named figures of the drawing for this objective (recorded in its metadata)."""
        return {}


class _EmbeddingTarget(Objective):
    """Cosine similarity of the views to one CLIP embedding per model."""

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__(weight)
        self.targets: list[Tensor] = []

    def _cosines(self, inputs: StepInputs) -> Tensor:
        """Per model, cosines summed over the views; shape :math:`(M,)`."""
        if len(self.targets) != len(inputs.features):
            raise RuntimeError(f"{type(self).__name__} was not prepared for these models")
        return torch.stack(
            [(f @ t.to(f)).sum() for f, t in zip(inputs.features, self.targets)]
        )

    def loss(self, inputs: StepInputs) -> Tensor:
        return -self.weight * self._cosines(inputs).mean()

    def similarity(self, inputs: StepInputs) -> Tensor:
        return self._cosines(inputs).mean().detach() / inputs.features[0].shape[0]


class TextPrompt(_EmbeddingTarget):
    """Pull the drawing towards a text prompt (CLIPDraw's loss: minus the cosine similarity)."""

    reports_similarity = True

    def __init__(self, text: str, weight: float = 1.0) -> None:
        super().__init__(weight)
        self.text = text

    def prepare(self, models, canvas_size, device, dtype) -> None:
        self.targets = [m.encode_text([self.text])[0].to(device) for m in models]


class NegativePrompt(TextPrompt):
    """Push the drawing away from a text prompt (CLIPDraw adds 0.3 x its cosine similarity)."""

    reports_similarity = False

    def loss(self, inputs: StepInputs) -> Tensor:
        return -super().loss(inputs)


class ImagePrompt(_EmbeddingTarget):
    """Pull the drawing towards the CLIP embedding of an image."""

    reports_similarity = True

    def __init__(self, path: str | os.PathLike, weight: float = 1.0) -> None:
        super().__init__(weight)
        self.path = path
        load_image(path)  # fail early on an unreadable file

    def prepare(self, models, canvas_size, device, dtype) -> None:
        image = load_image(self.path)[None]
        with torch.no_grad():
            self.targets = [
                m.encode_image(m.preprocess(image.to(m.device)))[0].to(device) for m in models
            ]


class PixelTarget(Objective):
    """Mean squared error to an image at canvas size (diffvg's painterly rendering)."""

    uses_clip = False

    def __init__(self, path: str | os.PathLike, weight: float = 1.0) -> None:
        super().__init__(weight)
        self.path = path
        self.image: Tensor | None = None
        load_image(path)

    def prepare(self, models, canvas_size, device, dtype) -> None:
        self.image = load_image(self.path, canvas_size).to(device=device, dtype=dtype)

    def loss(self, inputs: StepInputs) -> Tensor:
        if self.image is None:
            raise RuntimeError("PixelTarget was not prepared")
        return self.weight * (inputs.canvas - self.image).square().mean()

    def metrics(self, inputs: StepInputs) -> dict[str, float]:
        """``psnr``: peak signal-to-noise ratio (dB) of the canvas against the target."""
        if self.image is None:
            raise RuntimeError("PixelTarget was not prepared")
        mse = float((inputs.canvas.detach() - self.image).square().mean())
        return {"psnr": 10 * math.log10(1 / max(mse, 1e-12))}


def build_objectives(settings: DrawSettings) -> list[Objective]:
    """The objectives a drawing's settings ask for (images are opened to check them)."""
    weights = settings.prompt_weights or (1.0,) * len(settings.prompts)
    objectives: list[Objective] = [TextPrompt(p, w) for p, w in zip(settings.prompts, weights)]
    objectives += [NegativePrompt(p, settings.negative_weight) for p in settings.negatives]
    if settings.image_prompt is not None:
        objectives.append(ImagePrompt(settings.image_prompt, settings.image_prompt_weight))
    if settings.target is not None:
        objectives.append(PixelTarget(settings.target, settings.target_weight))
    return objectives
