#!/usr/bin/env python
"""Benchmark clipdraw's renderer against one CLIP step, scene by scene.

For each scene (CLIPDraw-like random strokes: 1-3 cubic segments per path, start uniform on the
canvas, each next control point ``0.1 * size * (rand - 0.5)`` from the last, random RGBA colours,
white background) this prints the median forward and forward+backward time (backward of
``image.mean()``; all floating-point scene fields require grad, as during optimisation) over
``--repeats`` runs after one warm-up, the peak memory, and the ratio of the render's
forward+backward time to that of one open_clip ViT-B-32 step (random weights, forward+backward
of the mean image embedding on 4 images of 224 x 224) measured in the same invocation. The same
step with the model as clipdraw loads it (:func:`clipdraw.models.load_clip`: eval mode, weights
frozen, so the backward pass computes no weight gradients) is timed too, and its speed-up over
plain open_clip printed.

Peak memory: on CPU every scene (and CLIP) runs in a fresh subprocess and the table shows that
process's peak resident set size (``ru_maxrss``, which includes Python + torch, about the
``base`` column: the peak after imports and scene set-up, before rendering). On CUDA it shows
``torch.cuda.max_memory_allocated`` for the measured work. Timings are printed, never asserted.

With ``--plan`` each scene is also rendered with a :class:`clipdraw.render.RenderPlan`, as
optimisations on CUDA do: no host-device synchronisation inside the render.

Usage: ``python scripts/bench_render.py [--scene NAME ...] [--repeats N] [--device cpu|cuda]
[--compile] [--plan]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SCENES: dict[str, dict] = {
    "256p-224px-w2": {"paths": 256, "size": 224, "min_width": 2.0, "max_width": 2.0},
    "256p-224px-w2-100": {"paths": 256, "size": 224, "min_width": 2.0, "max_width": 100.0},
    "1024p-512px-w2-20": {"paths": 1024, "size": 512, "min_width": 2.0, "max_width": 20.0},
    # The same scene at render scale 4: a 2048 x 2048 PNG, to show memory stays bounded.
    "1024p-2048px-w2-20": {"paths": 1024, "size": 512, "min_width": 2.0, "max_width": 20.0,
                           "scale": 4.0},
}
CLIP = "clip-ViT-B-32-4x224"
FROZEN_CLIP = "clip-ViT-B-32-4x224-frozen"


def make_scene(paths: int, size: int, min_width: float, max_width: float, *, seed: int = 0,
               scale: float = 1.0):
    """A CLIPDraw-style random scene of ``paths`` strokes on a ``size`` x ``size`` canvas."""
    import torch

    from clipdraw.scene import Scene

    gen = torch.Generator().manual_seed(seed)
    segments = torch.randint(1, 4, (paths,), generator=gen)
    start = torch.rand(paths, 1, 2, generator=gen) * size
    steps = 0.1 * size * (torch.rand(paths, 9, 2, generator=gen) - 0.5)
    points = torch.cat([start, start + steps.cumsum(dim=1)], dim=1)
    widths = min_width + (max_width - min_width) * torch.rand(paths, generator=gen)
    colours = torch.rand(paths, 4, generator=gen)
    return Scene.create(points, segments, size, size, stroke_width=widths, stroke_color=colours)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _time(fn: Callable[[], None], repeats: int, device: str) -> float:
    """Median wall time of ``fn`` over ``repeats`` runs after one warm-up."""
    fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _peak_rss_mib() -> float:
    """This process's peak resident set size in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _scene_work(
    name: str, device: str, compile: bool, plan: bool = False
) -> tuple[Callable[[], None], Callable[[], None]]:
    """Forward and forward+backward closures for a named scene; with ``plan``, rendered with a
    RenderPlan (measured by the first call) and checked after each call, as an optimisation
    does."""
    from clipdraw.render import RenderPlan, render

    render_plan = RenderPlan() if plan else None

    scale = SCENES[name].get("scale", 1.0)
    scene = make_scene(**SCENES[name]).to(device)
    leaves = {field: getattr(scene, field).clone().requires_grad_(True)
              for field in ("points", "stroke_width", "stroke_color")}
    scene = scene.replace(**leaves)

    def forward() -> None:
        render(scene, scale=scale, compile=compile, plan=render_plan)
        if render_plan is not None:
            render_plan.fits()

    def forward_backward() -> None:
        for leaf in leaves.values():
            leaf.grad = None
        render(scene, scale=scale, compile=compile, plan=render_plan).mean().backward()
        if render_plan is not None:
            render_plan.fits()

    return forward, forward_backward


