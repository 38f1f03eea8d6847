"""The technician's field visit: today's stops, an order on site, actions, photos, verification.

Access: a technician acts only on orders assigned to them (the technician linked to the
signed-in user, ``Technician.user_id``); dispatchers, supervisors and admins on orders of
their territories; analysts never (this service checks it again behind the app-wide access
matrix). Customer details appear only on a technician's own open orders (assigned, en route
or on site: not once the job is over), and for desk roles of the territory.

Actions carry an idempotency key (unique in ``field_actions``): the same key with the same
payload returns the stored answer with ``duplicate: true`` and has no second effect; the same
key with another payload is a conflict (409). Every effect records an audit event; status moves
go through :func:`meterops.workorders.service.move` and its lifecycle.

* ``arrive``: assigned → en route → on site.
* ``safety``: the checklist of :mod:`meterops.field.checklist`; a failed item puts the order
  on hold for safety (``unable_to_complete`` with the failures as reason: the lifecycle has no
  separate hold state) and creates the follow-up order (a hot-socket and meter-base order for
  the meter, problem ``meter_base_repair``, priority 1, same day).
* ``exchange``: the checks of :func:`meterops.field.checklist.check_exchange`, then the
  installation change through :func:`meterops.assets.service.exchange_meter`, one meter off
  the truck stock when it is tracked, and the head-end is told (``HeadEnd.install``); the
  verification follows it.
* ``complete``: refused while the verification is not confirmed, unless ``unverified_reason``
  is given; a verified exchange moves on to ``verified``.
* ``note``, ``unable``.

Service module: ``session`` first, keyword-only options, never commits.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterops.assets import schemas as asset_schemas
from meterops.assets import service as assets_service
from meterops.audit import service as audit_service
from meterops.auth.service import CurrentUser
from meterops.commands import service as commands_service
from meterops.commands.policy import CommandPolicy
from meterops.commands.schemas import CommandRequestCreate
from meterops.errors import (
    ConflictError,
    InvalidInputError,
    MeterOpsError,
    NotFoundError,
    PermissionDeniedError,
)
from meterops.field import checklist, photos
from meterops.field import schemas as s
from meterops.field.repository import FieldRepository, Site, StopCustomer, StopSite, StopVerdict
from meterops.headend.protocol import CommandState, HeadEnd
from meterops.models import Technician, WorkOrder
from meterops.models.commands import CommandType
from meterops.models.field import FieldAction, FieldPhoto, FieldVerification, VerificationState
from meterops.models.org import Role
from meterops.models.workorders import OrderSource
from meterops.workorders import service as workorders_service
from meterops.workorders.errors import WorkOrderNotFoundError
from meterops.workorders.lifecycle import WorkOrderStatus
from meterops.workorders.repository import WorkOrderRepository
from meterops.workorders.schemas import OrderRequest
from meterops.workorders.types import WorkOrderType

__all__ = [
    "FOLLOW_UP_PROBLEM",
    "PHOTO_KINDS",
    "FieldPolicy",
    "ask_meter",
    "follow_command",
    "order_detail",
    "photo_file",
    "record_action",
    "today",
    "upload_photo",
    "verification",
]

FOLLOW_UP_PROBLEM = "meter_base_repair"
"""Problem code of the follow-up order a failed safety inspection creates."""

PHOTO_KINDS = frozenset({"before", "after", "base", "nameplate", "damage", "other"})
"""What a photo shows."""

_S = WorkOrderStatus
_M = TypeVar("_M", bound=BaseModel)
_WORKING = frozenset({_S.ASSIGNED, _S.EN_ROUTE, _S.ON_SITE})
_EXCHANGE_TYPES = frozenset(
    {WorkOrderType.EXCHANGE, WorkOrderType.INSTALL, WorkOrderType.HOT_SOCKET_INSPECTION}
)
_DESK_ROLES = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class FieldPolicy:
    """Rules of the field visit (built from settings by the adapters).

    Attributes:
        verification_timeout_s: A verification still pending this long after the exchange is
            timed out. [s]
        photo_limits: Upload bounds of photos.
        photo_quota_bytes: Photo bytes one user may store per 30 days (reliability UPL-05).
            [bytes]
        workorder_policy: Policy of the follow-up orders it creates.
        command_policy: Policy of the pings and reads it asks for.
    """

    verification_timeout_s: float = 5 * 3600.0
    photo_limits: photos.PhotoLimits = photos.DEFAULT_LIMITS
    photo_quota_bytes: int = 2 * 1024**3
    workorder_policy: workorders_service.WorkOrderPolicy = field(
        default_factory=workorders_service.WorkOrderPolicy
    )
    command_policy: CommandPolicy = field(default_factory=CommandPolicy)


# -- access -----------------------------------------------------------------------------------


def _technician(session: Session, user: CurrentUser) -> Technician | None:
    return FieldRepository(session).technician_of_user(user.id)


def _denied() -> PermissionDeniedError:
    return PermissionDeniedError(
        "This work order is not yours to see or change.", code="permission_denied.territory"
    )


def _authorize(session: Session, user: CurrentUser, order_number: str) -> tuple[WorkOrder, bool]:
    """The order if the user may act on it, and whether it is the technician's own."""
    order = WorkOrderRepository(session).get_by_number(order_number)
    if user.role is Role.TECHNICIAN:
        technician = _technician(session, user)
        if order is None or technician is None or order.technician_id != technician.id:
            raise _denied()
        return order, True
    if user.role in _DESK_ROLES:
        if order is None:
            raise WorkOrderNotFoundError(order_number)
        if user.role is not Role.ADMIN and order.territory_id not in user.territory_ids:
            raise _denied()
        return order, False
    raise PermissionDeniedError(
        f"Role {user.role.value!r} has no access to field orders.", code="permission_denied.role"
    )


# -- stops ------------------------------------------------------------------------------------


