"""The draw page's form, made from the option schema (:data:`clipdraw.options.OPTIONS`).

:func:`form_fields` describes each option the page offers (its spelling, help, range and
default) as JSON, so the page draws its form from the schema instead of keeping a copy of it;
:func:`read_form` reads the values the page sends back with the schema's own types, so a value
gets the same checks and the same message as on the command line.

Example:
    >>> [f["key"] for f in form_fields()][:3]
    ['prompts', 'negatives', 'negative_weight']
    >>> read_form({"prompts": ["a red apple::2"], "paths": "16"}, uploads={})
    {'prompts': ('a red apple',), 'prompt_weights': (2.0,), 'paths': 16}
    >>> read_form({"colour": "red"}, uploads={})
    Traceback (most recent call last):
    ...
    clipdraw.options.OptionError: colour: unknown setting
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clipdraw.options import (
    OPTION_BY_KEY,
    OPTIONS,
    Choice,
    Colour,
    Flag,
    Number,
    Option,
    OptionError,
    Size,
    Texts,
)

__all__ = ["MAIN_KEYS", "SERVER_KEYS", "UPLOAD_KEYS", "form_fields", "read_form"]

#: Options shown at the top of the form; the others sit under "More settings".
MAIN_KEYS: tuple[str, ...] = (
    "prompts", "negatives", "image_prompt", "target", "size", "paths", "iterations", "shape",
    "seed", "background", "stroke_width", "max_width",
)

#: Options the server decides (``clipdraw studio --model ...``): the page cannot set them.
SERVER_KEYS: tuple[str, ...] = ("models", "pretrained", "clip_weights", "init_svg")

#: Options whose value is a file: the page sends the id of an upload instead of a path.
UPLOAD_KEYS: tuple[str, ...] = ("image_prompt", "target")


def _kind(option: Option) -> str:
    kind = option.type
    if option.key in UPLOAD_KEYS:
        return "upload"
    if isinstance(kind, Texts):
        return "texts"
    if isinstance(kind, Flag):
        return "flag"
    if isinstance(kind, Choice):
        return "choice"
    if isinstance(kind, Number):
        return "integer" if kind.integer else "number"
    if isinstance(kind, Size):
        return "size"
    if isinstance(kind, Colour):
        return "colour"
    return "text"


def _default_text(option: Option, defaults: Mapping[str, Any]) -> str:
    if option.mode_default:
        return option.mode_default
    value = defaults.get(option.targets[0])
    if value is None or value == () or value is False:
        return ""
    if isinstance(value, tuple):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def form_fields() -> list[dict[str, Any]]:
    """One JSON object per option the page offers, in the schema's order.

    Each has ``key``, ``label`` (the command-line spelling), ``help``, ``kind`` (``texts``,
    ``upload``, ``flag``, ``choice``, ``integer``, ``number``, ``size``, ``colour`` or
    ``text``), ``describe`` (the range in words), ``default`` (as text, empty when none),
    ``main`` and, where they apply, ``minimum``, ``maximum`` and ``choices``.
    """
    from clipdraw.settings import DrawSettings

    defaults = {f.name: getattr(DrawSettings(), f.name) for f in dataclasses.fields(DrawSettings)}
    fields = []
    for option in OPTIONS:
        if option.key in SERVER_KEYS or (not option.flags and option.key != "prompts"):
            continue
        field: dict[str, Any] = {
            "key": option.key,
            "label": option.spelling.lstrip("-") if option.flags else "prompt",
            "help": option.help,
            "kind": _kind(option),
            "describe": option.type.describe(),
            "default": _default_text(option, defaults),
            "main": option.key in MAIN_KEYS,
        }
        if isinstance(option.type, Number):
            field.update(minimum=option.type.minimum, maximum=option.type.maximum)
        if isinstance(option.type, Choice):
            field["choices"] = list(option.type.choices)
        fields.append(field)
    return fields


def _given(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, (list, tuple)):
        return any(_given(v) for v in value)
    return True


def read_form(values: Mapping[str, Any], uploads: Mapping[str, Path]) -> dict[str, Any]:
    """The settings fields the page asked for, read by the schema's types.

    Args:
        values: option key -> value as the page sends it (text, number, flag or list of texts);
            empty values are left to the defaults, as options not given on the command line.
        uploads: upload id -> its file, for the options in :data:`UPLOAD_KEYS`.

    Raises:
        OptionError: an unknown option, one the server decides, an unknown upload or a value
            out of its option's range; the message names the option.
    """
    offered = {f["key"] for f in form_fields()}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if not isinstance(key, str) or key not in offered:
            if isinstance(key, str) and key in SERVER_KEYS:
                raise OptionError(key, "is set when the studio starts (clipdraw studio "
                                       "--model ...), not by the page")
            raise OptionError(str(key)[:60], "unknown setting")
        if not _given(value):
            continue
        option = OPTION_BY_KEY[key]
        if key in UPLOAD_KEYS:
            if not isinstance(value, str) or value not in uploads:
                raise OptionError(key, "no such image upload (PNG, JPEG, WebP, GIF or BMP); "
                                       "upload the image again")
            value = str(uploads[value])
        elif isinstance(value, list) and isinstance(option.type, Texts):
            value = [v for v in value if _given(v)]
        changes.update(option.parse(value))
    return changes
