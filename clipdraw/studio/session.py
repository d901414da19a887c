"""One studio session: the model loaded once, a queue of drawings run one at a time, and what
each drawing has shown so far.

A :class:`Studio` owns a worker thread that takes :class:`Job` s from its queue and runs each
through :func:`clipdraw.drawing.draw_batch`. A callback keeps the job's latest step figures and,
at most every ``frame_seconds``, its current drawing as SVG (the live frame); stopping raises
from that callback, so the drawing stops between steps and is saved as it was. Every drawing that
ends (finished, stopped, failed mid-run or stopped by shutting down) is written to the session
folder as SVG + PNG + JSON; nothing is written anywhere else.

Example (with the tiny test model a drawing takes seconds):

>>> config = StudioConfig(folder="session", models=("tiny.json",), pretrained=None)
>>> studio = Studio(config)
>>> studio.start()  # doctest: +SKIP
>>> job = studio.submit({"prompts": ["a red apple"], "iterations": "50"})  # doctest: +SKIP
>>> studio.close()  # doctest: +SKIP
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clipdraw.options import OptionError
from clipdraw.studio.form import read_form
from clipdraw.studio.uploads import UploadStore

__all__ = ["Job", "Studio", "StudioConfig", "StudioError"]

#: How a job stands: waiting, drawing, or ended (with or without a drawing).
QUEUED, RUNNING, DONE, STOPPED, FAILED = "queued", "running", "done", "stopped", "failed"
ENDED = (DONE, STOPPED, FAILED)

#: Most prompts, and most images, of one similarity table.
MAX_TABLE = 64

#: Long side (pixels) at which SVGs and drawings are rendered for CLIP, which sees them smaller.
CLIP_IMAGE_SIDE = 512


class StudioError(ValueError):
    """A request the studio refuses; ``status`` is the HTTP status, ``key`` the option if any."""

    def __init__(self, message: str, status: int = 400, key: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.key = key


@dataclass(frozen=True)
class StudioConfig:
    """How a studio session runs.

    Args:
        folder: the session's output folder (drawings and uploads); made when first needed.
        models, pretrained, clip_weights: the CLIP ensemble, as ``clipdraw draw`` takes them.
        device: ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``.
        max_upload_bytes: the largest upload accepted.
        max_queue: most drawings waiting at once.
        frame_seconds: least time between two live frames of a drawing.
    """

    folder: str | Path
    models: tuple[str, ...] = ("ViT-B-32",)
    pretrained: str | None = "openai"
    clip_weights: str | None = None
    device: str = "auto"
    max_upload_bytes: int = 16 * 2**20
    max_queue: int = 32
    frame_seconds: float = 0.15


class _Stop(KeyboardInterrupt):
    """Raised from the step callback to stop a drawing between two steps."""


@dataclass(eq=False)
class Job:
    """One drawing of the session, from the queue to its saved files.

    ``request`` is what the page sent (to fill the form again); ``settings`` what it draws.
    ``step_offset`` counts the steps of the drawing it resumes, so steps continue across a resume.
    ``history`` holds ``[step, loss, similarity]`` per step; ``version`` grows with each change.
    """

    id: str
    request: dict[str, Any]
    settings: Any
    resumed_from: str | None = None
    step_offset: int = 0
    status: str = QUEUED
    error: str | None = None
    step: int = 0
    iterations: int = 0
    loss: float | None = None
    similarity: float | None = None
    elapsed: float = 0.0
    svg: str | None = None
    scene: Any = None
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[list[float | None]] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    version: int = 0
    stop_requested: threading.Event = field(default_factory=threading.Event)

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    def summary(self) -> dict[str, Any]:
        """The job's state as JSON, without the frame and history."""
        speed = self.step / self.elapsed if self.elapsed > 0 and self.step else None
        remaining = self.iterations - self.step
        return {
            "id": self.id, "status": self.status, "error": self.error,
            "request": self.request, "resumed_from": self.resumed_from,
            "step": self.step_offset + self.step,
            "iterations": self.step_offset + self.iterations,
            "loss": _finite(self.loss), "similarity": _finite(self.similarity),
            "elapsed": self.elapsed, "speed": speed,
            "eta": remaining / speed if speed and self.status == RUNNING else None,
            "has_drawing": self.scene is not None,
            "files": sorted(self.files),
            "title": _title(self.request),
        }

    def frame(self, history_from: int = 0) -> dict[str, Any]:
        """:meth:`summary` with the latest SVG and the history from entry ``history_from``."""
        return {**self.summary(), "svg": self.svg, "history_from": history_from,
                "history": self.history[history_from:]}


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _title(request: Mapping[str, Any]) -> str:
    prompts = request.get("prompts")
    if isinstance(prompts, list):
        prompts = " / ".join(str(p) for p in prompts if str(p).strip())
    if prompts:
        return str(prompts)[:120]
    for key in ("image_prompt", "target"):
        if request.get(key):
            return f"{key.replace('_', ' ')} {request[key]}"
    return "drawing"


