"""`clipdraw draw`: placeholder until its issue lands."""

from __future__ import annotations

import click


@click.command(name="draw")
def command() -> None:
    """Not available yet."""
    raise click.UsageError("'clipdraw draw' is not implemented yet")
