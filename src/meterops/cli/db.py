"""``meterops db``: database migrations."""

from __future__ import annotations

import typer

from meterops.cli import context

app = typer.Typer(help="Database schema: upgrade and check migrations.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Create or upgrade the database schema to the newest revision."""
    from meterops.db import migrate

    migrate.upgrade(context.engine(), revision)
    context.console.print(
        f"database at revision [bold]{migrate.current_revision(context.engine())}[/] "
        f"({context.engine().url.render_as_string(hide_password=True)})"
    )


@app.command("check")
def check() -> None:
    """Fail when the ORM models have changes that no migration covers."""
    from meterops.db import migrate

    migrate.check(context.engine())
    context.console.print("models and migrations agree")
