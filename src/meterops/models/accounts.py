"""Customers and accounts: the only place customer PII lives."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterops.db.base import Base, BigIntPK

__all__ = ["Account", "Customer"]


class Customer(Base):
    """A person or business. PII: never copied into logs, exports or analyst views."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    customer_number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(200))


class Account(Base):
    """A customer's service at a service point between move-in and move-out.

    At most one account per service point is open (no move-out date) at a time.
    """

    __tablename__ = "accounts"
    __table_args__ = (
        Index(
            "uq_accounts_open_per_service_point",
            "service_point_id",
            unique=True,
            sqlite_where=text("move_out_date IS NULL"),
            postgresql_where=text("move_out_date IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    account_number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    service_point_id: Mapped[int] = mapped_column(ForeignKey("service_points.id"), index=True)
    move_in_date: Mapped[dt.date]
    move_out_date: Mapped[dt.date | None]
    rate_code: Mapped[str] = mapped_column(String(32))
    medical_life_support: Mapped[bool] = mapped_column(default=False)
    critical_facility: Mapped[bool] = mapped_column(default=False)
    net_metering: Mapped[bool] = mapped_column(default=False)

    customer: Mapped[Customer] = relationship(lazy="raise")

    def is_active_on(self, day: dt.date) -> bool:
        """Whether the account is open on ``day``."""
        return self.move_in_date <= day and (self.move_out_date is None or day < self.move_out_date)
