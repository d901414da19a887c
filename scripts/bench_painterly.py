"""diffvg's painterly-rendering example, head to head: strokes fitted to a photo by MSE.

The recipe of diffvg's ``painterly_rendering.py`` (512 open paths of 1-3 segments started within
0.05 x canvas, width 2 px clamped to [2, 4], random RGBA, Adam with learning rates 1.0 points /
0.1 half-widths (0.2 full widths) / 0.01 colours, 500 iterations, over white) on
``assets/astronaut_224.png``. Prints the PSNR along the way and the wall time next to diffvg's
figures measured on a 2-core CPU like this one (``../shared/anchors.md``), and the ratio.

Usage::

    python scripts/bench_painterly.py [--iterations 500] [--device cpu] [--out painterly.svg]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch

from clipdraw.drawing import draw

ROOT = Path(__file__).resolve().parent.parent
# diffvg, CPU, 2 cores: PSNR (dB) after N iterations, and the whole run's seconds.
DIFFVG_PSNR = {50: 18.7, 100: 22.0, 200: 23.7, 300: 24.3, 400: 24.5, 500: 24.88}
DIFFVG_SECONDS = 2049.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=Path, default=ROOT / "assets" / "astronaut_224.png")
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="also save the drawing here")
    args = parser.parse_args()

    psnr: dict[int, float] = {}

    def record(info) -> None:
        # The loss of step k is the MSE of the canvas before its update: k - 1 updates done.
        psnr[info.step - 1] = 10 * math.log10(1 / max(info.losses[0], 1e-12))

    start = time.perf_counter()
    drawing = draw(target=str(args.target), iterations=args.iterations, seed=args.seed,
                   device=args.device, callbacks=[record])
    seconds = time.perf_counter() - start
    psnr[args.iterations] = drawing.metrics["psnr"]

    print(f"painterly rendering, {args.target.name}, {args.iterations} iterations, "
          f"device {args.device}, {torch.get_num_threads()} threads")
    print(f"{'iterations':>10} {'clipdraw PSNR':>14} {'diffvg PSNR':>12}")
    for step in sorted(set(DIFFVG_PSNR) | {args.iterations}):
        if step in psnr:
            reference = DIFFVG_PSNR.get(step)
            ref = f"{reference:.2f}" if reference is not None else "-"
            print(f"{step:>10} {psnr[step]:>14.2f} {ref:>12}")
    print(f"wall time: clipdraw {seconds:.0f} s, diffvg {DIFFVG_SECONDS:.0f} s "
          f"(500 iterations): {DIFFVG_SECONDS / seconds * args.iterations / 500:.1f}x "
          f"faster per iteration")
    if args.out is not None:
        drawing.save(args.out)


if __name__ == "__main__":
    main()
