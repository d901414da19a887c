"""Batch input: rows of a prompts file become :class:`DrawSettings`, then output jobs.

A prompts file is plain text (one prompt per line; blank lines and ``#`` comments skipped),
JSONL (one object per line) or CSV (a header row naming the columns). JSONL and CSV rows may set
any :class:`DrawSettings` field (``prompt``, ``negatives``, ``seed``, ``paths``, ``iterations``,
``shape``, ...), plus ``size`` (``224`` or ``"320x240"``) and ``model``; list values are JSON lists,
or ``|``-separated in CSV cells.
A row that cannot become valid settings is kept, with its error, so the run reports it in the
manifest and goes on with the others.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clipdraw.settings import DrawSettings
from clipdraw.settings import parse_size as settings_parse_size

__all__ = [
    "Job",
    "Row",
    "expand_jobs",
    "output_stem",
    "parse_rows",
    "parse_size",
    "read_rows",
    "row_from_mapping",
    "settings_hash",
    "slugify",
]

_MAX_SLUG = 60
_TEXT_FORMATS = {"text", "jsonl", "csv"}

# Short column names -> the DrawSettings field they set.
_ALIASES: dict[str, str] = {
    "negative": "negatives",
    "model": "models",
    "num_paths": "paths",
    "steps": "iterations",
    "weights": "clip_weights",
}


@dataclass(frozen=True)
class Row:
    """One record of a prompts file: valid ``settings``, or the ``error`` that stopped it.

    Attributes:
        number: 1-based line (text, JSONL) or record (CSV) number, for messages.
        settings: the drawing settings; ``None`` when the row is invalid.
        error: why the row is invalid; ``None`` when it is valid.
        prompt: the prompt as read, kept for invalid rows too.
    """

    number: int
    settings: DrawSettings | None
    error: str | None = None
    prompt: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None and self.settings is not None


@dataclass(frozen=True)
class Job:
    """One output drawing: the best of ``candidates`` (one per seed), saved under one key.

    Attributes:
        key: stable manifest key, e.g. ``"a-red-cat_seed0"`` (``"..._best4"`` with best-of).
        row: the row number it came from.
        prompt: its prompt.
        candidates: settings to draw, differing only in seed; empty for an invalid row.
        error: the row's error, for a job that cannot run.
        suffix: extra file-name suffix that keeps colliding rows apart (usually empty).
        settings_hash: fingerprint of ``candidates``; an edited row gets a new one.
    """

    key: str
    row: int
    prompt: str
    candidates: tuple[DrawSettings, ...] = ()
    error: str | None = None
    suffix: str = ""
    settings_hash: str = field(default="", compare=False)

    def stem(self, seed: int) -> str:
        """File name stem (no extension) for this job's drawing made with ``seed``."""
        return output_stem(self.prompt, seed) + self.suffix


def slugify(text: str, max_length: int = _MAX_SLUG) -> str:
    """A lowercase ASCII file-name slug: ``"A café, at night!"`` -> ``"a-cafe-at-night"``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    slug = slug[:max_length].rstrip("-")
    return slug or "drawing"


def output_stem(prompt: str, seed: int) -> str:
    """File name stem for a drawing: the prompt's slug plus its seed, ``"a-red-cat_seed3"``."""
    return f"{slugify(prompt)}_seed{int(seed)}"


