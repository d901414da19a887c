"""The batch manifest: durable appends, tolerant reads, and what counts as a complete drawing."""

from __future__ import annotations

import json

import pytest

from clipdraw.batch.manifest import (
    Manifest,
    completed_entries,
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


def test_completed_entries_uses_latest_entry_and_existing_files(tmp_path):
    path = tmp_path / "manifest.jsonl"
    manifest = Manifest(path)
    (tmp_path / "a.svg").write_text("<svg/>")
    manifest.append(_ok("a", {"svg": "a.svg"}))
    manifest.append(_ok("gone", {"svg": "gone.svg"}))
    manifest.append(_ok("b", {"svg": "a.svg"}))
    manifest.append({"key": "b", "status": "error", "error": "later failure"})
    assert set(completed_entries(path)) == {"a"}
    assert set(manifest.completed()) == {"a"}
