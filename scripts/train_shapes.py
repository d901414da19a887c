"""Train the small open_clip model that ships with clipdraw (``shapes``), or its independent judge.

Recipe: open_clip's ``CLIP`` and ``ClipLoss`` on synthetic captioned shapes
(:mod:`shapes_data`), each image seen through the same augmentation clipdraw applies when drawing
(:func:`clipdraw.augment.sample_views` / :func:`clipdraw.augment.augment`: random perspective,
random resized crop, CLIP's normalisation), AdamW with warm-up and a cosine schedule over a time
budget, one CPU thread. Images come from a pool that is partly renewed every step (rendering is
as costly as a training step on one core).

Usage::

    python scripts/train_shapes.py --arch shapes --minutes 40 --out runs/shapes --export
    python scripts/train_shapes.py --arch judge --seed 1 --minutes 22 --out runs/judge

The shipped model is the first recipe (55 min, seed 0, on data without clutter strokes) fine-tuned
on today's data (faint clipdraw-like strokes, named mess, scribble fills)::

    python scripts/train_shapes.py --arch shapes --seed 2 --minutes 47 --lr 1e-3 --warmup 50 \
        --init runs/first/shapes.json --out runs/shapes --export

``--export`` writes ``clipdraw/shipped/shapes.json`` and ``clipdraw/shipped/shapes.safetensors``
(or ``--export-dir``).

Shipped format (the one ``clipdraw.models.save_model`` writes and ``load_clip`` reads):
    ``shapes.json`` is ``{"model_cfg": ..., "preprocess_cfg": {"mean", "std"}, "clipdraw": ...}``:
    an open_clip model config (``embed_dim``, ``vision_cfg``, ``text_cfg``, as passed to
    ``open_clip.add_model_config``) whose ``text_cfg.vocab_size`` is the number of kept tokens,
    and a sidecar ``"clipdraw"`` holding ``vocab`` (the kept token ids of open_clip's
    ``SimpleTokenizer``, ascending, with 0, start and end) and, for people, ``description``,
    ``words``, ``held_out`` and ``training``. ``shapes.safetensors`` is the state dict in
    open_clip's key format, float16; row ``r`` of ``token_embedding.weight`` is token
    ``vocab[r]``. The loader
    tokenises with open_clip's tokenizer and maps ids to rows (ids keep their order, so the end
    token stays the largest and CLIP's argmax pooling is unchanged); tokens outside ``vocab`` are
    dropped. (In training they were mapped to a zero row instead, with ``filler_probability``, so
    the model is used to both: a word it does not know changes nothing.)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import open_clip
import torch
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shapes_data import COLOURS, HELD_OUT, SHAPES, make_batch, render_pairs, vocabulary  # noqa: E402,E501

from clipdraw.augment import augment, sample_views  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "clipdraw" / "shipped"
VOCAB_SIZE = 49408
CONTEXT_LENGTH = 20
CANVAS = 96

#: The architectures: the shipped model (a small ModifiedResNet) and its judge (a small ViT).
ARCHS: dict[str, dict] = {
    "shapes": {
        "embed_dim": 96,
        "vision_cfg": {"image_size": 64, "layers": [1, 1, 1, 1], "width": 16, "head_width": 32},
        "text_cfg": {"context_length": CONTEXT_LENGTH, "vocab_size": VOCAB_SIZE, "width": 96,
                     "heads": 4, "layers": 2},
    },
    "judge": {
        "embed_dim": 96,
        "vision_cfg": {"image_size": 64, "layers": 3, "width": 96, "patch_size": 8,
                       "head_width": 32},
        "text_cfg": {"context_length": CONTEXT_LENGTH, "vocab_size": VOCAB_SIZE, "width": 96,
                     "heads": 4, "layers": 2},
    },
}


@dataclass
class TrainSettings:
    """Options of one training run (see ``--help``)."""

    arch: str = "shapes"
    seed: int = 0
    minutes: float = 40.0
    batch: int = 128
    pool: int = 3072
    fresh: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup: int = 150
    plain_fraction: float = 0.1
    init: Path | None = None


class Vocabulary:
    """Maps open_clip token ids to a compact table: row 0 is the zero row of unknown tokens,
    rows 1.. are ``kept`` (sorted, so the end-of-text token stays the largest id)."""

    def __init__(self, words: list[str]) -> None:
        self.tokenizer = open_clip.SimpleTokenizer(context_length=CONTEXT_LENGTH)
        ids = {0, self.tokenizer.sot_token_id, self.tokenizer.eot_token_id}
        for word in words:
            ids.update(self.tokenizer.encode(word))
        self.kept = sorted(ids)
        self.lookup = torch.zeros(VOCAB_SIZE, dtype=torch.long)
        self.lookup[torch.tensor(self.kept)] = torch.arange(1, len(self.kept) + 1)

    def __call__(self, captions: list[str]) -> Tensor:
        return self.lookup[self.tokenizer(captions)]


def build_model(arch: str, vocab: Vocabulary) -> open_clip.CLIP:
    config = json.loads(json.dumps(ARCHS[arch]))
    config["text_cfg"]["vocab_size"] = len(vocab.kept) + 1
    model = open_clip.CLIP(**config, output_dict=True)
    table = model.token_embedding.weight
    with torch.no_grad():
        table[0] = 0
    table.register_hook(lambda grad: torch.cat([torch.zeros_like(grad[:1]), grad[1:]]))
    return model


def training_views(images: Tensor, generator: torch.Generator, plain_fraction: float) -> Tensor:
    """clipdraw's augmentation of each image (one view each), or a plain antialiased resize."""
    size = (64, 64)
    views = sample_views(generator, images.shape[0], images.shape[2], images.shape[3], size)
    out = augment(images, views, size, OPENAI_DATASET_MEAN, OPENAI_DATASET_STD)
    plain = torch.rand(images.shape[0], generator=generator) < plain_fraction
    if plain.any():
        resized = torch.nn.functional.interpolate(images[plain], size=size, mode="bicubic",
                                                  antialias=True).clamp(0, 1)
        mean = torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
        out[plain] = (resized - mean) / std
    return out


