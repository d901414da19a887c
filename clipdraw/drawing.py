"""The drawing pipeline's entry points: :func:`draw`, :func:`draw_batch` and :class:`Drawing`.

Example (with a real model this takes minutes on a CPU):

>>> drawing = draw("a watercolor painting of a submarine", iterations=100)  # doctest: +SKIP
>>> drawing.save("submarine.svg")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from clipdraw._version import __version__
from clipdraw.best import MAX_BEST_OF, MAX_SEED, best_index, candidate_seeds
from clipdraw.initialise import append_paths, random_scene
from clipdraw.io import atomic_files, atomic_path, atomic_write, json_safe, write_png
from clipdraw.io import save_png as _save_png
from clipdraw.models import ClipModel, load_clip, resolve_device
from clipdraw.objectives import build_objectives
from clipdraw.optimise import Callback, Optimisation, StepInfo, over_white
from clipdraw.render import render
from clipdraw.scene import Scene
from clipdraw.settings import DrawSettings, ResolvedSettings, SettingsError

__all__ = [
    "DrawFailed",
    "DrawInterrupted",
    "Drawing",
    "FrameSaver",
    "ProgressBar",
    "VideoRecorder",
    "best_of_settings",
    "draw",
    "draw_batch",
    "import_svg",
    "initial_scene",
    "keep_best",
    "load_models",
]


@dataclass
class Drawing:
    """A finished (or interrupted) drawing: its scene, the settings that made it and its figures.

    Args:
        scene: one canvas (B = 1), detached.
        settings: the resolved settings.
        metrics: ``similarity`` (CLIP, without augmentation), ``loss``, ``steps``, ``psnr`` for
            a pixel target, ``score`` (on fixed views, :mod:`clipdraw.best`), ``best_step``
            when the best drawing was kept, ``stopped_at`` when patience stopped the run,
            ``interrupted`` when Ctrl-C or an error did, ``best_of`` and ``candidates`` when it
            is the best of several seeds (all in the metadata).
            a pixel target, ``interrupted`` when the run stopped early, ``palette`` (its colours
            as ``#rrggbb,...``), ``pruned`` and ``reinitialised`` (paths dropped at export and
            restarted during the run) when asked for (all in the metadata).
        seconds: how long the optimisation took (not in the metadata, which stays the same from
            run to run).
        last: the drawing after the last step, when this one is the best of the run
            (``best_every``); ``None`` otherwise.
    """

    scene: Scene
    settings: DrawSettings
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    last: Drawing | None = None

    @property
    def score(self) -> float | None:
        """What best-of ranks by: the ``score`` on fixed views, else the ``similarity``."""
        value = self.metrics.get("score", self.metrics.get("similarity"))
        return None if value is None else float(value)

    @property
    def similarity(self) -> float | None:
        return self.metrics.get("similarity")

    def render(self, scale: float = 1.0) -> Tensor:
        """Straight-alpha RGBA image, shape :math:`(4, H \\cdot scale, W \\cdot scale)`."""
        with torch.no_grad():
            return render(self.scene, scale=scale)[0]

    def metadata(self) -> dict[str, Any]:
        """JSON-ready facts that reproduce the drawing (stored in the SVG and the JSON file)."""
        metrics = {k: v for k, v in self.metrics.items()
                   if not (isinstance(v, float) and not math.isfinite(v))}
        return {"clipdraw_version": __version__, "settings": self.settings.to_dict(),
                "metrics": metrics}

    def _svg_text(self) -> str:
        from clipdraw.svg import scene_to_svg

        return scene_to_svg(self.scene, metadata=json_safe(self.metadata()))

    def _json_text(self) -> str:
        return json.dumps(json_safe(self.metadata()), indent=2, sort_keys=True) + "\n"

    def save_svg(self, path: str | os.PathLike) -> None:
        """Write the SVG (atomically) with :meth:`metadata` in its ``<metadata>``."""
        atomic_write(path, self._svg_text())

    def save_png(self, path: str | os.PathLike, scale: float = 1.0) -> None:
        """Render at ``scale`` and write a PNG (atomically)."""
        _save_png(self.render(scale), path)

    def save_json(self, path: str | os.PathLike) -> None:
        """Write :meth:`metadata` as JSON (atomically)."""
        atomic_write(path, self._json_text())

    def save(
        self,
        svg: str | os.PathLike,
        *,
        png: str | os.PathLike | bool = True,
        png_scale: float = 1.0,
        json_file: str | os.PathLike | bool = True,
    ) -> dict[str, Path]:
        """Write the SVG, a PNG (``True``: beside it) and a JSON file (``True``: beside it).

        The files appear together or not at all: each is rendered and written to a temporary
        and synced first, then they are renamed in the order SVG, PNG, JSON, so a present JSON
        file means the whole set is (see :func:`clipdraw.io.atomic_files`).

        Returns the paths written, by kind (``"svg"``, ``"png"``, ``"json"``).
        """
        written = {"svg": Path(svg)}
        if png:
            written["png"] = written["svg"].with_suffix(".png") if png is True else Path(png)
        if json_file:
            json_path = written["svg"].with_suffix(".json") if json_file is True else json_file
            written["json"] = Path(json_path)
        payloads = {"svg": self._svg_text()}
        if "json" in written:
            payloads["json"] = self._json_text()
        image = self.render(png_scale) if "png" in written else None
        with atomic_files(list(written.values())) as temporaries:
            for kind, temporary in zip(written, temporaries):
                if kind == "png":
                    write_png(image, temporary)
                else:
                    temporary.write_bytes(payloads[kind].encode("utf-8"))
        return written


class DrawInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`draw_batch`; ``drawings`` holds the drawings as they were."""

    def __init__(self, drawings: list[Drawing]) -> None:
        super().__init__("interrupted")
        self.drawings = drawings


