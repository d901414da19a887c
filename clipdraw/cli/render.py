"""`clipdraw render`: placeholder until its issue lands."""

from __future__ import annotations

import click


@click.command(name="render")
def command() -> None:
    """Not available yet."""
    raise click.UsageError("'clipdraw render' is not implemented yet")
