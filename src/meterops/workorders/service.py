"""Work-order operations: create (from verdicts, programmes, by hand), list, move, book.

Every request goes through one path: its subject is resolved (meter → service point →
premise, or collector) and the order type's defaults fill what the request leaves open; an
active order for the same subject and problem makes it a duplicate (raised when the request is
more urgent); a new order joins a bundle with unplanned orders at the same premise or a few
metres away. Every change records an audit event and only flushes: the caller commits.

Moves that take an order off a technician's route (back to created, or cancelled while
scheduled, assigned or en route) must re-plan the route and are refused here with
:class:`OrderOnPlanError`; :mod:`meterops.dispatch.service` does them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from meterops.assets.errors import MeterNotFoundError, ServicePointNotFoundError
from meterops.audit import service as audit_service
from meterops.errors import (
    ConflictError,
    InvalidInputError,
    Issue,
    MeterOpsError,
    NotFoundError,
    PermissionDeniedError,
)
from meterops.models import WorkOrder
from meterops.models.workorders import OrderSource
from meterops.routing.travel import haversine_m
from meterops.timeutil import local_day_bounds_utc
from meterops.workorders import importers, schemas
from meterops.workorders.errors import (
    CollectorNotFoundError,
    OrderOnPlanError,
    ProgrammeImportRefusedError,
    ReasonRequiredError,
    WorkOrderNotFoundError,
)
from meterops.workorders.lifecycle import (
    REASON_REQUIRED,
    TRANSITIONS,
    WorkOrderStatus,
    check_transition,
)
from meterops.workorders.repository import OrderRow, WorkOrderRepository
from meterops.workorders.types import ORDER_TYPES, DeadlineRule, OrderTypeSpec, required_skill

__all__ = [
    "WorkOrderPolicy",
    "board",
    "book_appointment",
    "create_from_verdicts",
    "create_many",
    "create_order",
    "get_order",
    "history",
    "import_programme",
    "list_orders",
    "move",
    "order_types",
    "read_order",
    "read_orders",
    "record_ping",
    "transition",
]

_ON_ROUTE = frozenset(
    {WorkOrderStatus.SCHEDULED, WorkOrderStatus.ASSIGNED, WorkOrderStatus.EN_ROUTE}
)
_M_PER_DEG = 111_195.0


@dataclass(frozen=True, slots=True)
class WorkOrderPolicy:
    """Rules the utility sets (built from settings by the adapters).

    Attributes:
        utility_timezone: IANA zone of the territory ("same day" deadlines).
        reconnect_deadline_hours: A reconnect after payment must be done within this many
            hours (the regulator's rule). [h]
        bundle_radius_m: Orders at most this far apart are visited together. [m]
        max_bundle_minutes: A bundle's orders together take at most this long on site. [min]
    """

    utility_timezone: str = "America/Chicago"
    reconnect_deadline_hours: float = 24.0
    bundle_radius_m: float = 30.0
    max_bundle_minutes: int = 240


@dataclass(frozen=True, slots=True)
class _Target:
    subject_key: str
    territory_id: int
    latitude: float
    longitude: float
    meter_id: int | None = None
    service_point_id: int | None = None
    premise_id: int | None = None
    collector_id: int | None = None
    transformer_rated: bool = False
    meter_form: str | None = None


def get_order(session: Session, order_number: str) -> WorkOrder:
    """The order with this number.

    Raises:
        WorkOrderNotFoundError: No such order.
    """
    order = WorkOrderRepository(session).get_by_number(order_number)
    if order is None:
        raise WorkOrderNotFoundError(order_number)
    return order


def _read(row: OrderRow) -> schemas.WorkOrderRead:
    order = row.order
    return schemas.WorkOrderRead(
        order_number=order.order_number,
        order_type=order.order_type,
        status=order.status,
        source=order.source,
        problem_code=order.problem_code,
        subject_key=order.subject_key,
        meter_serial=row.meter_serial,
        service_point_number=row.service_point_number,
        address=row.address,
        territory_code=row.territory_code,
        latitude=order.latitude,
        longitude=order.longitude,
        meter_form=order.meter_form,
        priority=order.priority,
        due_at_utc=order.due_at_utc,
        appointment_start_utc=order.appointment_start_utc,
        appointment_end_utc=order.appointment_end_utc,
        duration_min=order.duration_min,
        required_skill=order.required_skill,
        certifications=list(order.certifications),
        parts=list(order.parts),
        evidence=dict(order.evidence),
        notes=order.notes,
        campaign=order.campaign,
        external_ref=order.external_ref,
        bundle_key=order.bundle_key,
        technician=row.technician,
        fixed_technician=order.fixed_technician,
        scheduled_date=order.scheduled_date,
        status_reason=order.status_reason,
        last_ping=order.last_ping,
        created_by=order.created_by,
        created_at_utc=order.created_at_utc,
        status_changed_at_utc=order.status_changed_at_utc,
    )


def history(session: Session, order_number: str) -> list[schemas.OrderEvent]:
    """An order's history, oldest first: creation, bundling, moves, pings, reassignments.

    Raises:
        WorkOrderNotFoundError: No such order.
    """
    order = get_order(session, order_number)
    return [
        schemas.OrderEvent(
            occurred_at_utc=event.occurred_at_utc,
            actor=event.actor,
            action=event.action,
            reason=event.reason,
            data=dict(event.data),
        )
        for event in WorkOrderRepository(session).history(order.order_number)
    ]


def read_order(session: Session, order_number: str) -> schemas.WorkOrderRead:
    """An order as the API shows it."""
    order = get_order(session, order_number)
    return read_orders(session, [order.id])[0]


def read_orders(session: Session, ids: Sequence[int]) -> list[schemas.WorkOrderRead]:
    """Orders by id, most urgent first."""
    rows = WorkOrderRepository(session).rows(ids=ids, limit=max(1, len(ids)))
    return [_read(row) for row in rows]


def list_orders(session: Session, filters: schemas.OrderFilter) -> list[schemas.WorkOrderRead]:
    """Orders matching a filter, most urgent first.

    Raises:
        NotFoundError: The territory or technician named in the filter does not exist.
    """
    repository = WorkOrderRepository(session)
    territory_id = technician_id = None
    if filters.territory_code is not None:
        territory_id = repository.territory_id(filters.territory_code)
        if territory_id is None:
            msg = f"No territory '{filters.territory_code}'."
            raise NotFoundError(msg, code="territory.not_found")
    if filters.technician is not None:
        technician_id = repository.technician_id(filters.technician)
        if technician_id is None:
            msg = f"No technician with employee number '{filters.technician}'."
            raise NotFoundError(msg, code="technician.not_found")
    rows = repository.rows(
        statuses=filters.statuses,
        order_type=filters.order_type,
        territory_id=territory_id,
        technician_id=technician_id,
        scheduled_date=filters.scheduled_date,
        campaign=filters.campaign,
        priority_at_most=filters.priority_at_most,
        limit=filters.limit,
    )
    return [_read(row) for row in rows]


def board(session: Session, filters: schemas.OrderFilter) -> schemas.Board:
    """The dispatcher's board: a column per status, in lifecycle order, with its orders."""
    statuses = filters.statuses or list(WorkOrderStatus)
    orders = list_orders(session, filters.model_copy(update={"statuses": statuses}))
    columns = [
        schemas.BoardColumn(
            status=status,
            count=sum(o.status is status for o in orders),
            orders=[o for o in orders if o.status is status],
        )
        for status in WorkOrderStatus
        if status in statuses
    ]
    return schemas.Board(columns=columns)


def order_types() -> list[schemas.WorkOrderTypeRead]:
    """Every work-order type with its defaults."""
    return [
        schemas.WorkOrderTypeRead(
            code=spec.code,
            name=spec.name,
            subject=spec.subject,
            duration_min=spec.duration_min,
            skill=spec.skill,
            ct_skill=spec.ct_skill,
            certifications=list(spec.certifications),
            parts=list(spec.parts),
            uses=None if spec.uses is None else spec.uses.value,
            checklist=list(spec.checklist),
            priority=spec.priority,
            deadline=spec.deadline.value,
            cancel_when_meter_answers=spec.cancel_when_meter_answers,
        )
        for spec in ORDER_TYPES.values()
    ]


def _resolve(repository: WorkOrderRepository, request: schemas.OrderRequest) -> _Target:
    if request.meter_serial:
        site = repository.meter_site(request.meter_serial)
        if site is None:
            raise MeterNotFoundError(request.meter_serial)
        if site.service_point is None or site.premise is None:
            msg = (
                f"Meter {request.meter_serial} is not installed at any service point, so an "
                "order for it has no place to go; install it or order by service point."
            )
            raise InvalidInputError(msg, code="workorder.meter_not_installed")
        return _Target(
            subject_key=request.subject_key,
            territory_id=site.premise.territory_id,
            latitude=site.premise.latitude,
            longitude=site.premise.longitude,
            meter_id=site.meter.id,
            service_point_id=site.service_point.id,
            premise_id=site.premise.id,
            transformer_rated=site.service_point.transformer_rated,
            meter_form=site.meter.form,
        )
    if request.service_point_number:
        found = repository.service_point_site(request.service_point_number)
        if found is None:
            raise ServicePointNotFoundError(request.service_point_number)
        service_point, premise = found
        forms = list(service_point.compatible_forms)
        return _Target(
            subject_key=request.subject_key,
            territory_id=premise.territory_id,
            latitude=premise.latitude,
            longitude=premise.longitude,
            service_point_id=service_point.id,
            premise_id=premise.id,
            transformer_rated=service_point.transformer_rated,
            meter_form=request.meter_form or (forms[0] if forms else None),
        )
    assert request.collector_code is not None
    collector = repository.collector(request.collector_code)
    if collector is None:
        raise CollectorNotFoundError(request.collector_code)
    return _Target(
        subject_key=request.subject_key,
        territory_id=collector.territory_id,
        latitude=collector.latitude,
        longitude=collector.longitude,
        collector_id=collector.id,
    )


def _deadline(
    spec: OrderTypeSpec, request: schemas.OrderRequest, now: dt.datetime, policy: WorkOrderPolicy
) -> dt.datetime | None:
    if request.due_at_utc is not None:
        return request.due_at_utc.astimezone(dt.UTC)
    if spec.deadline is DeadlineRule.SAME_DAY:
        zone = ZoneInfo(policy.utility_timezone)
        return local_day_bounds_utc(now.astimezone(zone).date(), zone)[1]
    if spec.deadline is DeadlineRule.REGULATOR_HOURS:
        return now + dt.timedelta(hours=policy.reconnect_deadline_hours)
    return None


def _escalate(
    session: Session,
    existing: WorkOrder,
    *,
    priority: int,
    due: dt.datetime | None,
    actor: str,
    now: dt.datetime,
) -> bool:
    changes: dict[str, Any] = {}
    if priority < existing.priority:
        changes["priority"] = {"from": existing.priority, "to": priority}
        existing.priority = priority
    if due is not None and (existing.due_at_utc is None or due < existing.due_at_utc):
        changes["due_at_utc"] = {"from": existing.due_at_utc, "to": due}
        existing.due_at_utc = due
    if not changes:
        return False
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="workorder.escalate",
        entity_type="work_order",
        entity_id=existing.order_number,
        reason="a more urgent request for the same meter and problem",
        data=changes,
        now=now,
    )
    return True


