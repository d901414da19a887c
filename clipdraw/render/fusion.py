"""Optional kernel fusion: the renderer's elementwise stages through :func:`torch.compile`.

Compiled kernels are cached on disk by torch (inductor's FX graph and autograd caches), so only
the first run on a machine waits for the C++ compiler. torch keeps that cache in the temporary
folder, which many systems empty at boot; unless ``TORCHINDUCTOR_CACHE_DIR`` is set, clipdraw
points it at :func:`compile_cache_dir`, in the user's cache folder.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import torch

__all__ = ["compile_cache_dir", "fused", "has_compiled"]

Function = TypeVar("Function", bound=Callable)

#: Where torch says "No CUDA runtime is found" on a CPU-only machine, the first time it compiles.
_CUDA_HOME_LOGGER = "torch.utils.cpp_extension"


def fused(function: Function, compile: bool) -> Function:
    """``function`` compiled by :func:`torch.compile` when ``compile``, else itself.

    Compilation failures (no C++ compiler, an unsupported platform) fall back to ``function``
    with a warning: the pixels agree to float rounding either way, only slower. Compiled kernels
    round differently from eager ones, so a compiled render may differ in the last bits.
    """
    if not compile:
        return function

    @functools.wraps(function)
    def call(*args):
        try:
            with _quiet_cuda_home():
                return _compile(function)(*args)
        except Exception as error:
            warnings.warn(f"torch.compile failed ({error}); rendering without it", stacklevel=2)
            return function(*args)

    return call  # type: ignore[return-value]


def has_compiled() -> bool:
    """Whether this process has compiled a renderer stage already (later compiles are short)."""
    return _compile.cache_info().currsize > 0


def compile_cache_dir() -> Path:
    """Where compiled kernels are kept between runs: ``$TORCHINDUCTOR_CACHE_DIR`` when set, else
    ``clipdraw/torchinductor`` in the user's cache folder (``$XDG_CACHE_HOME``, else ``~/.cache``).

    Examples:
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, {"XDG_CACHE_HOME": "/cache"}):
        ...     _ = os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
        ...     print(compile_cache_dir().as_posix())
        /cache/clipdraw/torchinductor
        >>> with mock.patch.dict(os.environ, {"TORCHINDUCTOR_CACHE_DIR": "/kernels"}):
        ...     print(compile_cache_dir().as_posix())
        /kernels
    """
    chosen = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "clipdraw" / "torchinductor"


@functools.cache
def _compile(function: Callable) -> Callable:
    # torch reads the variable when it first compiles; a user's own setting wins.
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(compile_cache_dir()))
    return torch.compile(function, dynamic=True)


class _DropNoCudaRuntime(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No CUDA runtime is found")


@contextlib.contextmanager
def _quiet_cuda_home() -> Iterator[None]:
    """Drop torch's "No CUDA runtime is found" warning, which compiling on a CPU-only machine
    prints in the middle of the progress bar and which says nothing about the CPU run."""
    logger = logging.getLogger(_CUDA_HOME_LOGGER)
    quiet = _DropNoCudaRuntime()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)
