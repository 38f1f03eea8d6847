"""FastAPI dependencies: the request's database session and the settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from meterops.config import Settings
from meterops.db.engine import WRITE_INTENT, session_scope

__all__ = [
    "READ_SESSION",
    "UNSAFE_METHODS",
    "SessionDep",
    "SettingsDep",
    "end_session",
    "get_session",
    "get_settings",
    "read_session",
]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""Methods that may change state: CSRF-checked, and their sessions may write."""


READ_SESSION = "meterops_read_session"
"""Key in the request's state (``scope["state"]``) of the session the sign-in middleware
(:class:`meterops.web.auth.SessionResolver`) opened to look the session cookie up.

It has only read, in one transaction that is still open. The access check reads in it too
(:func:`read_session`), and on PostgreSQL the handler of a safe request (not
:data:`UNSAFE_METHODS`) gets it as its own session (:func:`get_session`), so such a request
uses one connection and one transaction. A request that may write never writes in it:
:func:`get_session` ends it before the writers' gate. Whoever opened it ends it if nobody
took it over."""


@contextmanager
def read_session(request: Request) -> Iterator[Session]:
    """A session to read in: the request's open read session if there is one, else a new one.

    The shared session is left open for the rest of the request (its owner ends it); a new one
    is committed and closed at the end of the block.
    """
    shared: Session | None = _state(request).get(READ_SESSION)
    if shared is not None:
        yield shared
        return
    with session_scope(request.app.state.session_factory) as session:
        yield session


def _state(request: Request) -> dict[str, Any]:
    state: dict[str, Any] = request.scope.setdefault("state", {})
    return state


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

    On PostgreSQL a safe request takes over the read session the sign-in middleware opened
    (:data:`READ_SESSION`), so it uses one connection and one transaction (read committed:
    each statement sees what was committed before it, however early the transaction began).
    A request that may write ends that session first: it never writes in a transaction begun
    before the gate, or without SQLite's write intent. On SQLite every request ends it too: a
    transaction there reads one snapshot from its first read, and a safe request that writes
    anyway (a verification recording its check) could not write on a snapshot taken before
    someone else's commit ("database is locked").

    The session is made in the event loop (that does no I/O: it connects at its first query,
    in the handler's worker thread) and ends in one worker-thread call.
    """
    shared: Session | None = _state(request).pop(READ_SESSION, None)
    gate: asyncio.Semaphore | None = None
    if shared is not None and (
        request.method in UNSAFE_METHODS or shared.get_bind().dialect.name == "sqlite"
    ):
        await run_in_threadpool(end_session, shared, commit=False)
        shared = None
    if request.method in UNSAFE_METHODS:
        gate = getattr(request.app.state, "write_gate", None)
        WRITE_INTENT.set(True)
    if gate is not None:
        await gate.acquire()
    try:
        session = shared if shared is not None else request.app.state.session_factory()
        try:
            yield session
        except BaseException:
            await run_in_threadpool(end_session, session, commit=False)
            raise
        await run_in_threadpool(end_session, session, commit=True)
    finally:
        if gate is not None:
            gate.release()


def end_session(session: Session, *, commit: bool) -> None:
    """Commit (or roll back) and close a session; rolled back and closed if the commit fails.

    Blocking (a worker thread's call).
    """
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
