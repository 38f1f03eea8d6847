"""The remote-operations console (``/remote``): check, send, approve, kill switch, as forms."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from meterops.auth import service as auth_service
from meterops.commands import schemas
from meterops.commands import service as commands_service
from meterops.commands.pages import parse_serials
from meterops.commands.policy import CommandPolicy
from meterops.config import Settings
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.models import Meter
from meterops.models.commands import (
    CommandRequest,
    CommandType,
    OutageIncident,
    OutageLevel,
    OutageMember,
    RequestState,
)
from meterops.models.org import Role
from tests.commands.world import MONDAY_10, Loaded, add_user, load_world
from tests.fixtures.web import app_with_step_up, csrf_token, sign_in, step_up

PASSWORD = "a long enough passphrase"
USERS = {
    "ann": Role.DISPATCHER,
    "sue": Role.SUPERVISOR,
    "bob": Role.SUPERVISOR,
    "ali": Role.ANALYST,
    "tom": Role.TECHNICIAN,
}


@pytest.fixture(scope="module")
def world(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, Loaded]:
    folder = tmp_path_factory.mktemp("remote-pages")
    engine = make_engine(module_database_url)
    with session_scope(make_session_factory(engine)) as session:
        loaded = load_world(session, folder / "fleet")
        for name, role in USERS.items():
            add_user(session, name, role, [loaded.territory])
            auth_service.set_password(
                session, username=name, password=PASSWORD, actor="test", now=MONDAY_10
            )
    engine.dispose()
    # TestClient speaks plain http://testserver, where a Secure cookie would never be sent.
    return Settings(
        database_url=module_database_url, data_dir=folder / "var", cookie_secure=False
    ), loaded


@pytest.fixture(scope="module")
def app_settings(world: tuple[Settings, Loaded]) -> Settings:
    return world[0]


def _client(settings: Settings, username: str) -> Iterator[TestClient]:
    with TestClient(app_with_step_up(settings)) as client:
        answer = sign_in(client, username, PASSWORD)
        assert answer.status_code == 303, answer.text
        yield client


@pytest.fixture
def sue(app_settings: Settings) -> Iterator[TestClient]:
    yield from _client(app_settings, "sue")


@pytest.fixture
def bob(app_settings: Settings) -> Iterator[TestClient]:
    yield from _client(app_settings, "bob")


@pytest.fixture
def ann(app_settings: Settings) -> Iterator[TestClient]:
    yield from _client(app_settings, "ann")


def _form(client: TestClient, **fields: str) -> dict[str, str]:
    return {"csrf_token": csrf_token(client), **fields}


def _hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found is not None, f"no hidden field {name}"
    return found.group(1)


def test_parse_serials_keeps_order_and_drops_duplicates() -> None:
    assert parse_serials(" A1\r\nB2, A1;C3\t\n") == ["A1", "B2", "C3"]
    assert parse_serials(" \n ,") == []


def test_console_shows_the_forms_with_the_csrf_token(sue: TestClient) -> None:
    page = sue.get("/remote")
    assert page.status_code == 200
    token = csrf_token(sue)
    assert page.text.count(f'name="csrf_token" value="{token}"') >= 2
    assert 'action="/remote/check"' in page.text
    assert 'action="/remote/kill-switch"' in page.text
    assert "program_push" not in page.text.split('id="command-kind"')[1].split("</select>")[0]


def test_check_shows_guards_before_sending_and_sends_once(
    sue: TestClient, world: tuple[Settings, Loaded]
) -> None:
    loaded = world[1]
    good = loaded.all_serials[0]
    serials = f"{good}\nNO-SUCH-METER\n{good}"
    before = sue.get("/api/v1/remote/overview").json()["recent_requests"]
    checked = sue.post(
        "/remote/check", data=_form(sue, kind="ping", serials=serials, reason="field asked")
    )
    assert checked.status_code == 200, checked.text
    preview = checked.text.split('id="preview"')[1].split("</section>")[0]
    good_row, unknown_row = preview.split("NO-SUCH-METER")[0], preview.split("NO-SUCH-METER")[1]
    assert good in good_row
    assert "passed" in good_row.split(good)[-1]
    assert "1 of 2 would be sent" in preview
    assert "guard.meter_known" in unknown_row
    assert "the fleet knows no such meter" in unknown_row
    # Checking stored nothing.
    assert sue.get("/api/v1/remote/overview").json()["recent_requests"] == before

    form = _form(
        sue,
        kind=_hidden(preview, "kind"),
        serials=_hidden(preview, "serials"),
        reason=_hidden(preview, "reason"),
        idempotency_key=_hidden(preview, "idempotency_key"),
    )
    sent = sue.post("/remote/send", data=form)
    assert sent.status_code == 201, sent.text
    result = sent.text.split('id="sent"')[1].split("</section>")[0]
    assert "ping · released" in result
    request_id = int(re.search(r"Request (\d+):", result).group(1))  # type: ignore[union-attr]
    stored = sue.get(f"/api/v1/remote/requests/{request_id}").json()
    states = {c["serial_number"]: c["state"] for c in stored["commands"]}
    assert states == {good: "queued", "NO-SUCH-METER": "cancelled"}
    assert stored["requested_by"] == "sue"
    assert stored["reason"] == "field asked"
    # The same checked form again (a double click) is the same request, not a second one.
    again = sue.post("/remote/send", data=form)
    assert again.status_code == 201
    assert f"Request {request_id}:" in again.text


def test_bad_forms_are_answered_with_the_field(sue: TestClient) -> None:
    no_meters = sue.post("/remote/check", data=_form(sue, kind="ping", serials=" ", reason="x y z"))
    assert no_meters.status_code == 422
    assert "meters: paste at least one serial number" in no_meters.text
    push = sue.post(
        "/remote/check", data=_form(sue, kind="program_push", serials="A1", reason="why not")
    )
    assert push.status_code == 422
    assert "kind: choose one of the listed kinds" in push.text
    short = sue.post(
        "/remote/send",
        data=_form(sue, kind="ping", serials="A1", reason="x", idempotency_key="k" * 20),
    )
    assert short.status_code == 422
    assert "reason:" in short.text


def test_a_form_without_the_csrf_token_is_refused(sue: TestClient) -> None:
    for path, data in (
        ("/remote/check", {"kind": "ping", "serials": "A1", "reason": "no token"}),
        ("/remote/kill-switch", {"active": "on", "reason": "no token", "confirm": "yes"}),
    ):
        refused = sue.post(path, data=data)
        assert refused.status_code == 403
        assert "permission_denied.csrf" in refused.text
    wrong = sue.post(
        "/remote/kill-switch",
        data={"csrf_token": "not-the-token", "active": "on", "reason": "x y z", "confirm": "yes"},
    )
    assert wrong.status_code == 403
    assert sue.get("/api/v1/remote/overview").json()["kill_switch"]["active"] is False


def _held_request(database_url: str, serials: list[str], requester: str) -> int:
    """A ping request held for approval (a policy that counts pings, one meter per request)."""
    engine = make_engine(database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            actor = commands_service.resolve_actor(session, requester)
            held = commands_service.request(
                session,
                schemas.CommandRequestCreate(
                    kind=CommandType.PING,
                    serial_numbers=serials,
                    reason="needs a second person",
                    idempotency_key=f"held-{requester}-{'-'.join(serials)}",
                ),
                actor=actor,
                now=dt.datetime.now(dt.UTC),
                policy=CommandPolicy(thresholded_kinds=frozenset({"ping"}), request_meter_limit=1),
            )
            assert held.state is RequestState.AWAITING_APPROVAL
            return held.id
    finally:
        engine.dispose()


def test_approvals_inbox_refuses_the_requester_and_a_dispatcher(
    sue: TestClient, bob: TestClient, ann: TestClient, world: tuple[Settings, Loaded]
) -> None:
    settings, loaded = world
    request_id = _held_request(settings.database_url, loaded.all_serials[2:4], "sue")
    inbox = sue.get("/remote").text.split('id="approvals"')[1].split("</table>")[0]
    assert f'action="/remote/requests/{request_id}/approve"' in inbox

    assert step_up(sue, settings.database_url, "sue").status_code == 303
    own = sue.post(f"/remote/requests/{request_id}/approve", data=_form(sue))
    assert own.status_code == 403
    assert "the requester cannot approve their own request" in own.text
    dispatcher = ann.post(f"/remote/requests/{request_id}/approve", data=_form(ann))
    assert dispatcher.status_code == 403
    assert "permission_denied.role" in dispatcher.text
    engine = make_engine(settings.database_url)
    with session_scope(make_session_factory(engine)) as session:
        state = session.scalars(
            select(CommandRequest.state).where(CommandRequest.id == request_id)
        ).one()
    engine.dispose()
    assert state is RequestState.AWAITING_APPROVAL

    # Bob has a second factor but has not stepped up: the console sends him to /step-up first,
    # and the code form sends him back to the request.
    later = bob.post(
        f"/remote/requests/{request_id}/approve", data=_form(bob), follow_redirects=False
    )
    assert later.status_code == 303
    assert later.headers["location"] == f"/step-up?next=/remote%23request-{request_id}"
    form = bob.get(later.headers["location"])
    assert form.status_code == 200
    assert _hidden(form.text, "next") == f"/remote#request-{request_id}"
    back = step_up(bob, settings.database_url, "bob", next_path=_hidden(form.text, "next"))
    assert back.status_code == 303
    assert back.headers["location"] == f"/remote#request-{request_id}"
    approved = bob.post(f"/remote/requests/{request_id}/approve", data=_form(bob))
    assert approved.status_code == 200, approved.text
    assert f"Request {request_id} approved: released." in approved.text
    assert f'action="/remote/requests/{request_id}/approve"' not in approved.text
    twice = bob.post(f"/remote/requests/{request_id}/approve", data=_form(bob))
    assert twice.status_code == 409
    assert "not awaiting approval" in twice.text


def test_kill_switch_needs_confirmation_and_a_dispatcher_cannot_release(
    sue: TestClient, ann: TestClient
) -> None:
    unconfirmed = ann.post(
        "/remote/kill-switch", data=_form(ann, active="on", reason="storm drill")
    )
    assert unconfirmed.status_code == 422
    assert "tick the confirmation box" in unconfirmed.text
    no_reason = ann.post("/remote/kill-switch", data=_form(ann, active="on", confirm="yes"))
    assert no_reason.status_code == 422

    engaged = ann.post(
        "/remote/kill-switch", data=_form(ann, active="on", reason="storm drill", confirm="yes")
    )
    assert engaged.status_code == 200, engaged.text
    assert "Kill switch engaged" in engaged.text
    assert 'id="kill-switch-state">HALTED<' in engaged.text
    assert 'name="active" value="off"' in engaged.text

    refused = ann.post(
        "/remote/kill-switch", data=_form(ann, active="off", reason="all clear", confirm="yes")
    )
    assert refused.status_code == 403
    assert ann.get("/api/v1/remote/overview").json()["kill_switch"]["active"] is True

    released = sue.post(
        "/remote/kill-switch", data=_form(sue, active="off", reason="all clear", confirm="yes")
    )
    assert released.status_code == 200
    assert "Kill switch released" in released.text
    switch = sue.get("/api/v1/remote/overview").json()["kill_switch"]
    assert switch["active"] is False
    assert switch["changed_by"] == "sue"
    assert switch["reason"] == "all clear"


@pytest.mark.parametrize(("username", "status"), [("tom", 403), ("ali", 403)])
def test_roles_the_matrix_refuses(app_settings: Settings, username: str, status: int) -> None:
    for client in _client(app_settings, username):
        if username == "tom":
            assert client.get("/remote").status_code == status
        # Analysts may look and ping, but not touch the kill switch.
        answer = client.post(
            "/remote/kill-switch",
            data=_form(client, active="on", reason="not mine", confirm="yes"),
        )
        assert answer.status_code == status
        assert "permission_denied.role" in answer.text


def _outage(database_url: str, serials: list[str]) -> int:
    engine = make_engine(database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            meters = session.execute(
                select(Meter.id, Meter.serial_number).where(Meter.serial_number.in_(serials))
            ).all()
            now = dt.datetime.now(dt.UTC)
            incident = OutageIncident(
                level=OutageLevel.TRANSFORMER,
                device_code="TX-PAGES",
                started_at_utc=now,
                affected_meters=len(meters),
                last_gasps=len(meters),
                confidence=0.9,
                detected_at_utc=now,
            )
            session.add(incident)
            session.flush()
            session.add_all(
                OutageMember(incident_id=incident.id, meter_id=m.id, serial_number=m.serial_number)
                for m in meters
            )
            return incident.id
    finally:
        engine.dispose()


def test_bulk_by_query_turns_the_query_into_the_checked_list(
    sue: TestClient, world: tuple[Settings, Loaded]
) -> None:
    settings, loaded = world
    serials = loaded.all_serials[5:8]
    incident_id = _outage(settings.database_url, serials)
    by_outage = sue.post(
        "/remote/check",
        data=_form(sue, kind="ping", source="outage", query=str(incident_id), reason="restored?"),
    )
    assert by_outage.status_code == 200, by_outage.text
    preview = by_outage.text.split('id="preview"')[1].split("</section>")[0]
    assert "3 of 3 would be sent" in preview
    assert _hidden(preview, "serials").split(" ") == sorted(serials)

    prefix = loaded.all_serials[0]
    by_prefix = sue.post(
        "/remote/check",
        data=_form(sue, kind="ping", source="prefix", query=prefix, reason="one by prefix"),
    )
    assert by_prefix.status_code == 200, by_prefix.text
    picked = _hidden(by_prefix.text.split('id="preview"')[1], "serials").split(" ")
    assert prefix in picked
    assert all(s.startswith(prefix) for s in picked)

    unknown = sue.post(
        "/remote/check",
        data=_form(sue, kind="ping", source="outage", query="999999", reason="no such"),
    )
    assert unknown.status_code == 422
    assert "no outage incident 999999 in your territories" in unknown.text
    nothing = sue.post(
        "/remote/check",
        data=_form(sue, kind="ping", source="prefix", query="ZZZ-NONE", reason="none"),
    )
    assert nothing.status_code == 422
    assert "no meter of yours matches" in nothing.text
