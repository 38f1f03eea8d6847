"""The step-up page (``/step-up``): who may use it, redirects, the form, and its security."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from meterops.auth.service import SessionPolicy, step_up_is_fresh
from meterops.config import Settings
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.models.auth import SignInAttempt, WebSession
from meterops.web.stepup import safe_next, step_up_location
from tests.fixtures.web import (
    app_with_step_up,
    create_web_user,
    csrf_token,
    enrol_second_factor,
    fresh_code,
    signed_in,
    step_up,
)
from tests.web.conftest import import_fleet


@pytest.fixture(scope="module")
def settings(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder: Path = tmp_path_factory.mktemp("step-up-web")
    import_fleet(module_database_url, folder / "fleet")
    for name, role in (("su-sup", "supervisor"), ("su-tech", "technician"), ("su-new", "admin")):
        create_web_user(module_database_url, name, role)
    enrol_second_factor(module_database_url, "su-sup")
    return Settings(database_url=module_database_url, data_dir=folder / "var", cookie_secure=False)


@pytest.fixture
def app(settings: Settings) -> Iterator[TestClient]:
    with TestClient(app_with_step_up(settings)) as client:
        yield client


def test_without_a_session_the_page_sends_people_to_sign_in(app: TestClient) -> None:
    answer = app.get(
        "/step-up?next=/remote", headers={"accept": "text/html"}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/sign-in?next=")
    assert app.post("/step-up", data={"code": "123456"}).status_code == 401


def test_only_approver_roles_may_step_up(app: TestClient) -> None:
    signed_in(app, "su-tech")
    refused = app.get("/step-up")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied.role"


def test_an_admin_without_a_factor_is_told_how_to_get_one(app: TestClient) -> None:
    signed_in(app, "su-new")
    page = app.get("/step-up?next=/remote")
    assert page.status_code == 200
    assert "meterops users mfa-enroll su-new" in page.text
    assert 'name="code"' not in page.text


def test_the_form_carries_the_csrf_token_and_a_safe_next(
    app: TestClient, settings: Settings
) -> None:
    signed_in(app, "su-sup")
    page = app.get("/step-up", params={"next": "//evil.example/x"})
    assert f'name="csrf_token" value="{csrf_token(app)}"' in page.text
    assert 'name="next" value="/"' in page.text
    assert 'autocomplete="one-time-code"' in page.text
    forged = app.post(
        "/step-up",
        data={"code": fresh_code(settings.database_url, "su-sup"), "next": "/"},
        headers={"X-CSRF-Token": "not-the-token"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert forged.json()["error"]["code"] == "permission_denied.csrf"
    answer = step_up(app, settings.database_url, "su-sup", next_path="/remote?tab=held")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/remote?tab=held"
    engine = make_engine(settings.database_url)
    with session_scope(make_session_factory(engine)) as session:
        stepped = session.scalars(
            select(WebSession.stepped_up_at_utc).where(WebSession.stepped_up_at_utc.is_not(None))
        ).all()
        outcomes = session.scalars(
            select(SignInAttempt.outcome).where(SignInAttempt.username == "su-sup")
        ).all()
    engine.dispose()
    assert len(stepped) == 1
    assert "otp_ok" in outcomes


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/remote", "/remote"),
        ("/remote#request-3", "/remote#request-3"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
def test_safe_next(target: str, expected: str) -> None:
    assert safe_next(target) == expected


def test_step_up_location_quotes_the_way_back() -> None:
    assert step_up_location("/remote#request-7") == "/step-up?next=/remote%23request-7"
    assert step_up_location("https://evil.example/") == "/step-up?next=/"


@given(st.text(max_size=40))
def test_safe_next_never_leaves_the_site(target: str) -> None:
    result = safe_next(target)
    assert result.startswith("/")
    assert not result.startswith("//")
    assert "\\" not in result


T0 = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)


@given(age_s=st.integers(min_value=-3600, max_value=3600), limit=st.integers(1, 1800))
def test_a_step_up_counts_exactly_for_its_age_limit(age_s: int, limit: int) -> None:
    policy = SessionPolicy(step_up_s=limit)
    fresh = step_up_is_fresh(T0 - dt.timedelta(seconds=age_s), T0, policy)
    assert fresh is (0 <= age_s <= limit)
