"""Territories, users and their roles × territories."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from meterops.db.base import Base, BigIntPK, UtcDateTime
from meterops.models._types import str_enum

__all__ = ["Role", "Territory", "User", "UserTerritory"]


class Role(StrEnum):
    """What a user does; permissions are granted per role and territory."""

    TECHNICIAN = "technician"
    DISPATCHER = "dispatcher"
    ANALYST = "analyst"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Territory(Base):
    """A service territory (district, operating area): the unit of access and dispatch."""

    __tablename__ = "territories"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="America/Chicago")


class User(Base):
    """A person who signs in. Password hashes are argon2; never the password itself.

    The second factor is a TOTP secret (RFC 6238, :mod:`meterops.auth.totp`): set at
    enrolment, active only once a code confirmed it (``mfa_confirmed_at_utc``);
    ``mfa_last_step`` is the last 30 s time step a code was accepted for, so no code is
    accepted twice.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    mfa_secret: Mapped[str | None] = mapped_column(String(64))
    mfa_confirmed_at_utc: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    mfa_last_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at_utc: Mapped[dt.datetime] = mapped_column(
        UtcDateTime(), server_default=func.current_timestamp()
    )


class UserTerritory(Base):
    """A user's access to one territory."""

    __tablename__ = "user_territories"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id"), primary_key=True)