class DrawFailed(RuntimeError):
    """An error during the optimisation; ``drawings`` holds the drawings as they were and
    ``__cause__`` the error."""

    def __init__(self, message: str, drawings: list[Drawing]) -> None:
        super().__init__(message)
        self.drawings = drawings


def load_models(
    settings: DrawSettings | Sequence[DrawSettings], device: str | torch.device = "auto"
) -> list[ClipModel]:
    """The CLIP ensemble the settings ask for (empty when no drawing's objectives need CLIP).

    Given several settings (one batch), the models of the first that uses CLIP: a batch shares
    its models (:meth:`DrawSettings.shared_fields`).
    """
    batch = [settings] if isinstance(settings, DrawSettings) else list(settings)
    first = next((s for s in batch if s.uses_clip), None)
    if first is None:
        return []
    return [load_clip(spec, first.pretrained, first.clip_weights, resolve_device(device))
            for spec in first.models]


def import_svg(settings: ResolvedSettings, device: torch.device, dtype: torch.dtype
               ) -> Scene | None:
    """The ``init_svg`` drawing scaled to the settings' canvas (``None`` without one).

    Raises:
        SettingsError: the SVG cannot be read, or holds no paths and no random ones are added.
    """
    if settings.init_svg is None:
        return None
    from clipdraw.svg import SvgImportError, load_svg

    try:
        imported = load_svg(settings.init_svg, device=device, dtype=dtype)
    except (SvgImportError, OSError, ValueError) as error:
        raise SettingsError("init_svg", str(error)) from None
    if imported.num_paths == 0 and settings.paths == 0:
        raise SettingsError("init_svg", f"{settings.init_svg} holds no paths to start from; "
                                        "add --paths")
    if (imported.width, imported.height) != (settings.width, settings.height):
        factor = torch.tensor([settings.width / imported.width, settings.height / imported.height],
                              device=device, dtype=dtype)
        imported = imported.replace(
            points=imported.points * factor,
            stroke_width=imported.stroke_width * factor.mean(),
            width=settings.width, height=settings.height,
        )
    return imported


def initial_scene(
    settings: ResolvedSettings, generator: torch.Generator, device: torch.device,
    dtype: torch.dtype, imported: Scene | None = None,
) -> tuple[Scene, Tensor]:
    """A drawing's starting scene (B = 1) and which of its paths are trainable, shape (1, N).

    ``imported`` is :func:`import_svg`'s result (read here when not given).
    """
    scene = random_scene(settings, generator, device=device, dtype=dtype)
    trainable = torch.ones(1, scene.num_paths, dtype=torch.bool, device=device)
    if imported is None:
        imported = import_svg(settings, device, dtype)
    if imported is None:
        return scene, trainable
    if float(imported.background[0, 3]) == 0:  # no background of its own: use the settings'
        imported = imported.replace(background=scene.background)
    kept = torch.full((1, imported.num_paths), not settings.freeze_init, device=device)
    return append_paths(imported, scene), torch.cat([kept, trainable], dim=1)


