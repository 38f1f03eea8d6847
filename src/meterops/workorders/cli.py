"""The ``meterops orders`` commands: thin wrappers over the workorders services."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(
    help="Work orders: create, list, move through their lifecycle, import programmes.",
    no_args_is_help=True,
)
