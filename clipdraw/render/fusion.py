"""Optional kernel fusion: the renderer's elementwise stages through :func:`torch.compile`."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import TypeVar

import torch

__all__ = ["fused"]

Function = TypeVar("Function", bound=Callable)


def fused(function: Function, compiled: bool) -> Function:
    """``function`` compiled by :func:`torch.compile` when ``compiled``, else itself.

    Compilation failures (no C++ compiler, an unsupported platform) fall back to ``function``
    with a warning: the pixels are the same either way, only slower.
    """
    if not compiled:
        return function

    @functools.wraps(function)
    def call(*args):
        try:
            return _compile(function)(*args)
        except Exception as error:
            warnings.warn(f"torch.compile failed ({error}); rendering without it", stacklevel=2)
            return function(*args)

    return call  # type: ignore[return-value]


@functools.cache
def _compile(function: Callable) -> Callable:
    return torch.compile(function, dynamic=True)
