"""All SQL of the work-order capability: orders, their subjects, and listing with context."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, func, select

from meterops.db.repository import RepositoryBase
from meterops.models import (
    AuditEvent,
    Collector,
    Installation,
    Meter,
    Premise,
    ServicePoint,
    Technician,
    Territory,
    WorkOrder,
)
from meterops.workorders.lifecycle import ACTIVE_STATES, WorkOrderStatus

__all__ = ["MeterSite", "OrderRow", "WorkOrderRepository", "parse_order_number"]

_NUMBER = re.compile(r"^(?:WO-?)?0*(\d{1,12})$", re.IGNORECASE)


def parse_order_number(text: str) -> int | None:
    """The id inside an order number (``WO-000042``, ``wo-42`` or ``42``), or None."""
    match = _NUMBER.match(text.strip())
    return int(match.group(1)) if match else None


@dataclass(frozen=True, slots=True)
class MeterSite:
    """A meter and where it is installed now (service point and premise may be unknown)."""

    meter: Meter
    service_point: ServicePoint | None
    premise: Premise | None


@dataclass(frozen=True, slots=True)
class OrderRow:
    """An order with the natural keys people read."""

    order: WorkOrder
    meter_serial: str | None
    service_point_number: str | None
    address: str | None
    territory_code: str
    technician: str | None


class WorkOrderRepository(RepositoryBase[WorkOrder]):
    """Work orders and the subjects they point at."""

    model = WorkOrder

    def get_by_number(self, order_number: str) -> WorkOrder | None:
        """The order with this public number."""
        order_id = parse_order_number(order_number)
        return None if order_id is None else self.session.get(WorkOrder, order_id)

    def lock(self, order: WorkOrder) -> None:
        """Re-read an order under a row lock (PostgreSQL) before a status change."""
        self.session.execute(select(WorkOrder.id).where(WorkOrder.id == order.id).with_for_update())

    def active_for(self, subject_key: str, problem_code: str) -> WorkOrder | None:
        """The active order for a subject and problem, if any."""
        return self.session.scalars(
            select(WorkOrder).where(
                WorkOrder.subject_key == subject_key,
                WorkOrder.problem_code == problem_code,
                WorkOrder.status.in_(ACTIVE_STATES),
            )
        ).one_or_none()

    def bundle_candidates(
        self,
        *,
        territory_id: int,
        premise_id: int | None,
        latitude: float,
        longitude: float,
        lat_box_deg: float,
        lon_box_deg: float,
        exclude_id: int,
    ) -> Sequence[WorkOrder]:
        """Unplanned orders at the premise or inside a small box around a point."""
        near = WorkOrder.latitude.between(latitude - lat_box_deg, latitude + lat_box_deg) & (
            WorkOrder.longitude.between(longitude - lon_box_deg, longitude + lon_box_deg)
        )
        where = near if premise_id is None else (near | (WorkOrder.premise_id == premise_id))
        return self.session.scalars(
            select(WorkOrder)
            .where(
                WorkOrder.territory_id == territory_id,
                WorkOrder.status == WorkOrderStatus.CREATED,
                WorkOrder.id != exclude_id,
                where,
            )
            .order_by(WorkOrder.id)
        ).all()

    def bundle_members(self, bundle_key: str) -> Sequence[WorkOrder]:
        """Orders sharing a bundle key."""
        return self.session.scalars(
            select(WorkOrder).where(WorkOrder.bundle_key == bundle_key).order_by(WorkOrder.id)
        ).all()

    def meter_site(self, serial_number: str) -> MeterSite | None:
        """A meter with its current service point and premise."""
        meter = self.session.scalars(
            select(Meter).where(Meter.serial_number == serial_number)
        ).one_or_none()
        if meter is None:
            return None
        row = self.session.execute(
            select(ServicePoint, Premise)
            .join(Installation, Installation.service_point_id == ServicePoint.id)
            .join(Premise, Premise.id == ServicePoint.premise_id)
            .where(Installation.meter_id == meter.id, Installation.removed_at_utc.is_(None))
        ).one_or_none()
        if row is None:
            return MeterSite(meter, None, None)
        return MeterSite(meter, row[0], row[1])

    def service_point_site(self, number: str) -> tuple[ServicePoint, Premise] | None:
        """A service point with its premise."""
        row = self.session.execute(
            select(ServicePoint, Premise)
            .join(Premise, Premise.id == ServicePoint.premise_id)
            .where(ServicePoint.service_point_number == number)
        ).one_or_none()
        return None if row is None else (row[0], row[1])

    def collector(self, code: str) -> Collector | None:
        """A collector by code."""
        return self.session.scalars(select(Collector).where(Collector.code == code)).one_or_none()

    def territory_id(self, code: str) -> int | None:
        """A territory's id by code."""
        return self.session.scalars(
            select(Territory.id).where(Territory.code == code)
        ).one_or_none()

    def technician_id(self, employee_number: str) -> int | None:
        """A technician's id by employee number."""
        return self.session.scalars(
            select(Technician.id).where(Technician.employee_number == employee_number)
        ).one_or_none()

    def _rows(self) -> Select[WorkOrder, str, str, str, str, str, str]:
        return (
            select(
                WorkOrder,
                Meter.serial_number,
                ServicePoint.service_point_number,
                Premise.address_line,
                Premise.city,
                Territory.code,
                Technician.employee_number,
            )
            .join(Territory, Territory.id == WorkOrder.territory_id)
            .outerjoin(Meter, Meter.id == WorkOrder.meter_id)
            .outerjoin(ServicePoint, ServicePoint.id == WorkOrder.service_point_id)
            .outerjoin(Premise, Premise.id == WorkOrder.premise_id)
            .outerjoin(Technician, Technician.id == WorkOrder.technician_id)
        )

    def rows(
        self,
        *,
        ids: Collection[int] | None = None,
        statuses: Collection[WorkOrderStatus] = (),
        order_type: str | None = None,
        territory_id: int | None = None,
        technician_id: int | None = None,
        scheduled_date: dt.date | None = None,
        campaign: str | None = None,
        priority_at_most: int | None = None,
        limit: int = 200,
    ) -> list[OrderRow]:
        """Orders with their natural keys, most urgent first, then oldest."""
        query = self._rows()
        if ids is not None:
            query = query.where(WorkOrder.id.in_(list(ids)))
        if statuses:
            query = query.where(WorkOrder.status.in_(list(statuses)))
        if order_type is not None:
            query = query.where(WorkOrder.order_type == order_type)
        if territory_id is not None:
            query = query.where(WorkOrder.territory_id == territory_id)
        if technician_id is not None:
            query = query.where(WorkOrder.technician_id == technician_id)
        if scheduled_date is not None:
            query = query.where(WorkOrder.scheduled_date == scheduled_date)
        if campaign is not None:
            query = query.where(WorkOrder.campaign == campaign)
        if priority_at_most is not None:
            query = query.where(WorkOrder.priority <= priority_at_most)
        query = query.order_by(WorkOrder.priority, WorkOrder.id).limit(limit)
        return [
            OrderRow(
                order=order,
                meter_serial=serial,
                service_point_number=sp_number,
                address=f"{line}, {city}" if line else None,
                territory_code=territory,
                technician=technician,
            )
            for order, serial, sp_number, line, city, territory, technician in self.session.execute(
                query
            ).all()
        ]

    def counts_by_status(
        self, *, territory_id: int | None = None, order_type: str | None = None
    ) -> dict[WorkOrderStatus, int]:
        """How many orders are in each status."""
        query = select(WorkOrder.status, func.count()).group_by(WorkOrder.status)
        if territory_id is not None:
            query = query.where(WorkOrder.territory_id == territory_id)
        if order_type is not None:
            query = query.where(WorkOrder.order_type == order_type)
        return {status: int(count) for status, count in self.session.execute(query).tuples()}

    def history(self, order_number: str) -> Sequence[AuditEvent]:
        """The audit events of an order, oldest first."""
        return self.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "work_order", AuditEvent.entity_id == order_number)
            .order_by(AuditEvent.id)
        ).all()
