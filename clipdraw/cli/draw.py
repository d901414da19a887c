"""`clipdraw draw`: parse the options, call :func:`clipdraw.drawing.draw_batch`, print."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from clipdraw.cli.options import (
    SetupError,
    bad_setting,
    check_device,
    check_writable,
    drawing_options,
    given_changes,
)
from clipdraw.options import LIMITS, OPTION_BY_KEY, OptionError

EXIT_INTERRUPTED = 130
VIDEO_SUFFIXES = (".mp4", ".gif", ".webm", ".mkv", ".mov")

EPILOG = """\b
Examples:
  clipdraw draw "a watercolor painting of a submarine" -o sub.svg
  clipdraw draw "a red apple::1" "a green leaf::0.5" --classic-negatives -o apple.svg
  clipdraw draw "a self portrait" --model ViT-B-16 --pretrained laion2b_s34b_b88k \\
      --model ViT-B-32 -o portrait.svg          # an ensemble of two models
  clipdraw draw --image-prompt cat.jpg "a drawing" --shape blobs -o cat.svg
  clipdraw draw --target photo.jpg -o painterly.svg   # fit strokes to a photo, no CLIP
  clipdraw draw "a tiger" --init sketch.svg --freeze-init --paths 64 -o tiger.svg
  clipdraw draw "a boat" --clip-weights ViT-B-32.pt -o boat.svg    # offline, local weights
  clipdraw draw "a boat" --save-every 50 --video boat.mp4 -o boat.svg
  clipdraw draw --from boat.svg --seed 2 -o boat2.svg    # same settings, another seed
  clipdraw draw "a boat" --best-every 25 --patience 8 --save-last -o boat.svg
  clipdraw draw "a boat" --best-of 4 -o boat.svg    # seeds 0-3 together, keep the best
  clipdraw draw "a boat" --palette "#000,#e63946" --prune --replay boat.gif -o boat.svg

