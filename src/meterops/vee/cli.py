"""The ``meterops vee`` commands: thin wrappers over the vee services."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(
    help="Validate, estimate and edit interval reads (VEE).",
    no_args_is_help=True,
)
