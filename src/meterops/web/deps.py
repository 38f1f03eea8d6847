"""FastAPI dependencies: the request's database session and the settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from meterops.config import Settings
from meterops.db.engine import WRITE_INTENT

__all__ = [
    "UNSAFE_METHODS",
    "SessionDep",
    "SettingsDep",
    "WritingSessionDep",
    "get_session",
    "get_settings",
    "get_writing_session",
]

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
    async with _request_session(request, writes=request.method in UNSAFE_METHODS) as session:
        yield session


async def get_writing_session(request: Request) -> AsyncIterator[Session]:
    """:func:`get_session` for a ``GET`` that records what it finds (:data:`WritingSessionDep`).

    It passes the writers' gate like a ``POST``: on SQLite a read transaction that then
    writes cannot wait for the write lock another writer holds, and fails "database is
    locked" at once.
    """
    async with _request_session(request, writes=True) as session:
        yield session


@asynccontextmanager
async def _request_session(request: Request, *, writes: bool) -> AsyncIterator[Session]:
    gate: asyncio.Semaphore | None = None
    if writes:
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
WritingSessionDep = Annotated[Session, Depends(get_writing_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
