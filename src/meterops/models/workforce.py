"""Technicians: skills, certifications, depot and shift."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from meterops.db.base import Base, BigIntPK

__all__ = ["Technician"]


class Technician(Base):
    """A field technician (a person on the utility's workforce, not a customer)."""

    __tablename__ = "technicians"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    employee_number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    skills: Mapped[list[str]]
    certifications: Mapped[list[str]]
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id"), index=True)
    depot_latitude: Mapped[float]
    depot_longitude: Mapped[float]
    shift_start: Mapped[dt.time]
    shift_end: Mapped[dt.time]
    break_minutes: Mapped[int] = mapped_column(default=30)
    max_stops: Mapped[int] = mapped_column(default=30)
    active: Mapped[bool] = mapped_column(default=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
