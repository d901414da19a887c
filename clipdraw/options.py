"""The schema of drawing options: one table from which everything about an option follows.

Each :class:`Option` says how an option is spelled on the command line and in a batch file, what
values it takes, its range, and its help text. From :data:`OPTIONS` come the ``draw`` and ``batch``
command-line options, the coercion of batch rows, the validation of
:class:`~clipdraw.settings.DrawSettings`, and the options table of the README. Defaults live on the
settings dataclass (and, for options that depend on the mode, in its mode tables).

This module imports neither torch nor click, so the command line can print ``--help`` at once.

Example:
    >>> OPTION_BY_KEY["paths"].parse("32")
    {'paths': 32}
    >>> OPTION_BY_KEY["size"].parse("320x240")
    {'width': 320, 'height': 240}
    >>> OPTION_BY_KEY["point_lr"].parse("nan")
    Traceback (most recent call last):
    ...
    clipdraw.options.OptionError: point_lr: expected a finite number, got 'nan'
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clipdraw.presets import PRESETS

__all__ = [
    "FIELD_TYPES",
    "LIMITS",
    "OPTIONS",
    "OPTION_BY_KEY",
    "OPTION_BY_FIELD",
    "Option",
    "OptionError",
    "ValueType",
    "parse_color",
    "parse_size",
    "parse_weighted",
    "metavar",
    "option_help",
    "options_table",
]

#: Upper bounds that keep any drawing's time and memory bounded; each message names its limit.
LIMITS: Mapping[str, float] = {
    "canvas_side": 4096,  # pixels of a canvas side
    "png_side": 16384,  # pixels of a side of a PNG rendered from a drawing
    "paths": 10_000,
    "segments": 64,  # cubic segments of one random path
    "iterations": 1_000_000,
    "num_augs": 64,
    "stroke_width": 10_000.0,
    "learning_rate": 10_000.0,
    "weight": 1_000_000.0,
    "text_length": 10_000,  # characters of one prompt
    "texts": 256,  # prompts (or negatives, or models) of one drawing
}

_MAX_SEED = 2**63 - 1


class OptionError(ValueError):
    """A bad option value. ``key`` is the option's :attr:`Option.key`; ``problem`` the message
    without the option's name, so the command line can name the option as the user spelled it."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


