"""run_batch: batched drawing equals one-by-one, resume, bad rows, manifest, best-of."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import pytest
import torch

from clipdraw.batch.manifest import read_manifest
from clipdraw.batch.rows import parse_rows
from clipdraw.batch.run import Judge, make_batches, run_batch
from clipdraw.drawing import Drawing, draw_batch
from clipdraw.scene import Scene
from clipdraw.settings import DrawSettings


@pytest.fixture(scope="module")
def tiny(tiny_clip_config) -> DrawSettings:
    """Base settings: a tiny random CLIP, 32 px canvas, 4 paths, 3 steps."""
    path = tiny_clip_config
    return DrawSettings(models=(str(path),), pretrained="none", width=32, height=32, paths=4,
                        iterations=3, num_augs=2)


class FakeDrawer:
    """Stands in for draw_batch: instant drawings whose similarity is ``seed / 100``."""

    def __init__(self, fail_prompt: str | None = None, interrupt_on_call: int | None = None):
        self.calls: list[list[int]] = []
        self.fail_prompt = fail_prompt
        self.interrupt_on_call = interrupt_on_call

    def __call__(self, settings: Sequence[DrawSettings]) -> list[Drawing]:
        self.calls.append([s.seed for s in settings])
        if self.interrupt_on_call == len(self.calls):
            raise KeyboardInterrupt
        if any(self.fail_prompt in s.prompts for s in settings):
            raise RuntimeError("broken drawing")
        out = []
        for s in settings:
            points = torch.tensor([[[4.0, 4.0], [10.0, 20.0], [20.0, 10.0], [28.0, 28.0]]])
            scene = Scene.create(points, torch.tensor([1]), s.width, s.height,
                                 stroke_color=torch.tensor([0.0, 0.0, 0.0, 1.0]))
            out.append(Drawing(scene, s.resolved(), {"similarity": s.seed / 100, "steps": 1}))
        return out


def _rows(text: str, base: DrawSettings | None = None):
    return parse_rows(text, "jsonl", base or DrawSettings(width=32, height=32, iterations=2))


def test_batched_drawings_equal_one_by_one_drawings(tiny):
    settings = [
        tiny.replace(prompts=("a red cat",), seed=1),
        tiny.replace(prompts=("a blue dog",), seed=2, paths=6, negatives=("blurry",)),
        tiny.replace(prompts=("a green tree",), seed=3, shape="blobs", point_lr=0.5),
    ]
    # float64: Adam divides by the gradient's own size, so float32 rounding in the batch's
    # shared sums grows to visible differences on near-zero gradients; float64 keeps it tiny
    together = draw_batch(settings, device="cpu", dtype=torch.float64)
    for setting, batched in zip(settings, together):
        (alone,) = draw_batch([setting], device="cpu", dtype=torch.float64)
        assert batched.scene.num_paths == alone.scene.num_paths
        slots = alone.scene.points.shape[2]  # a batch pads points to its longest path
        assert not batched.scene.points[:, :, slots:].any()
        torch.testing.assert_close(batched.scene.points[:, :, :slots], alone.scene.points,
                                   atol=1e-4, rtol=1e-4)
        for name in ("stroke_width", "stroke_color", "fill_color", "num_segments"):
            torch.testing.assert_close(getattr(batched.scene, name), getattr(alone.scene, name),
                                       atol=1e-4, rtol=1e-4)
        assert batched.similarity == pytest.approx(alone.similarity, abs=1e-4)


def test_run_batch_gives_same_drawing_at_batch_size_1_and_3(tiny, tmp_path):
    rows = parse_rows("a red cat\na blue dog\na green tree\n", "text", tiny)
    one = run_batch(rows, tmp_path / "k1", batch_size=1, device="cpu")
    three = run_batch(rows, tmp_path / "k3", batch_size=3, device="cpu")
    assert one.ok == three.ok == 3
    for a, b in zip(one.entries, three.entries):
        assert a["key"] == b["key"]
        assert a["similarity"] == pytest.approx(b["similarity"], abs=1e-4)


def test_manifest_records_settings_similarity_time_and_files(tiny, tmp_path):
    rows = parse_rows('{"prompt": "a red cat", "seed": 4, "paths": 3}\n', "jsonl", tiny)
    summary = run_batch(rows, tmp_path, seeds=2, batch_size=2, device="cpu")
    assert (summary.total, summary.ok, summary.failed) == (2, 2, 0)
    entries = read_manifest(tmp_path / "manifest.jsonl")
    assert [e["key"] for e in entries] == ["a-red-cat_seed4", "a-red-cat_seed5"]
    entry = entries[0]
    assert entry["status"] == "ok" and entry["row"] == 1 and entry["seed"] == 4
    assert entry["settings"]["paths"] == 3 and entry["settings"]["prompts"] == ["a red cat"]
    assert isinstance(entry["similarity"], float) and entry["seconds"] > 0
    assert entry["batch_size"] == 2
    assert entry["files"] == {"svg": "a-red-cat_seed4.svg", "png": "a-red-cat_seed4.png",
                              "json": "a-red-cat_seed4.json"}
    for name in entry["files"].values():
        assert (tmp_path / name).stat().st_size > 0
    saved = json.loads((tmp_path / "a-red-cat_seed4.json").read_text())
    assert saved["settings"]["seed"] == 4


def test_rerun_skips_complete_drawings(tmp_path):
    rows = _rows('"a cat"\n"a dog"\n')
    first = FakeDrawer()
    run_batch(rows, tmp_path, seeds=2, draw_fn=first)
    again = FakeDrawer()
    summary = run_batch(rows, tmp_path, seeds=2, draw_fn=again)
    assert (summary.total, summary.skipped, summary.ok) == (4, 4, 0)
    assert again.calls == []


def test_resume_after_interrupt_draws_only_what_is_missing(tmp_path):
    rows = _rows('"a cat"\n"a dog"\n"a cow"\n')
    interrupted = FakeDrawer(interrupt_on_call=2)
    with pytest.raises(KeyboardInterrupt):
        run_batch(rows, tmp_path, batch_size=1, draw_fn=interrupted)
    assert [e["key"] for e in read_manifest(tmp_path / "manifest.jsonl")] == ["a-cat_seed0"]
    assert not list(tmp_path.glob("a-dog*"))  # nothing half-written for the batch in flight
    resumed = FakeDrawer()
    summary = run_batch(rows, tmp_path, batch_size=1, draw_fn=resumed)
    assert (summary.skipped, summary.ok) == (1, 2)
    assert len(resumed.calls) == 2
    assert {e["key"] for e in read_manifest(tmp_path / "manifest.jsonl")} == {
        "a-cat_seed0", "a-dog_seed0", "a-cow_seed0"}


def test_drawing_with_a_missing_file_or_no_manifest_line_is_redone(tmp_path):
    rows = _rows('"a cat"\n"a dog"\n')
    run_batch(rows, tmp_path, draw_fn=FakeDrawer())
    (tmp_path / "a-cat_seed0.png").unlink()  # lost output
    (tmp_path / "stray.svg").write_text("<svg")  # junk from elsewhere is ignored
    redo = FakeDrawer()
    summary = run_batch(rows, tmp_path, draw_fn=redo)
    assert (summary.skipped, summary.ok) == (1, 1)
    assert (tmp_path / "a-cat_seed0.png").exists()


def test_edited_row_is_redrawn(tmp_path):
    run_batch(_rows('{"prompt": "a cat", "paths": 3}\n'), tmp_path, draw_fn=FakeDrawer())
    summary = run_batch(_rows('{"prompt": "a cat", "paths": 5}\n'), tmp_path,
                        draw_fn=FakeDrawer())
    assert summary.ok == 1 and summary.skipped == 0


def test_bad_row_is_reported_and_the_others_are_drawn(tmp_path):
    rows = _rows('"a cat"\n{"prompt": "a dog", "iterations": -3}\n"a cow"\n')
    summary = run_batch(rows, tmp_path, batch_size=4, draw_fn=FakeDrawer())
    assert (summary.ok, summary.failed) == (2, 1)
    entries = {e["key"]: e for e in read_manifest(tmp_path / "manifest.jsonl")}
    bad = entries["a-dog_row2"]
    assert bad["status"] == "error" and "iterations" in bad["error"] and bad["row"] == 2
    assert entries["a-cow_seed0"]["status"] == "ok"


def test_drawing_that_fails_in_a_batch_costs_only_itself(tmp_path):
    rows = _rows('"a cat"\n"a dog"\n"a cow"\n')
    drawer = FakeDrawer(fail_prompt="a dog")
    summary = run_batch(rows, tmp_path, batch_size=3, draw_fn=drawer)
    assert (summary.ok, summary.failed) == (2, 1)
    failed = [e for e in summary.entries if e["status"] == "error"]
    assert failed[0]["key"] == "a-dog_seed0" and "broken drawing" in failed[0]["error"]
    assert drawer.calls[0] == [0, 0, 0]  # tried together first, then one by one


def test_failed_drawing_is_retried_on_rerun(tmp_path):
    rows = _rows('"a dog"\n')
    run_batch(rows, tmp_path, draw_fn=FakeDrawer(fail_prompt="a dog"))
    summary = run_batch(rows, tmp_path, draw_fn=FakeDrawer())
    assert summary.ok == 1


def test_best_of_keeps_the_most_similar_candidate(tmp_path):
    summary = run_batch(_rows('"a cat"\n'), tmp_path, seeds=2, best_of=3, batch_size=2,
                        draw_fn=FakeDrawer())
    first, second = summary.entries
    assert first["key"] == "a-cat_seed0_best3" and first["seed"] == 2
    assert [c["seed"] for c in first["candidates"]] == [0, 1, 2]
    assert second["seed"] == 5 and second["files"]["svg"] == "a-cat_seed5.svg"
    assert not (tmp_path / "a-cat_seed0.svg").exists()


def test_best_of_ranks_by_the_judge_model_when_given(tiny, tmp_path):
    rows = parse_rows("a red cat\n", "text", tiny)
    judge_model = tiny.models[0]
    summary = run_batch(rows, tmp_path, best_of=3, batch_size=3, judge_model=judge_model,
                        device="cpu")
    (entry,) = summary.entries
    scores = {c["seed"]: c["judge_similarity"] for c in entry["candidates"]}
    assert all(isinstance(v, float) for v in scores.values())
    assert entry["seed"] == max(scores, key=scores.get)
    assert entry["judge_similarity"] == pytest.approx(scores[entry["seed"]])
    assert entry["judge_model"] == judge_model


def test_judge_scores_images_against_their_own_prompts(tiny):
    judge = Judge(tiny.models[0], "none", "cpu")
    image = torch.rand(4, 32, 32)
    a, b, none = judge([image, image, image], [tiny.replace(prompts=("a cat",)),
                                               tiny.replace(prompts=("a dog",)),
                                               tiny.replace(prompts=(), target="x.png")])
    assert -1 <= a <= 1 and a != b and none is None


def test_make_batches_groups_only_compatible_drawings():
    rows = _rows('"a"\n"b"\n{"prompt": "c", "size": 48}\n"d"\n{"prompt": "e", "paths": 9}\n')
    from clipdraw.batch.rows import expand_jobs

    jobs = expand_jobs(rows)
    batches = make_batches(jobs, batch_size=3)
    assert [[jobs[j].prompt for j, _ in batch] for batch in batches] == [
        ["a", "b", "d"], ["e"], ["c"]]
    with pytest.raises(ValueError):
        make_batches(jobs, 0)


def test_progress_sees_total_then_each_finished_drawing(tmp_path):
    events = []

    class Recorder:
        def start(self, total, done):
            events.append(("start", total, done))

        def advance(self, entry):
            events.append(("advance", entry["key"]))

    run_batch(_rows('"a"\n'), tmp_path, draw_fn=FakeDrawer())
    run_batch(_rows('"a"\n"b"\n'), tmp_path, progress=Recorder(), draw_fn=FakeDrawer())
    assert events == [("start", 2, 1), ("advance", "b_seed0")]


def test_models_load_once_per_run_not_once_per_batch(tiny, tmp_path, monkeypatch):
    import clipdraw.drawing

    loads = []
    real = clipdraw.drawing.load_models

    def counting(settings, device="auto"):
        loads.append(settings.models)
        return real(settings, device)

    monkeypatch.setattr(clipdraw.drawing, "load_models", counting)
    rows = parse_rows("a cat\na dog\na cow\n", "text", tiny.replace(iterations=1))
    summary = run_batch(rows, tmp_path, batch_size=1, device="cpu", png=False)
    assert summary.ok == 3 and len(loads) == 1


def test_progress_sees_every_step_of_the_batch_in_flight(tiny, tmp_path):
    steps = []

    class Recorder:
        def start(self, total, done):
            pass

        def advance(self, entry):
            steps.append(("done", entry["key"]))

        def step(self, step, iterations, drawings):
            steps.append((step, iterations, drawings))

    rows = parse_rows("a cat\na dog\na cow\n", "text", tiny)
    run_batch(rows, tmp_path, batch_size=2, device="cpu", png=False, progress=Recorder())
    assert steps == [(0, 3, 2), (1, 3, 2), (2, 3, 2), (3, 3, 2),
                     ("done", "a-cat_seed0"), ("done", "a-dog_seed0"),
                     (0, 3, 1), (1, 3, 1), (2, 3, 1), (3, 3, 1), ("done", "a-cow_seed0")]


def test_a_half_saved_drawing_is_removed_and_redrawn(tmp_path):
    rows = _rows('"a cat"\n')
    (tmp_path / "a-cat_seed0.svg").write_text("<svg/>")  # killed before its PNG and JSON
    (tmp_path / "a-cat_seed0.png").write_bytes(b"")
    (tmp_path / "other.svg").write_text("<svg/>")  # not one of this batch's drawings
    drawer = FakeDrawer()
    interrupted = FakeDrawer(interrupt_on_call=1)
    with pytest.raises(KeyboardInterrupt):
        run_batch(rows, tmp_path, draw_fn=interrupted)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "other.svg"]
    assert run_batch(rows, tmp_path, draw_fn=drawer).ok == 1
    assert sorted(p.name for p in tmp_path.glob("a-cat*")) == [
        "a-cat_seed0.json", "a-cat_seed0.png", "a-cat_seed0.svg"]


def test_temporaries_left_by_a_killed_run_are_removed_by_the_next(tmp_path):
    from clipdraw.io import TEMPORARY_MARKER

    tmp_path.mkdir(exist_ok=True)
    stale = tmp_path / f".a-cat_seed0.svg{TEMPORARY_MARKER}x1y2.svg"
    stale.write_text("<svg")
    run_batch(_rows('"a cat"\n'), tmp_path, draw_fn=FakeDrawer())
    assert not stale.exists()
    assert not [p for p in tmp_path.iterdir() if TEMPORARY_MARKER in p.name]


def test_a_full_disk_stops_the_run_with_one_clear_error_and_keeps_the_manifest(
    tmp_path, monkeypatch
):
    import errno

    from clipdraw.io import WriteFailed

    rows = _rows('"a cat"\n"a dog"\n')
    run_batch(rows[:1], tmp_path, draw_fn=FakeDrawer())
    before = (tmp_path / "manifest.jsonl").read_bytes()

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Drawing, "save", full)
    drawer = FakeDrawer()
    with pytest.raises(WriteFailed) as caught:
        run_batch(_rows('"a cat"\n"a dog"\n"a cow"\n'), tmp_path, draw_fn=drawer)
    assert str(caught.value) == f"cannot write into {tmp_path}: No space left on device"
    assert len(drawer.calls) == 1  # stopped at once, not after failing every drawing
    assert (tmp_path / "manifest.jsonl").read_bytes() == before


def test_a_full_disk_while_recording_stops_the_run_and_keeps_the_manifest(
    tmp_path, monkeypatch
):
    import errno

    from clipdraw.batch.manifest import ManifestWriteError

    run_batch(_rows('"a cat"\n'), tmp_path, draw_fn=FakeDrawer())
    before = (tmp_path / "manifest.jsonl").read_bytes()
    real_write = os.write

    def write(handle, data):
        if os.fstat(handle).st_size == len(before):  # the manifest's next line
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(handle, data)

    monkeypatch.setattr(os, "write", write)
    with pytest.raises(ManifestWriteError, match="manifest.jsonl: No space left on device"):
        run_batch(_rows('"a cat"\n"a dog"\n'), tmp_path, draw_fn=FakeDrawer())
    assert (tmp_path / "manifest.jsonl").read_bytes() == before


def test_an_unwritable_output_folder_is_one_clear_error(tmp_path):
    from clipdraw.io import WriteFailed

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(WriteFailed, match=r"cannot write into .*file/out: "):
        run_batch(_rows('"a cat"\n'), blocker / "out", draw_fn=FakeDrawer())
