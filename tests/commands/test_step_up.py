"""CMD-03: an approver needs a step-up second factor from the last 5 minutes (ASVS 7.5.3).

Every case is rejected: no factor, no step-up, a step-up 5 min + 1 s old, a replayed code,
wrong codes (throttled), an approval 30 min + 1 s after the request; in time it is accepted.
Through the service (simulated time), the JSON API (the real app, cookies and CSRF) and the
command line. Codes are real TOTP codes from :mod:`meterops.auth.totp`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from meterops.audit.service import verify_chain
from meterops.auth import service as auth_service
from meterops.auth import totp
from meterops.cli import context
from meterops.cli.main import app as cli_app
from meterops.commands import schemas
from meterops.commands import service as commands_service
from meterops.commands.errors import NotApprovableError
from meterops.commands.policy import CommandPolicy
from meterops.config import Settings
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.errors import PermissionDeniedError, TooManyAttemptsError
from meterops.models import User
from meterops.models.audit import AuditEvent
from meterops.models.auth import WebSession
from meterops.models.commands import CommandType, RequestState
from meterops.models.org import Role
from tests.commands.world import Loaded, add_user, load_world
from tests.fixtures.web import (
    app_with_step_up,
    csrf_token,
    fresh_code,
    sign_in,
    step_up,
)

POLICY = CommandPolicy()
PING_HELD = CommandPolicy(thresholded_kinds=frozenset({"ping"}), request_meter_limit=1)
PASSWORD = "a long enough passphrase"
LIMIT = dt.timedelta(seconds=auth_service.SessionPolicy().step_up_s)


def _held(session: Session, loaded: Loaded, requester: str, key: str, now: dt.datetime) -> int:
    actor = commands_service.resolve_actor(session, requester)
    held = commands_service.request(
        session,
        schemas.CommandRequestCreate(
            kind=CommandType.PING,
            serial_numbers=loaded.all_serials[:2],
            reason="needs a second person",
            idempotency_key=key,
        ),
        actor=actor,
        now=now,
        policy=PING_HELD,
    )
    assert held.state is RequestState.AWAITING_APPROVAL
    return held.id


# --------------------------------------------------------------------------- the service


@pytest.fixture
def loaded(session: Session, tmp_path: Path) -> Loaded:
    loaded = load_world(session, tmp_path / "fleet")
    add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    add_user(session, "bob", Role.SUPERVISOR, [loaded.territory])
    add_user(session, "nia", Role.SUPERVISOR, [loaded.territory], second_factor=False)
    return loaded


def _approve(
    session: Session, request_id: int, who: str, now: dt.datetime, stepped: dt.datetime | None
) -> schemas.CommandRequestRead:
    actor = commands_service.resolve_actor(session, who)
    return commands_service.approve(
        session, request_id, actor=actor, now=now, policy=POLICY, stepped_up_at_utc=stepped
    )


def test_service_rejects_every_approval_without_a_recent_step_up(
    session: Session, loaded: Loaded
) -> None:
    now = loaded.clock.now()
    request_id = _held(session, loaded, "ann", "cmd03-service-1", now)
    at = now + dt.timedelta(minutes=10)
    cases = {
        "no factor": ("nia", at, at, "meterops users mfa-enroll nia"),
        "no step-up": ("bob", at, None, "step up with your authenticator code first"),
        "5 min + 1 s old": (
            "bob",
            at,
            at - LIMIT - dt.timedelta(seconds=1),
            "second factor from the last 5 minutes",
        ),
        "from the future": ("bob", at, at + dt.timedelta(seconds=1), "step up"),
        "30 min + 1 s late": (
            "bob",
            now + dt.timedelta(seconds=POLICY.approval_timeout_s + 1),
            now + dt.timedelta(seconds=POLICY.approval_timeout_s + 1),
            "approval window closed",
        ),
    }
    for case, (who, when, stepped, message) in cases.items():
        with pytest.raises(NotApprovableError, match=message):
            _approve(session, request_id, who, when, stepped)
        assert commands_service.get_request(session, request_id).state == "awaiting_approval", case
    refusals = session.scalars(
        select(AuditEvent.reason).where(
            AuditEvent.action == "command.approve_refused",
            AuditEvent.entity_id == str(request_id),
        )
    ).all()
    assert len(refusals) == len(cases)
    # Exactly 5 minutes old, at the end of the 30-minute window: accepted.
    last = now + dt.timedelta(seconds=POLICY.approval_timeout_s)
    approved = _approve(session, request_id, "bob", last, last - LIMIT)
    assert (approved.state, approved.approved_by) == ("released", "bob")
    assert verify_chain(session) == []


def test_service_step_up_with_a_real_code_once_and_wrong_codes_throttled(
    session: Session, loaded: Loaded
) -> None:
    now = loaded.clock.now()
    secret = session.scalars(select(User.mfa_secret).where(User.username == "bob")).one()
    assert secret is not None
    limits = auth_service.SessionPolicy()

    def verify(code: str, at: dt.datetime, client: str = "desk-1") -> dt.datetime:
        return auth_service.verify_second_factor(
            session, username="bob", code=code, client_address=client, now=at, policy=limits
        )

    code = totp.code_at(secret, now)
    stepped = verify(code, now)
    assert stepped == now
    with pytest.raises(PermissionDeniedError, match="already used") as replay:
        verify(code, now + dt.timedelta(seconds=5))
    assert replay.value.code == "auth.wrong_code"
    with pytest.raises(PermissionDeniedError, match="no second factor"):
        auth_service.verify_second_factor(
            session, username="nia", code=code, client_address="x", now=now, policy=limits
        )
    request_id = _held(session, loaded, "ann", "cmd03-service-2", now)
    assert _approve(session, request_id, "bob", now, stepped).state == "released"

    later = now + dt.timedelta(minutes=2)
    right = totp.code_at(secret, later)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    for _ in range(limits.throttle.max_failures - 1):  # the replay above was one failure
        with pytest.raises(PermissionDeniedError, match="not right"):
            verify(wrong, later)
    with pytest.raises(TooManyAttemptsError) as throttled:
        verify(right, later + dt.timedelta(seconds=1))
    assert throttled.value.details["retry_after_s"] > 0
    # Code failures are counted apart from passwords: sign-in attempts are not locked by them.
    after = later + dt.timedelta(seconds=limits.throttle.lockout_s + 1)
    assert verify(totp.code_at(secret, after), after) == after


def test_reset_removes_the_factor_and_every_sessions_step_up(
    session: Session, loaded: Loaded
) -> None:
    now = loaded.clock.now()
    auth_service.set_password(session, username="bob", password=PASSWORD, actor="t", now=now)
    limits = auth_service.SessionPolicy()
    signed = auth_service.sign_in(
        session, username="bob", password=PASSWORD, client_address="c", now=now, policy=limits
    )
    secret = session.scalars(select(User.mfa_secret).where(User.username == "bob")).one()
    assert secret is not None
    when = auth_service.step_up(
        session,
        signed.token,
        code=totp.code_at(secret, now),
        client_address="c",
        now=now,
        policy=limits,
    )
    current = auth_service.resolve_session(session, signed.token, now=now, policy=limits)
    assert current is not None
    assert current.stepped_up_at_utc == when
    auth_service.reset_mfa(session, username="bob", actor="admin", now=now)
    current = auth_service.resolve_session(session, signed.token, now=now, policy=limits)
    assert current is not None
    assert current.stepped_up_at_utc is None
    assert not auth_service.has_second_factor(session, "bob")
    request_id = _held(session, loaded, "ann", "cmd03-service-3", now)
    with pytest.raises(NotApprovableError, match="mfa-enroll"):
        _approve(session, request_id, "bob", now, now)


# --------------------------------------------------------------------------- API and CLI


@pytest.fixture(scope="module")
def world(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, Loaded]:
    folder = tmp_path_factory.mktemp("step-up")
    engine = make_engine(module_database_url)
    with session_scope(make_session_factory(engine)) as session:
        loaded = load_world(session, folder / "fleet")
        add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
        for name in ("bob", "zed", "cli-sue"):
            add_user(session, name, Role.SUPERVISOR, [loaded.territory])
        add_user(session, "nia", Role.SUPERVISOR, [loaded.territory], second_factor=False)
        for name in ("ann", "bob", "zed", "nia"):
            auth_service.set_password(
                session, username=name, password=PASSWORD, actor="test", now=loaded.clock.now()
            )
    engine.dispose()
    settings = Settings(
        database_url=module_database_url, data_dir=folder / "var", cookie_secure=False
    )
    return settings, loaded


def _held_now(settings: Settings, loaded: Loaded, key: str) -> int:
    engine = make_engine(settings.database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            return _held(session, loaded, "ann", key, dt.datetime.now(dt.UTC))
    finally:
        engine.dispose()


@pytest.fixture
def client_for(world: tuple[Settings, Loaded]) -> Iterator[object]:
    opened: list[TestClient] = []

    def make(username: str) -> TestClient:
        client = TestClient(app_with_step_up(world[0]))
        client.__enter__()
        opened.append(client)
        assert sign_in(client, username, PASSWORD).status_code == 303
        client.headers["X-CSRF-Token"] = csrf_token(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def test_api_approval_needs_a_recent_step_up_through_the_real_app(
    world: tuple[Settings, Loaded], client_for: object
) -> None:
    settings, loaded = world
    url = settings.database_url
    request_id = _held_now(settings, loaded, "cmd03-api-1")
    approve = f"/api/v1/remote/requests/{request_id}/approve"
    make = client_for
    assert callable(make)

    nia = make("nia")
    refused = nia.post(approve)
    assert refused.status_code == 403
    assert "meterops users mfa-enroll nia" in refused.json()["error"]["message"]
    assert "no second factor yet" in nia.get("/step-up").text

    bob = make("bob")
    refused = bob.post(approve)
    assert refused.status_code == 403
    assert "step up with your authenticator code first" in refused.json()["error"]["message"]

    # No CSRF token: refused before the code is even looked at.
    forged = bob.post(
        "/step-up",
        data={"code": fresh_code(url, "bob"), "next": "/remote"},
        headers={"X-CSRF-Token": ""},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    wrong = bob.post(
        "/step-up", data={"code": "000000x", "next": "/remote"}, follow_redirects=False
    )
    assert wrong.status_code == 403
    assert "That code is not right" in wrong.text

    code = fresh_code(url, "bob")
    ok = bob.post(
        "/step-up", data={"code": code, "next": "https://evil.example/"}, follow_redirects=False
    )
    assert ok.status_code == 303
    assert ok.headers["location"] == "/"  # never off-site
    replayed = bob.post("/step-up", data={"code": code, "next": "/"}, follow_redirects=False)
    assert replayed.status_code == 403
    assert "already used" in replayed.text

    # A step-up 5 min + 1 s old no longer counts.
    engine = make_engine(url)
    with session_scope(make_session_factory(engine)) as session:
        bob_id = session.scalars(select(User.id).where(User.username == "bob")).one()
        session.execute(
            update(WebSession)
            .where(WebSession.user_id == bob_id, WebSession.ended_at_utc.is_(None))
            .values(stepped_up_at_utc=dt.datetime.now(dt.UTC) - LIMIT - dt.timedelta(seconds=1))
        )
    engine.dispose()
    stale = bob.post(approve)
    assert stale.status_code == 403
    assert "from the last 5 minutes" in stale.json()["error"]["message"]

    assert step_up(bob, url, "bob").status_code == 303
    approved = bob.post(approve)
    assert approved.status_code == 200, approved.text
    assert approved.json()["approved_by"] == "bob"


def test_api_wrong_codes_are_throttled(world: tuple[Settings, Loaded], client_for: object) -> None:
    settings, _ = world
    make = client_for
    assert callable(make)
    zed = make("zed")
    right = fresh_code(settings.database_url, "zed")
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    # Failures count per user and per client address (every TestClient is "testclient", so
    # earlier tests' wrong codes count too): at most max_failures wrong codes get an answer.
    statuses = [
        zed.post("/step-up", data={"code": wrong, "next": "/"}, follow_redirects=False).status_code
        for _ in range(auth_service.SessionPolicy().throttle.max_failures)
    ]
    assert statuses[0] in {403, 429}
    assert set(statuses) <= {403, 429}
    throttled = zed.post("/step-up", data={"code": right, "next": "/"}, follow_redirects=False)
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0
    assert "Too many wrong codes" in throttled.text


@pytest.fixture
def cli(world: tuple[Settings, Loaded], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    settings, _ = world
    monkeypatch.setenv("METEROPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("METEROPS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("COLUMNS", "200")
    context.settings.cache_clear()
    context.engine.cache_clear()
    yield
    context.engine().dispose()
    context.settings.cache_clear()
    context.engine.cache_clear()


def test_cli_approve_checks_the_code_once(cli: None, world: tuple[Settings, Loaded]) -> None:
    settings, loaded = world
    url = settings.database_url
    runner = CliRunner()
    first = _held_now(settings, loaded, "cmd03-cli-1")
    second = _held_now(settings, loaded, "cmd03-cli-2")

    without = runner.invoke(cli_app, ["remote", "approve", str(first), "--as", "nia", "--otp", "1"])
    assert without.exit_code != 0
    assert "mfa-enroll" in str(without.exception or without.output)
    wrong = runner.invoke(
        cli_app, ["remote", "approve", str(first), "--as", "cli-sue", "--otp", "12345x"]
    )
    assert wrong.exit_code != 0
    assert "not right" in str(wrong.exception or wrong.output)

    code = fresh_code(url, "cli-sue")
    ok = runner.invoke(cli_app, ["remote", "approve", str(first), "--as", "cli-sue"], input=code)
    assert ok.exit_code == 0, ok.output
    assert "released" in ok.output
    replay = runner.invoke(
        cli_app, ["remote", "approve", str(second), "--as", "cli-sue", "--otp", code]
    )
    assert replay.exit_code != 0
    assert "already used" in str(replay.exception or replay.output)


def test_cli_enrolment_needs_a_confirming_code(
    cli: None, world: tuple[Settings, Loaded], monkeypatch: pytest.MonkeyPatch
) -> None:
    known = totp.new_secret()
    monkeypatch.setattr(totp, "new_secret", lambda: known)  # to type its code at the prompt
    runner = CliRunner()
    wrong = runner.invoke(cli_app, ["users", "mfa-enroll", "nia"], input="000000\n")
    assert known in wrong.output
    assert f"otpauth://totp/meterops:nia?secret={known}" in wrong.output
    if totp.code_at(known, dt.datetime.now(dt.UTC)) != "000000":
        assert wrong.exit_code != 0
        assert "not right" in str(wrong.exception or wrong.output)
    engine = make_engine(world[0].database_url)
    with session_scope(make_session_factory(engine)) as session:
        assert not auth_service.has_second_factor(session, "nia")  # pending, not active
    engine.dispose()
    code = totp.code_at(known, dt.datetime.now(dt.UTC))
    ok = runner.invoke(cli_app, ["users", "mfa-enroll", "nia", "--code", code])
    assert ok.exit_code == 0, ok.output
    assert "second factor active for nia" in ok.output
    again = runner.invoke(cli_app, ["users", "mfa-enroll", "nia", "--code", code])
    assert again.exit_code != 0
    assert "mfa-reset" in str(again.exception or again.output)
    reset = runner.invoke(cli_app, ["users", "mfa-reset", "nia"])
    assert reset.exit_code == 0
    engine = make_engine(world[0].database_url)
    with session_scope(make_session_factory(engine)) as session:
        assert not auth_service.has_second_factor(session, "nia")
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.entity_id == "nia")
        ).all()
    engine.dispose()
    assert {"user.mfa_enrolment_started", "user.mfa_enrolled", "user.mfa_reset"} <= set(actions)
