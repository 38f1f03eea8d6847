"""The ``meterops shop`` commands: thin wrappers over the meter_shop services."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(
    help="Meter accuracy tests (ANSI C12.20) and in-service testing programmes.",
    no_args_is_help=True,
)
