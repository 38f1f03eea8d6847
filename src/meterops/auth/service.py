"""Users and sign-in: create users, check passwords, open, resolve and end sessions.

Sign-in answers the same way whether the user name is unknown, the account is disabled or the
password is wrong ("Wrong user name or password."), and spends the same argon2 work in each
case. Every attempt is recorded (:class:`~meterops.models.auth.SignInAttempt`) and attempts are
throttled per user name and per client address (:mod:`meterops.auth.throttle`). A successful
sign-in always opens a *new* session (a fresh token: session fixation is impossible) and ends
the one the browser presented, if any.

Second factor (step-up): a user enrols a TOTP secret (:mod:`meterops.auth.totp`), active once
a first code confirms it. Giving a valid code in a session records ``stepped_up_at_utc`` on it
(:func:`step_up`); sensitive actions (approving held remote commands) need a step-up younger
than :attr:`SessionPolicy.step_up_s` (:func:`step_up_is_fresh`). A code is accepted once (its
time step is remembered), and wrong codes are throttled like sign-ins (per user and client
address, counted apart from password failures).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from meterops.audit import service as audit
from meterops.auth import totp
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
    PermissionDeniedError,
    TooManyAttemptsError,
)
from meterops.models.auth import SignInAttempt, WebSession
from meterops.models.org import Role, Territory, User, UserTerritory

__all__ = [
    "NO_SECOND_FACTOR",
    "WRONG_CODE",
    "WRONG_CREDENTIALS",
    "CurrentUser",
    "MfaEnrolment",
    "SessionPolicy",
    "SignedIn",
    "begin_mfa_enrolment",
    "confirm_mfa_enrolment",
    "create_user",
    "disable_user",
    "has_second_factor",
    "list_users",
    "purge_ended",
    "reset_mfa",
    "resolve_session",
    "set_password",
    "sign_in",
    "sign_out",
    "step_up",
    "step_up_is_fresh",
    "verify_second_factor",
]

WRONG_CREDENTIALS = "Wrong user name or password."
WRONG_CODE = (
    "That code is not right, or it was already used. "
    "Enter the code your authenticator app shows now."
)
NO_SECOND_FACTOR = (
    "You have no second factor yet: an administrator sets one up with "
    "`meterops users mfa-enroll USERNAME`, then try again."
)
_OTP = "otp_"  # outcome prefix of second-factor attempts in sign_in_attempts
_TOUCH_EVERY = dt.timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long sessions last and how sign-in attempts are throttled.

    Attributes:
        idle_s: A session ends after this long without a request [s].
        absolute_s: A session ends this long after sign-in, however active [s].
        throttle: Limits on failed attempts per user name and per client address (sign-in
            passwords and second-factor codes, each counted apart).
        step_up_s: A step-up (second-factor code) counts for this long [s]; approvals of
            held remote commands need one this recent (CMD-03: 5 minutes).
    """

    idle_s: int = 30 * 60
    absolute_s: int = 12 * 3600
    throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    step_up_s: int = 5 * 60


@dataclass(frozen=True, slots=True)
class CurrentUser:
    """The signed-in user of a request, with what access decisions need."""

    id: int
    username: str
    display_name: str
    role: Role
    territory_ids: frozenset[int]
    csrf_token: str
    stepped_up_at_utc: dt.datetime | None = None


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


