"""The meter page's panels beyond the interval chart: what ``templates/meter/*.html`` draw.

* **Communication**: RSSI and read success per reporting period (``COMM_STATS`` in the read
  store), laid out by :func:`meterops.web.ui.charts.comm_trend`.
* **Events**: the head-end's events of the meter (``EVENTS``), laid out by
  :func:`meterops.web.ui.charts.event_timeline`.
* **Diagnostics**: the meter's exceptions with their verdicts (:mod:`meterops.diagnostics`).
* **Work orders**: every order for the meter with its history (:mod:`meterops.workorders`)
  and the photos of its field visits (:mod:`meterops.field`), as thumbnails of the field
  API's photo route for whoever that route lets see them: the technician of the order and
  the dispatchers, supervisors and admins of its territory (analysts never).
* **Customer**: the open account at the meter's service point. Who sees the customer's name
  and phone (``docs/contract``, issue 7): dispatchers, supervisors and admins for meters in
  their territories, a technician only when the meter is on one of their own open orders;
  analysts and everyone else see the account and customer numbers only.

Both charts cover the same local days: ``TREND_DAYS`` days ending on the reads panel's last
day. :func:`chart_panels` is the part the verdict page (``/diagnostics/exceptions/{id}``)
shares: the trend and whether the neighbours map is drawn. Thin: SQL through
:class:`MeterPageRepository`, the rest through capability services.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo

from fastapi import Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from meterops.assets import service as assets_service
from meterops.auth.service import CurrentUser
from meterops.config import Settings
from meterops.db.repository import RepositoryBase
from meterops.diagnostics import service as diagnostics_service
from meterops.diagnostics.schemas import ExceptionRead, exception_read
from meterops.field.repository import FieldRepository
from meterops.field.schemas import PhotoRead
from meterops.models import (
    Account,
    Customer,
    Installation,
    Premise,
    ServicePoint,
    Technician,
    WorkOrder,
)
from meterops.models.org import Role
from meterops.reads.store import ReadStore, Table
from meterops.timeutil import local_day_bounds_utc
from meterops.web.ui.charts import Timeline, TrendChart, comm_trend, event_timeline
from meterops.workorders import service as workorders_service
from meterops.workorders.lifecycle import OPEN_STATES
from meterops.workorders.schemas import OrderEvent, WorkOrderRead

__all__ = [
    "TREND_DAYS",
    "ChartRange",
    "ChartRangeDep",
    "CustomerView",
    "MeterPageRepository",
    "OrderView",
    "can_see_customer",
    "can_see_photos",
    "chart_panels",
    "chart_range",
    "meter_panels",
    "page_panels",
]

TREND_DAYS: Final = 30
"""Local days the communication trend and the events timeline cover."""


@dataclass(frozen=True, slots=True)
class ChartRange:
    """What a page's query asks of its charts (``?from=&to=&channel=&at=``).

    Attributes:
        first_day: First local day of the interval chart (None: the page's default).
        last_day: Last local day of every chart (None: the page's default).
        channel: Channel of the interval chart (None: its default).
        at: Interval whose stored versions are listed (None: none). [UTC]
    """

    first_day: dt.date | None = None
    last_day: dt.date | None = None
    channel: str | None = None
    at: dt.datetime | None = None


def chart_range(
    first_day: Annotated[dt.date | None, Query(alias="from")] = None,
    last_day: Annotated[dt.date | None, Query(alias="to")] = None,
    channel: Annotated[str | None, Query(max_length=64)] = None,
    at: Annotated[dt.datetime | None, Query()] = None,
) -> ChartRange:
    """The :class:`ChartRange` of a request (a FastAPI dependency; a naive ``at`` is UTC)."""
    moment = at if at is None or at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
    return ChartRange(first_day, last_day, channel, moment)


ChartRangeDep = Annotated[ChartRange, Depends(chart_range)]
"""A page's chart range from its query."""

_DESK_ROLES: Final = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class CustomerView:
    """The open account at the meter's service point, as this user may see it.

    Attributes:
        account_number: The account's number (always shown).
        customer_number: The customer's number (always shown).
        name: The customer's name, None when this user may not see it.
        phone: The customer's phone, None when unknown or not for this user.
        move_in_date: When the account opened.
    """

    account_number: str
    customer_number: str
    name: str | None
    phone: str | None
    move_in_date: dt.date


@dataclass(frozen=True, slots=True)
class OrderView:
    """A work order for the meter with its history (oldest entry first) and photos.

    Attributes:
        order: The order.
        history: Its history, oldest first.
        photos: Photos of its field visits this user may see, oldest first.
        hidden_photos: Photos this user may not see (counted, not shown).
    """

    order: WorkOrderRead
    history: list[OrderEvent]
    photos: list[PhotoRead] = field(default_factory=list)
    hidden_photos: int = 0


class MeterPageRepository(RepositoryBase[WorkOrder]):
    """The few reads of the meter page that no capability service offers."""

    model = WorkOrder

    def orders(self, meter_id: int, *, limit: int = 100) -> list[tuple[WorkOrder, int | None]]:
        """The meter's work orders, newest first, with the user id of their technician."""
        rows = self.session.execute(
            select(WorkOrder, Technician.user_id)
            .outerjoin(Technician, Technician.id == WorkOrder.technician_id)
            .where(WorkOrder.meter_id == meter_id)
            .order_by(WorkOrder.id.desc())
            .limit(limit)
        ).all()
        return [(row[0], row[1]) for row in rows]

    def territory_id(self, meter_id: int) -> int | None:
        """Territory of the premise the meter is installed at now (None: not installed)."""
        return self.session.scalars(
            select(Premise.territory_id)
            .join(ServicePoint, ServicePoint.premise_id == Premise.id)
            .join(Installation, Installation.service_point_id == ServicePoint.id)
            .where(Installation.meter_id == meter_id, Installation.removed_at_utc.is_(None))
        ).first()

    def open_account(self, meter_id: int) -> tuple[Account, Customer] | None:
        """The open account (no move-out) at the meter's current service point, if any."""
        row = self.session.execute(
            select(Account, Customer)
            .join(Customer, Customer.id == Account.customer_id)
            .join(Installation, Installation.service_point_id == Account.service_point_id)
            .where(
                Installation.meter_id == meter_id,
                Installation.removed_at_utc.is_(None),
                Account.move_out_date.is_(None),
            )
        ).first()
        return None if row is None else (row[0], row[1])

    def has_own_open_order(self, meter_id: int, user_id: int) -> bool:
        """Whether the meter is on an open order assigned to the technician of this user."""
        found = self.session.scalars(
            select(WorkOrder.id)
            .join(Technician, Technician.id == WorkOrder.technician_id)
            .where(
                WorkOrder.meter_id == meter_id,
                Technician.user_id == user_id,
                WorkOrder.status.in_(list(OPEN_STATES)),
            )
        ).first()
        return found is not None


def can_see_customer(
    repository: MeterPageRepository, meter_id: int, user: CurrentUser | None
) -> bool:
    """Whether ``user`` may see the name and phone of the meter's customer.

    Args:
        repository: The page's repository.
        meter_id: The meter.
        user: The signed-in user (None: nobody signed in).

    Returns:
        True for dispatchers, supervisors and admins when the meter is in one of their
        territories, and for a technician when it is on one of their own open orders.
    """
    if user is None:
        return False
    if user.role in _DESK_ROLES:
        territory = repository.territory_id(meter_id)
        return territory is not None and territory in user.territory_ids
    if user.role is Role.TECHNICIAN:
        return repository.has_own_open_order(meter_id, user.id)
    return False


def can_see_photos(
    order: WorkOrder, technician_user_id: int | None, user: CurrentUser | None
) -> bool:
    """Whether ``user`` may see the photos of ``order`` (as the field API's photo route allows).

    Args:
        order: The work order.
        technician_user_id: User id of the order's technician (None: unassigned or no user).
        user: The signed-in user (None: nobody signed in).

    Returns:
        True for the order's technician, and for dispatchers, supervisors and admins when
        the order is in one of their territories.
    """
    if user is None:
        return False
    if user.role in _DESK_ROLES:
        return order.territory_id in user.territory_ids
    if user.role is Role.TECHNICIAN:
        return technician_user_id is not None and technician_user_id == user.id
    return False


def _order_view(
    session: Session, order: WorkOrder, technician_user_id: int | None, user: CurrentUser | None
) -> OrderView:
    number = order.order_number
    stored = FieldRepository(session).photos(order.id)
    shown = can_see_photos(order, technician_user_id, user)
    photos = [
        PhotoRead(
            id=photo.id,
            url=f"/api/v1/field/orders/{number}/photos/{photo.id}",
            taken_at=photo.uploaded_at_utc,
            kind=photo.kind,
        )
        for photo in (stored if shown else ())
    ]
    return OrderView(
        workorders_service.read_order(session, number),
        workorders_service.history(session, number),
        photos,
        0 if shown else len(stored),
    )


def chart_panels(
    session: Session,
    settings: Settings,
    *,
    serial: str,
    last_day: dt.date,
    user: CurrentUser | None,
) -> dict[str, Any]:
    """Template context of the panels the meter page and the verdict page share.

    ``meter/_comm.html`` (the RSSI and read-success trend) and ``meter/_neighbours.html``
    (the neighbours map, for whoever may see the customer) draw it.

    Args:
        session: Database session.
        settings: Settings (zone, read store).
        serial: Meter serial number.
        last_day: Last local day of the trend (``TREND_DAYS`` days end on it).
        user: The signed-in user (decides whether the map is drawn).

    Returns:
        ``panels`` context: ``serial``, ``meter_id``, ``first_day``, ``last_day``, ``days``
        (the local days), ``trend`` (:class:`TrendChart`), ``customer_visible`` (whether this
        user may see the customer's name, phone, street address and the map), ``zone``.

    Raises:
        NotFoundError: Unknown meter.
    """
    zone = settings.zone
    meter = assets_service.get_meter(session, serial)
    first_day = last_day - dt.timedelta(days=TREND_DAYS - 1)
    days = [first_day + dt.timedelta(days=i) for i in range(TREND_DAYS)]
    start, end = _window_utc(first_day, last_day, zone)
    store = ReadStore(settings.reads_uri)
    comm = store.records(Table.COMM_STATS, start_utc=start, end_utc=end, ids=[meter.id])
    trend: TrendChart = comm_trend(comm, days=days, zone=zone)
    shown = can_see_customer(MeterPageRepository(session), meter.id, user)
    return {
        "serial": serial,
        "meter_id": meter.id,
        "first_day": first_day,
        "last_day": last_day,
        "days": days,
        "trend": trend,
        "customer_visible": shown,
        "zone": zone,
    }


def _window_utc(
    first_day: dt.date, last_day: dt.date, zone: ZoneInfo
) -> tuple[dt.datetime, dt.datetime]:
    """UTC start and end (exclusive) of the local days ``first_day`` to ``last_day``."""
    return local_day_bounds_utc(first_day, zone)[0], local_day_bounds_utc(last_day, zone)[1]


def meter_panels(
    session: Session,
    settings: Settings,
    *,
    serial: str,
    last_day: dt.date,
    user: CurrentUser | None,
) -> dict[str, Any]:
    """Template context of the meter page's communication, events, verdicts, orders, customer.

    Args:
        session: Database session.
        settings: Settings (zone, read store).
        serial: Meter serial number.
        last_day: Last local day of the trend and the timeline (the reads panel's last day).
        user: The signed-in user (decides whether the customer's name is shown).

    Returns:
        ``panels`` context: that of :func:`chart_panels`, and ``timeline``
        (:class:`Timeline`), ``exceptions``, ``orders``, ``customer`` (:class:`CustomerView`
        or None).

    Raises:
        NotFoundError: Unknown meter.
    """
    panels = chart_panels(session, settings, serial=serial, last_day=last_day, user=user)
    zone = settings.zone
    meter_id: int = panels["meter_id"]
    start, end = _window_utc(panels["first_day"], last_day, zone)
    store = ReadStore(settings.reads_uri)
    events = store.records(Table.EVENTS, start_utc=start, end_utc=end, ids=[meter_id])
    timeline: Timeline = event_timeline(events, days=panels["days"], zone=zone)
    exceptions: list[ExceptionRead] = [
        exception_read(row, serial) for row in diagnostics_service.meter_exceptions(session, serial)
    ]
    repository = MeterPageRepository(session)
    orders = [_order_view(session, o, tech, user) for o, tech in repository.orders(meter_id)]
    customer = None
    shown: bool = panels["customer_visible"]
    account = repository.open_account(meter_id)
    if account is not None:
        customer = CustomerView(
            account_number=account[0].account_number,
            customer_number=account[1].customer_number,
            name=account[1].name if shown else None,
            phone=account[1].phone if shown else None,
            move_in_date=account[0].move_in_date,
        )
    return {
        **panels,
        "timeline": timeline,
        "exceptions": exceptions,
        "orders": orders,
        "customer": customer,
    }


def page_panels(
    session: Session,
    settings: Settings,
    *,
    serial: str,
    charts: ChartRange,
    user: CurrentUser | None,
    every_panel: bool,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The interval-reads panel and the panels charted over the same last day.

    The meter page (``every_panel``: :func:`meter_panels`) and the verdict page (the shared
    :func:`chart_panels`) both build their charts through this.

    Args:
        session: Database session.
        settings: Settings (zone, read store).
        serial: Meter serial number.
        charts: Days, channel and interval asked for.
        user: The signed-in user.
        every_panel: All of the meter page's panels, not only the shared ones.

    Returns:
        ``(reads, panels)`` template contexts.

    Raises:
        NotFoundError: Unknown meter.
        InvalidInputError: A bad range of days.
    """
    from meterops.vee.pages import meter_reads_panel

    reads = meter_reads_panel(
        session,
        settings,
        serial=serial,
        first_day=charts.first_day,
        last_day=charts.last_day,
        channel=charts.channel,
        at=charts.at,
    )
    build = meter_panels if every_panel else chart_panels
    panels = build(session, settings, serial=serial, last_day=reads["last_day"], user=user)
    return reads, panels
