"""Remote command requests: guards, blast-radius thresholds, approval, kill switch.

A request (one kind, a list of meters, a reason, an idempotency key) is checked meter by meter
by the guards of :mod:`meterops.commands.policy`; meters that fail a guard get a command that
is cancelled at once with the guard's code (nothing is sent). The rest are counted against the
rolling-window limits under the ``request_lock`` row lock, so that two concurrent requests
cannot both slip under a limit: within the limits their commands are queued in the outbox at
once; over a limit they are held until a second, different supervisor or admin approves in
time; over the hard ceiling the request is refused. The dispatcher
(:mod:`meterops.commands.dispatcher`) re-checks every guard before sending.

Every change records a hash-chained audit event with the requester, approver, reason, a digest
of the meter list, the guard results and the head-end's answers. Services only flush.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from meterops.audit import service as audit_service
from meterops.auth.service import SessionPolicy, has_second_factor, step_up_is_fresh
from meterops.commands import schemas
from meterops.commands.errors import (
    HardCeilingError,
    IdempotencyKeyReusedError,
    NotApprovableError,
    RequestNotFoundError,
)
from meterops.commands.policy import (
    APPROVER_ROLES,
    KILL_SWITCH_ROLES,
    PAYMENT_PLAN_OPEN,
    Actor,
    CommandPolicy,
    GuardResult,
    MeterFacts,
    WindowCounts,
    check_meter,
    check_thresholds,
    payment_plan_open_on,
)
from meterops.commands.repository import CommandRepository, MeterRow
from meterops.errors import ConflictError, InvalidInputError, PermissionDeniedError
from meterops.models.commands import (
    CommandRequest,
    CommandType,
    RemoteCommand,
    RemoteCommandState,
    RequestState,
    TemperatureReading,
)
from meterops.models.org import Territory
from meterops.nomenclature import EVENT_BY_NAME
from meterops.reads.store import ReadStore, Table
from meterops.workorders import schemas as workorder_schemas
from meterops.workorders import service as workorders_service
from meterops.workorders.types import WorkOrderType

__all__ = [
    "KILL_SWITCH",
    "Evaluation",
    "approve",
    "cancel",
    "evaluate",
    "expire_overdue_requests",
    "facts_for",
    "field_reconnect_order",
    "get_request",
    "kill_switch_state",
    "list_commands",
    "overview",
    "record_temperature",
    "request",
    "request_system_pings",
    "resolve_actor",
    "set_kill_switch",
]

KILL_SWITCH = "kill_switch"
"""Name of the kill-switch control row."""

_LSV_CODE = EVENT_BY_NAME["load_side_voltage"].code
_SYSTEM_ACTOR = "system:commands"
"""Who the audit trail names for orders the commands service opens by itself."""


def resolve_actor(session: Session, username: str) -> Actor:
    """The actor as the database knows them (role and territories).

    Raises:
        PermissionDeniedError: No active user by that name.
    """
    repository = CommandRepository(session)
    found = repository.user(username)
    if found is None or not found[0].active:
        msg = f"no active user {username!r}; remote commands need a known user"
        raise PermissionDeniedError(msg, code="commands.unknown_user")
    user, territories = found
    if user.role.value == "admin":
        territories = repository.all_territory_codes()
    return Actor(user.username, user.role.value, territories)


def _check_actor(session: Session, actor: Actor) -> Actor:
    """The actor value must match the database: same role, territories within theirs."""
    known = resolve_actor(session, actor.username)
    if known.role != actor.role or not actor.territories <= known.territories:
        msg = (
            f"user {actor.username!r} is {known.role} in {sorted(known.territories)}, not "
            f"{actor.role} in {sorted(actor.territories)}"
        )
        raise PermissionDeniedError(msg, code="commands.actor_mismatch")
    return actor


def facts_for(
    session: Session,
    serials: Sequence[str],
    *,
    now: dt.datetime,
    policy: CommandPolicy,
    store: ReadStore | None = None,
    program_code: str | None = None,
) -> tuple[dict[str, MeterFacts], dict[str, MeterRow]]:
    """The guards' facts for meters now (fleet, accounts, payment plans, temperatures, LSV).

    Args:
        session: Database session.
        serials: Meter serials.
        now: Moment of evaluation. [UTC]
        policy: The policy (temperature age, load-side voltage look-back).
        store: Read store to look for load-side voltage events (None: not checked).
        program_code: For program pushes, the program to check.

    Returns:
        Facts and fleet rows by serial (rows only for known meters).
    """
    repository = CommandRepository(session)
    rows = repository.meters(serials, on=now.date())
    temperatures = repository.latest_temperatures(
        since=now - dt.timedelta(seconds=policy.temperature_max_age_s), until=now
    )
    lsv = _load_side_voltage(store, rows, now=now, policy=policy) if store else set()
    known_programs = repository.program_codes() if program_code is not None else frozenset()
    plans = repository.open_payment_plans(
        [r.account_id for r in rows.values() if r.account_id is not None]
    )
    facts: dict[str, MeterFacts] = {}
    for serial in serials:
        row = rows.get(serial)
        if row is None:
            facts[serial] = MeterFacts(serial, known=False)
            continue
        timezone = row.timezone or "America/Chicago"
        facts[serial] = MeterFacts(
            serial,
            installed=row.installed,
            territory_code=row.territory_code,
            timezone=timezone,
            has_switch=row.has_switch,
            medical_life_support=row.medical_life_support,
            critical_facility=row.critical_facility,
            payment_plan_open=_payment_plan_open(
                plans.get(row.account_id or -1, []), now, timezone
            ),
            temperature_c=temperatures.get(row.territory_code or ""),
            load_side_voltage=row.meter_id in lsv,
            program_known=program_code is None or program_code in known_programs,
        )
    return facts, rows


def _payment_plan_open(
    plans: Sequence[tuple[dt.date, dt.date | None]], now: dt.datetime, timezone: str
) -> bool:
    """Whether one of an account's ``open``-status plans covers the local day of ``now``."""
    day = now.astimezone(ZoneInfo(timezone)).date()
    return any(payment_plan_open_on(PAYMENT_PLAN_OPEN, s, e, day) for s, e in plans)