def settings_hash(settings: Iterable[DrawSettings]) -> str:
    """Short, stable fingerprint of settings (for resume: edited rows are redrawn)."""
    payload = json.dumps([s.to_dict() for s in settings], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def _field_names() -> set[str]:
    return {f.name for f in dataclasses.fields(DrawSettings)}


def _resolve(column: str, names: set[str]) -> str | None:
    """The DrawSettings field a column sets, or ``None`` when it sets none."""
    column = column.strip().lower().replace("-", "_")
    column = _ALIASES.get(column, column)
    return column if column in names else None


def _split_list(text: str) -> list[str]:
    """A CSV cell holding several values: ``"blurry|text"`` -> ``["blurry", "text"]``."""
    return [part.strip() for part in text.split("|") if part.strip()]


def _coerce(value: Any, like: Any, name: str) -> Any:
    """Convert a value read from a file (CSV gives strings) to the type of the default ``like``."""
    if not isinstance(value, str) or isinstance(like, str) or like is None:
        if isinstance(like, (list, tuple)) and isinstance(value, str):
            return type(like)(_split_list(value))
        if isinstance(like, tuple) and isinstance(value, list):
            return tuple(value)
        return value
    text = value.strip()
    if isinstance(like, bool):
        lowered = text.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"{name}: expected true/false, got {value!r}")
    if isinstance(like, int):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{name}: expected an integer, got {value!r}") from None
    if isinstance(like, float):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{name}: expected a number, got {value!r}") from None
    if isinstance(like, (list, tuple)):
        parts = _split_list(text)
        if like and all(isinstance(item, (int, float)) for item in like):
            kind = type(like[0])
            parts = [kind(part) for part in re.split(r"[x,|\s]+", text) if part]
        return type(like)(parts)
    return value


def parse_size(value: Any) -> dict[str, int]:
    """``size`` (``224``, ``"224"``, ``"320x240"``, ``[320, 240]``) as ``width`` and ``height``."""
    width, height = settings_parse_size(value)
    return {"width": width, "height": height}


def row_from_mapping(
    number: int, record: Mapping[str, Any], base: DrawSettings | None = None
) -> Row:
    """Turn one record (column -> value) into a validated :class:`Row`, overriding ``base``.

    ``prompt`` is one prompt (``prompts`` several); empty values (``""``, ``None``) keep the base
    value. Unknown columns are an error, so a typo such as ``itertions`` is reported rather than
    silently ignored; so are settings that :meth:`DrawSettings.validate` rejects and unknown
    model names.
    """
    from clipdraw.models import check_model_spec

    base = DrawSettings() if base is None else base
    defaults = base.to_dict()
    hints = base.resolved().to_dict()
    names = _field_names()
    prompt = ""
    changes: dict[str, Any] = {}
    try:
        for column, value in record.items():
            if column is None:
                raise ValueError("row has more cells than the header has columns")
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            key = column.strip().lower()
            if key in {"prompt", "text"}:
                prompt = str(value).strip()
                changes["prompts"] = (prompt,)
            elif key == "size":
                changes.update(parse_size(value))
            else:
                name = _resolve(column, names)
                if name is None:
                    raise ValueError(f"unknown column {column!r}")
                changes[name] = _coerce(value, hints.get(name), name)
        settings = DrawSettings.from_dict({**defaults, **changes}).validate()
        if settings.uses_clip:
            for model in settings.models:
                check_model_spec(model, settings.pretrained, settings.clip_weights)
    except (ValueError, TypeError) as error:
        prompt = prompt or " ".join(str(p) for p in _as_list(changes.get("prompts")))
        return Row(number=number, settings=None, error=str(error) or type(error).__name__,
                   prompt=prompt)
    return Row(number=number, settings=settings, prompt=prompt or _prompt_of(settings))


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _prompt_of(settings: DrawSettings) -> str:
    """The prompt text of settings, whatever the field is called."""
    if settings.prompts:
        return " ".join(settings.prompts)
    for name in ("image_prompt", "target"):
        value = getattr(settings, name, None)
        if value:
            return Path(str(value)).stem
    return ""


def _detect_format(path: Path, text: str) -> str:
    """``"jsonl"``, ``"csv"`` or ``"text"`` from the extension, else from the first line."""
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    if suffix in {".csv", ".tsv"}:
        return "csv"
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return "jsonl" if first.startswith("{") else "text"