def class_prompts() -> tuple[list[str], list[tuple[str, str]]]:
    pairs = [(c, s) for c in COLOURS for s in SHAPES]
    return [f"a {c} {s}" for c, s in pairs], pairs


@torch.no_grad()
def retrieval(model: open_clip.CLIP, vocab: Vocabulary, seed: int = 12345, count: int = 384,
              ) -> dict[str, float]:
    """Top-1 accuracies on fresh single-shape images (plain resize) against the 48 prompts
    "a {colour} {shape}": all pairs, held-out pairs, colour only and shape only."""
    model.eval()
    prompts, pairs = class_prompts()
    text = torch.nn.functional.normalize(model.encode_text(vocab(prompts)), dim=-1)
    generator = torch.Generator().manual_seed(seed)

    wanted = [pairs[i % len(pairs)] for i in range(count)]
    images = render_pairs(generator, wanted, size=CANVAS)
    features = model.encode_image(training_views(images, generator, 1.0))
    best = (torch.nn.functional.normalize(features, dim=-1) @ text.T).argmax(-1).tolist()
    got = [pairs[b] for b in best]
    held = [i for i, w in enumerate(wanted) if w in HELD_OUT]
    model.train()
    return {
        "top1": sum(g == w for g, w in zip(got, wanted)) / count,
        "top1_held_out": sum(got[i] == wanted[i] for i in held) / max(len(held), 1),
        "colour": sum(g[0] == w[0] for g, w in zip(got, wanted)) / count,
        "shape": sum(g[1] == w[1] for g, w in zip(got, wanted)) / count,
    }


