"""Time one drawing iteration, split into render, augment, CLIP forward, backward and Adam step.

Default settings (CLIPDraw's: 224 x 224, 256 strokes, 4 views) with ViT-B-32 (random weights, no
download) on this machine, on the initial scene and on the same scene with its stroke widths
spread over 2-100 px (as strokes are mid-run). The graph is cut between the stages (render ->
augment -> CLIP) so each stage's backward is timed on its own; "step" is the plain
``Optimisation.step()`` with nothing cut, for comparison. The goal: everything except CLIP (forward
and backward) at most 25% of an iteration.

Usage::

    python scripts/bench_pipeline.py [--model ViT-B-32] [--repeats 5] [--device cpu]
                                     [--stat min|median]

Each stage is reported as the minimum over the repeats by default (the sample least disturbed by
other load on a shared machine, as ``timeit`` does); ``--stat median`` for the median.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from clipdraw.drawing import initial_scene
from clipdraw.models import load_clip, resolve_device
from clipdraw.objectives import build_objectives
from clipdraw.optimise import Optimisation, deterministic_algorithms
from clipdraw.settings import DrawSettings


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def settings_views(run: Optimisation) -> int:
    return run.settings[0].num_augs


def time_stages(run: Optimisation, device: torch.device) -> dict[str, float]:
    """One iteration with the graph cut between the stages; seconds per stage."""
    times: dict[str, float] = {}
    model = run.models[0]
    clock = time.perf_counter

    def mark(name: str, start: float) -> float:
        _sync(device)
        now = clock()
        times[name] = now - start
        return now

    run.optimiser.zero_grad(set_to_none=True)
    _sync(device)
    t = clock()
    canvas = run.render(run.scene())
    t = mark("render fwd", t)
    canvas_cut = canvas.detach().requires_grad_(True)
    views = run.augment(canvas_cut, model, run.views(model))
    t = mark("augment fwd", t)
    views_cut = views.detach().requires_grad_(True)
    features = model.encode_image(views_cut).view(canvas.shape[0], settings_views(run), -1)
    total, _, _ = run.loss(canvas_cut, [features])
    t = mark("CLIP fwd", t)
    total.backward()
    t = mark("CLIP bwd", t)
    views.backward(views_cut.grad)
    t = mark("augment bwd", t)
    canvas.backward(canvas_cut.grad)
    t = mark("render bwd", t)
    run.apply_step()
    run.step_count += 1
    mark("Adam step", t)
    return times


def bench(settings: DrawSettings, model, device: torch.device, spread: bool,
          repeats: int, stat=min) -> tuple[dict[str, float], float]:
    generator = torch.Generator().manual_seed(settings.seed)
    scene, trainable = initial_scene(settings, generator, device, torch.float32)
    if spread:
        widths = 2 + 98 * torch.rand(scene.stroke_width.shape, generator=generator)
        scene = scene.replace(stroke_width=widths.to(device))
    run = Optimisation(scene, [settings], [build_objectives(settings)], [model], [generator],
                       trainable=trainable)
    with deterministic_algorithms(run.deterministic):  # as step() runs them
        time_stages(run, device)  # warm-up
        samples = [time_stages(run, device) for _ in range(repeats)]
    summary = {k: stat([s[k] for s in samples]) for k in samples[0]}
    # step() (deterministic on the CPU) interleaved with the same step without that setting,
    # so that load on a shared machine disturbs both alike.
    whole: dict[bool, list[float]] = {True: [], False: []}
    default = run.deterministic
    for _ in range(repeats):
        for deterministic in (default, False):
            run.deterministic = deterministic
            _sync(device)
            start = time.perf_counter()
            run.step()
            _sync(device)
            whole[deterministic].append(time.perf_counter() - start)
    run.deterministic = default
    summary["step() not deterministic"] = stat(whole[False])
    return summary, stat(whole[default])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--stat", choices=("min", "median"), default="min")
    args = parser.parse_args()
    stat = min if args.stat == "min" else statistics.median
    device = resolve_device(args.device)
    settings = DrawSettings(prompts=("a watercolor painting of a submarine",),
                            models=(args.model,), pretrained="none").resolved()
    model = load_clip(args.model, "none", device=device)
    print(f"{settings.paths} paths, {settings.width}x{settings.height}, {settings.num_augs} "
          f"views, {args.model} (random weights), device {device}, "
          f"{torch.get_num_threads()} threads, {args.stat} of {args.repeats}\n")
    rows = []
    for label, spread in (("initial scene (width 2 px)", False), ("widths 2-100 px", True)):
        stages, whole = bench(settings, model, device, spread, args.repeats, stat)
        rows.append((label, stages, whole))
    free = [s.pop("step() not deterministic") for _, s, _ in rows]
    names = list(rows[0][1])
    width = max(len(n) for n in names + ["non-CLIP share"]) + 2
    print("stage".ljust(width) + "".join(f"{label:>30}" for label, _, _ in rows))
    for name in names:
        print(name.ljust(width) + "".join(f"{s[name] * 1000:27.1f} ms" for _, s, _ in rows))
    print("sum".ljust(width) + "".join(f"{sum(s.values()) * 1000:27.1f} ms" for _, s, _ in rows))
    print("step() uncut".ljust(width) + "".join(f"{w * 1000:27.1f} ms" for _, _, w in rows))
    print("step() / same, not determ.".ljust(width)
          + "".join(f"{w / f:30.3f}" for (_, _, w), f in zip(rows, free)))
    shares = []
    for _, s, _ in rows:
        clip = s["CLIP fwd"] + s["CLIP bwd"]
        shares.append(1 - clip / sum(s.values()))
    print("non-CLIP share".ljust(width) + "".join(f"{v * 100:28.1f} %" for v in shares))
    print(f"\ngoal: non-CLIP share <= 25% in both -> {'met' if max(shares) <= 0.25 else 'NOT met'}")


if __name__ == "__main__":
    main()
