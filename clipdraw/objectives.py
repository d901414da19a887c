"""What a drawing is optimised for: small classes behind one interface, combined by their weights.

An :class:`Objective` is complete once constructed: it gives a scalar loss per step from the
drawing's canvas and the CLIP features of its augmented views (text and image targets are
embedded by each model of the ensemble on first use, a pixel target is resized to the canvas).
Losses sum over views (as CLIPDraw does) and average over the models of an ensemble. Adding an
objective means adding a class here and one line to :func:`build_objectives`.

:func:`similarity` is the one measure of how well whole images match their prompts: a drawing's
reported similarity and best-of's judge both use it.
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
from clipdraw.render import over
from clipdraw.settings import DrawSettings

__all__ = [
    "ImagePrompt",
    "NegativePrompt",
    "Objective",
    "PixelTarget",
    "StepInputs",
    "TextPrompt",
    "build_objectives",
    "image_features",
    "load_image",
    "resize_image",
    "similarity",
    "text_embeddings",
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
    rgb = over(image, (background,) * 3 + (1.0,))[:3]
    return rgb if size is None else resize_image(rgb, size)


def resize_image(image: Tensor, size: tuple[int, int]) -> Tensor:
    """``image`` resized to ``size`` = ``(h, w)`` (bicubic, antialiased, clamped to [0, 1]);
    itself when it has that size already.

    Shape:
        - image: :math:`(C, H, W)`
        - Output: :math:`(C, h, w)`
    """
    if tuple(image.shape[1:]) == tuple(size):
        return image
    return torch.nn.functional.interpolate(
        image[None], size=tuple(size), mode="bicubic", align_corners=False, antialias=True
    )[0].clamp(0, 1)


def text_embeddings(model: ClipModel, texts: Sequence[str]) -> Tensor:
    """Unit-norm CLIP embeddings of ``texts`` under ``model`` (no gradient).

    Shape:
        - Output: :math:`(T, D)`
    """
    return model.encode_text(list(texts))


def image_features(model: ClipModel, images: Tensor, *, normalize: bool = True) -> Tensor:
    """Unit-norm CLIP features of whole RGB images, without augmentation: each is resized to
    the model's input (bicubic, antialiased) and normalised (unless ``normalize=False``, as the
    views of a drawing with ``clip_normalize`` off), as when a drawing is judged.

    Shape:
        - images: :math:`(N, 3, H, W)` RGB in [0, 1] (composite RGBA over white first)
        - Output: :math:`(N, D)`
    """
    return model.encode_image(model.preprocess(images.to(model.device), normalize=normalize))


@torch.no_grad()
def similarity(model: ClipModel, images: Tensor, texts: Sequence[str]) -> Tensor:
    """Mean cosine similarity of each whole image to ``texts`` under ``model``: the similarity
    a finished drawing reports (and best-of ranks by).

    Shape:
        - images: :math:`(N, 3, H, W)` RGB in [0, 1]
        - Output: :math:`(N,)`

    Example:
        >>> import torch
        >>> from clipdraw.models import ClipModel
        >>> class Tower(torch.nn.Module):  # a stand-in for an open_clip model
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.scale = torch.nn.Parameter(torch.ones(()))
        ...     def encode_image(self, images):
        ...         return images.mean((2, 3)) * self.scale
        ...     def encode_text(self, tokens):
        ...         return torch.eye(3)[tokens[:, 0]]
        >>> model = ClipModel(Tower(), lambda texts: torch.tensor([[len(t) % 3] for t in texts]),
        ...                   (4, 4), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "toy")
        >>> red = torch.zeros(1, 3, 8, 8)
        >>> red[:, 0] = 1
        >>> similarity(model, red, ["red"])  # "red" embeds as (1, 0, 0)
        tensor([1.])
    """
    features = image_features(model, images)
    return (features @ text_embeddings(model, texts).to(features).T).mean(-1)


@dataclass
class StepInputs:
    """What one step gives each objective of one drawing.

    Args:
        canvas: the drawing's RGB canvas over its background (white where transparent).
        features: per model, unit-norm CLIP features of the canvas's views.
        models: the CLIP ensemble that made ``features`` (empty without CLIP).

    Shape:
        - canvas: :math:`(3, H, W)`
        - features: each :math:`(A, D_m)`
    """

    canvas: Tensor
    features: Sequence[Tensor]
    models: Sequence[ClipModel] = ()


class Objective(ABC):
    """One term of a drawing's loss; ``weight`` scales it.

    An objective is complete once constructed: it holds its targets (a text, an image) and
    computes what depends on the models or the canvas (embeddings, a resized image) from the
    :class:`StepInputs` it is given, caching it per model. A subclass sets :attr:`uses_clip`
    and implements :meth:`loss`.

    Example:
        >>> import torch
        >>> class Brightness(Objective):
        ...     \"\"\"Pull the canvas towards white.\"\"\"
        ...     uses_clip = False
        ...
        ...     def loss(self, inputs):
        ...         return self.weight * (1 - inputs.canvas.mean())
        >>> Brightness(2.0).loss(StepInputs(torch.full((3, 4, 4), 0.25), []))
        tensor(1.5000)
    """

    #: whether :meth:`loss` reads CLIP features (so a model must be loaded)
    uses_clip: bool = True
    #: whether :meth:`similarity` is reported as the drawing's CLIP similarity
    reports_similarity: bool = False

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = float(weight)

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
        self._embeddings: list[tuple[ClipModel, Tensor]] = []

    @abstractmethod
    def _embed(self, model: ClipModel) -> Tensor:
        """The target's unit-norm embedding under ``model``, shape :math:`(D,)`."""

    def embedding(self, model: ClipModel) -> Tensor:
        """The target's unit-norm embedding under ``model`` (computed once per model)."""
        for seen, embedding in self._embeddings:
            if seen is model:
                return embedding
        with torch.no_grad():
            embedding = self._embed(model)
        self._embeddings.append((model, embedding))
        return embedding

    def _cosines(self, inputs: StepInputs) -> Tensor:
        """Per model, cosines summed over the views; shape :math:`(M,)`."""
        if len(inputs.models) != len(inputs.features):
            raise ValueError(f"{type(self).__name__} needs the models that made the features")
        return torch.stack([(f @ self.embedding(m).to(f)).sum()
                            for f, m in zip(inputs.features, inputs.models)])

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

    def _embed(self, model: ClipModel) -> Tensor:
        return text_embeddings(model, [self.text])[0]


