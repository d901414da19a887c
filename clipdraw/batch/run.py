"""Run many drawings: plan jobs, skip finished ones, draw compatible ones K at a time, save each.

The flow is the same on one machine and on a Ray cluster; only the executor that turns a batch
of settings into finished drawings differs:

0. the output folder is locked (:class:`~clipdraw.batch.lock.FolderLock`): a second run on
   it waits, then resumes; temporaries left by a killed run are removed;
1. rows -> jobs (:func:`~clipdraw.batch.rows.expand_jobs`), minus jobs the manifest says are
   complete (entry ``ok``, same settings, files present). A row that cannot be planned, whatever
   it holds, becomes that row's error; files of a half-saved drawing are removed;
2. the candidates of the remaining jobs are grouped by :func:`batch_key` (settings that must be
   shared by one renderer call: canvas size, iterations, model, ...) and cut into batches of K;
3. each batch goes to :func:`clipdraw.draw_batch`; if the batch fails, its drawings are retried
   one by one so a single bad row costs only itself;
4. as soon as a job's candidates are all drawn, the best one is written (SVG, PNG, JSON as one
   set, :meth:`~clipdraw.drawing.Drawing.save`) and only then its manifest line, so an
   interrupted run redoes at most the drawings in flight and never leaves a corrupt one behind.

Any failure of one drawing (drawing, judging, saving, recording it) is that drawing's error
entry; only a folder that cannot be written to (disk full) stops the run, with
:class:`~clipdraw.io.WriteFailed`.
"""

from __future__ import annotations

import errno
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from clipdraw.batch.lock import FolderLock
from clipdraw.batch.manifest import MANIFEST_NAME, Manifest, entry_is_complete, latest_entries
from clipdraw.batch.rows import Job, Row, expand_jobs, row_from_mapping
from clipdraw.best import best_index
from clipdraw.drawing import Drawing
from clipdraw.io import WriteFailed, json_safe, remove_temporaries
from clipdraw.objectives import similarity
from clipdraw.optimise import over_white
from clipdraw.settings import DrawSettings

__all__ = [
    "BatchSummary",
    "Drawn",
    "FAILURE_REASONS",
    "Progress",
    "batch_key",
    "Judge",
    "Work",
    "draw_candidates",
    "local_executor",
    "make_batches",
    "pipeline_draw_fn",
    "plan_jobs",
    "run_batch",
]

#: Why a drawing can fail, as counted in :attr:`BatchSummary.failures`.
FAILURE_REASONS = ("invalid row", "drawing failed", "judge failed", "ray task failed",
                   "saving failed", "no result")

#: Longest error message kept in a manifest entry (a hostile row can make huge ones).
MAX_ERROR_CHARS = 2000

# Errors that concern the output folder, not the drawing: the run stops instead of failing
# every drawing left.
_FOLDER_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO,
                  getattr(errno, "EDQUOT", errno.ENOSPC)}

@dataclass
class Drawn:
    """One finished (or failed) candidate, on the CPU so it can cross processes (Ray).

    Attributes:
        settings: what it was drawn from, as given.
        drawing: the pipeline's :class:`~clipdraw.drawing.Drawing`; ``None`` when it failed.
        judge_similarity: similarity under the judge model, when there is one.
        seconds: its share of the wall time of the batch that drew it.
        error: why it failed; ``None`` when it succeeded.
        reason: the kind of failure, one of :data:`FAILURE_REASONS`.
    """

    settings: DrawSettings
    drawing: Drawing | None = None
    judge_similarity: float | None = None
    seconds: float = 0.0
    error: str | None = None
    reason: str = "drawing failed"

    @property
    def similarity(self) -> float | None:
        """Final CLIP similarity under the model(s) it was optimised against."""
        return None if self.drawing is None else _as_float(self.drawing.similarity)

    @property
    def score(self) -> float | None:
        """What best-of ranks by: the judge's similarity when there is one, else the drawing's
        :attr:`~clipdraw.drawing.Drawing.score` (on fixed views; ranked by
        :func:`clipdraw.best.best_index`)."""
        if self.judge_similarity is not None:
            return self.judge_similarity
        return None if self.drawing is None else _as_float(self.drawing.score)


