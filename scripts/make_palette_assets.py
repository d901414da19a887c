"""Make the README's palette picture: the astronaut redrawn with 6 colours learned from it.

Pixel-target mode (no CLIP weights needed) with ``--palette-image assets/astronaut_224.png
--palette-size 6 --prune``, exactly::

    clipdraw draw --target assets/astronaut_224.png --palette-image assets/astronaut_224.png \\
        --palette-size 6 --prune --iterations 300 \\
        --replay assets/palette_astronaut_replay.mp4 -o assets/palette_astronaut.svg

Writes ``assets/palette_astronaut.svg`` (+ ``.json``), ``assets/palette_astronaut.png`` (the
photo, the learned palette and the drawing side by side) and
``assets/palette_astronaut_replay.mp4`` (the strokes drawn one by one), and
prints the PSNR, the palette, the pruned paths and the colours found in the SVG.

Usage::

    python scripts/make_palette_assets.py [--iterations N] [--paths N]
"""

from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SOURCE = "assets/astronaut_224.png"  # relative, so the metadata names no local folder
SWATCH_WIDTH = 40


def side_by_side(photo: Path, palette: list[str], drawing_png: Path, out: Path) -> None:
    """The photo, a column of the palette's colours and the drawing, in one PNG."""
    with Image.open(photo) as a, Image.open(drawing_png) as c:
        left, right = a.convert("RGB"), c.convert("RGB")
    height = left.height
    swatch = np.zeros((height, SWATCH_WIDTH, 3), dtype=np.uint8)
    bounds = np.linspace(0, height, len(palette) + 1).round().astype(int)
    for colour, top, bottom in zip(palette, bounds[:-1], bounds[1:]):
        swatch[top:bottom] = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    gap = np.full((height, 4, 3), 255, dtype=np.uint8)
    row = np.concatenate([np.asarray(left), gap, swatch, gap, np.asarray(right)], axis=1)
    Image.fromarray(row).save(out, optimize=True)


def path_colours(svg: str) -> list[str]:
    """The stroke and fill colours of the SVG's ``<path>`` elements (not its background)."""
    colours = set()
    for path in re.findall(r"<path [^>]*>", svg):
        for rgb in re.findall(r'(?:stroke|fill)="rgb\((\d+),(\d+),(\d+)\)"', path):
            colours.add("#{:02x}{:02x}{:02x}".format(*map(int, rgb)))
    return sorted(colours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--paths", type=int, default=None, help="default: the mode's 512")
    args = parser.parse_args()
    os.chdir(ROOT)
    from clipdraw.drawing import draw
    from clipdraw.replay import save_replay

    start = time.perf_counter()
    drawing = draw(target=SOURCE, palette_image=SOURCE, palette_size=6, prune=True,
                   width=224, height=224, iterations=args.iterations, paths=args.paths, seed=0,
                   device="cpu", progress=True)
    assets = ROOT / "assets"
    svg = assets / "palette_astronaut.svg"
    drawing.save(svg, png=assets / "palette_astronaut_drawing.png", json_file=True)
    palette = drawing.metrics["palette"].split(",")
    side_by_side(ROOT / SOURCE, palette, assets / "palette_astronaut_drawing.png",
                 assets / "palette_astronaut.png")
    (assets / "palette_astronaut_drawing.png").unlink()
    frames = save_replay(drawing.scene, assets / "palette_astronaut_replay.mp4")
    used = path_colours(svg.read_text())
    print(f"PSNR {drawing.metrics['psnr']:.2f} dB after {drawing.metrics['steps']} steps; "
          f"palette {drawing.metrics['palette']}; pruned {drawing.metrics['pruned']} of "
          f"{drawing.settings.paths} paths; SVG colours {','.join(used)}; replay {frames} "
          f"frames; {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