def _verdict(order: WorkOrder, row: StopVerdict | None) -> s.VerdictRead | None:
    if row is not None and row.cause is not None:
        return s.VerdictRead(code=row.cause, summary=row.summary or "")
    summary = order.evidence.get("summary")
    if summary:
        return s.VerdictRead(code=order.problem_code, summary=str(summary))
    return None


def _address(site: StopSite) -> str | None:
    premise = site.premise
    if premise is None:
        return None
    return f"{premise.address_line}, {premise.city}, {premise.state} {premise.postal_code}"


@dataclass(slots=True)
class _StopContext:
    sites: dict[int, StopSite]
    verdicts: dict[str, StopVerdict]
    customers: dict[int, StopCustomer]


def _context(
    session: Session,
    orders: Sequence[WorkOrder],
    *,
    day: dt.date,
    with_customers: bool,
    with_evidence: bool = False,
) -> _StopContext:
    repository = FieldRepository(session)
    sites = repository.sites(orders)
    verdicts = repository.verdicts([o.order_number for o in orders], evidence=with_evidence)
    customers: dict[int, StopCustomer] = {}
    if with_customers:
        points = [o.service_point_id for o in orders if o.service_point_id is not None]
        customers = repository.customers(points, day) if points else {}
    return _StopContext(sites, verdicts, customers)


def _stop(
    order: WorkOrder,
    ctx: _StopContext,
    *,
    sequence: int | None,
    eta: dt.datetime | None,
    show_customer: bool,
) -> s.Stop:
    site = ctx.sites[order.id]
    customer = None
    found = ctx.customers.get(order.service_point_id or -1)
    if show_customer and found is not None:
        customer = s.CustomerRead(name=found.name, account=found.account_number, phone=found.phone)
    return s.Stop(
        order_number=order.order_number,
        sequence=sequence,
        order_type=order.order_type.value,
        status=order.status.value,
        priority=order.priority,
        window_start=order.appointment_start_utc,
        window_end=order.appointment_end_utc,
        eta=eta,
        latitude=order.latitude,
        longitude=order.longitude,
        address=_address(site),
        meter_serial=site.meter_serial,
        meter_form=order.meter_form,
        problem_code=order.problem_code,
        verdict=_verdict(order, ctx.verdicts.get(order.order_number)),
        customer=customer,
        done=order.status not in _WORKING,
    )


def _local_today(session: Session, technician: Technician, now: dt.datetime) -> dt.date:
    zone = ZoneInfo(FieldRepository(session).territory(technician.territory_id).timezone)
    return now.astimezone(zone).date()


def today(
    session: Session, user: CurrentUser, *, day: dt.date | None, now: dt.datetime
) -> s.TodayRead:
    """The signed-in technician's stops of a day, in planned order, the next one marked.

    Args:
        session: Database session.
        user: The signed-in user (a technician linked to a ``Technician`` row).
        day: The day (None: today in the technician's territory time zone).
        now: The current time (aware).

    Raises:
        NotFoundError: No technician is linked to the user (``field.no_technician``).
    """
    technician = _technician(session, user)
    if technician is None:
        msg = f"No technician is linked to user {user.username!r}; ask a dispatcher to link one."
        raise NotFoundError(msg, code="field.no_technician")
    day = day or _local_today(session, technician, now)
    visits = FieldRepository(session).route(technician.id, technician.territory_id, day)
    orders = [order for visit in visits for order in visit.orders]
    ctx = _context(session, orders, day=day, with_customers=True)
    stops = [
        _stop(
            order,
            ctx,
            sequence=visit.sequence,
            eta=visit.arrival_utc,
            show_customer=order.status in _WORKING,
        )
        for visit in visits
        for order in visit.orders
    ]
    following = next((stop for stop in stops if not stop.done), None)
    if following is not None:
        following.next = True
        stops.remove(following)
        stops.insert(0, following)
    return s.TodayRead(
        technician=s.TechnicianRead(
            employee_number=technician.employee_number, name=technician.name
        ),
        day=day,
        csrf_token=user.csrf_token,
        stops=stops,
    )


# -- order detail -----------------------------------------------------------------------------


def _evidence(order: WorkOrder, row: StopVerdict | None) -> list[dict[str, Any]]:
    source = (row.evidence if row is not None else None) or order.evidence or {}
    items: list[dict[str, Any]] = [
        {"kind": "condition", "name": "because", "value": condition}
        for condition in source.get("conditions") or []
    ]
    for name, value in sorted((source.get("facts") or {}).items()):
        items.append({"kind": "fact", "name": name, "value": value})
    if not items and source.get("summary"):
        items.append({"kind": "summary", "name": "summary", "value": source["summary"]})
    return items


def _photo_url(order: WorkOrder, photo_id: str) -> str:
    return f"/api/v1/field/orders/{order.order_number}/photos/{photo_id}"


def _verification_read(row: FieldVerification | None) -> s.VerificationRead | None:
    if row is None:
        return None
    return s.VerificationRead(
        state=row.state.value,
        registered_at=row.registered_at_utc,
        first_read=row.first_read,
        reason=row.reason,
        checked_at=row.checked_at_utc,
        new_serial=row.new_serial,
        command_id=row.headend_command_id,
    )


def _checklist(site: Site | StopSite) -> tuple[checklist.ChecklistItem, ...]:
    if isinstance(site, StopSite):
        return checklist.checklist_for(site.service_type, site.voltage_v)
    point = site.service_point
    if point is None:
        return checklist.checklist_for(None, None)
    return checklist.checklist_for(point.service_type.value, point.voltage_v)


