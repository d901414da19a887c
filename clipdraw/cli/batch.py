"""`clipdraw batch`: many prompts x seeds into one folder, resumable, batched, optionally on Ray."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from clipdraw.cli.options import check_output_folder, drawing_options, given_changes

__all__ = ["command"]


class _Bar:
    """tqdm bar over drawings on stderr: done / total, drawings per minute, ETA, and the step
    of the batch in flight (so a long first batch does not look stuck at 0)."""

    def __init__(self, enabled: bool, refresh_seconds: float = 0.5) -> None:
        self.enabled = enabled
        self.refresh_seconds = refresh_seconds
        self.bar: Any = None
        self.started = 0.0
        self.drawn = 0
        self.rate = "0.0 drawings/min"
        self.in_flight = ""
        self.refreshed = 0.0

    def start(self, total: int, done: int) -> None:
        self.started = time.perf_counter()
        if not self.enabled:
            return
        from tqdm import tqdm

        self.bar = tqdm(
            total=total,
            initial=done,
            unit="drawing",
            file=sys.stderr,
            dynamic_ncols=True,
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]",
        )
        self._show(refresh=True)

    def _show(self, refresh: bool) -> None:
        if self.bar is not None:
            parts = [self.rate, self.in_flight]
            self.bar.set_postfix_str(", ".join(part for part in parts if part), refresh=refresh)
            self.refreshed = time.perf_counter()

    def step(self, step: int, iterations: int, drawings: int) -> None:
        """The batch in flight finished optimisation step ``step`` of ``iterations``."""
        noun = "drawing" if drawings == 1 else "drawings"
        self.in_flight = (f"{drawings} {noun}: loading models" if step == 0
                          else f"{drawings} {noun}: step {step}/{iterations}")
        due = time.perf_counter() - self.refreshed >= self.refresh_seconds
        self._show(refresh=due or step in (0, iterations))

    def waiting(self, holder: str) -> None:
        """Another run holds the output folder."""
        click.echo(f"another clipdraw batch ({holder}) is drawing into this folder; waiting "
                   "for it to finish, then resuming (Ctrl-C to stop)", err=True)

    def advance(self, entry: Mapping[str, Any]) -> None:
        self.drawn += 1
        minutes = max(time.perf_counter() - self.started, 1e-9) / 60
        failed = " (failed)" if entry.get("status") != "ok" else ""
        self.rate = f"{self.drawn / minutes:.1f} drawings/min{failed}"
        self.in_flight = ""
        if self.bar is None:
            return
        self._show(refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _report(summary: Any, manifest: Path) -> None:
    """The run's one-line summary on stderr, then why drawings failed: counts by reason and
    the first few messages."""
    click.echo(
        f"{summary.ok} drawn, {summary.skipped} already done, {summary.failed} failed "
        f"-> {manifest}",
        err=True,
    )
    if not summary.failed:
        return
    reasons = ", ".join(f"{count} {reason}" for reason, count in summary.failures.most_common())
    click.echo(f"failed: {reasons}", err=True)
    for line in summary.first_errors:
        click.echo(f"  {line}", err=True)
    hidden = summary.failed - len(summary.first_errors)
    if hidden > 0:
        click.echo(f"  ... and {hidden} more (see the manifest's error entries)", err=True)


def _base_settings(ctx: click.Context, options: Mapping[str, Any]) -> Any:
    """DrawSettings holding the drawing options given on the command line; rows start from it."""
    from clipdraw.settings import DrawSettings

    return DrawSettings().replace(**given_changes(ctx, options))


@click.command(name="batch")
@click.argument("prompts", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", "--out", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (drawings + manifest.jsonl); rerunning resumes.")
@click.option("--seeds", default=1, show_default=True, type=click.IntRange(min=1),
              help="Drawings per prompt (seeds seed, seed+1, ...).")
@click.option("-k", "--batch-size", default=1, show_default=True, type=click.IntRange(min=1),
              help="Drawings optimised together in one renderer call and CLIP forward.")
@click.option("--best-of", default=1, show_default=True, type=click.IntRange(min=1),
              help="Draw N seeds per output and keep the best-scoring one.")
@click.option("--judge-model", default=None, metavar="MODEL",
              help="CLIP model that ranks --best-of candidates (default: the drawing's own).")
@click.option("--judge-pretrained", default="openai", show_default=True, metavar="TAG",
              help="Pretrained tag of --judge-model ('none': random weights).")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None,
              metavar="[ADDRESS]",
              help="Distribute over a Ray cluster (a local one when no address is given).")
@click.option("--max-retries", default=3, show_default=True, type=click.IntRange(min=0),
              help="Retries of a failed Ray task.")
@drawing_options
@click.option("--device", default=None, help="Torch device (default: the best available).")
@click.option("--no-png", is_flag=True, help="Save SVG + JSON only.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def command(
    prompts: Path,
    out_dir: Path,
    seeds: int,
    batch_size: int,
    best_of: int,
    judge_model: str | None,
    judge_pretrained: str,
    ray_address: str | None,
    max_retries: int,
    device: str | None,
    no_png: bool,
    quiet: bool,
    **overrides: Any,
) -> None:
    """Draw every prompt of PROMPTS into --out, resumably.

    PROMPTS is a text file (one prompt per line), or JSONL / CSV whose rows may set prompt,
    negatives, seed, paths, iterations, size, shape, model or any other drawing option, by its
    name below without the dashes (lr-points or lr_points). The drawing options given here are
    every row's defaults.
    Each drawing is saved as SLUG_seedN.svg/.png/.json; manifest.jsonl records its settings,
    similarity, time and files. Rerunning skips drawings already complete; a bad row is
    recorded in the manifest and the others go on. Exit status 1 when any drawing failed.

    \b
    Examples:
      clipdraw batch prompts.txt --out drawings/ --seeds 4 --batch-size 8
      clipdraw batch rows.csv --out best/ --best-of 4 --judge-model ViT-L-14
      clipdraw batch prompts.txt --out drawings/ --ray auto
    """
    from clipdraw.batch.rows import read_rows
    from clipdraw.batch.run import run_batch
    from clipdraw.io import WriteFailed
    from clipdraw.models import ModelLoadError, check_model_spec

    base = _base_settings(click.get_current_context(), overrides)
    check_output_folder(out_dir)
    if judge_model is not None:
        try:
            check_model_spec(judge_model, judge_pretrained, check_download=True)
        except ModelLoadError as error:
            raise click.BadParameter(str(error), param_hint="--judge-model") from None
    try:
        rows = read_rows(prompts, base)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise click.BadParameter(str(error), param_hint="PROMPTS") from None
    if not rows:
        raise click.BadParameter("no prompts in the file", param_hint="PROMPTS")
    executor = None
    if ray_address is not None:
        from clipdraw.batch.ray_backend import RayExecutor, import_ray

        try:
            import_ray()
        except ImportError as error:
            raise click.UsageError(str(error)) from None
        address = None if ray_address == "local" else ray_address
        executor = RayExecutor(address, max_retries=max_retries)
    bar = _Bar(enabled=not quiet)
    try:
        summary = run_batch(
            rows,
            out_dir,
            seeds=seeds,
            batch_size=batch_size,
            best_of=best_of,
            judge_model=judge_model,
            judge_pretrained=judge_pretrained,
            device=device,
            png=not no_png,
            progress=bar,
            executor=executor,
        )
    except KeyboardInterrupt:
        bar.close()
        click.echo("interrupted: rerun the same command to resume", err=True)
        sys.exit(130)
    except WriteFailed as error:
        bar.close()
        failure = click.ClickException(f"{error}; free space (or fix permissions) and rerun "
                                       "the same command to resume")
        failure.exit_code = 2
        raise failure from None
    finally:
        bar.close()
    _report(summary, out_dir / "manifest.jsonl")
    if summary.failed:
        sys.exit(1)
