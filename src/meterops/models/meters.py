"""Meters, their programs and firmware, and installation history."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterops.assets.lifecycle import AssetStatus
from meterops.db.base import Base, BigIntPK
from meterops.models._types import TimestampMixin, str_enum
from meterops.models.premises import ServicePoint

__all__ = ["DemandMethod", "FirmwareRevision", "Installation", "Meter", "MeterProgram"]


class DemandMethod(StrEnum):
    """How the meter computes demand."""

    BLOCK = "block"
    ROLLING = "rolling"


class MeterProgram(Base):
    """A meter program: TOU schedule, demand settings and recorded channels.

    ``tou_schedule`` is a document validated by ``assets.programs.TouSchedule`` (seasons,
    day types, periods as local switch times, holidays).
    """

    __tablename__ = "meter_programs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    program_code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(1000))
    tariff_code: Mapped[str | None] = mapped_column(String(32))
    tou_schedule: Mapped[dict[str, Any]]
    demand_interval_min: Mapped[int] = mapped_column(default=15)
    demand_method: Mapped[DemandMethod] = mapped_column(
        str_enum(DemandMethod, "demand_method"), default=DemandMethod.BLOCK
    )
    demand_subinterval_min: Mapped[int | None]
    channels: Mapped[list[str]]


class FirmwareRevision(Base):
    """A firmware revision of a meter model, with its status (approved, recalled …)."""

    __tablename__ = "firmware_revisions"
    __table_args__ = (UniqueConstraint("vendor", "model", "revision"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    vendor: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(64))
    revision: Mapped[str] = mapped_column(String(32))
    released_on: Mapped[dt.date | None]
    status: Mapped[str] = mapped_column(String(32), default="approved")


class Meter(TimestampMixin, Base):
    """A revenue meter.

    The register multiplier is not stored: it is ``ct_ratio × pt_ratio`` (1 for
    self-contained meters), so the two can never disagree.
    """

    __tablename__ = "meters"
    __table_args__ = (
        CheckConstraint("ct_ratio > 0 AND pt_ratio > 0", name="positive_ratios"),
        CheckConstraint("register_digits BETWEEN 3 AND 9", name="register_digits_range"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    serial_number: Mapped[str] = mapped_column(String(32), unique=True)
    vendor: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(64))
    form: Mapped[str] = mapped_column(String(8))
    meter_class: Mapped[str] = mapped_column(String(8))
    accuracy_class: Mapped[str] = mapped_column(String(8))
    firmware_revision: Mapped[str | None] = mapped_column(String(32))
    program_id: Mapped[int | None] = mapped_column(ForeignKey("meter_programs.id"), index=True)
    ct_ratio: Mapped[float] = mapped_column(default=1.0)
    pt_ratio: Mapped[float] = mapped_column(default=1.0)
    bidirectional: Mapped[bool] = mapped_column(default=False)
    has_disconnect_switch: Mapped[bool] = mapped_column(default=False)
    register_digits: Mapped[int] = mapped_column(default=5)
    register_decimals: Mapped[int] = mapped_column(default=0)
    kh: Mapped[float | None]
    manufactured_on: Mapped[dt.date | None]
    received_on: Mapped[dt.date | None]
    lot_number: Mapped[str | None] = mapped_column(String(32))
    lifecycle_status: Mapped[AssetStatus] = mapped_column(
        str_enum(AssetStatus, "asset_status"), default=AssetStatus.RECEIVED, index=True
    )

    program: Mapped[MeterProgram | None] = relationship(lazy="raise")

    @property
    def multiplier(self) -> float:
        """Register multiplier (transformer factor) = CT ratio × PT ratio."""
        return self.ct_ratio * self.pt_ratio


class Installation(Base):
    """A meter installed at a service point from ``installed_at_utc`` until removal.

    A meter and a service point each have at most one open installation.
    """

    __tablename__ = "installations"
    __table_args__ = (
        Index(
            "uq_installations_open_meter",
            "meter_id",
            unique=True,
            sqlite_where=text("removed_at_utc IS NULL"),
            postgresql_where=text("removed_at_utc IS NULL"),
        ),
        Index(
            "uq_installations_open_service_point",
            "service_point_id",
            unique=True,
            sqlite_where=text("removed_at_utc IS NULL"),
            postgresql_where=text("removed_at_utc IS NULL"),
        ),
        CheckConstraint(
            "removed_at_utc IS NULL OR removed_at_utc >= installed_at_utc", name="removal_order"
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    service_point_id: Mapped[int] = mapped_column(ForeignKey("service_points.id"), index=True)
    installed_at_utc: Mapped[dt.datetime]
    installed_by: Mapped[str] = mapped_column(String(64))
    install_read_kwh: Mapped[float | None]
    removed_at_utc: Mapped[dt.datetime | None]
    removed_by: Mapped[str | None] = mapped_column(String(64))
    removal_read_kwh: Mapped[float | None]
    removal_reason: Mapped[str | None] = mapped_column(String(200))
    work_order_ref: Mapped[str | None] = mapped_column(String(64))

    meter: Mapped[Meter] = relationship(lazy="raise")
    service_point: Mapped[ServicePoint] = relationship(lazy="raise")
