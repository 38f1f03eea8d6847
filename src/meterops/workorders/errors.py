"""Errors of the work-order capability."""

from __future__ import annotations

import datetime as dt

from meterops.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    ValidationReportError,
)

__all__ = [
    "CollectorNotFoundError",
    "OrderOnPlanError",
    "ProgrammeImportRefusedError",
    "ReasonRequiredError",
    "WorkOrderNotFoundError",
]


class WorkOrderNotFoundError(NotFoundError):
    """No work order with that number."""

    default_code = "workorder.not_found"

    def __init__(self, order_number: str) -> None:
        super().__init__(
            f"No work order '{order_number}'. Order numbers look like WO-000042; "
            "`meterops workorders list` shows them.",
            details={"order_number": order_number},
        )


class CollectorNotFoundError(NotFoundError):
    """No collector with that code."""

    default_code = "collector.not_found"

    def __init__(self, code: str) -> None:
        super().__init__(f"No collector '{code}'.", details={"collector_code": code})


class ReasonRequiredError(InvalidInputError):
    """Cancelling, or finding an order unable to complete, needs a reason."""

    default_code = "workorder.reason_required"

    def __init__(self, order_number: str, target: str) -> None:
        super().__init__(
            f"Moving work order {order_number} to '{target}' needs a reason; give one "
            "(e.g. 'customer refused access').",
            details={"order_number": order_number, "target": target},
        )


class OrderOnPlanError(ConflictError):
    """The order is on a technician's day plan; changes go through dispatch (re-plan)."""

    default_code = "workorder.on_plan"

    def __init__(self, order_number: str, day: dt.date | None, target: str) -> None:
        super().__init__(
            f"Work order {order_number} is on the day plan of {day}; moving it to '{target}' "
            "must re-plan the technician's route: use the dispatch operations (cancel, "
            "reassign) instead of a plain status change.",
            details={"order_number": order_number, "scheduled_date": str(day), "target": target},
        )


class ProgrammeImportRefusedError(ValidationReportError):
    """A programme CSV file refused as a whole; no order of it was created."""

    default_code = "workorder.import_refused"