def order_detail(
    session: Session, user: CurrentUser, order_number: str, *, now: dt.datetime
) -> s.OrderDetail:
    """An order as the technician needs it on site.

    Raises:
        PermissionDeniedError: Not the user's order (or territory).
        WorkOrderNotFoundError: No such order (desk roles).
    """
    order, own = _authorize(session, user, order_number)
    repository = FieldRepository(session)
    day = order.scheduled_date or now.date()
    show_customer = (own and order.status in _WORKING) or user.role in _DESK_ROLES
    ctx = _context(session, [order], day=day, with_customers=show_customer, with_evidence=True)
    stop = _stop(order, ctx, sequence=None, eta=None, show_customer=show_customer)
    site = ctx.sites[order.id]
    row = ctx.verdicts.get(order.order_number)
    return s.OrderDetail(
        **stop.model_dump(),
        evidence=_evidence(order, row),
        checklist=[
            s.ChecklistItemRead(
                code=item.code,
                label=item.label,
                kind=item.kind.value,
                nominal_v=item.nominal_v,
                low_v=item.low_v,
                high_v=item.high_v,
            )
            for item in _checklist(site)
        ],
        found_cause_codes=[s.CauseRead(code=c.code, label=c.label) for c in checklist.FOUND_CAUSES],
        expected_serial=site.meter_serial,
        service_point_number=site.service_point_number,
        last_ping=order.last_ping,
        actions=[
            s.ActionRead(
                action_id=a.id,
                kind=a.kind,
                recorded_at=a.recorded_at_utc,
                received_at=a.received_at_utc,
                actor=a.actor,
                payload=a.payload,
                result=a.result,
            )
            for a in repository.actions(order.id)
        ],
        photos=[
            s.PhotoRead(
                id=p.id, url=_photo_url(order, p.id), taken_at=p.uploaded_at_utc, kind=p.kind
            )
            for p in repository.photos(order.id)
        ],
        verification=_verification_read(repository.verification(order.id)),
    )


# -- actions ----------------------------------------------------------------------------------


def _digest(kind: str, payload: dict[str, Any]) -> str:
    text = json.dumps({"kind": kind, "payload": payload}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _parse(model: type[_M], payload: dict[str, Any]) -> _M:
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in ("payload", *first["loc"]))
        msg = f"{where}: {first['msg']}"
        raise InvalidInputError(msg, code="field.bad_payload", details={"field": where}) from None


def _status(order: WorkOrder) -> s.OrderStatusRead:
    return s.OrderStatusRead(
        order_number=order.order_number,
        status=order.status.value,
        status_reason=order.status_reason,
    )


def _require_on_site(order: WorkOrder, kind: str) -> None:
    if order.status is not _S.ON_SITE:
        msg = (
            f"Work order {order.order_number} is '{order.status.value}'; '{kind}' is recorded on "
            "site (send 'arrive' first)."
        )
        raise ConflictError(msg, code="field.not_on_site")


def _check_cause(code: str | None, field_name: str) -> None:
    if code is not None and code not in {c.code for c in checklist.FOUND_CAUSES}:
        msg = f"payload.{field_name}: unknown found-cause code {code!r}"
        raise InvalidInputError(msg, code="field.unknown_cause", details={"field": field_name})


@dataclass(slots=True)
class _Ctx:
    session: Session
    order: WorkOrder
    actor: str
    now: dt.datetime
    policy: FieldPolicy
    head_end: HeadEnd | None
    technician_id: int | None
    action: FieldAction


def _audit(ctx: _Ctx, action: str, *, reason: str | None = None, **data: Any) -> None:
    audit_service.record(
        ctx.session,
        actor=ctx.actor,
        action=action,
        entity_type="work_order",
        entity_id=ctx.order.order_number,
        reason=reason,
        data={"action_id": ctx.action.id, "idempotency_key": ctx.action.idempotency_key, **data},
        now=ctx.now,
    )


def _arrive(ctx: _Ctx, payload: dict[str, Any]) -> dict[str, Any]:
    order = ctx.order
    if order.status is _S.ON_SITE:
        msg = f"Work order {order.order_number} is already on site."
        raise ConflictError(msg, code="field.already_on_site")
    if order.status is _S.ASSIGNED:
        workorders_service.move(ctx.session, order, _S.EN_ROUTE, actor=ctx.actor, now=ctx.now)
    workorders_service.move(ctx.session, order, _S.ON_SITE, actor=ctx.actor, now=ctx.now)
    _audit(ctx, "field.arrive")
    return {}


def _safety(ctx: _Ctx, payload: dict[str, Any]) -> dict[str, Any]:
    body = _parse(s.SafetyPayload, payload)
    order = ctx.order
    _require_on_site(order, "safety")
    site = FieldRepository(ctx.session).site(order)
    outcome = checklist.evaluate_safety(body.items, _checklist(site))
    failures = [{"code": code, "reason": reason} for code, reason in outcome.failures]
    _audit(
        ctx,
        "field.safety",
        reason=None if outcome.passed else "safety inspection failed",
        passed=outcome.passed,
        failures=failures,
        items=body.items,
    )
    if outcome.passed:
        return {"safety": "passed", "failures": []}
    why = "; ".join(f"{f['code']}: {f['reason']}" for f in failures)
    reason = f"on hold for safety: {why}"[:500]
    workorders_service.move(
        ctx.session, order, _S.UNABLE_TO_COMPLETE, actor=ctx.actor, now=ctx.now, reason=reason
    )
    follow_up = _follow_up(ctx, site, failures, body.notes)
    return {"safety": "failed", "failures": failures, "on_hold": True, "follow_up_order": follow_up}


