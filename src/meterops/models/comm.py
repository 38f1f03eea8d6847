"""AMI communication network: collectors/routers and meters' communication modules."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from meterops.assets.lifecycle import AssetStatus
from meterops.db.base import Base, BigIntPK
from meterops.models._types import str_enum

__all__ = ["Collector", "CollectorKind", "CommModule", "CommModuleLink"]


class CollectorKind(StrEnum):
    """Mesh infrastructure node kinds."""

    COLLECTOR = "collector"
    """Takeout point with backhaul to the head-end."""
    ROUTER = "router"
    """Relay on a pole; extends the mesh, no backhaul of its own."""


class Collector(Base):
    """A collector or router of the RF mesh."""

    __tablename__ = "collectors"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[CollectorKind] = mapped_column(str_enum(CollectorKind, "collector_kind"))
    vendor: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    latitude: Mapped[float]
    longitude: Mapped[float]
    backhaul: Mapped[str | None] = mapped_column(String(32))
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)


class CommModule(Base):
    """A communication module (NIC): a separate asset that can move between meters."""

    __tablename__ = "comm_modules"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    module_serial: Mapped[str] = mapped_column(String(32), unique=True)
    vendor: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(64))
    technology: Mapped[str] = mapped_column(String(32), default="rf_mesh")
    firmware_revision: Mapped[str | None] = mapped_column(String(32))
    lifecycle_status: Mapped[AssetStatus] = mapped_column(
        str_enum(AssetStatus, "asset_status"), default=AssetStatus.RECEIVED
    )


class CommModuleLink(Base):
    """A module fitted to a meter from ``linked_at_utc`` until ``unlinked_at_utc``."""

    __tablename__ = "comm_module_links"
    __table_args__ = (
        Index(
            "uq_comm_module_links_open_module",
            "comm_module_id",
            unique=True,
            sqlite_where=text("unlinked_at_utc IS NULL"),
            postgresql_where=text("unlinked_at_utc IS NULL"),
        ),
        Index(
            "uq_comm_module_links_open_meter",
            "meter_id",
            unique=True,
            sqlite_where=text("unlinked_at_utc IS NULL"),
            postgresql_where=text("unlinked_at_utc IS NULL"),
        ),
        CheckConstraint(
            "unlinked_at_utc IS NULL OR unlinked_at_utc >= linked_at_utc", name="link_order"
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    comm_module_id: Mapped[int] = mapped_column(ForeignKey("comm_modules.id"), index=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    linked_at_utc: Mapped[dt.datetime]
    unlinked_at_utc: Mapped[dt.datetime | None]
