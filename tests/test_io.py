"""Crash-safe output: atomic writes leave either the old file or the new one, never a torn one."""

import os
import stat

import pytest
import torch
from PIL import Image

from clipdraw.io import atomic_path, atomic_write, save_png


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "drawing.svg"
    target.write_text("old")
    atomic_write(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["drawing.svg"]


def test_a_failure_while_writing_keeps_the_old_file(tmp_path):
    target = tmp_path / "drawing.svg"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as temporary:
        temporary.write_text("half of the new")
        raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["drawing.svg"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_written_files_get_the_mode_of_an_ordinary_open(tmp_path):
    umask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.txt", "x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644


def test_save_png_keeps_alpha_only_when_the_image_is_not_opaque(tmp_path):
    opaque = torch.ones(4, 3, 5)
    translucent = opaque.clone()
    translucent[3, 0, 0] = 0.5
    save_png(opaque, tmp_path / "opaque.png")
    save_png(translucent, tmp_path / "translucent.png")
    assert Image.open(tmp_path / "opaque.png").mode == "RGB"
    with Image.open(tmp_path / "translucent.png") as image:
        assert image.mode == "RGBA"
        assert image.size == (5, 3)
        assert image.getpixel((0, 0))[3] == 128
