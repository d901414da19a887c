"""The Ray backend on a local cluster: same manifest, retried tasks, failures reported."""

from __future__ import annotations

import sys

import pytest

from clipdraw.batch.manifest import read_manifest
from clipdraw.batch.ray_backend import RayExecutor, import_ray, task_options
from clipdraw.batch.rows import parse_rows
from clipdraw.batch.run import run_batch
from clipdraw.settings import DrawSettings

ray = pytest.importorskip("ray")



@pytest.fixture(scope="module")
def local_ray():
    """A small local Ray instance for this module, shut down afterwards."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def tiny(tiny_clip_config) -> DrawSettings:
    path = tiny_clip_config
    return DrawSettings(models=(str(path),), pretrained="none", width=32, height=32, paths=3,
                        iterations=2, num_augs=2)


def test_ray_run_writes_the_same_manifest_and_resumes(local_ray, tiny, tmp_path):
    rows = parse_rows("a red cat\na blue dog\n", "text", tiny)
    summary = run_batch(rows, tmp_path, batch_size=1, device="cpu", executor=RayExecutor())
    assert (summary.ok, summary.failed) == (2, 0)
    entries = read_manifest(tmp_path / "manifest.jsonl")
    assert sorted(e["key"] for e in entries) == ["a-blue-dog_seed0", "a-red-cat_seed0"]
    for entry in entries:
        assert entry["status"] == "ok" and isinstance(entry["similarity"], float)
        assert all((tmp_path / name).is_file() for name in entry["files"].values())
    again = run_batch(rows, tmp_path, batch_size=1, device="cpu", executor=RayExecutor())
    assert (again.skipped, again.ok) == (2, 0)


def test_crashed_task_is_retried(local_ray, tmp_path):
    marker = tmp_path / "crashed-once"
    rows = parse_rows("a cat\n", "text", DrawSettings(width=32, height=32, iterations=1))

    def crash_once(settings):
        import os

        from clipdraw.drawing import Drawing
        from clipdraw.scene import Scene

        if not marker.exists():
            marker.write_text("x")
            os._exit(1)  # the worker dies mid-task
        import torch

        points = torch.tensor([[[1.0, 1.0], [5.0, 5.0], [9.0, 1.0], [12.0, 12.0]]])
        scene = Scene.create(points, torch.tensor([1]), 32, 32,
                             stroke_color=torch.tensor([0.0, 0.0, 0.0, 1.0]))
        return [Drawing(scene, s.resolved(), {"similarity": 0.5}) for s in settings]

    summary = run_batch(rows, tmp_path / "out", draw_fn=crash_once,
                        executor=RayExecutor(max_retries=2))
    assert marker.exists()
    assert (summary.ok, summary.failed) == (1, 0)


def test_task_failing_after_its_retries_becomes_an_error_entry(local_ray, tmp_path):
    rows = parse_rows("a cat\n", "text", DrawSettings(width=32, height=32, iterations=1))

    def always_fails(settings):
        class Fatal(BaseException):  # escapes the per-drawing error handling
            pass

        raise Fatal("worker-level failure")

    summary = run_batch(rows, tmp_path, draw_fn=always_fails, executor=RayExecutor(max_retries=0))
    (entry,) = read_manifest(tmp_path / "manifest.jsonl")
    assert summary.failed == 1 and entry["status"] == "error"
    assert "ray task failed" in entry["error"] and entry["reason"] == "ray task failed"
    assert summary.failures == {"ray task failed": 1}


def test_tasks_ask_for_a_gpu_only_when_the_cluster_has_them():
    assert task_options({"CPU": 8.0}, 3)["num_gpus"] == 0
    options = task_options({"CPU": 8.0, "GPU": 2.0}, 3)
    assert options["num_gpus"] == 1 and options["max_retries"] == 3


def test_missing_ray_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"pip install 'ray\[default\]>=2.9'"):
        import_ray()


def test_cli_ray_option_draws_on_a_real_local_cluster(local_ray, tiny_clip_config, tmp_path):
    """`clipdraw batch --ray` through the real RayExecutor (on this module's local cluster, so
    the test does not pay for a second Ray start-up)."""
    from click.testing import CliRunner

    from clipdraw.cli import cli

    prompts = tmp_path / "p.txt"
    prompts.write_text("a cat\na dog\n")
    out = tmp_path / "out"
    args = ["batch", str(prompts), "--out", str(out), "-q", "--ray", "--model",
            str(tiny_clip_config), "--pretrained", "none", "--size", "32", "--paths", "2",
            "--iterations", "1", "--num-augs", "1", "--device", "cpu"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert "2 drawn, 0 already done, 0 failed" in result.stderr
    entries = read_manifest(out / "manifest.jsonl")
    assert sorted(e["key"] for e in entries) == ["a-cat_seed0", "a-dog_seed0"]
    for entry in entries:
        assert entry["status"] == "ok"
        assert sorted(entry["files"]) == ["json", "png", "svg"]
        assert all((out / name).is_file() for name in entry["files"].values())
    again = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert again.exit_code == 0 and "0 drawn, 2 already done" in again.stderr

