"""FastAPI dependencies: the request's database session and the settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from meterops.config import Settings
from meterops.db.engine import session_scope

__all__ = ["SessionDep", "SettingsDep", "get_session", "get_settings"]


def get_session(request: Request) -> Iterator[Session]:
    """A session per request: committed when the handler returns, rolled back on error.

    Used with ``scope="function"`` (:data:`SessionDep`), so the commit happens before the
    answer is sent: a client never gets a 201 for a write that then fails to commit, and the
    page a sign-in redirects to already sees the new session.
    """
    with session_scope(request.app.state.session_factory) as session:
        yield session


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
