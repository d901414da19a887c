"""Batch input: rows of a prompts file become :class:`DrawSettings`, then output jobs.

A prompts file is plain text (one prompt per line; blank lines and ``#`` comments skipped),
JSONL (one object per line) or CSV (a header row naming the columns). JSONL and CSV rows may set
any option of :mod:`clipdraw.options` by its name or column name (``prompt``, ``negatives``,
``seed``, ``paths``, ``iterations``, ``size``, ``shape``, ``model``, ...), read by the same types
and ranges as the command line; list values are JSON lists, or ``|``-separated in CSV cells.
A row that cannot become valid settings is kept, with its error, so the run reports it in the
manifest and goes on with the others.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clipdraw.io import valid_text
from clipdraw.options import FIELD_TYPES, OPTION_BY_KEY, OPTIONS, Option, OptionError
from clipdraw.settings import DrawSettings

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
#: Largest CSV cell read; a longer cell is that row's error, not the file's.
MAX_CELL = 128 * 1024
#: Largest prompts file read (bytes).
MAX_FILE = 256 * 1024 * 1024


def _column_options() -> dict[str, Option]:
    """Batch column name -> the option it sets: each option's key, columns and own fields."""
    columns: dict[str, Option] = {option.key: option for option in OPTIONS}
    for option in OPTIONS:
        for name in (*option.columns, *option.targets):
            columns.setdefault(name, option)
    return columns


_COLUMNS = _column_options()


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


def parse_size(value: Any) -> dict[str, int]:
    """``size`` (``224``, ``"224"``, ``"320x240"``, ``[320, 240]``) as ``width`` and ``height``."""
    return OPTION_BY_KEY["size"].parse(value)


def _column_value(column: str, value: Any) -> dict[str, Any]:
    """The settings fields one cell sets, read by the schema's option types."""
    key = column.strip().lower().replace("-", "_")
    if key in FIELD_TYPES:
        try:
            return {key: FIELD_TYPES[key].convert(value)}
        except ValueError as error:
            raise OptionError(key, str(error)) from None
    option = _COLUMNS.get(key)
    if option is None:
        raise ValueError(f"unknown column {column!r}")
    if key in ("prompt", "text") and isinstance(value, str):
        value = [value]  # one prompt, "|" and all; several go in a "prompts" column
    return option.parse(value)


def row_from_mapping(
    number: int, record: Mapping[Any, Any], base: DrawSettings | None = None
) -> Row:
    """Turn one record (column -> value) into a validated :class:`Row`, overriding ``base``.

    Columns are the options of :mod:`clipdraw.options` (by key, field or column name: ``prompt``,
    ``negatives``, ``seed``, ``size``, ``model``, ...), read by the same types as the command
    line. Empty values (``""``, ``None``) keep the base value. Whatever a cell holds, a bad row
    comes back as a :class:`Row` with its ``error``, never as an exception: unknown columns (a
    typo such as ``itertions``), values of the wrong type or range, settings that
    :meth:`DrawSettings.validate` rejects, and unknown model names.
    """
    from clipdraw.models import check_model_spec

    base = DrawSettings() if base is None else base
    prompt = next((v for k, v in record.items() if isinstance(k, str) and isinstance(v, str)
                   and k.strip().lower() in ("prompt", "text", "prompts")), "")[:200]
    changes: dict[str, Any] = {}
    try:
        for column, value in record.items():
            if not isinstance(column, str):
                raise ValueError("row has more cells than the header has columns")
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            changes.update(_column_value(column, value))
        settings = base.replace(**changes).validate()
        if settings.uses_clip:
            for model in settings.models:
                check_model_spec(model, settings.pretrained, settings.clip_weights)
    except Exception as error:  # any bad value is this row's failure, never the batch's
        message = str(error) or type(error).__name__
        return Row(number=number, settings=None, error=valid_text(message),
                   prompt=valid_text(prompt))
    return Row(number=number, settings=settings,
               prompt=" ".join(settings.prompts) or _prompt_of(settings))


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


@contextlib.contextmanager
def _cell_limit(limit: int) -> Iterator[None]:
    """csv's cell-size limit is process-wide: set it for one read, then put it back."""
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


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
        with _cell_limit(MAX_CELL):
            fields = [name.strip().lower() for name in reader.fieldnames or []]
            if "prompt" not in fields and "text" not in fields:
                raise ValueError("a CSV prompts file needs a header row with a 'prompt' column")
            while True:
                number = reader.line_num + 1
                try:
                    record = next(reader)
                except StopIteration:
                    break
                except csv.Error as error:
                    rows.append(Row(number, None, f"unreadable CSV record: {error}", ""))
                    continue
                cells = [value for value in record.values() if isinstance(value, str)]
                if not any(cell.strip() for cell in cells):
                    continue
                clean = {(k.strip().lower() if k is not None else None): v
                         for k, v in record.items()}
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
        except (json.JSONDecodeError, RecursionError) as error:
            reason = error.msg if isinstance(error, json.JSONDecodeError) else "nested too deep"
            rows.append(Row(number, None, f"invalid JSON: {reason}", valid_text(stripped[:80])))
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
    if not source.is_file():
        raise ValueError(f"{str(source)!r} is not a file")
    if source.stat().st_size > MAX_FILE:
        raise ValueError(f"larger than {MAX_FILE // 2**20} MiB; split it into several files")
    text = source.read_text(encoding="utf-8-sig", errors="surrogateescape")
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
