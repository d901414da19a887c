"""Make ``assets/renderer_vs_cairo.png``: a CLIPDraw-like scene drawn by clipdraw's renderer, by
cairo (what Inkscape draws with) from the SVG clipdraw writes, and their difference x10.

Usage::

    python scripts/make_renderer_demo.py [--out assets/renderer_vs_cairo.png]
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from clipdraw.render import render
from clipdraw.scene import Scene
from clipdraw.svg import scene_to_svg

ROOT = Path(__file__).resolve().parent.parent


def clipdraw_like_scene(paths: int = 96, size: int = 224, seed: int = 3) -> Scene:
    """Random strokes of 1-3 segments as mid-run: widths 2-30 px, translucent colours."""
    generator = torch.Generator().manual_seed(seed)
    segments = torch.randint(1, 4, (paths,), generator=generator)
    start = torch.rand(paths, 1, 2, generator=generator) * size
    steps = 0.25 * size * (torch.rand(paths, 9, 2, generator=generator) - 0.5)
    points = torch.cat([start, start + steps.cumsum(dim=1)], dim=1)
    widths = 2 + 28 * torch.rand(paths, generator=generator) ** 2
    colours = torch.rand(paths, 4, generator=generator)
    colours[:, 3] = 0.35 + 0.65 * colours[:, 3]
    return Scene.create(points, segments, size, size, stroke_width=widths, stroke_color=colours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "renderer_vs_cairo.png")
    args = parser.parse_args()
    import cairosvg

    scene = clipdraw_like_scene()
    ours = render(scene)[0, :3].permute(1, 2, 0).numpy() * 255
    svg = scene_to_svg(scene, precision=3)
    png = cairosvg.svg2png(bytestring=svg.encode(), output_width=scene.width,
                           output_height=scene.height)
    theirs = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float64)
    difference = np.abs(ours - theirs)
    print(f"clipdraw vs cairo: mean {difference.mean():.2f}/255, "
          f"p99 {np.percentile(difference, 99):.2f}/255")
    gap = np.full((scene.height, 4, 3), 255.0)
    strip = np.concatenate([ours, gap, theirs, gap, 255 - np.clip(10 * difference, 0, 255)], 1)
    Image.fromarray(np.round(strip).astype(np.uint8)).save(args.out, optimize=True)
    print(args.out)


if __name__ == "__main__":
    main()
