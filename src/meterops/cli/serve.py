"""``meterops serve``: run the web app."""

from __future__ import annotations

from typing import Annotated

import typer

from meterops.cli import context


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default from settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings).")] = None,
) -> None:
    """Serve the web app (JSON API, pages, OpenAPI at /docs)."""
    import uvicorn

    from meterops.web.app import create_app, freeze_startup_objects

    settings = context.settings()
    bind_host, bind_port = host or settings.host, port or settings.port
    context.console.print(f"meterops on [bold]http://{bind_host}:{bind_port}/[/]")
    app = create_app(settings)
    freeze_startup_objects()
    uvicorn.run(app, host=bind_host, port=bind_port, log_level="warning")


def register(app: typer.Typer) -> None:
    """Add the top-level ``serve`` command."""
    app.command("serve")(serve)
