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
