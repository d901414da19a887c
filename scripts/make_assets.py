"""Make the small images in ``assets/``.

- ``assets/astronaut_48.png``: the pixel target of the PSNR test (tests/test_drawing.py),
  scikit-image's astronaut (``assets/astronaut_224.png``, public domain, or ``--source``)
  resized to 48 x 48 with antialiasing.
- ``assets/painterly_astronaut.png`` (with ``--readme``): the README picture, the astronaut
  redrawn by pixel-target mode, exactly what ``clipdraw draw --target assets/astronaut_224.png``
  does (diffvg's painterly rendering: 512 strokes, 500 iterations).

Usage::

    python scripts/make_assets.py [--source PATH] [--readme] [--iterations N]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT / "assets" / "astronaut_224.png"
TARGET_SIZE = 48


def make_target(source: Path, out: Path) -> Path:
    """Resize the source image to ``TARGET_SIZE`` squared (Lanczos) and save it as PNG."""
    with Image.open(source) as image:
        small = image.convert("RGB").resize((TARGET_SIZE, TARGET_SIZE), Image.LANCZOS)
    small.save(out, format="PNG", optimize=True)
    return out


def make_readme_picture(source: Path, out: Path, iterations: int | None) -> None:
    """Redraw ``source`` with pixel-target mode at 224 px; save SVG, PNG and JSON beside ``out``."""
    from clipdraw.drawing import draw

    # A path relative to the repository, so the drawing's metadata holds no local folders.
    target = os.path.relpath(source, ROOT) if source.is_relative_to(ROOT) else str(source)
    os.chdir(ROOT)
    drawing = draw(target=target, width=224, height=224, iterations=iterations, seed=0,
                   device="cpu", progress=True)
    drawing.save(out.with_suffix(".svg"), png=out, json_file=True)
    print(f"PSNR {drawing.metrics['psnr']:.2f} dB after {drawing.metrics['steps']} steps "
          f"in {drawing.seconds:.0f} s -> {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--readme", action="store_true", help="also make the README picture")
    parser.add_argument("--iterations", type=int, default=None,
                        help="iterations of the README picture (default: the mode's 500)")
    args = parser.parse_args()
    assets = ROOT / "assets"
    assets.mkdir(exist_ok=True)
    print(make_target(args.source, assets / f"astronaut_{TARGET_SIZE}.png"))
    if args.readme:
        make_readme_picture(args.source, assets / "painterly_astronaut.png", args.iterations)


if __name__ == "__main__":
    main()
