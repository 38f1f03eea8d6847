"""The ``meterops remote`` commands: thin wrappers over the commands services."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(
    help="Remote operations: ping, read, disconnect, reconnect, program push, with safeguards.",
    no_args_is_help=True,
)