def _overlap(a: WorkOrder, b: WorkOrder) -> bool:
    if a.appointment_start_utc is None or b.appointment_start_utc is None:
        return True
    assert a.appointment_end_utc is not None
    assert b.appointment_end_utc is not None
    return (
        a.appointment_start_utc < b.appointment_end_utc
        and b.appointment_start_utc < a.appointment_end_utc
    )


def _bundle(
    session: Session,
    repository: WorkOrderRepository,
    order: WorkOrder,
    *,
    policy: WorkOrderPolicy,
    actor: str,
    now: dt.datetime,
) -> str | None:
    """Join the order to the nearest compatible unplanned order or bundle; its key or None."""
    if policy.bundle_radius_m <= 0:
        return None
    lat_box = policy.bundle_radius_m / _M_PER_DEG
    lon_box = lat_box / max(math.cos(math.radians(order.latitude)), 0.01)
    best: tuple[tuple[int, float], WorkOrder] | None = None
    for candidate in repository.bundle_candidates(
        territory_id=order.territory_id,
        premise_id=order.premise_id,
        latitude=order.latitude,
        longitude=order.longitude,
        lat_box_deg=lat_box,
        lon_box_deg=lon_box,
        exclude_id=order.id,
    ):
        same_premise = order.premise_id is not None and candidate.premise_id == order.premise_id
        distance = float(
            haversine_m(order.latitude, order.longitude, candidate.latitude, candidate.longitude)
        )
        if not same_premise and distance > policy.bundle_radius_m:
            continue
        members = (
            repository.bundle_members(candidate.bundle_key) if candidate.bundle_key else [candidate]
        )
        waiting = [m for m in members if m.status is WorkOrderStatus.CREATED]
        if not all(_overlap(order, m) for m in waiting):
            continue
        if sum(m.duration_min for m in waiting) + order.duration_min > policy.max_bundle_minutes:
            continue
        rank = (0 if same_premise else 1, distance)
        if best is None or rank < best[0]:
            best = (rank, candidate)
    if best is None:
        return None
    lead = best[1]
    key = lead.bundle_key or lead.order_number
    lead.bundle_key = key
    order.bundle_key = key
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="workorder.bundle",
        entity_type="work_order",
        entity_id=order.order_number,
        reason="same premise"
        if best[0][0] == 0
        else f"{best[0][1]:.0f} m from {lead.order_number}",
        data={"bundle_key": key, "with": lead.order_number},
        now=now,
    )
    return key


