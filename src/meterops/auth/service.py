"""Users and sign-in: create users, check passwords, open, resolve and end sessions.

Sign-in answers the same way whether the user name is unknown, the account is disabled or the
password is wrong ("Wrong user name or password."), and spends the same argon2 work in each
case. Every attempt is recorded (:class:`~meterops.models.auth.SignInAttempt`) and attempts are
throttled per user name and per client address (:mod:`meterops.auth.throttle`). A successful
sign-in always opens a *new* session (a fresh token: session fixation is impossible) and ends
the one the browser presented, if any.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from meterops.audit import service as audit
from meterops.auth.passwords import (
    DUMMY_HASH,
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)
from meterops.auth.throttle import ThrottlePolicy, decide
from meterops.auth.tokens import new_token, token_digest
from meterops.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    NotSignedInError,
    TooManyAttemptsError,
)
from meterops.models.auth import SignInAttempt, WebSession
from meterops.models.org import Role, Territory, User, UserTerritory

__all__ = [
    "WRONG_CREDENTIALS",
    "CurrentUser",
    "SessionPolicy",
    "SignedIn",
    "create_user",
    "disable_user",
    "list_users",
    "purge_ended",
    "resolve_session",
    "set_password",
    "sign_in",
    "sign_out",
]

WRONG_CREDENTIALS = "Wrong user name or password."
_TOUCH_EVERY = dt.timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long sessions last and how sign-in attempts are throttled.

    Attributes:
        idle_s: A session ends after this long without a request [s].
        absolute_s: A session ends this long after sign-in, however active [s].
        throttle: Limits on failed attempts per user name and per client address.
    """

    idle_s: int = 30 * 60
    absolute_s: int = 12 * 3600
    throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)