class NegativePrompt(TextPrompt):
    """Push the drawing away from a text prompt (CLIPDraw adds 0.3 x its cosine similarity)."""

    reports_similarity = False

    def loss(self, inputs: StepInputs) -> Tensor:
        return -super().loss(inputs)


class ImagePrompt(_EmbeddingTarget):
    """Pull the drawing towards the CLIP embedding of an image (read here, so a bad file fails
    at once)."""

    reports_similarity = True

    def __init__(self, path: str | os.PathLike, weight: float = 1.0, *,
                 normalize: bool = True) -> None:
        super().__init__(weight)
        self.path = path
        self.image = load_image(path)
        self.normalize = normalize  # as the drawing's views are, so that the two compare

    def _embed(self, model: ClipModel) -> Tensor:
        return image_features(model, self.image[None], normalize=self.normalize)[0]


class PixelTarget(Objective):
    """Mean squared error to an image resized to the canvas (diffvg's painterly rendering).

    The image is read here, so a bad file fails at once.
    """

    uses_clip = False

    def __init__(self, path: str | os.PathLike, weight: float = 1.0) -> None:
        super().__init__(weight)
        self.path = path
        self.image = load_image(path)
        self._resized: Tensor = self.image

    def target(self, canvas: Tensor) -> Tensor:
        """The image at the size, device and dtype of ``canvas`` (resized once per size).

        Shape:
            - canvas, Output: :math:`(3, H, W)`
        """
        if self._resized.shape != canvas.shape:
            self._resized = resize_image(self.image, canvas.shape[1:])
        self._resized = self._resized.to(canvas)
        return self._resized

    def loss(self, inputs: StepInputs) -> Tensor:
        return self.weight * (inputs.canvas - self.target(inputs.canvas)).square().mean()

    def metrics(self, inputs: StepInputs) -> dict[str, float]:
        """``psnr``: peak signal-to-noise ratio (dB) of the canvas against the target."""
        canvas = inputs.canvas.detach()
        mse = float((canvas - self.target(canvas)).square().mean())
        return {"psnr": 10 * math.log10(1 / max(mse, 1e-12))}


def build_objectives(settings: DrawSettings) -> list[Objective]:
    """The objectives a drawing's settings ask for (images are opened to check them)."""
    resolved = settings.resolved()  # one weight per prompt and negative, classic ones included
    objectives: list[Objective] = [
        TextPrompt(p, w) for p, w in zip(resolved.prompts, resolved.prompt_weights)]
    objectives += [NegativePrompt(p, w)
                   for p, w in zip(resolved.negatives, resolved.negative_weights)]
    if settings.image_prompt is not None:
        objectives.append(ImagePrompt(settings.image_prompt, settings.image_prompt_weight,
                                      normalize=resolved.clip_normalize))
    if settings.target is not None:
        objectives.append(PixelTarget(settings.target, settings.target_weight))
    return objectives
