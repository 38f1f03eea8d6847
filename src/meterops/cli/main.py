"""The root ``meterops`` command: mounts each capability's commands, maps errors to exit codes.

Exit codes: 0 success · 1 other meterops error · 2 invalid input · 3 not found · 4 conflict ·
5 permission denied · 6 integration failure · 7 data contract violation. ``--debug`` shows the
traceback instead of the one-line message.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from meterops import __version__
from meterops.assets import cli as assets_cli
from meterops.auth import cli as auth_cli
from meterops.billing import cli as billing_cli
from meterops.cli import db as db_cli
from meterops.cli import demo as demo_cli
from meterops.cli import serve as serve_cli
from meterops.cli.context import err_console
from meterops.commands import cli as commands_cli
from meterops.determinants import cli as determinants_cli
from meterops.diagnostics import cli as diagnostics_cli
from meterops.dispatch import cli as dispatch_cli
from meterops.errors import (
    ConflictError,
    DataContractError,
    IntegrationError,
    InvalidInputError,
    MeterOpsError,
    NotFoundError,
    PermissionDeniedError,
)
from meterops.fleet import cli as fleet_cli
from meterops.headend import cli as headend_cli
from meterops.ingest import cli as ingest_cli
from meterops.meter_shop import cli as meter_shop_cli
from meterops.outages import cli as outages_cli
from meterops.reads import cli as reads_cli
from meterops.simulator import cli as simulator_cli
from meterops.vee import cli as vee_cli
from meterops.workorders import cli as workorders_cli

__all__ = ["EXIT_CODES", "app", "exit_code_for", "main"]

EXIT_CODES: dict[type[MeterOpsError], int] = {
    InvalidInputError: 2,
    NotFoundError: 3,
    ConflictError: 4,
    PermissionDeniedError: 5,
    IntegrationError: 6,
    DataContractError: 7,
}

app = typer.Typer(
    name="meterops",
    help="meterops: smart-meter operations for a utility (ingest, VEE, diagnostics, work "
    "orders, routes, field app, remote operations).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"meterops {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """Meterops command line."""
    _state["debug"] = debug


app.add_typer(db_cli.app, name="db")
app.add_typer(fleet_cli.app, name="fleet")
app.add_typer(assets_cli.app, name="meter")
app.add_typer(headend_cli.app, name="headend-sim")
app.add_typer(reads_cli.app, name="reads")
app.add_typer(auth_cli.app, name="users")
app.add_typer(billing_cli.app, name="highbill")
app.add_typer(commands_cli.app, name="remote")
app.add_typer(determinants_cli.app, name="determinants")
app.add_typer(diagnostics_cli.app, name="diagnose")
app.add_typer(diagnostics_cli.app, name="diagnostics", hidden=True)  # the spelling
app.add_typer(dispatch_cli.app, name="routes")
app.add_typer(meter_shop_cli.app, name="shop")
app.add_typer(outages_cli.app, name="outages")
app.add_typer(vee_cli.app, name="vee")
app.add_typer(workorders_cli.app, name="orders")
# The names the remote-operations issue and older scripts use, kept out of --help.
app.add_typer(commands_cli.app, name="command", hidden=True)
app.add_typer(outages_cli.app, name="outage", hidden=True)
serve_cli.register(app)
demo_cli.register(app)
ingest_cli.register(app)
ingest_cli.register_export(app)
simulator_cli.register(app)


def exit_code_for(error: MeterOpsError) -> int:
    """The exit code of an error (by its place in the error tree)."""
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``meterops`` script."""
    try:
        app(args=argv, standalone_mode=False)
    except MeterOpsError as error:
        if _state["debug"]:
            raise
        err_console.print(f"[red]error:[/] {error.message}", highlight=False)
        return exit_code_for(error)
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        err_console.print("aborted")
        return 130
    except typer.TyperException as error:  # usage errors: bad options, missing paths
        show = getattr(error, "show", None)
        if show is None:
            raise
        show()
        return int(getattr(error, "exit_code", 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