@dataclass(frozen=True, slots=True)
class CurrentUser:
    """The signed-in user of a request, with what access decisions need."""

    id: int
    username: str
    display_name: str
    role: Role
    territory_ids: frozenset[int]
    csrf_token: str


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: the token for the cookie (shown once, stored as a digest) and its user."""

    token: str
    user: CurrentUser
    expires_at_utc: dt.datetime


def _territory_ids(session: Session, user_id: int) -> frozenset[int]:
    rows = session.scalars(
        select(UserTerritory.territory_id).where(UserTerritory.user_id == user_id)
    )
    return frozenset(rows)


def _current(session: Session, user: User, csrf_token: str) -> CurrentUser:
    return CurrentUser(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        territory_ids=_territory_ids(session, user.id),
        csrf_token=csrf_token,
    )


def _check_password(password: str, username: str) -> None:
    problems = password_problems(password, username=username)
    if problems:
        raise InvalidInputError(
            f"The password was refused: {'; '.join(problems)}.",
            code="invalid_input.password",
            details={"field": "password", "problems": problems},
        )


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    role: Role,
    password: str,
    territory_codes: Sequence[str],
    actor: str,
) -> User:
    """Create a user with a password and access to territories.

    Raises:
        ConflictError: The user name is taken.
        NotFoundError: A territory code is unknown.
        InvalidInputError: The password breaks the rules (each rule broken is listed).
    """
    name = username.strip().casefold()
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise ConflictError(f"user name {name!r} is taken", details={"username": name})
    _check_password(password, name)
    territories = []
    for code in territory_codes:
        territory = session.scalar(select(Territory).where(Territory.code == code))
        if territory is None:
            raise NotFoundError(f"no territory with code {code!r}", details={"territory": code})
        territories.append(territory)
    user = User(
        username=name,
        display_name=display_name,
        role=role,
        password_hash=hash_password(password),
        active=True,
    )
    session.add(user)
    session.flush()
    session.add_all(UserTerritory(user_id=user.id, territory_id=t.id) for t in territories)
    audit.record(
        session,
        actor=actor,
        action="user.create",
        entity_type="user",
        entity_id=name,
        data={"role": role.value, "territories": [t.code for t in territories]},
    )
    session.flush()
    return user


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip().casefold()))
    if user is None:
        raise NotFoundError(f"no user named {username!r}", details={"username": username})
    return user


def _end_all(session: Session, user_id: int, now: dt.datetime, reason: str) -> None:
    session.execute(
        update(WebSession)
        .where(WebSession.user_id == user_id, WebSession.ended_at_utc.is_(None))
        .values(ended_at_utc=now, end_reason=reason)
    )


def set_password(
    session: Session, *, username: str, password: str, actor: str, now: dt.datetime
) -> None:
    """Replace a user's password; their open sessions end.

    Raises:
        NotFoundError: No such user.
        InvalidInputError: The password breaks the rules.
    """
    user = _user(session, username)
    _check_password(password, user.username)
    user.password_hash = hash_password(password)
    _end_all(session, user.id, now, "password_changed")
    audit.record(
        session,
        actor=actor,
        action="user.set_password",
        entity_type="user",
        entity_id=user.username,
        now=now,
    )
    session.flush()


def disable_user(session: Session, *, username: str, actor: str, now: dt.datetime) -> None:
    """Disable a user (they can no longer sign in); their open sessions end."""
    user = _user(session, username)
    user.active = False
    _end_all(session, user.id, now, "user_disabled")
    audit.record(
        session,
        actor=actor,
        action="user.disable",
        entity_type="user",
        entity_id=user.username,
        now=now,
    )
    session.flush()


def list_users(session: Session) -> list[tuple[User, list[str]]]:
    """Every user with the codes of their territories, by user name."""
    users = list(session.scalars(select(User).order_by(User.username)))
    pairs = session.execute(
        select(UserTerritory.user_id, Territory.code).join(
            Territory, Territory.id == UserTerritory.territory_id
        )
    ).all()
    codes: dict[int, list[str]] = {}
    for user_id, code in pairs:
        codes.setdefault(user_id, []).append(code)
    return [(u, sorted(codes.get(u.id, []))) for u in users]


def _failures(
    session: Session, column: InstrumentedAttribute[str], key: str, since: dt.datetime
) -> list[dt.datetime]:
    return list(
        session.scalars(
            select(SignInAttempt.attempted_at_utc).where(
                column == key,
                SignInAttempt.succeeded.is_(False),
                SignInAttempt.attempted_at_utc > since,
            )
        )
    )


def _record_attempt(
    session: Session, name: str, client: str, now: dt.datetime, outcome: str
) -> None:
    session.add(
        SignInAttempt(
            attempted_at_utc=now,
            username=name[:64],
            client_address=client[:64],
            succeeded=outcome == "ok",
            outcome=outcome,
        )
    )
    session.flush()


def sign_in(
    session: Session,
    *,
    username: str,
    password: str,
    client_address: str,
    now: dt.datetime,
    policy: SessionPolicy,
    previous_token: str | None = None,
) -> SignedIn:
    """Check a user name and password and open a new session.

    The caller must commit even when this raises :class:`NotSignedInError`, so the failed
    attempt is recorded (it counts towards throttling).

    Raises:
        TooManyAttemptsError: Too many recent failures for this user name or client address.
        NotSignedInError: Unknown user, disabled user or wrong password (one message for all).
    """
    name = username.strip().casefold()[:64]
    since = now - dt.timedelta(seconds=policy.throttle.window_s)
    for column, key in (
        (SignInAttempt.username, name),
        (SignInAttempt.client_address, client_address),
    ):
        verdict = decide(_failures(session, column, key, since), now, policy.throttle)
        if not verdict.allowed:
            _record_attempt(session, name, client_address, now, "throttled")
            raise TooManyAttemptsError(
                "Too many failed sign-ins. "
                f"Try again in {verdict.retry_after_s // 60 + 1} minutes.",
                details={"retry_after_s": verdict.retry_after_s},
            )
    user = session.scalar(select(User).where(User.username == name))
    stored = user.password_hash if user is not None and user.password_hash else DUMMY_HASH
    matches = verify_password(stored, password)
    if user is None or not user.active or not user.password_hash or not matches:
        outcome = (
            "unknown_user" if user is None else "disabled" if not user.active else "wrong_password"
        )
        _record_attempt(session, name, client_address, now, outcome)
        raise NotSignedInError(WRONG_CREDENTIALS)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if previous_token:
        session.execute(
            update(WebSession)
            .where(WebSession.token_digest == token_digest(previous_token))
            .values(ended_at_utc=now, end_reason="replaced")
        )
    token, csrf = new_token(), new_token()
    expires = now + dt.timedelta(seconds=policy.absolute_s)
    session.add(
        WebSession(
            token_digest=token_digest(token),
            user_id=user.id,
            csrf_token=csrf,
            created_at_utc=now,
            last_seen_at_utc=now,
            expires_at_utc=expires,
        )
    )
    _record_attempt(session, name, client_address, now, "ok")
    audit.record(
        session,
        actor=user.username,
        action="user.sign_in",
        entity_type="user",
        entity_id=user.username,
        data={"client": client_address},
        now=now,
    )
    return SignedIn(token=token, user=_current(session, user, csrf), expires_at_utc=expires)


def resolve_session(
    session: Session,
    token: str | None,
    *,
    now: dt.datetime,
    policy: SessionPolicy,
    record: bool = True,
) -> CurrentUser | None:
    """The user of a session token, or None when it is unknown, ended, idle or expired.

    Records the request (``last_seen_at_utc``, at most once a minute) and ends timed-out
    sessions with the reason; with ``record=False`` it only reads (nothing is written).
    """
    if not token:
        return None
    row = session.get(WebSession, token_digest(token))
    if row is None or row.ended_at_utc is not None:
        return None
    reason = None
    if now >= row.expires_at_utc:
        reason = "expired"
    elif now - row.last_seen_at_utc >= dt.timedelta(seconds=policy.idle_s):
        reason = "idle"
    user = session.get(User, row.user_id)
    if reason is None and (user is None or not user.active):
        reason = "user_disabled"
    if reason is not None:
        if record:
            row.ended_at_utc, row.end_reason = now, reason
            session.flush()
        return None
    assert user is not None
    if record and now - row.last_seen_at_utc >= _TOUCH_EVERY:
        row.last_seen_at_utc = now
        session.flush()
    return _current(session, user, row.csrf_token)


def sign_out(session: Session, token: str | None, *, now: dt.datetime) -> None:
    """End a session (nothing happens for an unknown or ended token)."""
    if not token:
        return
    session.execute(
        update(WebSession)
        .where(WebSession.token_digest == token_digest(token), WebSession.ended_at_utc.is_(None))
        .values(ended_at_utc=now, end_reason="signed_out")
    )


def purge_ended(session: Session, *, before: dt.datetime) -> int:
    """Delete sessions that ended before a time and attempts older than it; returns sessions."""
    result = session.execute(
        delete(WebSession).where(
            WebSession.ended_at_utc.is_not(None), WebSession.ended_at_utc < before
        )
    )
    session.execute(delete(SignInAttempt).where(SignInAttempt.attempted_at_utc < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
