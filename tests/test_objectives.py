"""Objectives: text, negative and image prompts, pixel targets, ensembles."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

from clipdraw.objectives import (
    ImagePrompt,
    NegativePrompt,
    PixelTarget,
    StepInputs,
    TextPrompt,
    build_objectives,
    load_image,
    similarity,
)
from clipdraw.settings import DrawSettings


def _unit(tensor):
    return torch.nn.functional.normalize(tensor, dim=-1)


def _save(path, array):
    Image.fromarray(array).save(path)
    return path


def test_text_prompt_loss_is_minus_the_cosine_summed_over_views(tiny_clip):
    objective = TextPrompt("a cat", weight=2.0)
    target = tiny_clip.encode_text(["a cat"])[0]
    features = _unit(torch.randn(3, 32))
    inputs = StepInputs(torch.zeros(3, 8, 8), [features], [tiny_clip])
    expected = -(features @ target).sum() * 2.0
    assert torch.allclose(objective.loss(inputs), expected)
    assert torch.allclose(objective.similarity(inputs), (features @ target).mean())


def test_negative_prompts_push_away_with_their_weight(tiny_clip):
    positive, negative = TextPrompt("ugly", 0.3), NegativePrompt("ugly", 0.3)
    inputs = StepInputs(torch.zeros(3, 8, 8), [_unit(torch.randn(4, 32))], [tiny_clip])
    assert torch.allclose(negative.loss(inputs), -positive.loss(inputs))
    assert not negative.reports_similarity and positive.reports_similarity


def test_an_ensemble_averages_the_models_losses(tiny_clip):
    objective = TextPrompt("a dog")
    a, b = _unit(torch.randn(2, 32)), _unit(torch.randn(2, 32))
    target = tiny_clip.encode_text(["a dog"])[0]
    loss = objective.loss(StepInputs(torch.zeros(3, 8, 8), [a, b], [tiny_clip, tiny_clip]))
    assert torch.allclose(loss, -((a @ target).sum() + (b @ target).sum()) / 2)


def test_an_image_prompt_targets_the_images_own_embedding(tmp_path, tiny_clip):
    pixels = (np.random.default_rng(0).random((40, 40, 3)) * 255).astype(np.uint8)
    path = _save(tmp_path / "photo.png", pixels)
    objective = ImagePrompt(path)
    image = load_image(path)[None]
    features = tiny_clip.encode_image(tiny_clip.preprocess(image))
    inputs = StepInputs(torch.zeros(3, 8, 8), [features], [tiny_clip])
    assert objective.similarity(inputs).item() == pytest.approx(1.0, abs=1e-5)


def test_pixel_target_is_the_mean_squared_error_at_canvas_size(tmp_path):
    pixels = np.full((20, 30, 3), 255, np.uint8)
    objective = PixelTarget(_save(tmp_path / "white.png", pixels), weight=3.0)
    grey = torch.full((3, 10, 15), 0.5, dtype=torch.float64)
    target = objective.target(grey)
    assert target.shape == (3, 10, 15) and target.dtype == torch.float64
    inputs = StepInputs(grey, [])
    assert objective.loss(inputs).item() == pytest.approx(3 * 0.25, rel=1e-3)
    assert objective.metrics(inputs)["psnr"] == pytest.approx(10 * math.log10(4), rel=1e-3)
    assert not objective.uses_clip


def test_transparent_pixels_of_an_image_count_as_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    image = load_image(_save(tmp_path / "clear.png", rgba))
    assert torch.allclose(image, torch.ones(3, 4, 4))


def test_an_unreadable_image_is_a_value_error(tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="cannot read image"):
        ImagePrompt(path)
    with pytest.raises(ValueError, match="cannot read image"):
        PixelTarget(tmp_path / "missing.png")


def test_build_objectives_follows_the_settings(tmp_path):
    path = _save(tmp_path / "p.png", np.zeros((4, 4, 3), np.uint8))
    settings = DrawSettings(prompts=("a", "b"), prompt_weights=(1.0, 0.5), negatives=("c",),
                            negative_weight=0.2, image_prompt=str(path), target=str(path))
    objectives = build_objectives(settings)
    kinds = [type(o).__name__ for o in objectives]
    assert kinds == ["TextPrompt", "TextPrompt", "NegativePrompt", "ImagePrompt", "PixelTarget"]
    assert [o.weight for o in objectives] == [1.0, 0.5, 0.2, 1.0, 1.0]


def test_an_objective_is_complete_once_constructed(tiny_clip, tmp_path):
    """No preparation step: the same objective serves any ensemble, embedding once per model."""
    objective = TextPrompt("a boat")
    features = _unit(torch.randn(2, 32))
    first = objective.loss(StepInputs(torch.zeros(3, 8, 8), [features], [tiny_clip]))
    assert len(objective._embeddings) == 1
    again = objective.loss(StepInputs(torch.zeros(3, 8, 8), [features], [tiny_clip]))
    assert len(objective._embeddings) == 1 and torch.equal(first, again)
    with pytest.raises(ValueError, match="needs the models"):
        objective.loss(StepInputs(torch.zeros(3, 8, 8), [features]))


def test_similarity_is_the_mean_cosine_of_whole_images_to_the_texts(tiny_clip):
    images = torch.rand(2, 3, 20, 20, generator=torch.Generator().manual_seed(0))
    texts = ["a cat", "a dog"]
    features = _unit(tiny_clip.model.encode_image(tiny_clip.preprocess(images)))
    expected = (features @ tiny_clip.encode_text(texts).T).mean(-1)
    assert torch.allclose(similarity(tiny_clip, images, texts), expected, atol=1e-6)


def test_a_drawings_reported_similarity_is_the_similarity_function(tiny_clip):
    """One similarity: what a drawing reports is what best-of's judge computes."""
    from helpers import tiny_settings

    from clipdraw.drawing import draw
    from clipdraw.optimise import over_white

    drawing = draw(settings=tiny_settings("m", prompts=("a red circle", "a boat"), iterations=2),
                   clip_models=[tiny_clip])
    canvas = over_white(drawing.render()[None])
    expected = float(similarity(tiny_clip, canvas, ["a red circle", "a boat"])[0])
    assert drawing.similarity == pytest.approx(expected, abs=1e-6)
