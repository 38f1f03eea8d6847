"""The ``meterops outages`` commands: thin wrappers over the outages services."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(
    help="Outages inferred from last-gasp and restore events.",
    no_args_is_help=True,
)