\b
Writes OUT.svg (settings in its <metadata>), OUT.png and OUT.json. Same seed, settings and
device give the same SVG. Ctrl-C saves the latest drawing and exits with status 130.
"""


@click.command(name="draw", epilog=EPILOG)
@click.argument("prompts", nargs=-1)
@click.option("-o", "--output", default="drawing.svg", show_default=True,
              type=click.Path(dir_okay=False, path_type=Path), help="SVG file to write.")
@click.option("--png", "png_path", type=click.Path(dir_okay=False, path_type=Path),
              help="PNG file (default: beside the SVG).")
@click.option("--png-scale", default="1", show_default=True, metavar="NUMBER",
              help=f"Pixels per SVG unit of the PNG (its sides at most "
                   f"{LIMITS['png_side']:g} px).")
@drawing_options
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda[:N] or mps.")
@click.option("--save-every", type=click.IntRange(min=1),
              help="Write numbered SVG/PNG frames every N steps into OUT_frames/.")
@click.option("--video", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the progress as .mp4 (needs the 'video' extra) or .gif.")
@click.option("--video-every", default=10, show_default=True, type=click.IntRange(min=1),
              help="One video frame every N steps.")
@click.option("--replay", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a video (.mp4 or .gif) that draws the finished strokes one by one.")
@click.option("--from", "from_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Take the settings of an earlier drawing (its .svg or .json); options given "
                   "here override them.")
@click.option("--best-of", default=1, show_default=True, type=click.IntRange(min=1),
              help="Draw N seeds (--seed, --seed + 1, ...) together and keep the best-scoring "
                   "one.")
@click.option("--save-last", is_flag=True,
              help="With --best-every, also save the drawing after the last step as "
                   "OUT.last.svg (.png, .json).")
@click.option("--force", is_flag=True,
              help="Let an interrupted or failed run replace a finished drawing at --output "
                   "(else it is saved as OUT.interrupted.svg).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def command(**options: Any) -> None:
    """Draw PROMPTS as editable vector strokes (CLIPDraw), writing SVG, PNG and JSON.

    A prompt may carry a weight as 'text::weight'. PROMPTS may be left out with --image-prompt
    or --target.
    """
    settings, output = build_settings(options)
    run(settings, output, options)


def read_settings_file(path: Path) -> Any:
    """The settings stored in an earlier drawing's ``.svg`` or ``.json``."""
    from clipdraw.settings import DrawSettings
    from clipdraw.svg import read_svg_metadata

    try:
        if path.suffix.lower() == ".svg":
            data = read_svg_metadata(path)
        else:
            data = json.loads(path.read_text(encoding="utf-8"))
        return DrawSettings.from_dict(data["settings"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise click.BadParameter(f"no clipdraw settings in {str(path)!r} ({error})",
                                 param_hint="--from") from None


def png_scale(text: str, width: int, height: int) -> float:
    """``--png-scale``: a finite positive number whose PNG fits :data:`LIMITS` ``png_side``."""
    from clipdraw.options import Number

    try:
        scale = Number(minimum=0, open_minimum=True).convert(text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--png-scale") from None
    if max(width, height) * scale > LIMITS["png_side"]:
        raise click.BadParameter(
            f"a {width}x{height} canvas at scale {scale:g} is more than {LIMITS['png_side']:g} "
            "px on a side", param_hint="--png-scale")
    return scale


def build_settings(o: dict[str, Any]) -> tuple[Any, Path]:
    """Parsed options -> validated settings, checking everything that needs no model."""
    from clipdraw.settings import DrawSettings

    ctx = click.get_current_context()
    changes = given_changes(ctx, o)
    if o["prompts"]:
        try:
            changes.update(OPTION_BY_KEY["prompts"].parse(list(o["prompts"])))
        except OptionError as error:
            raise click.BadParameter(error.problem, param_hint="PROMPTS") from None
    base = DrawSettings() if o["from_file"] is None else read_settings_file(o["from_file"])
    settings = base.replace(**changes)
    output: Path = o["output"]
    if output.suffix.lower() != ".svg":
        raise click.BadParameter("must end in .svg", param_hint="--output")
    for path, option in ((output, "--output"), (o["png_path"], "--png"),
                         (o["video"], "--video"), (o.get("replay"), "--replay")):
        if path is not None:
            check_writable(path, option)
    if o["video"] is not None:
        check_video(o["video"])
    if o["save_last"] and not settings.best_every:
        raise click.BadParameter("needs --best-every (else the result is the last drawing)",
                                 param_hint="--save-last")
    if o.get("replay") is not None:
        check_video(o["replay"], "--replay")
    check_device(o["device"])
    try:
        settings.validate()
        resolved = settings.resolved()
    except OptionError as error:
        raise bad_setting(error) from None
    o["png_scale"] = png_scale(o["png_scale"], resolved.width, resolved.height)
    from clipdraw.drawing import best_of_settings

    try:
        o["candidates"] = best_of_settings(settings, o["best_of"])
    except OptionError as error:
        raise click.BadParameter(error.problem, param_hint="--best-of") from None
    from clipdraw.models import ModelLoadError, check_model_spec

    if settings.uses_clip:
        for spec in settings.models:
            try:
                check_model_spec(spec, settings.pretrained, settings.clip_weights)
            except ModelLoadError as error:
                weights = settings.clip_weights
                hint = "--clip-weights" if weights and weights in str(error) else "--model"
                raise click.BadParameter(str(error), param_hint=hint) from None
    return settings, output


def check_video(path: Path, option: str = "--video") -> None:
    """The video's format is known and its writer installed."""
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise click.BadParameter("must end in .mp4 or .gif", param_hint=option)
    if suffix != ".gif":
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            raise click.BadParameter(
                f"writing {suffix} needs ffmpeg: pip install 'clipdraw[video]', or use .gif",
                param_hint=option) from None


def finished(svg: Path) -> bool:
    """Whether ``svg`` holds a drawing that ran to its end."""
    from clipdraw.svg import read_svg_metadata

    if not svg.exists():
        return False
    try:
        return "interrupted" not in read_svg_metadata(svg).get("metrics", {})
    except Exception:
        return True  # not ours to judge: keep it


def run(settings: Any, output: Path, o: dict[str, Any]) -> None:
    """Draw and save; on Ctrl-C or an error save the latest drawing, never over a finished one."""
    from clipdraw.drawing import (
        DrawFailed,
        Drawing,
        DrawInterrupted,
        FrameSaver,
        VideoRecorder,
        draw_batch,
        keep_best,
    )
    from clipdraw.models import ModelLoadError

    quiet = o["quiet"]
    callbacks: list[Any] = []
    if o["save_every"]:
        frames = output.with_name(output.stem + "_frames")
        frames.mkdir(exist_ok=True)
        callbacks.append(FrameSaver(o["save_every"], frames / f"{output.stem}_",
                                    png_scale=o["png_scale"]))
    video = VideoRecorder(o["video"], o["video_every"]) if o["video"] else None
    if video is not None:
        callbacks.append(video)

    def save(drawing: Drawing, partial: bool = False) -> dict[str, Path]:
        target = output
        if partial and not o["force"] and finished(output):
            target = output.with_name(output.stem + ".interrupted.svg")
        png = o["png_path"] if o["png_path"] and target == output else True
        written = drawing.save(target, png=png, png_scale=o["png_scale"])
        if o["save_last"]:
            last = drawing.last or drawing  # no scoring yet: the drawing is the last one
            for kind, path in last.save(target.with_name(target.stem + ".last.svg"),
                                        png_scale=o["png_scale"]).items():
                written[f"last {kind}"] = path
        return written

    try:
        drawing = keep_best(draw_batch(o["candidates"], device=o["device"],
                                       callbacks=callbacks, progress=not quiet))
    except ModelLoadError as error:
        raise SetupError(str(error)) from None
    except OptionError as error:
        raise bad_setting(error) from None
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    except DrawInterrupted as stop:
        kept = keep_best(stop.drawings)
        written = save(kept, partial=True)
        steps = stop.drawings[0].metrics.get("steps", 0)
        click.echo(f"Interrupted after {steps} steps; saved {_which(kept)} to "
                   f"{_names(written)}.", err=True)
        click.get_current_context().exit(EXIT_INTERRUPTED)
    except DrawFailed as failure:
        kept = keep_best(failure.drawings)
        written = save(kept, partial=True)
        raise click.ClickException(
            f"{failure} (saved {_which(kept)} to {_names(written)})"
        ) from None
    finally:
        if video is not None:
            video.close()
    written = save(drawing)
    if o.get("replay") is not None:
        from clipdraw.replay import save_replay

        save_replay(drawing.scene, o["replay"])
        written["replay"] = o["replay"]
    if not quiet:
        similarity = drawing.metrics.get("similarity")
        figures = [f"{drawing.metrics['steps']} steps"]
        if similarity is not None:
            figures.append(f"CLIP similarity {similarity:.4f}")
        if "psnr" in drawing.metrics:
            figures.append(f"PSNR {drawing.metrics['psnr']:.2f} dB")
        if "best_step" in drawing.metrics:
            figures.append(f"best at step {drawing.metrics['best_step']}")
        if "stopped_at" in drawing.metrics:
            figures.append("stopped early: no better score in "
                           f"{drawing.settings.patience} scorings")
        if "best_of" in drawing.metrics:
            figures.append(f"best of {drawing.metrics['best_of']} seeds: seed "
                           f"{drawing.settings.seed}")
        click.echo(f"{', '.join(figures)}; wrote {_names(written)}"
                   + (f", {o['video']}" if video is not None and video.frames else ""))


def _which(drawing: Any) -> str:
    """What a partial save holds, in words."""
    return "the best drawing so far" if "best_step" in drawing.metrics else "the latest drawing"


def _names(written: dict[str, Path]) -> str:
    return ", ".join(str(p) for p in written.values())
