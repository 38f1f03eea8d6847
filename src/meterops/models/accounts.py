"""Customers, accounts and their payment plans: the only place customer PII lives."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterops.db.base import Base, BigIntPK
from meterops.models._types import TimestampMixin, str_enum

__all__ = ["Account", "Customer", "PaymentPlan", "PaymentPlanStatus"]


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


class PaymentPlanStatus(StrEnum):
    """Where a payment arrangement stands in the CIS."""

    OPEN = "open"
    COMPLETED = "completed"
    DEFAULTED = "defaulted"
    CANCELLED = "cancelled"


class PaymentPlan(TimestampMixin, Base):
    """A payment arrangement of an account, as the CIS sends it (``payment_plans.csv``).

    A plan is open on day ``d`` when its status is ``open`` and ``start_date <= d <=
    end_date`` (no end date: open-ended). An account with an open plan is not disconnected
    remotely for non-payment (guard ``guard.payment_plan``).
    """

    __tablename__ = "payment_plans"
    __table_args__ = (
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="payment_plan_dates"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    plan_number: Mapped[str] = mapped_column(String(32), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    start_date: Mapped[dt.date]
    end_date: Mapped[dt.date | None]
    status: Mapped[PaymentPlanStatus] = mapped_column(
        str_enum(PaymentPlanStatus, "payment_plan_status"), default=PaymentPlanStatus.OPEN
    )
