"""Every option of a drawing, with CLIPDraw's recipe as the defaults, in one place.

:class:`DrawSettings` is a frozen dataclass. Options that depend on the mode (``paths``,
``iterations``, ``max_width``, ``init_radius``, ``point_lr_schedule``) default to ``None`` and are
filled in by :meth:`DrawSettings.resolved` from :data:`CLIPDRAW_DEFAULTS` (text/image prompts, the
CLIPDraw paper) or :data:`PAINTERLY_DEFAULTS` (a pixel target alone, diffvg's painterly-rendering
example).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CLASSIC_NEGATIVES",
    "parse_size",
    "CLIPDRAW_DEFAULTS",
    "PAINTERLY_DEFAULTS",
    "REFERENCE_SIZE",
    "DrawSettings",
]

#: CLIPDraw's two negative prompts (Frans et al. 2021, the notebook's ``use_negative``).
CLASSIC_NEGATIVES: tuple[str, ...] = ("A badly drawn sketch.", "Many ugly, messy drawings.")

#: Canvas side (pixels) at which ``point_lr`` is given; it is scaled by ``mean(W, H) / 224``.
REFERENCE_SIZE = 224

#: The CLIPDraw paper's recipe for the mode-dependent options.
CLIPDRAW_DEFAULTS: Mapping[str, Any] = {
    "paths": 256,
    "iterations": 1000,
    "max_width": 100.0,
    "init_radius": 0.1,
    # (fraction of the iterations, point learning rate from then on)
    "point_lr_schedule": ((0.5, 0.4), (0.75, 0.1)),
}

#: diffvg's painterly-rendering example (a pixel target, no prompts).
PAINTERLY_DEFAULTS: Mapping[str, Any] = {
    "paths": 512,
    "iterations": 500,
    "max_width": 4.0,
    "init_radius": 0.05,
    "point_lr_schedule": (),
}

_MODE_FIELDS = tuple(CLIPDRAW_DEFAULTS)


def _tuple(value: Any) -> tuple:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@dataclass(frozen=True)
class DrawSettings:
    """All the options of one drawing; the defaults reproduce the CLIPDraw paper.

    Args:
        prompts: text prompts the drawing should match.
        prompt_weights: one weight per prompt (empty: all 1).
        negatives: prompts the drawing should not match.
        negative_weight: weight of each negative prompt (CLIPDraw: 0.3).
        image_prompt: path of an image whose CLIP embedding is a target.
        image_prompt_weight: weight of the image prompt.
        target: path of an image to reconstruct pixel by pixel (mean squared error).
        target_weight: weight of the pixel target.
        width, height: canvas size in SVG units (pixels at scale 1).
        paths: number of random paths (added on top of ``init_svg``'s, default 0 then).
        shape: ``"strokes"`` (open stroked paths) or ``"blobs"`` (closed filled paths).
        min_segments, max_segments: cubic segments per random stroke (blobs: 3 to 5).
        init_radius: control points step by ``init_radius * canvas * (rand - 0.5)``.
        stroke_width: initial full stroke width in SVG units.
        min_width, max_width: clamp of the stroke widths after each step.
        background: straight RGBA background composited under the drawing.
        iterations: optimisation steps.
        point_lr: Adam learning rate of the points, in pixels at a 224-pixel canvas.
        width_lr: Adam learning rate of the full stroke widths.
        color_lr: Adam learning rate of the colours.
        point_lr_schedule: ``(fraction, lr)`` pairs: from ``fraction * iterations`` on, the point
            learning rate is ``lr`` (scaled with the canvas like ``point_lr``).
        num_augs: augmented views of each canvas per step and model.
        distortion: RandomPerspective distortion scale.
        crop_scale: RandomResizedCrop area range.
        models: open_clip model specs; several make an ensemble whose losses are averaged.
        pretrained: open_clip pretrained tag for built-in model names (``"none"``: random).
        clip_weights: a local checkpoint file loaded into the model(s).
        seed: seed of the drawing's own random generator (initialisation and augmentations).
        init_svg: an SVG whose paths start the optimisation (scaled to the canvas; its own
            background, if it has one, replaces ``background``).
        freeze_init: keep the paths of ``init_svg`` fixed.
    """

    prompts: tuple[str, ...] = ()
    prompt_weights: tuple[float, ...] = ()
    negatives: tuple[str, ...] = ()
    negative_weight: float = 0.3
    image_prompt: str | None = None
    image_prompt_weight: float = 1.0
    target: str | None = None
    target_weight: float = 1.0
    width: int = 224
    height: int = 224
    paths: int | None = None
    shape: str = "strokes"
    min_segments: int | None = None
    max_segments: int | None = None
    init_radius: float | None = None
    stroke_width: float = 2.0
    min_width: float = 2.0
    max_width: float | None = None
    background: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    iterations: int | None = None
    point_lr: float = 1.0
    width_lr: float = 0.2
    color_lr: float = 0.01
    point_lr_schedule: tuple[tuple[float, float], ...] | None = None
    num_augs: int = 4
    distortion: float = 0.5
    crop_scale: tuple[float, float] = (0.7, 0.9)
    models: tuple[str, ...] = ("ViT-B-32",)
    pretrained: str | None = "openai"
    clip_weights: str | None = None
    seed: int = 0
    init_svg: str | None = None
    freeze_init: bool = False

    def __post_init__(self) -> None:
        for name in ("prompts", "negatives", "models"):
            object.__setattr__(self, name, tuple(str(v) for v in _tuple(getattr(self, name))))
        object.__setattr__(
            self, "prompt_weights", tuple(float(v) for v in _tuple(self.prompt_weights))
        )
        object.__setattr__(self, "background", tuple(float(v) for v in self.background))
        object.__setattr__(self, "crop_scale", tuple(float(v) for v in self.crop_scale))
        if self.point_lr_schedule is not None:
            schedule = tuple((float(f), float(lr)) for f, lr in self.point_lr_schedule)
            object.__setattr__(self, "point_lr_schedule", schedule)

    # -- modes and defaults ---------------------------------------------------------------------
    @property
    def painterly(self) -> bool:
        """A pixel target and nothing for CLIP: diffvg's painterly-rendering mode, no model."""
        return self.target is not None and not self.prompts and self.image_prompt is None

    @property
    def uses_clip(self) -> bool:
        return bool(self.prompts) or self.image_prompt is not None

    def resolved(self) -> DrawSettings:
        """A copy with every ``None`` option replaced by its mode's default."""
        defaults = PAINTERLY_DEFAULTS if self.painterly else CLIPDRAW_DEFAULTS
        changes = {k: defaults[k] for k in _MODE_FIELDS if getattr(self, k) is None}
        if self.paths is None and self.init_svg is not None:
            changes["paths"] = 0  # an imported drawing; --paths adds random strokes on top
        blobs = self.shape == "blobs"
        if self.min_segments is None:
            changes["min_segments"] = 3 if blobs else 1
        if self.max_segments is None:
            changes["max_segments"] = 5 if blobs else 3
        return dataclasses.replace(self, **changes) if changes else self

    def validate(self) -> DrawSettings:
        """Raise ``ValueError`` naming the first bad option; return ``self``."""
        s = self.resolved()
        if not s.prompts and s.image_prompt is None and s.target is None:
            raise ValueError("nothing to draw: give a prompt, an image prompt or a pixel target")
        if any(not p.strip() for p in s.prompts):
            raise ValueError("prompts must not be empty")
        if any(not p.strip() for p in s.negatives):
            raise ValueError("negative prompts must not be empty")
        if s.prompt_weights and len(s.prompt_weights) != len(s.prompts):
            raise ValueError("give one prompt weight per prompt")
        positive = {
            "width": s.width, "height": s.height, "iterations": s.iterations,
            "num_augs": s.num_augs, "min_segments": s.min_segments,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if s.paths < 0:
            raise ValueError(f"paths must be non-negative, got {s.paths}")
        if s.paths == 0 and s.init_svg is None:
            raise ValueError("paths must be positive (or start from init_svg)")
        if s.max_segments < s.min_segments:
            raise ValueError("max_segments must be at least min_segments")
        if s.shape not in ("strokes", "blobs"):
            raise ValueError(f"shape must be 'strokes' or 'blobs', got {s.shape!r}")
        if not 0 < s.min_width <= s.max_width:
            raise ValueError(f"need 0 < min_width <= max_width, got {s.min_width}, {s.max_width}")
        if not 0 <= s.distortion <= 1:
            raise ValueError(f"distortion must lie in [0, 1], got {s.distortion}")
        low, high = s.crop_scale
        if not 0 < low <= high <= 1:
            raise ValueError(f"crop_scale must satisfy 0 < low <= high <= 1, got {s.crop_scale}")
        if len(s.background) != 4 or any(not 0 <= c <= 1 for c in s.background):
            raise ValueError("background must be four numbers in [0, 1] (RGBA)")
        if s.uses_clip and not s.models:
            raise ValueError("give at least one CLIP model")
        for name in ("point_lr", "width_lr", "color_lr"):
            if getattr(s, name) < 0:
                raise ValueError(f"{name} must be non-negative")
        return self

    # -- serialisation --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (tuples become lists); :meth:`from_dict` inverts it."""
        data = dataclasses.asdict(self)

        def listify(value: Any) -> Any:
            if isinstance(value, (tuple, list)):
                return [listify(v) for v in value]
            return value

        return {k: listify(v) for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DrawSettings:
        """Rebuild settings from :meth:`to_dict` output; unknown keys raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        return cls(**dict(data))

    def replace(self, **changes: Any) -> DrawSettings:
        return dataclasses.replace(self, **changes)

    @staticmethod
    def shared_fields() -> Sequence[str]:
        """Options that every drawing of one batch must share."""
        return ("width", "height", "iterations", "models", "pretrained", "clip_weights",
                "num_augs")


def parse_size(value: Any) -> tuple[int, int]:
    """Canvas ``(width, height)`` from ``224``, ``"224"``, ``"320x240"`` or ``[320, 240]``.

    Raises ``ValueError`` for anything else, or for sizes that are not positive.
    """
    numbers: list[int] = []
    try:
        if isinstance(value, str):
            numbers = [int(p) for p in re.split(r"[x*,\s]+", value.strip().lower()) if p]
        elif isinstance(value, (list, tuple)):
            numbers = [int(v) for v in value]
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            numbers = [int(value)]
    except (TypeError, ValueError):
        numbers = []
    if len(numbers) == 1:
        numbers = numbers * 2
    if len(numbers) != 2 or min(numbers) <= 0:
        raise ValueError(f"size: expected N or WxH with positive integers, got {value!r}")
    return numbers[0], numbers[1]
