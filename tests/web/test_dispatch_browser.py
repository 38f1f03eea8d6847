"""The dispatcher's day in a real browser: optimize, read the timelines and map, reassign.

Playwright drives Debian's Chromium against the app served by uvicorn over the simulated
Prairie Junction. The ``page`` fixture (``tests/browser``) fails the test on any console
error, CSP violation or error status, so the HTMX posts and the map script must work under
the strict Content-Security-Policy. Skips when Chromium or Playwright is missing, unless
``METEROPS_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from tests.browser.conftest import browser, page  # noqa: F401 (fixtures used by name)
from tests.dispatch.conftest import healthy_meters, next_workday, sim_app
from tests.fixtures.web import PASSWORD, create_web_user, signed_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, list[str]]]:
    """The app on a free port, with ten exchange orders waiting; (base URL, order numbers)."""
    app, world, _ = sim_app(module_database_url, tmp_path_factory.mktemp("dispatch-browser"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the app did not start within 20 s")
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    create_web_user(module_database_url, "browser-supervisor")
    numbers = []
    with TestClient(app) as client:  # same app and database as the server
        signed_in(client, "browser-supervisor")
        for serial in healthy_meters(world)[:10]:
            response = client.post(
                "/api/v1/orders", json={"order_type": "exchange", "meter_serial": serial}
            )
            assert response.status_code == 201, response.text
            numbers.append(response.json()["order_number"])
    yield base, numbers
    server.should_exit = True
    thread.join(timeout=10)


def test_optimize_the_day_then_reassign_an_order_by_hand(
    page: Any,  # noqa: F811 (the fixture)
    served: tuple[str, list[str]],
) -> None:
    base, numbers = served
    day = next_workday().isoformat()
    page.goto(f"{base}/sign-in?next=/dispatch%3Fdate%3D{day}")
    page.fill("input[name=username]", "browser-supervisor")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("is not planned yet").wait_for(timeout=5_000)

    page.get_by_role("button", name="Optimize the day").click()

    page.get_by_text("The day is optimized.").wait_for(timeout=60_000)
    # Leaflet (vendored) replaced the server-drawn SVG: a blank background (no tile URL),
    # one line per route and a marker per stop.
    page.locator("[data-route-map].leaflet-container path.leaflet-interactive").first.wait_for(
        timeout=10_000
    )
    assert page.locator("[data-route-map] img.leaflet-tile").count() == 0
    assert page.locator("[data-route-map] path.leaflet-interactive").count() >= 2
    assert page.locator(".kpis .card").count() == 7
    timeline = page.locator("ol.timeline li.visit")
    assert timeline.count() >= 1
    text = page.locator("#day").inner_text()
    assert all(number in text for number in numbers)

    order = page.locator("ul.stop-orders li", has_text=numbers[0])
    select = order.locator("select[name=technician]")
    current = select.input_value()
    other = next(
        value
        for value in select.locator("option").evaluate_all("options => options.map(o => o.value)")
        if value != current
    )
    select.select_option(other)
    order.get_by_role("button", name="Reassign").click()

    page.get_by_text(f"{numbers[0]} is now with {other}.").wait_for(timeout=30_000)
    article = page.locator(f'article[data-technician="{other}"]')
    assert numbers[0] in article.inner_text()

    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Dispatch").click()
    page.get_by_text("Dispatched: the technicians have their routes.").wait_for(timeout=10_000)