def _create_one(
    session: Session,
    repository: WorkOrderRepository,
    request: schemas.OrderRequest,
    *,
    index: int,
    source: OrderSource,
    actor: str,
    now: dt.datetime,
    policy: WorkOrderPolicy,
    result: schemas.CreationResult,
    territory_ids: Collection[int] | None = None,
) -> WorkOrder | None:
    spec = ORDER_TYPES[request.order_type]
    target = _resolve(repository, request)
    if territory_ids is not None and target.territory_id not in territory_ids:
        raise PermissionDeniedError(
            f"{request.subject_key} lies in a territory that is not yours, so you may not "
            "raise an order for it; ask a dispatcher or supervisor of that territory.",
            code="permission_denied.territory",
            details={"subject": request.subject_key},
        )
    problem_code = request.problem_code or request.order_type.value
    priority = request.priority or spec.priority
    due = _deadline(spec, request, now, policy)
    existing = repository.active_for(target.subject_key, problem_code)
    if existing is not None:
        escalated = _escalate(session, existing, priority=priority, due=due, actor=actor, now=now)
        result.duplicates.append(
            schemas.Duplicate(index=index, order_number=existing.order_number, escalated=escalated)
        )
        return None
    form_text = target.meter_form or "(form unknown)"
    evidence = dict(request.evidence)
    if request.evidence_summary:
        evidence["summary"] = request.evidence_summary
    order = WorkOrder(
        order_type=request.order_type,
        status=WorkOrderStatus.CREATED,
        source=source,
        problem_code=problem_code,
        subject_key=target.subject_key,
        meter_id=target.meter_id,
        service_point_id=target.service_point_id,
        premise_id=target.premise_id,
        collector_id=target.collector_id,
        territory_id=target.territory_id,
        latitude=target.latitude,
        longitude=target.longitude,
        meter_form=target.meter_form,
        priority=priority,
        due_at_utc=due,
        appointment_start_utc=request.appointment_start_utc,
        appointment_end_utc=request.appointment_end_utc,
        duration_min=request.duration_min or spec.duration_min,
        required_skill=(
            request.required_skill
            or required_skill(spec, transformer_rated=target.transformer_rated)
        ).value,
        certifications=list(spec.certifications),
        parts=list(request.parts)
        if request.parts is not None
        else [part.format(form=form_text) for part in spec.parts],
        evidence=evidence,
        notes=request.notes,
        campaign=request.campaign,
        external_ref=request.external_ref,
        created_by=actor,
        status_changed_at_utc=now,
    )
    repository.add(order)
    audit_service.record(
        session,
        actor=actor,
        action="workorder.create",
        entity_type="work_order",
        entity_id=order.order_number,
        reason=request.evidence_summary or None,
        data={
            "order_type": order.order_type.value,
            "subject": order.subject_key,
            "problem_code": problem_code,
            "priority": priority,
            "due_at_utc": due,
            "source": source.value,
            "campaign": request.campaign,
        },
        now=now,
    )
    result.created.append(order.order_number)
    key = _bundle(session, repository, order, policy=policy, actor=actor, now=now)
    if key is not None:
        result.bundled[order.order_number] = key
    return order