def _follow_up(
    ctx: _Ctx, site: Site, failures: list[dict[str, str]], notes: str | None
) -> str | None:
    order = ctx.order
    if site.meter is None and site.service_point is None:  # collector work: no socket
        _audit(ctx, "field.follow_up", follow_up_order=None, refused=["no meter or socket"])
        return None
    summary = f"Safety inspection on {order.order_number} failed: " + "; ".join(
        f["reason"] for f in failures
    )
    request = OrderRequest(
        order_type=WorkOrderType.HOT_SOCKET_INSPECTION,
        meter_serial=None if site.meter is None else site.meter.serial_number,
        service_point_number=None
        if site.meter is not None or site.service_point is None
        else site.service_point.service_point_number,
        problem_code=FOLLOW_UP_PROBLEM,
        priority=1,
        evidence_summary=summary[:500],
        evidence={"failed_items": failures, "from_order": order.order_number, "notes": notes},
        notes=notes,
        external_ref=order.order_number,
    )
    result = workorders_service.create_many(
        ctx.session,
        [request],
        source=OrderSource.MANUAL,
        actor=ctx.actor,
        now=ctx.now,
        policy=ctx.policy.workorder_policy,
        all_or_nothing=False,
    )
    numbers = result.created or [d.order_number for d in result.duplicates]
    number = numbers[0] if numbers else None
    _audit(ctx, "field.follow_up", follow_up_order=number, refused=[r.code for r in result.refused])
    return number


def _exchange_facts(
    ctx: _Ctx, body: s.ExchangePayload, site: Site
) -> tuple[checklist.ExchangeFacts, dict[str, Any] | None]:
    repository = FieldRepository(ctx.session)
    old = site.meter
    installation = None if old is None else repository.open_installation(old.id)
    days = 1.0
    if installation is not None:
        installed = installation.installed_at_utc
        if installed.tzinfo is None:
            installed = installed.replace(tzinfo=dt.UTC)
        days = max((ctx.now - installed).total_seconds() / 86_400, 1.0)
    new = repository.meter_by_serial(body.new_serial)
    new_facts = None
    if new is not None:
        placed = repository.open_installation(new.id)
        new_facts = checklist.NewMeterFacts(
            serial=new.serial_number,
            form=new.form,
            lifecycle_status=new.lifecycle_status.value,
            installed_at=None
            if placed is None
            else repository.service_point_number(placed.service_point_id),
            register_digits=new.register_digits,
            register_decimals=new.register_decimals,
        )
    stock_rows = None if ctx.technician_id is None else repository.truck_stock(ctx.technician_id)
    stock = None if stock_rows is None else {k: r.quantity for k, r in stock_rows.items()}
    point = site.service_point
    facts = checklist.ExchangeFacts(
        order_meter_serial=None if old is None else old.serial_number,
        compatible_forms=tuple(point.compatible_forms) if point is not None else (),
        truck_stock=stock,
        old_install_read_kwh=None if installation is None else installation.install_read_kwh,
        old_register_digits=old.register_digits if old is not None else 9,
        old_register_decimals=old.register_decimals if old is not None else 0,
        old_days_installed=days,
        old_max_kwh_per_day=checklist.max_kwh_per_day(
            old.meter_class if old is not None else "",
            point.voltage_v if point is not None else 240,
        ),
        new_meter=new_facts,
    )
    return facts, stock


def _safety_passed(ctx: _Ctx) -> bool:
    return any(
        a.kind == "safety" and a.result.get("outcome", {}).get("safety") == "passed"
        for a in FieldRepository(ctx.session).actions(ctx.order.id)
    )


def _exchange(ctx: _Ctx, payload: dict[str, Any]) -> dict[str, Any]:
    body = _parse(s.ExchangePayload, payload)
    order = ctx.order
    _require_on_site(order, "exchange")
    if not _safety_passed(ctx):
        msg = (
            f"Work order {order.order_number}: record a passed safety inspection before pulling "
            "the meter."
        )
        raise ConflictError(msg, code="field.safety_first")
    _check_cause(body.found_cause_code, "found_cause_code")
    repository = FieldRepository(ctx.session)
    if repository.verification(order.id) is not None:
        msg = f"Work order {order.order_number} already has an exchange recorded."
        raise ConflictError(msg, code="field.already_exchanged")
    site = repository.site(order)
    if site.service_point is None:
        msg = f"Work order {order.order_number} has no meter socket to install a meter in."
        raise ConflictError(msg, code="field.nothing_to_exchange")
    facts, _ = _exchange_facts(ctx, body, site)
    problems = checklist.check_exchange(
        old_serial=body.old_serial,
        old_final_read_kwh=body.old_final_read_kwh,
        new_serial=body.new_serial,
        new_initial_read_kwh=body.new_initial_read_kwh,
        facts=facts,
    )
    if problems:
        first = problems[0]
        raise InvalidInputError(
            "; ".join(p.message for p in problems),
            code=first.code,
            details={"problems": [{"field": p.field, "code": p.code} for p in problems]},
        )
    known_photos = {p.id for p in repository.photos(order.id)}
    missing = [pid for pid in body.photo_ids if pid not in known_photos]
    if missing:
        msg = f"payload.photo_ids: {missing[0]!r} is not a photo of this order"
        raise InvalidInputError(msg, code="field.unknown_photo", details={"field": "photo_ids"})
    assert body.new_initial_read_kwh is not None
    at = min(ctx.action.recorded_at_utc or ctx.now, ctx.now)  # a phone clock ahead
    why = f"field exchange on {order.order_number}" + (
        f" ({body.found_cause_code})" if body.found_cause_code else ""
    )
    point_number = site.service_point.service_point_number
    if site.meter is None:  # an install at an empty socket
        assets_service.install_meter(
            ctx.session,
            serial_number=body.new_serial,
            service_point_number=point_number,
            installed_at=at,
            install_read_kwh=body.new_initial_read_kwh,
            actor=ctx.actor,
            work_order_ref=order.order_number,
        )
    else:
        assert body.old_serial is not None
        assert body.old_final_read_kwh is not None
        assets_service.exchange_meter(
            ctx.session,
            asset_schemas.ExchangeRequest(
                old_serial=body.old_serial,
                new_serial=body.new_serial,
                at=at,
                old_final_read_kwh=body.old_final_read_kwh,
                new_initial_read_kwh=body.new_initial_read_kwh,
                reason=why,
                work_order_ref=order.order_number,
            ),
            actor=ctx.actor,
        )
    stock_rows = None if ctx.technician_id is None else repository.truck_stock(ctx.technician_id)
    new_form = facts.new_meter.form if facts.new_meter is not None else order.meter_form
    item = f"meter:{new_form}"
    if stock_rows is not None and item in stock_rows:
        stock_rows[item].quantity -= 1
    row = FieldVerification(
        work_order_id=order.id,
        action_id=ctx.action.id,
        new_serial=body.new_serial,
        old_serial=body.old_serial,
        service_point_number=point_number,
        request_key=f"meterops-field-{ctx.action.idempotency_key}",
        state=VerificationState.PENDING,
        submitted_at_utc=ctx.now,
        deadline_utc=ctx.now + dt.timedelta(seconds=ctx.policy.verification_timeout_s),
    )
    ctx.session.add(row)
    ctx.session.flush()
    _audit(
        ctx,
        "field.exchange",
        old_serial=body.old_serial,
        new_serial=body.new_serial,
        service_point=point_number,
        old_final_read_kwh=body.old_final_read_kwh,
        new_initial_read_kwh=body.new_initial_read_kwh,
        found_cause_code=body.found_cause_code,
        photo_ids=body.photo_ids,
        truck_stock_item=item if stock_rows is not None and item in stock_rows else None,
    )
    _tell_head_end(ctx.session, row, ctx.head_end, actor=ctx.actor, now=ctx.now)
    return {
        "service_point": point_number,
        "old_serial": body.old_serial,
        "new_serial": body.new_serial,
        "verification": row.state.value,
    }


