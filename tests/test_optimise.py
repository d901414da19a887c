"""The optimisation loop: learning-rate schedule, clamps, frozen paths, callbacks, batching."""

import logging
import warnings
from pathlib import Path

import pytest
import torch
from helpers import tiny_settings
from PIL import Image

from clipdraw import optimise
from clipdraw.initialise import random_scene
from clipdraw.objectives import build_objectives
from clipdraw.optimise import COMPILE_FROM_ITERATIONS, Optimisation, point_lr_at
from clipdraw.render import fusion
from clipdraw.render.fusion import _quiet_cuda_home
from clipdraw.render.plan import Sizes
from clipdraw.scene import Scene
from clipdraw.settings import DrawSettings

ASSETS = Path(__file__).resolve().parent.parent / "assets"

def _optimisation(settings_list, models, trainable=None, plan_renders=None, **options):
    generators = [torch.Generator().manual_seed(s.seed) for s in settings_list]
    scene = Scene.concat([random_scene(s, g) for s, g in zip(settings_list, generators)])
    return Optimisation(scene, settings_list, [build_objectives(s) for s in settings_list],
                        models, generators, trainable=trainable, plan_renders=plan_renders,
                        **options)


def test_point_learning_rate_follows_the_papers_schedule():
    s = DrawSettings(prompts=("a",))
    rates = {step: point_lr_at(s, step) for step in (0, 1, 499, 500, 749, 750, 999)}
    # PyTorch-SVGRender's `step % 500` test would give 0.1 from step 0 on: we do not.
    assert rates == {0: 1.0, 1: 1.0, 499: 1.0, 500: 0.4, 749: 0.4, 750: 0.1, 999: 0.1}


def test_point_learning_rate_scales_with_the_canvas():
    s = DrawSettings(prompts=("a",), width=448, height=448, iterations=10)
    assert point_lr_at(s, 0) == pytest.approx(2.0)
    assert point_lr_at(s, 9) == pytest.approx(0.2)


def test_the_optimiser_uses_the_schedule_per_drawing(tiny_clip):
    a = tiny_settings("m", iterations=4)
    b = a.replace(seed=1, point_lr=2.0, point_lr_schedule=((0.5, 0.5),))
    run = _optimisation([a, b], [tiny_clip])
    seen = []
    run.run([lambda info: seen.extend(g["lr"] for g in run.optimiser.param_groups
                                      if g["kind"] == "points")])
    expected = [1.0, 2.0, 1.0, 2.0, 0.4, 0.5, 0.1, 0.5]  # (a, b) per step, at a 224 px canvas
    assert seen == pytest.approx([v * 32 / 224 for v in expected])


def test_widths_and_colours_are_clamped_after_every_step(tiny_clip):
    s = tiny_settings("m", iterations=2, width_lr=500.0, color_lr=50.0, max_width=6.0)
    run = _optimisation([s], [tiny_clip])
    run.run()
    width = torch.stack(run.params["stroke_width"])
    colour = torch.stack(run.params["stroke_color"])
    assert width.min() >= 2.0 and width.max() <= 6.0
    assert colour.min() >= 0 and colour.max() <= 1
    assert ((width == 2.0) | (width == 6.0)).any()  # the clamp was needed
    run.scene(detach=True).validate()


def test_frozen_paths_stay_exactly_as_they_were(tiny_clip):
    s = tiny_settings("m", iterations=3)
    trainable = torch.tensor([[True, False] * 4])
    run = _optimisation([s], [tiny_clip], trainable=trainable)
    before = run.scene(detach=True)
    run.run()
    after = run.scene(detach=True)
    frozen = ~trainable[0]
    for name in ("points", "stroke_width", "stroke_color"):
        old, new = getattr(before, name)[0], getattr(after, name)[0]
        assert torch.equal(old[frozen], new[frozen]), name
        assert not torch.equal(old[~frozen], new[~frozen]), name


def test_callbacks_see_every_step_with_losses_and_similarities(tiny_clip):
    s = tiny_settings("m", iterations=3)
    run = _optimisation([s, s.replace(seed=4)], [tiny_clip])
    infos = []
    run.run([infos.append])
    assert [i.step for i in infos] == [1, 2, 3]
    assert all(len(i.losses) == 2 and len(i.similarities) == 2 for i in infos)
    assert all(-1 <= sim <= 1 for i in infos for sim in i.similarities)


def test_losses_of_drawings_in_a_batch_do_not_mix(tiny_clip):
    a = tiny_settings("m", iterations=2)
    b = a.replace(seed=3, prompts=("something else entirely",), negatives=("x",))
    alone = _optimisation([a], [tiny_clip])
    alone.run()
    together = _optimisation([a, b], [tiny_clip])
    together.run()
    assert torch.allclose(alone.scene(detach=True).points[0],
                          together.scene(detach=True).points[0], atol=1e-4)


def test_an_interrupt_leaves_the_last_completed_step_valid(tiny_clip):
    s = tiny_settings("m", iterations=5)
    run = _optimisation([s], [tiny_clip])
    snapshots = []

    def stop(info):
        snapshots.append(run.scene(detach=True).points.clone())
        if info.step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run.run([stop])
    assert run.step_count == 2
    assert torch.equal(run.scene(detach=True).validate().points, snapshots[-1])


def test_drawings_in_one_batch_must_share_canvas_and_iterations(tiny_clip):
    a = tiny_settings("m")
    with pytest.raises(ValueError, match="share iterations"):
        _optimisation([a, a.replace(iterations=7)], [tiny_clip])