class Progress(Protocol):
    """Receives progress over drawings (jobs): a total first, then one call per finished job.

    Two more methods are called when the object has them:

    - ``step(step, iterations, drawings)`` after every optimisation step of the batch in flight
      (``step`` 0 when a batch starts, models loading), for runs drawn in this process (not on
      Ray workers);
    - ``waiting(holder)`` once, when another run holds the output folder and this one waits
      (``holder``: ``"pid N on HOST"``).
    """

    def start(self, total: int, done: int) -> None: ...

    def advance(self, entry: Mapping[str, Any]) -> None: ...


StepFn = Callable[[int, int, int], None]


DrawFn = Callable[[Sequence[DrawSettings]], Sequence[Any]]
WorkFn = Callable[[Sequence[DrawSettings]], list[Drawn]]
Executor = Callable[[Sequence[Sequence[DrawSettings]], WorkFn], Iterator[tuple[int, list[Drawn]]]]


@dataclass
class BatchSummary:
    """What a run did: jobs planned, already complete, drawn now, and failed, and why.

    Attributes:
        failures: failed drawings by reason (see :data:`FAILURE_REASONS`).
        first_errors: the first few failures, as ``"row N (prompt): message"`` lines.
    """

    total: int = 0
    skipped: int = 0
    ok: int = 0
    failed: int = 0
    entries: list[dict[str, Any]] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)
    first_errors: list[str] = field(default_factory=list)

    #: How many failures :attr:`first_errors` keeps.
    max_errors_shown: int = 5

    def add(self, entry: Mapping[str, Any]) -> None:
        """Count one recorded entry."""
        self.entries.append(dict(entry))
        if entry.get("status") == "ok":
            self.ok += 1
            return
        self.failed += 1
        self.failures[str(entry.get("reason", "drawing failed"))] += 1
        if len(self.first_errors) < self.max_errors_shown:
            self.first_errors.append(_describe_failure(entry))


def _describe_failure(entry: Mapping[str, Any], width: int = 200) -> str:
    """``"row 3 (a dog): shape must be ..."``, shortened to about ``width`` characters."""
    prompt = " ".join(str(entry.get("prompt") or "").split())
    if len(prompt) > 40:
        prompt = prompt[:39] + "\N{HORIZONTAL ELLIPSIS}"
    where = f"row {entry.get('row')}" + (f" ({prompt})" if prompt else "")
    message = " ".join(str(entry.get("error") or "unknown error").split())
    if len(message) > width:
        message = message[: width - 1] + "\N{HORIZONTAL ELLIPSIS}"
    return f"{where}: {message}"


def batch_key(settings: DrawSettings) -> tuple:
    """What drawings must share to be optimised in one batch (canvas size, iterations, models,
    views: :meth:`DrawSettings.shared_fields`), plus the mode, so painterly drawings (no CLIP)
    never wait on CLIP ones."""
    resolved = settings.resolved()
    shared = tuple(repr(getattr(resolved, name)) for name in DrawSettings.shared_fields())
    return (resolved.uses_clip, *shared)


def make_batches(jobs: Sequence[Job], batch_size: int) -> list[list[tuple[int, int]]]:
    """Cut the candidates of ``jobs`` into batches of at most ``batch_size`` compatible ones.

    Returns batches of ``(job index, candidate index)``. Jobs keep their order within a group,
    so the candidates of one best-of job are drawn close together.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    groups: dict[tuple, list[tuple[int, int]]] = {}
    for job_index, job in enumerate(jobs):
        for candidate_index, settings in enumerate(job.candidates):
            groups.setdefault(batch_key(settings), []).append((job_index, candidate_index))
    return [
        members[start : start + batch_size]
        for members in groups.values()
        for start in range(0, len(members), batch_size)
    ]


def _as_float(value: Any) -> float | None:
    """A Python float from a number or a one-element tensor; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, Tensor):
        return float(value.detach().float().reshape(-1)[-1].cpu())
    return float(value)


