"""Make the README picture: text-prompt drawings by the shipped ``shapes`` model.

Draws a few prompts with clipdraw's Python API at the evaluation's settings (96 px canvas, 8
strokes, 200 iterations, seed 0: ``clipdraw draw PROMPT --model shapes --size 96 --paths 8
--iterations 200``), and lays them out in
one labelled PNG, ``assets/shapes_drawings.png`` (each drawing rendered at 2x).

Usage::

    python scripts/make_shapes_assets.py [--out assets/shapes_drawings.png] [--iterations 200]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_shapes import SETTINGS, SHIPPED, load_model  # noqa: E402

from clipdraw.drawing import draw_batch  # noqa: E402
from clipdraw.optimise import over_white  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = ("a red circle", "a blue square", "a green triangle", "an orange ring",
           "a purple cross", "a black line")
SCALE = 2
LABEL_HEIGHT = 22


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "shapes_drawings.png")
    parser.add_argument("--iterations", type=int, default=SETTINGS.iterations)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(SHIPPED)
    settings = [SETTINGS.replace(prompts=(p,), iterations=args.iterations, models=("shapes",))
                for p in PROMPTS]
    drawings = draw_batch(settings, device="cpu", clip_models=[model])
    images = over_white(torch.stack([d.render(scale=SCALE) for d in drawings]))
    side = images.shape[-1]
    sheet = Image.new("RGB", (side * len(PROMPTS), side + LABEL_HEIGHT), "white")
    pen = ImageDraw.Draw(sheet)
    for i, (prompt, image) in enumerate(zip(PROMPTS, images)):
        pixels = (image.permute(1, 2, 0) * 255 + 0.5).clamp(0, 255).byte().numpy()
        sheet.paste(Image.fromarray(pixels), (i * side, LABEL_HEIGHT))
        pen.text((i * side + 4, 4), prompt, fill="black")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