def _load_side_voltage(
    store: ReadStore, rows: dict[str, MeterRow], *, now: dt.datetime, policy: CommandPolicy
) -> set[int]:
    if not rows:
        return set()
    events = store.records(
        Table.EVENTS,
        start_utc=now - dt.timedelta(seconds=policy.load_side_voltage_lookback_s),
        end_utc=now + dt.timedelta(seconds=1),
        ids=[r.meter_id for r in rows.values()],
    )
    hits = events.filter(pl.col("cim_event_type") == _LSV_CODE)
    return {int(i) for i in hits["meter_id"].to_list()}


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Guards and thresholds of a request before anything is stored."""

    guards: dict[str, list[GuardResult]]
    eligible: list[str]
    approval_reasons: tuple[str, ...]
    over_ceiling: bool
    rows: dict[str, MeterRow]


def _digest(values: object) -> str:
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _window_counts(
    repository: CommandRepository,
    actor: Actor,
    territories: Collection[str],
    *,
    now: dt.datetime,
    policy: CommandPolicy,
) -> WindowCounts:
    kinds = policy.thresholded_kinds

    def ago(seconds: int) -> dt.datetime:
        return now - dt.timedelta(seconds=seconds)

    return WindowCounts(
        user_unapproved=repository.window_count(
            kinds=kinds, since=ago(policy.user_window_s), unapproved_only=True, user=actor.username
        ),
        territory_unapproved={
            code: repository.window_count(
                kinds=kinds,
                since=ago(policy.territory_window_s),
                unapproved_only=True,
                territory=code,
            )
            for code in territories
        },
        system_unapproved=repository.window_count(
            kinds=kinds, since=ago(policy.system_window_s), unapproved_only=True
        ),
        system_total=repository.window_count(
            kinds=kinds, since=ago(policy.system_window_s), unapproved_only=False
        ),
    )


def evaluate(
    session: Session,
    kind: CommandType,
    serials: Sequence[str],
    *,
    actor: Actor,
    now: dt.datetime,
    policy: CommandPolicy,
    store: ReadStore | None = None,
    program_code: str | None = None,
) -> Evaluation:
    """Guards for every meter and the threshold verdict, as they stand now (no writes).

    Args:
        session: Database session.
        kind: Command kind.
        serials: Meters.
        actor: Requester.
        now: Moment. [UTC]
        policy: The policy.
        store: Read store for load-side voltage events.
        program_code: Program to push (program pushes).

    Returns:
        The evaluation (the "preview" shown before sending).
    """
    facts, rows = facts_for(
        session, serials, now=now, policy=policy, store=store, program_code=program_code
    )
    guards = {
        s: check_meter(kind.value, facts[s], actor=actor, now=now, policy=policy) for s in serials
    }
    eligible = [s for s in serials if all(g.passed for g in guards[s])]
    per_territory = Counter(rows[s].territory_code or "" for s in eligible)
    counts = _window_counts(
        CommandRepository(session), actor, list(per_territory), now=now, policy=policy
    )
    verdict = check_thresholds(kind.value, per_territory, counts, policy=policy)
    return Evaluation(guards, eligible, verdict.approval_reasons, verdict.over_ceiling, rows)


def field_reconnect_order(
    session: Session,
    command: RemoteCommand,
    *,
    now: dt.datetime,
    workorder_policy: workorders_service.WorkOrderPolicy,
) -> str | None:
    """The field reconnect work order for a reconnect withheld for load-side voltage.

    Returns:
        Its order number (the open one when the meter already has one), or None.
    """
    order_request = workorder_schemas.OrderRequest(
        order_type=WorkOrderType.FIELD_RECONNECT,
        meter_serial=command.serial_number,
        problem_code="load_side_voltage",
        evidence_summary="Remote reconnect withheld: the meter reports load-side voltage.",
        evidence={"remote_command_id": command.id},
    )
    try:
        order = workorders_service.create_order(
            session, order_request, actor=_SYSTEM_ACTOR, now=now, policy=workorder_policy
        )
    except ConflictError as error:
        existing = error.details.get("order_number")
        return str(existing) if existing else None
    return order.order_number


def request(
    session: Session,
    payload: schemas.CommandRequestCreate,
    *,
    actor: Actor,
    now: dt.datetime,
    policy: CommandPolicy,
    store: ReadStore | None = None,
    rollout_id: int | None = None,
    rollout_stage: int | None = None,
    previous_programs: dict[str, str | None] | None = None,
    workorder_policy: workorders_service.WorkOrderPolicy | None = None,
) -> schemas.CommandRequestRead:
    """Store a request: guards, thresholds, then queued, held for approval, or refused.

    A reconnect refused because the meter reports load-side voltage gets a field reconnect
    work order instead (CMD-09), as at dispatch.

    The same idempotency key with the same payload returns the stored request; with another
    payload it is refused.

    Args:
        session: Database session (the caller commits).
        payload: Kind, meters, reason, idempotency key, program code.
        actor: Requester (checked against the users table).
        now: Request time. [UTC]
        policy: The policy.
        store: Read store (load-side voltage events before reconnects).
        rollout_id: The staged rollout this request belongs to.
        rollout_stage: Its stage number.
        previous_programs: Program each meter carried before a push (for rollback).
        workorder_policy: The utility's work-order rules, for the field reconnect orders
            (default: the shipped rules).

    Returns:
        The request with its commands.

    Raises:
        PermissionDeniedError: Unknown user, or the role may not request this kind.
        IdempotencyKeyReusedError: The key was used for another payload.
        HardCeilingError: The system-wide hard ceiling would be passed.
    """
    repository = CommandRepository(session)
    # Serialise "count the windows, then insert" across sessions and processes.
    repository.lock("request_lock")
    digest = _digest(payload.model_dump(mode="json", exclude={"idempotency_key"}))
    existing = repository.request_by_key(payload.idempotency_key)
    if existing is not None:
        if existing.payload_digest != digest:
            msg = (
                f"idempotency key {payload.idempotency_key!r} was used for another request "
                f"(request {existing.id}); use a new key"
            )
            raise IdempotencyKeyReusedError(msg, details={"request_id": existing.id})
        return get_request(session, existing.id)
    _check_actor(session, actor)
    kind = CommandType(payload.kind)
    if kind is CommandType.PROGRAM_PUSH and not payload.program_code:
        raise InvalidInputError("a program push needs program_code", code="commands.no_program")
    evaluation = evaluate(
        session,
        kind,
        payload.serial_numbers,
        actor=actor,
        now=now,
        policy=policy,
        store=store,
        program_code=payload.program_code,
    )
    role_blocked = [
        s for s, results in evaluation.guards.items() if not _passed(results, "guard.role")
    ]
    if role_blocked:
        msg = f"role {actor.role!r} may not request {kind.value}"
        raise PermissionDeniedError(msg, code="commands.role")
    if evaluation.over_ceiling:
        msg = (
            f"the hard ceiling of {policy.hard_ceiling} {kind.value} commands per "
            f"{policy.system_window_s // 60} min system-wide would be passed; nothing was queued"
        )
        raise HardCeilingError(msg, details={"hard_ceiling": policy.hard_ceiling})
    held = bool(evaluation.approval_reasons)
    req = CommandRequest(
        idempotency_key=payload.idempotency_key,
        payload_digest=digest,
        kind=kind,
        requested_by=actor.username,
        requester_role=actor.role,
        reason=payload.reason,
        program_code=payload.program_code,
        meter_count=len(payload.serial_numbers),
        meter_list_digest=_digest(sorted(payload.serial_numbers)),
        state=RequestState.AWAITING_APPROVAL if held else RequestState.RELEASED,
        approval_required=held,
        approval_reasons=list(evaluation.approval_reasons),
        approval_deadline_utc=now + dt.timedelta(seconds=policy.approval_timeout_s)
        if held
        else None,
        rollout_id=rollout_id,
        created_at_utc=now,
    )
    session.add(req)
    session.flush()
    bulk = len(evaluation.eligible) > 1
    rng = random.Random(f"{req.id}:{payload.idempotency_key}")
    eligible = set(evaluation.eligible)
    withheld: list[RemoteCommand] = []
    for serial in payload.serial_numbers:
        row = evaluation.rows.get(serial)
        results = evaluation.guards[serial]
        ok = serial in eligible
        jitter = rng.uniform(0.0, policy.jitter_max_s) if bulk and ok else 0.0
        blocked = [r.code for r in results if not r.passed]
        state = (
            RemoteCommandState.CANCELLED
            if not ok
            else (RemoteCommandState.HELD if held else RemoteCommandState.QUEUED)
        )
        command = RemoteCommand(
            request_id=req.id,
            kind=kind,
            serial_number=serial,
            meter_id=row.meter_id if row else None,
            territory_code=row.territory_code if row else None,
            feeder_code=row.feeder_code if row else None,
            program_code=payload.program_code,
            previous_program_code=(previous_programs or {}).get(serial)
            if previous_programs is not None
            else (row.program_code if row else None),
            purpose="request",
            rollout_stage=rollout_stage,
            state=state,
            not_before_utc=now + dt.timedelta(seconds=jitter),
            expires_at_utc=now + dt.timedelta(seconds=policy.command_ttl_s),
            failure_reason=blocked[0] if blocked else None,
            completed_at_utc=now if not ok else None,
            result={},
            guard_results={"request": _guard_json(results)},
            created_at_utc=now,
        )
        session.add(command)
        if blocked and blocked[0] == "guard.load_side_voltage":
            withheld.append(command)
    session.flush()
    for command in withheld:
        field_reconnect_order(
            session,
            command,
            now=now,
            workorder_policy=workorder_policy or workorders_service.WorkOrderPolicy(),
        )
    audit_service.record(
        session,
        actor=actor.username,
        action="command.request",
        entity_type="command_request",
        entity_id=req.id,
        reason=payload.reason,
        data={
            "kind": kind.value,
            "meters": len(payload.serial_numbers),
            "meter_list_sha256": req.meter_list_digest,
            "eligible": len(eligible),
            "blocked": {
                s: [r.code for r in rs if not r.passed]
                for s, rs in evaluation.guards.items()
                if s not in eligible
            },
            "approval_reasons": list(evaluation.approval_reasons),
            "program_code": payload.program_code,
        },
        now=now,
    )
    return get_request(session, req.id)


def _passed(results: Sequence[GuardResult], code: str) -> bool:
    return all(r.passed for r in results if r.code == code)


def _guard_json(results: Sequence[GuardResult]) -> list[dict[str, object]]:
    return [{"code": r.code, "passed": r.passed, "message": r.message} for r in results]


def get_request(session: Session, request_id: int) -> schemas.CommandRequestRead:
    """A request with its commands.

    Raises:
        RequestNotFoundError: No such request.
    """
    repository = CommandRepository(session)
    req = repository.request(request_id)
    if req is None:
        raise RequestNotFoundError(f"no command request {request_id}")
    commands = [schemas.RemoteCommandRead.model_validate(c) for c in repository.commands_of(req.id)]
    return schemas.CommandRequestRead.model_validate(req).model_copy(update={"commands": commands})


def approve(
    session: Session,
    request_id: int,
    *,
    actor: Actor,
    now: dt.datetime,
    policy: CommandPolicy,
    stepped_up_at_utc: dt.datetime | None,
    session_policy: SessionPolicy | None = None,
    store: ReadStore | None = None,
) -> schemas.CommandRequestRead:
    """A second, different supervisor or admin releases a held request in time.

    The approver must have a confirmed second factor and have given a code from it (stepped
    up) within ``session_policy.step_up_s`` (5 minutes) before ``now`` (CMD-03, ASVS 7.5.3).
    Guards are evaluated again; meters that now fail one are cancelled. The hard ceiling is
    checked again.

    Args:
        session: Database session.
        request_id: The held request.
        actor: The approver.
        now: Time of the approval (aware UTC).
        policy: The command policy.
        stepped_up_at_utc: When the approver last stepped up (the web session's, or ``now``
            after a code checked by the caller); None when they have not.
        session_policy: Where the step-up age limit comes from (default
            :class:`~meterops.auth.service.SessionPolicy`).
        store: Read store for the guards' facts.

    Raises:
        NotApprovableError: Own request, wrong role, no second factor, no recent step-up,
            territory outside the approver's, too late.
        ConflictError: The request is not awaiting approval.
        HardCeilingError: Releasing it would pass the hard ceiling.
    """
    repository = CommandRepository(session)
    repository.lock("request_lock")
    _check_actor(session, actor)
    req = repository.request(request_id)
    if req is None:
        raise RequestNotFoundError(f"no command request {request_id}")
    session.refresh(req)

    def refuse(message: str) -> NotApprovableError:
        audit_service.record(
            session,
            actor=actor.username,
            action="command.approve_refused",
            entity_type="command_request",
            entity_id=req.id,
            reason=message,
            now=now,
        )
        return NotApprovableError(message, details={"request_id": req.id})

    if req.state is not RequestState.AWAITING_APPROVAL:
        msg = f"request {req.id} is {req.state.value}, not awaiting approval"
        raise ConflictError(msg, code="commands.not_held")
    if actor.username == req.requested_by:
        raise refuse("the requester cannot approve their own request (two-person rule)")
    if actor.role not in APPROVER_ROLES:
        raise refuse(f"role {actor.role!r} cannot approve; a supervisor or admin must")
    if not has_second_factor(session, actor.username):
        raise refuse(
            f"{actor.username} has no second factor; approvals need one: enrol with "
            f"`meterops users mfa-enroll {actor.username}`"
        )
    limits = session_policy or SessionPolicy()
    if not step_up_is_fresh(stepped_up_at_utc, now, limits):
        minutes = f"{limits.step_up_s / 60:g} minute{'s' if limits.step_up_s != 60 else ''}"
        raise refuse(
            "step up with your authenticator code first; approvals need a second factor "
            f"from the last {minutes}"
        )
    if req.approval_deadline_utc is not None and now > req.approval_deadline_utc:
        raise refuse(f"the approval window closed at {req.approval_deadline_utc.isoformat()}")
    commands = [c for c in repository.commands_of(req.id) if c.state is RemoteCommandState.HELD]
    outside = sorted({c.territory_code or "" for c in commands} - actor.territories)
    if outside:
        raise refuse(f"the request touches territories {outside} outside the approver's")
    requester = Actor(req.requested_by, req.requester_role, frozenset({""}))
    facts, _ = facts_for(
        session,
        [c.serial_number for c in commands],
        now=now,
        policy=policy,
        store=store,
        program_code=req.program_code,
    )
    total = repository.window_count(
        kinds=policy.thresholded_kinds,
        since=now - dt.timedelta(seconds=policy.system_window_s),
        unapproved_only=False,
    )
    if req.kind.value in policy.thresholded_kinds and total + len(commands) > policy.hard_ceiling:
        msg = f"releasing {len(commands)} commands would pass the hard ceiling"
        raise HardCeilingError(msg, details={"hard_ceiling": policy.hard_ceiling})
    for command in commands:
        f = facts[command.serial_number]
        who = Actor(requester.username, requester.role, frozenset({f.territory_code or ""}))
        results = [
            r
            for r in check_meter(req.kind.value, f, actor=who, now=now, policy=policy)
            if r.code != "guard.role"
        ]
        command.guard_results = {**command.guard_results, "approval": _guard_json(results)}
        blocked = [r.code for r in results if not r.passed]
        if blocked:
            command.state = RemoteCommandState.CANCELLED
            command.failure_reason = blocked[0]
            command.completed_at_utc = now
        else:
            command.state = RemoteCommandState.QUEUED
    req.state = RequestState.RELEASED
    req.approved_by = actor.username
    req.approved_at_utc = now
    session.flush()
    audit_service.record(
        session,
        actor=actor.username,
        action="command.approve",
        entity_type="command_request",
        entity_id=req.id,
        reason=req.reason,
        data={"requested_by": req.requested_by, "meter_list_sha256": req.meter_list_digest},
        now=now,
    )
    return get_request(session, req.id)


def cancel(
    session: Session, request_id: int, *, actor: Actor, now: dt.datetime, reason: str
) -> schemas.CommandRequestRead:
    """Cancel what of a request has not been sent yet (held or queued commands).

    Raises:
        PermissionDeniedError: Neither the requester nor a supervisor or admin.
    """
    repository = CommandRepository(session)
    repository.lock("request_lock")
    _check_actor(session, actor)
    req = repository.request(request_id)
    if req is None:
        raise RequestNotFoundError(f"no command request {request_id}")
    if actor.username != req.requested_by and actor.role not in APPROVER_ROLES:
        raise PermissionDeniedError(
            "only the requester, a supervisor or an admin can cancel", code="commands.cancel"
        )
    cancelled = 0
    for command in repository.commands_of(req.id):
        if command.state in (RemoteCommandState.HELD, RemoteCommandState.QUEUED):
            command.state = RemoteCommandState.CANCELLED
            command.failure_reason = "cancelled"
            command.completed_at_utc = now
            cancelled += 1
    if req.state is RequestState.AWAITING_APPROVAL:
        req.state = RequestState.CANCELLED
    session.flush()
    audit_service.record(
        session,
        actor=actor.username,
        action="command.cancel",
        entity_type="command_request",
        entity_id=req.id,
        reason=reason,
        data={"cancelled": cancelled},
        now=now,
    )
    return get_request(session, req.id)


def expire_overdue_requests(session: Session, *, now: dt.datetime) -> int:
    """Held requests past their approval deadline expire with their commands."""
    repository = CommandRepository(session)
    count = 0
    for req in repository.overdue_requests(now):
        req.state = RequestState.EXPIRED
        for command in repository.commands_of(req.id):
            if command.state is RemoteCommandState.HELD:
                command.state = RemoteCommandState.EXPIRED
                command.failure_reason = "approval_timeout"
                command.completed_at_utc = now
        audit_service.record(
            session,
            actor="system:commands",
            action="command.approval_expired",
            entity_type="command_request",
            entity_id=req.id,
            now=now,
        )
        count += 1
    session.flush()
    return count


def set_kill_switch(
    session: Session, *, active: bool, actor: Actor, now: dt.datetime, reason: str
) -> schemas.KillSwitchRead:
    """Halt (or resume) all dispatching; queued commands stay queued.

    Any dispatcher, supervisor or admin may halt; only a supervisor or admin may resume.

    Raises:
        PermissionDeniedError: The role may not do this.
    """
    repository = CommandRepository(session)
    # Write first: on SQLite a transaction that has read cannot take the write lock later
    # while a dispatcher commits, and the halt must never fail for that.
    repository.lock(KILL_SWITCH)
    _check_actor(session, actor)
    allowed = KILL_SWITCH_ROLES if active else APPROVER_ROLES
    if actor.role not in allowed:
        msg = f"role {actor.role!r} may not {'halt' if active else 'resume'} remote commands"
        raise PermissionDeniedError(msg, code="commands.kill_switch")
    control = repository.control(KILL_SWITCH)
    assert control is not None
    control.active = active
    control.changed_by = actor.username
    control.reason = reason
    control.changed_at_utc = now
    session.flush()
    audit_service.record(
        session,
        actor=actor.username,
        action="command.kill_switch_on" if active else "command.kill_switch_off",
        entity_type="command_control",
        entity_id=KILL_SWITCH,
        reason=reason,
        now=now,
    )
    return kill_switch_state(session)


def kill_switch_state(session: Session) -> schemas.KillSwitchRead:
    """The kill switch as stored."""
    control = CommandRepository(session).control(KILL_SWITCH)
    if control is None:
        return schemas.KillSwitchRead(active=False)
    return schemas.KillSwitchRead(
        active=control.active,
        changed_by=control.changed_by,
        reason=control.reason,
        changed_at_utc=control.changed_at_utc,
    )


def record_temperature(
    session: Session,
    *,
    territory_code: str,
    temperature_c: float,
    valid_at_utc: dt.datetime,
    actor: str,
) -> None:
    """Store an outdoor temperature (observation or forecast) for the weather guard. (°C)."""
    if not -80.0 <= temperature_c <= 70.0:
        msg = f"temperature_c: expected -80 … 70 °C, found {temperature_c}"
        raise InvalidInputError(msg, code="commands.temperature")
    session.add(
        TemperatureReading(
            territory_code=territory_code,
            valid_at_utc=valid_at_utc,
            temperature_c=temperature_c,
            recorded_by=actor,
        )
    )
    session.flush()


def list_commands(session: Session, *, limit: int = 50) -> list[schemas.RemoteCommandRead]:
    """The latest commands."""
    return [
        schemas.RemoteCommandRead.model_validate(c)
        for c in CommandRepository(session).recent_commands(limit=limit)
    ]


def overview(
    session: Session, *, limit: int = 50, territory_ids: Collection[int] | None = None
) -> schemas.CommandsOverview:
    """Held requests, recent requests and commands, and the kill switch (the console).

    Args:
        session: Database session.
        limit: At most this many recent requests and commands.
        territory_ids: Only requests whose commands all lie in these territories and commands
            in them (commands to meters in no territory are listed too, as the access matrix
            treats them); None: everything.
    """
    if territory_ids is None:
        repository = CommandRepository(session)
        held: Sequence[CommandRequest] = repository.held_requests()
        recent: Sequence[CommandRequest] = repository.recent_requests(limit=limit)
        commands = list_commands(session, limit=limit)
    else:
        codes = list(
            session.scalars(select(Territory.code).where(Territory.id.in_(list(territory_ids))))
        )
        foreign = (
            select(RemoteCommand.id)
            .where(
                RemoteCommand.request_id == CommandRequest.id,
                RemoteCommand.territory_code.is_not(None),
                RemoteCommand.territory_code.not_in(codes),
            )
            .exists()
        )
        mine = select(CommandRequest).where(~foreign)
        held = session.scalars(
            mine.where(CommandRequest.state == RequestState.AWAITING_APPROVAL)
            .order_by(CommandRequest.id)
            .limit(200)
        ).all()
        recent = session.scalars(mine.order_by(CommandRequest.id.desc()).limit(limit)).all()
        commands = [
            schemas.RemoteCommandRead.model_validate(c)
            for c in session.scalars(
                select(RemoteCommand)
                .where(
                    RemoteCommand.territory_code.is_(None) | RemoteCommand.territory_code.in_(codes)
                )
                .order_by(RemoteCommand.id.desc())
                .limit(limit)
            )
        ]
    return schemas.CommandsOverview(
        kill_switch=kill_switch_state(session),
        awaiting_approval=[schemas.CommandRequestRead.model_validate(r) for r in held],
        recent_requests=[schemas.CommandRequestRead.model_validate(r) for r in recent],
        recent_commands=commands,
    )


def request_system_pings(
    session: Session,
    serials: Sequence[str],
    *,
    purpose: str,
    reason: str,
    idempotency_key: str,
    now: dt.datetime,
    policy: CommandPolicy,
) -> int:
    """Queue pings asked by the platform itself (outage checks); returns the request id.

    Pings change nothing at the meter, so no person's role or threshold applies; they still go
    through the outbox, the throttle and the kill switch like every other command. The same
    key returns the same request.

    Args:
        session: Database session.
        serials: Meters to ping.
        purpose: Tag kept on each command (e.g. ``outage_check``).
        reason: Why (audited).
        idempotency_key: The request's key.
        now: Request time. [UTC]
        policy: The policy (time to live).

    Returns:
        The request id.
    """
    repository = CommandRepository(session)
    existing = repository.request_by_key(idempotency_key)
    if existing is not None:
        return existing.id
    rows = repository.meters(serials, on=now.date())
    req = CommandRequest(
        idempotency_key=idempotency_key,
        payload_digest=_digest({"serials": sorted(serials), "purpose": purpose}),
        kind=CommandType.PING,
        requested_by=f"system:{purpose}",
        requester_role="system",
        reason=reason,
        program_code=None,
        meter_count=len(serials),
        meter_list_digest=_digest(sorted(serials)),
        state=RequestState.RELEASED,
        approval_required=False,
        approval_reasons=[],
        created_at_utc=now,
    )
    session.add(req)
    session.flush()
    for serial in serials:
        row = rows.get(serial)
        session.add(
            RemoteCommand(
                request_id=req.id,
                kind=CommandType.PING,
                serial_number=serial,
                meter_id=row.meter_id if row else None,
                territory_code=row.territory_code if row else None,
                feeder_code=row.feeder_code if row else None,
                purpose=purpose,
                state=RemoteCommandState.QUEUED,
                not_before_utc=now,
                expires_at_utc=now + dt.timedelta(seconds=policy.command_ttl_s),
                result={},
                guard_results={},
                created_at_utc=now,
            )
        )
    session.flush()
    audit_service.record(
        session,
        actor=f"system:{purpose}",
        action="command.request",
        entity_type="command_request",
        entity_id=req.id,
        reason=reason,
        data={"kind": "ping", "meters": len(serials), "meter_list_sha256": req.meter_list_digest},
        now=now,
    )
    return req.id
