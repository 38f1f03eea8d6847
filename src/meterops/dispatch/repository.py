"""All SQL of dispatch: technicians and their days and stock, plannable orders, day plans."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from sqlalchemy import delete, or_, select

from meterops.db.repository import RepositoryBase
from meterops.models import (
    DayPlan,
    DayPlanActivity,
    DayPlanOrder,
    DayPlanRoute,
    Meter,
    Technician,
    TechnicianDay,
    Territory,
    TruckStock,
    WorkOrder,
)
from meterops.workorders.lifecycle import WorkOrderStatus

__all__ = ["DayPlanRepository", "TechnicianRepository"]


class TechnicianRepository(RepositoryBase[Technician]):
    """Technicians, their day availability and truck stock."""

    model = Technician

    def by_employee_number(self, employee_number: str) -> Technician | None:
        """A technician by employee number."""
        return self.session.scalars(
            select(Technician).where(Technician.employee_number == employee_number)
        ).one_or_none()

    def in_territory(self, territory_id: int | None) -> Sequence[Technician]:
        """Active technicians (of a territory, or all), by employee number."""
        query = select(Technician).where(Technician.active.is_(True))
        if territory_id is not None:
            query = query.where(Technician.territory_id == territory_id)
        return self.session.scalars(query.order_by(Technician.employee_number)).all()

    def days(self, technician_ids: Collection[int], day: dt.date) -> dict[int, TechnicianDay]:
        """Day overrides of some technicians on a date."""
        rows = self.session.scalars(
            select(TechnicianDay).where(
                TechnicianDay.technician_id.in_(list(technician_ids)),
                TechnicianDay.work_date == day,
            )
        )
        return {row.technician_id: row for row in rows}

    def day(self, technician_id: int, day: dt.date) -> TechnicianDay | None:
        """One technician's override on a date."""
        return self.days([technician_id], day).get(technician_id)

    def stock(self, technician_ids: Collection[int]) -> dict[int, dict[str, int]]:
        """Truck stock per technician (technicians without rows are absent)."""
        found: dict[int, dict[str, int]] = {}
        for row in self.session.scalars(
            select(TruckStock).where(TruckStock.technician_id.in_(list(technician_ids)))
        ):
            found.setdefault(row.technician_id, {})[row.item] = row.quantity
        return found

    def stock_row(self, technician_id: int, item: str) -> TruckStock | None:
        """One stock line."""
        return self.session.scalars(
            select(TruckStock).where(
                TruckStock.technician_id == technician_id, TruckStock.item == item
            )
        ).one_or_none()

    def territory(self, code: str) -> Territory | None:
        """A territory by code."""
        return self.session.scalars(select(Territory).where(Territory.code == code)).one_or_none()

    def territory_code(self, territory_id: int) -> str:
        """A territory's code by id."""
        return self.session.get_one(Territory, territory_id).code

    def territories_with_technicians(self) -> Sequence[Territory]:
        """Territories that have active technicians, by code."""
        return self.session.scalars(
            select(Territory)
            .where(
                Territory.id.in_(select(Technician.territory_id).where(Technician.active.is_(True)))
            )
            .order_by(Territory.code)
        ).all()


class DayPlanRepository(RepositoryBase[DayPlan]):
    """Day plans and the orders they plan."""

    model = DayPlan

    def plan(self, day: dt.date, territory_id: int) -> DayPlan | None:
        """The plan of a territory's day."""
        return self.session.scalars(
            select(DayPlan).where(DayPlan.plan_date == day, DayPlan.territory_id == territory_id)
        ).one_or_none()

    def plans_on(self, day: dt.date) -> Sequence[DayPlan]:
        """Every territory's plan of a day."""
        return self.session.scalars(
            select(DayPlan).where(DayPlan.plan_date == day).order_by(DayPlan.territory_id)
        ).all()

    def plannable_orders(
        self, *, territory_id: int, day: dt.date, day_start: dt.datetime, day_end: dt.datetime
    ) -> Sequence[WorkOrder]:
        """Orders a day plan may take.

        Waiting ones (without an appointment on another day) and the ones already scheduled
        on this day's draft.
        """
        waiting = (WorkOrder.status == WorkOrderStatus.CREATED) & or_(
            WorkOrder.appointment_start_utc.is_(None),
            (WorkOrder.appointment_start_utc < day_end)
            & (WorkOrder.appointment_end_utc > day_start),
        )
        here = (WorkOrder.status == WorkOrderStatus.SCHEDULED) & (WorkOrder.scheduled_date == day)
        return self.session.scalars(
            select(WorkOrder)
            .where(WorkOrder.territory_id == territory_id, waiting | here)
            .order_by(WorkOrder.id)
        ).all()

    def fixed_orders(self, technician_id: int, day: dt.date) -> Sequence[WorkOrder]:
        """Orders a dispatcher gave a technician by hand for a day."""
        return self.session.scalars(
            select(WorkOrder).where(
                WorkOrder.technician_id == technician_id,
                WorkOrder.scheduled_date == day,
                WorkOrder.fixed_technician.is_(True),
            )
        ).all()

    def orders(self, ids: Collection[int]) -> dict[int, WorkOrder]:
        """Orders by id."""
        rows = self.session.scalars(select(WorkOrder).where(WorkOrder.id.in_(list(ids))))
        return {row.id: row for row in rows}

    def meter_serials(self, meter_ids: Collection[int]) -> dict[int, str]:
        """Serial numbers of meters by id."""
        rows = self.session.execute(
            select(Meter.id, Meter.serial_number).where(Meter.id.in_(list(meter_ids)))
        ).all()
        return dict(rows)

    def routes(self, plan_id: int) -> Sequence[DayPlanRoute]:
        """A plan's routes (one per available technician), in technician order."""
        return self.session.scalars(
            select(DayPlanRoute)
            .join(Technician, Technician.id == DayPlanRoute.technician_id)
            .where(DayPlanRoute.day_plan_id == plan_id)
            .order_by(Technician.employee_number)
        ).all()

    def activities(self, route_ids: Collection[int]) -> dict[int, list[DayPlanActivity]]:
        """Activities per route, in order."""
        found: dict[int, list[DayPlanActivity]] = {route_id: [] for route_id in route_ids}
        for row in self.session.scalars(
            select(DayPlanActivity)
            .where(DayPlanActivity.route_id.in_(list(route_ids)))
            .order_by(DayPlanActivity.route_id, DayPlanActivity.position)
        ):
            found[row.route_id].append(row)
        return found

    def plan_orders(self, plan_id: int) -> Sequence[DayPlanOrder]:
        """The orders a plan considered."""
        return self.session.scalars(
            select(DayPlanOrder)
            .where(DayPlanOrder.day_plan_id == plan_id)
            .order_by(DayPlanOrder.work_order_id)
        ).all()

    def technicians(self, ids: Collection[int]) -> dict[int, Technician]:
        """Technicians by id."""
        rows = self.session.scalars(select(Technician).where(Technician.id.in_(list(ids))))
        return {row.id: row for row in rows}

    def clear(self, plan_id: int) -> None:
        """Delete a plan's routes, activities and order links (before storing new ones)."""
        self.session.flush()
        routes = select(DayPlanRoute.id).where(DayPlanRoute.day_plan_id == plan_id)
        self.session.execute(delete(DayPlanActivity).where(DayPlanActivity.route_id.in_(routes)))
        self.session.execute(delete(DayPlanRoute).where(DayPlanRoute.day_plan_id == plan_id))
        self.session.execute(delete(DayPlanOrder).where(DayPlanOrder.day_plan_id == plan_id))