def test_clip_objectives_need_a_model():
    with pytest.raises(ValueError, match="need a CLIP model"):
        _optimisation([tiny_settings("m")], [])


def test_planned_renders_draw_what_measured_renders_draw(tiny_clip, monkeypatch):
    settings = tiny_settings("m", iterations=15, max_width=12.0)
    measured = _optimisation([settings], [tiny_clip], plan_renders=False)
    measured.run()
    # Capacities without headroom: steps whose lists grow overflow and are redone.
    monkeypatch.setattr(Sizes, "_grown", lambda self, length: length)
    planned = _optimisation([settings], [tiny_clip], plan_renders=True)
    plan, fits, fitted = planned.render_plan, planned.render_plan.fits, []
    plan.fits = lambda: fitted.append(fits()) or fitted[-1]
    planned.run()
    assert fitted.count(True) == 15 and 0 < fitted.count(False) < 15
    for field in ("points", "stroke_width", "stroke_color"):
        torch.testing.assert_close(getattr(planned.scene(detach=True), field),
                                   getattr(measured.scene(detach=True), field))


def test_a_clip_guided_run_raises_the_similarity_to_its_prompt(tiny_clip):
    settings = tiny_settings("m", iterations=30, paths=16, num_augs=4)
    run = _optimisation([settings], [tiny_clip])
    before = run.evaluate()[0]["similarity"]
    run.run()
    after = run.evaluate()[0]["similarity"]
    assert after > before + 0.05  # measured: -0.157 -> -0.060


def test_callbacks_get_the_detached_scene_and_settings_not_the_loop(tiny_clip):
    settings = tiny_settings("m", iterations=2)
    run = _optimisation([settings, settings.replace(seed=2)], [tiny_clip])
    infos = []
    run.run([infos.append])
    last = infos[-1]
    assert not hasattr(last, "optimisation")
    assert last.scene.batch_size == 2 and not last.scene.points.requires_grad
    assert torch.equal(last.scene.points, run.scene(detach=True).points)
    assert [s.seed for s in last.settings] == [0, 2]


def test_cpu_steps_run_deterministically_and_restore_the_global_setting(tiny_clip):
    run = _optimisation([tiny_settings("m", iterations=1)], [tiny_clip])
    seen = []
    original = run._step
    run._step = lambda: seen.append(torch.are_deterministic_algorithms_enabled()) or original()
    assert run.deterministic and not torch.are_deterministic_algorithms_enabled()
    run.run()
    assert seen == [True] and not torch.are_deterministic_algorithms_enabled()


def test_the_renderer_is_compiled_only_when_asked_on_the_cpu(tiny_clip):
    long_run = tiny_settings("m", iterations=COMPILE_FROM_ITERATIONS)
    assert not _optimisation([long_run], [tiny_clip]).compile


def test_torchs_no_cuda_runtime_warning_is_dropped_while_compiling(caplog):
    logger = logging.getLogger("torch.utils.cpp_extension")
    with caplog.at_level(logging.WARNING, logger=logger.name), _quiet_cuda_home():
        logger.warning("No CUDA runtime is found, using CUDA_HOME='%s'", "/usr/local")
        logger.warning("something else")
    assert [r.getMessage() for r in caplog.records] == ["something else"]


@pytest.mark.slow
def test_the_compiled_optimisation_path_draws_what_the_eager_one_draws(tmp_path, monkeypatch):
    """Slow (a first compile, about 30 s): the path runs of >= 100 steps take on CUDA."""
    target = tmp_path / "target.png"
    pixels = torch.linspace(0, 255, 24 * 24 * 3).reshape(24, 24, 3).to(torch.uint8).numpy()
    Image.fromarray(pixels).save(target)
    settings = DrawSettings(target=str(target), width=24, height=24, paths=6, iterations=4,
                            seed=1)
    monkeypatch.setattr(optimise, "has_compiled", lambda: False)
    eager = _optimisation([settings], [], compile=False)
    eager.run()
    compiled = _optimisation([settings], [], compile=True)
    events = []

    class Recorder:
        def note(self, message):
            events.append(message)

        def __call__(self, info):
            events.append(info.step)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled.run([Recorder()])
    # A compile failure would fall back to the eager code with this warning.
    assert not [w for w in caught if "torch.compile failed" in str(w.message)]
    assert events == [optimise.COMPILE_NOTE, 1, 2, 3, 4]
    assert fusion.has_compiled()
    torch.testing.assert_close(compiled.scene(detach=True).points,
                               eager.scene(detach=True).points, atol=1e-3, rtol=0)
    assert compiled.losses == pytest.approx(eager.losses, rel=1e-3)


def test_a_snapshot_mid_step_and_the_parameters_after_a_step_are_clamped():
    s = DrawSettings(target=str(ASSETS / "astronaut_48.png"), width=24, height=24, paths=4,
                     iterations=2, min_width=2.0, max_width=5.0)
    optimisation = _optimisation([s], [])
    with torch.no_grad():  # as Adam may leave them mid-step, before the clamp
        optimisation.params["stroke_width"][0].fill_(50.0)
        optimisation.params["stroke_color"][0].fill_(1.5)
    snapshot = optimisation.scene(detach=True)
    assert float(snapshot.stroke_width.max()) == 5.0
    assert float(snapshot.stroke_color.max()) == 1.0
    optimisation.apply_step()  # no gradients: Adam moves nothing, the clamp still runs
    assert float(optimisation.params["stroke_width"][0].detach().max()) <= 5.0
    assert float(optimisation.params["stroke_color"][0].detach().max()) <= 1.0
