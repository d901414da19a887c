"""Same seed, same SVG: seeded CPU runs are bit-reproducible across processes, also while another
process loads the CPU, at the lengths (>= 100 steps) where the renderer used to be compiled."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ASTRONAUT = ROOT / "assets" / "astronaut_224.png"
#: Keeps a CPU core busy, so that the runs' threads are preempted at unpredictable moments.
LOAD = "while True:\n    pass\n"


def _environment() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    env.pop("OMP_NUM_THREADS", None)  # the runs' own default: every core, as users run
    return env


def _draw_twice(arguments: list[str], folder: Path) -> tuple[bytes, bytes]:
    """SVG bytes of two `clipdraw draw` processes run side by side while a third process keeps
    the CPU busy (so each run's threads are preempted at different moments)."""
    env = _environment()
    load = subprocess.Popen([sys.executable, "-c", LOAD], env=env)
    try:
        runs = [
            subprocess.Popen([sys.executable, "-m", "clipdraw", "draw", *arguments,
                              "-o", str(folder / f"run{i}.svg")],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for i in range(2)
        ]
        for run in runs:
            _, stderr = run.communicate(timeout=500)
            assert run.returncode == 0, stderr.decode()[-2000:]
    finally:
        load.kill()
        load.wait()
    return (folder / "run0.svg").read_bytes(), (folder / "run1.svg").read_bytes()


@pytest.mark.slow
def test_a_pixel_target_run_of_a_hundred_steps_gives_the_same_svg_in_two_processes(tmp_path):
    first, second = _draw_twice(["--target", str(ASTRONAUT), "--iterations", "100",
                                 "--size", "48x48", "--paths", "24", "--seed", "3"], tmp_path)
    assert first == second


@pytest.mark.slow
def test_a_clip_guided_run_gives_the_same_svg_in_two_processes(tmp_path, tiny_clip_config):
    first, second = _draw_twice(["a red circle", "--model", str(tiny_clip_config),
                                 "--iterations", "100", "--size", "32x32", "--paths", "12",
                                 "--num-augs", "2", "--seed", "5"], tmp_path)
    assert first == second
