"""The meter page in a real browser: interval chart, communication trend, events timeline.

The scene of ``tests/web/test_meter_page.py`` (a simulated town ingested through the real
paths, a meter's head-end events, verdicts and orders) served by uvicorn; a dispatcher of the
territory signs in through the form and opens the meter. The ``page`` fixture fails the test
on any console error, CSP violation or error status. Screenshots go to
``test-artifacts/meter/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from meterops.web.app import create_app
from tests.browser.conftest import serve
from tests.browser.test_dispatcher import sign_in_as
from tests.web.test_meter_page import PASSWORD, MeterFacts, meter_scene, upload_photo

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "meter"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, MeterFacts]]:
    # Secure cookies: Chromium keeps them on http://127.0.0.1 as it does in production on https.
    with meter_scene(tmp_path_factory.mktemp("meter_browser"), cookie_secure=True) as facts:
        app = create_app(facts.settings)
        # The technician's photo through the field API (TestClient speaks http: no Secure).
        plain = create_app(facts.settings.model_copy(update={"cookie_secure": False}))
        with TestClient(plain) as client:
            upload_photo(client, facts.assigned)
        with serve(app) as base:
            yield base, facts


def test_the_meter_page_draws_its_charts_and_timeline(
    page: Any, served: tuple[str, MeterFacts]
) -> None:
    base, facts = served
    target = f"/meters/{facts.serial}?to={facts.last_day.isoformat()}"
    sign_in_as(page, base, "dan", PASSWORD, target)
    page.goto(base + target)
    page.locator("svg.vee-chart").wait_for()

    # The interval chart, the trend and the timeline are drawn and visible.
    for selector in ("svg.vee-chart", "svg.meter-chart.trend", "svg.meter-chart.timeline"):
        box = page.locator(selector).bounding_box()
        assert box is not None
        assert box["width"] > 300
        assert box["height"] > 50
    assert page.locator("svg.vee-chart rect.bar").count() >= 96
    assert page.locator("svg.meter-chart.trend polyline.line.rssi").is_visible()
    # Read success was 100 % every day here: a flat line on the top edge, its points visible.
    assert page.locator("svg.meter-chart.trend polyline.line.success").count() == 1
    assert page.locator("svg.meter-chart.trend circle.point.success").count() == 3
    assert page.locator("svg.meter-chart.trend circle.point.success").first.is_visible()
    assert page.locator("svg.meter-chart.timeline circle.event").count() == 3
    # The stylesheet applies (served by the app, allowed by the CSP): the RSSI line is blue.
    stroke = page.locator("svg.meter-chart.trend polyline.line.rssi").evaluate(
        "e => getComputedStyle(e).stroke"
    )
    assert stroke == "rgb(47, 111, 176)"
    assert page.get_by_role("heading", name="Events").is_visible()
    assert page.locator("#orders article.meter-order").count() == 2
    assert facts.customer_name in page.locator("main").inner_text()
    # The field visit's photo loads (same origin, allowed by the CSP and the access matrix).
    photo = page.locator(f'article[data-order="{facts.assigned}"] .order-photos img')
    photo.scroll_into_view_if_needed()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=photo.element_handle()
    )
    assert photo.evaluate("img => img.naturalWidth") == 320
    assert_neighbours_drawn(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "01-meter-page.png"), full_page=True)

    # A point's tooltip carries its values.
    title = page.locator("svg.meter-chart.trend circle.point.success title").first.text_content()
    assert "read success" in (title or "")
    assert "reads)" in (title or "")


def assert_neighbours_drawn(page: Any) -> None:
    """The neighbours map: Leaflet draws the meter and the meters sharing its parent,
    collector or transformer as circle markers, and the summary says how many still read."""
    neighbours = page.locator("[data-neighbour-map]")
    neighbours.scroll_into_view_if_needed()
    page.wait_for_function("e => e.dataset.meters !== undefined", arg=neighbours.element_handle())
    drawn = int(neighbours.get_attribute("data-meters") or "0")
    assert drawn >= 2
    assert page.locator("[data-neighbour-map] path.leaflet-interactive").count() == drawn
    assert "still read" in page.locator("#neighbour-map-summary").inner_text()
