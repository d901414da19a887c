"""`clipdraw render`: rasterise an SVG (ours or any the importer supports) with our renderer."""

from __future__ import annotations

import warnings
from pathlib import Path

import click

MAX_SIDE = 16384  # px; beyond this a CPU render takes too long and too much memory


def _scale_for(scale: float | None, width: int | None, canvas_width: int) -> float:
    """Pixels per SVG unit from ``--scale`` or ``--width`` (at most one of them)."""
    if scale is not None and width is not None:
        raise click.UsageError("give --scale or --width, not both")
    if width is not None:
        return width / canvas_width
    return 1.0 if scale is None else scale


def _under(top: tuple[float, ...], bottom: tuple[float, ...]) -> tuple[float, ...]:
    """Straight-alpha colour ``top`` composited over ``bottom``."""
    alpha = top[3] + bottom[3] * (1 - top[3])
    if alpha <= 0:
        return (0.0, 0.0, 0.0, 0.0)
    rgb = [(t * top[3] + b * bottom[3] * (1 - top[3])) / alpha for t, b in zip(top, bottom)]
    return (*rgb[:3], alpha)


@click.command(name="render")
@click.argument("svg", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                metavar="IN.svg")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="PNG file to write.")
@click.option("--scale", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Pixels per SVG px (default 1; 4 renders at four times the size).")
@click.option("--width", type=click.IntRange(min=1), default=None,
              help="Output width in pixels; the height follows the aspect ratio.")
@click.option("--background", default=None, metavar="COLOR",
              help="Colour under the drawing: a CSS name, #rrggbb[aa], r,g,b[,a] in [0, 1] or "
                   "transparent (default: the SVG's own background, else transparent).")
def command(svg: Path, output: Path, scale: float | None, width: int | None,
            background: str | None) -> None:
    """Rasterise IN.svg to a PNG with clipdraw's renderer.

    \b
    Examples:
      clipdraw render drawing.svg -o drawing.png --scale 4
      clipdraw render logo.svg -o logo.png --width 512 --background white
    """
    import torch

    from clipdraw.cli.draw import parse_color
    from clipdraw.io import save_png
    from clipdraw.render import render
    from clipdraw.svg import SvgImportError, load_svg

    colour = parse_color(background) if background is not None else None
    if not output.parent.is_dir():
        raise click.BadParameter(f"folder {str(output.parent)!r} does not exist",
                                 param_hint="'-o' / '--output'")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            scene = load_svg(svg)
        except SvgImportError as error:
            raise click.BadParameter(str(error), param_hint="'IN.svg'") from None
    for warning in caught:
        click.echo(f"warning: {warning.message}", err=True)
    pixels_per_unit = _scale_for(scale, width, scene.width)
    size = (round(scene.width * pixels_per_unit), round(scene.height * pixels_per_unit))
    if max(size) > MAX_SIDE or min(size) < 1:
        raise click.BadParameter(
            f"the output would be {size[0]} x {size[1]} px; each side must lie in [1, {MAX_SIDE}]",
            param_hint="'--scale' / '--width'",
        )
    if colour is not None:
        own = tuple(scene.background[0].tolist())
        scene = scene.replace(background=torch.tensor(
            [_under(own, colour)], dtype=scene.background.dtype))
    with torch.no_grad():
        image = render(scene, scale=pixels_per_unit)[0]
    try:
        save_png(image, output)
    except OSError as error:
        raise click.BadParameter(f"cannot write {str(output)!r}: {error}",
                                 param_hint="'-o' / '--output'") from None
    click.echo(f"wrote {output} ({image.shape[2]} x {image.shape[1]} px)")