class Studio:
    """A studio session: uploads, a queue of drawings (one runs at a time) and the CLIP models,
    loaded once by the worker and kept.

    Call :meth:`start` before submitting and :meth:`close` at the end (it stops the running
    drawing, which is saved, and drops the queue).
    """

    def __init__(self, config: StudioConfig) -> None:
        self.config = config
        self.folder = Path(config.folder)
        self.uploads = UploadStore(self.folder / "uploads", config.max_upload_bytes)
        self.jobs: dict[str, Job] = {}
        self._queue: collections.deque[Job] = collections.deque()
        self._lock = threading.Condition()
        self._models: list[Any] | None = None
        self._model_error: str | None = None
        self._model_lock = threading.Lock()
        self._closing = False
        self._worker: threading.Thread | None = None
        self._device: Any = None

    # -- life -----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker; it loads the models at once so the first drawing does not wait."""
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="clipdraw-studio",
                                            daemon=True)
            self._worker.start()

    @property
    def closing(self) -> bool:
        return self._closing

    def stop_all(self) -> None:
        """Begin shutting down: drop the queue and stop the running drawing (saved as it is)."""
        with self._lock:
            self._closing = True
            while self._queue:
                job = self._queue.popleft()
                self._end(job, STOPPED, "the studio was shut down before it started")
            for job in self.jobs.values():
                job.stop_requested.set()
            self._lock.notify_all()

    def close(self, timeout: float | None = 60.0) -> None:
        """:meth:`stop_all`, then wait for the running drawing to be saved."""
        self.stop_all()
        if self._worker is not None:
            self._worker.join(timeout)

    # -- models ---------------------------------------------------------------------------------
    def model_status(self) -> dict[str, Any]:
        state = "ready" if self._models is not None else (
            "failed" if self._model_error else "loading")
        return {"models": list(self.config.models), "pretrained": self.config.pretrained,
                "state": state, "error": self._model_error,
                "device": str(self._device) if self._device is not None else self.config.device}

    def models(self) -> list[Any]:
        """The CLIP ensemble, loaded on first use and kept.

        Raises:
            StudioError: the models cannot be loaded (503, ``draw``'s message).
        """
        from clipdraw.models import ModelLoadError, load_clip, resolve_device

        with self._model_lock:
            if self._models is None and self._model_error is None:
                try:
                    self._device = resolve_device(self.config.device)
                    self._models = [load_clip(spec, self.config.pretrained,
                                              self.config.clip_weights, self._device)
                                    for spec in self.config.models]
                except ModelLoadError as error:
                    self._model_error = str(error)
                except Exception as error:  # noqa: BLE001 - shown in the page, never a crash
                    self._model_error = f"cannot load the CLIP model: {error}"
        if self._model_error is not None:
            raise StudioError(self._model_error, status=503, key="models")
        assert self._models is not None
        return self._models

    # -- drawings -------------------------------------------------------------------------------
    def settings_for(self, request: Mapping[str, Any]) -> Any:
        """Validated :class:`~clipdraw.settings.DrawSettings` for a request from the page.

        Raises:
            StudioError: an unknown or bad option (400, naming it).
        """
        from clipdraw.settings import DrawSettings

        try:
            changes = read_form(request, self.uploads.paths(kind="image"))
            settings = DrawSettings(models=self.config.models, pretrained=self.config.pretrained,
                                    clip_weights=self.config.clip_weights).replace(**changes)
            settings.validate()
        except OptionError as error:
            raise StudioError(str(error), key=error.key) from None
        return settings

    def submit(self, request: Mapping[str, Any]) -> Job:
        """Check a request and queue its drawing.

        Raises:
            StudioError: a bad request (400), a full queue (429) or a closing studio (503).
        """
        settings = self.settings_for(request)
        return self._enqueue(dict(request), settings)

    def _enqueue(self, request: dict[str, Any], settings: Any, resumed_from: str | None = None,
                 step_offset: int = 0) -> Job:
        with self._lock:
            if self._closing:
                raise StudioError("the studio is shutting down", status=503)
            if len(self._queue) >= self.config.max_queue:
                raise StudioError(f"{len(self._queue)} drawings are already waiting (the limit);"
                                  " stop one or wait", status=429)
            job = Job(str(len(self.jobs) + 1), request, settings, resumed_from=resumed_from,
                      step_offset=step_offset, iterations=settings.resolved().iterations)
            self.jobs[job.id] = job
            self._queue.append(job)
            self._lock.notify_all()
        return job

    def job(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise StudioError(f"no drawing {job_id[:20]!r} in this session", status=404)
        return job

    def stop(self, job_id: str) -> Job:
        """Stop a drawing: a waiting one leaves the queue, a running one stops after its step."""
        job = self.job(job_id)
        with self._lock:
            if job.status == QUEUED and job in self._queue:
                self._queue.remove(job)
                self._end(job, STOPPED, None)
            job.stop_requested.set()
        return job

    def resume(self, job_id: str) -> Job:
        """Queue a drawing that goes on from where a stopped one ended, for its remaining steps.

        It starts from the stopped drawing's SVG (its paths, all trainable) with fresh optimiser
        state; the learning-rate schedule applies to the remaining steps.

        Raises:
            StudioError: the drawing is not stopped, has no drawing or no steps left (409).
        """
        job = self.job(job_id)
        if job.status != STOPPED or "svg" not in job.files:
            raise StudioError(f"drawing {job.id} is {job.status}: only a stopped drawing that "
                              "has drawn can be resumed", status=409)
        remaining = job.iterations - job.step
        if remaining <= 0:
            raise StudioError(f"drawing {job.id} has no steps left", status=409)
        resolved = job.settings.resolved()
        settings = job.settings.replace(
            init_svg=str(job.files["svg"]), freeze_init=False, paths=0, iterations=remaining,
            width=resolved.width, height=resolved.height)
        return self._enqueue(dict(job.request), settings, resumed_from=job.id,
                             step_offset=job.step_offset + job.step)

    def drawing(self, job_id: str) -> Any:
        """The job's latest drawing as a :class:`~clipdraw.drawing.Drawing` (its settings and
        figures so far).

        Raises:
            StudioError: it has not drawn yet (409).
        """
        from clipdraw.drawing import Drawing

        job = self.job(job_id)
        scene = job.scene
        if scene is None:
            raise StudioError(f"drawing {job.id} has not drawn anything yet", status=409)
        metrics = dict(job.metrics) or {"steps": job.step_offset + job.step}
        return Drawing(scene, job.settings.resolved(), metrics, seconds=job.elapsed)

    # -- CLIP -----------------------------------------------------------------------------------
    def image(self, ref: str) -> Any:
        """RGB image in [0, 1], :math:`(3, H, W)`, of an upload (``u3``) or a drawing (``d2``).

        Raises:
            StudioError: no such upload or drawing (404), or a drawing with nothing drawn (409).
        """
        import torch

        from clipdraw.objectives import load_image
        from clipdraw.optimise import over_white
        from clipdraw.render import render

        if not isinstance(ref, str):
            raise StudioError(f"expected an upload or drawing id, got {str(ref)[:40]!r}")
        if ref.startswith("d"):
            scene = self.drawing(ref[1:]).scene
        else:
            upload = self.uploads.get(ref)
            if upload is None:
                raise StudioError(f"no upload {ref[:20]!r} in this session", status=404)
            if upload.kind == "image":
                try:
                    return load_image(upload.path)
                except ValueError as error:
                    raise StudioError(str(error), status=415) from None
            from clipdraw.svg import load_svg

            scene = load_svg(upload.path)
        scale = min(1.0, CLIP_IMAGE_SIDE / max(scene.width, scene.height))
        with torch.no_grad():
            return over_white(render(scene, scale=scale))[0]

    def similarity(self, prompts: Sequence[str], refs: Sequence[str]) -> dict[str, Any]:
        """:func:`similarity_table` of ``prompts`` and the images ``refs`` name.

        Raises:
            StudioError: no prompts or images, too many, a bad prompt, an unknown image, or no
                model.
        """
        from clipdraw.options import OPTION_BY_KEY

        if not isinstance(prompts, list) or not isinstance(refs, list):
            raise StudioError("expected lists of prompts and images")
        prompts = [p for p in prompts if isinstance(p, str) and p.strip()]
        if not prompts or not refs:
            raise StudioError("give at least one prompt and one image")
        if len(prompts) > MAX_TABLE or len(refs) > MAX_TABLE:
            raise StudioError(f"at most {MAX_TABLE} prompts and {MAX_TABLE} images")
        try:
            OPTION_BY_KEY["prompts"].parse(prompts)
        except OptionError as error:
            raise StudioError(error.problem, key="prompts") from None
        images = [self.image(ref) for ref in refs]
        return similarity_table(self.models(), prompts, images)

    # -- the worker -----------------------------------------------------------------------------
    def _end(self, job: Job, status: str, error: str | None) -> None:
        job.status, job.error = status, error
        job.version += 1

    def _work(self) -> None:
        try:
            self.models()
        except StudioError:
            pass  # shown by model_status(), and by each drawing that needs the model
        while True:
            with self._lock:
                while not self._queue and not self._closing:
                    self._lock.wait()
                if self._closing and not self._queue:
                    return
                job = self._queue.popleft()
                job.status = RUNNING
                job.version += 1
            try:
                self._run(job)
            except Exception as error:  # noqa: BLE001 - one drawing's failure never stops the rest
                self._end(job, FAILED, f"{type(error).__name__}: {error}")

    def _callback(self, job: Job) -> Any:
        from clipdraw.svg import scene_to_svg

        last_frame = [-math.inf]

        def on_step(info: Any) -> None:
            job.step, job.iterations = int(info.step), int(info.iterations)
            job.loss = float(info.losses[0])
            sim = info.similarities[0]
            job.similarity = None if sim is None else float(sim)
            job.elapsed = float(info.elapsed)
            job.history.append([job.step_offset + job.step, _finite(job.loss),
                                _finite(job.similarity)])
            now = time.monotonic()
            if now - last_frame[0] >= self.config.frame_seconds or info.step == info.iterations:
                last_frame[0] = now
                job.scene = _current_scene(info)
                job.svg = scene_to_svg(job.scene)
            job.version += 1
            if job.stop_requested.is_set():
                raise _Stop()

        return on_step

    def _run(self, job: Job) -> None:
        from clipdraw.drawing import DrawFailed, DrawInterrupted, draw_batch

        try:
            models = self.models() if job.settings.uses_clip else []
        except StudioError as error:
            self._end(job, FAILED, str(error))
            return
        status, error, drawing = DONE, None, None
        try:
            drawing = draw_batch([job.settings], device=self._device or self.config.device,
                                 clip_models=models, callbacks=[self._callback(job)])[0]
        except DrawInterrupted as stop:
            status, drawing = STOPPED, stop.drawings[0]
        except DrawFailed as failure:
            status, error, drawing = FAILED, str(failure), failure.drawings[0]
        except OptionError as failure:
            status, error = FAILED, str(failure)
        except ValueError as failure:
            status, error = FAILED, str(failure)
        if drawing is not None:
            self._keep(job, drawing)
        self._end(job, status, error)

    def _keep(self, job: Job, drawing: Any) -> None:
        """Save an ended drawing in the session folder and show it as the job's last frame."""
        from clipdraw.svg import scene_to_svg

        job.scene = drawing.scene
        job.metrics = dict(drawing.metrics)
        if job.step_offset:
            job.metrics["steps"] = job.step_offset + int(job.metrics.get("steps", 0))
        job.svg = scene_to_svg(drawing.scene)
        folder = self.folder / "drawings"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            job.files = drawing.save(folder / f"drawing-{int(job.id):03d}.svg")
        except OSError as error:
            job.error = f"could not save the drawing: {error}"


def _current_scene(info: Any) -> Any:
    """The current drawing of a step's :class:`~clipdraw.optimise.StepInfo`, detached."""
    scene_of = getattr(info, "scene", None)
    if callable(scene_of):
        return scene_of(0)
    return info.scene[0]


def similarity_table(models: Sequence[Any], prompts: Sequence[str], images: Sequence[Any]
                     ) -> dict[str, Any]:
    """Cosine similarities of prompts and images in the first model's embedding space.

    Args:
        models: the CLIP ensemble (the first model is used).
        prompts: N texts.
        images: M RGB images in [0, 1], each :math:`(3, H, W)`.

    Returns:
        ``similarity`` (N lists of M), ``best`` (per image, the index of its best prompt),
        ``text_embeddings`` (N x D) and ``image_embeddings`` (M x D), as JSON-ready lists.
    """
    import torch

    model = models[0]
    with torch.no_grad():
        texts = model.encode_text(list(prompts))
        pictures = torch.cat([
            model.encode_image(model.preprocess(image[None].to(model.device))) for image in images
        ])
        table = texts @ pictures.T
    return {
        "model": model.name,
        "similarity": table.cpu().tolist(),
        "best": table.argmax(dim=0).cpu().tolist(),
        "text_embeddings": texts.cpu().tolist(),
        "image_embeddings": pictures.cpu().tolist(),
    }
