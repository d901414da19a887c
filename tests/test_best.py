"""clipdraw.best and its use: the best drawing on fixed views, early stop, best-of (API, CLI,
batch), saving when interrupted."""

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from helpers import tiny_settings

from clipdraw.batch.run import run_batch
from clipdraw.best import MAX_SEED, BestKeeper, best_index, candidate_seeds
from clipdraw.cli import cli
from clipdraw.drawing import (
    Drawing,
    DrawInterrupted,
    best_of_settings,
    draw,
    draw_batch,
    initial_scene,
)
from clipdraw.objectives import build_objectives
from clipdraw.optimise import Optimisation
from clipdraw.scene import Scene
from clipdraw.settings import DrawSettings, SettingsError
from clipdraw.svg import load_svg, read_svg_metadata

ASSETS = Path(__file__).resolve().parent.parent / "assets"
#: Learning rates so high that the score goes up, then down: the best is not the last drawing.
BOUNCY = dict(point_lr=100.0, color_lr=1.0, width_lr=20.0, iterations=12)
#: Learning rates of zero: the drawing never changes, so its score never improves after the first.
STILL = dict(point_lr=0.0, color_lr=0.0, width_lr=0.0)
FIELDS = ("points", "stroke_width", "stroke_color", "fill_color")


class Recorder:
    """A callback that keeps each step's scores and scene."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.scores: dict[int, list] = {}
        self.scenes: dict[int, Scene] = {}

    def __call__(self, info) -> None:
        self.steps.append(info.step)
        self.scenes[info.step] = info.scene
        if info.scores is not None:
            self.scores[info.step] = info.scores


def _draw(tiny_clip, callbacks=(), **options) -> Drawing:
    return draw_batch([tiny_settings("tiny", **options)], device="cpu", clip_models=[tiny_clip],
                      callbacks=callbacks)[0]


def _optimisation(tiny_clip, settings: list[DrawSettings], cls=Optimisation) -> Optimisation:
    resolved = [s.resolved() for s in settings]
    generators = [torch.Generator().manual_seed(s.seed) for s in resolved]
    scenes = [initial_scene(s, g, torch.device("cpu"), torch.float32)[0]
              for s, g in zip(resolved, generators)]
    return cls(Scene.concat(scenes), resolved, [build_objectives(s) for s in resolved],
               [tiny_clip], generators)


def _same_scene(a: Scene, b: Scene) -> bool:
    return all(torch.equal(getattr(a, k), getattr(b, k)) for k in FIELDS)


def _expected_stop(scores: list[tuple[int, float]], patience: int) -> int | None:
    """The step after which a run with these scorings stops: a plain re-statement of the rule."""
    best, misses = None, 0
    for step, score in scores:
        if best is None or score > best:
            best, misses = score, 0
        else:
            misses += 1
            if misses == patience:
                return step
    return None


# -- the ranking and the keeper, without a model -------------------------------------------------
def test_best_index_ranks_missing_and_nan_scores_last_and_ties_to_the_first():
    assert best_index([0.1, 0.3, 0.3, 0.2]) == 1
    assert best_index([None, float("nan"), -5.0]) == 2
    assert best_index([None, None]) == 0
    with pytest.raises(ValueError):
        best_index([])


def test_the_keeper_keeps_the_highest_scoring_parameters_and_stops_out_of_patience():
    keeper = BestKeeper(every=[1, 1], patience=[2, 0])
    for step, pair in enumerate([(0.5, 0.5), (0.9, 0.4), (0.9, 0.3), (0.1, 0.2)], start=1):
        fields = {"points": torch.full((2, 3), float(step))}
        keeper.update(step, list(pair), fields, losses=[-pair[0], -pair[1]])
    assert keeper.best_step == [2, 1] and keeper.best_score == [0.9, 0.5]
    assert keeper.best_loss == [-0.9, -0.5]
    assert keeper.stopped_at == [4, None]  # an equal score is no improvement
    kept = keeper.fields({"points": torch.zeros(2, 3)})["points"]
    assert kept[:, 0].tolist() == [2.0, 1.0]
    assert keeper.due(5) == [False, True]


def test_drawings_are_scored_every_k_steps_and_after_the_last():
    keeper = BestKeeper(every=[3, 0], patience=[0, 0])
    due = [step for step in range(1, 11) if keeper.due(step, last=step == 10)[0]]
    assert due == [3, 6, 9, 10]
    assert not any(keeper.due(step, last=True)[1] for step in range(1, 11))


def test_best_of_candidates_take_consecutive_seeds_and_refuse_bad_counts():
    assert candidate_seeds(5, 3) == [5, 6, 7]
    settings = DrawSettings(prompts=("a cat",), seed=5)
    assert [s.seed for s in best_of_settings(settings, 3)] == [5, 6, 7]
    assert best_of_settings(settings, 1) == [settings]
    for count in (0, 65, 2.0):
        with pytest.raises(SettingsError, match="best_of"):
            best_of_settings(settings, count)
    with pytest.raises(SettingsError, match="largest seed"):
        best_of_settings(settings.replace(seed=MAX_SEED), 2)


def test_patience_needs_best_every():
    with pytest.raises(SettingsError, match="patience: needs --best-every"):
        DrawSettings(prompts=("a cat",), patience=3).validate()


# -- the loop ------------------------------------------------------------------------------------
def test_the_result_is_the_best_scored_drawing_and_the_last_one_is_kept_beside_it(tiny_clip):
    recorder = Recorder()
    drawing = _draw(tiny_clip, [recorder], best_every=2, **BOUNCY)
    assert list(recorder.scores) == [2, 4, 6, 8, 10, 12]
    scores = {step: s[0] for step, s in recorder.scores.items()}
    best_step = max(scores, key=scores.get)
    assert best_step != 12, "these settings should make the last drawing not the best"
    assert drawing.metrics["best_step"] == best_step
    assert drawing.metrics["score"] == scores[best_step]
    assert _same_scene(drawing.scene, recorder.scenes[best_step])
    assert drawing.last is not None and _same_scene(drawing.last.scene, recorder.scenes[12])
    assert drawing.last.metrics["steps"] == drawing.metrics["steps"] == 12
    assert "best_step" not in drawing.last.metrics
    assert drawing.last.metrics["score"] == pytest.approx(scores[12], abs=1e-6)


def test_scoring_never_changes_the_drawings_trajectory(tiny_clip):
    plain = _draw(tiny_clip, **BOUNCY)
    assert plain.last is None and "best_step" not in plain.metrics
    scored = _draw(tiny_clip, best_every=1, **BOUNCY)
    assert _same_scene(scored.last.scene, plain.scene)
    # best_every=0 draws what stepping the optimisation by hand draws, bit for bit
    optimisation = _optimisation(tiny_clip, [tiny_settings("tiny", **BOUNCY)])
    for _ in range(BOUNCY["iterations"]):
        optimisation.step()
    assert _same_scene(plain.scene, optimisation.scene(detach=True))


def test_fixed_views_are_the_same_at_every_scoring_and_apart_from_the_steps(tiny_clip):
    class Spy(Optimisation):
        scoring = False
        seen: list

        def augment(self, canvas, model, views):
            self.seen.append((self.scoring, views.clone()))
            return super().augment(canvas, model, views)

        def score(self, scene=None):
            self.scoring = True
            try:
                return super().score(scene)
            finally:
                self.scoring = False

    settings = [tiny_settings("tiny", best_every=1, iterations=4, seed=s) for s in (0, 1)]
    optimisation = _optimisation(tiny_clip, settings, Spy)
    optimisation.seen = []
    optimisation.run()
    scoring = [v for s, v in optimisation.seen if s]
    stepping = [v for s, v in optimisation.seen if not s]
    assert len(scoring) == len(stepping) == 4
    assert all(torch.equal(v, scoring[0]) for v in scoring)
    assert not any(torch.equal(v, scoring[0]) for v in stepping)
    assert not torch.equal(scoring[0][:2], scoring[0][2:])  # each drawing its own views
    kept = optimisation.keeper.best_score
    assert optimisation.score(optimisation.result()) == kept  # the kept score, recomputed


def test_patience_stops_a_drawing_that_no_longer_improves_at_the_right_step(tiny_clip):
    recorder = Recorder()
    drawing = _draw(tiny_clip, [recorder], best_every=2, patience=3, iterations=50, **STILL)
    assert recorder.steps == list(range(1, 9))  # scored at 2 (best), 4, 6, 8: out of patience
    assert drawing.metrics["steps"] == drawing.metrics["stopped_at"] == 8
    assert drawing.metrics["best_step"] == 2


def test_patience_counts_scorings_without_a_higher_score(tiny_clip):
    recorder = Recorder()
    drawing = _draw(tiny_clip, [recorder], best_every=1, patience=3, **BOUNCY)
    scores = [(step, s[0]) for step, s in recorder.scores.items()]
    stop = _expected_stop(scores, 3)
    assert stop is not None and stop < BOUNCY["iterations"]
    assert recorder.steps[-1] == drawing.metrics["stopped_at"] == stop


def test_a_stopped_drawing_is_no_longer_stepped_while_the_others_go_on(tiny_clip):
    settings = [tiny_settings("tiny", seed=s, iterations=5) for s in (0, 1)]
    optimisation = _optimisation(tiny_clip, settings)
    optimisation.step()
    before = optimisation.scene(detach=True)
    optimisation.keeper.stopped_at[0] = 1
    optimisation.step()
    after = optimisation.scene(detach=True)
    assert _same_scene(before[0], after[0])
    assert not torch.equal(before[1].points, after[1].points)
    assert optimisation.steps_done(0) == 1 and optimisation.steps_done(1) == 2


def test_in_a_batch_each_drawing_stops_on_its_own(tiny_clip):
    still = tiny_settings("tiny", best_every=1, patience=2, iterations=6, **STILL)
    moving = tiny_settings("tiny", seed=3, iterations=6)
    stopped, full = draw_batch([still, moving], device="cpu", clip_models=[tiny_clip])
    assert stopped.metrics["stopped_at"] == stopped.metrics["steps"] == 3
    assert full.metrics["steps"] == 6 and "stopped_at" not in full.metrics
    _, beside_one_that_goes_on = draw_batch([still.replace(patience=0), moving], device="cpu",
                                            clip_models=[tiny_clip])
    assert _same_scene(full.scene, beside_one_that_goes_on.scene)


def test_a_pixel_targets_score_is_minus_its_squared_error(tmp_path):
    settings = DrawSettings(target=str(ASSETS / "astronaut_48.png"), width=24, height=24,
                            paths=16, iterations=6, best_every=3, target_weight=2.0)
    drawing = draw_batch([settings], device="cpu")[0]
    mse = 10 ** (-drawing.metrics["psnr"] / 10)
    assert drawing.metrics["score"] == pytest.approx(-2.0 * mse, rel=1e-4)


def test_an_interrupted_run_returns_the_best_so_far_and_the_last(tiny_clip):
    recorder = Recorder()

    def stop(info):
        if info.step == 7:
            raise KeyboardInterrupt

    with pytest.raises(DrawInterrupted) as caught:
        _draw(tiny_clip, [recorder, stop], best_every=2, **BOUNCY)
    (drawing,) = caught.value.drawings
    scores = {step: s[0] for step, s in recorder.scores.items()}
    assert list(scores) == [2, 4, 6]
    assert drawing.metrics["best_step"] == max(scores, key=scores.get)
    assert drawing.metrics["interrupted"] == "KeyboardInterrupt"
    assert _same_scene(drawing.last.scene, recorder.scenes[7])


# -- best-of -------------------------------------------------------------------------------------
def test_best_of_returns_the_candidate_with_the_highest_score(tiny_clip):
    base = tiny_settings("tiny", seed=4)
    best = draw(settings=base, best_of=3, device="cpu", clip_models=[tiny_clip])
    alone = draw_batch([base.replace(seed=s) for s in (4, 5, 6)], device="cpu",
                       clip_models=[tiny_clip])
    scores = {d.settings.seed: d.metrics["score"] for d in alone}
    winner = max(scores, key=scores.get)
    assert best.settings.seed == winner and best.metrics["best_of"] == 3
    assert [c["seed"] for c in best.metrics["candidates"]] == [4, 5, 6]
    assert [c["score"] for c in best.metrics["candidates"]] == pytest.approx(
        [scores[s] for s in (4, 5, 6)], abs=1e-5)
    chosen = next(d for d in alone if d.settings.seed == winner)
    assert torch.allclose(best.scene.points, chosen.scene.points, atol=1e-4)


class ScoredDrawer:
    """Stands in for draw_batch: drawings whose similarity rises and whose score falls with the
    seed."""

    def __call__(self, settings):
        out = []
        for s in settings:
            points = torch.tensor([[[4.0, 4.0], [10.0, 20.0], [20.0, 10.0], [28.0, 28.0]]])
            scene = Scene.create(points, torch.tensor([1]), 32, 32)
            out.append(Drawing(scene, s.resolved(), {"similarity": s.seed / 100,
                                                     "score": -float(s.seed), "steps": 1}))
        return out


def test_batch_best_of_ranks_by_the_same_score_as_draw(tmp_path):
    rows = [DrawSettings(prompts=("a cat",), width=32, height=32, iterations=1, seed=3)]
    summary = run_batch(rows, tmp_path, best_of=3, draw_fn=ScoredDrawer())
    (entry,) = summary.entries
    assert entry["seed"] == 3  # the highest score, not the highest similarity
    assert [c["score"] for c in entry["candidates"]] == [-3.0, -4.0, -5.0]


# -- the command line ----------------------------------------------------------------------------
def _cli(tmp_path, tiny_clip_config, *args, name="boat.svg"):
    out = tmp_path / name
    result = CliRunner().invoke(cli, ["draw", "a boat", "--model", str(tiny_clip_config),
                                      "-o", str(out), "--size", "32", "--paths", "5",
                                      "--num-augs", "2", *args], catch_exceptions=False)
    return result, out


def test_save_last_writes_the_last_drawing_beside_the_best(tmp_path, tiny_clip_config):
    args = ["--iterations", "12", "--lr-points", "100", "--lr-color", "1", "--lr-width", "20"]
    result, out = _cli(tmp_path, tiny_clip_config, *args, "--best-every", "2", "--save-last")
    assert result.exit_code == 0, result.output
    assert "best at step" in result.output
    best, last = read_svg_metadata(out), read_svg_metadata(tmp_path / "boat.last.svg")
    assert best["settings"]["best_every"] == 2 and "best_step" in best["metrics"]
    assert "best_step" not in last["metrics"] and last["metrics"]["steps"] == 12
    assert (tmp_path / "boat.last.png").is_file() and (tmp_path / "boat.last.json").is_file()
    assert load_svg(tmp_path / "boat.last.svg").num_paths == 5


@pytest.mark.parametrize("args, hint", [
    (["--save-last"], "--save-last"),
    (["--patience", "3"], "--patience"),
    (["--best-of", "65"], "--best-of"),
    (["--best-every", "-1"], "--best-every"),
])
def test_bad_best_options_are_one_line_usage_errors(tmp_path, tiny_clip_config, args, hint):
    result, out = _cli(tmp_path, tiny_clip_config, *args)
    assert result.exit_code == 2 and hint in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_best_of_on_the_command_line_keeps_the_best_seed(tmp_path, tiny_clip_config):
    result, out = _cli(tmp_path, tiny_clip_config, "--iterations", "2", "--best-of", "2",
                       "--seed", "7")
    assert result.exit_code == 0, result.output
    meta = read_svg_metadata(out)
    candidates = meta["metrics"]["candidates"]
    assert [c["seed"] for c in candidates] == [7, 8]
    assert meta["settings"]["seed"] == max(candidates, key=lambda c: c["score"])["seed"]
    assert f"seed {meta['settings']['seed']}" in result.output


def test_ctrl_c_saves_the_best_so_far_and_the_last(tmp_path, tiny_clip_config, monkeypatch):
    step = Optimisation.step

    def interrupted_step(self):
        if self.step_count == 5:
            raise KeyboardInterrupt
        step(self)

    monkeypatch.setattr(Optimisation, "step", interrupted_step)
    result, out = _cli(tmp_path, tiny_clip_config, "--iterations", "50", "--best-every", "2",
                       "--save-last")
    assert result.exit_code == 130
    assert "saved the best drawing so far" in result.output
    best, last = read_svg_metadata(out), read_svg_metadata(tmp_path / "boat.last.svg")
    assert best["metrics"]["best_step"] in (2, 4)
    assert best["metrics"]["interrupted"] == last["metrics"]["interrupted"] == "KeyboardInterrupt"
    assert last["metrics"]["steps"] == 5
    assert (tmp_path / "boat.png").is_file() and (tmp_path / "boat.last.png").is_file()