def draw_batch(
    settings: Sequence[DrawSettings],
    *,
    device: str | torch.device = "auto",
    dtype: torch.dtype = torch.float32,
    clip_models: Sequence[ClipModel] | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool = False,
) -> list[Drawing]:
    """Optimise several drawings together (one render, one CLIP forward per model and step).

    Drawings must share canvas size, iterations, views and models; each keeps its own seed,
    learning rates, clamps and objectives, and comes out as it would alone (up to float
    rounding). ``clip_models`` reuses loaded models (else the settings' ``models`` are loaded).

    Drawings may come in any order: those with and without CLIP objectives mix freely.

    Raises:
        SettingsError: bad settings, naming the option (before any model is loaded).
        ValueError: an image that cannot be read (before any model is loaded).
        ModelLoadError: the CLIP model cannot be had.
        DrawInterrupted: Ctrl-C; ``.drawings`` holds the latest drawings.
        DrawFailed: another error mid-run; ``.drawings`` holds the latest drawings.
    """
    if not settings:
        raise ValueError("draw_batch needs at least one DrawSettings")
    resolved = [s.validate().resolved() for s in settings]
    objectives = [build_objectives(s) for s in resolved]
    device = resolve_device(device)
    imported = [import_svg(s, device, dtype) for s in resolved]
    models = clip_models
    if models is None:
        models = load_models(resolved, device)
    generators = [torch.Generator().manual_seed(int(s.seed)) for s in resolved]
    starts = [initial_scene(s, g, device, dtype, svg)
              for s, g, svg in zip(resolved, generators, imported)]
    counts = [scene.num_paths for scene, _ in starts]
    scene = Scene.concat([scene for scene, _ in starts])
    trainable = torch.zeros(len(starts), scene.num_paths, dtype=torch.bool, device=device)
    for b, (_, mask) in enumerate(starts):
        trainable[b, : mask.shape[1]] = mask[0]
    optimisation = Optimisation(scene, resolved, objectives, models, generators,
                                trainable=trainable)
    bar = ProgressBar(optimisation.iterations) if progress else None
    start = time.perf_counter()

    def measured(scene: Scene, error: BaseException | None) -> list[dict[str, Any]]:
        """Per drawing, its clean metrics and ``score`` (after Ctrl-C, at once: the last step's
        similarity instead; a broken model must not stop us from saving the drawing)."""
        quick = [{} if sim is None else {"similarity": sim} for sim in optimisation.similarities]
        if isinstance(error, KeyboardInterrupt):
            return quick
        try:
            scores = optimisation.score(scene)
            return [{**m, "score": score}
                    for m, score in zip(optimisation.evaluate(scene), scores)]
        except Exception:
            return quick

    def drawings(error: BaseException | None = None) -> list[Drawing]:
        keeper = optimisation.keeper
        current = optimisation.scene(detach=True)
        kept = any(step is not None for step in keeper.best_step)
        result = optimisation.result() if kept else current
        metrics = measured(result, error)
        lasts = measured(current, error) if kept else metrics
        out = []
        for b, s in enumerate(resolved):
            steps = optimisation.steps_done(b)
            common: dict[str, Any] = {"steps": steps}
            if keeper.stopped_at[b] is not None:
                common["stopped_at"] = keeper.stopped_at[b]
            if error is not None:
                common["interrupted"] = type(error).__name__
            last = {"loss": optimisation.losses[b], **common, **lasts[b]}
            seconds = time.perf_counter() - start
            drawing = Drawing(current[b].take_paths(counts[b]), s, last, seconds=seconds)
            if keeper.best_step[b] is not None:
                best = {"loss": keeper.best_loss[b], **common, **metrics[b],
                        "best_step": keeper.best_step[b], "score": keeper.best_score[b]}
                drawing = Drawing(result[b].take_paths(counts[b]), s, best, seconds=seconds,
                                  last=drawing)
            _palette_and_pruning(drawing, optimisation, b, finished=error is None)
            out.append(drawing)
        return out

    try:
        optimisation.run([*callbacks, *([bar] if bar else [])])
    except KeyboardInterrupt as error:
        raise DrawInterrupted(drawings(error)) from error
    except Exception as error:
        raise DrawFailed(f"drawing stopped at step {optimisation.step_count}: {error}",
                         drawings(error)) from error
    finally:
        if bar is not None:
            bar.close()
    return drawings()


