"""End to end: the model shipped in ``clipdraw/shipped/`` guides drawings to show their prompts.

The independent check is the dominant ink colour of each drawing, found by fitting every pixel as
a palette colour with alpha over white (no CLIP model involved). It breaks if the augmentations,
the normalisation, the channel order, the tokenisation or the loss sign break.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from clipdraw.drawing import draw_batch
from clipdraw.optimise import over_white
from clipdraw.settings import DrawSettings

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "clipdraw" / "shipped" / "shapes.json"

#: Prototype colours the model was taught (independent of the training code on purpose).
PALETTE = {
    "red": (0.88, 0.10, 0.10), "green": (0.10, 0.62, 0.15), "blue": (0.10, 0.22, 0.88),
    "yellow": (0.97, 0.86, 0.08), "orange": (1.00, 0.55, 0.00), "purple": (0.55, 0.15, 0.70),
    "black": (0.05, 0.05, 0.05), "pink": (1.00, 0.50, 0.75),
}
PROMPTS = {
    "a red circle": "red", "a blue square": "blue", "a green line": "green",
    "a yellow triangle": "yellow", "a purple cross": "purple", "a black ring": "black",
}
#: Small settings (a quick colour learning rate, so 30 steps settle the colours): about 25 s for
#: all six drawings on a busy two-core CPU.
FAST = DrawSettings(width=64, height=64, paths=16, iterations=30, color_lr=0.03, num_augs=4,
                    pretrained=None)


def dominant_colour(image: torch.Tensor) -> str | None:
    """The palette colour explaining most ink of an RGB image over white (alpha-weighted votes of
    pixels fitted as ``alpha * colour + (1 - alpha) * white``); ``None`` when blank."""
    names = list(PALETTE)
    away = torch.tensor([PALETTE[n] for n in names]) - 1
    pixels = image.reshape(3, -1).T - 1
    pixels = pixels[pixels.min(-1).values < -0.15]
    if not len(pixels):
        return None
    alpha = (pixels @ away.T / away.square().sum(-1)).clamp(0, 1)
    residual = (pixels[:, None] - alpha[..., None] * away).square().sum(-1)
    best = residual.argmin(-1)
    votes = torch.zeros(len(names)).index_add_(0, best, alpha.gather(1, best[:, None])[:, 0])
    return names[int(votes.argmax())]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: on a busy two-core machine a second one costs more than it gives."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def shapes_model():
    import clipdraw.models as models

    if hasattr(models, "shipped_models"):
        return models.load_clip("shapes", None)
    # Until clipdraw.models reads the shipped format: the same reader as the evaluation script.
    sys.path.insert(0, str(ROOT / "scripts"))
    from eval_shapes import load_model

    return load_model(SHIPPED)


def draw_prompts(model, **changes) -> dict[str, str | None]:
    settings = [FAST.replace(prompts=(p,), models=(str(SHIPPED),), seed=i, **changes)
                for i, p in enumerate(PROMPTS)]
    drawings = draw_batch(settings, device="cpu", clip_models=[model])
    images = over_white(torch.stack([d.render() for d in drawings]))
    return {p: dominant_colour(image) for p, image in zip(PROMPTS, images)}


def test_palette_check_finds_the_colour_of_a_translucent_stroke_over_white():
    image = torch.ones(3, 8, 8)
    image[:, 2:5] = 0.4 * torch.tensor(PALETTE["purple"])[:, None, None] + 0.6
    assert dominant_colour(image) == "purple"
    assert dominant_colour(torch.ones(3, 8, 8)) is None


def test_shipped_model_draws_the_colour_of_its_prompt(shapes_model):
    found = draw_prompts(shapes_model)
    right = [p for p, colour in found.items() if colour == PROMPTS[p]]
    assert len(right) >= 5, f"dominant colours {found}"
