"""`clipdraw draw`: parse and check the options, then call :func:`clipdraw.drawing.draw_batch`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from clipdraw.settings import (
    CLASSIC_NEGATIVES,
    CLIPDRAW_DEFAULTS,
    PAINTERLY_DEFAULTS,
    DrawSettings,
)
from clipdraw.settings import parse_size as settings_parse_size

EXIT_INTERRUPTED = 130
DEFAULTS = DrawSettings()  # the option defaults come from the one place that defines them


class SetupError(click.ClickException):
    """A problem the user must fix before drawing (exit status 2, like a usage error)."""

    exit_code = 2


def parse_weighted(text: str, default: float, what: str) -> tuple[str, float]:
    """``"a cat::2"`` -> ``("a cat", 2.0)``; without ``::`` the weight is ``default``."""
    body, sep, weight = text.rpartition("::")
    if not sep:
        body, value = text, default
    else:
        try:
            value = float(weight)
        except ValueError:
            raise click.BadParameter(f"weight after '::' must be a number in {text!r}",
                                     param_hint=what) from None
    if not body.strip():
        raise click.BadParameter("must not be empty", param_hint=what)
    return body, value


def parse_size(text: str) -> tuple[int, int]:
    """``"224"`` or ``"320x200"`` -> ``(width, height)``, a usage error otherwise."""
    try:
        return settings_parse_size(text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--size") from None


def parse_color(text: str) -> tuple[float, float, float, float]:
    """``white``, ``transparent``, ``#rrggbb[aa]``, a CSS name or ``r,g,b[,a]`` in [0, 1]."""
    from PIL import ImageColor

    if text.lower() in ("none", "transparent"):
        return (0.0, 0.0, 0.0, 0.0)
    if "," in text:
        try:
            values = [float(v) for v in text.split(",")]
        except ValueError:
            values = []
        if len(values) in (3, 4) and all(0 <= v <= 1 for v in values):
            return tuple(values + [1.0] * (4 - len(values)))  # type: ignore[return-value]
        raise click.BadParameter(f"expected 3 or 4 numbers in [0, 1], got {text!r}",
                                 param_hint="--background")
    try:
        rgba = ImageColor.getcolor(text, "RGBA")
    except ValueError:
        raise click.BadParameter(f"unknown colour {text!r}", param_hint="--background") from None
    return tuple(v / 255 for v in rgba)  # type: ignore[return-value]


def check_device(text: str) -> str:
    import torch

    kind = text.split(":")[0]
    if kind not in ("auto", "cpu", "cuda", "mps"):
        raise click.BadParameter(f"expected auto, cpu, cuda[:N] or mps, got {text!r}",
                                 param_hint="--device")
    if kind == "cuda" and not torch.cuda.is_available():
        raise click.BadParameter("CUDA is not available here; use --device cpu or auto",
                                 param_hint="--device")
    mps = getattr(torch.backends, "mps", None)
    if kind == "mps" and not (mps is not None and mps.is_available()):
        raise click.BadParameter("MPS is not available here; use --device cpu or auto",
                                 param_hint="--device")
    return text


def check_writable(path: Path, option: str) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise click.BadParameter(f"folder {str(folder)!r} does not exist", param_hint=option)
    if not os.access(folder, os.W_OK):
        raise click.BadParameter(f"folder {str(folder)!r} is not writable", param_hint=option)