def _to_drawn(drawing: Drawing, settings: DrawSettings, seconds: float) -> Drawn:
    """Wrap one pipeline drawing, moved to the CPU."""
    scene = drawing.scene.detach().to("cpu")
    moved = Drawing(scene[0] if scene.batch_size != 1 else scene, drawing.settings,
                    dict(drawing.metrics))
    return Drawn(settings=settings, drawing=moved, seconds=seconds)


def pipeline_draw_fn(device: str | None = None, on_step: StepFn | None = None) -> DrawFn:
    """:func:`clipdraw.drawing.draw_batch` on ``device``, reusing loaded CLIP models across
    calls (keyed by model specs, weights and device), so a run loads each model once.

    ``on_step(step, iterations, drawings)`` is called when a batch starts (step 0) and after
    each of its optimisation steps."""
    from clipdraw.drawing import draw_batch, load_models
    from clipdraw.models import resolve_device

    target = resolve_device(device or "auto")
    cache: dict[tuple, list] = {}

    def draw(settings: Sequence[DrawSettings]) -> Sequence[Drawing]:
        first = settings[0].resolved()
        callbacks = []
        if on_step is not None:
            count = len(settings)
            on_step(0, first.iterations, count)
            callbacks.append(lambda info: on_step(info.step, info.iterations, count))
        key = (first.models, first.pretrained, first.clip_weights, first.uses_clip)
        if key not in cache:
            cache.clear()
            cache[key] = load_models(first, target)
        return draw_batch(list(settings), device=target, clip_models=cache[key],
                          callbacks=callbacks)

    return draw


def _error_text(error: BaseException) -> str:
    """``"ValueError: message"``, whatever ``str(error)`` does, at most
    :data:`MAX_ERROR_CHARS` long."""
    try:
        message = str(error)
    except Exception:  # noqa: BLE001 - an exception whose str() fails
        message = ""
    return _shorten(f"{type(error).__name__}: {message}" if message else type(error).__name__)