def create_many(
    session: Session,
    requests: Sequence[schemas.OrderRequest],
    *,
    source: OrderSource,
    actor: str,
    now: dt.datetime,
    policy: WorkOrderPolicy,
    all_or_nothing: bool,
) -> schemas.CreationResult:
    """Create orders for many requests: deduplicated, bundled, audited.

    Args:
        session: The caller's session.
        requests: The requests, in order.
        source: Where they come from.
        actor: Who asks (``system:diagnostics`` for verdicts).
        now: The current time (aware).
        policy: Deadlines and bundling.
        all_or_nothing: Refuse the whole batch when any request cannot become an order
            (programmes); otherwise report those requests as refused and go on (verdicts).

    Returns:
        Orders created, duplicates (and whether they raised the active order), bundles
        joined, requests refused.

    Raises:
        ValidationReportError: ``all_or_nothing`` and a request refers to an unknown subject.
    """
    repository = WorkOrderRepository(session)
    result = schemas.CreationResult()
    issues: list[Issue] = []
    batch = session.begin_nested()
    for index, request in enumerate(requests):
        try:
            with session.begin_nested():
                _create_one(
                    session,
                    repository,
                    request,
                    index=index,
                    source=source,
                    actor=actor,
                    now=now,
                    policy=policy,
                    result=result,
                )
        except MeterOpsError as error:
            result.refused.append(
                schemas.Refusal(index=index, code=error.code, message=error.message)
            )
            issues.append(
                Issue("<payload>", index + 1, request.subject_key, error.code, error.message)
            )
    if all_or_nothing and issues:
        batch.rollback()
        raise ProgrammeImportRefusedError(
            f"{len(issues)} of {len(requests)} requests cannot become orders; none was created.",
            issues,
        )
    batch.commit()
    return result


