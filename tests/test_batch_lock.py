"""One batch per output folder: a second run on the same folder waits, then draws only what is
left; never two runs drawing the same drawings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from clipdraw.batch.lock import LOCK_NAME, FolderBusy, FolderLock
from clipdraw.batch.run import run_batch

# A batch run in its own process: a fake drawer logs "pid prompt" per drawing to LOG and holds
# its first drawing until RELEASE exists (at most 20 s); prints its summary as JSON.
_RUNNER = textwrap.dedent(
    """
    import json, os, sys, time
    import torch
    from clipdraw.batch.rows import parse_rows
    from clipdraw.batch.run import run_batch
    from clipdraw.drawing import Drawing
    from clipdraw.scene import Scene
    from clipdraw.settings import DrawSettings

    out, log, started, release = sys.argv[1:5]

    def slow(settings):
        drawings = []
        for s in settings:
            with open(log, "a") as handle:
                handle.write(f"{os.getpid()} {s.prompts[0]}\\n")
            deadline = time.monotonic() + 20
            while not os.path.exists(release) and time.monotonic() < deadline:
                time.sleep(0.05)
            points = torch.tensor([[[4.0, 4.0], [10.0, 20.0], [20.0, 10.0], [28.0, 28.0]]])
            scene = Scene.create(points, torch.tensor([1]), 32, 32)
            drawings.append(Drawing(scene, s.resolved(), {"similarity": 0.1}))
        return drawings

    class Waiting:
        def start(self, total, done):
            open(started, "w").close()
        def advance(self, entry):
            pass
        def waiting(self, holder):
            print("waiting for", holder, file=sys.stderr, flush=True)

    rows = parse_rows("a\\nb\\nc\\nd\\n", "text", DrawSettings(width=32, height=32, iterations=1))
    summary = run_batch(rows, out, draw_fn=slow, progress=Waiting())
    print(json.dumps({"ok": summary.ok, "skipped": summary.skipped}))
    """
)


def _start(tmp_path: Path, name: str) -> tuple[subprocess.Popen, Path]:
    script = tmp_path / "runner.py"
    script.write_text(_RUNNER)
    started = tmp_path / f"{name}.started"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "out"), str(tmp_path / "log"),
         str(started), str(tmp_path / "release")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    return process, started


def _wait_for(path: Path, process: subprocess.Popen, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the first run never started drawing"
        time.sleep(0.05)


def test_two_runs_on_one_folder_never_draw_the_same_drawing(tmp_path):
    first, first_started = _start(tmp_path, "first")
    _wait_for(first_started, first)  # the first run holds the folder and is drawing
    second, _ = _start(tmp_path, "second")
    said = ""
    while "waiting for" not in said:  # until the second run waits (or, if broken, ends)
        line = second.stderr.readline()
        if not line:
            break
        said += line
    (tmp_path / "release").touch()
    first_out, first_err = first.communicate(timeout=300)
    second_out, second_err = second.communicate(timeout=300)
    second_err = said + second_err
    assert first.returncode == 0, first_err
    assert second.returncode == 0, second_err
    drawn = [line.split()[1] for line in (tmp_path / "log").read_text().splitlines()]
    assert sorted(drawn) == ["a", "b", "c", "d"]  # each exactly once
    assert json.loads(first_out.splitlines()[-1]) == {"ok": 4, "skipped": 0}
    assert json.loads(second_out.splitlines()[-1]) == {"ok": 0, "skipped": 4}
    assert f"waiting for pid {first.pid} on " in second_err


def test_a_busy_folder_can_be_refused_instead_of_waited_for(tmp_path):
    with FolderLock(tmp_path):
        with pytest.raises(FolderBusy, match=rf"pid {os.getpid()} on .*choose another --out"):
            run_batch([], tmp_path, lock_timeout=0)
    assert run_batch([], tmp_path, lock_timeout=0).total == 0  # released


def test_waiting_is_announced_once_with_the_holder(tmp_path):
    said = []
    with FolderLock(tmp_path):
        with pytest.raises(FolderBusy):
            FolderLock(tmp_path, timeout=0.3, on_wait=said.append, poll=0.05).acquire()
    assert len(said) == 1 and said[0].startswith(f"pid {os.getpid()} on ")


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
            from clipdraw.batch.lock import FolderLock
            FolderLock({str(tmp_path)!r}).acquire()
            print("locked", flush=True)
            time.sleep(600)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(FolderBusy):
            FolderLock(tmp_path, timeout=0).acquire()
    finally:
        holder.kill()  # SIGKILL: no chance to unlock
        holder.wait()
    with FolderLock(tmp_path, timeout=5):
        assert (tmp_path / LOCK_NAME).exists()