def export(model: open_clip.CLIP, vocab: Vocabulary, arch: str, folder: Path, name: str,
           training: dict) -> None:
    """Write ``{name}.json`` and ``{name}.safetensors`` in the shipped format (module doc)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    state["token_embedding.weight"] = state["token_embedding.weight"][1:].contiguous()
    save_file(state, str(folder / f"{name}.safetensors"), metadata={"format": "pt"})
    config = json.loads(json.dumps(ARCHS[arch]))
    config["text_cfg"]["vocab_size"] = len(vocab.kept)
    document = {
        "model_cfg": config,
        "preprocess_cfg": {"mean": list(OPENAI_DATASET_MEAN), "std": list(OPENAI_DATASET_STD)},
        "clipdraw": {
            "vocab": vocab.kept,
            "description": "a tiny CLIP trained by scripts/train_shapes.py on synthetic coloured "
                           "shapes on white (scripts/shapes_data.py); it knows nothing else",
            "words": vocabulary(),
            "held_out": [list(p) for p in HELD_OUT],
            "training": training,
        },
    }
    (folder / f"{name}.json").write_text(json.dumps(document, indent=1) + "\n")


def read_shipped(config: Path) -> dict[str, Tensor]:
    """The state dict of a model in the shipped format, with the zero row of unknown tokens
    put back in front of the token-embedding table (the layout :func:`build_model` trains)."""
    from safetensors.torch import load_file

    state = {k: v.float() for k, v in load_file(str(config.with_suffix(".safetensors"))).items()}
    table = state["token_embedding.weight"]
    state["token_embedding.weight"] = torch.cat([torch.zeros_like(table[:1]), table])
    return state


def train(settings: TrainSettings, out: Path) -> tuple[open_clip.CLIP, Vocabulary, dict]:
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(1000 + settings.seed)
    vocab = Vocabulary(vocabulary())
    model = build_model(settings.arch, vocab)
    if settings.init is not None:
        model.load_state_dict(read_shipped(settings.init))
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    other = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    optimiser = torch.optim.AdamW([{"params": decay, "weight_decay": settings.weight_decay},
                                   {"params": other, "weight_decay": 0.0}], lr=settings.lr)
    loss_fn = open_clip.ClipLoss()
    start = time.time()
    pool = make_batch(generator, settings.pool, size=CANVAS)
    images, captions = (pool.images * 255).round().to(torch.uint8), pool.captions
    print(f"pool of {settings.pool} in {time.time() - start:.0f} s", flush=True)
    start = time.time()
    budget = settings.minutes * 60
    step, last_log = 0, start
    out.mkdir(parents=True, exist_ok=True)
    while (elapsed := time.time() - start) < budget:
        fraction = elapsed / budget
        lr = settings.lr * min(1.0, (step + 1) / settings.warmup) * 0.5 * (
            1 + math.cos(math.pi * fraction))
        for group in optimiser.param_groups:
            group["lr"] = lr
        fresh = make_batch(generator, settings.fresh, size=CANVAS)
        slots = torch.randint(settings.pool, (settings.fresh,), generator=generator)
        images[slots] = (fresh.images * 255).round().to(torch.uint8)
        for slot, caption in zip(slots.tolist(), fresh.captions):
            captions[slot] = caption
        picked = torch.randperm(settings.pool, generator=generator)[: settings.batch]
        batch = images[picked].float() / 255
        views = training_views(batch, generator, settings.plain_fraction)
        tokens = vocab([captions[i] for i in picked.tolist()])
        output = model(views, tokens)
        loss = loss_fn(output["image_features"], output["text_features"], output["logit_scale"])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        step += 1
        if time.time() - last_log > 120:
            last_log = time.time()
            print(f"step {step} {elapsed / 60:.1f} min loss {loss.item():.3f} lr {lr:.2e} "
                  f"scale {model.logit_scale.exp().item():.1f}", flush=True)
            torch.save(model.state_dict(), out / "model.pt")
    torch.save(model.state_dict(), out / "model.pt")
    figures = retrieval(model, vocab)
    training = {"arch": settings.arch, "seed": settings.seed, "steps": step,
                "init": None if settings.init is None else settings.init.name,
                "minutes": round((time.time() - start) / 60, 1), "batch": settings.batch,
                "threads": torch.get_num_threads(), "retrieval": figures}
    (out / "training.json").write_text(json.dumps(training, indent=1) + "\n")
    print(json.dumps(training), flush=True)
    return model, vocab, training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(ARCHS), default="shapes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minutes", type=float, default=40.0)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pool", type=int, default=3072)
    parser.add_argument("--lr", type=float, default=TrainSettings.lr)
    parser.add_argument("--warmup", type=int, default=TrainSettings.warmup)
    parser.add_argument("--init", type=Path, default=None,
                        help="fine-tune this model (shipped format, NAME.json) instead of "
                             "starting from random weights")
    parser.add_argument("--out", type=Path, default=Path("runs/shapes"))
    parser.add_argument("--export", action="store_true", help="write the shipped files")
    parser.add_argument("--export-dir", type=Path, default=SHIPPED)
    parser.add_argument("--name", default=None, help="file stem for --export (default: arch)")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="export OUT/model.pt of a finished run instead of training")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = TrainSettings(arch=args.arch, seed=args.seed, minutes=args.minutes,
                             batch=args.batch, pool=args.pool, lr=args.lr, warmup=args.warmup,
                             init=args.init)
    if args.checkpoint:
        vocab = Vocabulary(vocabulary())
        model = build_model(args.arch, vocab)
        model.load_state_dict(torch.load(args.checkpoint, weights_only=True))
        training = json.loads((args.checkpoint.parent / "training.json").read_text())
    else:
        model, vocab, training = train(settings, args.out)
    if args.export:
        export(model, vocab, args.arch, args.export_dir, args.name or args.arch, training)


if __name__ == "__main__":
    main()
