"""Crash-safe file output: every file is written to a temporary sibling, then renamed over."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

__all__ = ["atomic_path", "atomic_write", "image_to_pil", "save_png"]


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename,
    so readers (and a crash or Ctrl-C) never see a half-written file."""
    target = Path(path)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=suffix or target.suffix or ".tmp", dir=target.parent
    )
    os.close(handle)
    try:
        yield Path(temporary)
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike, data: str | bytes) -> None:
    """Write text (UTF-8) or bytes to ``path`` atomically."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(path) as temporary:
        temporary.write_bytes(payload)


def image_to_pil(image: Tensor) -> Image.Image:
    """Convert a straight-alpha image in [0, 1] to an 8-bit PIL image (RGBA, or RGB if opaque).

    Shape:
        - image: :math:`(C, H, W)` with C = 3 or 4.
    """
    pixels = image.detach().to("cpu", torch.float32).clamp(0, 1)
    array = (pixels.permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
    if array.shape[2] == 4 and (array[..., 3] == 255).all():
        array = array[..., :3]
    return Image.fromarray(array, mode="RGBA" if array.shape[2] == 4 else "RGB")


def save_png(image: Tensor, path: str | os.PathLike) -> None:
    """Save a straight-alpha image atomically as PNG.

    Shape:
        - image: :math:`(C, H, W)` with C = 3 or 4.
    """
    with atomic_path(path, suffix=".png") as temporary:
        image_to_pil(image).save(temporary, format="PNG")
