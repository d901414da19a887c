"""Stroke replay (clipdraw.replay): the strokes drawn one by one, as frames, GIF, MP4 and CLI."""

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers import fills_and_caps, random_strokes

from clipdraw.cli import cli
from clipdraw.render import render
from clipdraw.replay import replay_frames, save_replay
from clipdraw.svg import load_svg


def test_frame_k_is_the_drawing_of_its_first_k_shapes():
    scene = random_strokes(count=7)
    frames = list(replay_frames(scene))
    assert len(frames) == 8
    for k, frame in enumerate(frames):
        assert torch.allclose(frame, render(scene.take_paths(k))[0], atol=1e-6)


def test_a_compound_shape_appears_in_one_frame():
    frames = list(replay_frames(fills_and_caps()))  # 3 paths, 2 shapes
    assert len(frames) == 3
    assert torch.allclose(frames[2], render(fills_and_caps())[0], atol=1e-6)


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_a_replay_file_has_one_frame_per_stroke_and_one_blank(tmp_path, suffix):
    scene = random_strokes(count=5)
    # each stroke shows (a GIF stores identical neighbouring frames once)
    scene = scene.replace(stroke_color=scene.stroke_color.clamp_min(0.5))
    path = tmp_path / f"replay{suffix}"
    assert save_replay(scene, path) == 6
    frames = iio.imread(path, index=None)
    assert len(frames) == 6
    assert np.all(frames[0][..., :3] >= 250)  # the white background alone


def test_draw_replay_writes_the_finished_strokes_one_by_one(tmp_path, tiny_clip_config):
    out, replay = tmp_path / "d.svg", tmp_path / "d.gif"
    result = CliRunner().invoke(cli, [
        "draw", "a boat", "--model", str(tiny_clip_config), "--size", "32", "--paths", "4",
        "--iterations", "2", "--num-augs", "2", "--opaque", "--replay", str(replay),
        "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert str(replay) in result.output
    assert len(iio.imread(replay, index=None)) == load_svg(out).num_paths + 1


def test_draw_refuses_a_replay_of_an_unknown_format(tmp_path, tiny_clip_config):
    result = CliRunner().invoke(cli, ["draw", "a boat", "--model", str(tiny_clip_config),
                                      "--replay", str(tmp_path / "d.avi"), "-o",
                                      str(tmp_path / "d.svg")])
    assert result.exit_code == 2
    assert "--replay" in result.output and "must end in .mp4 or .gif" in result.output
