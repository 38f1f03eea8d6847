"""The ``meterops determinants`` commands: thin wrappers over the determinants services."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(
    help="Billing determinants: TOU energy, demand, net metering; TOU register comparison.",
    no_args_is_help=True,
)