def _complete(ctx: _Ctx, payload: dict[str, Any]) -> dict[str, Any]:
    body = _parse(s.CompletePayload, payload)
    order = ctx.order
    _require_on_site(order, "complete")
    _check_cause(body.found_cause_code, "found_cause_code")
    row = FieldRepository(ctx.session).verification(order.id)
    if row is not None:
        _advance(ctx.session, row, order, ctx.head_end, actor=ctx.actor, now=ctx.now)
    radio = _radio_check(ctx.session, order) if row is None else None
    verified = (row is not None and row.state is VerificationState.VERIFIED) or (
        radio is not None and radio.state == VerificationState.VERIFIED.value
    )
    needs = row is not None or radio is not None or order.order_type in _EXCHANGE_TYPES
    unverified = (body.unverified_reason or "").strip()
    if needs and not verified and not unverified:
        state = (
            f"verification is '{row.state.value}'"
            if row is not None
            else f"the ping after the new radio is '{radio.state}'"
            if radio is not None
            else "no exchange recorded"
        )
        msg = (
            f"Work order {order.order_number} cannot be completed: the head-end has not confirmed "
            f"the new meter ({state}); wait for it, or give payload.unverified_reason."
        )
        raise ConflictError(
            msg, code="field.verification_pending", details={"field": "unverified_reason"}
        )
    reason = f"completed unverified: {unverified}" if needs and not verified else None
    workorders_service.move(
        ctx.session,
        order,
        _S.COMPLETED,
        actor=ctx.actor,
        now=ctx.now,
        reason=reason,
        data={"found_cause_code": body.found_cause_code},
    )
    if body.notes:
        order.notes = ((order.notes + "\n") if order.notes else "")[:500] + body.notes[:480]
    _audit(
        ctx,
        "field.complete",
        reason=reason,
        found_cause_code=body.found_cause_code,
        notes=body.notes,
        verified=verified,
    )
    if verified:
        workorders_service.move(
            ctx.session,
            order,
            _S.VERIFIED,
            actor=ctx.actor,
            now=ctx.now,
            reason="the head-end confirmed the new meter's registration and first read",
        )
    return {"verified": verified, "unverified_reason": unverified or None}


def _note(ctx: _Ctx, payload: dict[str, Any]) -> dict[str, Any]:
    body = _parse(s.NotePayload, payload)
    text = (body.text or body.notes or "").strip()
    if not text:
        msg = "payload.text: a note of 1 to 1000 characters is required"
        raise InvalidInputError(msg, code="field.bad_payload", details={"field": "payload.text"})
    _audit(ctx, "field.note", text=text)
    return {}


def _unable(ctx: _Ctx, payload: dict[str, Any]) -> dict[str, Any]:
    body = _parse(s.UnablePayload, payload)
    _require_on_site(ctx.order, "unable")
    _check_cause(body.found_cause_code, "found_cause_code")
    workorders_service.move(
        ctx.session,
        ctx.order,
        _S.UNABLE_TO_COMPLETE,
        actor=ctx.actor,
        now=ctx.now,
        reason=body.reason,
    )
    _audit(ctx, "field.unable", reason=body.reason, found_cause_code=body.found_cause_code)
    return {}


_HANDLERS = {
    s.ActionKind.ARRIVE: _arrive,
    s.ActionKind.SAFETY: _safety,
    s.ActionKind.EXCHANGE: _exchange,
    s.ActionKind.COMPLETE: _complete,
    s.ActionKind.NOTE: _note,
    s.ActionKind.UNABLE: _unable,
}


def _stored(action: FieldAction, order: WorkOrder) -> s.ActionResult:
    result = s.ActionResult.model_validate(action.result)
    return result.model_copy(update={"duplicate": True})


def _replay(existing: FieldAction, order: WorkOrder, digest: str) -> s.ActionResult:
    if existing.work_order_id != order.id or existing.payload_digest != digest:
        msg = (
            f"idempotency key {existing.idempotency_key!r} was used for another action "
            f"(action {existing.id}); use a new key"
        )
        raise ConflictError(
            msg, code="field.idempotency_key_reused", details={"action_id": existing.id}
        )
    return _stored(existing, order)


