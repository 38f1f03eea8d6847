"""The verdict page in a real browser, opened from the exception queue.

The scene of ``tests/web/test_meter_page.py`` (a simulated town ingested through the real
paths, a meter's head-end events, an open non-communicating exception with its verdict and
work order) served by uvicorn; a dispatcher of the territory signs in through the form, opens
the queue, narrows it by cause and follows the row to the verdict page. The ``page`` fixture
fails the test on any console error, CSP violation or error status. Screenshots go to
``test-artifacts/diagnostics/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meterops.web.app import create_app
from tests.browser.conftest import serve
from tests.browser.test_dispatcher import sign_in_as
from tests.browser.test_meter_page import assert_neighbours_drawn
from tests.web.test_meter_page import PASSWORD, MeterFacts, meter_scene

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "diagnostics"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, MeterFacts]]:
    # Secure cookies: Chromium keeps them on http://127.0.0.1 as it does in production on https.
    folder = tmp_path_factory.mktemp("verdict_browser")
    with (
        meter_scene(folder, cookie_secure=True) as facts,
        serve(create_app(facts.settings)) as base,
    ):
        yield base, facts


def test_the_verdict_page_opens_from_the_queue_with_its_charts(
    page: Any, served: tuple[str, MeterFacts]
) -> None:
    base, facts = served
    sign_in_as(page, base, "dan", PASSWORD, "/diagnostics")
    page.goto(base + "/diagnostics")
    row = page.locator(f'tr[data-exception="{facts.exception_id}"]')
    row.wait_for()
    # HTMX narrows the table when a filter changes: another cause hides the row.
    page.select_option('select[name="cause"]', "tamper")
    row.wait_for(state="detached")
    assert "cause tamper" in page.locator(".queue-count").inner_text()
    page.select_option('select[name="cause"]', "radio_module_failure")
    row.wait_for()
    assert "cause radio module failure" in page.locator(".queue-count").inner_text()

    row.locator("a.verdict-link").click()
    page.wait_for_url(f"**/diagnostics/exceptions/{facts.exception_id}")
    assert "radio module failure" in page.locator("#verdict").inner_text()
    assert "remote command: ping" in page.locator("#verdict").inner_text()
    assert page.locator("#evidence table tr[data-fact]").count() >= 1

    # The RSSI and read-success trend, the consumption chart with VEE flags, the map.
    for selector in ("svg.meter-chart.trend", "svg.vee-chart"):
        box = page.locator(selector).bounding_box()
        assert box is not None
        assert box["width"] > 300
        assert box["height"] > 50
    assert page.locator("svg.meter-chart.trend circle.point.success").count() == 3
    assert page.locator("svg.vee-chart rect.bar").count() >= 96
    assert_neighbours_drawn(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "01-verdict-page.png"), full_page=True)