def create_from_verdicts(
    session: Session,
    requests: Sequence[schemas.OrderRequest],
    *,
    actor: str,
    now: dt.datetime,
    policy: WorkOrderPolicy,
) -> schemas.CreationResult:
    """Orders for diagnostics verdicts: one active order per meter and problem, bundled.

    A verdict on a meter the back office does not know is refused on its own; the others go
    on (see :func:`create_many`).
    """
    return create_many(
        session,
        requests,
        source=OrderSource.VERDICT,
        actor=actor,
        now=now,
        policy=policy,
        all_or_nothing=False,
    )


def create_order(
    session: Session,
    request: schemas.OrderRequest,
    *,
    actor: str,
    now: dt.datetime,
    policy: WorkOrderPolicy,
    source: OrderSource = OrderSource.MANUAL,
    territory_ids: Collection[int] | None = None,
) -> schemas.WorkOrderRead:
    """Create one order by hand.

    Args:
        session: The caller's session.
        request: The order asked for.
        actor: Who asks.
        now: The current time (aware).
        policy: Deadlines and bundling.
        source: Where it comes from.
        territory_ids: The asking user's territories: the subject must lie in one of them;
            None: anywhere (the platform itself).

    Raises:
        ConflictError: An active order exists for the subject and problem.
        NotFoundError: The meter, service point or collector does not exist.
        PermissionDeniedError: The subject lies outside ``territory_ids``
            (``permission_denied.territory``).
    """
    repository = WorkOrderRepository(session)
    result = schemas.CreationResult()
    order = _create_one(
        session,
        repository,
        request,
        index=0,
        source=source,
        actor=actor,
        now=now,
        policy=policy,
        result=result,
        territory_ids=territory_ids,
    )
    if order is None:
        existing = result.duplicates[0].order_number
        msg = (
            f"Work order {existing} is already active for {request.subject_key} and problem "
            f"'{request.problem_code or request.order_type.value}'; change that order instead."
        )
        raise ConflictError(msg, code="workorder.duplicate", details={"order_number": existing})
    return read_order(session, order.order_number)


