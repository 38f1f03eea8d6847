"""SQLite engines: a transaction that reads and then writes, while another writer commits."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from meterops.db.engine import WRITE_INTENT, make_engine


def _read_then_write_around(engine: Engine, other: Engine) -> None:
    """Begin, read, let ``other`` commit a write, then write in the first transaction."""
    with engine.connect() as first:
        with first.begin():
            first.execute(text("SELECT count(*) FROM t")).scalar_one()
            done = threading.Event()

            def other_writes() -> None:
                with other.begin() as second:
                    second.execute(text("INSERT INTO t VALUES (2)"))
                done.set()

            writer = threading.Thread(target=other_writes)
            writer.start()
            # With BEGIN IMMEDIATE the other writer waits for us; without it, it commits now.
            done.wait(timeout=0.5)
            first.execute(text("INSERT INTO t VALUES (1)"))
        writer.join()


def _engines(tmp_path: Path, *, immediate: bool) -> tuple[Engine, Engine]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    setup = make_engine(url)
    with setup.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    setup.dispose()
    return make_engine(url, immediate=immediate), make_engine(url, immediate=immediate)


def test_a_deferred_transaction_cannot_write_after_another_writer_committed(
    tmp_path: Path,
) -> None:
    engine, other = _engines(tmp_path, immediate=False)
    with pytest.raises(OperationalError, match="locked"):
        _read_then_write_around(engine, other)


def test_immediate_transactions_queue_for_the_write_lock(tmp_path: Path) -> None:
    engine, other = _engines(tmp_path, immediate=True)
    _read_then_write_around(engine, other)
    with engine.connect() as connection:
        rows = sorted(connection.execute(text("SELECT x FROM t")).scalars())
    assert rows == [1, 2]


def test_immediate_is_sqlite_only() -> None:
    engine = make_engine("postgresql+psycopg://u:p@127.0.0.1:1/x", immediate=True)
    assert engine.dialect.name == "postgresql"


def test_an_immediate_engine_begins_reads_deferred(tmp_path: Path) -> None:
    """Work declared read-only (a GET request) does not take the write lock when it begins."""
    engine, other = _engines(tmp_path, immediate=True)
    token = WRITE_INTENT.set(False)
    try:
        with pytest.raises(OperationalError, match="locked"):
            _read_then_write_around(engine, other)
    finally:
        WRITE_INTENT.reset(token)
