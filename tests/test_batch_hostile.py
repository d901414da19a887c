"""Hostile batch rows: whatever a row holds, it costs only itself, and the console says why."""

from __future__ import annotations

import json
import resource
import time

import pytest
from click.testing import CliRunner
from test_batch_run import FakeDrawer

from clipdraw.batch.manifest import read_manifest
from clipdraw.batch.rows import Row, read_rows
from clipdraw.batch.run import FAILURE_REASONS, run_batch
from clipdraw.cli import cli
from clipdraw.settings import DrawSettings

BASE = DrawSettings(width=32, height=32, iterations=2)


def _good(number: int, prompt: str) -> Row:
    return Row(number=number, settings=BASE.replace(prompts=(prompt,)), prompt=prompt)


def _bad_seed(number: int, seed) -> Row:
    return Row(number=number, settings=BASE.replace(prompts=("bad seed",), seed=seed),
               prompt="bad seed")


class _Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    __str__ = __repr__


HOSTILE_ROWS = {
    "nan seed": _bad_seed(2, float("nan")),
    "list seed": _bad_seed(2, [1]),
    "dict seed": _bad_seed(2, {}),
    "infinite seed": _bad_seed(2, float("inf")),
    "string seed": _bad_seed(2, "three"),
    "nan width": Row(2, BASE.replace(prompts=("wide",), width=float("nan")), prompt="wide"),
    "settings of the wrong type": Row(2, settings={"seed": 1}, prompt="not settings"),  # type: ignore[arg-type]
    "prompt of the wrong type": Row(2, settings=None, error="bad", prompt=None),  # type: ignore[arg-type]
    "error of the wrong type": Row(2, settings=None, error=ValueError("x"), prompt="e"),  # type: ignore[arg-type]
    "number of the wrong type": Row("2", settings=None, error="bad", prompt="n"),  # type: ignore[arg-type]
    "a setting that cannot be printed": Row(
        2, BASE.replace(prompts=("m",), pretrained=_Unprintable()), prompt="m"),
    "huge invalid prompt": Row(2, settings=None, error="x" * 300_000, prompt="y" * 300_000),
    "not a row at all": object(),
    "mapping with a nan seed": {"prompt": "bad", "seed": float("nan")},
    "mapping with a non-string column": {1: 2},
}


@pytest.mark.parametrize("name", list(HOSTILE_ROWS))
def test_a_hostile_row_costs_only_itself_now_and_on_every_resume(name, tmp_path):
    rows = [_good(1, "a cat"), HOSTILE_ROWS[name], _good(3, "a cow")]
    started = time.perf_counter()
    summary = run_batch(rows, tmp_path, batch_size=3, draw_fn=FakeDrawer())
    assert (summary.ok, summary.failed) == (2, 1), summary.entries
    assert time.perf_counter() - started < 30  # a bound, not a benchmark
    (failure,) = [e for e in summary.entries if e["status"] == "error"]
    assert failure["reason"] in FAILURE_REASONS and failure["error"]
    assert len(failure["error"]) <= 2000
    text = (tmp_path / "manifest.jsonl").read_bytes().decode("utf-8")  # strict UTF-8
    assert all(json.loads(line) for line in text.splitlines())
    again = run_batch(rows, tmp_path, batch_size=3, draw_fn=FakeDrawer())
    assert (again.skipped, again.ok, again.failed) == (2, 0, 1)


def test_a_lone_surrogate_in_a_prompt_is_drawn_and_saved_as_valid_utf8(tmp_path):
    prompt = "a cat \ud800 on a mat"
    rows = [Row(1, BASE.replace(prompts=(prompt,)), prompt=prompt), _good(2, "a dog")]
    summary = run_batch(rows, tmp_path, draw_fn=FakeDrawer())
    assert summary.ok == 2
    entry = summary.entries[0]
    for name in entry["files"].values():
        if not name.endswith(".png"):
            (tmp_path / name).read_bytes().decode("utf-8")
    saved = json.loads((tmp_path / entry["files"]["json"]).read_text(encoding="utf-8"))
    assert saved["settings"]["prompts"] == ["a cat \N{REPLACEMENT CHARACTER} on a mat"]
    assert run_batch(rows, tmp_path, draw_fn=FakeDrawer()).skipped == 2


def test_hostile_jsonl_rows_read_from_a_file_cost_only_themselves(tmp_path):
    prompts = tmp_path / "rows.jsonl"
    prompts.write_text(
        '"a cat"\n'
        '{"prompt": "nan", "seed": NaN}\n'
        '{"prompt": "list", "seed": [1]}\n'
        '{"prompt": "dict", "seed": {}}\n'
        '{"prompt": "inf", "seed": Infinity}\n'
        '{"prompt": "huge", "seed": 1e400}\n'
        '{"prompt": "surrogate \\ud800"}\n'
        '{"prompt": "width", "width": NaN}\n'
        '"a cow"\n'
    )
    rows = read_rows(prompts, BASE)
    summary = run_batch(rows, tmp_path / "out", batch_size=4, draw_fn=FakeDrawer())
    drawn = {e["prompt"] for e in summary.entries if e["status"] == "ok"}
    assert {"a cat", "a cow"} <= drawn
    assert summary.ok + summary.failed == 9
    assert len(read_manifest(tmp_path / "out" / "manifest.jsonl")) == 9


