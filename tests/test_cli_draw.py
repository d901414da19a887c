"""`clipdraw draw` on the command line (click's CliRunner): files, options, errors, Ctrl-C."""

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from clipdraw.cli import cli
from clipdraw.optimise import Optimisation
from clipdraw.svg import load_svg, read_svg_metadata

ASSETS = Path(__file__).resolve().parent.parent / "assets"
FAST = ["--size", "32x24", "--paths", "6", "--iterations", "2", "--num-augs", "2", "-q"]


def _run(args):
    return CliRunner().invoke(cli, ["draw", *args], catch_exceptions=False)


def test_draw_writes_svg_png_and_json_with_the_settings(tmp_path, tiny_clip_config):
    out = tmp_path / "cat.svg"
    result = CliRunner().invoke(cli, ["draw", "a cat::2", "a hat", "--model",
                                      str(tiny_clip_config), "--classic-negatives", "--seed",
                                      "4", "-o", str(out), "--png-scale", "2", *FAST[:-1]])
    assert result.exit_code == 0, result.output
    assert "CLIP similarity" in result.output and "2 steps" in result.output
    from PIL import Image

    with Image.open(tmp_path / "cat.png") as png:
        assert png.size == (64, 48)
    meta = read_svg_metadata(out)
    assert meta == json.loads((tmp_path / "cat.json").read_text())
    s = meta["settings"]
    assert s["prompts"] == ["a cat", "a hat"] and s["prompt_weights"] == [2.0, 1.0]
    assert s["negatives"] == ["A badly drawn sketch.", "Many ugly, messy drawings."]
    assert s["seed"] == 4 and s["models"] == [str(tiny_clip_config)]
    assert load_svg(out).num_paths == 6


def test_same_seed_same_svg_on_the_command_line(tmp_path, tiny_clip_config):
    for name in ("a", "b"):
        result = _run(["a boat", "--model", str(tiny_clip_config), "-o",
                       str(tmp_path / f"{name}.svg"), *FAST])
        assert result.exit_code == 0
    assert (tmp_path / "a.svg").read_text() == (tmp_path / "b.svg").read_text()


def test_from_reproduces_a_drawing_and_given_options_override(tmp_path, tiny_clip_config):
    first = tmp_path / "first.svg"
    assert _run(["a boat", "--model", str(tiny_clip_config), "--seed", "3", "-o", str(first),
                 *FAST]).exit_code == 0
    again = tmp_path / "again.svg"
    assert _run(["--from", str(first), "-o", str(again), "-q"]).exit_code == 0
    assert again.read_text() == first.read_text()
    other = tmp_path / "other.svg"
    assert _run(["--from", str(tmp_path / "first.json"), "--seed", "4", "--iterations", "1",
                 "-o", str(other), "-q"]).exit_code == 0
    settings = read_svg_metadata(other)["settings"]
    assert settings["seed"] == 4 and settings["iterations"] == 1
    assert settings["prompts"] == ["a boat"] and settings["width"] == 32
    result = CliRunner().invoke(cli, ["draw", "--from", str(tmp_path / "first.png")])
    assert result.exit_code == 2 and "no clipdraw settings" in result.output


def test_clip_weights_file_and_an_ensemble(tmp_path, tiny_clip_config, tiny_clip):
    weights = tmp_path / "w.pt"
    torch.save(tiny_clip.model.state_dict(), weights)
    result = _run(["a boat", "--model", str(tiny_clip_config), "--model", str(tiny_clip_config),
                   "--clip-weights", str(weights), "-o", str(tmp_path / "e.svg"), *FAST])
    assert result.exit_code == 0
    meta = read_svg_metadata(tmp_path / "e.svg")["settings"]
    assert len(meta["models"]) == 2 and meta["clip_weights"] == str(weights)


