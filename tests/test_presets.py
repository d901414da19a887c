"""Presets: named recipes that fill the options a person left unset."""

import dataclasses

import pytest

from clipdraw.options import OPTION_BY_KEY
from clipdraw.presets import PRESETS
from clipdraw.settings import DrawSettings, SettingsError

#: The "Curve Optimizer" cell of kvfrans/clipdraw's clipdraw.ipynb, read from the notebook.
NOTEBOOK = {
    "paths": 256,  # args.num_paths = 256
    "iterations": 1000,  # args.num_iter = 1000
    "max_width": 50.0,  # args.max_width = 50
    "stroke_width": 1.0,  # pydiffvg.Path(..., stroke_width=torch.tensor(1.0))
    "min_width": 1.0,  # path.stroke_width.data.clamp_(1.0, max_width)
    "min_segments": 1,  # num_segments = random.randint(1, 3)
    "max_segments": 3,
    "init_radius": 0.1,  # radius = 0.1
    "point_lr": 1.0,  # Adam(points_vars, lr=1.0)
    "width_lr": 0.1,  # Adam(stroke_width_vars, lr=0.1)
    "color_lr": 0.01,  # Adam(color_vars, lr=0.01)
    "point_lr_schedule": ((0.5, 0.4), (0.75, 0.1)),  # lr 0.4 at int(0.5 n), 0.1 at int(0.75 n)
    "num_augs": 4,  # NUM_AUGS = 4
    "distortion": 0.5,  # RandomPerspective(fill=1, p=1, distortion_scale=0.5)
    "crop_scale": (0.7, 0.9),  # RandomResizedCrop(224, scale=(0.7, 0.9))
    "clip_normalize": False,  # use_normalized_clip = False
    "view_antialias": False,  # one bilinear resampling per transform, no prefilter
    "classic_negatives": False,  # use_negative = False
    "models": ("ViT-B-32",),  # clip.load('ViT-B/32')
    "pretrained": "openai",
    "width": 224,  # canvas_width, canvas_height = 224, 224
    "height": 224,
    "shape": "strokes",
    "background": (1.0, 1.0, 1.0, 1.0),  # composited over white
}


def _settings(**options):
    return DrawSettings(prompts=("a submarine",), **options)


def test_the_notebook_preset_draws_with_the_notebooks_recipe():
    resolved = _settings(preset="notebook").validate().resolved()
    assert {k: getattr(resolved, k) for k in NOTEBOOK} == NOTEBOOK


def test_a_preset_changes_only_the_options_left_unset():
    resolved = _settings(preset="notebook", paths=64, width_lr=0.5).resolved()
    assert (resolved.paths, resolved.width_lr) == (64, 0.5)
    assert (resolved.stroke_width, resolved.max_width) == (1.0, 50.0)


def test_an_option_turned_on_explicitly_wins_over_a_preset_that_turns_it_off():
    resolved = _settings(preset="notebook", clip_normalize=True).resolved()
    assert resolved.clip_normalize is True and resolved.view_antialias is False


def test_without_a_preset_clip_sees_normalised_antialiased_views():
    resolved = _settings().resolved()
    assert resolved.clip_normalize is True and resolved.view_antialias is True


def test_an_unknown_preset_is_refused_naming_the_option():
    with pytest.raises(SettingsError) as caught:
        _settings(preset="notebok").validate()
    assert caught.value.key == "preset" and "notebook" in caught.value.problem


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_sets_valid_settings_fields(name):
    fields = {f.name for f in dataclasses.fields(DrawSettings)}
    assert set(PRESETS[name].values) <= fields - {"preset"}
    resolved = _settings(preset=name).validate().resolved()
    for key, value in PRESETS[name].values.items():
        assert getattr(resolved, key) == getattr(DrawSettings(**{key: value}), key)


def test_resolved_preset_settings_survive_a_round_trip_through_a_dict():
    resolved = _settings(preset="notebook", paths=8).resolved()
    again = DrawSettings.from_dict(resolved.to_dict()).resolved()
    assert again == resolved and again.preset == "notebook"


def test_the_preset_is_an_option_of_the_command_line_and_the_batch_file():
    from clipdraw.batch.rows import row_from_mapping

    assert OPTION_BY_KEY["preset"].parse("Notebook") == {"preset": "notebook"}
    row = row_from_mapping(1, {"prompt": "a cat", "preset": "notebook", "normalize": "yes"})
    assert row.error is None
    resolved = row.settings.resolved()
    assert (resolved.stroke_width, resolved.clip_normalize) == (1.0, True)


@pytest.mark.parametrize("preset, normalised", [(None, True), ("notebook", False)])
def test_clip_sees_normalised_images_everywhere_unless_the_notebook_preset_says_not_to(
    preset, normalised, tiny_clip, tiny_clip_config, tmp_path, monkeypatch
):
    import torch
    from helpers import tiny_settings
    from PIL import Image

    from clipdraw.initialise import random_scene
    from clipdraw.objectives import build_objectives
    from clipdraw.optimise import Optimisation

    picture = tmp_path / "red.png"
    Image.new("RGB", (16, 16), (255, 0, 0)).save(picture)
    seen = []
    encode = tiny_clip.encode_image
    monkeypatch.setattr(tiny_clip, "encode_image",
                        lambda images: seen.append(images.detach()) or encode(images))
    settings = tiny_settings(tiny_clip_config, preset=preset, image_prompt=str(picture),
                             paths=4).resolved()
    generator = torch.Generator().manual_seed(0)
    optimisation = Optimisation(random_scene(settings, generator), [settings],
                                [build_objectives(settings)], [tiny_clip], [generator])
    optimisation.step()
    optimisation.evaluate()
    assert len(seen) == 3  # the image prompt, the step's views, the evaluation
    # Normalised white is (1 - mean) / std > 1 in every channel; a white canvas shows white.
    assert all((float(images.max()) > 1.5) == normalised for images in seen)
    assert all(float(images.min()) >= 0 for images in seen) != normalised
