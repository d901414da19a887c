"""Named recipes: sets of option values that ``--preset NAME`` fills in, as data in one place.

A preset changes only the options you have not set: :meth:`DrawSettings.resolved
<clipdraw.settings.DrawSettings.resolved>` gives each of its values to the settings fields still
at their dataclass default, so ``--preset notebook --paths 64`` draws 64 paths. A field you set to
its default value counts as not set (the settings cannot tell the two apart); options whose
default is ``None`` (the mode's choice, such as ``--normalize``) do not have that ambiguity.

This module imports nothing from torch, so ``--help`` can list the presets at once.

Example:
    >>> PRESETS["notebook"].values["num_augs"]
    4
    >>> sorted(PRESETS) == sorted(p.name for p in PRESETS.values())
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["NOTEBOOK", "PRESETS", "Preset"]


@dataclass(frozen=True)
class Preset:
    """A named set of option values.

    Args:
        name: what ``--preset`` takes.
        help: one sentence for ``--help`` and the README.
        values: :class:`~clipdraw.settings.DrawSettings` field values, read as the settings read
            them (tuples or lists).
    """

    name: str
    help: str
    values: Mapping[str, Any]


#: The CLIPDraw notebook (kvfrans/clipdraw, ``clipdraw.ipynb``), which made the paper's figures:
#: its "Curve Optimizer" cell, value for value.
NOTEBOOK = Preset(
    "notebook",
    "The CLIPDraw notebook that made the paper's figures: views fed to CLIP un-normalised, "
    "strokes 1 px wide clamped to [1, 50], width learning rate 0.1, one bilinear sample per view.",
    {
        "paths": 256,
        "shape": "strokes",
        "min_segments": 1,
        "max_segments": 3,
        "init_radius": 0.1,
        "stroke_width": 1.0,
        "min_width": 1.0,
        "max_width": 50.0,
        "background": (1.0, 1.0, 1.0, 1.0),
        "iterations": 1000,
        "point_lr": 1.0,
        "width_lr": 0.1,
        "color_lr": 0.01,
        "point_lr_schedule": ((0.5, 0.4), (0.75, 0.1)),
        "num_augs": 4,
        "distortion": 0.5,
        "crop_scale": (0.7, 0.9),
        "models": ("ViT-B-32",),
        "pretrained": "openai",
        "clip_normalize": False,
        "view_antialias": False,
    },
)

#: Every preset, by name.
PRESETS: dict[str, Preset] = {p.name: p for p in (
    NOTEBOOK,
    Preset("monochrome", "Black, opaque strokes of one fixed width (1.5), as CLIPasso and "
           "SVGRender draw sketches.",
           {"palette": ("#000000",), "opaque": True, "stroke_width": 1.5, "min_width": 1.5,
            "max_width": 1.5, "width_lr": 0.0}),
)}
