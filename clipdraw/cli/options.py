"""Command-line options made from the option schema (:mod:`clipdraw.options`).

``draw`` and ``batch`` both decorate themselves with :func:`drawing_options`, so an option has one
spelling, one help text and one range everywhere. Values are read by the schema's own types after
click has parsed the words; errors name the option as the user spelled it (exit status 2).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from clipdraw.options import OPTION_BY_KEY, OPTIONS, Flag, OptionError, metavar, option_help

__all__ = [
    "SetupError",
    "bad_setting",
    "check_device",
    "check_output_folder",
    "check_writable",
    "drawing_options",
    "given_changes",
]


class SetupError(click.ClickException):
    """A problem the user must fix before drawing (exit status 2, like a usage error)."""

    exit_code = 2


def _defaults() -> Mapping[str, Any]:
    import dataclasses

    from clipdraw.settings import DrawSettings

    defaults = DrawSettings()
    return {f.name: getattr(defaults, f.name) for f in dataclasses.fields(defaults)}


def drawing_options(command: Callable) -> Callable:
    """Add a click option for every schema option that has a command-line spelling."""
    defaults = _defaults()
    for option in reversed(OPTIONS):
        if not option.flags:
            continue
        is_flag = isinstance(option.type, Flag)
        command = click.option(
            *option.flags, option.key,
            is_flag=is_flag,
            default=None,
            multiple=option.multiple,
            metavar=None if is_flag else metavar(option),
            help=option_help(option, defaults),
        )(command)
    return command


def given(ctx: click.Context, key: str) -> bool:
    """Whether the user gave option ``key`` (rather than leaving its default)."""
    source = ctx.get_parameter_source(key)
    return source is not None and source is not ParameterSource.DEFAULT


def given_changes(ctx: click.Context, values: Mapping[str, Any]) -> dict[str, Any]:
    """Settings fields set by the schema options the user gave, read by the schema's types."""
    changes: dict[str, Any] = {}
    for option in OPTIONS:
        if not option.flags or not given(ctx, option.key):
            continue
        value = values[option.key]
        if option.multiple and not value:
            continue
        try:
            changes.update(option.parse(list(value) if option.multiple else value))
        except OptionError as error:
            raise click.BadParameter(error.problem, param_hint=option.spelling) from None
    return changes


def bad_setting(error: OptionError, positional: str = "PROMPTS") -> click.BadParameter:
    """A settings error as a usage error naming the option as the user spells it."""
    option = OPTION_BY_KEY.get(error.key)
    hint = positional if error.key == "prompts" else (option.spelling if option else error.key)
    return click.BadParameter(error.problem, param_hint=hint)


def check_device(text: str) -> str:
    """``auto``, ``cpu``, ``cuda[:N]`` or ``mps``, available here; a usage error otherwise."""
    kind = text.split(":")[0]
    if kind not in ("auto", "cpu", "cuda", "mps"):
        raise click.BadParameter(f"expected auto, cpu, cuda[:N] or mps, got {text!r}",
                                 param_hint="--device")
    if kind in ("cuda", "mps"):
        import torch

        mps = getattr(torch.backends, "mps", None)
        available = (torch.cuda.is_available() if kind == "cuda"
                     else mps is not None and mps.is_available())
        if not available:
            raise click.BadParameter(f"{kind.upper()} is not available here; use --device cpu "
                                     "or auto", param_hint="--device")
    return text


def check_output_folder(folder: Path) -> None:
    """``--output`` (a folder) is one that exists and can be written, or can be made."""
    existing = next((p for p in (folder, *folder.absolute().parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise click.BadParameter(f"{str(existing)!r} is not a folder", param_hint="--output")
    if existing is None or not os.access(existing, os.W_OK | os.X_OK):
        raise click.BadParameter(f"folder {str(existing or folder)!r} is not writable",
                                 param_hint="--output")


def check_writable(path: Path, option: str) -> None:
    """The folder of ``path`` exists and can be written."""

    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise click.BadParameter(f"folder {str(folder)!r} does not exist", param_hint=option)
    if not os.access(folder, os.W_OK):
        raise click.BadParameter(f"folder {str(folder)!r} is not writable", param_hint=option)
