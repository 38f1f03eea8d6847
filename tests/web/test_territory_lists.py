"""Lists show only the user's territories (issue #7): two territories, users of one of them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from meterops.config import Settings
from meterops.web.app import create_app
from tests.fixtures.web import AccessWorld, build_access_world, signed_in


@pytest.fixture(scope="module")
def world_app(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Any, AccessWorld]:
    world = build_access_world(module_database_url)
    settings = Settings(
        database_url=module_database_url,
        data_dir=tmp_path_factory.mktemp("lists") / "var",
        cookie_secure=False,
    )
    return create_app(settings), world


def _client(world_app: tuple[Any, AccessWorld], role: str) -> TestClient:
    app, world = world_app
    return signed_in(TestClient(app), world.users[role])


@pytest.mark.parametrize("role", ["analyst", "dispatcher", "supervisor"])
def test_exceptions_api_lists_only_own_territory(
    world_app: tuple[Any, AccessWorld], role: str
) -> None:
    world = world_app[1]
    with _client(world_app, role) as client:
        answer = client.get("/api/v1/diagnostics/exceptions", params={"limit": 2000})
    assert answer.status_code == 200, answer.text
    ids = {row["id"] for row in answer.json()}
    assert world.own.exception_id in ids
    assert world.other.exception_id not in ids


def test_exceptions_page_lists_only_own_territory(world_app: tuple[Any, AccessWorld]) -> None:
    world = world_app[1]
    with _client(world_app, "analyst") as client:
        page = client.get("/diagnostics", params={"status": "open"})
    assert page.status_code == 200, page.text
    assert world.own.serial_number in page.text
    assert world.other.serial_number not in page.text


def test_meter_search_lists_only_own_territory(world_app: tuple[Any, AccessWorld]) -> None:
    world = world_app[1]
    with _client(world_app, "analyst") as client:
        page = client.get("/meters", params={"q": "M"})
    assert page.status_code == 200, page.text
    assert world.own.serial_number in page.text
    assert world.other.serial_number not in page.text


@pytest.mark.parametrize("role", ["analyst", "dispatcher"])
def test_remote_overview_lists_only_own_territory(
    world_app: tuple[Any, AccessWorld], role: str
) -> None:
    world = world_app[1]
    with _client(world_app, role) as client:
        answer = client.get("/api/v1/remote/overview")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    requests = {row["id"] for row in body["recent_requests"]}
    serials = {row["serial_number"] for row in body["recent_commands"]}
    assert world.own.request_id in requests
    assert world.other.request_id not in requests
    assert world.own.serial_number in serials
    assert world.other.serial_number not in serials


def test_an_order_by_hand_outside_the_users_territories_is_refused(
    world_app: tuple[Any, AccessWorld],
) -> None:
    world = world_app[1]
    with _client(world_app, "dispatcher") as client:
        foreign = client.post(
            "/api/v1/orders",
            json={
                "order_type": "exchange",
                "meter_serial": world.other.serial_number,
                "problem_code": "BYHAND",
            },
        )
        assert foreign.status_code == 403, foreign.text
        error = foreign.json()["error"]
        assert error["code"] == "permission_denied.territory"
        assert world.other.serial_number in error["message"]
        mine = client.post(
            "/api/v1/orders",
            json={
                "order_type": "exchange",
                "meter_serial": world.own.serial_number,
                "problem_code": "BYHAND",
            },
        )
        assert mine.status_code == 201, mine.text


def test_a_programme_with_a_row_outside_the_users_territories_is_refused_whole(
    world_app: tuple[Any, AccessWorld],
) -> None:
    world = world_app[1]
    own, other = world.own.serial_number, world.other.serial_number
    with _client(world_app, "supervisor") as client:
        mixed = f"order_type,meter_serial,campaign\nexchange,{own},T7\nexchange,{other},T7\n"
        refused = client.post(
            "/api/v1/orders/import",
            content=mixed.encode(),
            params={"file": "mixed.csv"},
            headers={"content-type": "text/csv"},
        )
        assert refused.status_code == 403, refused.text
        error = refused.json()["error"]
        assert error["code"] == "permission_denied.territory"
        assert "mixed.csv:3" in error["message"]
        alone = f"order_type,meter_serial,campaign\nexchange,{own},T7\n"
        imported = client.post(
            "/api/v1/orders/import",
            content=alone.encode(),
            params={"file": "alone.csv"},
            headers={"content-type": "text/csv"},
        )
        assert imported.status_code == 200, imported.text
        assert len(imported.json()["result"]["created"]) == 1  # the refused file created none


@pytest.mark.parametrize("path", ["/orders", "/dispatch"])
def test_a_one_territory_dispatcher_follows_the_nav_to_their_territory(
    world_app: tuple[Any, AccessWorld], path: str
) -> None:
    world = world_app[1]
    with _client(world_app, "dispatcher") as client:
        first = client.get(path, headers={"accept": "text/html"}, follow_redirects=False)
        assert first.status_code == 303, first.text
        assert first.headers["location"] == f"{path}?territory={world.own.territory}"
        page = client.get(path, headers={"accept": "text/html"})
        assert page.status_code == 200, page.text
        assert world.own.order_number in page.text or path == "/dispatch"
        assert world.other.order_number not in page.text
        api = client.get("/api/v1/orders")
        assert api.status_code == 403
