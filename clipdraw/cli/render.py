"""`clipdraw render`: rasterise an SVG (ours or any the importer supports) with our renderer.

Every input has a budget checked before the work: the SVG's own limits (see
:class:`clipdraw.svg.limits.SvgLimits`, raised with ``--limit NAME=N``), at most
:data:`MAX_SIDE` px a side, and an estimate of the renderer's memory (:data:`BYTES_PER_PIXEL`)
within ``--max-memory``.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import click

MAX_SIDE = 16384  # px; beyond this a CPU render takes too long and too much memory
# Peak bytes the renderer needs per output pixel, measured (resource.getrusage) on canvases of
# overlapping full-canvas fills and wide strokes at 1-4 Mpx (460-490 B/px) and rounded up.
BYTES_PER_PIXEL = 512
DEFAULT_MAX_MEMORY_GIB = 4.0
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


def _scale_for(scale: float | None, width: int | None, canvas_width: int) -> float:
    """Pixels per SVG unit from ``--scale`` or ``--width`` (at most one of them)."""
    if scale is not None and width is not None:
        raise click.UsageError("give --scale or --width, not both")
    if width is not None:
        return width / canvas_width
    return 1.0 if scale is None else scale


def _limits(pairs: tuple[str, ...]):
    """``--limit NAME=N`` options as :class:`SvgLimits`."""
    from clipdraw.svg.limits import SvgLimits

    changes = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        try:
            changes[name.strip()] = int(float(value)) if value.strip() else None
        except (ValueError, OverflowError):
            changes[name.strip()] = value
    try:
        return SvgLimits().replace(**changes)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--limit'") from None


def _output_size(scene_size: tuple[int, int], pixels_per_unit: float,
                 max_memory_gib: float) -> tuple[int, int]:
    """The output size in px, refused (before any allocation) beyond :data:`MAX_SIDE` or when
    the renderer's estimated memory exceeds ``max_memory_gib``."""
    exact = [side * pixels_per_unit for side in scene_size]
    if not all(math.isfinite(side) and 0.5 <= side < MAX_SIDE + 0.5 for side in exact):
        shown = " x ".join(f"{side:.4g}" for side in exact)
        raise click.BadParameter(
            f"the output would be {shown} px; each side must lie in [1, {MAX_SIDE}]",
            param_hint="'--scale' / '--width'")
    size = (round(exact[0]), round(exact[1]))
    needed = size[0] * size[1] * BYTES_PER_PIXEL / 2**30
    if needed > max_memory_gib:
        raise click.BadParameter(
            f"rendering {size[0]} x {size[1]} px needs about {needed:.1f} GiB, over "
            f"--max-memory {max_memory_gib:g}; lower --scale/--width or raise --max-memory",
            param_hint="'--scale' / '--width'")
    return size


def _save(image, output: Path, fill: tuple[float, ...] | None) -> None:
    """Write ``image`` in the format its name asks for; JPEG has no alpha, so it is flattened
    onto ``fill`` (white when not given)."""

    from clipdraw.io import atomic_path, image_to_pil, save_png

    kind = FORMATS[output.suffix.lower()]
    if kind == "PNG":
        save_png(image, output)
        return
    from clipdraw.render import WHITE, over

    flat = over(image, tuple(fill[:3]) + (1.0,) if fill else WHITE)[:3]
    with atomic_path(output, suffix=output.suffix) as temporary:
        image_to_pil(flat).convert("RGB").save(temporary, format="JPEG", quality=95)


@click.command(name="render")
@click.argument("svg", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                metavar="IN.svg")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Image to write: .png (with alpha) or .jpg/.jpeg (flattened onto "
                   "--background, else white).")
@click.option("--scale", type=float, default=None,
              help="Pixels per SVG px (default 1; 4 renders at four times the size).")
@click.option("--width", type=click.IntRange(min=1), default=None,
              help="Output width in pixels; the height follows the aspect ratio.")
@click.option("--background", default=None, metavar="COLOR",
              help="Colour under the drawing: a CSS name, #rrggbb[aa], r,g,b[,a] in [0, 1] or "
                   "transparent (default: the SVG's own background, else transparent).")
@click.option("--max-memory", type=float, default=DEFAULT_MAX_MEMORY_GIB, show_default=True,
              metavar="GIB", help="Refuse renders estimated to need more memory than this.")
@click.option("--limit", "limit_pairs", multiple=True, metavar="NAME=N",
              help="Raise one of the SVG reading limits (max_file_bytes, max_elements, "
                   "max_depth, max_use_copies, max_segments, max_padded_points, "
                   "max_normaliser_fuel, max_normaliser_mib); repeatable.")
def command(svg: Path, output: Path, scale: float | None, width: int | None,
            background: str | None, max_memory: float, limit_pairs: tuple[str, ...]) -> None:
    """Rasterise IN.svg to a PNG or JPEG with clipdraw's renderer.

    \b
    Examples:
      clipdraw render drawing.svg -o drawing.png --scale 4
      clipdraw render logo.svg -o logo.jpg --width 512 --background white
    """
    import torch

    from clipdraw.options import parse_color
    from clipdraw.render import render
    from clipdraw.svg import SvgImportError, load_svg

    if scale is not None and not (math.isfinite(scale) and scale > 0):
        raise click.BadParameter(f"must be a finite number above 0, got {scale}",
                                 param_hint="'--scale'")
    if not (math.isfinite(max_memory) and max_memory > 0):
        raise click.BadParameter(f"must be a finite number of GiB above 0, got {max_memory}",
                                 param_hint="'--max-memory'")
    if output.suffix.lower() not in FORMATS:
        raise click.BadParameter(
            f"cannot write {output.suffix or 'a name without an extension'!r}; name the output "
            ".png, .jpg or .jpeg", param_hint="'-o' / '--output'")
    try:
        colour = parse_color(background) if background is not None else None
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--background") from None
    limits = _limits(limit_pairs)
    if not output.parent.is_dir():
        raise click.BadParameter(f"folder {str(output.parent)!r} does not exist",
                                 param_hint="'-o' / '--output'")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            scene = load_svg(svg, limits=limits)
        except SvgImportError as error:
            raise click.BadParameter(str(error), param_hint="'IN.svg'") from None
    for warning in caught:
        click.echo(f"warning: {warning.message}", err=True)
    pixels_per_unit = _scale_for(scale, width, scene.width)
    _output_size((scene.width, scene.height), pixels_per_unit, max_memory)
    if colour is not None:
        from clipdraw.render import over

        scene = scene.replace(background=over(scene.background, colour, dim=-1))
    with torch.no_grad():
        image = render(scene, scale=pixels_per_unit)[0]
    try:
        _save(image, output, colour)
    except OSError as error:
        raise click.BadParameter(f"cannot write {str(output)!r}: {error}",
                                 param_hint="'-o' / '--output'") from None
    click.echo(f"wrote {output} ({image.shape[2]} x {image.shape[1]} px)")
