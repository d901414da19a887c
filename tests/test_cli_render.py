"""`clipdraw render IN.svg -o OUT.png`: sizes, background, warnings and user mistakes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from clipdraw.cli import cli

DATA = Path(__file__).parent / "data" / "svg"
SQUARE = ('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">'
          '<rect x="10" y="5" width="20" height="10" fill="#ff0000"/></svg>')


def run(*args: str):
    return CliRunner().invoke(cli, ["render", *args])


@pytest.fixture
def square(tmp_path: Path) -> Path:
    path = tmp_path / "square.svg"
    path.write_text(SQUARE)
    return path


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGBA"))


def test_renders_an_svg_at_its_own_size_with_a_transparent_background(square, tmp_path):
    out = tmp_path / "out.png"
    result = run(str(square), "-o", str(out))
    assert result.exit_code == 0, result.output
    image = pixels(out)
    assert image.shape == (20, 40, 4)
    assert tuple(image[10, 20]) == (255, 0, 0, 255)
    assert image[1, 1, 3] == 0


def test_scale_and_width_set_the_output_size(square, tmp_path):
    out = tmp_path / "out.png"
    assert run(str(square), "-o", str(out), "--scale", "2.5").exit_code == 0
    assert pixels(out).shape[:2] == (50, 100)
    assert run(str(square), "-o", str(out), "--width", "80").exit_code == 0
    assert pixels(out).shape[:2] == (40, 80)


def test_background_colour_goes_under_the_drawing(square, tmp_path):
    out = tmp_path / "out.png"
    assert run(str(square), "-o", str(out), "--background", "white").exit_code == 0
    image = pixels(out)
    assert tuple(image[1, 1, :3]) == (255, 255, 255) and image[1, 1, 3] == 255
    assert tuple(image[10, 20, :3]) == (255, 0, 0)


def test_renders_an_inkscape_document_in_mm(tmp_path):
    out = tmp_path / "ink.png"
    result = run(str(DATA / "inkscape_mm.svg"), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert pixels(out).shape[:2] == (144, 192)


def test_skipped_features_are_reported_as_one_warning(tmp_path):
    out = tmp_path / "skipped.png"
    result = CliRunner().invoke(cli, ["render", str(DATA / "skipped.svg"), "-o", str(out)])
    assert result.exit_code == 0
    assert result.output.count("warning:") == 1 and "text" in result.output
    assert out.exists()


@pytest.mark.parametrize("args, message", [
    (["--scale", "0"], "--scale"),
    (["--scale", "-1"], "--scale"),
    (["--width", "0"], "--width"),
    (["--scale", "2", "--width", "10"], "not both"),
    (["--background", "nocolour"], "nocolour"),
    (["--scale", "10000"], "each side"),
])
def test_bad_options_exit_with_status_2_and_no_traceback(square, tmp_path, args, message):
    result = run(str(square), "-o", str(tmp_path / "out.png"), *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("content, message", [
    ("", "empty"), ("<svg", "not valid XML"), ("<html/>", "not an SVG"),
])
def test_broken_svg_exits_with_status_2_and_says_why(tmp_path, content, message):
    path = tmp_path / "broken.svg"
    path.write_text(content)
    result = run(str(path), "-o", str(tmp_path / "out.png"))
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_missing_input_and_missing_output_folder_are_usage_errors(square, tmp_path):
    assert run(str(tmp_path / "nowhere.svg"), "-o", str(tmp_path / "o.png")).exit_code == 2
    result = run(str(square), "-o", str(tmp_path / "no" / "such" / "o.png"))
    assert result.exit_code == 2 and "does not exist" in result.output
    assert run(str(square)).exit_code == 2  # -o is required
