"""The batch manifest: durable appends, tolerant reads, and what counts as a complete drawing."""

from __future__ import annotations

import errno
import json
import os

import pytest

from clipdraw.batch.manifest import (
    Manifest,
    ManifestWriteError,
    entry_is_complete,
    latest_entries,
    read_manifest,
)


def _ok(key: str, files: dict[str, str], **extra) -> dict:
    return {"key": key, "status": "ok", "files": files, **extra}


def test_append_writes_one_json_line_per_entry(tmp_path):
    manifest = Manifest(tmp_path / "manifest.jsonl")
    manifest.append({"key": "a", "status": "ok", "similarity": 0.25})
    manifest.append({"key": "b", "status": "error", "error": "bad"})
    lines = (tmp_path / "manifest.jsonl").read_text().splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["a", "b"]
    assert json.loads(lines[0])["similarity"] == 0.25


def test_append_stores_non_finite_numbers_as_null(tmp_path):
    manifest = Manifest(tmp_path / "manifest.jsonl")
    manifest.append({"key": "a", "status": "ok", "similarity": float("nan"), "xs": [float("inf")]})
    entry = read_manifest(tmp_path / "manifest.jsonl")[0]
    assert entry["similarity"] is None and entry["xs"] == [None]


def test_append_requires_a_key(tmp_path):
    with pytest.raises(ValueError, match="key"):
        Manifest(tmp_path / "m.jsonl").append({"status": "ok"})


def test_torn_last_line_is_skipped_and_next_append_starts_a_fresh_line(tmp_path):
    path = tmp_path / "manifest.jsonl"
    path.write_text('{"key": "a", "status": "ok"}\n{"key": "b", "sta')  # crash mid-write
    Manifest(path).append({"key": "c", "status": "ok"})
    assert [entry["key"] for entry in read_manifest(path)] == ["a", "c"]


def test_missing_manifest_reads_as_empty(tmp_path):
    assert read_manifest(tmp_path / "nope.jsonl") == []


def test_later_entries_supersede_earlier_ones():
    entries = [{"key": "a", "status": "error"}, {"key": "a", "status": "ok"}, {"key": "b"}]
    assert latest_entries(entries)["a"]["status"] == "ok"


def test_entry_is_complete_only_when_ok_and_files_exist(tmp_path):
    (tmp_path / "a.svg").write_text("<svg/>")
    assert entry_is_complete(_ok("a", {"svg": "a.svg"}), tmp_path)
    assert not entry_is_complete(_ok("a", {"svg": "a.svg", "png": "a.png"}), tmp_path)
    assert not entry_is_complete({"key": "a", "status": "error", "files": {"svg": "a.svg"}},
                                 tmp_path)
    assert not entry_is_complete(_ok("a", {}), tmp_path)


def test_entry_is_complete_requires_matching_settings_hash_when_given(tmp_path):
    (tmp_path / "a.svg").write_text("<svg/>")
    entry = _ok("a", {"svg": "a.svg"}, settings_hash="1234")
    assert entry_is_complete(entry, tmp_path, "1234")
    assert not entry_is_complete(entry, tmp_path, "abcd")


def test_latest_entry_decides_whether_a_drawing_is_complete(tmp_path):
    path = tmp_path / "manifest.jsonl"
    manifest = Manifest(path)
    (tmp_path / "a.svg").write_text("<svg/>")
    manifest.append(_ok("a", {"svg": "a.svg"}))
    manifest.append(_ok("gone", {"svg": "gone.svg"}))
    manifest.append(_ok("b", {"svg": "a.svg"}))
    manifest.append({"key": "b", "status": "error", "error": "later failure"})
    latest = latest_entries(manifest.read())
    assert {key for key, entry in latest.items() if entry_is_complete(entry, tmp_path)} == {"a"}


def test_any_entry_is_recorded_as_strict_utf8_json(tmp_path):
    path = tmp_path / "manifest.jsonl"
    hostile = {"key": "row1", "prompt": "cat\ud800", "seed": float("nan"), "raw": {1: [{}]},
               "value": object(), "inf": float("inf")}
    Manifest(path).append(hostile)
    line = path.read_bytes().decode("utf-8")  # strict: raises on a lone surrogate
    entry = json.loads(line)
    assert entry["prompt"] == "cat\N{REPLACEMENT CHARACTER}"
    assert entry["seed"] is None and entry["inf"] is None and entry["raw"] == {"1": [{}]}
    assert read_manifest(path)[0]["key"] == "row1"


def _disk_full(monkeypatch, after_bytes: int = 0):
    """Make os.write fail with ENOSPC once ``after_bytes`` more bytes have been written."""
    real_write = os.write
    budget = [after_bytes]

    def write(handle, data):
        if budget[0] <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = real_write(handle, bytes(data)[: budget[0]])
        budget[0] -= written
        return written

    monkeypatch.setattr(os, "write", write)


def test_disk_full_keeps_the_previous_manifest_intact_and_says_so_in_one_line(
    tmp_path, monkeypatch
):
    path = tmp_path / "manifest.jsonl"
    manifest = Manifest(path)
    manifest.append({"key": "a", "status": "ok"})
    before = path.read_bytes()
    _disk_full(monkeypatch, after_bytes=7)  # a torn half line reaches the disk, then ENOSPC
    with pytest.raises(ManifestWriteError) as caught:
        manifest.append({"key": "b", "status": "ok", "prompt": "x" * 1000})
    assert path.read_bytes() == before
    message = str(caught.value)
    assert message == f"cannot write {path}: No space left on device"
    assert caught.value.errno == errno.ENOSPC and isinstance(caught.value, OSError)


def test_disk_full_on_the_first_line_leaves_no_empty_manifest(tmp_path, monkeypatch):
    path = tmp_path / "manifest.jsonl"
    _disk_full(monkeypatch)
    with pytest.raises(ManifestWriteError):
        Manifest(path).append({"key": "a", "status": "ok"})
    assert not path.exists()


def test_partial_writes_are_completed(tmp_path, monkeypatch):
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda handle, data: real_write(handle, bytes(data)[:3]))
    Manifest(tmp_path / "m.jsonl").append({"key": "a", "status": "ok", "n": 12345})
    assert read_manifest(tmp_path / "m.jsonl") == [{"key": "a", "status": "ok", "n": 12345}]
