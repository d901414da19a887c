"""Named sets of option values (``--preset``): a preset changes only the options you have not set.

This module imports neither torch nor click (``--help`` lists the presets at once).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["PRESETS", "Preset"]


@dataclass(frozen=True)
class Preset:
    name: str
    help: str
    values: Mapping[str, Any]


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("monochrome", "Black, opaque strokes of one fixed width (1.5), as CLIPasso and "
           "SVGRender draw sketches.",
           {"palette": ("#000000",), "opaque": True, "stroke_width": 1.5, "min_width": 1.5,
            "max_width": 1.5, "width_lr": 0.0}),
)}