def test_image_prompt_target_png_path_background_and_frames(tmp_path, tiny_clip_config):
    image = str(ASSETS / "astronaut_48.png")
    result = _run(["--image-prompt", image, "--target", image, "--model", str(tiny_clip_config),
                   "--background", "transparent", "--png", str(tmp_path / "elsewhere.png"),
                   "--save-every", "1", "--video", str(tmp_path / "v.gif"), "--video-every",
                   "1", "--shape", "blobs", "-o", str(tmp_path / "i.svg"), *FAST])
    assert result.exit_code == 0
    assert (tmp_path / "elsewhere.png").is_file() and not (tmp_path / "i.png").exists()
    frames = sorted(p.name for p in (tmp_path / "i_frames").iterdir())
    assert frames == ["i_00001.png", "i_00001.svg", "i_00002.png", "i_00002.svg"]
    import imageio.v2 as imageio

    assert len(imageio.mimread(tmp_path / "v.gif")) == 2
    assert read_svg_metadata(tmp_path / "i.svg")["settings"]["background"] == [0, 0, 0, 0]


def test_ctrl_c_saves_a_valid_drawing_and_exits_130(tmp_path, tiny_clip_config, monkeypatch):
    step = Optimisation.step

    def interrupted_step(self):
        if self.step_count == 2:
            raise KeyboardInterrupt
        step(self)

    monkeypatch.setattr(Optimisation, "step", interrupted_step)
    out = tmp_path / "stop.svg"
    result = _run(["a boat", "--model", str(tiny_clip_config), "-o", str(out),
                   "--size", "32", "--paths", "5", "--iterations", "50", "--num-augs", "1"])
    assert result.exit_code == 130
    assert "Interrupted after 2 steps" in result.output
    assert load_svg(out).num_paths == 5
    meta = read_svg_metadata(out)
    assert meta["metrics"]["steps"] == 2
    assert meta["metrics"]["interrupted"] == "KeyboardInterrupt"
    assert (tmp_path / "stop.png").is_file() and (tmp_path / "stop.json").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_ctrl_c_never_replaces_a_finished_drawing_unless_forced(tmp_path, tiny_clip_config,
                                                                monkeypatch):
    out = tmp_path / "boat.svg"
    args = ["a boat", "--model", str(tiny_clip_config), "-o", str(out), "--size", "32",
            "--paths", "5", "--num-augs", "1", "-q"]
    assert _run([*args, "--iterations", "3"]).exit_code == 0
    finished = out.read_text()
    step = Optimisation.step

    def interrupted_step(self):
        if self.step_count == 1:
            raise KeyboardInterrupt
        step(self)

    monkeypatch.setattr(Optimisation, "step", interrupted_step)
    result = _run([*args, "--iterations", "30", "--seed", "1"])
    assert result.exit_code == 130
    assert out.read_text() == finished
    partial = tmp_path / "boat.interrupted.svg"
    assert str(partial) in result.output
    assert read_svg_metadata(partial)["metrics"]["interrupted"] == "KeyboardInterrupt"
    assert (tmp_path / "boat.interrupted.png").is_file()
    assert _run([*args, "--iterations", "30", "--force"]).exit_code == 130
    assert read_svg_metadata(out)["metrics"]["interrupted"] == "KeyboardInterrupt"


