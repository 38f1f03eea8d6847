"""FastAPI dependencies: the request's database session and the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from meterops.config import Settings

__all__ = ["SessionDep", "SettingsDep", "get_session", "get_settings"]


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session per request: committed when the handler returns, rolled back on error.

    Used with ``scope="function"`` (:data:`SessionDep`), so the commit happens before the
    answer is sent: a client never gets a 201 for a write that then fails to commit, and the
    page a sign-in redirects to already sees the new session.

    The session is made in the event loop (that does no I/O: it connects at its first query,
    in the handler's worker thread) and ends in one worker-thread call, instead of one call to
    open it and another to end it.
    """
    session = request.app.state.session_factory()
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_end, session, commit=False)
        raise
    await run_in_threadpool(_end, session, commit=True)


def _end(session: Session, *, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
