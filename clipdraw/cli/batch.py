"""`clipdraw batch`: placeholder until its issue lands."""

from __future__ import annotations

import click


@click.command(name="batch")
def command() -> None:
    """Not available yet."""
    raise click.UsageError("'clipdraw batch' is not implemented yet")