def _clip_work(device: str, frozen: bool = False) -> tuple[Callable[[], None],
                                                             Callable[[], None]]:
    """Forward and forward+backward closures for one random-weight ViT-B-32 step on 4 images:
    plain open_clip (training mode, weights with gradients), or ``frozen`` as clipdraw loads
    it."""
    import torch

    if frozen:
        from clipdraw.models import load_clip

        model = load_clip("ViT-B-32", "none", device=device)
    else:
        import open_clip

        model = open_clip.create_model("ViT-B-32", pretrained=None).to(device)
    images = torch.rand(4, 3, 224, 224, device=device, requires_grad=True)

    def forward() -> None:
        model.encode_image(images)

    def forward_backward() -> None:
        images.grad = None
        if not frozen:
            model.zero_grad(set_to_none=True)
        model.encode_image(images).mean().backward()

    return forward, forward_backward


def run_worker(name: str, repeats: int, device: str, compile: bool = False,
               plan: bool = False) -> dict:
    """Measure one scene (or CLIP) in this process; return a JSON-able result."""
    import torch

    torch.manual_seed(0)
    if name in (CLIP, FROZEN_CLIP):
        forward, forward_backward = _clip_work(device, frozen=name == FROZEN_CLIP)
    else:
        forward, forward_backward = _scene_work(name, device, compile, plan)
    base = _peak_rss_mib()
    if compile or plan:
        forward()  # compiling and measuring the plan happen here, outside the timed runs
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    forward_s = _time(forward, repeats, device)
    backward_s = _time(forward_backward, repeats, device)
    if device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated() / 2**20
        memory = "cuda max_memory_allocated"
    else:
        peak = _peak_rss_mib()
        memory = "process peak RSS (ru_maxrss)"
    label = name + ("+compile" if compile else "") + ("+plan" if plan else "")
    return {"name": label, "forward_s": forward_s, "forward_backward_s": backward_s,
            "peak_mib": peak, "base_mib": base, "memory": memory,
            "threads": torch.get_num_threads(), "device": device}


def _in_subprocess(name: str, repeats: int, device: str, compile: bool = False,
                   plan: bool = False) -> dict:
    """Run one measurement in a fresh interpreter so its peak memory is its own."""
    command = [sys.executable, __file__, "--worker", name, "--repeats", str(repeats),
               "--device", device, *(["--compile"] if compile else []),
               *(["--plan"] if plan else [])]
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [root, os.environ.get("PYTHONPATH")])))
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        return {"name": name, "error": (done.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _table(results: list[dict], clip: dict, frozen: dict) -> str:
    """A compact fixed-width table of the results, with render/CLIP ratios."""
    header = (f"{'scene':<28} {'fwd ms':>9} {'fwd+bwd ms':>11} {'peak MiB':>9} {'base MiB':>9} "
              f"{'fwd+bwd/CLIP':>13}")
    lines = [header, "-" * len(header)]
    clip_time = clip.get("forward_backward_s")
    for row in [*results, clip, frozen]:
        if "error" in row:
            lines.append(f"{row['name']:<28} ERROR: {row['error']}")
            continue
        ratio = (f"{row['forward_backward_s'] / clip_time:13.2f}" if clip_time else
                 f"{'n/a':>13}")
        lines.append(
            f"{row['name']:<28} {row['forward_s'] * 1e3:9.1f} "
            f"{row['forward_backward_s'] * 1e3:11.1f} {row['peak_mib']:9.0f} "
            f"{row['base_mib']:9.0f} {ratio}"
        )
    if clip_time and "forward_backward_s" in frozen:
        lines.append(f"frozen CLIP step (clipdraw's load_clip) is "
                     f"{clip_time / frozen['forward_backward_s']:.2f}x as fast as plain open_clip")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", action="append", choices=list(SCENES),
                        help="scene to run (repeatable; default: all)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--compile", action="store_true",
                        help="also time each scene with render(compile=True), as long runs use")
    parser.add_argument("--plan", action="store_true",
                        help="also time each scene rendered with a RenderPlan (no host-device "
                             "synchronisation; what optimisations on CUDA use)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.worker:
        print(json.dumps(run_worker(args.worker, args.repeats, args.device, args.compile,
                                    args.plan)))
        return 0
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            parser.error("--device cuda requested but CUDA is not available")
    names = args.scene or list(SCENES)
    clip = _in_subprocess(CLIP, args.repeats, args.device)
    frozen = _in_subprocess(FROZEN_CLIP, args.repeats, args.device)
    results = []
    for name in names:
        results.append(_in_subprocess(name, args.repeats, args.device))
        if args.compile:
            results.append(_in_subprocess(name, args.repeats, args.device, compile=True))
        if args.plan:
            results.append(_in_subprocess(name, args.repeats, args.device, compile=args.compile,
                                          plan=True))
    memory = next((r["memory"] for r in [clip, *results] if "memory" in r), "?")
    threads = next((r["threads"] for r in [clip, *results] if "threads" in r), "?")
    print(f"device {args.device}, torch threads {threads}, median of {args.repeats} runs after "
          f"1 warm-up; memory: {memory}")
    print(_table(results, clip, frozen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
