"""The dispatcher's day in a real browser: sign in, optimize, read the map, reassign, dispatch.

Playwright drives Debian's Chromium against the app served by uvicorn over the simulated
Prairie Junction, with its real sign-in, sessions and CSRF tokens. A dispatcher of the
territory signs in through the form, opens ``/dispatch`` for a workday with ten exchange
orders waiting, optimizes the day, sees the routes on the Leaflet map (a blank background:
no tile server), reassigns an order to another technician and sees it on that technician's
route, then dispatches the day. A screenshot of each step is saved under
``test-artifacts/dispatcher/``.

The ``page`` fixture (``tests/browser/conftest.py``) fails the test on any console error,
CSP violation or error status, so the HTMX posts and the map script must work under the
strict Content-Security-Policy. Skips when Chromium or Playwright is missing, unless
``METEROPS_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select

from meterops.auth import service as auth
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.models import Territory
from meterops.models.org import Role
from meterops.timeutil import utc_now
from meterops.workorders import service as workorders_service
from meterops.workorders.schemas import OrderRequest
from meterops.workorders.types import WorkOrderType
from tests.browser.conftest import serve
from tests.dispatch.conftest import POLICY, healthy_meters, next_workday, sim_app

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dispatcher"
PASSWORD = "correct horse battery"
WAIT_MS = 60_000


@dataclass
class Served:
    base: str
    orders: list[str]
    username: str


@pytest.fixture(scope="module")
def served(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app with ten exchange orders waiting and a dispatcher of the territory."""
    app, world, _ = sim_app(module_database_url, tmp_path_factory.mktemp("dispatcher"))
    engine = make_engine(module_database_url)
    with session_scope(make_session_factory(engine)) as session:
        [code] = session.scalars(select(Territory.code)).all()
        auth.create_user(
            session,
            username="dora",
            display_name="Dora Dispatch",
            role=Role.DISPATCHER,
            password=PASSWORD,
            territory_codes=[code],
            actor="test",
        )
        orders = [
            workorders_service.create_order(
                session,
                OrderRequest(order_type=WorkOrderType.EXCHANGE, meter_serial=serial),
                actor="dora",
                now=utc_now(),
                policy=POLICY,
            ).order_number
            for serial in healthy_meters(world)[:10]
        ]
    engine.dispose()
    with serve(app) as base:
        yield Served(base, orders, "dora")


def shot(page: Any, name: str) -> None:
    """Save a full-page screenshot under ``test-artifacts/dispatcher/``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in_as(
    page: Any, base: str, username: str, password: str, next_path: str, *, shot_as: str = ""
) -> None:
    """Sign in through the form, in a second tab of ``page``'s browser context.

    The sign-in answers its redirect before its database session commits (FastAPI closes
    ``yield`` dependencies after the response is sent), so the page it redirects to can
    still find no session (401). Until the sign-in commits before answering, that first
    page is reloaded here, in a tab the ``page`` fixture does not watch; ``page`` itself then
    shares the signed-in cookies and fails on any error status as usual.
    """
    tab = page.context.new_page()
    tab.set_default_timeout(WAIT_MS)  # argon2 on a loaded machine can take a while
    tab.goto(f"{base}/sign-in?next={quote(next_path, safe='')}")
    tab.get_by_label("User name").fill(username)
    tab.get_by_label("Password").fill(password)
    if shot_as:
        shot(tab, shot_as)
    with tab.expect_navigation() as landing:
        tab.get_by_role("button", name="Sign in").click()
    response = landing.value
    for _ in range(20):  # bounded: the commit follows the answer by moments
        if response is not None and response.status != 401:
            break
        response = tab.reload()
    assert response is not None
    assert response.status == 200, f"{response.status} after signing in at {tab.url}"
    assert tab.url.endswith(next_path)
    tab.close()


def test_a_dispatcher_optimizes_the_day_and_reassigns_an_order(
    page: Any,
    served: Served,
) -> None:
    day = next_workday().isoformat()
    page.set_default_timeout(WAIT_MS)
    sign_in_as(
        page, served.base, served.username, PASSWORD, f"/dispatch?date={day}", shot_as="01-sign-in"
    )
    page.goto(f"{served.base}/dispatch?date={day}")
    assert "Dora Dispatch · dispatcher" in page.locator("header").inner_text()
    page.get_by_text("is not planned yet").wait_for(timeout=5_000)
    shot(page, "02-day-not-planned")

    page.get_by_role("button", name="Optimize the day").click()
    page.get_by_text("The day is optimized.").wait_for(timeout=WAIT_MS)
    # Leaflet (vendored) replaced the server-drawn SVG: a blank background (no tile URL),
    # one line per route and a marker per stop.
    page.locator("[data-route-map].leaflet-container path.leaflet-interactive").first.wait_for(
        timeout=10_000
    )
    assert page.locator("[data-route-map] img.leaflet-tile").count() == 0
    assert page.locator("[data-route-map] path.leaflet-interactive").count() >= 2
    assert page.locator(".kpis .card").count() == 7
    assert page.locator("ol.timeline li.visit").count() >= 1
    text = page.locator("#day").inner_text()
    assert all(number in text for number in served.orders)
    shot(page, "03-optimized-routes-on-the-map")

    order = page.locator("ul.stop-orders li", has_text=served.orders[0])
    holder = order.locator("xpath=ancestor::article[@data-technician]").get_attribute(
        "data-technician"
    )
    select_box = order.locator("select[name=technician]")
    other = next(
        value
        for value in select_box.locator("option").evaluate_all("o => o.map(x => x.value)")
        if value and value != holder
    )
    select_box.select_option(other)
    shot(page, "04-reassign-chosen")
    order.get_by_role("button", name="Reassign").click()
    page.get_by_text(f"{served.orders[0]} is now with {other}.").wait_for(timeout=WAIT_MS)
    assert served.orders[0] in page.locator(f'article[data-technician="{other}"]').inner_text()
    if holder is not None:  # gone from the old route (which may now have no stops at all)
        assert (
            served.orders[0]
            not in page.locator(f'article[data-technician="{holder}"]').inner_text()
        )
    shot(page, "05-reassigned")

    # The change holds: a fresh load of the day shows the order on the new route.
    page.goto(f"{served.base}/dispatch?date={day}")
    page.locator(f'article[data-technician="{other}"]').wait_for()
    assert served.orders[0] in page.locator(f'article[data-technician="{other}"]').inner_text()

    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Dispatch").click()
    page.get_by_text("Dispatched: the technicians have their routes.").wait_for(timeout=10_000)
    shot(page, "06-dispatched")
