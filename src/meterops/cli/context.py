"""What every CLI command needs: settings, a database session, a console, progress bars.

This is the CLI's composition root helper: it reads :class:`~meterops.config.Settings` once
per process and hands explicit objects to services.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from meterops.config import Settings, get_settings
from meterops.db.engine import make_engine, make_session_factory, session_scope

__all__ = ["console", "engine", "progress", "session", "settings"]

console = Console()
err_console = Console(stderr=True)


@cache
def settings() -> Settings:
    """Settings of this process (environment and ``.env``)."""
    return get_settings()


@cache
def engine() -> Engine:
    """The operational database engine."""
    return make_engine(settings().database_url)


@contextmanager
def session() -> Iterator[Session]:
    """A session whose transaction commits when the command's block succeeds."""
    with session_scope(make_session_factory(engine())) as s:
        yield s


def progress(*, transient: bool = False) -> Progress:
    """A progress bar for long work (counts, rate, time left)."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=transient,
    )
