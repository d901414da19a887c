"""The optimisation loop, batch-native: B drawings are rendered together, seen by CLIP together
(one forward over B x views images per model) and stepped together, each with its own learning
rates, schedule, clamps, random generator and loss (losses are summed, so gradients never mix).

Each step:

1. build the scene from the parameters and render it (one call for all B canvases);
2. per model: sample each drawing's views from its own generator, warp all of them in one
   kornia call (:mod:`clipdraw.augment`) and encode them in one CLIP forward;
3. per drawing: add up its objectives; backpropagate the sum;
4. Adam step (one parameter group per drawing and kind: points, widths, stroke and fill
   colours, and palette logits), then clamp widths to ``[min_width, max_width]`` and colours to
   ``[0, 1]`` (alpha to 1 with ``opaque``); every ``reinit_every`` steps, restart invisible
   paths (:mod:`clipdraw.prune`);
5. score the drawings due on their fixed views, keep each one's best, stop those out of
   patience (:mod:`clipdraw.best`; only with ``best_every``);
6. call the callbacks with a :class:`StepInfo`.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from clipdraw.augment import augment, sample_views
from clipdraw.best import BestKeeper
from clipdraw.models import ClipModel
from clipdraw.objectives import Objective, StepInputs, image_features
from clipdraw.palette import (
    PALETTE_SCHEDULE,
    initial_logits,
    palette_colours,
    palette_from_settings,
)
from clipdraw.render import WHITE, RenderPlan, over, render
from clipdraw.render.fusion import has_compiled
from clipdraw.scene import Scene
from clipdraw.settings import REFERENCE_SIZE, DrawSettings

__all__ = [
    "Callback",
    "Optimisation",
    "StepInfo",
    "deterministic_algorithms",
    "over_white",
    "point_lr_at",
]

_KINDS = ("points", "stroke_width", "stroke_color", "fill_color")
#: Per-path logits over a drawing's palette, one set per colour kind (see clipdraw.palette).
_LOGITS = {"stroke_color": "stroke_logits", "fill_color": "fill_logits"}
#: Runs this long on CUDA let torch.compile fuse the renderer's stages (``compile=None``).
COMPILE_FROM_ITERATIONS = 100
#: What callbacks with a ``note`` method are told before a step that compiles.
COMPILE_NOTE = "compiling the renderer (first run on this machine: ~30 s)"


def point_lr_at(settings: DrawSettings, step: int) -> float:
    """Point learning rate (SVG units) at 0-based ``step``: ``point_lr`` scaled by
    ``mean(W, H) / 224``, replaced by each schedule entry from ``int(fraction * iterations)``."""
    s = settings.resolved()
    scale = (s.width + s.height) / (2 * REFERENCE_SIZE)
    lr = s.point_lr
    for fraction, value in sorted(s.point_lr_schedule):
        if step >= int(fraction * s.iterations):
            lr = value
    return lr * scale


@dataclass(frozen=True)
class StepInfo:
    """What callbacks see after each step.

    Args:
        step: steps done so far (1 after the first).
        iterations: steps planned.
        losses: per drawing, the loss of this step.
        similarities: per drawing, the mean CLIP similarity of its views to its prompts
            (``None`` without prompts).
        elapsed: seconds since the loop started.
        scene: the drawings after this step, detached and clamped (``scene[b]`` is drawing
            ``b``).
        settings: per drawing, its resolved settings.
        scores: per drawing, its score on its fixed views when it was scored after this step
            (``None`` when it was not; the whole field ``None`` when none was).
    """

    step: int
    iterations: int
    losses: list[float]
    similarities: list[float | None]
    elapsed: float
    scene: Scene
    settings: list[DrawSettings]
    scores: list[float | None] | None = None


#: Called with a :class:`StepInfo` after every step. A callback object may also have a
#: ``note(message: str)`` method: the loop calls it before a long step that reports nothing
#: otherwise (the renderer's first compile), so that a progress bar can say why it waits.
Callback = Callable[[StepInfo], None]


@contextlib.contextmanager
def deterministic_algorithms(enabled: bool = True) -> Iterator[None]:
    """Run the block with :func:`torch.use_deterministic_algorithms` (then restore the setting).

    On the CPU this is what makes a seeded run bit-reproducible: the backward pass of indexing
    a tensor with a tensor (``points[index]``) otherwise adds into the gradient from several
    threads at once, in an order that changes from run to run. Memory is not filled first
    (``fill_uninitialized_memory``): nothing here reads memory it did not write.
    """
    if not enabled:
        yield
        return
    settings = torch.utils.deterministic  # type: ignore[attr-defined]
    before = (torch.are_deterministic_algorithms_enabled(),
              torch.is_deterministic_algorithms_warn_only_enabled(),
              settings.fill_uninitialized_memory)
    torch.use_deterministic_algorithms(True)
    settings.fill_uninitialized_memory = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        settings.fill_uninitialized_memory = before[2]


def over_white(images: Tensor) -> Tensor:
    """RGB of straight-alpha RGBA images composited over white.

    Shape:
        - images: :math:`(B, 4, H, W)`
        - Output: :math:`(B, 3, H, W)`
    """
    return over(images, WHITE)[:, :3]


class Optimisation:
    """The state of B drawings being optimised together.

    Args:
        scene: the starting scene, B canvases of one size.
        settings: per drawing, resolved settings (sharing iterations, models and views).
        objectives: per drawing, its objectives.
        models: the CLIP ensemble (may be empty when no objective uses CLIP).
        generators: per drawing, its own random generator (for the augmentations).
        trainable: which paths are optimised (``False``: kept as they are).
        compile: compile the renderer (see :func:`clipdraw.render`); ``None`` does
            so for runs of at least ``COMPILE_FROM_ITERATIONS`` steps on CUDA, never on the
            CPU. ``True`` on the CPU trades reproducibility for speed: compiled kernels round
            differently from eager ones and are not guaranteed to give the same bits twice.
        plan_renders: render with a :class:`~clipdraw.render.RenderPlan`, so that renders do
            not wait for the device; ``None`` does so on CUDA, where waiting costs.
        deterministic: run each step under :func:`deterministic_algorithms`; ``None`` does so
            on the CPU, where it makes seeded runs bit-reproducible (same machine and thread
            count) for a few percent of the step time. CUDA lacks deterministic versions of
            some of the renderer's operations, so CUDA runs are reproducible only to rounding.

    Convention:
        Seeded CPU runs without ``compile=True`` give the same bits every time, in
        one process or many, with the CPU busy or idle.

    Shape:
        - trainable: :math:`(B, N)` bool.
    """

    def __init__(
        self,
        scene: Scene,
        settings: Sequence[DrawSettings],
        objectives: Sequence[Sequence[Objective]],
        models: Sequence[ClipModel],
        generators: Sequence[torch.Generator],
        *,
        trainable: Tensor | None = None,
        compile: bool | None = None,
        plan_renders: bool | None = None,
        deterministic: bool | None = None,
    ) -> None:
        batch = scene.batch_size
        if not len(settings) == len(objectives) == len(generators) == batch:
            raise ValueError("need one settings, objective list and generator per canvas")
        self.settings = [s.resolved() for s in settings]
        first = self.settings[0]
        for s in self.settings[1:]:
            for name in DrawSettings.shared_fields():
                if getattr(s, name) != getattr(first, name):
                    raise ValueError(f"drawings optimised together must share {name}")
        self.iterations = first.iterations
        if compile is None:
            # Compiling costs seconds once and saves a share of every step: worth it on long
            # runs. On the CPU it would cost bit-reproducibility, which seeds promise.
            compile = (
                self.iterations >= COMPILE_FROM_ITERATIONS and scene.device.type == "cuda"
            )
        self.compile = compile
        self.deterministic = scene.device.type == "cpu" if deterministic is None \
            else deterministic
        if plan_renders is None:
            plan_renders = scene.device.type == "cuda"
        self.render_plan = RenderPlan() if plan_renders else None
        self.objectives = [list(o) for o in objectives]
        self.models = list(models)
        self.generators = list(generators)
        self.step_count = 0
        self.losses: list[float] = [math.nan] * batch
        self.similarities: list[float | None] = [None] * batch
        self.uses_clip = any(o.uses_clip for objs in self.objectives for o in objs)
        if self.uses_clip and not self.models:
            raise ValueError("these objectives need a CLIP model")
        self.base = scene.detach()
        self.trainable = (
            torch.ones(batch, scene.num_paths, dtype=torch.bool, device=scene.device)
            if trainable is None else trainable.to(scene.device)
        )
        self.params = {
            kind: [getattr(scene, kind)[b].detach().clone().requires_grad_(True)
                   for b in range(batch)]
            for kind in _KINDS
        }
        self.keeper = BestKeeper([s.best_every for s in self.settings],
                                 [s.patience for s in self.settings])
        # Fixed views come from a generator of their own, reset to this state at each scoring.
        self.fixed_view_states = [torch.Generator().manual_seed(int(s.seed)).get_state()
                                  for s in self.settings]
        groups = []
        for b, s in enumerate(self.settings):
            rates = {"points": point_lr_at(s, 0), "stroke_width": s.width_lr,
                     "stroke_color": s.color_lr, "fill_color": s.color_lr}
            groups += [{"params": [self.params[k][b]], "lr": rates[k], "kind": k, "drawing": b}
                       for k in _KINDS]
        self._init_colours(groups)
        self.optimiser = torch.optim.Adam(groups)
        #: per drawing, how many paths ``reinit_every`` restarted
        self.reinitialised = [0] * batch

    def _init_colours(self, groups: list[dict]) -> None:
        """Palettes (with their logits' parameter groups) and opaque starting colours."""
        #: per drawing, its palette :math:`(K, 3)` (``None``: free colours)
        self.palettes = [None if p is None else p.to(self.base.points)
                         for p in map(palette_from_settings, self.settings)]
        self.logits: dict[str, dict[int, Tensor]] = {kind: {} for kind in _LOGITS.values()}
        with torch.no_grad():
            for b, (s, palette) in enumerate(zip(self.settings, self.palettes)):
                for kind in _LOGITS:
                    if s.opaque:
                        self.params[kind][b][self.trainable[b], 3] = 1
                    if palette is None:
                        continue
                    logits = initial_logits(self.params[kind][b].detach(), palette)
                    self.logits[_LOGITS[kind]][b] = logits.requires_grad_(True)
                    groups.append({"params": [logits], "drawing": b, "kind": _LOGITS[kind],
                                   "lr": s.color_lr * PALETTE_SCHEDULE.logit_lr_scale})

    # -- pieces of a step (public so scripts/bench_pipeline.py can time them) --------------------
    def scene(self, *, detach: bool = False) -> Scene:
        """The current drawing; ``detach=True`` also clamps it (valid even mid-step) and gives
        palette drawings their chosen colours."""
        fields = {k: torch.stack([self.colours(k, b, detach) for b in range(len(v))])
                  if k in _LOGITS else torch.stack(v) for k, v in self.params.items()}
        if detach:
            fields = self.clamped({k: v.detach() for k, v in fields.items()})
        return self.base.replace(**fields)

    def colours(self, kind: str, b: int, chosen: bool = False) -> Tensor:
        """Drawing ``b``'s ``stroke_color`` or ``fill_color``, RGB from its palette if it has one
        (the chosen colours with ``chosen``, else as the schedule says at this step).

        Shape:
            - Output: :math:`(N, 4)`
        """
        colour = self.params[kind][b]
        palette = self.palettes[b]
        if palette is None:
            return colour
        step = self.step_count
        hard = chosen or PALETTE_SCHEDULE.hard(step, self.iterations)
        rgb = palette_colours(self.logits[_LOGITS[kind]][b], palette,
                              PALETTE_SCHEDULE.temperature(step, self.iterations), hard)
        rgb = torch.where(self.trainable[b, :, None], rgb, colour[:, :3])  # frozen: as given
        return torch.cat([rgb, colour[:, 3:]], dim=-1)

    def clamped(self, fields: dict[str, Tensor]) -> dict[str, Tensor]:
        """``fields`` with the widths of trainable paths in ``[min_width, max_width]`` and the
        colours in ``[0, 1]`` (alpha 1 with ``opaque``): the one clamp, after each step and on
        every snapshot."""
        width = fields["stroke_width"]
        low, high = (
            torch.tensor([getattr(s, name) for s in self.settings], device=width.device,
                         dtype=width.dtype)[:, None]
            for name in ("min_width", "max_width")
        )
        opaque = self.trainable & torch.tensor([s.opaque for s in self.settings],
                                               device=width.device)[:, None]
        alpha_floor = opaque[..., None] & (torch.arange(4, device=width.device) == 3)

        def colour(value: Tensor) -> Tensor:
            return torch.where(alpha_floor, 1.0, value.clamp(0, 1))

        return {**fields,
                "stroke_width": torch.where(self.trainable, width.clamp(low, high), width),
                "stroke_color": colour(fields["stroke_color"]),
                "fill_color": colour(fields["fill_color"])}

    def render(self, scene: Scene) -> Tensor:
        """RGB canvases over white, shape :math:`(B, 3, H, W)`."""
        return over_white(render(scene, compile=self.compile, plan=self.render_plan))

    def views(self, model: ClipModel) -> Tensor:
        """This step's views for ``model``, each drawing's from its own generator.

        Shape:
            - Output: :math:`(B \\cdot A, 3, 3)`
        """
        return torch.cat([
            sample_views(g, s.num_augs, s.height, s.width, model.image_size,
                         distortion=s.distortion, crop_scale=s.crop_scale)
            for g, s in zip(self.generators, self.settings)
        ])

    def augment(self, canvas: Tensor, model: ClipModel, views: Tensor) -> Tensor:
        """Augmented views of every canvas, normalised for ``model`` unless the settings say
        not to (``clip_normalize``), prefiltered when the canvas is larger than the model's input
        (``view_antialias``); shape :math:`(B \\cdot A, 3, h, w)`."""
        first = self.settings[0]  # both are shared by the drawings optimised together
        mean, std = (model.mean, model.std) if first.clip_normalize else (None, None)
        return augment(canvas, views, model.image_size, mean, std,
                       antialias=first.view_antialias)

    def features(self, canvas: Tensor) -> list[Tensor]:
        """Per model, CLIP features of every drawing's views, each :math:`(B, A, D_m)`."""
        if not self.uses_clip:
            return []
        batch = canvas.shape[0]
        out = []
        for model in self.models:
            views = self.augment(canvas, model, self.views(model))
            out.append(model.encode_image(views).view(batch, views.shape[0] // batch, -1))
        return out

    def loss(self, canvas: Tensor, features: Sequence[Tensor]) -> tuple[Tensor, list[float],
                                                                          list[float | None]]:
        """Sum of the per-drawing losses, and per drawing its loss and similarity."""
        total = canvas.new_zeros(())
        losses, sims = [], []
        for b, objs in enumerate(self.objectives):
            inputs = StepInputs(canvas[b], [f[b] for f in features], self.models)
            loss = sum((o.loss(inputs) for o in objs), canvas.new_zeros(()))
            total = total + loss
            losses.append(float(loss.detach()))
            scores = [o.similarity(inputs) for o in objs if o.reports_similarity]
            sims.append(float(torch.stack(scores).mean()) if scores else None)
        return total, losses, sims

    def apply_step(self) -> None:
        """Schedule the point learning rates, mask frozen paths, Adam step (not of drawings
        stopped early), clamp."""
        active = self.keeper.active
        for group in self.optimiser.param_groups:
            b = group["drawing"]
            param = group["params"][0]
            if group["kind"] == "points":
                group["lr"] = point_lr_at(self.settings[b], self.step_count)
            if not active[b]:
                param.grad = None  # Adam skips it, moments and all
            if param.grad is not None:
                frozen = ~self.trainable[b]
                param.grad[frozen] = 0
        self.optimiser.step()
        with torch.no_grad():
            kinds = ("stroke_width", "stroke_color", "fill_color")
            clamped = self.clamped({k: torch.stack(self.params[k]) for k in kinds})
            for kind in kinds:
                for param, value in zip(self.params[kind], clamped[kind]):
                    param.copy_(value)

    # -- the loop ------------------------------------------------------------------------------
    def step(self) -> None:
        """One optimisation step over all drawings."""
        with deterministic_algorithms(self.deterministic):
            self._step()

    def _step(self) -> None:
        states = [g.get_state() for g in self.generators]
        while True:
            self.optimiser.zero_grad(set_to_none=True)
            canvas = self.render(self.scene())
            total, self.losses, self.similarities = self.loss(canvas, self.features(canvas))
            # loss() has read the losses, so the render is done: checking costs no extra wait.
            # A render that overflowed its plan dropped work: redo the step with the same views
            # (the next render measures afresh).
            if self.render_plan is None or self.render_plan.fits():
                break
            for generator, state in zip(self.generators, states):
                generator.set_state(state)
        total.backward()
        self.apply_step()
        self.step_count += 1
        if self.step_count < self.iterations:
            for b, s in enumerate(self.settings):
                if s.reinit_every and self.step_count % s.reinit_every == 0:
                    self.reinitialise(b)

    @torch.no_grad()
    def reinitialise(self, b: int) -> int:
        """Restart drawing ``b``'s trainable paths that change no pixel (see
        :func:`clipdraw.prune.invisible_paths`) as new random paths drawn from its own
        generator, their optimiser state reset. Returns how many were restarted."""
        from clipdraw.initialise import random_scene
        from clipdraw.prune import invisible_paths

        scene = self.scene(detach=True)[b]
        alone = torch.ones_like(self.trainable[b])
        alone[1:] = scene.compound[0, 1:] != scene.compound[0, :-1]
        alone[:-1] &= scene.compound[0, :-1] != scene.compound[0, 1:]
        rows = (invisible_paths(scene)[0] & self.trainable[b] & alone).nonzero()[:, 0]
        if not len(rows):
            return 0
        fresh = random_scene(self.settings[b], self.generators[b], paths=len(rows),
                             device=scene.device, dtype=scene.points.dtype)
        slots = self.base.points.shape[2]
        if fresh.points.shape[2] > slots:
            raise ValueError("cannot restart paths with more segments than the drawing holds")
        fresh = fresh.replace(points=torch.nn.functional.pad(
            fresh.points, (0, 0, 0, slots - fresh.points.shape[2])))
        changes = {}
        for name, value in vars(self.base).items():
            if isinstance(value, Tensor) and name not in (*_KINDS, "compound", "background"):
                value = value.clone()
                value[b, rows] = getattr(fresh, name)[0]
                changes[name] = value
        self.base = self.base.replace(**changes)
        for kind in _KINDS:
            self._restart(self.params[kind][b], rows, getattr(fresh, kind)[0])
        if self.settings[b].opaque:
            for kind in _LOGITS:
                self.params[kind][b][rows, 3] = 1
        palette = self.palettes[b]
        if palette is not None:
            for kind, name in _LOGITS.items():
                self._restart(self.logits[name][b], rows,
                              initial_logits(getattr(fresh, kind)[0], palette))
        self.reinitialised[b] += len(rows)
        return len(rows)

    def _restart(self, param: Tensor, rows: Tensor, value: Tensor) -> None:
        """Set ``param[rows]`` to ``value`` and forget Adam's moments of those rows."""
        param[rows] = value.to(param)
        for moment in self.optimiser.state.get(param, {}).values():
            if isinstance(moment, Tensor) and moment.shape == param.shape:
                moment[rows] = 0

    def run(self, callbacks: Sequence[Callback] = ()) -> None:
        """Step until ``iterations`` are done, calling ``callbacks`` after each step.

        An exception (``KeyboardInterrupt`` included) propagates; :meth:`scene` then still holds
        the drawing after the last completed step.
        """
        start = time.perf_counter()
        if self.step_count < self.iterations and self.compile and not has_compiled():
            for callback in callbacks:
                note = getattr(callback, "note", None)
                if note is not None:
                    note(COMPILE_NOTE)
        while self.step_count < self.iterations and not self.keeper.all_stopped:
            self.step()
            scores = self.keep_best()
            info = StepInfo(self.step_count, self.iterations, list(self.losses),
                            list(self.similarities), time.perf_counter() - start,
                            self.scene(detach=True), list(self.settings), scores)
            for callback in callbacks:
                callback(info)

    # -- the best drawing (clipdraw/best.py) -----------------------------------------------------
    @torch.no_grad()
    def score(self, scene: Scene | None = None) -> list[float]:
        """Per drawing, its score: minus its loss on its fixed views (higher is better).

        The fixed views are the ones a generator seeded with the drawing's seed gives, the
        same at every call; the drawings' own generators are left as they were, so scoring
        never changes a drawing. ``scene`` defaults to the current drawings.
        """
        scene = self.scene(detach=True) if scene is None else scene
        own = self.generators
        with deterministic_algorithms(self.deterministic):
            while True:
                self.generators = [torch.Generator().set_state(state)
                                   for state in self.fixed_view_states]
                try:
                    canvas = self.render(scene)
                    _, losses, _ = self.loss(canvas, self.features(canvas))
                finally:
                    self.generators = own
                if self.render_plan is None or self.render_plan.fits():
                    break
        return [-loss for loss in losses]

    def keep_best(self) -> list[float | None] | None:
        """Score the drawings due after this step and keep their best; their scores (``None``
        for those not scored), or ``None`` when none was due."""
        due = self.keeper.due(self.step_count, last=self.step_count == self.iterations)
        if not any(due):
            return None
        current = self.scene(detach=True)
        scores = [score if d else None for score, d in zip(self.score(current), due)]
        self.keeper.update(self.step_count, scores, {k: getattr(current, k) for k in _KINDS},
                           self.losses)
        return scores

    def result(self) -> Scene:
        """The drawings to keep: each scored drawing's best, the others as they are now
        (detached and clamped)."""
        current = self.scene(detach=True)
        return current.replace(**self.keeper.fields({k: getattr(current, k) for k in _KINDS}))

    def steps_done(self, drawing: int) -> int:
        """Steps drawing ``drawing`` was optimised for (fewer when it stopped early)."""
        stopped = self.keeper.stopped_at[drawing]
        return self.step_count if stopped is None else stopped

    @torch.no_grad()
    def evaluate(self, scene: Scene | None = None) -> list[dict[str, float]]:
        """Per drawing, metrics of the current drawing (or of ``scene``) without augmentation:
        its CLIP ``similarity`` (canvas resized to each model's input) and each objective's
        metrics."""
        scene = self.scene(detach=True) if scene is None else scene
        canvas = self.render(scene)
        normalize = self.settings[0].clip_normalize
        features = [image_features(m, canvas, normalize=normalize)[:, None]
                    for m in self.models] if self.uses_clip else []
        results = []
        for b, objs in enumerate(self.objectives):
            inputs = StepInputs(canvas[b], [f[b] for f in features], self.models)
            metrics: dict[str, float] = {}
            scores = [o.similarity(inputs) for o in objs if o.reports_similarity]
            if scores:
                metrics["similarity"] = float(torch.stack(scores).mean())
            for o in objs:
                metrics.update(o.metrics(inputs))
            results.append(metrics)
        return results

