#!/usr/bin/env python
"""Time a default drawing end to end, and count the host-device synchronisations of each step.

A CLIPDraw drawing with the default settings (224 x 224, 256 strokes, 4 views, 1000 iterations)
guided by ViT-B-32 with random weights (the weights do not change the time; nothing is
downloaded), run by the same :class:`clipdraw.optimise.Optimisation` that ``clipdraw draw``
uses. The first step (which measures the render plan and, with ``--compile``, compiles) is timed
on its own; the others are timed together and per step.

On CUDA the steps after the first run under ``torch.cuda.set_sync_debug_mode("warn")``: every
operation that makes the host wait for the device is counted, and the places in clipdraw that
cause them are listed, with how often each happened.

Usage::

    python scripts/bench_drawing.py --device cuda             # the GPU figure (goal: <= 60 s)
    python scripts/bench_drawing.py --iterations 20           # a quick CPU look
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import time
import traceback
import warnings
from collections.abc import Iterator

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from clipdraw.drawing import initial_scene  # noqa: E402
from clipdraw.models import load_clip, resolve_device  # noqa: E402
from clipdraw.objectives import build_objectives  # noqa: E402
from clipdraw.optimise import Optimisation  # noqa: E402
from clipdraw.settings import DrawSettings  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def counted_syncs(device: torch.device, places: collections.Counter) -> Iterator[None]:
    """Count, by the innermost clipdraw line that caused it, every synchronising CUDA
    operation in the block (nothing is counted on other devices)."""
    if device.type != "cuda":
        yield
        return
    shown = warnings.showwarning

    def record(message, category, filename, lineno, file=None, line=None) -> None:
        if "synchronizing" not in str(message):
            shown(message, category, filename, lineno, file, line)
            return
        frames = [f for f in traceback.extract_stack() if "clipdraw" in f.filename
                  and "bench_drawing" not in f.filename]
        where = frames[-1] if frames else None
        places[f"{where.filename.rsplit('/', 1)[-1]}:{where.lineno} {where.line}"
               if where else "outside clipdraw"] += 1

    torch.cuda.set_sync_debug_mode("warn")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = record
        try:
            yield
        finally:
            warnings.showwarning = shown
            torch.cuda.set_sync_debug_mode("default")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile", choices=("auto", "on", "off"), default="auto",
                        help="compile the renderer: auto is what `clipdraw draw` does "
                             "(on CUDA for runs of 100 steps or more)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    settings = DrawSettings(prompts=("a watercolor painting of a submarine",),
                            models=(args.model,), pretrained="none",
                            iterations=args.iterations).resolved()
    load_start = time.perf_counter()
    model = load_clip(args.model, "none", device=device)
    load_s = time.perf_counter() - load_start
    generator = torch.Generator().manual_seed(settings.seed)
    scene, trainable = initial_scene(settings, generator, device, torch.float32)
    compile = {"auto": None, "on": True, "off": False}[args.compile]
    run = Optimisation(scene, [settings], [build_objectives(settings)], [model], [generator],
                       trainable=trainable, compile=compile)
    print(f"{settings.paths} paths, {settings.width}x{settings.height}, {settings.num_augs} "
          f"views, {args.model} (random weights, loaded in {load_s:.1f} s), device {device}, "
          f"{args.iterations} iterations, renderer compiled: {run.compile}, planned renders: "
          f"{run.render_plan is not None}, {torch.get_num_threads()} threads")

    _sync(device)
    start = time.perf_counter()
    run.step()
    _sync(device)
    first_s = time.perf_counter() - start
    places: collections.Counter = collections.Counter()
    steps = []
    with counted_syncs(device, places):
        rest_start = time.perf_counter()
        while run.step_count < run.iterations:
            step_start = time.perf_counter()
            run.step()
            steps.append(time.perf_counter() - step_start)
        _sync(device)
        rest_s = time.perf_counter() - rest_start
    total = first_s + rest_s
    print(f"first step {first_s:.2f} s; the other {len(steps)} steps {rest_s:.2f} s "
          f"({rest_s / max(len(steps), 1) * 1e3:.1f} ms a step); drawing {total:.1f} s")
    if device.type == "cuda":
        count = sum(places.values())
        print(f"host-device synchronisations after the first step: {count} "
              f"({count / max(len(steps), 1):.2f} a step)")
        for place, times in places.most_common():
            print(f"  {times:6d}  {place}")
    else:
        print("host-device synchronisations: not applicable on the CPU")


if __name__ == "__main__":
    main()
