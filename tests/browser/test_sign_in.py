"""Signing in and out in a real browser, with the production cookie settings (Secure)."""

from __future__ import annotations

from typing import Any

import pytest

from meterops.auth import service as auth
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.models.org import Role

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def user(base_url: str, module_database_url: str) -> str:
    engine = make_engine(module_database_url)
    with session_scope(make_session_factory(engine)) as session:
        auth.create_user(
            session,
            username="bea",
            display_name="Bea Browser",
            role=Role.ANALYST,
            password=PASSWORD,
            territory_codes=["NORTH"],
            actor="test",
        )
    engine.dispose()
    return "bea"


def test_sign_in_then_out(page: Any, base_url: str, user: str) -> None:
    page.goto(base_url + "/sign-in?next=/meters")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/meters")
    assert "Bea Browser · analyst" in page.locator("header").inner_text()
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["meterops_session"]["httpOnly"]
    assert cookies["meterops_session"]["secure"]
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/sign-in")
    assert "meterops_session" not in {c["name"] for c in page.context.cookies()}


def test_a_wrong_password_says_so_in_plain_words(page: Any, base_url: str, user: str) -> None:
    page.allow_status(401)
    page.goto(base_url + "/sign-in")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").wait_for()
    assert page.get_by_role("alert").inner_text() == "Wrong user name or password."
