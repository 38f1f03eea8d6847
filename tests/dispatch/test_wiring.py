"""Dispatch's adapter wiring: planner, head-end and actor from settings and the request."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request

from meterops.config import Settings
from meterops.dispatch import wiring
from meterops.headend.client import HttpHeadEnd


@dataclass
class _User:
    username: str


def _request(user: object | None) -> Request:
    request = Request({"type": "http", "method": "POST", "path": "/", "headers": []})
    request.state.user = user
    return request


def test_the_actor_is_the_signed_in_user_else_the_adapter() -> None:
    assert wiring.actor_of(_request(_User("dispatcher1")), "web") == "dispatcher1"
    assert wiring.actor_of(_request(None), "web") == "web"


def test_no_head_end_without_an_address(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert wiring.head_end(settings) is None
    given = wiring.head_end(settings, "http://127.0.0.1:9")
    assert isinstance(given, HttpHeadEnd)
    given.close()


def test_the_planner_follows_the_utility_zone(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, utility_timezone="America/Denver")
    planner = wiring.planner(settings, seconds=2, seed=3)
    assert planner.utility_timezone == "America/Denver"
    assert planner.seed == 3
    assert wiring.policy(settings).utility_timezone == "America/Denver"