def _shorten(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``text`` cut to ``limit`` characters (the last one an ellipsis when cut)."""
    return text if len(text) <= limit else text[: limit - 1] + "\N{HORIZONTAL ELLIPSIS}"


def draw_candidates(
    settings: Sequence[DrawSettings],
    *,
    draw_fn: DrawFn | None = None,
    device: str | None = None,
    judge: Callable[[Sequence[Tensor], Sequence[DrawSettings]], Sequence[float]] | None = None,
) -> list[Drawn]:
    """Draw ``settings`` in one batch; if the batch fails, draw them one by one so that only
    the failing ones are lost. Judge the successes when ``judge`` is given.

    KeyboardInterrupt is never caught: Ctrl-C stops the run with this batch unsaved.
    """
    drawer = draw_fn or pipeline_draw_fn(device)
    settings = list(settings)
    results: list[Drawn]
    started = time.perf_counter()
    try:
        drawings = list(drawer(settings))
        if len(drawings) != len(settings):
            raise RuntimeError(f"draw_batch returned {len(drawings)} for {len(settings)} drawings")
        share = (time.perf_counter() - started) / max(len(settings), 1)
        results = [_to_drawn(d, s, share) for d, s in zip(drawings, settings)]
    except Exception as error:  # noqa: BLE001 - isolate the bad drawing, report the rest
        if len(settings) == 1:
            results = [Drawn(settings=settings[0], error=_error_text(error))]
        else:
            results = [
                draw_candidates([one], draw_fn=drawer)[0] for one in settings
            ]
    if judge is not None:
        good = [r for r in results if r.error is None and r.drawing is not None]
        if good:
            try:
                scores = judge([r.drawing.render() for r in good], [r.settings for r in good])
                similarities = [None if score is None else float(score) for score in scores]
            except Exception as error:  # noqa: BLE001 - a judge failure fails these drawings
                for r in good:
                    r.error = f"judge failed: {_error_text(error)}"
                    r.reason = "judge failed"
            else:
                for r, similarity in zip(good, similarities):
                    r.judge_similarity = similarity
    return results


def local_executor(
    batches: Sequence[Sequence[DrawSettings]], work: WorkFn
) -> Iterator[tuple[int, list[Drawn]]]:
    """Draw batches one after another in this process."""
    for index, batch in enumerate(batches):
        yield index, work(batch)


def _coerce_rows(rows: Sequence[Row] | Sequence[DrawSettings]) -> list[Row]:
    """Accept rows, bare settings or mappings (numbered from 1) for API callers; anything that
    cannot become a row is kept as an invalid one."""
    coerced = []
    for number, row in enumerate(rows, start=1):
        try:
            if isinstance(row, Row):
                coerced.append(row)
            elif isinstance(row, DrawSettings):
                coerced.append(_row_from_settings(number, row))
            elif isinstance(row, Mapping):
                coerced.append(row_from_mapping(number, row))
            else:
                raise TypeError(f"a row must be a Row, DrawSettings or mapping, not "
                                f"{type(row).__name__}")
        except Exception as error:  # noqa: BLE001 - a bad row costs only itself
            coerced.append(Row(number=number, settings=None, error=_error_text(error)))
    return coerced


def _row_from_settings(number: int, settings: DrawSettings) -> Row:
    prompt = " ".join(str(p) for p in settings.prompts)
    try:
        return Row(number=number, settings=settings.validate(), prompt=prompt)
    except ValueError as error:
        return Row(number=number, settings=None, error=str(error), prompt=prompt)


def _plannable(row: Row, seeds: int, best_of: int) -> Row:
    """``row`` if every step of planning its jobs works; else the same row marked invalid.

    Rows are read by someone else's rules, so whatever a row holds (a NaN or list seed, a
    surrogate in its prompt, settings of the wrong type) it must cost only itself: its jobs
    are expanded, keyed, fingerprinted and grouped here once, alone.
    """
    try:
        for job in expand_jobs([row], seeds=seeds, best_of=best_of):
            json.dumps(json_safe({"key": job.key, "prompt": job.prompt, "error": job.error}))
            for candidate in job.candidates:
                batch_key(candidate)
                job.stem(int(candidate.seed))
                json.dumps(json_safe(candidate.to_dict()))
    except Exception as error:  # noqa: BLE001 - whatever it is, it is this row's error
        problem = error
    else:
        return row
    prompt = row.prompt if isinstance(row.prompt, str) else ""
    number = row.number if isinstance(row.number, int) and not isinstance(row.number, bool) else 0
    message = str(row.error) if row.error is not None else _error_text(problem)
    invalid = Row(number=number, settings=None, error=message, prompt=prompt)
    try:
        expand_jobs([invalid])
    except Exception:  # noqa: BLE001 - even its prompt is unusable (as a file name)
        invalid = Row(number=number, settings=None, error=message, prompt="")
    return invalid


def plan_jobs(rows: Sequence[Row], seeds: int = 1, best_of: int = 1) -> list[Job]:
    """:func:`~clipdraw.batch.rows.expand_jobs`, except that a row that cannot be planned
    becomes an invalid row's job (with its error) instead of stopping the whole batch."""
    return expand_jobs([_plannable(row, seeds, best_of) for row in rows], seeds=seeds,
                       best_of=best_of)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _failure(job: Job, reason: str, error: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    """A failed job's manifest entry; its texts are shortened, since a hostile row's prompt or
    error can be megabytes."""
    return {"key": job.key, "row": job.row, "prompt": _shorten(str(job.prompt)),
            "status": "error", "reason": reason, "error": _shorten(error),
            "finished_at": _now(), **extra}


def _save_job(job: Job, drawn: list[Drawn], out_dir: Path, png: bool, extra: Mapping) -> dict:
    """Write the best candidate's files (as one set) and return the job's manifest entry."""
    good = [d for d in drawn if d.error is None and d.drawing is not None]
    base = {
        "key": job.key,
        "row": job.row,
        "prompt": job.prompt,
        "settings_hash": job.settings_hash,
        "seconds": round(sum(d.seconds for d in drawn), 4),
        **extra,
    }
    if len(drawn) > 1:
        base["candidates"] = [
            {"seed": int(d.settings.seed), "similarity": d.similarity, "score": d.score,
             "judge_similarity": d.judge_similarity, "error": d.error}
            for d in drawn
        ]
    if not good:
        failed = [d for d in drawn if d.error]
        return {
            **base,
            "status": "error",
            "reason": failed[0].reason if failed else "no result",
            "seed": int(job.candidates[0].seed),
            "settings": job.candidates[0].to_dict(),
            "error": failed[0].error if failed else "nothing was drawn",
            "finished_at": _now(),
        }
    best = good[best_index([d.score for d in good])]
    assert best.drawing is not None
    metrics = dict(best.drawing.metrics)
    if best.judge_similarity is not None:
        metrics["judge_similarity"] = best.judge_similarity
    drawing = Drawing(best.drawing.scene, best.drawing.settings, metrics)
    stem = job.stem(int(best.settings.seed))
    written = drawing.save(out_dir / f"{stem}.svg", png=png, json_file=True)
    entry = {
        **base,
        "status": "ok",
        "seed": int(best.settings.seed),
        "settings": drawing.settings.to_dict(),
        "similarity": best.similarity,
        "metrics": {k: v for k, v in metrics.items() if isinstance(v, (int, float, str))},
        "files": {kind: path.name for kind, path in written.items()},
        "finished_at": _now(),
    }
    if best.judge_similarity is not None:
        entry["judge_similarity"] = best.judge_similarity
    return entry


def _remove_half_saved(job: Job, folder: Path) -> None:
    """Remove the files of a drawing of ``job`` whose set was cut short (its JSON, renamed
    last, is missing), so no ``.svg`` stays without its ``.png`` and ``.json``."""
    for candidate in job.candidates:
        stem = job.stem(int(candidate.seed))
        if (folder / f"{stem}.json").exists():
            continue
        for suffix in (".svg", ".png"):
            (folder / f"{stem}{suffix}").unlink(missing_ok=True)


def _folder_problem(
    error: BaseException, folder: Path, errnos: set[int] | None = _FOLDER_ERRNOS
) -> WriteFailed | None:
    """The run-stopping error for an ``OSError`` about the output folder (disk full,
    read-only, no permission; any errno when ``errnos`` is ``None``), else ``None``."""
    if isinstance(error, WriteFailed):
        return error
    if isinstance(error, OSError) and (errnos is None or error.errno in errnos):
        reason = error.strerror or os.strerror(error.errno or errno.EIO)
        return WriteFailed(error.errno, f"cannot write into {folder}: {reason}")
    return None


def run_batch(
    rows: Sequence[Row] | Sequence[DrawSettings],
    out_dir: str | os.PathLike,
    *,
    seeds: int = 1,
    batch_size: int = 1,
    best_of: int = 1,
    judge_model: str | None = None,
    judge_pretrained: str | None = "openai",
    device: str | None = None,
    png: bool = True,
    progress: Progress | None = None,
    executor: Executor | None = None,
    draw_fn: DrawFn | None = None,
    lock_timeout: float | None = None,
) -> BatchSummary:
    """Draw every row (``seeds`` times, each the best of ``best_of`` seeds) into ``out_dir``.

    Args:
        rows: rows from :func:`~clipdraw.batch.rows.read_rows`, or settings.
        out_dir: output folder; holds the drawings and ``manifest.jsonl``.
        seeds: outputs per row; output ``j`` starts at the row's seed ``+ j * best_of``.
        batch_size: drawings optimised together in one :func:`clipdraw.draw_batch` call.
        best_of: candidates per output; the one with the best (judge) score is kept.
        judge_model: CLIP model to rank best-of candidates with (e.g. one not optimised
            against); ``None`` ranks by the drawings' own scores on fixed views.
        judge_pretrained: the judge's pretrained tag.
        device: torch device for drawing and judging; the pipeline's default when ``None``.
        png: also save a PNG of each drawing.
        progress: receives the number of jobs, each manifest entry as it is written, and
            optionally the steps of the batch in flight (see :class:`Progress`).
        executor: runs batches (default: here, one after another; see
            :class:`clipdraw.batch.ray_backend.RayExecutor`).
        draw_fn: replaces :func:`clipdraw.draw_batch` (tests, custom pipelines).
        lock_timeout: seconds to wait while another run draws into ``out_dir`` (``None``: as
            long as it takes; see :class:`~clipdraw.batch.lock.FolderLock`).

    Returns:
        A :class:`BatchSummary`. Jobs already complete in the manifest are skipped; invalid rows
        and failed drawings get an ``error`` entry (with a ``reason``) and do not stop the
        others.

    Raises:
        WriteFailed: ``out_dir`` or its manifest cannot be written (disk full, read-only); the
            manifest keeps every entry written before, so rerunning resumes.
        FolderBusy: another run still holds ``out_dir`` after ``lock_timeout`` seconds.
    """
    folder = Path(out_dir)
    waiting = getattr(progress, "waiting", None)
    lock = FolderLock(folder, timeout=lock_timeout, on_wait=waiting)
    try:
        lock.acquire()
    except OSError as error:
        raise _folder_problem(error, folder, errnos=None) from None
    try:
        return _run_locked(rows, folder, seeds=seeds, batch_size=batch_size, best_of=best_of,
                           judge_model=judge_model, judge_pretrained=judge_pretrained,
                           device=device, png=png, progress=progress, executor=executor,
                           draw_fn=draw_fn)
    except OSError as error:
        problem = _folder_problem(error, folder)
        if problem is None:
            raise
        raise problem from None
    finally:
        lock.release()


def _run_locked(
    rows: Sequence[Row] | Sequence[DrawSettings],
    folder: Path,
    *,
    seeds: int,
    batch_size: int,
    best_of: int,
    judge_model: str | None,
    judge_pretrained: str | None,
    device: str | None,
    png: bool,
    progress: Progress | None,
    executor: Executor | None,
    draw_fn: DrawFn | None,
) -> BatchSummary:
    """:func:`run_batch` once the folder is locked."""
    remove_temporaries(folder)
    manifest = Manifest(folder / MANIFEST_NAME)
    jobs = plan_jobs(_coerce_rows(rows), seeds=seeds, best_of=best_of)
    latest = latest_entries(manifest.read())
    summary = BatchSummary(total=len(jobs))
    todo: list[Job] = []
    for job in jobs:
        previous = latest.get(job.key)
        if job.error is None and previous and entry_is_complete(
            previous, folder, job.settings_hash
        ):
            summary.skipped += 1
        else:
            todo.append(job)
    if progress is not None:
        progress.start(summary.total, summary.skipped)

    extra: dict[str, Any] = {"batch_size": batch_size}
    if judge_model:
        extra["judge_model"] = judge_model

    def record(entry: dict[str, Any]) -> None:
        manifest.append(entry)
        summary.add(entry)
        if progress is not None:
            progress.advance(entry)

    runnable = [job for job in todo if job.error is None]
    for job in todo:
        if job.error is not None:
            record(_failure(job, "invalid row", str(job.error), extra))
        else:
            _remove_half_saved(job, folder)

    batches = make_batches(runnable, batch_size)
    settings_batches = [[runnable[j].candidates[c] for j, c in batch] for batch in batches]
    pending: dict[int, dict[int, Drawn]] = {}
    finished: set[int] = set()
    work = Work(draw_fn=draw_fn, device=device, judge_model=judge_model,
                judge_pretrained=judge_pretrained, on_step=getattr(progress, "step", None))
    for batch_index, results in (executor or local_executor)(settings_batches, work):
        for (job_index, candidate_index), drawn in zip(batches[batch_index], results):
            done = pending.setdefault(job_index, {})
            done[candidate_index] = drawn
            job = runnable[job_index]
            if len(done) == len(job.candidates):
                ordered = [done[i] for i in range(len(job.candidates))]
                del pending[job_index]
                finished.add(job_index)
                try:
                    entry = _save_job(job, ordered, folder, png, extra)
                except Exception as error:  # noqa: BLE001 - a save failure fails this job only
                    stop = _folder_problem(error, folder)
                    if stop is not None:
                        raise stop from None
                    entry = _failure(job, "saving failed",
                                     f"saving failed: {_error_text(error)}", extra)
                record(entry)
    for job_index, job in enumerate(runnable):  # an executor that lost a batch
        if job_index not in finished:
            record(_failure(job, "no result", "the executor returned no drawing", extra))
    return summary


class Judge:
    """Scores finished drawings against their prompts with a CLIP model of its own.

    Used by best-of to rank candidates with a model that was not optimised against, which
    rewards drawings that look like the prompt rather than ones that fool one model.

    Args:
        model: model spec for :func:`clipdraw.models.load_clip`.
        pretrained: its pretrained tag (ignored for config files and hub specs).
        device: where it runs (``None``: the best available).
    """

    def __init__(self, model: str, pretrained: str | None = "openai",
                 device: str | None = None) -> None:
        from clipdraw.models import load_clip

        self.clip = load_clip(model, pretrained, device=device or "auto")

    @torch.no_grad()
    def __call__(
        self, images: Sequence[Tensor], settings: Sequence[DrawSettings]
    ) -> list[float | None]:
        """Mean cosine similarity of each image (over white) to its own prompts; ``None`` for a
        drawing without text prompts.

        Shape:
            - images: each :math:`(C, H, W)` straight RGB(A) in [0, 1], C = 3 or 4.
        """
        scores: list[float | None] = []
        for image, setting in zip(images, settings):
            if not setting.prompts:
                scores.append(None)
                continue
            pixels = image.to(self.clip.device, torch.float32)[None]
            if pixels.shape[1] == 4:
                pixels = over_white(pixels)
            scores.append(float(similarity(self.clip, pixels, setting.prompts)[0]))
        return scores


@dataclass
class Work:
    """Picklable batch worker: draws one batch (and judges it); sent to Ray workers as is.

    Models (and the judge) are loaded on first use and kept for later batches of this process.
    """

    draw_fn: DrawFn | None = None
    device: str | None = None
    judge_model: str | None = None
    judge_pretrained: str | None = "openai"
    on_step: StepFn | None = field(default=None, repr=False, compare=False)
    _judge: Judge | None = field(default=None, repr=False, compare=False)
    _drawer: DrawFn | None = field(default=None, repr=False, compare=False)

    def __call__(self, settings: Sequence[DrawSettings]) -> list[Drawn]:
        if self._drawer is None:  # made once, so models load once per process
            self._drawer = self.draw_fn or pipeline_draw_fn(self.device, self.on_step)
        if self.judge_model and self._judge is None:
            self._judge = Judge(self.judge_model, self.judge_pretrained, self.device)
        return draw_candidates(settings, draw_fn=self._drawer, judge=self._judge)

    def __getstate__(self) -> dict[str, Any]:
        """Ship without loaded models (each Ray worker loads its own) or the step callback
        (it reports to this process's console)."""
        return {**self.__dict__, "_judge": None, "_drawer": None, "on_step": None}
