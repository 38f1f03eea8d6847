"""The request's database session commits before the answer is sent."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from meterops.db.engine import make_engine, make_session_factory, session_scope
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