def test_a_drawing_that_fails_for_real_costs_only_itself(tiny_clip_config, tmp_path):
    tiny = DrawSettings(models=(str(tiny_clip_config),), pretrained="none", width=32,
                        height=32, paths=2, iterations=1, num_augs=1)
    rows = [Row(1, tiny.replace(prompts=("a cat",)), prompt="a cat"),
            Row(2, tiny.replace(prompts=("a dog",), seed=2**70), prompt="a dog")]
    summary = run_batch(rows, tmp_path, batch_size=2, device="cpu", png=False)
    assert (summary.ok, summary.failed) == (1, 1)
    assert summary.failures == {"drawing failed": 1}
    assert summary.first_errors[0].startswith("row 2 (a dog): ")


def test_summary_counts_failures_by_reason_and_keeps_the_first_messages(tmp_path):
    rows = [HOSTILE_ROWS["nan seed"], _good(1, "a dog"), _good(3, "a cow")]
    rows += [Row(10 + n, None, error=f"bad {n}", prompt=f"p{n}") for n in range(7)]
    summary = run_batch(rows, tmp_path, draw_fn=FakeDrawer(fail_prompt="a dog"))
    assert summary.failures == {"invalid row": 8, "drawing failed": 1}
    assert len(summary.first_errors) == 5
    assert summary.first_errors[0].startswith("row 2 (bad seed): ValueError")
    assert "row 10 (p0): bad 0" in summary.first_errors


def test_an_executor_that_loses_a_batch_fails_its_drawings_not_the_run(tmp_path):
    def forgetful(batches, work):
        for index, batch in enumerate(batches):
            if index != 1:
                yield index, work(batch)

    rows = [_good(1, "a"), _good(2, "b"), _good(3, "c")]
    summary = run_batch(rows, tmp_path, executor=forgetful, draw_fn=FakeDrawer())
    assert (summary.ok, summary.failed) == (2, 1)
    assert summary.failures == {"no result": 1}


def test_cli_says_why_rows_failed(tmp_path, tiny_clip_config):
    prompts = tmp_path / "rows.jsonl"
    prompts.write_text('{"prompt": "nan", "seed": NaN}\n{"prompt": "a dog", "shape": "stars"}\n'
                       '"a cat"\n')
    small = ["--model", str(tiny_clip_config), "--pretrained", "none", "--size", "32",
             "--paths", "2", "--iterations", "1", "--num-augs", "1", "--device", "cpu"]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = CliRunner().invoke(cli, ["batch", str(prompts), "--out", str(tmp_path / "out"),
                                      "-q", "--no-png", *small], catch_exceptions=False)
    assert result.exit_code == 1, result.stderr
    lines = result.stderr.splitlines()
    assert "1 drawn, 0 already done, 2 failed" in lines[0]
    assert lines[1] == "failed: 2 invalid row"
    assert lines[2].startswith("  row 1 (nan): ")
    assert lines[3].startswith("  row 2 (a dog): ") and "shape" in lines[3]
    assert "Traceback" not in result.output
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 3 * 1024 * 1024  # well under the 3 GiB bound


# -- the console (clipdraw/cli/batch.py) ---------------------------------------------------------
def test_cli_full_disk_is_one_clean_line_and_exit_2(tmp_path, monkeypatch):
    import errno

    from clipdraw.drawing import Drawing

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("clipdraw.batch.run.pipeline_draw_fn", lambda *a: FakeDrawer())
    monkeypatch.setattr(Drawing, "save", full)
    prompts = tmp_path / "p.txt"
    prompts.write_text("a cat\na dog\n")
    result = CliRunner().invoke(cli, ["batch", str(prompts), "--out", str(tmp_path / "out"),
                                      "-q", "--size", "32"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"Error: cannot write into {tmp_path / 'out'}: No space left on device; free space "
        "(or fix permissions) and rerun the same command to resume"]


def test_cli_bar_shows_the_step_of_the_batch_in_flight():
    from clipdraw.cli.batch import _Bar

    bar = _Bar(enabled=True)
    bar.start(3, 0)
    bar.step(0, 10, 3)
    assert "3 drawings: loading models" in bar.bar.postfix
    bar.step(7, 10, 3)
    assert "3 drawings: step 7/10" in bar.bar.postfix
    bar.advance({"key": "a", "status": "ok"})
    assert "step" not in bar.bar.postfix and bar.bar.n == 1
    bar.close()
