"""`clipdraw batch` on the command line: runs, resumes, reports bad rows, rejects mistakes."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from clipdraw.batch.manifest import read_manifest
from clipdraw.cli import cli
from clipdraw.options import OPTIONS


@pytest.fixture(scope="module")
def small(tiny_clip_config) -> list[str]:
    """Options for tiny, fast drawings with a random tiny CLIP."""
    path = tiny_clip_config
    return ["--model", str(path), "--pretrained", "none", "--size", "32", "--paths", "3",
            "--iterations", "2", "--num-augs", "2", "--device", "cpu"]


def _run(*args: str):
    return CliRunner().invoke(cli, ["batch", *args], catch_exceptions=False)


def test_batch_draws_every_prompt_and_seed_then_resumes(tmp_path, small):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red cat\na blue dog\n")
    out = tmp_path / "out"
    result = _run(str(prompts), "--out", str(out), "--seeds", "2", "-k", "2", *small)
    assert result.exit_code == 0, result.output
    assert "4 drawn" in result.stderr and "drawings/min" in result.stderr
    entries = read_manifest(out / "manifest.jsonl")
    assert sorted(e["key"] for e in entries) == [
        "a-blue-dog_seed0", "a-blue-dog_seed1", "a-red-cat_seed0", "a-red-cat_seed1"]
    assert (out / "a-red-cat_seed1.svg").is_file() and (out / "a-red-cat_seed1.png").is_file()
    again = _run(str(prompts), "--out", str(out), "--seeds", "2", "-k", "2", "-q", *small)
    assert again.exit_code == 0
    assert "0 drawn, 4 already done" in again.stderr
    assert len(read_manifest(out / "manifest.jsonl")) == 4


def test_bad_row_is_recorded_and_exit_status_is_1(tmp_path, small):
    prompts = tmp_path / "rows.csv"
    prompts.write_text("prompt,iterations,shape\na cat,,\na dog,,stars\n")
    result = _run(str(prompts), "--out", str(tmp_path / "out"), "--no-png", "-q", *small)
    assert result.exit_code == 1
    assert "1 drawn, 0 already done, 1 failed" in result.stderr
    entries = {e["key"]: e for e in read_manifest(tmp_path / "out" / "manifest.jsonl")}
    assert entries["a-dog_row3"]["status"] == "error" and "shape" in entries["a-dog_row3"]["error"]
    assert set(entries["a-cat_seed0"]["files"]) == {"svg", "json"}


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        ("a cat\n", ["--batch-size", "0"], "batch-size"),
        ("a cat\n", ["--judge-model", "no-such-model"], "judge-model"),
        ("a cat\n", ["--size", "big"], "size"),
        ("a cat\n", ["--lr-points", "nan"], "--lr-points: expected a finite number"),
        ("a cat\n", ["--paths", "100000000"], "--paths: must be at most 10000"),
        ("a cat\n", ["--output", "{prompts}/sub"], "is not a folder"),
        ("", [], "no prompts"),
        ("seed\n1\n", [], "prompt"),
    ],
)
def test_user_mistakes_are_usage_errors(tmp_path, content, extra, message):
    prompts = tmp_path / ("p.csv" if content.startswith("seed") else "p.txt")
    prompts.write_text(content)
    extra = [e.replace("{prompts}", str(prompts)) for e in extra]
    result = _run(str(prompts), "--out", str(tmp_path / "out"), *extra)
    assert result.exit_code == 2
    assert message in result.stderr


def test_missing_prompts_file_is_a_usage_error(tmp_path):
    result = _run(str(tmp_path / "nope.txt"), "--out", str(tmp_path))
    assert result.exit_code == 2


def test_ray_option_passes_the_address_and_retries_to_the_executor(tmp_path, small,
                                                                    monkeypatch):
    calls = {}

    class FakeExecutor:
        def __init__(self, address, max_retries):
            calls.update(address=address, max_retries=max_retries)

        def __call__(self, batches, work):
            for index, batch in enumerate(batches):
                yield index, work(batch)

    monkeypatch.setattr("clipdraw.batch.ray_backend.RayExecutor", FakeExecutor)
    prompts = tmp_path / "p.txt"
    prompts.write_text("a cat\n")
    result = _run(str(prompts), "--out", str(tmp_path / "out"), "-q", *small, "--ray")
    assert result.exit_code == 0, result.stderr
    assert calls == {"address": None, "max_retries": 3}
    result = _run(str(prompts), "--out", str(tmp_path / "o2"), "-q", *small,
                  "--ray", "auto", "--max-retries", "1")
    assert result.exit_code == 0, result.stderr
    assert calls == {"address": "auto", "max_retries": 1}
    (entry,) = read_manifest(tmp_path / "o2" / "manifest.jsonl")
    assert entry["status"] == "ok"


def test_ctrl_c_exits_130_and_says_how_to_resume(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("clipdraw.batch.run.run_batch", interrupted)
    prompts = tmp_path / "p.txt"
    prompts.write_text("a cat\n")
    result = _run(str(prompts), "--out", str(tmp_path / "out"), "-q")
    assert result.exit_code == 130
    assert "rerun the same command to resume" in result.stderr


def test_draw_and_batch_share_every_drawing_option_with_help_and_range():
    from clipdraw.cli import batch, draw

    def params(command):
        return {p.name: p for p in command.command.params if isinstance(p, click.Option)}

    drawn, batched = params(draw), params(batch)
    for option in OPTIONS:
        if not option.flags:
            continue
        a, b = drawn[option.key], batched[option.key]
        assert a.opts == b.opts == list(option.flags)
        assert a.help and a.help == b.help and option.help in a.help
    for name, param in {**drawn, **batched}.items():
        assert param.help, f"--{name} has no help text"


@pytest.mark.parametrize("flag", [f for o in OPTIONS for f in o.flags if f.startswith("--")])
def test_every_drawing_option_is_also_a_batch_column(flag):
    from clipdraw.batch.rows import _column_value

    column = flag[2:]
    with pytest.raises(ValueError) as caught:
        _column_value(column, {"not": "a value"})
    assert "unknown column" not in str(caught.value)


def test_a_judge_model_whose_weights_cannot_be_had_is_a_usage_error(tmp_path):
    prompts = tmp_path / "p.txt"
    prompts.write_text("a cat\n")
    result = _run(str(prompts), "--out", str(tmp_path / "out"), "--best-of", "2",
                  "--judge-model", "ViT-B-32", "--judge-pretrained", "openai")
    assert result.exit_code == 2 and "--judge-model" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()
