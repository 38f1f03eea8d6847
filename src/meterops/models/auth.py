"""ORM: signed-in sessions and sign-in attempts (for throttling and the security log)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterops.db.base import Base, BigIntPK, UtcDateTime

__all__ = ["SignInAttempt", "WebSession"]


class WebSession(Base):
    """A signed-in browser session, server-side; the cookie holds a token, we its digest.

    A session ends at the first of: sign-out (``ended_at_utc``), ``idle`` minutes without a
    request after ``last_seen_at_utc``, or ``expires_at_utc`` (absolute limit from sign-in).
    ``stepped_up_at_utc`` is when the user last gave a valid second-factor code in this
    session (step-up); approvals need it recent.
    """

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_user_id", "user_id"),)

    token_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at_utc: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    last_seen_at_utc: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at_utc: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    ended_at_utc: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(32))
    stepped_up_at_utc: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class SignInAttempt(Base):
    """One sign-in attempt: who tried (the name typed, lower-cased), from where, and the outcome.

    The name is kept as typed even when no such user exists (needed to throttle guessing);
    nothing tells the person trying whether it exists.
    """

    __tablename__ = "sign_in_attempts"
    __table_args__ = (
        Index("ix_sign_in_attempts_username_at", "username", "attempted_at_utc"),
        Index("ix_sign_in_attempts_client_at", "client_address", "attempted_at_utc"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    attempted_at_utc: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    username: Mapped[str] = mapped_column(String(64))
    client_address: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column()
    outcome: Mapped[str] = mapped_column(String(32))