def _number_text(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e7 else f"{x:.3g}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- value types ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ValueType:
    """How one option's values are read (from command-line or CSV text, or JSON values) and checked.

    :meth:`convert` turns any accepted input into the stored value and raises ``ValueError`` with
    a message for a person; :meth:`check` checks a stored value's range.
    """

    metavar: str = "VALUE"

    def convert(self, value: Any) -> Any:
        return value

    def check(self, value: Any) -> None:
        return None

    def describe(self) -> str:
        return ""


def _number(value: Any, integer: bool) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected {'an integer' if integer else 'a number'}, got {_show(value)}")
    if isinstance(value, str):
        text = value.strip()
        try:
            number: float | int = int(text) if integer else float(text)
        except ValueError:
            if integer:
                try:
                    as_float = float(text)
                except ValueError:
                    as_float = math.nan
                if math.isfinite(as_float) and as_float.is_integer():
                    return int(as_float)
            raise ValueError(f"expected {'an integer' if integer else 'a number'}, "
                             f"got {_show(value)}") from None
    else:
        number = value
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {_show(value)}")
    if integer and isinstance(number, float):
        if not number.is_integer():
            raise ValueError(f"expected an integer, got {_show(value)}")
        number = int(number)
    return number


@dataclass(frozen=True)
class Number(ValueType):
    """A finite number in ``[minimum, maximum]`` (``open_minimum``: strictly above ``minimum``)."""

    integer: bool = False
    minimum: float | None = None
    maximum: float | None = None
    open_minimum: bool = False
    metavar: str = "NUMBER"

    def convert(self, value: Any) -> float | int:
        number = _number(value, self.integer)
        self.check(number)
        return number if self.integer else float(number)

    def check(self, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                self.integer and not isinstance(value, int)):
            raise ValueError(f"expected {'an integer' if self.integer else 'a number'}, "
                             f"got {_show(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {_show(value)}")
        low, high = self.minimum, self.maximum
        if low is not None and (value <= low if self.open_minimum else value < low):
            if low == 0:
                raise ValueError(f"must be {'positive' if self.open_minimum else 'non-negative'}, "
                                 f"got {value}")
            raise ValueError(f"must be {'above' if self.open_minimum else 'at least'} {low:g}, "
                             f"got {value}")
        if high is not None and value > high:
            raise ValueError(f"must be at most {high:g}, got {value}")

    def describe(self) -> str:
        kind = "integer" if self.integer else "number"
        low, high = self.minimum, self.maximum
        if low is not None and high is not None and not self.open_minimum:
            return f"{kind} from {_number_text(low)} to {_number_text(high)}"
        parts = [kind]
        if low is not None:
            parts.append(f"{'>' if self.open_minimum else '≥'} {_number_text(low)}")
        if high is not None:
            parts.append(f"≤ {_number_text(high)}")
        return " ".join(parts[:2]) + (f", {parts[2]}" if len(parts) > 2 else "")


def _text(value: Any, max_length: int) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {_show(value)}")
    if len(value) > max_length:
        raise ValueError(f"longer than {max_length} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not valid Unicode text (a lone surrogate)") from None
    if not value.strip():
        raise ValueError("must not be empty")
    return value


@dataclass(frozen=True)
class Text(ValueType):
    """One non-empty line of text (or ``None`` where ``optional``)."""

    optional: bool = True
    metavar: str = "TEXT"

    def convert(self, value: Any) -> str:
        return _text(value, int(LIMITS["text_length"]))

    def check(self, value: Any) -> None:
        if value is not None or not self.optional:
            _text(value, int(LIMITS["text_length"]))


@dataclass(frozen=True)
class Choice(ValueType):
    choices: tuple[str, ...] = ()

    def convert(self, value: Any) -> str:
        if not isinstance(value, str) or value.strip().lower() not in self.choices:
            raise ValueError(f"expected one of {', '.join(self.choices)}, got {_show(value)}")
        return value.strip().lower()

    def check(self, value: Any) -> None:
        if value not in self.choices:
            raise ValueError(f"expected one of {', '.join(self.choices)}, got {_show(value)}")

    def describe(self) -> str:
        return ", ".join(self.choices)


@dataclass(frozen=True)
class Flag(ValueType):
    metavar: str = ""

    def convert(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ValueError(f"expected true or false, got {_show(value)}")

    def check(self, value: Any) -> None:
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {_show(value)}")

    def describe(self) -> str:
        return "flag"


@dataclass(frozen=True)
class OffFlag(Flag):
    """A flag that turns its field off (``--no-normalize`` sets ``clip_normalize`` to false).

    >>> OffFlag().convert("true"), OffFlag().convert(False)
    (False, True)
    """

    def convert(self, value: Any) -> bool:
        return not super().convert(value)


def _items(value: Any) -> list[Any]:
    """A list from a JSON list, one value, or a CSV cell with ``|`` between values."""
    if isinstance(value, str):
        return [part for part in (p.strip() for p in value.split("|")) if part] or [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def parse_weighted(text: str, default: float | None) -> tuple[str, float | None]:
    """``"a cat::2"`` -> ``("a cat", 2.0)``; without ``::`` the weight is ``default``.

    >>> parse_weighted("a red apple::0.5", None)
    ('a red apple', 0.5)
    """
    body, sep, weight = text.rpartition("::")
    if not sep:
        return text, default
    try:
        value = float(weight)
    except ValueError:
        raise ValueError(f"the weight after '::' must be a number in {_show(text)}") from None
    if not math.isfinite(value) or abs(value) > LIMITS["weight"]:
        raise ValueError(f"the weight after '::' must be a finite number up to "
                         f"{LIMITS['weight']:g} in {_show(text)}")
    return body, value


@dataclass(frozen=True)
class Texts(ValueType):
    """Several texts; with ``weighted``, each may end in ``::weight`` (stored as a second field)."""

    weighted: bool = False
    metavar: str = "TEXT"

    def convert(self, value: Any) -> tuple:
        items = _items(value)
        if len(items) > LIMITS["texts"]:
            raise ValueError(f"more than {LIMITS['texts']:g} values")
        texts = tuple(_text(item, int(LIMITS["text_length"])) for item in items)
        if not self.weighted:
            return texts
        pairs = [parse_weighted(t, None) for t in texts]
        for body, _ in pairs:
            _text(body, int(LIMITS["text_length"]))
        weights = tuple(w for _, w in pairs)
        return tuple(b for b, _ in pairs), weights if any(w is not None for w in weights) else ()

    def check(self, value: Any) -> None:
        if len(value) > LIMITS["texts"]:
            raise ValueError(f"more than {LIMITS['texts']:g} values")
        for text in value:
            _text(text, int(LIMITS["text_length"]))


@dataclass(frozen=True)
class Numbers(ValueType):
    """A fixed or free count of numbers, each of ``item``'s type and range."""

    item: Number = field(default_factory=Number)
    count: int | None = None
    metavar: str = "N,N"

    def convert(self, value: Any) -> tuple:
        if isinstance(value, str):
            value = [part for part in re.split(r"[,|\s]+", value.strip()) if part]
        items = _items(value)
        if self.count is not None and len(items) != self.count:
            raise ValueError(f"expected {self.count} numbers, got {_show(value)}")
        if len(items) > LIMITS["texts"]:
            raise ValueError(f"more than {LIMITS['texts']:g} values")
        return tuple(self.item.convert(v) for v in items)

    def check(self, value: Any) -> None:
        if self.count is not None and len(value) != self.count:
            raise ValueError(f"expected {self.count} numbers, got {_show(value)}")
        for v in value:
            self.item.check(v)


def parse_size(value: Any) -> tuple[int, int]:
    """Canvas ``(width, height)`` from ``224``, ``"224"``, ``"320x240"`` or ``[320, 240]``.

    >>> parse_size("320x240"), parse_size(96)
    ((320, 240), (96, 96))
    """
    if isinstance(value, str):
        parts: list[Any] = [p for p in re.split(r"[x*,\s]+", value.strip().lower()) if p]
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        parts = [value]
    side = Number(integer=True, minimum=1, maximum=LIMITS["canvas_side"])
    try:
        numbers = [side.convert(p) for p in parts]
    except ValueError as error:
        raise ValueError(f"expected N or WxH with whole numbers from 1 to "
                         f"{LIMITS['canvas_side']:g}, got {_show(value)} ({error})") from None
    if len(numbers) == 1:
        numbers = numbers * 2
    if len(numbers) != 2:
        raise ValueError(f"expected N or WxH, got {_show(value)}")
    return numbers[0], numbers[1]


@dataclass(frozen=True)
class Size(ValueType):
    metavar: str = "N|WxH"

    def convert(self, value: Any) -> tuple[int, int]:
        return parse_size(value)

    def describe(self) -> str:
        return f"N or WxH, sides 1 to {LIMITS['canvas_side']:g}"


def parse_color(value: Any) -> tuple[float, float, float, float]:
    """Straight RGBA in [0, 1] from ``white``, ``transparent``, ``#rrggbb[aa]``, a CSS name,
    ``"r,g,b[,a]"`` or a list of 3 or 4 numbers in [0, 1].

    >>> parse_color("#ff000080")
    (1.0, 0.0, 0.0, 0.5019607843137255)
    """
    if isinstance(value, str) and "," not in value:
        text = value.strip().lower()
        if text in ("none", "transparent"):
            return (0.0, 0.0, 0.0, 0.0)
        from PIL import ImageColor

        try:
            rgba = ImageColor.getcolor(text, "RGBA")
        except ValueError:
            raise ValueError(f"unknown colour {_show(value)}") from None
        return tuple(v / 255 for v in rgba)  # type: ignore[return-value]
    channel = Number(minimum=0, maximum=1)
    try:
        numbers = Numbers(item=channel).convert(value)
    except ValueError as error:
        raise ValueError(f"expected a colour or 3 or 4 numbers in [0, 1] ({error})") from None
    if len(numbers) not in (3, 4):
        raise ValueError(f"expected 3 or 4 numbers in [0, 1], got {_show(value)}")
    return tuple(numbers) + (1.0,) * (4 - len(numbers))  # type: ignore[return-value]


@dataclass(frozen=True)
class Colour(ValueType):
    metavar: str = "COLOUR"

    def convert(self, value: Any) -> tuple[float, float, float, float]:
        return parse_color(value)

    def check(self, value: Any) -> None:
        Numbers(item=Number(minimum=0, maximum=1), count=4).check(value)

    def describe(self) -> str:
        return "colour"


@dataclass(frozen=True)
class Schedule(ValueType):
    """``(fraction, value)`` pairs, as ``"0.5:0.4,0.75:0.1"`` or ``[[0.5, 0.4], [0.75, 0.1]]``."""

    metavar: str = "F:LR,..."

    def convert(self, value: Any) -> tuple[tuple[float, float], ...]:
        if isinstance(value, str):
            text = value.strip()
            value = [] if text.lower() in ("", "none") else [
                part.split(":") for part in re.split(r"[,|\s]+", text) if part]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"expected fraction:value pairs, got {_show(value)}")
        pairs = []
        for item in value:
            pair = Numbers(item=Number(), count=2).convert(item)
            pairs.append((float(pair[0]), float(pair[1])))
        schedule = tuple(pairs)
        self.check(schedule)
        return schedule

    def check(self, value: Any) -> None:
        for fraction, rate in value:
            Number(minimum=0, maximum=1).check(fraction)
            Number(minimum=0, maximum=LIMITS["learning_rate"]).check(rate)


# -- the options ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Option:
    """One drawing option: its spellings, its value type and what it sets.

    Args:
        key: the option's name in Python (the keyword of the command-line function).
        type: how its values are read and checked.
        help: one or two sentences for ``--help`` and the README.
        flags: command-line spellings (empty: a positional argument or not on the command line).
        fields: the :class:`~clipdraw.settings.DrawSettings` fields it sets (default: ``key``).
        columns: other names a batch file may use for it (``key`` and ``fields`` always work).
        multiple: repeatable on the command line.
        mode_default: the help's ``[default: ...]`` for options whose default depends on the mode.
    """

    key: str
    type: ValueType
    help: str
    flags: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    multiple: bool = False
    mode_default: str = ""

    @property
    def targets(self) -> tuple[str, ...]:
        return self.fields or (self.key,)

    @property
    def spelling(self) -> str:
        """How a person names the option: its long flag, else its key."""
        long = [f for f in self.flags if f.startswith("--")]
        return long[0] if long else self.key.upper()

    def parse(self, value: Any) -> dict[str, Any]:
        """Read a value given by a person (text or JSON) into settings fields.

        Raises:
            OptionError: the value does not fit, with a message naming this option.
        """
        try:
            converted = self.type.convert(value)
        except ValueError as error:
            raise OptionError(self.key, str(error)) from None
        if len(self.targets) == 1:
            return {self.targets[0]: converted}
        return dict(zip(self.targets, converted))


_weight = Number(minimum=-LIMITS["weight"], maximum=LIMITS["weight"])


@dataclass(frozen=True)
class Weights(ValueType):
    """One weight per text (the weights ``text::weight`` sets); ``None`` stands for the default."""

    metavar: str = "W,W"

    def convert(self, value: Any) -> tuple:
        return Numbers(item=_weight).convert(value)

    def check(self, value: Any) -> None:
        for item in value:
            if item is not None:
                _weight.check(item)


#: Types of the settings fields an option sets beside its own: the weights of ``text::weight``,
#: also batch columns of their own.
FIELD_TYPES: Mapping[str, ValueType] = {"prompt_weights": Weights(), "negative_weights": Weights()}
_rate = Number(minimum=0, maximum=LIMITS["learning_rate"])
_width = Number(minimum=0, maximum=LIMITS["stroke_width"], open_minimum=True)
_side = Number(integer=True, minimum=1, maximum=LIMITS["canvas_side"])
_file = Text(metavar="FILE")

# -- palette, monochrome and pruning (issue 13) --
@dataclass(frozen=True)
class PaletteColours(ValueType):
    """Opaque colours (``#rgb``, ``#rrggbb`` or CSS names), stored as ``"#rrggbb"``."""

    metavar: str = "#RGB,..."

    def convert(self, value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [part for part in re.split(r"[,|\s]+", value.strip()) if part]
        items = _items(value)
        if not items or len(items) > LIMITS["texts"]:
            raise ValueError(f"expected 1 to {LIMITS['texts']:g} colours, got {_show(value)}")
        colours = []
        for item in items:
            rgba = parse_color(item) if isinstance(item, str) else (None,) * 4
            if rgba[3] != 1:
                raise ValueError(f"expected opaque colours such as #e63946 (alpha is "
                                 f"optimised apart), got {_show(item)}")
            colours.append("#" + "".join(f"{round(c * 255):02x}" for c in rgba[:3]))
        return tuple(colours)

    def check(self, value: Any) -> None:
        if len(value) > LIMITS["texts"]:
            raise ValueError(f"more than {LIMITS['texts']:g} colours")
        for colour in value:
            if not (isinstance(colour, str) and re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?",
                                                             colour)):
                raise ValueError(f"expected colours as #rrggbb, got {_show(colour)}")

    def describe(self) -> str:
        return "colours"


#: Every drawing option, in the order ``--help`` lists them.
OPTIONS: tuple[Option, ...] = (
    Option("prompts", Texts(weighted=True), "Text prompts the drawing should match; "
           "'text::weight' sets a prompt's weight (negative: push away).",
           fields=("prompts", "prompt_weights"), columns=("prompt", "text")),
    Option("negatives", Texts(weighted=True), "Prompt to stay away from; 'text::weight' sets "
           "its weight (else --negative-weight). Repeatable.", flags=("--negative",),
           fields=("negatives", "negative_weights"), columns=("negative",), multiple=True),
    Option("negative_weight", _weight, "Weight of negative prompts without their own.",
           flags=("--negative-weight",)),
    Option("classic_negatives", Flag(), "Add CLIPDraw's two negative prompts "
           "('A badly drawn sketch.', 'Many ugly, messy drawings.').",
           flags=("--classic-negatives",)),
    Option("image_prompt", _file, "Image whose CLIP embedding the drawing should match.",
           flags=("--image-prompt",)),
    Option("image_prompt_weight", _weight, "Weight of --image-prompt.",
           flags=("--image-prompt-weight",)),
    Option("target", _file, "Image to reconstruct pixel by pixel (alone: diffvg's painterly "
           "mode, no CLIP; the canvas takes the image's aspect unless --size).",
           flags=("--target",)),
    Option("target_weight", _weight, "Weight of --target.", flags=("--target-weight",)),
    Option("size", Size(), "Canvas WxH (or N) in pixels.", flags=("--size",),
           fields=("width", "height"), mode_default="224x224; the --init SVG's canvas; "
           "--target's aspect"),
    Option("width", _side, "Canvas width in pixels (batch column; --size on the command line)."),
    Option("height", _side, "Canvas height in pixels (batch column; --size on the command "
           "line)."),
    Option("paths", Number(integer=True, minimum=0, maximum=LIMITS["paths"]),
           "Random paths to draw (added on top of --init's).", flags=("--paths",),
           columns=("num_paths",), mode_default="256; 512 painterly; 0 with --init"),
    Option("shape", Choice(choices=("strokes", "blobs")),
           "Open stroked paths, or closed filled blobs.", flags=("--shape",)),
    Option("min_segments", Number(integer=True, minimum=1, maximum=LIMITS["segments"]),
           "Fewest cubic segments of a random path.", flags=("--min-segments",),
           mode_default="1; 3 blobs"),
    Option("max_segments", Number(integer=True, minimum=1, maximum=LIMITS["segments"]),
           "Most cubic segments of a random path.", flags=("--max-segments",),
           mode_default="3; 5 blobs"),
    Option("init_radius", Number(minimum=0, maximum=1),
           "Control points start within this fraction of the canvas of each other.",
           flags=("--init-radius",), mode_default="0.1; 0.05 painterly"),
    Option("stroke_width", _width, "Initial stroke width (SVG units).",
           flags=("--stroke-width",)),
    Option("min_width", _width, "Smallest stroke width.", flags=("--min-width",)),
    Option("max_width", _width, "Largest stroke width.", flags=("--max-width",),
           mode_default="100; 4 painterly"),
    Option("background", Colour(), "Background: a colour name, #rrggbb[aa], r,g,b[,a] in "
           "[0, 1], or transparent.", flags=("--background",), mode_default="white"),
    Option("iterations", Number(integer=True, minimum=1, maximum=LIMITS["iterations"]),
           "Optimisation steps.", flags=("--iterations",), columns=("steps",),
           mode_default="1000; 500 painterly"),
    Option("point_lr", _rate, "Learning rate of the points at a 224 px canvas (scaled with "
           "the canvas).", flags=("--lr-points",), columns=("lr_points",)),
    Option("width_lr", _rate, "Learning rate of the stroke widths.", flags=("--lr-width",),
           columns=("lr_width",)),
    Option("color_lr", _rate, "Learning rate of the colours.", flags=("--lr-color",),
           columns=("lr_color",)),
    Option("point_lr_schedule", Schedule(), "From each fraction of the steps on, the point "
           "learning rate is the value given ('none': constant).",
           flags=("--lr-points-schedule",), columns=("lr_points_schedule",),
           mode_default="0.5:0.4,0.75:0.1; none painterly"),
    Option("num_augs", Number(integer=True, minimum=1, maximum=LIMITS["num_augs"]),
           "Augmented views per drawing, model and step.", flags=("--num-augs",)),
    Option("distortion", Number(minimum=0, maximum=1), "Perspective distortion of the views.",
           flags=("--distortion",)),
    Option("crop_scale", Numbers(item=Number(minimum=0, maximum=1, open_minimum=True), count=2),
           "Area range of the views' random crops, as LOW,HIGH.", flags=("--crop-scale",)),
    Option("models", Texts(), "hf-hub:org/repo, local-dir:PATH, a config .json or an "
           "open_clip name such as ViT-B-32; repeat for an ensemble whose losses are averaged.",
           flags=("-m", "--model"), columns=("model",), multiple=True),
    Option("pretrained", Text(), "Pretrained tag of built-in model names ('none': random "
           "weights).", flags=("--pretrained",)),
    Option("clip_weights", _file, "Local checkpoint loaded into the model (no download).",
           flags=("--clip-weights",), columns=("weights",)),
    Option("seed", Number(integer=True, minimum=0, maximum=_MAX_SEED),
           "Seed of the drawing: the same seed, settings and device give the same SVG (on a "
           "CPU, bit for bit).",
           flags=("--seed",)),
    Option("init_svg", _file, "Start from the paths of this SVG, on its canvas unless --size.",
           flags=("--init",), columns=("init",)),
    Option("freeze_init", Flag(), "Keep the paths of --init fixed.", flags=("--freeze-init",)),
    # views: presets, CLIP normalisation, antialiased views
    Option("preset", Choice(choices=tuple(PRESETS)), "A named recipe for the options you have "
           "not set: " + "; ".join(f"'{p.name}': {p.help}" for p in PRESETS.values()),
           flags=("--preset",)),
    Option("clip_normalize", Flag(), "Normalise the images CLIP sees by the model's mean and "
           "std, as CLIP was trained (the CLIPDraw notebook did not).", flags=("--normalize",),
           columns=("normalize",), mode_default="on; off with --preset notebook"),
    Option("no_normalize", OffFlag(), "Feed CLIP un-normalised images, as the CLIPDraw "
           "notebook did.", flags=("--no-normalize",), fields=("clip_normalize",)),
    Option("view_antialias", Flag(), "Area-average canvases larger than the model's input "
           "before warping them to views, so that every canvas pixel gets gradient.",
           flags=("--view-antialias",), mode_default="on; off with --preset notebook"),
    Option("no_view_antialias", OffFlag(), "Warp views from the full canvas with one bilinear "
           "sample per view pixel, as the CLIPDraw notebook did.",
           flags=("--no-view-antialias",), fields=("view_antialias",)),
    # keeping the best drawing and early stop (clipdraw/best.py)
    Option("best_every", Number(integer=True, minimum=0, maximum=LIMITS["iterations"]),
           "Every N steps, score the drawing on fixed views and keep the best one as the "
           "result (0: the last one).", flags=("--best-every",)),
    Option("patience", Number(integer=True, minimum=0, maximum=LIMITS["iterations"]),
           "Stop after this many scorings in a row without a better score (0: never; needs "
           "--best-every).", flags=("--patience",)),
    # -- palette, monochrome and pruning (issue 13) --
    Option("palette", PaletteColours(), "Stroke colours come only from these (e.g. "
           "'#000,#e63946'); alpha stays optimised.", flags=("--palette",)),
    Option("palette_image", _file, "Learn the palette from this image (k-means in RGB, "
           "seeded by --seed).", flags=("--palette-image",)),
    Option("palette_size", Number(integer=True, minimum=1, maximum=LIMITS["texts"]),
           "Colours learned from --palette-image.", flags=("--palette-size",)),
    Option("opaque", Flag(), "Keep every stroke fully opaque (alpha 1).", flags=("--opaque",)),
    Option("prune", Flag(), "Drop paths that change no pixel by more than 0.5/255 from the "
           "saved drawing (counted in its metadata).", flags=("--prune",)),
    Option("reinit_every", Number(integer=True, minimum=1, maximum=LIMITS["iterations"]),
           "Every N steps, restart the paths that change no pixel as new random ones.",
           flags=("--reinit-every",)),
)

OPTION_BY_KEY: Mapping[str, Option] = {o.key: o for o in OPTIONS}

#: The option that sets each settings field (``width`` and ``height``: their own columns).
OPTION_BY_FIELD: Mapping[str, Option] = {
    name: OPTION_BY_KEY.get(name, option) for option in OPTIONS for name in option.targets
}


def options_table(defaults: Mapping[str, Any]) -> str:
    """The README's Markdown table of every option: spelling, values, default and help."""
    rows = ["| option | values | default | what it does |", "|---|---|---|---|"]
    for option in OPTIONS:
        if not option.flags and option.key != "prompts":
            continue
        spelling = "PROMPTS" if option.key == "prompts" else ", ".join(
            f"`{flag}`" for flag in option.flags)
        default = option.mode_default or _show_default(defaults.get(option.targets[0]))
        values = option.type.describe() or option.type.metavar.lower()
        if option.multiple:
            values += ", repeatable"
        cells = (spelling, values, default, option.help)
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)


def _show_default(value: Any) -> str:
    if value is None or value == () or value is False:
        return "—"
    if isinstance(value, tuple):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def option_help(option: Option, defaults: Mapping[str, Any]) -> str:
    """``--help`` text of an option, with its default and its range."""
    default = option.mode_default or _show_default(defaults.get(option.targets[0]))
    extras = [f"default: {default}"] if default != "—" else []
    if isinstance(option.type, Number) and option.type.describe():
        extras.append(option.type.describe())
    return f"{option.help} [{'; '.join(extras)}]" if extras else option.help


def metavar(option: Option) -> str:
    """The placeholder ``--help`` shows for an option's value."""
    kind = option.type
    if isinstance(kind, Choice):
        return "[" + "|".join(kind.choices) + "]"
    if isinstance(kind, Number):
        return "INTEGER" if kind.integer else "NUMBER"
    return kind.metavar

