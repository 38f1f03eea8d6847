"""Security tests of the web app: CSRF, session fixation, cross-territory id swapping.

Sign-in throttling without user enumeration is tested where sign-in lives:
``tests/auth/test_service.py`` (one answer for unknown user, disabled user and wrong
password; throttling per user name and per client address) and ``tests/auth/test_web.py``
(429 with ``Retry-After``, the form without its one-time token refused). Disguised uploads are
the field app's (``tests/field``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from meterops.config import Settings
from meterops.web.access import AccessMatrix, RouteInfo, app_routes, load_matrix
from meterops.web.app import create_app
from meterops.web.auth import SESSION_COOKIE
from tests.fixtures.web import PASSWORD, AccessWorld, build_access_world, sign_in, signed_in

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TODAY = dt.date.today().isoformat()


@pytest.fixture(scope="module")
def world_app(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Any, AccessWorld]:
    world = build_access_world(module_database_url)
    settings = Settings(
        database_url=module_database_url,
        data_dir=tmp_path_factory.mktemp("security") / "var",
        cookie_secure=False,
    )
    return create_app(settings), world


def _fill(route: RouteInfo, world: AccessWorld) -> str:
    side = world.own
    values = {
        "order_number": side.order_number,
        "serial_number": side.serial_number,
        "employee_number": side.employee_number,
        "request_id": str(side.request_id),
        "incident_id": str(side.incident_id),
        "exception_id": str(side.exception_id),
        "account": side.account,
        "day": TODAY,
    }
    path = route.path
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + values.get(path[start + 1 : end], "1") + path[end + 1 :]
    return path


def _unsafe_routes(app: Any, matrix: AccessMatrix) -> list[tuple[RouteInfo, str]]:
    """Every state-changing route that needs a session, with a role the matrix lets at it."""
    found = []
    for route in app_routes(app):
        row = matrix.row_for(route.method, route.path)
        if route.method not in UNSAFE or row is None or row.scope == "public":
            continue
        role = next((r for r, cell in row.cells.items() if cell != "deny"), None)
        if role is not None:
            found.append((route, role))
    return found


def _send(client: TestClient, route: RouteInfo, world: AccessWorld, token: str | None) -> Any:
    url = _fill(route, world)
    headers = {"Accept": "application/json"}
    params = {"territory": world.own.territory}
    if route.path.startswith("/api/"):
        if token is not None:
            headers["X-CSRF-Token"] = token
        return client.request(route.method, url, params=params, headers=headers, json={})
    form = {"territory": world.own.territory}
    if token is not None:
        form["csrf_token"] = token
    return client.request(route.method, url, params=params, headers=headers, data=form)


def test_every_state_changing_route_refuses_a_missing_or_wrong_csrf_token(
    world_app: tuple[Any, AccessWorld],
) -> None:
    app, world = world_app
    routes = _unsafe_routes(app, load_matrix())
    assert len(routes) > 20  # every capability's POST/PUT routes, walked from the app
    wrong: list[str] = []
    clients: dict[str, TestClient] = {}
    try:
        for route, role in routes:
            if role not in clients:
                clients[role] = TestClient(app).__enter__()
                sign_in(clients[role], world.users[role], PASSWORD)
            for token in (None, "forged-token"):
                response = _send(clients[role], route, world, token)
                code = response.json().get("error", {}).get("code") if response.content else None
                if response.status_code != 403 or code != "permission_denied.csrf":
                    wrong.append(
                        f"{route.method} {route.path} as {role} with token {token!r}: "
                        f"{response.status_code} {code}"
                    )
    finally:
        for client in clients.values():
            client.__exit__(None, None, None)
    assert not wrong, "\n".join(wrong)


def test_the_csrf_refusal_says_why(world_app: tuple[Any, AccessWorld]) -> None:
    app, world = world_app
    with TestClient(app) as client:
        sign_in(client, world.users["dispatcher"], PASSWORD)
        refused = client.post(
            f"/api/v1/orders/{world.own.order_number}/cancel", json={"reason": "no"}
        )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied.csrf"
    assert "Reload the page" in refused.json()["error"]["message"]


def test_a_session_cookie_planted_before_sign_in_is_not_the_session_after(
    world_app: tuple[Any, AccessWorld],
) -> None:
    app, world = world_app
    with TestClient(app) as client:
        client.cookies.set(SESSION_COOKIE, "planted-by-an-attacker")
        answer = sign_in(client, world.users["dispatcher"], PASSWORD)
        assert answer.status_code == 303
        issued = answer.cookies[SESSION_COOKIE]
        assert issued != "planted-by-an-attacker"
    with TestClient(app) as attacker:
        attacker.cookies.set(SESSION_COOKIE, "planted-by-an-attacker")
        assert attacker.get("/api/v1/me").status_code == 401


def test_signing_in_again_issues_a_new_session_and_ends_the_previous_one(
    world_app: tuple[Any, AccessWorld],
) -> None:
    app, world = world_app
    with TestClient(app) as client:
        first = sign_in(client, world.users["analyst"], PASSWORD).cookies[SESSION_COOKIE]
        second = sign_in(client, world.users["analyst"], PASSWORD).cookies[SESSION_COOKIE]
    assert first != second
    with TestClient(app) as old, TestClient(app) as new:
        old.cookies.set(SESSION_COOKIE, first)
        new.cookies.set(SESSION_COOKIE, second)
        refused = old.get("/api/v1/me")
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "not_signed_in"
        assert new.get("/api/v1/me").json()["username"] == world.users["analyst"]


def _territory_refusal(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "permission_denied.territory"
    assert "not one of yours" in error["message"]


def test_swapping_in_another_territorys_order_number_is_refused_with_the_reason(
    world_app: tuple[Any, AccessWorld],
) -> None:
    app, world = world_app
    other = world.other.order_number
    with TestClient(app) as client:
        signed_in(client, world.users["dispatcher"])
        assert client.get(f"/api/v1/orders/{world.own.order_number}").status_code == 200
        _territory_refusal(client.get(f"/api/v1/orders/{other}"))
        _territory_refusal(client.get(f"/api/v1/orders/{other}/history"))
        _territory_refusal(
            client.post(f"/api/v1/orders/{other}/cancel", json={"reason": "not mine"})
        )
        # a form naming the user's own territory but another territory's order
        _territory_refusal(
            client.post(
                f"/dispatch/{TODAY}/reassign",
                data={
                    "territory": world.own.territory,
                    "order_number": other,
                    "technician": world.own.employee_number,
                    "csrf_token": client.headers["X-CSRF-Token"],
                },
                headers={"Accept": "application/json"},
            )
        )
        # an order number that does not exist gets the same answer (no probing)
        _territory_refusal(client.get("/api/v1/orders/WO-999999"))


def test_a_technician_cannot_open_an_order_that_is_not_theirs(
    world_app: tuple[Any, AccessWorld],
) -> None:
    app, world = world_app
    with TestClient(app) as client:
        signed_in(client, world.users["technician"])
        assert client.get(f"/api/v1/orders/{world.own.order_number}").status_code == 200
        _territory_refusal(client.get(f"/api/v1/orders/{world.other.order_number}"))
        _territory_refusal(client.get(f"/api/v1/meters/{world.other.serial_number}"))


def test_swapping_in_another_territorys_meter_is_refused_with_the_reason(
    world_app: tuple[Any, AccessWorld],
) -> None:
    app, world = world_app
    other = world.other.serial_number
    with TestClient(app) as client:
        signed_in(client, world.users["analyst"])
        assert client.get(f"/api/v1/meters/{world.own.serial_number}").status_code == 200
        _territory_refusal(client.get(f"/api/v1/meters/{other}"))
        _territory_refusal(
            client.get(f"/api/v1/meters/{other}/intervals", params={"from": TODAY, "to": TODAY})
        )
        _territory_refusal(client.get(f"/api/v1/diagnostics/meters/{other}"))
        _territory_refusal(client.get(f"/meters/{other}", headers={"Accept": "application/json"}))


def test_swapping_in_another_territorys_remote_request_is_refused_with_the_reason(
    world_app: tuple[Any, AccessWorld],
) -> None:
    app, world = world_app
    other = world.other.request_id
    with TestClient(app) as client:
        signed_in(client, world.users["supervisor"])
        assert client.get(f"/api/v1/remote/requests/{world.own.request_id}").status_code == 200
        _territory_refusal(client.get(f"/api/v1/remote/requests/{other}"))
        _territory_refusal(client.post(f"/api/v1/remote/requests/{other}/approve"))


def test_lists_show_only_the_users_territories(world_app: tuple[Any, AccessWorld]) -> None:
    app, world = world_app
    with TestClient(app) as client:
        signed_in(client, world.users["dispatcher"])
        meters = {m["serial_number"] for m in client.get("/api/v1/meters").json()}
        assert world.own.serial_number in meters
        assert world.other.serial_number not in meters
        outages = {o["id"] for o in client.get("/api/v1/outages").json()}
        assert world.own.incident_id in outages
        assert world.other.incident_id not in outages
        page = client.get("/outages").text
        assert world.own.serial_number in page
        assert world.other.serial_number not in page


def test_a_territory_list_without_a_territory_needs_every_territory(
    world_app: tuple[Any, AccessWorld],
) -> None:
    app, world = world_app
    with TestClient(app) as client:
        signed_in(client, world.users["dispatcher"])
        own = client.get("/api/v1/orders", params={"territory": world.own.territory})
        assert own.status_code == 200
        assert world.own.order_number in {o["order_number"] for o in own.json()}
        everywhere = client.get("/api/v1/orders")
        assert everywhere.status_code == 403
        assert "add territory=<code>" in everywhere.json()["error"]["message"]


def test_a_person_without_a_session_is_sent_to_sign_in_and_a_program_gets_401(
    world_app: tuple[Any, AccessWorld],
) -> None:
    app, world = world_app
    with TestClient(app) as client:
        page = client.get(
            "/orders", params={"territory": world.own.territory},
            headers={"Accept": "text/html"}, follow_redirects=False,
        )  # fmt: skip
        assert page.status_code == 303
        assert (
            page.headers["location"]
            == f"/sign-in?next=%2Forders%3Fterritory%3D{world.own.territory}"
        )
        api = client.get("/api/v1/me", headers={"Accept": "text/html"})
        assert api.status_code == 401
        assert api.json()["error"]["code"] == "not_signed_in"
