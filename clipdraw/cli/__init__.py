"""The ``clipdraw`` command line: a thin layer over the Python API, one module per subcommand."""

from __future__ import annotations

import click

from clipdraw._version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="clipdraw")
def cli() -> None:
    """Turn text prompts into editable vector drawings (SVG + PNG).

    \b
    Examples:
      clipdraw draw "a watercolor painting of a submarine" -o sub.svg
      clipdraw draw --target photo.jpg -o painterly.svg
      clipdraw render drawing.svg -o drawing.png --scale 4
      clipdraw batch prompts.txt --out drawings/ --seeds 4
      clipdraw studio            # the web page: watch, steer, compare with CLIP

    Run `clipdraw COMMAND --help` for the options of each command.
    """


def _register() -> None:
    from clipdraw.cli import batch, draw, render, studio

    for module in (draw, render, batch, studio):
        cli.add_command(module.command)


_register()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="clipdraw")