def import_programme(
    session: Session,
    data: bytes,
    *,
    file: str,
    actor: str,
    now: dt.datetime,
    policy: WorkOrderPolicy,
    territory_ids: Collection[int] | None = None,
) -> schemas.ImportResult:
    """Create a programme's orders from a CSV file, whole file or nothing.

    Rows whose subject already has an active order for the same problem are duplicates, so
    importing the same file again creates nothing.

    Args:
        session: The caller's session.
        data: The CSV file's bytes.
        file: Its name, for messages.
        actor: Who imports.
        now: The current time (aware).
        policy: Deadlines and bundling.
        territory_ids: The importing user's territories: every row's subject must lie in one
            of them; None: anywhere.

    Raises:
        ProgrammeImportRefusedError: The file has bad rows (every one named with file, line
            and field); no order was created.
        PermissionDeniedError: A row's subject lies outside ``territory_ids``
            (``permission_denied.territory``, naming the file's lines); no order was created.
    """
    parsed = importers.parse_programme_csv(data, file=file)
    issues = list(parsed.issues)
    repository = WorkOrderRepository(session)
    result = schemas.CreationResult()
    batch = session.begin_nested()
    foreign: list[str] = []
    if not issues:
        for index, (line, request) in enumerate(parsed.requests):
            try:
                with session.begin_nested():
                    _create_one(
                        session,
                        repository,
                        request,
                        index=index,
                        source=OrderSource.PROGRAMME,
                        actor=actor,
                        now=now,
                        policy=policy,
                        result=result,
                        territory_ids=territory_ids,
                    )
            except PermissionDeniedError:
                foreign.append(f"{file}:{line} ({importers.subject_column(request)})")
            except MeterOpsError as error:
                field = importers.subject_column(request)
                issues.append(Issue(file, line, field, error.code, error.message))
    if foreign:
        batch.rollback()
        raise PermissionDeniedError(
            f"{file}: {len(foreign)} row(s) order for meters or premises outside your "
            f"territories ({', '.join(foreign[:10])}); no work order of this file was created.",
            code="permission_denied.territory",
            details={"rows": foreign},
        )
    if issues:
        batch.rollback()
        raise ProgrammeImportRefusedError(
            f"{file}: {len(issues)} problem(s); no work order of this file was created.", issues
        )
    batch.commit()
    return schemas.ImportResult(file=file, rows=len(parsed.requests), result=result)


