"""DrawSettings: CLIPDraw's recipe as defaults, the painterly mode, validation, serialisation."""

import json

import pytest

from clipdraw.settings import (
    CLASSIC_NEGATIVES,
    CLIPDRAW_DEFAULTS,
    PAINTERLY_DEFAULTS,
    DrawSettings,
    ResolvedSettings,
    SettingsError,
)


def test_defaults_are_the_clipdraw_papers_recipe():
    s = DrawSettings(prompts=("a cat",)).resolved()
    assert (s.width, s.height) == (224, 224)
    assert s.paths == 256 and s.iterations == 1000
    assert (s.min_segments, s.max_segments, s.init_radius) == (1, 3, 0.1)
    assert (s.stroke_width, s.min_width, s.max_width) == (2.0, 2.0, 100.0)
    assert (s.point_lr, s.width_lr, s.color_lr) == (1.0, 0.2, 0.01)
    assert s.point_lr_schedule == ((0.5, 0.4), (0.75, 0.1))
    assert s.background == (1.0, 1.0, 1.0, 1.0)
    assert s.num_augs == 4 and s.distortion == 0.5 and s.crop_scale == (0.7, 0.9)
    assert s.models == ("ViT-B-32",) and s.pretrained == "openai"
    assert s.negative_weight == 0.3 and s.shape == "strokes"


def test_a_pixel_target_alone_switches_to_painterly_defaults():
    s = DrawSettings(target="photo.png").resolved()
    assert s.painterly and not s.uses_clip
    assert (s.paths, s.iterations, s.max_width) == (512, 500, 4.0)
    assert s.point_lr_schedule == ()
    assert set(PAINTERLY_DEFAULTS) == set(CLIPDRAW_DEFAULTS)


def test_a_pixel_target_with_a_prompt_keeps_the_clipdraw_defaults():
    s = DrawSettings(prompts=("a cat",), target="photo.png").resolved()
    assert not s.painterly and s.paths == 256


def test_explicit_options_beat_mode_defaults():
    s = DrawSettings(target="photo.png", paths=7, iterations=9, max_width=12.0).resolved()
    assert (s.paths, s.iterations, s.max_width) == (7, 9, 12.0)


def test_blobs_default_to_three_to_five_segments():
    s = DrawSettings(prompts=("a",), shape="blobs").resolved()
    assert (s.min_segments, s.max_segments) == (3, 5)


def test_an_init_svg_adds_no_random_paths_unless_asked():
    assert DrawSettings(prompts=("a",), init_svg="x.svg").resolved().paths == 0
    assert DrawSettings(prompts=("a",), init_svg="x.svg", paths=5).resolved().paths == 5


def test_to_dict_round_trips_through_json():
    s = DrawSettings(prompts=("a", "b"), prompt_weights=(1, 0.5), negatives=CLASSIC_NEGATIVES,
                     seed=7, width=100, height=60, point_lr_schedule=((0.5, 0.3),))
    again = DrawSettings.from_dict(json.loads(json.dumps(s.to_dict())))
    assert again == s
    assert again.resolved() == s.resolved()


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown settings"):
        DrawSettings.from_dict({"prompts": ["a"], "colour": "red"})


def test_a_single_string_prompt_becomes_a_tuple():
    assert DrawSettings(prompts="a cat").prompts == ("a cat",)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "nothing to draw"),
        ({"prompts": ("  ",)}, "prompts: must not be empty"),
        ({"prompts": ("a",), "negatives": ("",)}, "negatives: must not be empty"),
        ({"prompts": ("a",), "width": 0}, "width: must be at least 1, got 0"),
        ({"prompts": ("a",), "height": -3}, "height: must be at least 1, got -3"),
        ({"prompts": ("a",), "iterations": 0}, "iterations: must be at least 1"),
        ({"prompts": ("a",), "paths": 0}, "paths must be positive"),
        ({"prompts": ("a",), "paths": -1}, "paths: must be non-negative"),
        ({"prompts": ("a",), "num_augs": 0}, "num_augs"),
        ({"prompts": ("a",), "shape": "squares"}, "shape"),
        ({"prompts": ("a",), "min_width": 5, "max_width": 4}, "min_width"),
        ({"prompts": ("a",), "crop_scale": (0.9, 0.7)}, "crop_scale"),
        ({"prompts": ("a",), "background": (2, 0, 0, 1)}, "background"),
        ({"prompts": ("a", "b"), "prompt_weights": (1.0,)}, "one prompt weight"),
        ({"prompts": ("a",), "point_lr": float("nan")}, "point_lr: expected a finite number"),
        ({"prompts": ("a",), "stroke_width": float("inf")}, "stroke_width: expected a finite"),
        ({"prompts": ("a",), "prompt_weights": (float("nan"),)}, "prompts: expected a finite"),
        ({"prompts": ("a",), "seed": [1]}, "seed: expected an integer"),
        ({"prompts": ("a",), "seed": float("nan")}, "seed: expected an integer"),
        ({"prompts": ("a",), "paths": 100_000_000}, "paths: must be at most 10000"),
        ({"prompts": ("a",), "width": 100_000}, "width: must be at most 4096"),
        ({"prompts": ("a\ud800",)}, "prompts: not valid Unicode"),
        ({"prompts": ("a",), "freeze_init": True}, "freeze_init: needs --init"),
        ({"prompts": ("a",), "models": ()}, "CLIP model"),
    ],
)
def test_validate_names_the_bad_option(options, message):
    with pytest.raises(SettingsError, match=message):
        DrawSettings(**options).validate()


def test_resolved_settings_are_their_own_type_and_resolve_once():
    resolved = DrawSettings(prompts=("a",), negatives=("b::0.5", "c")).resolved()
    assert isinstance(resolved, ResolvedSettings)
    assert resolved.resolved() is resolved
    assert resolved.prompt_weights == (1.0,)


def test_classic_negatives_and_per_negative_weights_resolve_to_one_weight_each():
    s = DrawSettings(prompts=("a",), negatives=("b", "c"), negative_weights=(0.5, 0.1),
                     classic_negatives=True, negative_weight=0.2).resolved()
    assert s.negatives == ("b", "c", *CLASSIC_NEGATIVES)
    assert s.negative_weights == (0.5, 0.1, 0.2, 0.2)


def test_a_target_photo_gives_its_aspect_and_an_init_svg_its_canvas(tmp_path):
    from PIL import Image

    Image.new("RGB", (400, 200)).save(tmp_path / "wide.png")
    s = DrawSettings(target=str(tmp_path / "wide.png")).resolved()
    assert (s.width, s.height) == (224, 112)
    sized = DrawSettings(target=str(tmp_path / "wide.png"), width=64, height=64).resolved()
    assert (sized.width, sized.height) == (64, 64)
    (tmp_path / "a.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="300" '
                                     'height="120"><path d="M1 1 L50 50" stroke="red"/></svg>')
    s = DrawSettings(prompts=("a",), init_svg=str(tmp_path / "a.svg")).resolved()
    assert (s.width, s.height) == (300, 120)


def test_the_readme_options_table_is_the_schemas():
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("options_table",
                                                  root / "scripts" / "options_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "<!-- options:start -->\n" + module.table() + "\n<!-- options:end -->" in readme
