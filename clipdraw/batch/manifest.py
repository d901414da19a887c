"""The batch manifest: append-only ``manifest.jsonl``, one JSON line per finished or failed drawing.

Each line is written in one ``write`` call, then flushed and fsynced, so a crash or Ctrl-C leaves
at most one torn last line; readers skip such a line and the next writer starts on a fresh one.
Later lines win: a key that failed and later succeeded is complete. A drawing counts as complete
only when its latest entry says ``ok``, was made from the same settings, *and* its files exist,
so deleting an output (or editing a row) makes the next run redraw it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = [
    "MANIFEST_NAME",
    "Manifest",
    "completed_entries",
    "entry_is_complete",
    "latest_entries",
    "read_manifest",
]

MANIFEST_NAME = "manifest.jsonl"

try:  # POSIX advisory lock: two runs sharing one output folder never interleave lines.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def read_manifest(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All well-formed entries of a manifest in file order; a missing file has none.

    Torn or hand-mangled lines (anything that is not a JSON object) are skipped, not fatal,
    so a run interrupted mid-write can always be resumed.
    """
    target = Path(path)
    if not target.exists():
        return []
    entries = []
    with target.open("r", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("key"), str):
                entries.append(entry)
    return entries


def latest_entries(entries: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The last entry of each key (later lines supersede earlier ones)."""
    latest: dict[str, Mapping[str, Any]] = {}
    for entry in entries:
        latest[entry["key"]] = entry
    return latest


def entry_is_complete(
    entry: Mapping[str, Any], out_dir: str | os.PathLike, settings_hash: str | None = None
) -> bool:
    """Whether ``entry`` records a finished drawing whose files all still exist in ``out_dir``
    (and, when ``settings_hash`` is given, that was drawn from those settings)."""
    if entry.get("status") != "ok":
        return False
    if settings_hash is not None and entry.get("settings_hash") != settings_hash:
        return False
    files = entry.get("files") or {}
    if not isinstance(files, Mapping) or not files:
        return False
    folder = Path(out_dir)
    return all(isinstance(name, str) and (folder / name).is_file() for name in files.values())


def completed_entries(
    manifest_path: str | os.PathLike, out_dir: str | os.PathLike | None = None
) -> dict[str, Mapping[str, Any]]:
    """Latest entry per key for every drawing already complete (see :func:`entry_is_complete`)."""
    folder = Path(manifest_path).parent if out_dir is None else Path(out_dir)
    return {
        key: entry
        for key, entry in latest_entries(read_manifest(manifest_path)).items()
        if entry_is_complete(entry, folder)
    }


@contextmanager
def _locked(handle: IO[str]) -> Iterator[None]:
    """Hold an exclusive advisory lock on an open file where the platform has one."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class Manifest:
    """Appends entries to a ``manifest.jsonl`` durably, one line per call.

    Example:
        >>> manifest = Manifest(out_dir / "manifest.jsonl")  # doctest: +SKIP
        >>> manifest.append({"key": "cat_seed0", "status": "ok", "files": {}})  # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def read(self) -> list[dict[str, Any]]:
        """Every well-formed entry so far (see :func:`read_manifest`)."""
        return read_manifest(self.path)

    def completed(self) -> dict[str, Mapping[str, Any]]:
        """Latest entry per key for drawings already complete in the manifest's folder."""
        return completed_entries(self.path)

    def append(self, entry: Mapping[str, Any]) -> None:
        """Write ``entry`` as one JSON line, then flush and fsync before returning.

        A torn last line left by a crash is closed off with a newline first, so it costs only
        itself, never the entry written after it.
        """
        if not isinstance(entry.get("key"), str):
            raise ValueError("a manifest entry needs a string 'key'")
        safe = _json_safe(dict(entry))
        line = json.dumps(safe, ensure_ascii=False, sort_keys=True, allow_nan=False, default=str)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+", encoding="utf-8") as handle, _locked(handle):
            if handle.tell() > 0 and not _ends_with_newline(self.path):
                line = "\n" + line
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def _ends_with_newline(path: Path) -> bool:
    """Whether a non-empty file's last byte is a newline."""
    with path.open("rb") as raw:
        raw.seek(-1, os.SEEK_END)
        return raw.read(1) == b"\n"


def _json_safe(value: Any) -> Any:
    """``value`` with non-finite floats replaced by ``None`` (strict JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value