def record_action(
    session: Session,
    user: CurrentUser,
    order_number: str,
    request: s.ActionRequest,
    *,
    now: dt.datetime,
    head_end: HeadEnd | None,
    policy: FieldPolicy | None = None,
) -> s.ActionResult:
    """Record an action once per idempotency key.

    Returns:
        The result; ``duplicate`` is True when the key was seen before (nothing happened now).

    Raises:
        PermissionDeniedError: Not the user's order.
        ConflictError: The key was used for another payload (``field.idempotency_key_reused``),
            or the action does not fit the order's state.
        InvalidInputError: The payload is wrong (the message names the field).
    """
    order, _ = _authorize(session, user, order_number)
    repository = FieldRepository(session)
    digest = _digest(request.kind.value, request.payload)
    existing = repository.action_by_key(request.idempotency_key)
    if existing is not None:
        return _replay(existing, order, digest)
    WorkOrderRepository(session).lock(order)  # one action at a time per order
    existing = repository.action_by_key(request.idempotency_key)  # sent twice at once
    if existing is not None:
        return _replay(existing, order, digest)
    technician = _technician(session, user)
    action = FieldAction(
        idempotency_key=request.idempotency_key,
        work_order_id=order.id,
        kind=request.kind.value,
        payload=request.payload,
        payload_digest=digest,
        recorded_at_utc=request.recorded_at,
        received_at_utc=now,
        actor=user.username,
        result={},
    )
    attempt = session.begin_nested()  # a refused action leaves nothing behind
    try:
        with session.begin_nested():
            session.add(action)
            session.flush()
    except IntegrityError:
        attempt.rollback()
        # Another request stored the same key between our look-up and insert.
        raced = repository.action_by_key(request.idempotency_key)
        if raced is None:
            raise
        return _replay(raced, order, digest)
    ctx = _Ctx(
        session=session,
        order=order,
        actor=user.username,
        now=now,
        policy=policy or FieldPolicy(),
        head_end=head_end,
        technician_id=None if technician is None else technician.id,
        action=action,
    )
    try:
        outcome = _HANDLERS[request.kind](ctx, request.payload)
    except BaseException:
        attempt.rollback()
        raise
    result = s.ActionResult(
        action_id=action.id,
        duplicate=False,
        kind=request.kind.value,
        order=_status(order),
        outcome=outcome,
    )
    action.result = result.model_dump(mode="json")
    session.flush()
    attempt.commit()
    return result


# -- verification -----------------------------------------------------------------------------


def _tell_head_end(
    session: Session,
    row: FieldVerification,
    head_end: HeadEnd | None,
    *,
    actor: str,
    now: dt.datetime,
) -> None:
    """Tell the head-end about the installed meter (again, when it could not be reached)."""
    if row.headend_command_id is not None or row.state is not VerificationState.PENDING:
        return
    if head_end is None:
        row.reason = "no head-end is configured; the installation is not yet told to it"
        return
    try:
        row.headend_command_id = head_end.install(
            row.new_serial,
            service_point=row.service_point_number,
            replaces=row.old_serial,
            request_id=row.request_key,
        )
        row.reason = None
    except ConflictError as error:
        row.state = VerificationState.FAILED
        row.reason = f"the head-end refused the installation: {error.message}"[:500]
    except MeterOpsError as error:
        row.reason = f"the head-end could not be reached, will retry: {error.message}"[:500]
    row.checked_at_utc = now
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="field.verification.submit",
        entity_type="field_verification",
        entity_id=row.id,
        reason=row.reason,
        data={
            "new_serial": row.new_serial,
            "service_point": row.service_point_number,
            "command_id": row.headend_command_id,
            "state": row.state.value,
        },
        now=now,
    )


def _advance(
    session: Session,
    row: FieldVerification,
    order: WorkOrder,
    head_end: HeadEnd | None,
    *,
    actor: str,
    now: dt.datetime,
) -> None:
    """Ask the head-end how the install stands and move the verification (and order) on."""
    if row.state is not VerificationState.PENDING:
        return
    _tell_head_end(session, row, head_end, actor=actor, now=now)
    before = row.state
    if row.state is VerificationState.PENDING and row.headend_command_id and head_end is not None:
        try:
            status = head_end.command_status(row.headend_command_id)
        except MeterOpsError as error:
            row.reason = f"the head-end could not be reached, will retry: {error.message}"[:500]
        else:
            if status.state is CommandState.CONFIRMED:
                row.state = VerificationState.VERIFIED
                registered = status.result.get("registered_at_utc")
                row.registered_at_utc = (
                    dt.datetime.fromisoformat(registered)
                    if isinstance(registered, str)
                    else status.completed_at_utc
                )
                row.first_read = dict(status.result)
                row.reason = None
            elif status.state is CommandState.FAILED:
                row.state = VerificationState.FAILED
                row.reason = status.reason or "failed"
    deadline = (
        row.deadline_utc if row.deadline_utc.tzinfo else row.deadline_utc.replace(tzinfo=dt.UTC)
    )
    if row.state is VerificationState.PENDING and now >= deadline:
        row.state = VerificationState.TIMED_OUT
        row.reason = "no registration and first read from the head-end in time"
    row.checked_at_utc = now
    session.flush()
    if row.state is before:
        return
    audit_service.record(
        session,
        actor=actor,
        action="field.verification",
        entity_type="work_order",
        entity_id=order.order_number,
        reason=row.reason,
        data={
            "state": row.state.value,
            "new_serial": row.new_serial,
            "command_id": row.headend_command_id,
            "first_read": row.first_read,
        },
        now=now,
    )
    if row.state is VerificationState.VERIFIED and order.status is _S.COMPLETED:
        workorders_service.move(
            session,
            order,
            _S.VERIFIED,
            actor=actor,
            now=now,
            reason="the head-end confirmed the new meter's registration and first read",
        )


