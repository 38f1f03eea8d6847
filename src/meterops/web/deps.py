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
    """A session per request: committed when the handler returns, rolled back on error."""
    with session_scope(request.app.state.session_factory) as session:
        yield session


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
