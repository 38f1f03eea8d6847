"""Sign-in through the web app: cookies, CSRF, redirects, throttling, one error shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from meterops.auth import service as auth
from meterops.config import Settings
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.models.org import Role
from meterops.web.app import create_app
from meterops.web.auth import SESSION_COOKIE
from tests.fixtures.web import csrf_token, sign_in
from tests.web.conftest import import_fleet

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def app_settings(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder: Path = tmp_path_factory.mktemp("auth-web")
    import_fleet(module_database_url, folder / "fleet")
    engine = make_engine(module_database_url)
    with session_scope(make_session_factory(engine)) as session:
        for name, role in (("dana", Role.DISPATCHER), ("lock", Role.ANALYST)):
            auth.create_user(
                session,
                username=name,
                display_name=name.title(),
                role=role,
                password=PASSWORD,
                territory_codes=["NORTH"],
                actor="test",
            )
    engine.dispose()
    # TestClient speaks plain http://testserver, where a Secure cookie would never be sent.
    return Settings(database_url=module_database_url, data_dir=folder / "var", cookie_secure=False)


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings)) as test_client:
        yield test_client


def test_api_needs_a_session_and_answers_401_in_the_one_error_shape(client: TestClient) -> None:
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_signed_in"


def test_sign_in_sets_an_httponly_lax_cookie_and_goes_to_the_next_page(client: TestClient) -> None:
    response = sign_in(client, "dana", PASSWORD, "/meters")
    assert response.status_code == 303
    assert response.headers["location"] == "/meters"
    cookie = response.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    me = client.get("/api/v1/me").json()
    assert me["username"] == "dana"
    assert me["role"] == "dispatcher"
    page = client.get("/").text
    assert "Dana · dispatcher" in page
    assert 'name="csrf-token"' in page


def test_the_session_cookie_is_secure_by_default(app_settings: Settings) -> None:
    settings = app_settings.model_copy(update={"cookie_secure": True})
    with TestClient(create_app(settings), base_url="https://testserver") as secure:
        response = sign_in(secure, "dana", PASSWORD)
        assert "Secure" in response.headers["set-cookie"]


def test_a_wrong_password_shows_the_form_again_without_saying_which_part(
    client: TestClient,
) -> None:
    for name in ("dana", "nobody-here"):
        response = sign_in(client, name, "not the password")
        assert response.status_code == 401
        assert "Wrong user name or password." in response.text
        assert SESSION_COOKIE not in response.cookies


def test_a_sign_in_without_the_form_token_is_refused(client: TestClient) -> None:
    response = client.post(
        "/sign-in",
        data={"username": "dana", "password": PASSWORD, "form_token": "forged"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert client.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:x"])
def test_next_never_leaves_the_site(client: TestClient, target: str) -> None:
    response = sign_in(client, "dana", PASSWORD, target)
    assert response.headers["location"] == "/"


def test_sign_out_needs_the_csrf_token_then_ends_the_session(client: TestClient) -> None:
    sign_in(client, "dana", PASSWORD)
    refused = client.post("/sign-out", data={"csrf_token": "nope"}, follow_redirects=False)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied.csrf"
    assert client.get("/api/v1/me").status_code == 200
    token = csrf_token(client)
    done = client.post("/sign-out", headers={"X-CSRF-Token": token}, follow_redirects=False)
    assert done.status_code == 303
    assert client.get("/api/v1/me").status_code == 401


def test_repeated_failures_answer_429_with_retry_after(client: TestClient) -> None:
    # Earlier tests in this module already failed from the same client address, so the lock
    # may come before the fifth failure; it must come by then.
    statuses = [sign_in(client, "lock", "wrong wrong wrong").status_code for _ in range(5)]
    assert statuses[-1] == 429
    assert set(statuses) <= {401, 429}
    assert statuses == sorted(statuses)  # once locked, stays locked
    locked = sign_in(client, "lock", PASSWORD)
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert "Too many failed sign-ins" in locked.text