def verification(
    session: Session,
    user: CurrentUser,
    order_number: str,
    *,
    head_end: HeadEnd | None,
    now: dt.datetime,
) -> s.VerificationRead:
    """The order's head-end verification, after asking the head-end how it stands.

    After a radio module replacement the verification is the first ping asked from the field
    after arrival (:func:`ask_meter`, followed with :func:`follow_command`): verified when the
    meter answers it. An order without a recorded exchange otherwise needs none
    (``not_needed``).
    """
    order, _ = _authorize(session, user, order_number)
    row = FieldRepository(session).verification(order.id)
    radio = _radio_check(session, order) if row is None else None
    if radio is not None:
        return radio
    if row is None:
        return s.VerificationRead(
            state=VerificationState.NOT_NEEDED.value,
            registered_at=None,
            first_read=None,
            reason="no exchange recorded on this order",
            checked_at=now,
        )
    _advance(session, row, order, head_end, actor=user.username, now=now)
    read = _verification_read(row)
    assert read is not None
    return read


def _radio_check(session: Session, order: WorkOrder) -> s.VerificationRead | None:
    """For a radio module replacement: the latest ping or read asked on site, as it stands."""
    if order.order_type is not WorkOrderType.RADIO_MODULE_REPLACEMENT:
        return None
    actions = FieldRepository(session).actions(order.id)
    arrived = max((a.id for a in actions if a.kind == "arrive"), default=None)
    asked = [a for a in actions if a.kind in _COMMAND_KINDS and arrived and a.id > arrived]
    if not asked:
        return s.VerificationRead(
            state=VerificationState.PENDING.value,
            registered_at=None,
            first_read=None,
            reason="ping or read the meter on site after replacing its radio module",
            checked_at=None,
        )
    read = _command_read(session, int(asked[-1].result["request_id"]))
    state = {
        "confirmed": VerificationState.VERIFIED,
        "failed": VerificationState.FAILED,
        "expired": VerificationState.TIMED_OUT,
        "cancelled": VerificationState.FAILED,
    }.get(read.state, VerificationState.PENDING)
    return s.VerificationRead(
        state=state.value,
        registered_at=read.completed_at if state is VerificationState.VERIFIED else None,
        first_read=read.result if state is VerificationState.VERIFIED else None,
        reason=read.failure_reason,
        checked_at=read.completed_at,
        new_serial=None,
        command_id=str(read.request_id),
    )


# -- photos -----------------------------------------------------------------------------------