def _palette_and_pruning(drawing: Drawing, optimisation: Optimisation, b: int, *,
                         finished: bool) -> None:
    """Record drawing ``b``'s palette and restarted paths; prune a finished drawing if asked."""
    from clipdraw.palette import to_hex
    from clipdraw.prune import prune

    s = drawing.settings
    if optimisation.palettes[b] is not None:
        drawing.metrics["palette"] = ",".join(to_hex(optimisation.palettes[b]))
    if s.reinit_every:
        drawing.metrics["reinitialised"] = optimisation.reinitialised[b]
    if s.prune and finished:
        result = prune(drawing.scene)
        drawing.scene = result.scene
        drawing.metrics["pruned"] = result.removed


def draw(
    prompt: str | Sequence[str] | None = None,
    *,
    settings: DrawSettings | None = None,
    device: str | torch.device = "auto",
    dtype: torch.dtype = torch.float32,
    clip_models: Sequence[ClipModel] | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool = False,
    best_of: int = 1,
    **options: Any,
) -> Drawing:
    """Draw one prompt (or several) as editable vector strokes.

    Args:
        prompt: the text prompt(s); may be omitted with ``image_prompt`` or ``target``.
        settings: base settings (default: CLIPDraw's recipe).
        device, dtype: where and in what precision the drawing is optimised.
        clip_models: already loaded CLIP models to reuse (see :func:`load_models`).
        callbacks: called with a :class:`~clipdraw.optimise.StepInfo` after every step.
        progress: show a progress bar on stderr.
        best_of: draw this many seeds (``seed``, ``seed + 1``, ...) together, in one batch,
            and return the one with the best score (see :func:`keep_best`).
        **options: any :class:`~clipdraw.settings.DrawSettings` field (``iterations=100``,
            ``seed=3``, ``models=("ViT-B-16",)``, ...).

    Example:
        >>> drawing = draw("a red apple", iterations=200, seed=1)  # doctest: +SKIP
        >>> drawing.save("apple.svg", png_scale=4)  # doctest: +SKIP
    """
    base = settings or DrawSettings()
    if prompt is not None:
        options["prompts"] = (prompt,) if isinstance(prompt, str) else tuple(prompt)
    if "model" in options:
        model = options.pop("model")
        options["models"] = (model,) if isinstance(model, str) else tuple(model)
    candidates = best_of_settings(base.replace(**options), best_of)
    return keep_best(draw_batch(candidates, device=device, dtype=dtype, clip_models=clip_models,
                                callbacks=callbacks, progress=progress))


def best_of_settings(settings: DrawSettings, count: int) -> list[DrawSettings]:
    """The settings of ``count`` best-of candidates: ``settings`` with seeds ``seed``,
    ``seed + 1``, ... (``[settings]`` itself for one).

    Raises:
        SettingsError: ``count`` is out of range, or the seeds would pass the largest seed.
    """
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_BEST_OF:
        raise SettingsError("best_of", f"must be a whole number from 1 to {MAX_BEST_OF}, "
                                       f"got {count!r}")
    if count == 1:
        return [settings]
    seeds = candidate_seeds(settings.seed, count)
    if seeds[-1] > MAX_SEED:
        raise SettingsError("best_of", f"seeds {seeds[0]} to {seeds[-1]} pass the largest "
                                       f"seed ({MAX_SEED}); give a smaller --seed")
    return [settings.replace(seed=seed) for seed in seeds]


