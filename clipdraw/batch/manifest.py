"""The batch manifest: append-only ``manifest.jsonl``, one JSON line per finished or failed drawing.

Each line is written with one ``write`` to the end of the file, then fsynced, so a crash or
Ctrl-C leaves at most one torn last line; readers skip such a line and the next writer starts on
a fresh one. A write that fails (disk full) is undone, so the manifest keeps every earlier line
and gains no torn one. Any entry can be recorded: values are made strict UTF-8 JSON first
(:func:`clipdraw.io.json_safe`: NaN becomes ``null``, lone surrogates U+FFFD).
Later lines win: a key that failed and later succeeded is complete. A drawing counts as complete
only when its latest entry says ``ok``, was made from the same settings, *and* its files exist,
so deleting an output (or editing a row) makes the next run redraw it.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from clipdraw.io import WriteFailed, fsync_directory, json_safe

__all__ = [
    "MANIFEST_NAME",
    "Manifest",
    "ManifestWriteError",
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


class ManifestWriteError(WriteFailed):
    """The manifest could not be written (disk full, read-only, ...); it is left as it was.

    Its text is one line naming the file and the reason.
    """


@contextmanager
def _locked(handle: int) -> Iterator[None]:
    """Hold an exclusive advisory lock on an open file where the platform has one."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    fcntl.flock(handle, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)


class Manifest:
    """Appends entries to a ``manifest.jsonl`` durably, one line per call.

    Example:
        >>> import tempfile
        >>> manifest = Manifest(Path(tempfile.mkdtemp()) / "manifest.jsonl")
        >>> manifest.append({"key": "cat_seed0", "status": "error", "seed": float("nan")})
        >>> manifest.read()
        [{'key': 'cat_seed0', 'seed': None, 'status': 'error'}]
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def read(self) -> list[dict[str, Any]]:
        """Every well-formed entry so far (see :func:`read_manifest`)."""
        return read_manifest(self.path)

    def append(self, entry: Mapping[str, Any]) -> None:
        """Write ``entry`` as one JSON line and fsync it before returning.

        A torn last line left by a crash is closed off with a newline first, so it costs only
        itself, never the entry written after it.

        Raises:
            ValueError: the entry has no string ``key``.
            ManifestWriteError: the line could not be written; the file is as it was.
        """
        if not isinstance(entry.get("key"), str):
            raise ValueError("a manifest entry needs a string 'key'")
        line = json.dumps(json_safe(dict(entry)), ensure_ascii=False, sort_keys=True,
                          allow_nan=False)
        payload = (line + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            created = not self.path.exists()
            flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
            handle = os.open(self.path, flags, 0o666)
        except OSError as error:
            raise ManifestWriteError(error.errno, _message(self.path, error)) from None
        try:
            with _locked(handle):
                size = os.fstat(handle).st_size
                if size > 0 and _last_byte(handle, size) != b"\n":
                    payload = b"\n" + payload
                try:
                    _write_all(handle, payload)
                    os.fsync(handle)
                except OSError as error:
                    _undo(handle, size)
                    failure = ManifestWriteError(error.errno, _message(self.path, error))
                else:
                    failure = None
        finally:
            os.close(handle)
        if failure is not None:
            if created and size == 0:  # leave no empty manifest behind
                self.path.unlink(missing_ok=True)
            raise failure
        if created:
            fsync_directory(self.path.parent)


def _message(path: Path, error: OSError) -> str:
    reason = error.strerror or os.strerror(error.errno or errno.EIO)
    return f"cannot write {path}: {reason}"


def _last_byte(handle: int, size: int) -> bytes:
    os.lseek(handle, size - 1, os.SEEK_SET)
    return os.read(handle, 1)


def _write_all(handle: int, payload: bytes) -> None:
    """``os.write`` until all of ``payload`` is written (a write may be partial)."""
    view = memoryview(payload)
    while view:
        written = os.write(handle, view)
        if written <= 0:
            raise OSError(errno.EIO, "nothing written")
        view = view[written:]


def _undo(handle: int, size: int) -> None:
    """Cut the file back to ``size`` bytes after a failed append (best effort)."""
    try:
        os.ftruncate(handle, size)
        os.fsync(handle)
    except OSError:
        pass
