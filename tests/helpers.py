"""Shared pieces of the drawing-pipeline tests: a tiny randomly initialised open_clip model."""

from __future__ import annotations

import json
from pathlib import Path

from clipdraw.settings import DrawSettings

#: A CLIP small enough to run many steps per second on a CPU (32 px input, 32-wide towers).
TINY_CLIP_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "patch_size": 16, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}


def write_tiny_config(folder: Path, name: str = "tiny_clip.json", **changes) -> Path:
    """Write the tiny model config (optionally changed) as JSON; return its path."""
    config = json.loads(json.dumps(TINY_CLIP_CONFIG))
    for key, value in changes.items():
        config[key] = value
    path = Path(folder) / name
    path.write_text(json.dumps(config))
    return path


def tiny_settings(model: Path | str, **options) -> DrawSettings:
    """Fast settings: a 32 x 32 canvas, 8 strokes, 3 steps, 2 views, the tiny model."""
    base = dict(prompts=("a red circle",), models=(str(model),), pretrained=None, width=32,
                height=32, paths=8, iterations=3, num_augs=2, seed=0)
    base.update(options)
    return DrawSettings(**base)