def keep_best(candidates: Sequence[Drawing]) -> Drawing:
    """The candidate with the highest :attr:`Drawing.score` (:func:`clipdraw.best.best_index`),
    its metrics naming every candidate's seed and score; a single drawing as it is."""
    if len(candidates) == 1:
        return candidates[0]
    winner = candidates[best_index([d.score for d in candidates])]
    metrics = {**winner.metrics, "best_of": len(candidates),
               "candidates": [{"seed": int(d.settings.seed), "score": d.score}
                              for d in candidates]}
    return Drawing(winner.scene, winner.settings, metrics, seconds=winner.seconds,
                   last=winner.last)


# -- callbacks ---------------------------------------------------------------------------------
class ProgressBar:
    """A tqdm bar on stderr showing the mean loss, CLIP similarity and iterations per second."""

    def __init__(self, iterations: int, *, disable: bool = False, desc: str = "drawing") -> None:
        from tqdm.auto import tqdm

        self.desc = desc
        self.noted = False
        self.bar = tqdm(total=iterations, desc=desc, disable=disable, unit="it", leave=True,
                        dynamic_ncols=True)

    def note(self, message: str) -> None:
        """Show what the loop is doing before a long step (shown until the step ends)."""
        self.noted = True
        self.bar.set_description(f"{self.desc}: {message}")

    def __call__(self, info: StepInfo) -> None:
        if self.noted:
            self.noted = False
            self.bar.set_description(self.desc, refresh=False)
        postfix = {"loss": f"{sum(info.losses) / len(info.losses):.4f}"}
        sims = [s for s in info.similarities if s is not None]
        if sims:
            postfix["sim"] = f"{sum(sims) / len(sims):.4f}"
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(info.step - self.bar.n)

    def close(self) -> None:
        self.bar.close()


def _current_drawing(info: StepInfo, index: int) -> Drawing:
    figures = {"loss": info.losses[index], "steps": info.step}
    if info.similarities[index] is not None:
        figures["similarity"] = info.similarities[index]
    return Drawing(info.scene[index], info.settings[index], figures)


class FrameSaver:
    """Every ``every`` steps, write drawing ``index`` as ``{prefix}{step:05d}.svg`` and ``.png``."""

    def __init__(self, every: int, prefix: str | os.PathLike, *, index: int = 0,
                 png_scale: float = 1.0) -> None:
        if every <= 0:
            raise ValueError("every must be positive")
        self.every, self.prefix, self.index, self.png_scale = every, str(prefix), index, png_scale

    def __call__(self, info: StepInfo) -> None:
        if info.step % self.every and info.step != info.iterations:
            return
        drawing = _current_drawing(info, self.index)
        stem = f"{self.prefix}{info.step:05d}"
        drawing.save(stem + ".svg", png=stem + ".png", png_scale=self.png_scale, json_file=False)


class VideoRecorder:
    """Every ``every`` steps, add drawing ``index`` as a frame of an MP4 or GIF (imageio).

    The file appears (atomically) when :meth:`close` is called; call it in a ``finally``.
    """

    def __init__(self, path: str | os.PathLike, every: int = 10, *, index: int = 0,
                 fps: int = 20) -> None:
        import imageio.v2 as imageio

        if every <= 0:
            raise ValueError("every must be positive")
        self.every, self.index = every, index
        self._target = atomic_path(path)
        temporary = self._target.__enter__()
        kwargs: dict[str, Any] = {"fps": fps}
        if temporary.suffix.lower() == ".gif":
            kwargs = {"duration": 1000 / fps, "loop": 0}
        else:
            kwargs["macro_block_size"] = 2
        self.writer = imageio.get_writer(temporary, **kwargs)
        self.frames = 0

    def __call__(self, info: StepInfo) -> None:
        if info.step % self.every and info.step != info.iterations:
            return
        self.add_frame(_current_drawing(info, self.index).render())

    def add_frame(self, image: Tensor) -> None:
        """Add a straight-alpha RGBA image, shape :math:`(4, H, W)`, shown over white."""
        pixels = over_white(image[None])[0].permute(1, 2, 0).cpu().numpy() * 255 + 0.5
        self.writer.append_data(pixels.clip(0, 255).astype("uint8"))
        self.frames += 1

    def close(self) -> None:
        """Finish the file (written only if it has frames)."""
        self.writer.close()
        if self.frames:
            self._target.__exit__(None, None, None)
        else:
            error = RuntimeError("no frames")
            try:
                self._target.__exit__(RuntimeError, error, None)
            except RuntimeError:
                pass

