"""How well the shipped ``shapes`` model guides clipdraw, judged by an independent model.

Draws 12 prompts "a {colour} {shape}" (four of them colour-shape pairs held out of training) x 2
seeds with the shipped model through clipdraw's Python API, then ranks each drawing among the 12
prompts with the judge (a ViT trained with another seed on its own data, see
``scripts/train_shapes.py --arch judge``) and prints R-precision (own prompt ranked first), mean
rank, the prompts whose two drawings both rank below 6th, and the share of drawings whose dominant
ink colour (colours fitted with alpha over white) is the prompt's, next to the same figures for
the random starting drawings.

The judge is ``scripts/shapes_judge.json`` + ``.safetensors`` (1.2 MB; 26 min on one core, top-1
0.60 over the 48 "a {colour} {shape}" prompts on clean shapes: colour 1.00, shape 0.60). Retrain::

    python scripts/train_shapes.py --arch judge --seed 1 --minutes 26 --out runs/judge \\
        --export --export-dir scripts --name shapes_judge

Usage (drawing takes about 1.5 minutes on one busy core)::

    python scripts/eval_shapes.py [--judge scripts/shapes_judge.json] [--iterations 200] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import open_clip
import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shapes_data import COLOURS, HELD_OUT  # noqa: E402

from clipdraw.drawing import draw_batch, initial_scene  # noqa: E402
from clipdraw.models import ClipModel  # noqa: E402
from clipdraw.optimise import over_white  # noqa: E402
from clipdraw.render import render  # noqa: E402
from clipdraw.settings import DrawSettings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "clipdraw" / "shipped" / "shapes.json"
JUDGE = ROOT / "scripts" / "shapes_judge.json"

#: Every colour and shape, each shape twice; the held-out pairs come first.
PAIRS: tuple[tuple[str, str], ...] = (
    *HELD_OUT,
    ("red", "circle"), ("yellow", "square"), ("purple", "cross"), ("black", "circle"),
    ("red", "square"), ("blue", "triangle"), ("yellow", "ring"), ("green", "line"),
)
PROMPTS: tuple[str, ...] = tuple(
    f"{'an' if c[0] in 'aeiou' else 'a'} {c} {s}" for c, s in PAIRS
)
#: The documented drawing settings of the evaluation.
SETTINGS = DrawSettings(width=96, height=96, paths=8, iterations=200, num_augs=4,
                        pretrained=None)


class _DroppingTokenizer:
    """open_clip's tokenizer onto a pruned table: kept ids become rows, other tokens are dropped
    (what ``clipdraw.models.PrunedTokenizer`` does)."""

    def __init__(self, context_length: int, vocab: Sequence[int]) -> None:
        self.tokenizer = open_clip.SimpleTokenizer(context_length=context_length)
        self.rows = torch.full((49408,), -1, dtype=torch.long)
        self.rows[torch.tensor(list(vocab))] = torch.arange(len(vocab))

    def __call__(self, texts: Sequence[str]) -> Tensor:
        rows = self.rows[self.tokenizer(list(texts))]
        order = torch.argsort((rows < 0).to(torch.uint8), dim=1, stable=True)
        return rows.gather(1, order).clamp_min(0)


def load_model(config: str | Path) -> ClipModel:
    """A model in the shipped format (``NAME.json`` + ``NAME.safetensors``), through
    :func:`clipdraw.models.load_clip` when it reads that format, else built here."""
    import clipdraw.models as models

    if hasattr(models, "PrunedTokenizer"):
        return models.load_clip(str(config), None)
    from safetensors.torch import load_file

    config = Path(config)
    document = json.loads(config.read_text())
    model = open_clip.CLIP(**document["model_cfg"])
    state = load_file(str(config.with_suffix(".safetensors")))
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    model.eval().requires_grad_(False)
    size = document["model_cfg"]["vision_cfg"]["image_size"]
    preprocess = document["preprocess_cfg"]
    tokenizer = _DroppingTokenizer(document["model_cfg"]["text_cfg"]["context_length"],
                                   document["clipdraw"]["vocab"])
    return ClipModel(model, tokenizer, (size, size), tuple(preprocess["mean"]),
                     tuple(preprocess["std"]), str(config))


def dominant_colour(image: Tensor, palette: dict[str, tuple[float, float, float]] = COLOURS,
                    *, ink: float = 0.15) -> str | None:
    """The palette colour that explains most ink of an RGB image over white.

    Each pixel ``p`` is fitted as ``alpha * c + (1 - alpha) * white`` for every palette colour
    ``c`` (least squares in ``alpha`` in [0, 1]); an ink pixel (some channel below ``1 - ink``)
    goes to the colour with the smallest residual, weighted by its ``alpha``. ``None`` for a blank
    image.

    Shape:
        - image: :math:`(3, H, W)` in [0, 1].
    """
    names = list(palette)
    away = torch.tensor([palette[n] for n in names], dtype=image.dtype) - 1  # (C, 3)
    pixels = image.reshape(3, -1).T - 1  # (P, 3)
    pixels = pixels[pixels.min(-1).values < -ink]
    if not len(pixels):
        return None
    alpha = (pixels @ away.T / away.square().sum(-1)).clamp(0, 1)  # (P, C)
    residual = (pixels[:, None] - alpha[..., None] * away).square().sum(-1)
    best = residual.argmin(-1)
    weight = torch.zeros(len(names), dtype=image.dtype).index_add_(
        0, best, alpha.gather(1, best[:, None])[:, 0])
    return names[int(weight.argmax())]


@torch.no_grad()
def judge_ranks(judge: ClipModel, images: Tensor, prompts: Sequence[str], own: Sequence[int]
                ) -> list[int]:
    """Rank (1 = best) of each image's own prompt among ``prompts`` under ``judge``.

    Shape:
        - images: :math:`(N, 3, H, W)` RGB over white.
    """
    text = judge.encode_text(prompts)
    similarity = judge.encode_image(judge.preprocess(images)) @ text.T
    own_score = similarity[torch.arange(len(own)), torch.tensor(own)]
    return (1 + (similarity > own_score[:, None]).sum(-1)).tolist()


def figures(judge: ClipModel, images: Tensor, own: Sequence[int]) -> dict[str, object]:
    """R-precision, mean rank, prompts failed by both drawings, colour accuracy."""
    ranks = judge_ranks(judge, images, PROMPTS, own)
    colours = [dominant_colour(image) for image in images]
    both_low = [PROMPTS[p] for p in sorted(set(own))
                if all(r > 6 for r, o in zip(ranks, own) if o == p)]
    return {
        "r_precision": sum(r == 1 for r in ranks) / len(ranks),
        "mean_rank": sum(ranks) / len(ranks),
        "colour_correct": sum(c == PAIRS[o][0] for c, o in zip(colours, own)) / len(own),
        "both_below_6th": both_low,
        "ranks": ranks,
        "colours": colours,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judge", type=Path, default=JUDGE,
                        help="the judge's NAME.json ('none': draw, and print colours only)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="drawings saved here by an earlier run are judged instead of redrawn")
    parser.add_argument("--model", type=Path, default=SHIPPED, help="the guiding model's JSON")
    parser.add_argument("--iterations", type=int, default=SETTINGS.iterations)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="save the drawings here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = [SETTINGS.replace(prompts=(p,), seed=s, iterations=args.iterations,
                                 models=(str(args.model),))
                for s in args.seeds for p in PROMPTS]
    own = [i for _ in args.seeds for i in range(len(PROMPTS))]
    drawings: list = []
    if args.cache is not None and args.cache.is_file():
        saved = torch.load(args.cache, weights_only=True)
        drawn, seconds = saved["drawn"], float(saved["seconds"])
    else:
        start = time.time()
        drawings = draw_batch(settings, device="cpu", clip_models=[load_model(args.model)])
        seconds = time.time() - start
        drawn = over_white(torch.stack([d.render() for d in drawings]))
        if args.cache is not None:
            torch.save({"drawn": drawn, "seconds": seconds}, args.cache)
    starts = []
    for s in settings:
        scene, _ = initial_scene(s.resolved(), torch.Generator().manual_seed(s.seed),
                                 torch.device("cpu"), torch.float32)
        starts.append(over_white(render(scene))[0])
    if str(args.judge) == "none":
        colours = [dominant_colour(image) for image in drawn]
        right = sum(c == PAIRS[o][0] for c, o in zip(colours, own)) / len(own)
        print(f"colour correct {right:.2f} ({len(drawn)} drawings in {seconds:.0f} s): {colours}")
        return
    judge = load_model(args.judge)
    result = {
        "settings": {k: v for k, v in SETTINGS.replace(iterations=args.iterations).to_dict()
                     .items() if k in ("width", "height", "paths", "iterations", "num_augs")},
        "seeds": args.seeds,
        "seconds": round(seconds, 1),
        "drawings": figures(judge, drawn, own),
        "random_starts": figures(judge, torch.stack(starts), own),
    }
    for name in ("drawings", "random_starts"):
        f = result[name]
        print(f"{name:14s} R-precision {f['r_precision']:.2f}  mean rank {f['mean_rank']:.2f}  "
              f"colour correct {f['colour_correct']:.2f}  both below 6th: "
              f"{', '.join(f['both_below_6th']) or 'none'}")
    print(f"(chance: R-precision {1 / len(PROMPTS):.2f}, mean rank {(len(PROMPTS) + 1) / 2:.1f}; "
          f"{len(drawn)} drawings in {seconds:.0f} s)")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for drawing, s in zip(drawings, settings):
            stem = s.prompts[0].replace(" ", "_") + f"_seed{s.seed}"
            drawing.save(args.out / f"{stem}.svg", json_file=False, png_scale=2)
        (args.out / "figures.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
