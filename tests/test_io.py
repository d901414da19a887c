"""Crash-safe output: atomic writes leave either the old file or the new one, never a torn one."""

import errno
import json
import os
import stat
from pathlib import Path

import pytest
import torch
from PIL import Image

from clipdraw.io import (
    TEMPORARY_MARKER,
    atomic_files,
    atomic_path,
    atomic_write,
    is_temporary,
    json_safe,
    remove_temporaries,
    save_png,
)


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


def test_a_file_set_appears_together_or_not_at_all(tmp_path):
    targets = [tmp_path / "d.svg", tmp_path / "d.png", tmp_path / "d.json"]
    with pytest.raises(OSError), atomic_files(targets) as temporaries:
        temporaries[0].write_text("svg")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert list(tmp_path.iterdir()) == []
    with atomic_files(targets) as temporaries:
        for temporary, text in zip(temporaries, ["svg", "png", "json"]):
            temporary.write_text(text)
    assert [p.read_text() for p in targets] == ["svg", "png", "json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json", "d.png", "d.svg"]


def test_every_file_is_synced_before_the_first_rename_and_the_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(handle):
        events.append(("fsync", "dir" if stat.S_ISDIR(os.fstat(handle).st_mode) else "file"))
        real_fsync(handle)

    def replace(source, target):
        events.append(("rename", Path(target).name))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    with atomic_files([tmp_path / "a.svg", tmp_path / "a.json"]) as temporaries:
        for temporary in temporaries:
            temporary.write_text("x")
    assert events == [("fsync", "file"), ("fsync", "file"), ("rename", "a.svg"),
                      ("rename", "a.json"), ("fsync", "dir")]


def test_a_crash_between_renames_leaves_the_last_file_of_the_set_missing(tmp_path, monkeypatch):
    real_replace = os.replace
    renamed = []

    def dies_after_first(source, target):
        if renamed:
            raise KeyboardInterrupt  # stands in for kill -9 between the renames
        renamed.append(target)
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", dies_after_first)
    targets = [tmp_path / "d.svg", tmp_path / "d.json"]
    with pytest.raises(KeyboardInterrupt), atomic_files(targets) as temporaries:
        for temporary in temporaries:
            temporary.write_text("x")
    assert (tmp_path / "d.svg").exists() and not (tmp_path / "d.json").exists()
    assert not [p for p in tmp_path.iterdir() if is_temporary(p)]


def test_remove_temporaries_removes_only_leftover_temporaries(tmp_path):
    (tmp_path / "keep.svg").write_text("x")
    (tmp_path / ".hidden").write_text("x")
    (tmp_path / f".keep.svg{TEMPORARY_MARKER}ab12.svg").write_text("half")
    removed = remove_temporaries(tmp_path)
    assert [p.name for p in removed] == [f".keep.svg{TEMPORARY_MARKER}ab12.svg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden", "keep.svg"]
    assert remove_temporaries(tmp_path / "missing") == []


def test_temporaries_keep_the_target_suffix_and_are_recognisable(tmp_path):
    with atomic_path(tmp_path / "clip.gif") as temporary:
        assert temporary.suffix == ".gif" and is_temporary(temporary)
        assert temporary.parent == tmp_path
        temporary.write_bytes(b"GIF")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (float("nan"), None),
        ({"a": [float("inf"), float("-inf"), 1.5]}, {"a": [None, None, 1.5]}),
        ({1: (2, 3)}, {"1": [2, 3]}),
        ("cat\ud800", "cat\N{REPLACEMENT CHARACTER}"),
        ({"\udfff": 1}, {"\N{REPLACEMENT CHARACTER}": 1}),
        (Path("a/b"), "a/b"),
    ],
)
def test_json_safe_makes_any_value_strict_utf8_json(value, expected):
    safe = json_safe(value)
    assert safe == expected
    json.dumps(safe, allow_nan=False, ensure_ascii=False).encode("utf-8")


def test_json_safe_cuts_off_absurd_nesting():
    value: list = []
    for _ in range(10_000):
        value = [value]
    text = json.dumps(json_safe(value))
    assert text.count("[") <= 65 and '"..."' in text


def _drawing():
    from clipdraw.drawing import Drawing
    from clipdraw.scene import Scene
    from clipdraw.settings import DrawSettings

    points = torch.tensor([[[4.0, 4.0], [10.0, 20.0], [20.0, 10.0], [28.0, 28.0]]])
    scene = Scene.create(points, torch.tensor([1]), 32, 32)
    return Drawing(scene, DrawSettings(prompts=("a cat \ud800",), width=32, height=32), {})


def test_drawing_files_appear_as_one_set_with_the_json_last(tmp_path, monkeypatch):
    renamed = []
    real_replace = os.replace

    def replace(source, target):
        renamed.append(Path(target).name)
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    written = _drawing().save(tmp_path / "d.svg")
    assert renamed == ["d.svg", "d.png", "d.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json", "d.png", "d.svg"]
    assert json.loads(written["json"].read_text(encoding="utf-8"))["settings"]["prompts"] == [
        "a cat \N{REPLACEMENT CHARACTER}"]
    written["svg"].read_bytes().decode("utf-8")


def test_a_drawing_whose_png_fails_leaves_no_file_at_all(tmp_path, monkeypatch):
    import clipdraw.drawing

    def broken(image, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(clipdraw.drawing, "write_png", broken)
    with pytest.raises(OSError):
        _drawing().save(tmp_path / "d.svg")
    assert list(tmp_path.iterdir()) == []
