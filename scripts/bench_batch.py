"""Throughput of `clipdraw batch` at several batch sizes: drawings per hour, and the ratio to K=1.

Each measurement runs :func:`clipdraw.batch.run_batch` end to end (optimisation plus SVG/PNG/JSON
and manifest writes) on the same N drawings (distinct prompts and seeds) into a fresh folder.
Models are loaded and the code warmed up before timing, so the figures are steady-state.

Models (no download needed; random weights, so only speed is meaningful):
    tiny      a 32 px, 32-wide open_clip config (the test model); fast on any CPU.
    ViT-B-32  open_clip's ViT-B-32 architecture with random weights (CLIPDraw's model).

Usage:
    python scripts/bench_batch.py                       # tiny on CPU (and CUDA if present)
    python scripts/bench_batch.py --model ViT-B-32 --canvas 224 --paths 256 --devices cuda
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from clipdraw.batch.run import pipeline_draw_fn, run_batch  # noqa: E402
from clipdraw.settings import DrawSettings  # noqa: E402

TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "patch_size": 16,
                   "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2,
                 "layers": 2},
}

PROMPTS = [
    "a red apple", "a blue bicycle", "a watercolor submarine", "a cat on a mat",
    "a lighthouse at night", "a bowl of ramen", "a dragon made of leaves", "a city skyline",
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="'tiny', or an open_clip architecture "
                        "name (random weights)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--drawings", type=int, default=16, help="drawings per measurement")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--paths", type=int, default=16)
    parser.add_argument("--canvas", type=int, default=64, help="canvas side in pixels")
    parser.add_argument("--num-augs", type=int, default=4)
    parser.add_argument("--devices", nargs="+", default=None,
                        help="default: cpu, plus cuda when available")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return parser.parse_args()


def base_settings(args: argparse.Namespace, folder: Path) -> tuple[DrawSettings, str]:
    """Settings for the benchmark and a description of the model used."""
    if args.model == "tiny":
        config = folder / "tiny-clip.json"
        config.write_text(json.dumps(TINY_CLIP))
        model, described = str(config), "tiny open_clip config (32 px, random weights)"
    else:
        model, described = args.model, f"{args.model} (random weights)"
    settings = DrawSettings(models=(model,), pretrained="none", width=args.canvas,
                            height=args.canvas, paths=args.paths, iterations=args.iterations,
                            num_augs=args.num_augs)
    return settings, described


def rows(base: DrawSettings, count: int) -> list[DrawSettings]:
    return [base.replace(prompts=(PROMPTS[i % len(PROMPTS)],), seed=i) for i in range(count)]


def measure(settings: list[DrawSettings], batch_size: int, device: str, drawer,
            folder: Path) -> float:
    """Seconds for run_batch to draw and save ``settings`` at ``batch_size``."""
    out = Path(tempfile.mkdtemp(prefix=f"k{batch_size}-", dir=folder))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    summary = run_batch(settings, out, batch_size=batch_size, device=device, draw_fn=drawer)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    if summary.ok != len(settings):
        raise RuntimeError(f"{summary.failed} drawings failed: {summary.entries[:1]}")
    return elapsed


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.devices or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base, described = base_settings(args, folder)
        print(f"model: {described}; canvas {args.canvas}px, {args.paths} paths, "
              f"{args.iterations} iterations, {args.num_augs} views, "
              f"{args.drawings} drawings per measurement; torch threads "
              f"{torch.get_num_threads()}")
        for device in devices:
            name = torch.cuda.get_device_name() if device.startswith("cuda") else "cpu"
            drawer = pipeline_draw_fn(device)
            warm = rows(base.replace(iterations=2), max(args.sizes))
            measure(warm[:1], 1, device, drawer, folder)  # load the model
            measure(warm, max(args.sizes), device, drawer, folder)  # warm the kernels
            results = {}
            for size in args.sizes:
                seconds = measure(rows(base, args.drawings), size, device, drawer, folder)
                results[size] = args.drawings / seconds * 3600
            reference = results.get(1, results[args.sizes[0]])
            print(f"\n{device} ({name})")
            print(f"{'batch':>6} {'drawings/hour':>14} {'vs K=1':>8}")
            for size, rate in results.items():
                print(f"{size:>6} {rate:>14.0f} {rate / reference:>7.2f}x")


if __name__ == "__main__":
    main()
