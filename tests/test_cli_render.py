"""`clipdraw render IN.svg -o OUT.png`: sizes, background, warnings and user mistakes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from clipdraw.cli import cli

ROOT = Path(__file__).parents[1]
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
    (["--scale", "inf"], "finite"),
    (["--scale", "nan"], "finite"),
    (["--scale", "1e308"], "each side"),
    (["--scale", "409.6"], "needs about 64.0 GiB"),  # 16384 x 8192 px
    (["--width", "16384"], "--max-memory"),
    (["--max-memory", "nan"], "--max-memory"),
    (["--limit", "max_nothing=3"], "unknown SVG limit"),
    (["--limit", "max_depth=0"], "positive whole number"),
])
def test_bad_options_exit_with_status_2_and_no_traceback(square, tmp_path, args, message):
    result = run(str(square), "-o", str(tmp_path / "out.png"), *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert [line for line in result.output.splitlines() if line.startswith("Error:")] == [
        next(line for line in result.output.splitlines() if message in line)]
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


def test_jpg_output_is_written_as_jpeg_flattened_onto_white(square, tmp_path):
    out = tmp_path / "out.jpg"
    result = run(str(square), "-o", str(out))
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.format == "JPEG" and image.mode == "RGB"
        rgb = np.asarray(image)
    assert (rgb[1, 1] > 245).all()  # transparent corner onto white
    assert rgb[10, 20, 0] > 230 and (rgb[10, 20, 1:] < 25).all()


@pytest.mark.parametrize("name", ["out.gif", "out.svg", "out"])
def test_an_output_format_it_cannot_write_is_refused_before_rendering(square, tmp_path, name):
    result = run(str(square), "-o", str(tmp_path / name))
    assert result.exit_code == 2 and ".png, .jpg or .jpeg" in result.output
    assert not (tmp_path / name).exists()


def test_a_canvas_too_large_to_allocate_is_refused_with_a_memory_estimate(tmp_path):
    path = tmp_path / "huge.svg"
    path.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="16384" height="16384">'
                    '<rect width="100" height="100"/></svg>')
    result = run(str(path), "-o", str(tmp_path / "out.png"))
    assert result.exit_code == 2
    assert "16384 x 16384 px needs about 128.0 GiB, over --max-memory 4" in result.output


def test_svg_limits_can_be_raised_from_the_command_line(tmp_path):
    path = tmp_path / "deep.svg"
    path.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8">' + "<g>" * 300
                    + '<rect width="4" height="4"/>' + "</g>" * 300 + "</svg>")
    result = run(str(path), "-o", str(tmp_path / "out.png"))
    assert result.exit_code == 2 and "--limit max_depth=N" in result.output
    result = run(str(path), "-o", str(tmp_path / "out.png"), "--limit", "max_depth=400")
    assert result.exit_code == 0, result.output


def test_a_use_chain_of_a_billion_copies_is_refused_naming_the_limit(tmp_path):
    body = ['<defs><rect id="u0" width="1" height="1"/>']
    body += [f'<g id="u{i}"><use href="#u{i - 1}"/><use href="#u{i - 1}"/></g>'
             for i in range(1, 31)]
    path = tmp_path / "chain.svg"
    path.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8">'
                    + "".join(body) + '</defs><use href="#u30"/></svg>')
    result = run(str(path), "-o", str(tmp_path / "out.png"))
    assert result.exit_code == 2 and "max_use_copies" in result.output


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_reading_dev_zero_ends_with_status_2_and_one_error_line(tmp_path):
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "clipdraw", "render", "/dev/zero", "-o",
                           str(tmp_path / "out.png")], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "max_file_bytes" in errors[0], done.stderr
    assert "Traceback" not in done.stderr
    assert time.perf_counter() - start <= 30