def _positive(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None and value <= 0:
        raise click.BadParameter("must be positive")
    return value


def _non_negative(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None and value < 0:
        raise click.BadParameter("must not be negative")
    return value


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
@click.option("--png-scale", default=1.0, show_default=True, type=float, callback=_positive,
              help="Pixels per SVG unit of the PNG.")
@click.option("--negative", "negatives", multiple=True,
              help="Prompt to avoid ('text::weight' sets its weight); repeatable.")
@click.option("--negative-weight", default=DEFAULTS.negative_weight, show_default=True, type=float,
              help="Default weight of negative prompts.")
@click.option("--classic-negatives", is_flag=True,
              help=f"Add CLIPDraw's negatives: {' / '.join(CLASSIC_NEGATIVES)}")
@click.option("--image-prompt", type=click.Path(dir_okay=False, path_type=Path),
              help="Image whose CLIP embedding the drawing should match.")
@click.option("--image-prompt-weight", default=DEFAULTS.image_prompt_weight,
              show_default=True, type=float)
@click.option("--target", type=click.Path(dir_okay=False, path_type=Path),
              help="Image to reconstruct pixel by pixel (painterly mode without prompts: "
                   "diffvg's painterly-rendering defaults).")
@click.option("--target-weight", default=DEFAULTS.target_weight, show_default=True, type=float)
@click.option("--paths", type=int, callback=_non_negative,
              help=f"Random paths [default: {CLIPDRAW_DEFAULTS['paths']}; "
                   f"{PAINTERLY_DEFAULTS['paths']} painterly; 0 with --init].")
@click.option("--iterations", type=int, callback=_positive,
              help=f"Optimisation steps [default: {CLIPDRAW_DEFAULTS['iterations']}; "
                   f"{PAINTERLY_DEFAULTS['iterations']} painterly].")
@click.option("--size", default=f"{DEFAULTS.width}x{DEFAULTS.height}",
              show_default=True, help="Canvas WxH in pixels.")
@click.option("--shape", type=click.Choice(["strokes", "blobs"]), default=DEFAULTS.shape,
              show_default=True, help="Open strokes or closed filled blobs.")
@click.option("--stroke-width", default=DEFAULTS.stroke_width,
              show_default=True, type=float, callback=_positive,
              help="Initial stroke width (SVG units).")
@click.option("--min-width", default=DEFAULTS.min_width,
              show_default=True, type=float, callback=_positive)
@click.option("--max-width", type=float, callback=_positive,
              help=f"Largest stroke width [default: {CLIPDRAW_DEFAULTS['max_width']:g}; "
                   f"{PAINTERLY_DEFAULTS['max_width']:g} painterly].")
@click.option("--background", default="white", show_default=True,
              help="Background: a colour name, #rrggbb[aa], r,g,b[,a] or transparent.")
@click.option("--seed", default=DEFAULTS.seed, show_default=True, type=int)
@click.option("--model", "models", multiple=True,
              help="open_clip model: a name, hf-hub:org/repo, local-dir:PATH or a config JSON "
                   "file; repeat for an ensemble [default: ViT-B-32].")
@click.option("--pretrained", default=DEFAULTS.pretrained, show_default=True,
              help="Pretrained tag of built-in models ('none' for random weights).")
@click.option("--clip-weights", type=click.Path(dir_okay=False, path_type=Path),
              help="Local checkpoint file to load into the model (no download).")
@click.option("--num-augs", default=DEFAULTS.num_augs,
              show_default=True, type=int, callback=_positive,
              help="Augmented views per step.")
@click.option("--lr-points", default=DEFAULTS.point_lr,
              show_default=True, type=float, callback=_non_negative,
              help="Point learning rate at a 224 px canvas (scaled with the size).")
@click.option("--lr-width", default=DEFAULTS.width_lr,
              show_default=True, type=float, callback=_non_negative)
@click.option("--lr-color", default=DEFAULTS.color_lr,
              show_default=True, type=float, callback=_non_negative)
@click.option("--init", "init_svg", type=click.Path(dir_okay=False, path_type=Path),
              help="Start from the paths of this SVG (on its canvas size unless --size).")
@click.option("--freeze-init", is_flag=True, help="Keep the paths of --init fixed.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda[:N] or mps.")
@click.option("--save-every", type=int, callback=_positive,
              help="Write numbered SVG/PNG frames every N steps into OUT_frames/.")
@click.option("--video", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the progress as an .mp4 or .gif.")
@click.option("--video-every", default=10, show_default=True, type=int, callback=_positive,
              help="One video frame every N steps.")
@click.option("--from", "from_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Take the settings of an earlier drawing (its .svg or .json); options given "
                   "here override them.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def command(**options: Any) -> None:
    """Draw PROMPTS as editable vector strokes (CLIPDraw), writing SVG, PNG and JSON.

    A prompt may carry a weight as 'text::weight'. PROMPTS may be left out with --image-prompt
    or --target.
    """
    settings, output = build_settings(options)
    run(settings, output, options)


#: the settings each command-line option sets (for --from: only options given override)
OPTION_FIELDS: dict[str, tuple[str, ...]] = {
    "prompts": ("prompts", "prompt_weights"),
    "negatives": ("negatives", "negative_weight"),
    "negative_weight": ("negative_weight",),
    "classic_negatives": ("negatives", "negative_weight"),
    "image_prompt": ("image_prompt",),
    "image_prompt_weight": ("image_prompt_weight",),
    "target": ("target",),
    "target_weight": ("target_weight",),
    "paths": ("paths",),
    "iterations": ("iterations",),
    "size": ("width", "height"),
    "shape": ("shape",),
    "stroke_width": ("stroke_width",),
    "min_width": ("min_width",),
    "max_width": ("max_width",),
    "background": ("background",),
    "seed": ("seed",),
    "models": ("models",),
    "pretrained": ("pretrained",),
    "clip_weights": ("clip_weights",),
    "num_augs": ("num_augs",),
    "lr_points": ("point_lr",),
    "lr_width": ("width_lr",),
    "lr_color": ("color_lr",),
    "init_svg": ("init_svg",),
    "freeze_init": ("freeze_init",),
}


def merge_from_file(o: dict[str, Any], given: DrawSettings) -> DrawSettings:
    """With ``--from FILE``, the file's settings with the options given on the command line
    replacing theirs; else ``given``."""
    if o["from_file"] is None:
        return given
    from clipdraw.svg import read_svg_metadata

    path: Path = o["from_file"]
    try:
        if path.suffix.lower() == ".svg":
            data = read_svg_metadata(path)
        else:
            import json

            data = json.loads(path.read_text(encoding="utf-8"))
        base = DrawSettings.from_dict(data["settings"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise click.BadParameter(f"no clipdraw settings in {str(path)!r} ({error})",
                                 param_hint="--from") from None
    context = click.get_current_context()
    changes = {
        field: getattr(given, field)
        for option, fields in OPTION_FIELDS.items()
        if context.get_parameter_source(option) is not click.core.ParameterSource.DEFAULT
        for field in fields
    }
    return base.replace(**changes)


def build_settings(o: dict[str, Any]) -> tuple[DrawSettings, Path]:
    """Turn parsed options into settings, checking everything that needs no model."""
    from clipdraw.models import ModelLoadError, check_model_spec
    from clipdraw.objectives import build_objectives

    prompts = [parse_weighted(p, 1.0, "PROMPTS") for p in o["prompts"]]
    negatives = [parse_weighted(n, o["negative_weight"], "--negative") for n in o["negatives"]]
    if o["classic_negatives"]:
        negatives += [(n, o["negative_weight"]) for n in CLASSIC_NEGATIVES]
    if len({w for _, w in negatives}) > 1:
        raise click.BadParameter("all negatives must share one weight; use --negative-weight",
                                 param_hint="--negative")
    width, height = parse_size(o["size"])
    output: Path = o["output"]
    if output.suffix.lower() != ".svg":
        raise click.BadParameter("must end in .svg", param_hint="--output")
    for path, option in ((output, "--output"), (o["png_path"], "--png"),
                         (o["video"], "--video")):
        if path is not None:
            check_writable(path, option)
    if o["video"] is not None and o["video"].suffix.lower() not in (".mp4", ".gif", ".webm",
                                                                   ".mkv", ".mov"):
        raise click.BadParameter("must end in .mp4 or .gif", param_hint="--video")
    for path, option in ((o["init_svg"], "--init"), (o["image_prompt"], "--image-prompt"),
                         (o["target"], "--target"), (o["clip_weights"], "--clip-weights")):
        if path is not None and not path.is_file():
            raise click.BadParameter(f"file {str(path)!r} does not exist", param_hint=option)
    if o["freeze_init"] and o["init_svg"] is None:
        raise click.BadParameter("needs --init", param_hint="--freeze-init")
    check_device(o["device"])

    def as_str(path: Path | None) -> str | None:
        return None if path is None else str(path)

    settings = merge_from_file(o, DrawSettings(
        prompts=tuple(p for p, _ in prompts),
        prompt_weights=tuple(w for _, w in prompts) if any(w != 1 for _, w in prompts) else (),
        negatives=tuple(n for n, _ in negatives),
        negative_weight=negatives[0][1] if negatives else o["negative_weight"],
        image_prompt=as_str(o["image_prompt"]),
        image_prompt_weight=o["image_prompt_weight"],
        target=as_str(o["target"]),
        target_weight=o["target_weight"],
        width=width,
        height=height,
        paths=o["paths"],
        shape=o["shape"],
        stroke_width=o["stroke_width"],
        min_width=o["min_width"],
        max_width=o["max_width"],
        background=parse_color(o["background"]),
        iterations=o["iterations"],
        point_lr=o["lr_points"],
        width_lr=o["lr_width"],
        color_lr=o["lr_color"],
        num_augs=o["num_augs"],
        models=tuple(o["models"]) or DEFAULTS.models,
        pretrained=o["pretrained"],
        clip_weights=as_str(o["clip_weights"]),
        seed=o["seed"],
        init_svg=as_str(o["init_svg"]),
        freeze_init=o["freeze_init"],
    ))
    try:
        settings.validate()
        build_objectives(settings)  # opens the images
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    if settings.init_svg is not None:
        from clipdraw.svg import load_svg

        try:
            imported = load_svg(settings.init_svg)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--init") from None
        size_given = click.get_current_context().get_parameter_source("size")
        if size_given == click.core.ParameterSource.DEFAULT and o["from_file"] is None:
            # Without --size, draw on the imported drawing's own canvas rather than stretch it.
            settings = settings.replace(width=imported.width, height=imported.height)
    if settings.uses_clip:
        for spec in settings.models:
            try:
                check_model_spec(spec, settings.pretrained, settings.clip_weights)
            except ModelLoadError as error:
                raise click.BadParameter(str(error), param_hint="--model") from None
    return settings, output


def run(settings: DrawSettings, output: Path, o: dict[str, Any]) -> None:
    """Load the model(s), draw, save; on Ctrl-C or an error save the latest drawing first."""
    from clipdraw.drawing import (
        DrawFailed,
        Drawing,
        DrawInterrupted,
        FrameSaver,
        VideoRecorder,
        draw_batch,
        load_models,
    )
    from clipdraw.models import ModelLoadError

    quiet = o["quiet"]
    try:
        models = load_models(settings, o["device"])
    except ModelLoadError as error:
        raise SetupError(str(error)) from None
    callbacks: list[Any] = []
    if o["save_every"]:
        frames = output.with_name(output.stem + "_frames")
        frames.mkdir(exist_ok=True)
        callbacks.append(FrameSaver(o["save_every"], frames / f"{output.stem}_",
                                    png_scale=o["png_scale"]))
    video = VideoRecorder(o["video"], o["video_every"]) if o["video"] else None
    if video is not None:
        callbacks.append(video)

    def save(drawing: Drawing) -> dict[str, Path]:
        return drawing.save(output, png=o["png_path"] or True, png_scale=o["png_scale"])

    try:
        drawing = draw_batch([settings], device=o["device"], clip_models=models,
                             callbacks=callbacks, progress=not quiet)[0]
    except DrawInterrupted as stop:
        written = save(stop.drawings[0])
        steps = stop.drawings[0].metrics.get("steps", 0)
        click.echo(f"Interrupted after {steps} steps; saved the latest drawing to "
                   f"{_names(written)}.", err=True)
        click.get_current_context().exit(EXIT_INTERRUPTED)
    except DrawFailed as failure:
        written = save(failure.drawings[0])
        raise click.ClickException(
            f"{failure} (saved the latest drawing to {_names(written)})"
        ) from None
    finally:
        if video is not None:
            video.close()
    written = save(drawing)
    if not quiet:
        similarity = drawing.metrics.get("similarity")
        figures = [f"{drawing.metrics['steps']} steps"]
        if similarity is not None:
            figures.append(f"CLIP similarity {similarity:.4f}")
        if "psnr" in drawing.metrics:
            figures.append(f"PSNR {drawing.metrics['psnr']:.2f} dB")
        click.echo(f"{', '.join(figures)}; wrote {_names(written)}"
                   + (f", {o['video']}" if video is not None and video.frames else ""))


def _names(written: dict[str, Path]) -> str:
    return ", ".join(str(p) for p in written.values())
