"""The remote-operations console and the live outage map in a real browser.

A supervisor checks a ping (the guards per meter appear before anything is sent), sends it,
engages and releases the kill switch, then sees an open outage on the map. A second
supervisor approves a held request: the console sends them to the step-up page, they type
the code of their authenticator app (a real TOTP code) and come back to approve (CMD-03).
The ``page`` fixture fails on any console error, CSP violation or error status. Screenshots go under
``test-artifacts/remote/``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from meterops.commands import schemas
from meterops.commands import service as commands_service
from meterops.commands.policy import CommandPolicy
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.models import Installation, Meter
from meterops.models.commands import (
    CommandType,
    OutageIncident,
    OutageLevel,
    OutageMember,
    RequestState,
)
from tests.browser.test_dispatcher import sign_in_as
from tests.fixtures.web import PASSWORD, create_web_user, enrol_second_factor, fresh_code

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "remote"
WAIT_MS = 30_000


def shot(page: Any, name: str) -> None:
    """Save a full-page screenshot under ``test-artifacts/remote/``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def outage(base_url: str, module_database_url: str) -> tuple[str, list[str]]:
    """An open outage on two installed meters of the imported fleet; returns a third meter."""
    engine = make_engine(module_database_url)
    with session_scope(make_session_factory(engine)) as session:
        meters = session.execute(
            select(Meter.id, Meter.serial_number)
            .join(Installation, Installation.meter_id == Meter.id)
            .where(Installation.removed_at_utc.is_(None))
            .order_by(Meter.serial_number)
        ).all()
        assert len(meters) >= 3
        now = dt.datetime.now(dt.UTC)
        incident = OutageIncident(
            level=OutageLevel.TRANSFORMER,
            device_code="TX-BROWSER",
            feeder_code=None,
            started_at_utc=now - dt.timedelta(minutes=10),
            affected_meters=2,
            last_gasps=2,
            confidence=0.9,
            detected_at_utc=now,
        )
        session.add(incident)
        session.flush()
        session.add_all(
            OutageMember(incident_id=incident.id, meter_id=m.id, serial_number=m.serial_number)
            for m in meters[:2]
        )
        serial = str(meters[2].serial_number)
    engine.dispose()
    return serial, [str(m.serial_number) for m in meters[:2]]


def test_supervisor_checks_and_sends_a_ping_then_halts_and_resumes(
    page: Any, base_url: str, outage: tuple[str, list[str]]
) -> None:
    page.set_default_timeout(WAIT_MS)
    serial = outage[0]
    sign_in_as(page, base_url, "browser-super", PASSWORD, "/remote")
    page.goto(base_url + "/remote")
    assert page.locator("h1").inner_text() == "Remote operations"

    page.locator("#command-kind").select_option("ping")
    page.locator("#command-serials").fill(f"{serial}\nNOT-A-METER")
    page.locator("#command-reason").fill("customer says no power")
    page.locator("#command-check").click()
    preview = page.locator("#preview")
    preview.wait_for()
    assert "1 of 2 would be sent" in preview.inner_text()
    assert "guard.meter_known" in preview.locator("tr.guard-fail").inner_text()
    assert serial in preview.locator("tr.guard-pass").inner_text()
    shot(page, "01-checked")

    page.locator("#command-send").click()
    sent = page.locator("#sent")
    sent.wait_for()
    assert "ping · released" in sent.inner_text()
    row = sent.locator("tr", has_text=serial)
    assert "queued" in row.inner_text()
    assert "cancelled" in sent.locator("tr", has_text="NOT-A-METER").inner_text()
    shot(page, "02-sent")

    page.locator("#kill-switch-reason").fill("storm drill")
    page.locator("#kill-switch-confirm").check()
    page.locator("#kill-switch-button").click()
    page.locator("#console-notice", has_text="Kill switch engaged").wait_for()
    assert page.locator("#kill-switch-state").inner_text() == "HALTED"
    assert page.locator("#kill-switch-button").inner_text() == "Release"
    shot(page, "03-halted")

    page.locator("#kill-switch-reason").fill("drill over")
    page.locator("#kill-switch-confirm").check()
    page.locator("#kill-switch-button").click()
    page.locator("#console-notice", has_text="Kill switch released").wait_for()
    assert page.locator("#kill-switch-state").inner_text() == "running"


def test_supervisor_sees_the_open_outage_on_the_map(
    page: Any, base_url: str, outage: tuple[str, list[str]]
) -> None:
    page.set_default_timeout(WAIT_MS)
    sign_in_as(page, base_url, "browser-super", PASSWORD, "/outages")
    page.goto(base_url + "/outages")
    marker = page.locator("[data-outage-map] path.leaflet-interactive")
    marker.first.wait_for()
    assert marker.count() == 1
    assert page.locator("[data-outage-map]").get_attribute("data-incidents") == "1"
    assert "1 open incident on the map" in page.locator("#outage-map-status").inner_text()
    marker.first.hover()
    tooltip = page.locator(".leaflet-tooltip")
    tooltip.wait_for()
    assert "TX-BROWSER: 2 meters affected" in tooltip.inner_text()
    shot(page, "04-outage-map")


@pytest.fixture(scope="module")
def held_request(
    base_url: str, module_database_url: str, outage: tuple[str, list[str]]
) -> tuple[int, str]:
    """A ping held for a second person (a policy that holds any ping), made by browser-super;
    a second supervisor with a confirmed second factor. Returns the request id and approver."""
    approver = create_web_user(module_database_url, "browser-approver")
    enrol_second_factor(module_database_url, approver)
    engine = make_engine(module_database_url)
    with session_scope(make_session_factory(engine)) as session:
        held = commands_service.request(
            session,
            schemas.CommandRequestCreate(
                kind=CommandType.PING,
                serial_numbers=[outage[0], outage[1][0]],
                reason="browser approval",
                idempotency_key="browser-held-ping",
            ),
            actor=commands_service.resolve_actor(session, "browser-super"),
            now=dt.datetime.now(dt.UTC),
            policy=CommandPolicy(thresholded_kinds=frozenset({"ping"}), request_meter_limit=1),
        )
    engine.dispose()
    assert held.state is RequestState.AWAITING_APPROVAL
    return held.id, approver


def test_a_second_supervisor_steps_up_with_a_code_and_approves(
    page: Any, base_url: str, module_database_url: str, held_request: tuple[int, str]
) -> None:
    page.set_default_timeout(WAIT_MS)
    request_id, approver = held_request
    sign_in_as(page, base_url, approver, PASSWORD, "/remote")
    page.goto(base_url + "/remote")
    assert str(request_id) in page.locator("#approvals").inner_text()
    with page.expect_navigation():
        page.locator(f"#approve-{request_id}").click()
    assert "/step-up" in page.url
    assert "authenticator app" in page.locator("main").inner_text()
    shot(page, "05-step-up")

    page.locator("#step-up-code").fill(fresh_code(module_database_url, approver))
    with page.expect_navigation():
        page.locator("#step-up-submit").click()
    assert page.url.endswith(f"/remote#request-{request_id}")
    page.locator(f"#approve-{request_id}").click()
    notice = page.locator("#console-notice", has_text=f"Request {request_id} approved")
    notice.wait_for()
    assert "released" in notice.inner_text()
    assert page.locator(f"#approve-{request_id}").count() == 0
    shot(page, "06-approved-after-step-up")
