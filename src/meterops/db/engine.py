"""Engines and sessions.

Adapters (a web request, a CLI command, a worker task) open a session with
:func:`session_scope` and own the transaction; services only ``flush()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["WRITE_INTENT", "make_engine", "make_session_factory", "session_scope"]

WRITE_INTENT: ContextVar[bool] = ContextVar("meterops_write_intent", default=True)
"""Whether the work in this context may write (an ``immediate`` SQLite engine begins its
transactions with ``BEGIN IMMEDIATE`` only then). The web app sets it False for every request
and True in the session of a request that may write (``web.deps.get_session``), so reads
never queue for the write lock."""

_POOL = {"pool_size": 10, "max_overflow": 40}
"""Connections per engine: enough for the web app's worker threads (``worker_threads``) and
its background work."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin, so that
    # SAVEPOINTs and "BEGIN" behave as documented (SQLAlchemy docs, pysqlite serializable).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # Foreign keys are off by default in SQLite; WAL lets the web app read while an import
    # writes; a busy timeout turns lock contention into waiting instead of an error.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def _sqlite_begin_immediate(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE" if WRITE_INTENT.get() else "BEGIN")


def make_engine(url: str, *, echo: bool = False, immediate: bool = False) -> Engine:
    """Create an engine for ``url`` with the settings meterops relies on.

    For SQLite the parent folder is created, foreign keys are enforced and WAL is enabled.

    SQLite cannot turn a transaction that has read into one that writes while another
    connection has written since ("database is locked" at once; the busy timeout does not
    apply). A server answering many requests at once, each reading then writing, therefore
    asks for ``immediate``: a transaction that may write (:data:`WRITE_INTENT`) takes the write
    lock when it begins (``BEGIN IMMEDIATE``), so concurrent writers queue for it (up to the
    busy timeout) instead of failing; reads begin deferred and are never blocked (WAL).

    Args:
        url: SQLAlchemy database URL.
        echo: Log every SQL statement.
        immediate: SQLite only: begin a transaction that may write with ``BEGIN IMMEDIATE``.

    Returns:
        A configured engine.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        memory = parsed.database in (None, "", ":memory:")
        engine = create_engine(url, echo=echo, **({} if memory else _POOL))
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate if immediate else _sqlite_begin)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, **_POOL)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine`` (objects stay usable after commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session, commit when the block succeeds, roll back when it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