def upload_photo(
    session: Session,
    user: CurrentUser,
    order_number: str,
    data: bytes,
    *,
    kind: str,
    idempotency_key: str,
    photos_dir: Path,
    now: dt.datetime,
    policy: FieldPolicy | None = None,
) -> s.PhotoUploaded:
    """Check, re-encode and store a photo of an order (once per key and per picture).

    The same key again, or the same picture again under another key, returns the stored
    photo with ``duplicate`` set.

    Raises:
        PhotoRefusedError: Not a JPEG/PNG/WebP, too many bytes or pixels, a decompression bomb,
            over the user's quota, or the disk could not take it.
        InvalidInputError: Unknown kind or a bad key.
        ConflictError: The key was used for another photo.
    """
    order, _ = _authorize(session, user, order_number)
    if kind not in PHOTO_KINDS:
        msg = f"kind: expected one of {sorted(PHOTO_KINDS)}, found {kind!r}"
        raise InvalidInputError(msg, code="field.bad_photo_kind", details={"field": "kind"})
    if not 8 <= len(idempotency_key) <= 128:
        msg = "idempotency_key: expected 8 to 128 characters"
        raise InvalidInputError(msg, code="field.bad_key", details={"field": "idempotency_key"})
    repository = FieldRepository(session)
    sha = hashlib.sha256(data).hexdigest()
    existing = repository.photo_by_key(idempotency_key)
    if existing is not None:
        if existing.work_order_id != order.id or existing.kind != kind:
            msg = f"idempotency key {idempotency_key!r} was used for another photo; use a new key"
            raise ConflictError(msg, code="field.idempotency_key_reused")
        return _uploaded(order, existing, duplicate=True)
    rules = policy or FieldPolicy()
    clean = photos.reencode(data, rules.photo_limits)
    clean_sha = hashlib.sha256(clean.jpeg).hexdigest()
    same = repository.photo_by_content(order.id, clean_sha)
    if same is not None:  # the same picture again under a new key (a phone re-sending it)
        return _uploaded(order, same, duplicate=True)
    used = repository.bytes_uploaded_since(user.username, now - dt.timedelta(days=30))
    if used + len(clean.jpeg) > rules.photo_quota_bytes:
        raise photos.PhotoRefusedError(
            f"user {user.username} stored {used:,} bytes of photos in the last 30 days; the quota "
            f"is {rules.photo_quota_bytes:,} bytes",
            code="photo.quota",
            status=photos.PhotoRefusedError.TOO_LARGE,
            details={"used_bytes": used, "quota_bytes": rules.photo_quota_bytes},
        )
    photo_id = uuid.uuid4().hex
    relative = Path(order.order_number) / f"{photo_id}.jpg"
    target = photos_dir / relative
    _write(target, clean.jpeg)
    row = FieldPhoto(
        id=photo_id,
        idempotency_key=idempotency_key,
        work_order_id=order.id,
        kind=kind,
        path=relative.as_posix(),
        width=clean.width,
        height=clean.height,
        bytes=len(clean.jpeg),
        sha256=clean_sha,
        source_type=clean.source_type,
        uploaded_at_utc=now,
        uploaded_by=user.username,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        target.unlink(missing_ok=True)
        raced = repository.photo_by_key(idempotency_key)
        if raced is None or raced.work_order_id != order.id:
            raise
        return _uploaded(order, raced, duplicate=True)
    audit_service.record(
        session,
        actor=user.username,
        action="field.photo",
        entity_type="work_order",
        entity_id=order.order_number,
        data={
            "photo_id": photo_id,
            "kind": kind,
            "upload_sha256": sha,
            "source_type": clean.source_type,
            "source_size": [clean.source_width, clean.source_height],
            "stored_size": [clean.width, clean.height],
            "bytes": len(clean.jpeg),
        },
        now=now,
    )
    return _uploaded(order, row, duplicate=False)


def _uploaded(order: WorkOrder, row: FieldPhoto, *, duplicate: bool) -> s.PhotoUploaded:
    return s.PhotoUploaded(
        id=row.id,
        url=_photo_url(order, row.id),
        width=row.width,
        height=row.height,
        bytes=row.bytes,
        duplicate=duplicate,
    )


def _write(target: Path, data: bytes) -> None:
    """Write a file whole or not at all (a full disk leaves no partial file)."""
    partial = target.with_suffix(".part")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(data)
        partial.replace(target)
    except OSError as error:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise photos.PhotoRefusedError(
            f"the photo could not be stored ({error.strerror or error}); nothing was kept, "
            "try again later",
            code="photo.storage_failed",
            status=photos.PhotoRefusedError.STORAGE_FAILED,
            details={},
        ) from None


def photo_file(
    session: Session, user: CurrentUser, order_number: str, photo_id: str, *, photos_dir: Path
) -> Path:
    """The stored JPEG of an order's photo.

    Raises:
        NotFoundError: No such photo on this order.
    """
    order, _ = _authorize(session, user, order_number)
    row = session.get(FieldPhoto, photo_id)
    if row is None or row.work_order_id != order.id:
        raise NotFoundError(
            f"No photo {photo_id!r} on {order.order_number}.", code="field.no_photo"
        )
    path = (photos_dir / row.path).resolve()
    if not path.is_relative_to(photos_dir.resolve()) or not path.is_file():
        raise NotFoundError(f"Photo {photo_id!r} is missing on disk.", code="field.no_photo")
    return path


# -- ping and read ----------------------------------------------------------------------------

_COMMAND_KINDS = {"ping": CommandType.PING, "read": CommandType.ON_DEMAND_READ}


def _command_read(session: Session, request_id: int) -> s.CommandRead:
    found = commands_service.get_request(session, request_id)
    command = found.commands[0] if found.commands else None
    state = found.state.value if command is None else command.state.value
    if found.state.value == "awaiting_approval":
        state = "awaiting_approval"
    return s.CommandRead(
        request_id=found.id,
        kind=found.kind.value,
        state=state,
        result={} if command is None else dict(command.result),
        failure_reason=None if command is None else command.failure_reason,
        completed_at=None if command is None else command.completed_at_utc,
    )


def ask_meter(
    session: Session,
    user: CurrentUser,
    order_number: str,
    *,
    kind: str,
    idempotency_key: str | None,
    now: dt.datetime,
    policy: FieldPolicy | None = None,
) -> s.CommandRead:
    """Ping or read the order's meter through the remote-commands service (and its guards).

    After an exchange, the meter asked is the new one.

    The request goes to the commands outbox; its dispatcher sends it to the head-end.
    Follow it with :func:`follow_command`.

    Raises:
        ConflictError: The order has no meter.
        PermissionDeniedError: Not the user's order, or their role may not ask.
    """
    order, _ = _authorize(session, user, order_number)
    site = FieldRepository(session).site(order)
    exchanged = FieldRepository(session).verification(order.id)
    if exchanged is not None:
        serial = exchanged.new_serial
    elif site.meter is not None:
        serial = site.meter.serial_number
    else:
        msg = f"Work order {order.order_number} has no meter to {kind}."
        raise ConflictError(msg, code="field.no_meter")
    key = idempotency_key or uuid.uuid4().hex
    action_key = f"field-{kind}-{key}"
    existing = FieldRepository(session).action_by_key(action_key)
    if existing is not None:
        if existing.work_order_id != order.id:
            msg = f"idempotency key {key!r} was used for another order; use a new key"
            raise ConflictError(msg, code="field.idempotency_key_reused")
        return _command_read(session, int(existing.result["request_id"]))
    actor = commands_service.resolve_actor(session, user.username)
    created = commands_service.request(
        session,
        CommandRequestCreate(
            kind=_COMMAND_KINDS[kind],
            serial_numbers=[serial],
            reason=f"field {kind} of the meter of {order.order_number}",
            idempotency_key=action_key,
        ),
        actor=actor,
        now=now,
        policy=(policy or FieldPolicy()).command_policy,
    )
    session.add(
        FieldAction(
            idempotency_key=action_key,
            work_order_id=order.id,
            kind=kind,
            payload={},
            payload_digest=_digest(kind, {}),
            recorded_at_utc=None,
            received_at_utc=now,
            actor=user.username,
            result={"request_id": created.id},
        )
    )
    session.flush()
    return _command_read(session, created.id)


def follow_command(
    session: Session, user: CurrentUser, order_number: str, request_id: int, *, now: dt.datetime
) -> s.CommandRead:
    """A ping or read asked for the order, as it stands; a settled one is kept on the order.

    Raises:
        NotFoundError: The request was not asked for this order.
    """
    order, _ = _authorize(session, user, order_number)
    asked = [
        a
        for a in FieldRepository(session).actions(order.id)
        if a.kind in _COMMAND_KINDS and a.result.get("request_id") == request_id
    ]
    if not asked:
        msg = f"No ping or read {request_id} was asked for {order.order_number}."
        raise NotFoundError(msg, code="field.no_command")
    read = _command_read(session, request_id)
    settled = read.state in {"confirmed", "failed", "expired", "cancelled"}
    if settled and (order.last_ping or {}).get("request_id") != request_id:
        workorders_service.record_ping(
            session,
            order,
            {
                "purpose": "field",
                "kind": read.kind,
                "request_id": request_id,
                "state": read.state,
                "reason": read.failure_reason,
                "answered_at_utc": None
                if read.completed_at is None
                else read.completed_at.isoformat(),
                "result": read.result,
            },
            actor=user.username,
            now=now,
        )
    return read
