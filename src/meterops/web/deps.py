"""FastAPI dependencies: the request's database session and the settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from meterops.config import Settings
from meterops.db.engine import WRITE_INTENT

__all__ = ["UNSAFE_METHODS", "SessionDep", "SettingsDep", "get_session", "get_settings"]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""Methods that may change state: CSRF-checked, and their sessions may write."""


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session per request: committed when the handler returns, rolled back on error.

    Used with ``scope="function"`` (:data:`SessionDep`), so the commit happens before the
    answer is sent: a client never gets a 201 for a write that then fails to commit, and the
    page a sign-in redirects to already sees the new session.

    A request that may write (:data:`UNSAFE_METHODS`) first passes the writers' gate
    (``app.state.write_gate``, a semaphore: one writer at a time on SQLite, a few on
    PostgreSQL) and holds it until its transaction ends; its transaction then takes SQLite's
    write lock when it begins (:data:`~meterops.db.engine.WRITE_INTENT`). Writers wait for
    each other here, in the event loop. Waiting in worker threads instead (for SQLite's lock,
    or the audit chain's advisory lock on PostgreSQL), enough writers would take every
    thread while the writer holding the lock needs one to commit, and the app would stall.

    The session is made in the event loop (that does no I/O: it connects at its first query,
    in the handler's worker thread) and ends in one worker-thread call.
    """
    gate: asyncio.Semaphore | None = None
    if request.method in UNSAFE_METHODS:
        gate = getattr(request.app.state, "write_gate", None)
        WRITE_INTENT.set(True)
    if gate is not None:
        await gate.acquire()
    try:
        session = request.app.state.session_factory()
        try:
            yield session
        except BaseException:
            await run_in_threadpool(_end, session, commit=False)
            raise
        await run_in_threadpool(_end, session, commit=True)
    finally:
        if gate is not None:
            gate.release()


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
