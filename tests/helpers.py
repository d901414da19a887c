"""Shared pieces of the tests: a tiny randomly initialised open_clip model, small scenes."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from clipdraw.scene import FillRule, LineCap, Scene
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


def random_strokes(width: float = 6.0, count: int = 24) -> Scene:
    """Open strokes of 1-3 segments, widths spread up to 1.2 ``width``, on a 48 x 40 canvas."""
    generator = torch.Generator().manual_seed(4)
    start = torch.rand(count, 1, 2, generator=generator) * 48
    steps = (torch.rand(count, 9, 2, generator=generator) - 0.5) * 12
    return Scene.create(torch.cat([start, start + steps.cumsum(1)], 1),
                        torch.randint(1, 4, (count,), generator=generator), 48, 40,
                        stroke_width=width * (0.2 + torch.rand(count, generator=generator)),
                        stroke_color=torch.rand(count, 4, generator=generator))


def fills_and_caps() -> Scene:
    """An open butt-capped stroke, and a compound shape (square-capped, evenodd, with a hole)
    filled and stroked, on a 36 x 30 canvas."""
    points = torch.zeros(3, 10, 2)
    points[0, :4] = torch.tensor([[3.0, 3], [12, 3], [21, 3], [27, 3]])
    points[1, :6] = torch.tensor([[3.0, 15], [27, 15], [27, 27], [15, 27], [3, 27], [3, 21]])
    points[2, :6] = points[1, :6] * 0.5 + 6
    return Scene.create(
        points, torch.tensor([1, 2, 2]), 36, 30, closed=torch.tensor([False, True, True]),
        stroke_width=torch.tensor([9.0, 6.0, 6.0]),
        stroke_color=torch.tensor([[1.0, 0, 0, 0.7]] * 3),
        fill_color=torch.tensor([[0.0, 0, 1, 0.5]] * 3),
        fill_rule=torch.tensor([FillRule.NONZERO, FillRule.EVENODD, FillRule.EVENODD]),
        compound=torch.tensor([0, 1, 1]),
        linecap=torch.tensor([[LineCap.BUTT, LineCap.ROUND, LineCap.SQUARE]]),
    )
