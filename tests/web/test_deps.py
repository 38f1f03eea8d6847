"""The request's database session commits before the answer is sent."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from meterops.db.engine import WRITE_INTENT, make_engine, make_session_factory, session_scope
from meterops.models import Territory
from meterops.web.deps import SessionDep


def _app(database_url: str) -> FastAPI:
    app = FastAPI()
    app.state.session_factory = make_session_factory(make_engine(database_url))

    @app.post("/territories/{code}", status_code=201)
    def add(code: str, session: SessionDep) -> dict[str, str]:
        # Not flushed: a duplicate code only fails when the session commits.
        session.add(Territory(code=code, name=code))
        return {"code": code}

    return app


def test_a_write_that_fails_to_commit_is_not_answered_as_done(module_database_url: str) -> None:
    app = _app(module_database_url)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/territories/DEPS-1").status_code == 201
        again = client.post("/territories/DEPS-1")
    assert again.status_code == 500
    with session_scope(app.state.session_factory) as session:
        stored = session.scalar(
            select(func.count()).select_from(Territory).where(Territory.code == "DEPS-1")
        )
    assert stored == 1


def test_writers_pass_the_gate_one_at_a_time_and_their_sessions_may_write(
    module_database_url: str,
) -> None:
    app = FastAPI()
    app.state.session_factory = make_session_factory(make_engine(module_database_url))
    app.state.write_gate = asyncio.Semaphore(1)
    inside: list[str] = []
    seen: list[tuple[str, bool, int]] = []
    lock = threading.Lock()

    def handler(method: str) -> dict[str, bool]:
        with lock:
            inside.append(method)
            seen.append((method, WRITE_INTENT.get(), inside.count("POST")))
        time.sleep(0.02)
        with lock:
            inside.remove(method)
        return {"ok": True}

    @app.post("/write")
    def write(session: SessionDep) -> dict[str, bool]:
        return handler("POST")

    @app.get("/read")
    def read(session: SessionDep) -> dict[str, bool]:
        return handler("GET")

    async def burst() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answers = await asyncio.gather(
                *(client.post("/write") for _ in range(12)),
                *(client.get("/read") for _ in range(4)),
            )
        assert all(a.status_code == 200 for a in answers)

    WRITE_INTENT.set(False)  # as the session resolver leaves it for every request
    asyncio.run(burst())
    writes = [(intent, n) for method, intent, n in seen if method == "POST"]
    reads = [intent for method, intent, _ in seen if method == "GET"]
    assert len(writes) == 12
    assert all(intent for intent, _ in writes)  # BEGIN IMMEDIATE on SQLite
    assert not any(reads)
    # a writer never runs beside another writer (reads may run beside it)
    assert all(n == 1 for _, n in writes)
