"""Every option of a drawing, with CLIPDraw's recipe as the defaults, in one place.

:class:`DrawSettings` holds what a person asked for; options left to the mode are ``None``.
:meth:`DrawSettings.resolved` fills them in and returns a :class:`ResolvedSettings`, the type the
pipeline works with: from :data:`CLIPDRAW_DEFAULTS` (text or image prompts, the CLIPDraw paper) or
:data:`PAINTERLY_DEFAULTS` (a pixel target alone, diffvg's painterly-rendering example). How each
option is spelled, read and bounded lives in :mod:`clipdraw.options`.

Example:
    >>> settings = DrawSettings(prompts=("a red apple",), iterations=50)
    >>> resolved = settings.validate().resolved()
    >>> resolved.paths, resolved.iterations, (resolved.width, resolved.height)
    (256, 50, (224, 224))
    >>> DrawSettings(target="photo.png").resolved().max_width
    4.0
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clipdraw.options import FIELD_TYPES, OPTION_BY_FIELD, OptionError, parse_size

__all__ = [
    "CLASSIC_NEGATIVES",
    "CLIPDRAW_DEFAULTS",
    "PAINTERLY_DEFAULTS",
    "REFERENCE_SIZE",
    "DrawSettings",
    "ResolvedSettings",
    "SettingsError",
    "parse_size",
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


class SettingsError(OptionError):
    """Settings that cannot be drawn; ``key`` names the option (see :mod:`clipdraw.options`)."""


def _tuple(value: Any) -> tuple:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    try:
        return tuple(value)
    except TypeError:
        return (value,)


def _float_or_keep(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value  # validate() names it


@dataclass(frozen=True)
class DrawSettings:
    """All the options of one drawing, as asked for; the defaults reproduce the CLIPDraw paper.

    Options that depend on the mode are ``None`` until :meth:`resolved`. Each field is described
    in :data:`clipdraw.options.OPTIONS` (``clipdraw draw --help`` prints the same words).

    Args:
        prompts, prompt_weights: text prompts and their weights (empty: all 1).
        negatives, negative_weights: prompts to stay away from, and their weights (empty:
            ``negative_weight`` each); ``classic_negatives`` adds CLIPDraw's two.
        image_prompt, target: an image to match in CLIP space, or pixel by pixel; each with a
            weight.
        width, height: canvas size in SVG units (pixels at scale 1); ``None``: 224, the
            ``init_svg``'s own canvas, or the ``target``'s aspect.
        paths, shape, min_segments, max_segments, init_radius, stroke_width, min_width,
            max_width, background: what is drawn and how it starts.
        iterations, point_lr, width_lr, color_lr, point_lr_schedule: the optimiser.
        num_augs, distortion, crop_scale: the augmented views.
        models, pretrained, clip_weights: the CLIP ensemble.
        seed: the drawing's own random generator (initialisation and views).
        init_svg, freeze_init: start from an SVG's paths (and keep them fixed).
        preset: a named recipe (:data:`clipdraw.presets.PRESETS`) filling the fields left at
            their default.
        clip_normalize, view_antialias: normalise the images CLIP sees by the model's mean and
            std, and prefilter views of canvases larger than the model's input; ``None``: on.
        best_every, patience: keep the best-scoring drawing, scored every ``best_every`` steps,
            and stop after ``patience`` scorings without improvement (:mod:`clipdraw.best`).
        palette, palette_image, palette_size, opaque: stroke colours from a palette (given, or
            learned from an image), strokes kept opaque (:mod:`clipdraw.palette`).
        prune, reinit_every: drop invisible paths from the result; restart them as random ones
            every N steps (:mod:`clipdraw.prune`).
    """

    prompts: tuple[str, ...] = ()
    prompt_weights: tuple[float | None, ...] = ()
    negatives: tuple[str, ...] = ()
    negative_weights: tuple[float | None, ...] = ()
    negative_weight: float = 0.3
    classic_negatives: bool = False
    image_prompt: str | None = None
    image_prompt_weight: float = 1.0
    target: str | None = None
    target_weight: float = 1.0
    width: int | None = None
    height: int | None = None
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
    # views: a named recipe, CLIP normalisation, antialiased views (None: on)
    preset: str | None = None
    clip_normalize: bool | None = None
    view_antialias: bool | None = None
    # keeping the best drawing and early stop (clipdraw/best.py)
    best_every: int = 0
    patience: int = 0
    # palette, monochrome and pruning (issue 13; clipdraw.palette, clipdraw.prune)
    palette: tuple[str, ...] = ()
    palette_image: str | None = None
    palette_size: int = 6
    opaque: bool = False
    prune: bool = False
    reinit_every: int | None = None

    def __post_init__(self) -> None:
        for name in ("prompts", "negatives", "models"):
            object.__setattr__(self, name, _tuple(getattr(self, name)))
        for name in ("prompt_weights", "negative_weights", "background", "crop_scale"):
            object.__setattr__(self, name, tuple(_float_or_keep(v)
                                                 for v in _tuple(getattr(self, name))))
        if self.point_lr_schedule is not None:
            try:
                schedule = tuple((float(f), float(lr)) for f, lr in self.point_lr_schedule)
            except (TypeError, ValueError):
                schedule = self.point_lr_schedule  # validate() names it
            object.__setattr__(self, "point_lr_schedule", schedule)
        object.__setattr__(self, "palette", _tuple(self.palette))

    # -- modes and defaults ---------------------------------------------------------------------
    @property
    def painterly(self) -> bool:
        """A pixel target and nothing for CLIP: diffvg's painterly-rendering mode, no model."""
        return self.target is not None and not self.prompts and self.image_prompt is None

    @property
    def uses_clip(self) -> bool:
        return bool(self.prompts) or self.image_prompt is not None

    def resolved(self) -> ResolvedSettings:
        """The settings with every mode-dependent option filled in.

        The canvas: ``width``/``height`` if given; else the ``init_svg``'s own canvas; else, with a
        ``target`` image, 224 px on its long side at the image's aspect; else 224x224. Worked out
        once per settings object (finding the canvas may read the SVG or the image).
        """
        cached = self.__dict__.get("_resolved")
        if cached is None:
            cached = self._resolve()
            self.__dict__["_resolved"] = cached  # frozen fields; a cache beside them
        return cached

    def _resolve(self) -> ResolvedSettings:
        return self._with_preset()._resolve_mode()

    def _with_preset(self) -> DrawSettings:
        """These settings with the preset's values in the fields left at their default (a
        preset changes only the options you have not set)."""
        from clipdraw.presets import PRESETS

        preset = PRESETS.get(self.preset) if self.preset is not None else None
        if preset is None:  # none, or unknown: validate() names it
            return self
        unset = {f.name for f in dataclasses.fields(DrawSettings)
                 if getattr(self, f.name) == f.default}
        return self.replace(**{k: v for k, v in preset.values.items() if k in unset})

    def _resolve_mode(self) -> ResolvedSettings:
        defaults = PAINTERLY_DEFAULTS if self.painterly else CLIPDRAW_DEFAULTS
        changes = {k: defaults[k] for k in _MODE_FIELDS if getattr(self, k) is None}
        if self.paths is None and self.init_svg is not None:
            changes["paths"] = 0  # an imported drawing; --paths adds random strokes on top
        blobs = self.shape == "blobs"
        if self.min_segments is None:
            changes["min_segments"] = 3 if blobs else 1
        if self.max_segments is None:
            changes["max_segments"] = 5 if blobs else 3
        if self.width is None or self.height is None:
            width, height = _natural_canvas(self)
            changes["width"] = self.width or width
            changes["height"] = self.height or height
        prompt_weights = self.prompt_weights or (None,) * len(self.prompts)
        changes["prompt_weights"] = tuple(1.0 if w is None else w for w in prompt_weights)
        negatives = self.negatives + (CLASSIC_NEGATIVES if self.classic_negatives else ())
        weights = self.negative_weights or (None,) * len(self.negatives)
        weights += (None,) * len(CLASSIC_NEGATIVES) * self.classic_negatives
        changes["negatives"] = negatives
        changes["negative_weights"] = tuple(self.negative_weight if w is None else w
                                            for w in weights)
        changes["classic_negatives"] = False
        for name in ("clip_normalize", "view_antialias"):
            if getattr(self, name) is None:
                changes[name] = True
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return ResolvedSettings(**{**values, **changes})

    def validate(self) -> DrawSettings:
        """Check every option against :mod:`clipdraw.options` and the rules between them.

        Returns ``self``; raises :class:`SettingsError` naming the first bad option.
        """
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            option = OPTION_BY_FIELD[f.name]
            try:
                FIELD_TYPES.get(f.name, option.type).check(value)
            except (TypeError, ValueError) as error:
                raise SettingsError(option.key, str(error)) from None
        s = self.resolved()
        if not s.prompts and s.image_prompt is None and s.target is None:
            raise SettingsError("prompts", "nothing to draw: give a prompt, an image prompt or a "
                                           "pixel target")
        if len(s.prompt_weights) != len(s.prompts):
            raise SettingsError("prompts", "give one prompt weight per prompt")
        if len(s.negative_weights) != len(s.negatives):
            raise SettingsError("negatives", "give one weight per negative prompt")
        if s.paths == 0 and s.init_svg is None:
            raise SettingsError("paths", "paths must be positive (or start from an SVG)")
        if s.max_segments < s.min_segments:
            raise SettingsError("max_segments", "must be at least the fewest segments "
                                                f"({s.min_segments}), got {s.max_segments}")
        if s.min_width > s.max_width:
            raise SettingsError("min_width", f"the smallest width {s.min_width:g} is above the "
                                             f"largest {s.max_width:g}")
        low, high = s.crop_scale
        if low > high:
            raise SettingsError("crop_scale", f"need LOW <= HIGH, got {s.crop_scale}")
        if s.uses_clip and not s.models:
            raise SettingsError("models", "give at least one CLIP model")
        if s.freeze_init and s.init_svg is None:
            raise SettingsError("freeze_init", "needs --init (an SVG to start from)")
        if s.patience and not s.best_every:
            raise SettingsError("patience", "needs --best-every (how often to score)")
        for name in ("image_prompt", "target", "init_svg", "clip_weights"):
            path = getattr(s, name)
            if path is not None and not Path(path).is_file():
                raise SettingsError(OPTION_BY_FIELD[name].key, f"file {path!r} does not exist")
        if s.palette and s.palette_image is not None:
            raise SettingsError("palette", "give --palette or --palette-image, not both")
        if s.palette_image is not None and not Path(s.palette_image).is_file():
            raise SettingsError("palette_image", f"file {s.palette_image!r} does not exist")
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
        """Rebuild settings from :meth:`to_dict` output; unknown keys raise ``ValueError``.

        Values are read as the options read them, so a hand-edited file gets the same checks.
        """
        names = {f.name for f in dataclasses.fields(DrawSettings)}
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
                "num_augs", "clip_normalize", "view_antialias")


@dataclass(frozen=True)
class ResolvedSettings(DrawSettings):
    """Settings with every mode-dependent option filled in: what the pipeline draws.

    Every field holds a value (no ``None`` for the mode to decide); ``prompt_weights`` and
    ``negative_weights`` have one weight per prompt, and ``negatives`` includes the classic ones.
    """

    def resolved(self) -> ResolvedSettings:
        return self

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResolvedSettings:
        return DrawSettings.from_dict(data).resolved()


def _natural_canvas(settings: DrawSettings) -> tuple[int, int]:
    """The canvas a drawing gets when no size is given (see :meth:`DrawSettings.resolved`)."""
    if settings.init_svg is not None:
        try:
            from clipdraw.svg import load_svg

            scene = load_svg(settings.init_svg)
            return scene.width, scene.height
        except Exception:  # unreadable: the file checks report it; draw on the default canvas
            pass
    elif settings.target is not None:
        try:
            from PIL import Image

            with Image.open(settings.target) as image:
                width, height = image.size
            scale = REFERENCE_SIZE / max(width, height)
            return max(1, round(width * scale)), max(1, round(height * scale))
        except Exception:
            pass
    return REFERENCE_SIZE, REFERENCE_SIZE
