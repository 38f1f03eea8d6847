"""The request's database session commits before the answer is sent; a safe request uses one
connection (the sign-in lookup's), a writer never writes in that one."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select

from meterops.auth import service as auth_service
from meterops.config import Settings
from meterops.db.engine import WRITE_INTENT, make_engine, make_session_factory, session_scope
from meterops.models import Territory
from meterops.models.org import Role, User
from meterops.timeutil import utc_now
from meterops.web.auth import SESSION_COOKIE, UserDep, install_session_resolver, policy_of
from meterops.web.deps import READ_SESSION, SessionDep


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


PASSWORD = "correct horse battery staple 7"


def _signed_in_app(database_url: str, tmp_path: Path, username: str) -> tuple[FastAPI, str]:
    """An app with the sign-in middleware and a session cookie of a real signed-in user."""
    settings = Settings(database_url=database_url, data_dir=tmp_path)
    engine = make_engine(database_url, immediate=True)
    app = FastAPI()
    app.state.engine = engine
    app.state.settings = settings
    app.state.session_factory = make_session_factory(engine)
    install_session_resolver(app)
    with session_scope(app.state.session_factory) as session:
        session.add(User(username=username, display_name=username, role=Role.TECHNICIAN))
        session.flush()
        auth_service.set_password(
            session, username=username, password=PASSWORD, actor="test", now=utc_now()
        )
        token = auth_service.sign_in(
            session,
            username=username,
            password=PASSWORD,
            client_address="test",
            now=utc_now(),
            policy=policy_of(settings),
        ).token
    return app, token


def _checkouts(client: TestClient, engine: Engine) -> list[bool]:
    """Connections taken from the engine's pool from now on: the write intent of each.

    First one request, and a wait until the session's last-seen time has been recorded (in
    the background, as a writer, on a connection of its own, at most once a minute), so
    that only the requests' own connections are counted.
    """
    taken: list[bool] = []
    event.listen(engine, "checkout", lambda *_: taken.append(WRITE_INTENT.get()))
    client.get("/health-of-nothing")
    for _ in range(6000):  # up to a minute on a busy machine
        if any(taken) and engine.pool.checkedout() == 0:  # type: ignore[attr-defined]
            break
        time.sleep(0.01)
    assert any(taken), "the last-seen time was recorded"
    taken.clear()
    return taken


def test_a_safe_request_on_postgresql_resolves_its_user_and_runs_its_handler_on_one_connection(
    module_database_url: str, tmp_path: Path
) -> None:
    app, token = _signed_in_app(module_database_url, tmp_path, "deps-one")
    inside: list[tuple[str, int]] = []

    @app.get("/mine")
    def mine(session: SessionDep, user: UserDep) -> dict[str, str]:
        # the session row the middleware read is already in this session: same transaction
        count = session.scalar(select(func.count()).select_from(Territory))
        inside.append((user.username, app.state.engine.pool.checkedout()))
        return {"user": user.username, "territories": str(count)}

    with TestClient(app, cookies={SESSION_COOKIE: token}) as client:
        taken = _checkouts(client, app.state.engine)
        answer = client.get("/mine")
    assert answer.status_code == 200
    assert inside == [("deps-one", 1)]
    if app.state.engine.dialect.name == "sqlite":
        # the handler's transaction reads its own snapshot (it may write after all)
        assert taken == [False, False]
    else:
        assert taken == [False]  # one connection for the lookup and the handler
    assert app.state.engine.pool.checkedout() == 0  # and it went back


def test_a_read_session_nobody_took_over_is_ended_after_the_answer(
    module_database_url: str, tmp_path: Path
) -> None:
    app, token = _signed_in_app(module_database_url, tmp_path, "deps-two")

    @app.get("/plain")
    def plain(user: UserDep) -> dict[str, str]:
        return {"user": user.username}

    @app.get("/broken")
    def broken(session: SessionDep) -> dict[str, str]:
        session.scalar(select(func.count()).select_from(Territory))
        raise RuntimeError("the handler failed")

    with TestClient(app, cookies={SESSION_COOKIE: token}, raise_server_exceptions=False) as client:
        _checkouts(client, app.state.engine)  # the last-seen time recorded (not counted here)
        assert client.get("/plain").json() == {"user": "deps-two"}
        assert client.get("/broken").status_code == 500
    assert app.state.engine.pool.checkedout() == 0


def test_a_writer_never_writes_in_the_read_session_it_ends_that_one_first(
    module_database_url: str, tmp_path: Path
) -> None:
    app, token = _signed_in_app(module_database_url, tmp_path, "deps-three")
    app.state.write_gate = asyncio.Semaphore(1)
    seen: list[tuple[bool, int, bool]] = []

    @app.post("/territories/{code}", status_code=201)
    def add(code: str, session: SessionDep, user: UserDep, request: Request) -> dict[str, str]:
        session.add(Territory(code=code, name=code))
        session.flush()
        seen.append(
            (
                WRITE_INTENT.get(),
                app.state.engine.pool.checkedout(),  # only the writer's own connection
                READ_SESSION in request.scope["state"],
            )
        )
        return {"code": code}

    with TestClient(app, cookies={SESSION_COOKIE: token}) as client:
        taken = _checkouts(client, app.state.engine)
        assert client.post("/territories/DEPS-W").status_code == 201
    assert seen == [(True, 1, False)]
    assert taken == [False, True]  # the lookup's connection, then the writer's own
    assert app.state.engine.pool.checkedout() == 0
    with session_scope(app.state.session_factory) as session:
        assert session.scalar(select(Territory.name).where(Territory.code == "DEPS-W")) == "DEPS-W"
