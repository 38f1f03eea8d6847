"""Premises (addresses with coordinates) and the service points at them."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterops.db.base import Base, BigIntPK
from meterops.models._types import str_enum
from meterops.nomenclature import ServiceType

__all__ = ["Premise", "ServicePoint"]


class Premise(Base):
    """A place the utility serves: an address with a location.

    The address is operational data (technicians drive there); who lives there is in
    ``accounts`` only.
    """

    __tablename__ = "premises"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    premise_number: Mapped[str] = mapped_column(String(32), unique=True)
    address_line: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(32))
    postal_code: Mapped[str] = mapped_column(String(16))
    latitude: Mapped[float]
    longitude: Mapped[float]
    premise_type: Mapped[str] = mapped_column(String(32), default="residential")
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id"), index=True)


class ServicePoint(Base):
    """The point of delivery where a meter socket is: service type, voltage, allowed forms."""

    __tablename__ = "service_points"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    service_point_number: Mapped[str] = mapped_column(String(32), unique=True)
    premise_id: Mapped[int] = mapped_column(ForeignKey("premises.id"), index=True)
    transformer_id: Mapped[int | None] = mapped_column(ForeignKey("transformers.id"), index=True)
    service_type: Mapped[ServiceType] = mapped_column(str_enum(ServiceType, "service_type"))
    voltage_v: Mapped[int]
    phases: Mapped[int]
    wires: Mapped[int]
    transformer_rated: Mapped[bool] = mapped_column(default=False)
    compatible_forms: Mapped[list[str]]
    """Meter forms the socket takes (ANSI designations)."""

    premise: Mapped[Premise] = relationship(lazy="raise")