def _current(
    session: Session, user: User, csrf_token: str, stepped_up_at_utc: dt.datetime | None = None
) -> CurrentUser:
    return CurrentUser(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        territory_ids=_territory_ids(session, user.id),
        csrf_token=csrf_token,
        stepped_up_at_utc=stepped_up_at_utc,
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
    session: Session,
    column: InstrumentedAttribute[str],
    key: str,
    since: dt.datetime,
    *,
    second_factor: bool = False,
) -> list[dt.datetime]:
    kind = SignInAttempt.outcome.startswith(_OTP, autoescape=True)
    return list(
        session.scalars(
            select(SignInAttempt.attempted_at_utc).where(
                column == key,
                SignInAttempt.succeeded.is_(False),
                SignInAttempt.attempted_at_utc > since,
                kind if second_factor else ~kind,
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
            succeeded=outcome in {"ok", f"{_OTP}ok"},
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
    return _current(session, user, row.csrf_token, row.stepped_up_at_utc)


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
    """Delete sessions that ended or expired before a time, and attempts older than it.

    A session nobody signed out of never gets an end time; past its absolute expiry it can
    never be used again, so it goes too. Returns the sessions deleted.
    """
    result = session.execute(
        delete(WebSession).where(
            or_(
                and_(WebSession.ended_at_utc.is_not(None), WebSession.ended_at_utc < before),
                WebSession.expires_at_utc < before,
            )
        )
    )
    session.execute(delete(SignInAttempt).where(SignInAttempt.attempted_at_utc < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- second factor


@dataclass(frozen=True, slots=True)
class MfaEnrolment:
    """A second factor waiting for its first code: what to give the authenticator app.

    Attributes:
        username: Whose factor it is.
        secret: The base32 secret (shown once, to type into the app).
        uri: The ``otpauth://`` URI with the secret (for a QR code or a link).
    """

    username: str
    secret: str
    uri: str


def has_second_factor(session: Session, username: str) -> bool:
    """Whether a user has a confirmed second factor."""
    confirmed = session.scalar(
        select(User.mfa_confirmed_at_utc).where(User.username == username.strip().casefold())
    )
    return confirmed is not None


def begin_mfa_enrolment(
    session: Session, *, username: str, actor: str, now: dt.datetime
) -> MfaEnrolment:
    """Give a user a new TOTP secret; it is active only once :func:`confirm_mfa_enrolment`.

    Raises:
        NotFoundError: No such user.
        ConflictError: The user already has a confirmed factor (an admin resets it first).
    """
    user = _user(session, username)
    if user.mfa_confirmed_at_utc is not None:
        raise ConflictError(
            f"{user.username} already has a second factor; an administrator removes it first "
            f"with `meterops users mfa-reset {user.username}`",
            code="conflict.second_factor",
            details={"username": user.username},
        )
    secret = totp.new_secret()
    user.mfa_secret, user.mfa_confirmed_at_utc, user.mfa_last_step = secret, None, None
    audit.record(
        session,
        actor=actor,
        action="user.mfa_enrolment_started",
        entity_type="user",
        entity_id=user.username,
        now=now,
    )
    session.flush()
    return MfaEnrolment(user.username, secret, totp.otpauth_uri(secret, account=user.username))


def _check_code(
    session: Session,
    user: User,
    code: str,
    *,
    client_address: str,
    now: dt.datetime,
    policy: SessionPolicy,
) -> None:
    """Throttle, verify and record one code for a user with a (pending or confirmed) secret."""
    since = now - dt.timedelta(seconds=policy.throttle.window_s)
    for column, key in (
        (SignInAttempt.username, user.username),
        (SignInAttempt.client_address, client_address),
    ):
        failures = _failures(session, column, key, since, second_factor=True)
        verdict = decide(failures, now, policy.throttle)
        if not verdict.allowed:
            _record_attempt(session, user.username, client_address, now, f"{_OTP}throttled")
            raise TooManyAttemptsError(
                f"Too many wrong codes. Try again in {verdict.retry_after_s // 60 + 1} minutes.",
                details={"retry_after_s": verdict.retry_after_s},
            )
    assert user.mfa_secret is not None
    step = totp.verify(user.mfa_secret, code, now, after_step=user.mfa_last_step)
    if step is None:
        _record_attempt(session, user.username, client_address, now, f"{_OTP}wrong_code")
        raise PermissionDeniedError(WRONG_CODE, code="auth.wrong_code")
    user.mfa_last_step = step
    _record_attempt(session, user.username, client_address, now, f"{_OTP}ok")


def confirm_mfa_enrolment(
    session: Session,
    *,
    username: str,
    code: str,
    actor: str,
    now: dt.datetime,
    policy: SessionPolicy,
    client_address: str = "cli",
) -> None:
    """Activate a pending second factor with one valid code from the authenticator app.

    The caller must commit even when this raises, so a wrong code counts towards throttling.

    Raises:
        NotFoundError: No such user.
        ConflictError: No enrolment is pending (or the factor is already active).
        PermissionDeniedError: The code is wrong (``auth.wrong_code``).
        TooManyAttemptsError: Too many recent wrong codes.
    """
    user = _user(session, username)
    if user.mfa_secret is None or user.mfa_confirmed_at_utc is not None:
        raise ConflictError(
            f"{user.username} has no second factor waiting for confirmation",
            code="conflict.second_factor",
            details={"username": user.username},
        )
    _check_code(session, user, code, client_address=client_address, now=now, policy=policy)
    user.mfa_confirmed_at_utc = now
    audit.record(
        session,
        actor=actor,
        action="user.mfa_enrolled",
        entity_type="user",
        entity_id=user.username,
        now=now,
    )
    session.flush()


def reset_mfa(session: Session, *, username: str, actor: str, now: dt.datetime) -> None:
    """Remove a user's second factor (lost phone); their sessions lose any step-up.

    Raises:
        NotFoundError: No such user.
    """
    user = _user(session, username)
    user.mfa_secret, user.mfa_confirmed_at_utc, user.mfa_last_step = None, None, None
    session.execute(
        update(WebSession).where(WebSession.user_id == user.id).values(stepped_up_at_utc=None)
    )
    audit.record(
        session,
        actor=actor,
        action="user.mfa_reset",
        entity_type="user",
        entity_id=user.username,
        now=now,
    )
    session.flush()


def verify_second_factor(
    session: Session,
    *,
    username: str,
    code: str,
    client_address: str,
    now: dt.datetime,
    policy: SessionPolicy,
) -> dt.datetime:
    """Check a user's second-factor code; a valid one counts as a step-up at ``now``.

    The caller must commit even when this raises, so a wrong code counts towards throttling.

    Returns:
        ``now``, the time of the step-up.

    Raises:
        NotFoundError: No such user.
        PermissionDeniedError: No confirmed factor (``auth.no_second_factor``, naming
            ``meterops users mfa-enroll``), or a wrong or reused code (``auth.wrong_code``).
        TooManyAttemptsError: Too many recent wrong codes.
    """
    user = _user(session, username)
    if user.mfa_secret is None or user.mfa_confirmed_at_utc is None:
        raise PermissionDeniedError(NO_SECOND_FACTOR, code="auth.no_second_factor")
    _check_code(session, user, code, client_address=client_address, now=now, policy=policy)
    audit.record(
        session,
        actor=user.username,
        action="user.step_up",
        entity_type="user",
        entity_id=user.username,
        data={"client": client_address},
        now=now,
    )
    session.flush()
    return now


def step_up(
    session: Session,
    token: str | None,
    *,
    code: str,
    client_address: str,
    now: dt.datetime,
    policy: SessionPolicy,
) -> dt.datetime:
    """Record a step-up on a live session after a valid second-factor code.

    The caller must commit even when this raises, so a wrong code counts towards throttling.

    Returns:
        The session's new ``stepped_up_at_utc`` (``now``).

    Raises:
        NotSignedInError: The token is not a live session.
        PermissionDeniedError: No confirmed factor, or a wrong or reused code.
        TooManyAttemptsError: Too many recent wrong codes.
    """
    current = resolve_session(session, token, now=now, policy=policy, record=False)
    if current is None or token is None:
        raise NotSignedInError("Please sign in.")
    when = verify_second_factor(
        session,
        username=current.username,
        code=code,
        client_address=client_address,
        now=now,
        policy=policy,
    )
    row = session.get(WebSession, token_digest(token))
    assert row is not None
    row.stepped_up_at_utc = when
    session.flush()
    return when


def step_up_is_fresh(
    stepped_up_at_utc: dt.datetime | None, now: dt.datetime, policy: SessionPolicy
) -> bool:
    """Whether a step-up still counts at ``now`` (at most ``policy.step_up_s`` old).

    Examples:
        >>> t = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
        >>> p = SessionPolicy()
        >>> [step_up_is_fresh(s, t, p) for s in (None, t, t - dt.timedelta(seconds=300))]
        [False, True, True]
        >>> step_up_is_fresh(t - dt.timedelta(seconds=301), t, p)
        False
    """
    if stepped_up_at_utc is None:
        return False
    age = now - stepped_up_at_utc
    return dt.timedelta(0) <= age <= dt.timedelta(seconds=policy.step_up_s)
