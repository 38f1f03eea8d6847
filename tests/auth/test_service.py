"""Users, sign-in, sessions and throttling against the real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from meterops.auth import service as auth
from meterops.auth.service import WRONG_CREDENTIALS, SessionPolicy
from meterops.auth.throttle import ThrottlePolicy
from meterops.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    NotSignedInError,
    TooManyAttemptsError,
)
from meterops.models.audit import AuditEvent
from meterops.models.auth import SignInAttempt, WebSession
from meterops.models.org import Role, Territory

T0 = dt.datetime(2026, 7, 6, 8, 0, tzinfo=dt.UTC)
PASSWORD = "correct horse battery"
POLICY = SessionPolicy(idle_s=1800, absolute_s=8 * 3600, throttle=ThrottlePolicy(3, 900, 900))


@pytest.fixture
def territory(session: Session) -> Territory:
    row = Territory(code="AUTHT", name="Auth test district", timezone="America/Chicago")
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def ana(session: Session, territory: Territory) -> str:
    auth.create_user(
        session,
        username="Ana",
        display_name="Ana Field",
        role=Role.TECHNICIAN,
        password=PASSWORD,
        territory_codes=[territory.code],
        actor="test",
    )
    return "ana"


def _sign_in(
    session: Session, name: str, password: str, *, at: dt.datetime = T0, client: str = "10.0.0.1"
) -> auth.SignedIn:
    return auth.sign_in(
        session, username=name, password=password, client_address=client, now=at, policy=POLICY
    )


def test_a_user_signs_in_and_the_session_resolves_to_them(
    session: Session, ana: str, territory: Territory
) -> None:
    signed = _sign_in(session, "ANA ", PASSWORD)
    assert signed.user.username == ana
    assert signed.user.territory_ids == frozenset({territory.id})
    stored = session.scalars(select(WebSession)).all()
    assert [s.token_digest for s in stored] != [signed.token]  # only the digest is stored
    user = auth.resolve_session(
        session, signed.token, now=T0 + dt.timedelta(minutes=5), policy=POLICY
    )
    assert user is not None
    assert user.role is Role.TECHNICIAN
    assert user.csrf_token == signed.user.csrf_token
    actions = session.scalars(select(AuditEvent.action)).all()
    assert "user.create" in actions
    assert "user.sign_in" in actions


@pytest.mark.parametrize(("name", "password"), [("ana", "wrong password!"), ("nobody", PASSWORD)])
def test_wrong_password_and_unknown_user_get_the_same_answer(
    session: Session, ana: str, name: str, password: str
) -> None:
    with pytest.raises(NotSignedInError) as refused:
        _sign_in(session, name, password)
    assert refused.value.message == WRONG_CREDENTIALS
    outcomes = session.scalars(select(SignInAttempt.outcome)).all()
    assert outcomes == ["wrong_password" if name == "ana" else "unknown_user"]


def test_a_disabled_user_cannot_sign_in_and_their_sessions_end(session: Session, ana: str) -> None:
    token = _sign_in(session, ana, PASSWORD).token
    auth.disable_user(session, username=ana, actor="admin", now=T0 + dt.timedelta(minutes=1))
    assert (
        auth.resolve_session(session, token, now=T0 + dt.timedelta(minutes=2), policy=POLICY)
        is None
    )
    with pytest.raises(NotSignedInError) as refused:
        _sign_in(session, ana, PASSWORD, at=T0 + dt.timedelta(minutes=3))
    assert refused.value.message == WRONG_CREDENTIALS


def test_sessions_end_when_idle_and_at_the_absolute_limit(session: Session, ana: str) -> None:
    idle = _sign_in(session, ana, PASSWORD).token
    assert auth.resolve_session(session, idle, now=T0 + dt.timedelta(minutes=29), policy=POLICY)
    assert auth.resolve_session(session, idle, now=T0 + dt.timedelta(minutes=58), policy=POLICY)
    assert (
        auth.resolve_session(session, idle, now=T0 + dt.timedelta(minutes=89), policy=POLICY)
        is None
    )
    busy = _sign_in(session, ana, PASSWORD, at=T0 + dt.timedelta(hours=1)).token
    at = T0 + dt.timedelta(hours=1)
    while at < T0 + dt.timedelta(hours=9):
        assert auth.resolve_session(session, busy, now=at, policy=POLICY) is not None
        at += dt.timedelta(minutes=20)
    assert auth.resolve_session(session, busy, now=at, policy=POLICY) is None
    reasons = sorted(r for r in session.scalars(select(WebSession.end_reason)) if r)
    assert reasons == ["expired", "idle"]


def test_resolving_without_recording_writes_nothing(session: Session, ana: str) -> None:
    token = _sign_in(session, ana, PASSWORD).token
    later = T0 + dt.timedelta(minutes=10)
    assert auth.resolve_session(session, token, now=later, policy=POLICY, record=False)
    assert session.scalar(select(WebSession.last_seen_at_utc)) == T0
    idle = T0 + dt.timedelta(minutes=45)
    assert auth.resolve_session(session, token, now=idle, policy=POLICY, record=False) is None
    assert session.scalar(select(WebSession.end_reason)) is None


def test_signing_in_again_replaces_the_presented_session(session: Session, ana: str) -> None:
    first = _sign_in(session, ana, PASSWORD).token
    second = auth.sign_in(
        session,
        username=ana,
        password=PASSWORD,
        client_address="10.0.0.1",
        now=T0,
        policy=POLICY,
        previous_token=first,
    )
    assert second.token != first
    assert auth.resolve_session(session, first, now=T0, policy=POLICY) is None
    assert auth.resolve_session(session, second.token, now=T0, policy=POLICY) is not None
    auth.sign_out(session, second.token, now=T0)
    assert auth.resolve_session(session, second.token, now=T0, policy=POLICY) is None


def test_failures_lock_the_name_even_for_the_right_password_then_unlock(
    session: Session, ana: str
) -> None:
    for minute in range(3):
        with pytest.raises(NotSignedInError):
            _sign_in(
                session,
                ana,
                "guess number x",
                at=T0 + dt.timedelta(minutes=minute),
                client=f"10.0.1.{minute}",
            )
    with pytest.raises(TooManyAttemptsError) as locked:
        _sign_in(session, ana, PASSWORD, at=T0 + dt.timedelta(minutes=3), client="10.9.9.9")
    assert locked.value.details["retry_after_s"] == 840
    assert _sign_in(session, ana, PASSWORD, at=T0 + dt.timedelta(minutes=18)).user.username == ana


def test_one_address_guessing_many_names_is_locked(session: Session, ana: str) -> None:
    for i, name in enumerate(["bo", "cy", "di"]):
        with pytest.raises(NotSignedInError):
            _sign_in(session, name, PASSWORD, at=T0 + dt.timedelta(seconds=i), client="6.6.6.6")
    with pytest.raises(TooManyAttemptsError):
        _sign_in(session, ana, PASSWORD, at=T0 + dt.timedelta(seconds=5), client="6.6.6.6")
    assert _sign_in(session, ana, PASSWORD, at=T0 + dt.timedelta(seconds=6)).token


def test_new_passwords_follow_the_rules_and_end_sessions(session: Session, ana: str) -> None:
    token = _sign_in(session, ana, PASSWORD).token
    with pytest.raises(InvalidInputError, match="at least 12 characters"):
        auth.set_password(session, username=ana, password="short", actor="ana", now=T0)
    auth.set_password(
        session,
        username=ana,
        password="a much longer passphrase",
        actor="ana",
        now=T0 + dt.timedelta(minutes=1),
    )
    assert (
        auth.resolve_session(session, token, now=T0 + dt.timedelta(minutes=2), policy=POLICY)
        is None
    )
    with pytest.raises(NotSignedInError):
        _sign_in(session, ana, PASSWORD, at=T0 + dt.timedelta(minutes=3))
    assert _sign_in(session, ana, "a much longer passphrase", at=T0 + dt.timedelta(minutes=4))


def test_user_names_are_unique_and_territories_must_exist(session: Session, ana: str) -> None:
    with pytest.raises(ConflictError):
        auth.create_user(
            session,
            username="ANA",
            display_name="x",
            role=Role.ANALYST,
            password=PASSWORD,
            territory_codes=[],
            actor="t",
        )
    with pytest.raises(NotFoundError, match="NOPE"):
        auth.create_user(
            session,
            username="cy",
            display_name="x",
            role=Role.ANALYST,
            password=PASSWORD,
            territory_codes=["NOPE"],
            actor="t",
        )
    listed = {user.username: codes for user, codes in auth.list_users(session)}
    assert listed["ana"] == ["AUTHT"]


def test_purge_removes_only_what_ended_or_expired_before_the_cut(
    session: Session, ana: str
) -> None:
    old = _sign_in(session, ana, PASSWORD).token
    auth.sign_out(session, old, now=T0 + dt.timedelta(minutes=1))
    _sign_in(session, ana, PASSWORD, at=T0 + dt.timedelta(minutes=5))  # never signed out
    late = _sign_in(session, ana, PASSWORD, at=T0 + dt.timedelta(hours=20)).token
    live = _sign_in(session, ana, PASSWORD, at=T0 + dt.timedelta(days=2)).token
    # The forgotten one expired at T0 + 8 h 5 min; the late one expires after the cut.
    assert auth.purge_ended(session, before=T0 + dt.timedelta(days=1)) == 2
    assert auth.resolve_session(
        session, late, now=T0 + dt.timedelta(hours=20, minutes=10), policy=POLICY, record=False
    )
    assert auth.resolve_session(session, live, now=T0 + dt.timedelta(days=2), policy=POLICY)