def move(
    session: Session,
    order: WorkOrder,
    target: WorkOrderStatus,
    *,
    actor: str,
    now: dt.datetime,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Move an order along its lifecycle and audit it (no day-plan checks: dispatch's tool).

    Raises:
        IllegalTransitionError: The move is not allowed from the current state.
        ReasonRequiredError: Cancelling or "unable to complete" without a reason.
    """
    check_transition(f"work order {order.order_number}", order.status, target)
    if target in REASON_REQUIRED and not (reason or "").strip():
        raise ReasonRequiredError(order.order_number, target.value)
    before = order.status
    order.status = target
    order.status_changed_at_utc = now
    if reason:
        order.status_reason = reason
    if target in (WorkOrderStatus.CREATED, WorkOrderStatus.CANCELLED):
        order.scheduled_date = None
        if not order.fixed_technician or target is WorkOrderStatus.CANCELLED:
            order.technician_id = None
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="workorder.status",
        entity_type="work_order",
        entity_id=order.order_number,
        reason=reason,
        data={"from": before.value, "to": target.value, **(data or {})},
        now=now,
    )


def transition(
    session: Session,
    order_number: str,
    target: WorkOrderStatus,
    *,
    actor: str,
    now: dt.datetime,
    reason: str | None = None,
) -> schemas.WorkOrderRead:
    """Move an order along its lifecycle (field progress, verification, closing).

    Raises:
        WorkOrderNotFoundError: No such order.
        IllegalTransitionError: The move is not allowed from the current state.
        ReasonRequiredError: Cancelling or "unable to complete" without a reason.
        OrderOnPlanError: The move would take the order off a technician's route.
    """
    order = get_order(session, order_number)
    WorkOrderRepository(session).lock(order)
    if (
        order.status in _ON_ROUTE
        and target in (WorkOrderStatus.CREATED, WorkOrderStatus.CANCELLED)
        and target in TRANSITIONS[order.status]
    ):
        raise OrderOnPlanError(order.order_number, order.scheduled_date, target.value)
    move(session, order, target, actor=actor, now=now, reason=reason)
    return read_order(session, order_number)


def book_appointment(
    session: Session,
    order_number: str,
    *,
    start_utc: dt.datetime,
    end_utc: dt.datetime,
    actor: str,
    now: dt.datetime,
) -> schemas.WorkOrderRead:
    """Book a customer appointment: the visit must start inside ``[start, end]``.

    Raises:
        InvalidInputError: The window is empty or naive.
        ConflictError: The order is already planned (take it off the plan first).
    """
    if start_utc.tzinfo is None or end_utc.tzinfo is None or end_utc <= start_utc:
        msg = "an appointment needs aware start and end times, the end after the start"
        raise InvalidInputError(msg, code="workorder.bad_appointment")
    order = get_order(session, order_number)
    if order.status is not WorkOrderStatus.CREATED:
        msg = (
            f"Work order {order.order_number} is '{order.status.value}'; appointments are "
            "booked before the order is planned."
        )
        raise ConflictError(msg, code="workorder.appointment_after_planning")
    before = [order.appointment_start_utc, order.appointment_end_utc]
    order.appointment_start_utc = start_utc.astimezone(dt.UTC)
    order.appointment_end_utc = end_utc.astimezone(dt.UTC)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="workorder.appointment",
        entity_type="work_order",
        entity_id=order.order_number,
        data={"from": before, "to": [order.appointment_start_utc, order.appointment_end_utc]},
        now=now,
    )
    return read_order(session, order_number)


def record_ping(
    session: Session, order: WorkOrder, ping: dict[str, Any], *, actor: str, now: dt.datetime
) -> None:
    """Keep a head-end ping's outcome on the order and in the audit trail."""
    order.last_ping = ping
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="workorder.ping",
        entity_type="work_order",
        entity_id=order.order_number,
        data=ping,
        now=now,
    )
