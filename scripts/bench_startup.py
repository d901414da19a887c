"""Command-line start-up times: `clipdraw --help`, a usage error, and `render` of a small SVG.

    python scripts/bench_startup.py [--runs 5]

Each command runs ``--runs`` times in a fresh process after one warm-up run; the script prints the
median and the spread, and whether torch was imported (it must not be for help and usage errors).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SMALL_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="224" height="224">'
             '<rect width="224" height="224" fill="white"/>'
             '<path d="M20 20 C80 10 150 200 200 200" stroke="#c03" stroke-width="6" '
             'fill="none" stroke-linejoin="round"/></svg>')


def timed(arguments: list[str], runs: int) -> list[float]:
    command = [sys.executable, "-m", "clipdraw", *arguments]
    subprocess.run(command, capture_output=True)  # warm the file cache
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True)
        seconds.append(time.perf_counter() - start)
    return seconds


def imports_torch(arguments: list[str]) -> bool:
    code = ("import sys; from click.testing import CliRunner; from clipdraw.cli import cli; "
            f"CliRunner().invoke(cli, {arguments!r}); print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return result.stdout.strip() == "True"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_startup_"))
    (folder / "small.svg").write_text(SMALL_SVG)
    cases = {
        "clipdraw --help": ["--help"],
        "clipdraw draw --help": ["draw", "--help"],
        "clipdraw draw a --lr-points nan": ["draw", "a", "--lr-points", "nan"],
        "clipdraw render small.svg": ["render", str(folder / "small.svg"), "-o",
                                      str(folder / "small.png")],
    }
    print(f"{'command':36} {'median':>8} {'min':>7} {'max':>7}  torch imported")
    for name, arguments in cases.items():
        seconds = timed(arguments, args.runs)
        print(f"{name:36} {statistics.median(seconds):7.2f}s {min(seconds):6.2f}s "
              f"{max(seconds):6.2f}s  {imports_torch(arguments)}")


if __name__ == "__main__":
    main()
