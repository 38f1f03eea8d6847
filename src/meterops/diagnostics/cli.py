"""The ``meterops diagnose`` commands: thin wrappers over the diagnostics services."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(
    help="Exceptions, root-cause verdicts and fleet cohort analysis.",
    no_args_is_help=True,
)
