"""Crash-safe file output: files appear whole, durable, and (as a set) together or not at all.

Every file is written to a hidden temporary sibling, flushed to disk (``fsync``), then renamed
over its target, and the folder is synced so the rename itself survives a power cut. A set of
files (a drawing's SVG, PNG and JSON) is written the same way, all temporaries first, then
renamed in order, so the last file of the set marks it complete. Temporaries carry
:data:`TEMPORARY_MARKER` in their names, so ones left by a ``kill -9`` can be recognised and
removed later (:func:`remove_temporaries`).

Convention:
    A temporary of ``drawing.svg`` is ``.drawing.svg.clipdraw-tmp-XXXXXXXX.svg``: hidden, in
    the same folder (a rename never crosses file systems), ending in the target's suffix (so
    writers that pick a format from the extension still do).
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

__all__ = [
    "TEMPORARY_MARKER",
    "WriteFailed",
    "atomic_files",
    "atomic_path",
    "atomic_write",
    "fsync_directory",
    "image_to_pil",
    "is_temporary",
    "json_safe",
    "valid_text",
    "remove_temporaries",
    "save_png",
    "write_png",
]

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

#: Part of every temporary file name this module makes.
TEMPORARY_MARKER = ".clipdraw-tmp-"


class WriteFailed(OSError):
    """Output could not be written (disk full, read-only folder, ...).

    Its text is one line naming the file or folder and the reason, fit for a user.
    """

    def __str__(self) -> str:
        return str(self.strerror)


def is_temporary(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a temporary made by :func:`atomic_path` or :func:`atomic_files`.

    Example:
        >>> is_temporary(".cat.svg.clipdraw-tmp-1a2b3c.svg"), is_temporary("cat.svg")
        (True, False)
    """
    name = Path(path).name
    return name.startswith(".") and TEMPORARY_MARKER in name


def remove_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporaries left in ``folder`` (not below it) by interrupted writes.

    Only call this while no other process writes into ``folder`` (a batch holds its folder
    lock), since a live writer's temporary looks the same. Returns the paths removed.
    """
    removed = []
    try:
        candidates = list(Path(folder).iterdir())
    except FileNotFoundError:
        return removed
    for path in candidates:
        if is_temporary(path) and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def fsync_directory(folder: str | os.PathLike) -> None:
    """Flush a folder's entries (new names, renames) to disk; a no-op where folders cannot be
    opened (Windows) or synced."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows cannot open a folder
        return
    try:
        os.fsync(handle)
    except OSError:  # pragma: no cover - some file systems refuse to sync folders
        pass
    finally:
        os.close(handle)


def _fsync_file(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _temporary_beside(target: Path, suffix: str | None) -> Path:
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}{TEMPORARY_MARKER}",
        suffix=suffix or target.suffix or ".tmp",
        dir=target.parent,
    )
    os.close(handle)
    return Path(temporary)


def _make_durable(temporary: Path) -> None:
    """Give ``temporary`` the mode a plain ``open()`` would (mkstemp makes it 0600) and flush
    it to disk."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    _fsync_file(temporary)


@contextmanager
def atomic_files(
    paths: Sequence[str | os.PathLike], suffixes: Sequence[str | None] | None = None
) -> Iterator[list[Path]]:
    """Yield one temporary path per target; on success rename them over ``paths`` in order.

    Every temporary is written (by the caller) and synced before the first rename, so a crash
    leaves at most the first few targets of the set renamed: the last target present marks a
    complete set. On an error (or Ctrl-C) nothing is renamed and the temporaries are removed.

    Args:
        paths: the targets, in the order they should appear.
        suffixes: per target, the temporary's suffix (default: the target's).

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> with atomic_files([folder / "a.txt", folder / "a.json"]) as (text, meta):
        ...     _ = text.write_text("hello")
        ...     _ = meta.write_text("{}")
        >>> sorted(p.name for p in folder.iterdir())
        ['a.json', 'a.txt']
    """
    targets = [Path(path) for path in paths]
    suffixes = list(suffixes) if suffixes is not None else [None] * len(targets)
    temporaries: list[Path] = []
    try:
        for target, suffix in zip(targets, suffixes):
            temporaries.append(_temporary_beside(target, suffix))
        yield list(temporaries)
        for temporary in temporaries:  # every file on disk before any name changes
            _make_durable(temporary)
        for temporary, target in zip(temporaries, targets):
            os.replace(temporary, target)
        for folder in dict.fromkeys(target.parent for target in targets):
            fsync_directory(folder)
    except BaseException:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is synced and replaces ``path`` in
    one rename, so readers (and a crash or Ctrl-C) never see a half-written file."""
    with atomic_files([path], [suffix]) as (temporary,):
        yield temporary


def atomic_write(path: str | os.PathLike, data: str | bytes) -> None:
    """Write text (UTF-8) or bytes to ``path`` atomically and durably."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(path) as temporary:
        temporary.write_bytes(payload)


def valid_text(text: str) -> str:
    """``text`` with lone surrogates (which UTF-8 cannot encode) replaced by U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def json_safe(value: object, depth: int = 64) -> object:
    """``value`` made writable as strict JSON in UTF-8, whatever it holds.

    Non-finite floats become ``None``, lone surrogates U+FFFD, tuples and sets lists, keys
    strings, anything else its ``str``; nesting deeper than ``depth`` is cut off as ``"..."``.
    Used for metadata and manifest lines, whose contents come from users' files.

    Example:
        >>> json_safe({"seed": float("nan"), 1: ("x",)})
        {'seed': None, '1': ['x']}
        >>> json_safe("a\\ud800") == "a\\N{REPLACEMENT CHARACTER}"
        True
    """
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return valid_text(value)
    if depth <= 0:
        return "..."
    if isinstance(value, Mapping):
        return {valid_text(str(key)): json_safe(item, depth - 1) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(item, depth - 1) for item in value]
    try:
        return valid_text(str(value))
    except Exception:  # noqa: BLE001 - an object whose str() fails is still recorded
        return f"<{type(value).__name__}>"


def image_to_pil(image: Tensor) -> Image.Image:
    """Convert a straight-alpha image in [0, 1] to an 8-bit PIL image (RGBA, or RGB if opaque).

    Shape:
        - image: :math:`(C, H, W)` with C = 3 or 4.

    Example:
        >>> image_to_pil(torch.ones(4, 2, 3)).mode, image_to_pil(torch.zeros(4, 2, 3)).size
        ('RGB', (3, 2))
    """
    pixels = image.detach().to("cpu", torch.float32).clamp(0, 1)
    array = (pixels.permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
    if array.shape[2] == 4 and (array[..., 3] == 255).all():
        array = array[..., :3]
    return Image.fromarray(array, mode="RGBA" if array.shape[2] == 4 else "RGB")


def write_png(image: Tensor, path: str | os.PathLike) -> None:
    """Write a straight-alpha image as PNG to ``path`` as is (not atomically; see
    :func:`save_png`).

    Shape:
        - image: :math:`(C, H, W)` with C = 3 or 4.
    """
    image_to_pil(image).save(path, format="PNG")


def save_png(image: Tensor, path: str | os.PathLike) -> None:
    """Save a straight-alpha image atomically as PNG.

    Shape:
        - image: :math:`(C, H, W)` with C = 3 or 4.
    """
    with atomic_path(path, suffix=".png") as temporary:
        write_png(image, temporary)
