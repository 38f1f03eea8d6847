"""All SQL of the assets capability."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from meterops.db.repository import RepositoryBase
from meterops.models import (
    CommModule,
    CommModuleLink,
    Installation,
    Meter,
    MeterProgram,
    Premise,
    ServicePoint,
    Transformer,
)

__all__ = [
    "FleetSummaryRepository",
    "InstallationRepository",
    "MeterRepository",
    "ServicePointRepository",
]


class MeterRepository(RepositoryBase[Meter]):
    """Meters."""

    model = Meter

    def get_by_serial(self, serial_number: str) -> Meter | None:
        """The meter with this serial, with its program loaded."""
        return self.session.scalars(
            select(Meter)
            .options(joinedload(Meter.program))
            .where(Meter.serial_number == serial_number)
        ).one_or_none()

    def program_by_code(self, program_code: str) -> MeterProgram | None:
        """A meter program by code."""
        return self.session.scalars(
            select(MeterProgram).where(MeterProgram.program_code == program_code)
        ).one_or_none()

    def current_comm_module(self, meter_id: int) -> tuple[CommModule, CommModuleLink] | None:
        """The module fitted now, with its link."""
        row = self.session.execute(
            select(CommModule, CommModuleLink)
            .join(CommModuleLink, CommModuleLink.comm_module_id == CommModule.id)
            .where(CommModuleLink.meter_id == meter_id, CommModuleLink.unlinked_at_utc.is_(None))
        ).one_or_none()
        return None if row is None else (row[0], row[1])


class ServicePointRepository(RepositoryBase[ServicePoint]):
    """Service points."""

    model = ServicePoint

    def get_by_number(self, number: str) -> ServicePoint | None:
        """The service point with this number, with its premise loaded."""
        return self.session.scalars(
            select(ServicePoint)
            .options(joinedload(ServicePoint.premise))
            .where(ServicePoint.service_point_number == number)
        ).one_or_none()

    def transformer_and_feeder(self, service_point: ServicePoint) -> tuple[str, str] | None:
        """Codes of the service point's transformer and feeder."""
        if service_point.transformer_id is None:
            return None
        transformer = self.session.scalars(
            select(Transformer)
            .options(joinedload(Transformer.feeder))
            .where(Transformer.id == service_point.transformer_id)
        ).one()
        return transformer.code, transformer.feeder.code

    def premise(self, service_point: ServicePoint) -> Premise:
        """The service point's premise."""
        return self.session.get_one(Premise, service_point.premise_id)


class InstallationRepository(RepositoryBase[Installation]):
    """Installation history."""

    model = Installation

    def open_for_meter(self, meter_id: int) -> Installation | None:
        """The meter's current installation, with its service point loaded."""
        return self.session.scalars(
            select(Installation)
            .options(joinedload(Installation.service_point))
            .where(Installation.meter_id == meter_id, Installation.removed_at_utc.is_(None))
        ).one_or_none()

    def open_for_service_point(self, service_point_id: int) -> Installation | None:
        """The installation open at a service point, with its meter loaded."""
        return self.session.scalars(
            select(Installation)
            .options(joinedload(Installation.meter))
            .where(
                Installation.service_point_id == service_point_id,
                Installation.removed_at_utc.is_(None),
            )
        ).one_or_none()

    def history_for_meter(self, meter_id: int) -> Sequence[Installation]:
        """Every installation of the meter, newest first."""
        return self.session.scalars(
            select(Installation)
            .options(joinedload(Installation.service_point))
            .where(Installation.meter_id == meter_id)
            .order_by(Installation.installed_at_utc.desc())
        ).all()


class FleetSummaryRepository:
    """Counts over the fleet."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def meters_by_status(self) -> dict[str, int]:
        """Meter count per lifecycle status."""
        rows = self.session.execute(
            select(Meter.lifecycle_status, func.count()).group_by(Meter.lifecycle_status)
        ).all()
        return {status.value: count for status, count in rows}

    def meters_by_form(self) -> dict[str, int]:
        """Meter count per form."""
        rows = self.session.execute(
            select(Meter.form, func.count()).group_by(Meter.form).order_by(Meter.form)
        ).all()
        return dict(rows)

    def search(
        self, prefix: str, *, limit: int, territory_ids: Collection[int] | None = None
    ) -> Sequence[Meter]:
        """Meters whose serial starts with ``prefix``.

        With ``territory_ids``, only meters installed in one of those territories and meters
        never installed (in stock: in no territory).
        """
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = select(Meter).where(Meter.serial_number.like(f"{escaped}%", escape="\\"))
        if territory_ids is not None:
            placed = (
                select(Installation.id)
                .join(ServicePoint, ServicePoint.id == Installation.service_point_id)
                .join(Premise, Premise.id == ServicePoint.premise_id)
                .where(
                    Installation.meter_id == Meter.id,
                    Installation.removed_at_utc.is_(None),
                    Premise.territory_id.in_(list(territory_ids)),
                )
            )
            never = select(Installation.id).where(Installation.meter_id == Meter.id)
            query = query.where(placed.exists() | ~never.exists())
        return self.session.scalars(query.order_by(Meter.serial_number).limit(limit)).all()
