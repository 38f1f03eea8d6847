"""The fleet pages in a real browser: search as you type (HTMX), open a meter, CSP holds."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.test_dispatcher import sign_in_as
from tests.fixtures.web import PASSWORD

pytestmark = pytest.mark.browser


def test_search_as_you_type_then_open_the_meter(page: Any, base_url: str) -> None:
    sign_in_as(page, base_url, "browser-super", PASSWORD, "/")
    page.goto(base_url + "/")
    assert page.locator("h1").inner_text() == "Fleet"
    page.locator("input[name=q]").press_sequentially("M00000", delay=20)
    first = page.locator("#results a", has_text="M000001")
    first.wait_for(timeout=5_000)
    first.click()
    page.wait_for_url("**/meters/M000001")
    assert "M000001" in page.locator("h1").inner_text()


def test_an_unknown_serial_says_so(page: Any, base_url: str) -> None:
    sign_in_as(page, base_url, "browser-super", PASSWORD, "/")
    page.goto(base_url + "/")
    page.locator("input[name=q]").fill("ZZZ")
    page.locator("input[name=q]").press("Enter")
    page.locator("#results", has_text="No meter serial starts with").wait_for(timeout=5_000)


def test_pages_send_a_strict_content_security_policy(page: Any, base_url: str) -> None:
    response = page.goto(base_url + "/sign-in")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
