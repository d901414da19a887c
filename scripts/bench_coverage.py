#!/usr/bin/env python
"""How much of a canvas its augmented views reach: gradient coverage by canvas size, before and
after view antialiasing, in one run.

For each canvas size (224, 512, 1024 px by default) and each of ``--steps`` steps, this samples
``--views`` views per step as a drawing does (CLIPDraw's perspective 0.5 and crop 0.7-0.9, one
``torch.Generator`` seeded per step, a 224 px model input), warps a random canvas to them with
:func:`clipdraw.augment.augment` without (``before``) and with (``after``) ``antialias``,
backpropagates the sum of the views and counts the canvas pixels whose gradient is non-zero.
The gradient of any loss of the views (CLIP's included) reaches a canvas pixel only through
these warp weights, so this is the most a step can reach. It prints the mean and the smallest
fraction over the steps, for all views and for one view alone, and the time of the warp's
forward and backward after/before (a ratio measured in this run, on this machine).

With ``--figure PATH`` it also writes a PNG of one step's per-pixel gradient magnitude over the
centre of the largest canvas, before and after, side by side (log scale; black: no gradient).

Usage: ``python scripts/bench_coverage.py [--sizes 224 512 1024] [--views 4] [--steps 20]
[--figure assets/view_coverage.png]``
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import Tensor

from clipdraw.augment import augment, sample_views

MODEL_SIZE = (224, 224)


def coverage(size: int, views: int, seed: int, antialias: bool) -> tuple[Tensor, float]:
    """Per-pixel gradient magnitude of the sum of ``views`` views of a ``size`` px canvas, and
    the seconds the warp's forward and backward took.

    Shape:
        - Output: :math:`(size, size)`
    """
    canvas = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(seed),
                        requires_grad=True)
    homographies = sample_views(torch.Generator().manual_seed(seed), views, size, size,
                                MODEL_SIZE)
    start = time.perf_counter()
    augment(canvas, homographies, MODEL_SIZE, antialias=antialias).sum().backward()
    seconds = time.perf_counter() - start
    return canvas.grad.abs().sum(1)[0], seconds



def figure(path: str, size: int, views: int, seed: int, *, crop: int = 128, zoom: int = 3) -> None:
    """Before | after maps of one step's per-pixel gradient magnitude over the central
    ``crop`` x ``crop`` pixels of the canvas, each pixel shown ``zoom`` x ``zoom`` (black: no
    gradient; brighter: more, on a log scale shared by both)."""
    from clipdraw.io import save_png

    maps = [coverage(size, views, seed, antialias)[0] for antialias in (False, True)]
    start = (size - crop) // 2
    maps = [m[start : start + crop, start : start + crop] for m in maps]
    logs = [torch.log10(m.clamp_min(1e-12)) for m in maps]
    low = min(float(g[m > 0].min()) for g, m in zip(logs, maps))
    high = max(float(g.max()) for g in logs)
    panels = [torch.where(m > 0, 0.3 + 0.7 * (g - low) / max(high - low, 1e-12), 0.0)
              for g, m in zip(logs, maps)]
    panels = [p.repeat_interleave(zoom, 0).repeat_interleave(zoom, 1) for p in panels]
    image = torch.cat([panels[0], torch.ones(crop * zoom, 4 * zoom), panels[1]], dim=1)
    save_png(torch.stack([image, image, image, torch.ones_like(image)]), path)
    covered = [float((m > 0).float().mean()) for m in maps]
    print(f"wrote {path}: the central {crop} px of a {size} px canvas, {views} views, seed "
          f"{seed}; left before ({100 * covered[0]:.1f}% covered), right after "
          f"({100 * covered[1]:.1f}%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 512, 1024])
    parser.add_argument("--views", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--figure", default=None, help="write the coverage maps to this PNG")
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"fraction of canvas pixels with non-zero gradient per step ({args.views} views, "
          f"{args.steps} steps; mean / min), and warp time after/before")
    print(f"{'canvas':>8} | {'before':>13} | {'after':>13} | {'1 view before':>13} | "
          f"{'1 view after':>13} | time")
    for size in args.sizes:
        row, times = [], {False: 0.0, True: 0.0}
        for views in (args.views, 1):
            for antialias in (False, True):
                fractions = []
                for step in range(args.steps):
                    grad, seconds = coverage(size, views, step, antialias)
                    fractions.append(float((grad > 0).float().mean()))
                    times[antialias] += seconds
                row.append(f"{100 * sum(fractions) / len(fractions):5.1f}% / "
                           f"{100 * min(fractions):4.1f}%")
        print(f"{size:>5} px | " + " | ".join(row) + f" | {times[True] / times[False]:.2f}x")
    if args.figure:
        figure(args.figure, max(args.sizes), args.views, 0)


if __name__ == "__main__":
    main()
