"""The ``meterops routes`` commands: thin wrappers over the dispatch services."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(
    help="Technicians' days: plan, dispatch and change routes.",
    no_args_is_help=True,
)