def parse_rows(text: str, fmt: str, base: DrawSettings | None = None) -> list[Row]:
    """Parse the contents of a prompts file in format ``fmt`` (``text``, ``jsonl`` or ``csv``)."""
    if fmt not in _TEXT_FORMATS:
        raise ValueError(f"unknown prompts format {fmt!r}; choose from {sorted(_TEXT_FORMATS)}")
    rows: list[Row] = []
    if fmt == "csv":
        header = text.splitlines()[0] if text.strip() else ""
        dialect = csv.excel_tab if "\t" in header and "," not in header else csv.excel
        reader = csv.DictReader(io.StringIO(text), dialect=dialect)
        fields = [name.strip().lower() for name in reader.fieldnames or []]
        if "prompt" not in fields and "text" not in fields:
            raise ValueError("a CSV prompts file needs a header row with a 'prompt' column")
        for record in reader:
            cells = [value for value in record.values() if isinstance(value, str)]
            if not any(cell.strip() for cell in cells):
                continue
            clean = {(k.strip().lower() if k is not None else None): v for k, v in record.items()}
            rows.append(row_from_mapping(reader.line_num, clean, base))
        return rows
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or (fmt == "text" and stripped.startswith("#")):
            continue
        if fmt == "text":
            rows.append(row_from_mapping(number, {"prompt": stripped}, base))
            continue
        try:
            record = json.loads(stripped)
        except json.JSONDecodeError as error:
            rows.append(Row(number, None, f"invalid JSON: {error.msg}", stripped[:80]))
            continue
        if isinstance(record, str):
            record = {"prompt": record}
        if not isinstance(record, dict):
            rows.append(Row(number, None, "a JSONL row must be an object or a string", ""))
            continue
        rows.append(row_from_mapping(number, record, base))
    return rows


def read_rows(
    path: str | os.PathLike, base: DrawSettings | None = None, fmt: str | None = None
) -> list[Row]:
    """Read a prompts file (text, JSONL or CSV; see the module docstring) into rows.

    Raises:
        OSError: the file cannot be read.
        ValueError: the file as a whole is unusable (a CSV without a ``prompt`` column).
    """
    source = Path(path)
    text = source.read_text(encoding="utf-8-sig")
    return parse_rows(text, fmt or _detect_format(source, text), base)


def expand_jobs(rows: Sequence[Row], seeds: int = 1, best_of: int = 1) -> list[Job]:
    """One job per (row, seed): ``seeds`` outputs per row, each the best of ``best_of`` seeds.

    Output ``j`` of a row with seed ``s`` draws seeds ``s + j * best_of ... + best_of - 1``, so
    seeds never repeat within a row. Rows that would write the same file names (same prompt and
    seed, different settings) get a short settings hash appended; exact duplicates are dropped.
    """
    if seeds < 1 or best_of < 1:
        raise ValueError("seeds and best_of must be at least 1")
    jobs: list[Job] = []
    seen: dict[str, str] = {}
    for row in rows:
        if not row.ok:
            key = f"{slugify(row.prompt) if row.prompt else 'row'}_row{row.number}"
            jobs.append(Job(key=key, row=row.number, prompt=row.prompt, error=row.error))
            continue
        assert row.settings is not None
        base_seed = int(row.settings.seed)
        for output in range(seeds):
            first = base_seed + output * best_of
            candidates = tuple(
                row.settings.replace(seed=first + c) for c in range(best_of)
            )
            fingerprint = settings_hash(candidates)
            key = output_stem(row.prompt, first) + (f"_best{best_of}" if best_of > 1 else "")
            suffix = ""
            if key in seen:
                if seen[key] == fingerprint:
                    continue
                suffix = f"_{fingerprint[:8]}"
                key += suffix
            seen[key] = fingerprint
            jobs.append(
                Job(
                    key=key,
                    row=row.number,
                    prompt=row.prompt,
                    candidates=candidates,
                    suffix=suffix,
                    settings_hash=fingerprint,
                )
            )
    return jobs