def test_help_teaches_with_examples():
    result = CliRunner().invoke(cli, ["draw", "--help"])
    assert result.exit_code == 0
    for text in ("Examples:", "--negative", "--clip-weights", "--target", "--init", "--video",
                 "hf-hub:", "130"):
        assert text in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["", "-o", "{tmp}/x.svg"], "must not be empty"),
        ([], "nothing to draw"),
        (["a", "--size", "0x10"], "whole numbers from 1 to 4096"),
        (["a", "--size", "wide"], "WxH"),
        (["a", "--paths", "-1"], "must be non-negative"),
        (["a", "--iterations", "0"], "must be at least 1"),
        (["a", "--num-augs", "0"], "must be at least 1"),
        (["a", "--model", "ViT-B-99"], "unknown CLIP model"),
        (["a", "--pretrained", "no-such-tag"], "unknown pretrained tag"),
        (["a", "-o", "{tmp}/missing/x.svg"], "does not exist"),
        (["a", "-o", "{tmp}/x.png"], "must end in .svg"),
        (["a", "--image-prompt", "{tmp}/broken.jpg"], "cannot read image"),
        (["a", "--target", "{tmp}/none.png"], "does not exist"),
        (["a", "--clip-weights", "{tmp}/none.pt"], "does not exist"),
        (["a", "--init", "{tmp}/broken.jpg"], "--init"),
        (["a", "--freeze-init"], "needs --init"),
        (["a", "--background", "notacolour"], "unknown colour"),
        (["a", "--device", "tpu"], "--device"),
        (["a::x"], "must be a number"),
        (["a", "--max-width", "1"], "--min-width"),
        (["a", "--lr-points", "nan"], "--lr-points: expected a finite number"),
        (["a", "--stroke-width", "inf"], "--stroke-width: expected a finite number"),
        (["a cat::nan"], "finite number"),
        (["a", "--negative", "b::inf"], "finite number"),
        (["a", "--size", "100000x100000"], "from 1 to 4096"),
        (["a", "--paths", "100000000"], "at most 10000"),
        (["a", "--png-scale", "1e9"], "more than 16384 px"),
        (["a", "--png-scale", "nan"], "--png-scale: expected a finite number"),
        (["a", "--seed", "1.5"], "--seed: expected an integer"),
        (["a", "--crop-scale", "0.9"], "--crop-scale: expected 2 numbers"),
        (["a", "--lr-points-schedule", "2:0.1"], "--lr-points-schedule"),
    ],
)
def test_bad_input_is_a_one_line_error_with_exit_code_2(tmp_path, args, message):
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = CliRunner().invoke(cli, ["draw", *args, "-q"])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert "Traceback" not in result.output


def test_unwritable_output_folder_is_refused(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        import os

        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        result = CliRunner().invoke(cli, ["draw", "a", "-o", str(folder / "x.svg")])
        assert result.exit_code == 2 and "not writable" in result.output
    finally:
        folder.chmod(0o700)


def test_weights_that_cannot_be_downloaded_give_one_clear_error(tmp_path):
    # HF_HUB_OFFLINE=1 in tests: ViT-B-32/openai cannot be fetched
    result = CliRunner().invoke(cli, ["draw", "a", "-o", str(tmp_path / "x.svg"), "-q"])
    assert result.exit_code == 2
    assert "--clip-weights" in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
    assert not (tmp_path / "x.svg").exists()


def test_init_draws_on_the_imported_canvas_unless_a_size_is_given(tmp_path, tiny_clip_config):
    sketch = tmp_path / "sketch.svg"
    sketch.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="60" height="30">'
                      '<path d="M5 5 L55 25" stroke="black" stroke-width="3"/></svg>')
    rest = ["--model", str(tiny_clip_config), "--init", str(sketch), "--paths", "2",
            "--iterations", "1", "--num-augs", "2", "-q"]
    assert _run(["a line", *rest, "-o", str(tmp_path / "own.svg")]).exit_code == 0
    own = load_svg(tmp_path / "own.svg")
    assert (own.width, own.height) == (60, 30)
    assert own.num_paths == 3
    assert _run(["a line", *rest, "--size", "30x30", "-o", str(tmp_path / "sized.svg")]
                ).exit_code == 0
    sized = load_svg(tmp_path / "sized.svg")
    assert (sized.width, sized.height) == (30, 30)


def test_help_version_and_usage_errors_do_not_import_torch():
    import subprocess
    import sys

    code = ("import sys; from click.testing import CliRunner; from clipdraw.cli import cli\n"
            "for args in (['--help'], ['-V'], ['draw', '--help'], ['batch', '--help'],\n"
            "             ['render', '--help'], ['draw', 'a', '--lr-points', 'nan'],\n"
            "             ['draw', 'a', '--size', '0x9']):\n"
            "    CliRunner().invoke(cli, args)\n"
            "print(sorted(m for m in ('torch', 'open_clip', 'kornia') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
