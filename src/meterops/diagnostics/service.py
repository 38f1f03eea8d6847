"""Diagnostics services: load a window of data, detect, diagnose, keep the exception store.

``run`` is the daily pass: it reads the fleet and account model (repository) and the read
store (``reads.store.ReadStore``), runs the pure detectors and verdict rules, opens new
exceptions, refreshes open ones, closes those that recovered (with the reason), and feeds
the field verdicts to ``workorders.service.create_from_verdicts``.

Services flush, never commit; adapters (CLI, API) own the transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from meterops.diagnostics import cohorts as cohort_analysis
from meterops.diagnostics.detect import summarise_batch
from meterops.diagnostics.detect.multiplier import EXCHANGE_READS, exchange_steps
from meterops.diagnostics.engine import DiagnosticInputs, detect_exceptions
from meterops.diagnostics.errors import NoSuchMeterError
from meterops.diagnostics.facts import meter_facts
from meterops.diagnostics.kinds import ActionKind, Cause, ExceptionKind
from meterops.diagnostics.params import DetectParams
from meterops.diagnostics.programs import validate_programs
from meterops.diagnostics.repository import ExceptionQuery, ExceptionRepository
from meterops.diagnostics.rules import diagnose
from meterops.diagnostics.scoring import Evaluation, evaluate_verdicts, visit_parts
from meterops.errors import InvalidInputError, Issue, NotFoundError, ValidationReportError
from meterops.fleet.repository import FleetRepository
from meterops.models import Collector, Installation, Meter, ServicePoint
from meterops.models.diagnostics import DiagnosticException, ExceptionStatus
from meterops.outages import service as outages_service
from meterops.reads.store import ReadStore, Table
from meterops.timeutil import local_day_bounds_utc, utc_now
from meterops.workorders import service as workorders_service
from meterops.workorders.schemas import OrderRequest
from meterops.workorders.types import WorkOrderType

__all__ = [
    "COHORT_COLLECTOR_DAYS",
    "RECOVERY_REASONS",
    "EvidenceItem",
    "Explanation",
    "RunOptions",
    "RunSummary",
    "evaluate",
    "explain",
    "get_exception",
    "list_exceptions",
    "load_inputs",
    "meter_exceptions",
    "queue_territories",
    "record_exceptions",
    "run",
    "run_cohorts",
]

RECOVERY_REASONS: dict[ExceptionKind, str] = {
    ExceptionKind.NON_COMMUNICATING: "reads arrive again",
    ExceptionKind.ZERO_CONSUMPTION: "the meter registers energy again (or the account closed)",
    ExceptionKind.INACTIVE_USAGE: "no more use without an account (or an account opened)",
    ExceptionKind.TAMPER: "no tamper event in the window",
    ExceptionKind.REVERSE_ENERGY: "no reverse-energy event in the window",
    ExceptionKind.HOT_SOCKET: "no high-temperature alarm in the window",
    ExceptionKind.VOLTAGE_OUT_OF_RANGE: "voltage back inside the band",
    ExceptionKind.SUSPECT_READS: "reads validate and the clock holds",
    ExceptionKind.REGISTER_MISMATCH: "register and intervals agree",
    ExceptionKind.HIGH_BILL: "use back within the customer's norm",
    ExceptionKind.PROGRAM_MISMATCH: "the meter's program matches its tariff",
    ExceptionKind.CONSUMPTION_DROP: "use back to the premise's own level (or the account closed)",
    ExceptionKind.CROSSED_METERS: "the pair no longer shows the swap (links corrected?)",
    ExceptionKind.WRONG_MULTIPLIER: "the billed use no longer steps at the exchange "
    "(multiplier corrected)",
}
"""Why an exception closes when its detector no longer finds it."""

_CHANNELS = ("kwh_delivered", "kwh_received", "voltage_min_v", "voltage_max_v")
_READ_COLUMNS = (
    "meter_id",
    "channel",
    "interval_start_utc",
    "interval_s",
    "value",
    "quality_flags",
)
_ID_CHUNK = 10_000
"""Ids per ``IN`` list (SQLite's and PostgreSQL's parameter limits)."""


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How a diagnostics run reads and acts.

    Attributes:
        zone: IANA zone of the utility (its calendar days).
        lookback_days: Days of data before ``as_of`` each run reads. [d]
        history_days: Days of events read to explain silences that began earlier. [d]
        params: Detector thresholds.
        create_work_orders: Feed field verdicts to the work-order service.
        workorder_policy: The utility's work-order rules (needed to create orders).
        batch_meters: Meter ids per read-store scan of the interval reads (memory bound:
            about 150 interval reads per meter and day are held at once per batch).
    """

    zone: str = "America/Chicago"
    lookback_days: int = 21
    history_days: int = 60
    params: DetectParams = field(default_factory=DetectParams)
    create_work_orders: bool = False
    workorder_policy: workorders_service.WorkOrderPolicy | None = None
    batch_meters: int = 100_000


@dataclass
class RunSummary:
    """What a run did.

    Attributes:
        as_of_utc: The moment judged. [UTC]
        meters: Installed meters examined.
        found: Exceptions found per kind.
        opened: New exceptions.
        refreshed: Open exceptions found again.
        closed: Exceptions closed as recovered.
        causes: Verdicts per cause.
        actions: Verdicts per action kind.
        orders_created: Work orders created from field verdicts.
        orders_existing: Field verdicts that matched an active order.
        orders_refused: Field verdicts the work-order service refused (code → count).
    """

    as_of_utc: dt.datetime
    meters: int = 0
    found: dict[str, int] = field(default_factory=dict)
    opened: int = 0
    refreshed: int = 0
    closed: int = 0
    causes: dict[str, int] = field(default_factory=dict)
    actions: dict[str, int] = field(default_factory=dict)
    orders_created: int = 0
    orders_existing: int = 0
    orders_refused: dict[str, int] = field(default_factory=dict)


def load_inputs(
    session: Session,
    store: ReadStore,
    *,
    as_of_utc: dt.datetime,
    zone: str,
    lookback_days: int,
    history_days: int = 60,
    batch_meters: int = 100_000,
) -> tuple[DiagnosticInputs, int]:
    """The window's frames from the fleet model and the read store (as of ``as_of_utc``).

    Args:
        session: Database session.
        store: The read store.
        as_of_utc: The moment judged; only data committed by then is read. [UTC]
        zone: IANA zone of the utility.
        lookback_days: Days of data to read. [d]
        history_days: Days of events to read for what explains a silence. [d]
        batch_meters: Meter ids per read-store scan of the interval reads (bounds memory:
            a batch's current reads are summarised before the next is read).

    Returns:
        The inputs (with the transformer and feeder outages the outage system recorded,
        ``outages.service.outage_periods``) and the number of serials the head-end reported
        that the fleet does not know (``unknown_meter`` quarantine).
    """
    start = as_of_utc - dt.timedelta(days=lookback_days)
    repository = ExceptionRepository(session)
    local_day = pl.Series([as_of_utc]).dt.convert_time_zone(zone)[0].date()
    highest_meter_id = session.scalar(select(func.max(Meter.id))) or 0
    # The interval reads are summarised in a worker thread (Polars, outside the GIL) while
    # this thread reads the database (SQL and row conversion, mostly under the GIL): the two
    # longest parts of loading overlap. Only the worker uses the store, only this thread the
    # session, until the worker is done.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="diagnostics-reads") as pool:
        summaries = pool.submit(
            _read_summaries,
            store,
            start_utc=start,
            as_of_utc=as_of_utc,
            zone=zone,
            highest_meter_id=highest_meter_id,
            batch_meters=batch_meters,
        )
        meters = repository.meter_context(local_day)
        codes = list(session.scalars(select(Collector.code)).all())
        program_mismatches = validate_programs(repository.program_schedules(), year=local_day.year)
        outages = outages_service.outage_periods(
            session, start_utc=start, end_utc=as_of_utc
        ).select("meter_id", "outage_start_utc", "outage_end_utc")
        exchanges = FleetRepository(session).meter_exchanges(start_utc=start, end_utc=as_of_utc)
        daily, last_reads, voltage = summaries.result()
    exchange_reads = _exchange_reads(store, exchanges, start_utc=start, as_of_utc=as_of_utc)
    topology = store.records(
        Table.TOPOLOGY, start_utc=start, end_utc=as_of_utc, ids=codes, as_of_utc=as_of_utc
    )
    collectors = topology.filter(pl.col("node_kind") == "collector").select(
        "node_id", "observed_at_utc", "status"
    )
    history = store.records(
        Table.EVENTS,
        start_utc=as_of_utc - dt.timedelta(days=max(history_days, lookback_days)),
        end_utc=as_of_utc,
        as_of_utc=as_of_utc,
    )
    inputs = DiagnosticInputs(
        meters=meters,
        daily=daily,
        last_reads=last_reads,
        voltage_reads=voltage,
        registers=store.records(
            Table.REGISTER_READS, start_utc=start, end_utc=as_of_utc, as_of_utc=as_of_utc
        ),
        events=history.filter(pl.col("event_time_utc") >= start),
        comm_stats=store.records(
            Table.COMM_STATS, start_utc=start, end_utc=as_of_utc, as_of_utc=as_of_utc
        ),
        collectors=collectors,
        window_start_utc=start,
        as_of_utc=as_of_utc,
        zone=zone,
        event_history=history,
        program_mismatches=program_mismatches,
        outages=outages,
        exchanges=exchanges,
        exchange_reads=exchange_reads,
    )
    return inputs, _unknown_serials(store)


def _exchange_reads(
    store: ReadStore, exchanges: pl.DataFrame, *, start_utc: dt.datetime, as_of_utc: dt.datetime
) -> pl.DataFrame:
    """The window's current ``kwh_delivered`` reads of both meters of every exchange.

    The wrong-multiplier check compares them hour by hour (``detect.multiplier``): a few
    meters, read once.
    """
    ids = sorted(
        set(exchanges["removed_meter_id"].to_list())
        | set(exchanges["installed_meter_id"].to_list())
    )
    if not ids:
        return EXCHANGE_READS.empty()
    return store.current_interval_reads(
        start_utc=start_utc,
        end_utc=as_of_utc,
        meter_ids=ids,
        channels=["kwh_delivered"],
        as_of_utc=as_of_utc,
        columns=EXCHANGE_READS.names,
    )


def _read_summaries(
    store: ReadStore,
    *,
    start_utc: dt.datetime,
    as_of_utc: dt.datetime,
    zone: str,
    highest_meter_id: int,
    batch_meters: int,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Daily summaries, last reads and voltage reads of the window, meter-id batch by batch.

    Every summary is per meter, so batches of meter ids give the frames one scan of the
    whole window gives; only the columns the detectors use are read and kept (voltage reads:
    ``meter_id``, ``channel`` as an enum, ``interval_start_utc``, ``value``), and each batch is
    summarised in one pass (``detect.summarise_batch``). Meter ids in the store
    are fleet ids (``meters.id``), so ``1..highest_meter_id`` covers every stored read.
    """
    if batch_meters < 1:
        msg = f"batch_meters must be at least 1, got {batch_meters}"
        raise ValueError(msg)
    daily: list[pl.DataFrame] = []
    last: list[pl.DataFrame] = []
    voltage: list[pl.DataFrame] = []
    for first in range(1, max(highest_meter_id, 1) + 1, batch_meters):
        reads = store.current_interval_reads(
            start_utc=start_utc,
            end_utc=as_of_utc,
            meter_ids=range(first, min(first + batch_meters, highest_meter_id + 1)),
            channels=_CHANNELS,
            as_of_utc=as_of_utc,
            columns=_READ_COLUMNS,
        )
        batch_daily, batch_last, batch_voltage = summarise_batch(reads, zone=zone)
        del reads
        daily.append(batch_daily)
        last.append(batch_last)
        voltage.append(batch_voltage)
    return (
        pl.concat(daily, rechunk=True),
        pl.concat(last, rechunk=True),
        pl.concat(voltage, rechunk=True),
    )


def _unknown_serials(store: ReadStore) -> int:
    held = store.quarantine(reason_code="unknown_meter")
    if held.is_empty():
        return 0
    serials = held["payload"].str.json_path_match("$.serial_number").drop_nulls()
    return int(serials.n_unique())


def run(
    session: Session,
    store: ReadStore,
    *,
    as_of_utc: dt.datetime,
    options: RunOptions,
    actor: str,
    now: dt.datetime,
    on_step: Callable[[str], None] | None = None,
) -> RunSummary:
    """Detect, diagnose and keep the exception store (see the module docstring).

    Args:
        session: Database session (flushed, not committed).
        store: The read store.
        as_of_utc: The moment judged. [UTC]
        options: Window, thresholds and whether to create work orders.
        actor: Who runs it (user or job name).
        now: The clock (orders' creation time). [UTC]
        on_step: Progress callback with a step name.

    Returns:
        What the run found and did.
    """
    inputs, unknown = load_inputs(
        session,
        store,
        as_of_utc=as_of_utc,
        zone=options.zone,
        lookback_days=options.lookback_days,
        history_days=options.history_days,
        batch_meters=options.batch_meters,
    )
    if on_step is not None:
        on_step("load")
    exceptions = detect_exceptions(inputs, params=options.params, on_step=on_step)
    facts = meter_facts(inputs, exceptions, params=options.params, unknown_serials_reported=unknown)
    verdicts = diagnose(exceptions, facts)
    if on_step is not None:
        on_step("verdicts")
    summary = RunSummary(as_of_utc=as_of_utc, meters=inputs.meters.height)
    summary.found = dict(Counter(exceptions["kind"].to_list()))
    ids = record_exceptions(
        session,
        exceptions.hstack(verdicts.drop("meter_id", "kind")),
        as_of_utc=as_of_utc,
        summary=summary,
        judged=_judged_exchanges(inputs),
    )
    summary.causes = dict(Counter(verdicts["cause"].to_list()))
    summary.actions = dict(Counter(verdicts["action"].to_list()))
    if options.create_work_orders:
        if options.workorder_policy is None:
            msg = "create_work_orders needs a workorder_policy"
            raise ValueError(msg)
        _order(session, ids, summary, actor=actor, now=now, policy=options.workorder_policy)
    if on_step is not None:
        on_step("store")
    return summary


def _judged_exchanges(inputs: DiagnosticInputs) -> dict[str, set[int]]:
    """The installed meters whose exchange the wrong-multiplier check judged in this run.

    An exchange is judged only while the window holds a week on each side of it; a wrong
    multiplier found earlier stays open after its exchange left the window (it does not go
    away by itself), and closes only when a run judges the exchange again and finds it right.
    """
    if inputs.exchanges is None or inputs.exchange_reads is None:
        return {}
    rated = inputs.meters.filter(pl.col("transformer_rated"))["meter_id"]
    steps = exchange_steps(
        daily=inputs.daily,
        reads=inputs.exchange_reads,
        rated=rated,
        exchanges=inputs.exchanges,
        zone=inputs.zone,
        last_day=inputs.last_day,
    )
    return {ExceptionKind.WRONG_MULTIPLIER: set(steps["installed_meter_id"].to_list())}


def record_exceptions(
    session: Session,
    found: pl.DataFrame,
    *,
    as_of_utc: dt.datetime,
    summary: RunSummary,
    judged: Mapping[str, Collection[int]] | None = None,
) -> list[int]:
    """Keep the exception store: open new, refresh found, close recovered (with the reason).

    One open exception per meter and kind: a finding whose (meter, kind) is open refreshes
    that row, any other opens a new one, and every open row not found again closes with the
    kind's recovery reason (:data:`RECOVERY_REASONS`). Set operations on the keys and bulk
    statements (an ``executemany`` per insert, update and close), not one ORM object per
    exception: a metro day has hundreds of thousands.

    Args:
        session: Database session (flushed; objects it holds are expired after the writes).
        found: ``EXCEPTIONS`` rows with their verdict columns (``rules.VERDICTS``).
        as_of_utc: The run's moment (opening and closing time). [UTC]
        summary: Counts to update.
        judged: Kinds whose detector judges only some meters in a run, with those meters: an
            open exception of such a kind on a meter not judged stays open, untouched.

    Returns:
        The ids of the open rows found in this run, in the order of ``found``.
    """
    as_of = as_of_utc
    session.flush()
    table = DiagnosticException
    open_ids: dict[tuple[int, str], int] = {
        (int(meter), str(kind)): int(ident)
        for ident, meter, kind in session.execute(
            select(table.id, table.meter_id, table.kind).where(table.status == ExceptionStatus.OPEN)
        ).all()
    }
    columns = (
        "meter_id",
        "kind",
        "first_seen_utc",
        "last_seen_utc",
        "evidence",
        "cause",
        "rule_id",
        "confidence",
        "action",
        "order_type",
        "remote_command",
        "summary",
        "verdict_evidence",
        "subject",
        "priority",
    )
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    order: list[tuple[bool, int]] = []  # (new, index into inserts) or (False, id)
    seen: set[tuple[int, str]] = set()
    for row in found.select(columns).iter_rows():
        (meter, kind, first, last, evidence, cause, rule, confidence, action) = row[:9]
        (order_type, command, text, verdict, subject, priority) = row[9:]
        key = (int(meter), str(ExceptionKind(kind)))
        seen.add(key)
        values: dict[str, Any] = {
            "last_seen_utc": last,
            "evidence": json.loads(evidence),
            "cause": cause,
            "rule_id": rule,
            "confidence": confidence,
            "action": action,
            "order_type": order_type,
            "remote_command": command,
            "summary": text[:2000],
            "verdict_evidence": {
                **json.loads(verdict),
                "subject": subject,
                "priority": priority,
            },
        }
        ident = open_ids.get(key)
        if ident is None:
            values |= {
                "meter_id": key[0],
                "kind": ExceptionKind(kind),
                "status": ExceptionStatus.OPEN,
                "first_seen_utc": first,
                "opened_at_utc": as_of,
            }
            order.append((True, len(inserts)))
            inserts.append(values)
        else:
            order.append((False, ident))
            updates.append({"id": ident, **values})
    summary.opened += len(inserts)
    summary.refreshed += len(updates)
    if updates:
        session.execute(update(table), updates)
    new_ids: list[int] = []
    if inserts and len({(v["meter_id"], str(v["kind"])) for v in inserts}) < len(inserts):
        new_ids = list(  # a (meter, kind) found twice: its rows are told apart by RETURNING
            session.scalars(
                insert(table).returning(table.id, sort_by_parameter_order=True), inserts
            )
        )
    elif inserts:
        # A plain executemany, then the new rows' ids by their (meter, kind) key: one open row
        # per key. (``INSERT ... RETURNING`` over tens of thousands of rows spliced each
        # batch's ids into the ones before it: quadratic, seconds at metro scale.)
        session.execute(insert(table), inserts)
        new_keys = {(int(v["meter_id"]), str(v["kind"])) for v in inserts}
        created = {
            key: int(ident)
            for ident, meter, kind in session.execute(
                select(table.id, table.meter_id, table.kind).where(
                    table.status == ExceptionStatus.OPEN
                )
            ).all()
            if (key := (int(meter), str(kind))) in new_keys
        }
        new_ids = [created[(int(v["meter_id"]), str(v["kind"]))] for v in inserts]
    closing: dict[str, list[int]] = {}
    partial = judged or {}
    for key, ident in open_ids.items():
        if key in seen or (key[1] in partial and key[0] not in partial[key[1]]):
            continue
        closing.setdefault(key[1], []).append(ident)
    for kind, ids in closing.items():
        reason = f"recovered: {RECOVERY_REASONS[ExceptionKind(kind)]}"
        for first in range(0, len(ids), _ID_CHUNK):
            session.execute(
                update(table)
                .where(table.id.in_(ids[first : first + _ID_CHUNK]))
                .values(status=ExceptionStatus.CLOSED, closed_at_utc=as_of, close_reason=reason)
                .execution_options(synchronize_session=False)
            )
        summary.closed += len(ids)
    session.expire_all()
    return [new_ids[index] if new else index for new, index in order]


def _order(
    session: Session,
    ids: Sequence[int],
    summary: RunSummary,
    *,
    actor: str,
    now: dt.datetime,
    policy: workorders_service.WorkOrderPolicy,
) -> None:
    table = DiagnosticException
    position = {ident: index for index, ident in enumerate(ids)}
    found: list[DiagnosticException] = []
    for first in range(0, len(ids), _ID_CHUNK):
        found += session.scalars(
            select(table).where(
                table.id.in_(ids[first : first + _ID_CHUNK]),
                table.action == ActionKind.FIELD,
                table.order_type.is_not(None),
                table.work_order_number.is_(None),
            )
        ).all()
    candidates = [row for row in sorted(found, key=lambda r: position[r.id]) if row.order_type]
    types = {row.id: WorkOrderType(str(row.order_type)) for row in candidates}
    serials = ExceptionRepository(session).serials({row.meter_id for row in candidates})
    requests: list[OrderRequest] = []
    owners: list[DiagnosticException] = []
    for row in candidates:
        evidence = row.verdict_evidence or {}
        subject = evidence.get("subject", "meter")
        facts = evidence.get("facts", {})
        collector = facts.get("collector_code") if subject == "collector" else None
        if subject == "collector" and not collector:
            continue
        requests.append(
            OrderRequest(
                order_type=types[row.id],
                meter_serial=None if subject == "collector" else serials[row.meter_id],
                collector_code=collector,
                problem_code=str(row.cause),
                priority=evidence.get("priority"),
                evidence_summary=(row.summary or "")[:500],
                evidence=_json_safe(evidence),
                external_ref=f"diag-{row.id}",
            )
        )
        owners.append(row)
    if not requests:
        return
    result = workorders_service.create_from_verdicts(
        session, requests, actor=actor, now=now, policy=policy
    )
    duplicates = {d.index: d.order_number for d in result.duplicates}
    refused = {r.index: r.code for r in result.refused}
    created = iter(result.created)
    for index, row in enumerate(owners):
        if index in refused:
            summary.orders_refused[refused[index]] = (
                summary.orders_refused.get(refused[index], 0) + 1
            )
        elif index in duplicates:
            row.work_order_number = duplicates[index]
            summary.orders_existing += 1
        else:
            row.work_order_number = next(created)
            summary.orders_created += 1
    session.flush()


def _json_safe(value: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(value, default=str))
    return loaded


def list_exceptions(
    session: Session,
    *,
    kind: ExceptionKind | None = None,
    open_only: bool = False,
    limit: int = 200,
    offset: int = 0,
    territory_ids: Collection[int] | None = None,
    cause: Cause | Literal["none"] | None = None,
    min_confidence: float | None = None,
    min_age_days: float | None = None,
    territory: str | None = None,
    as_of_utc: dt.datetime | None = None,
) -> list[tuple[DiagnosticException, str]]:
    """Exceptions with their meter's serial, newest first (by opening, then id).

    Every filter narrows; the territories allowed are never widened.

    Args:
        session: Database session.
        kind: Only this kind.
        open_only: Only open exceptions.
        limit: At most this many.
        offset: Skip this many (paging).
        territory_ids: The territories allowed (a user's): only exceptions of meters of these
            territories (a meter's territory is that of its open installation, else of its
            latest one; meters never installed lie in none and are listed unless
            ``territory`` is given); None: every exception.
        cause: Only verdicts naming this cause; ``"none"``: only exceptions without a cause.
        min_confidence: Only verdicts at least this sure (those without one are left out).
            [0-1]
        min_age_days: Only exceptions first seen at least this many days before
            ``as_of_utc``. [d]
        territory: Only meters of the territory with this code, which must be one of
            ``territory_ids`` (when given).
        as_of_utc: "Now" for ``min_age_days`` (default: the clock). [UTC]

    Raises:
        InvalidInputError: ``territory`` is unknown or not among ``territory_ids`` (field
            ``territory``); ``min_confidence`` outside 0-1 or ``min_age_days`` negative.
    """
    repository = ExceptionRepository(session)
    if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
        raise InvalidInputError(
            f"min_confidence: {min_confidence} is not between 0 and 1.",
            details={"field": "min_confidence"},
        )
    if min_age_days is not None and min_age_days < 0:
        raise InvalidInputError(
            f"min_age_days: {min_age_days} is negative.", details={"field": "min_age_days"}
        )
    chosen = territory_ids
    if territory is not None:
        known = {code: i for i, code, _ in repository.territories(territory_ids)}
        if territory not in known:
            raise InvalidInputError(
                f"territory: {territory!r} is not one of your territories "
                f"({', '.join(sorted(known)) or 'none'}).",
                details={"field": "territory", "allowed": sorted(known)},
            )
        chosen = [known[territory]]
    before = None
    if min_age_days is not None:
        before = (as_of_utc or utc_now()) - dt.timedelta(days=min_age_days)
    query = ExceptionQuery(
        kind=kind,
        cause=cause,
        min_confidence=min_confidence,
        open_only=open_only,
        first_seen_before_utc=before,
        territory_ids=chosen,
        include_unplaced=territory is None,
    )
    return list(repository.list_exceptions(query, limit=limit, offset=offset))


def queue_territories(
    session: Session, territory_ids: Collection[int] | None
) -> list[tuple[str, str]]:
    """(code, name) of the territories the queue may be filtered by, by code.

    Args:
        session: Database session.
        territory_ids: The user's territories (None: every territory).
    """
    return [
        (code, name) for _, code, name in ExceptionRepository(session).territories(territory_ids)
    ]


def get_exception(session: Session, exception_id: int) -> tuple[DiagnosticException, str]:
    """One exception and its meter's serial.

    Raises:
        NoSuchMeterError: No exception with this id (code ``diagnostics.not_found``).
    """
    repository = ExceptionRepository(session)
    row = repository.get(exception_id)
    if row is None:
        raise NoSuchMeterError(f"No diagnostics exception with id {exception_id}.")
    return row, repository.serials([row.meter_id])[row.meter_id]


def meter_exceptions(session: Session, serial_number: str) -> list[DiagnosticException]:
    """Every exception of a meter (open and closed), newest first.

    Raises:
        NoSuchMeterError: The serial is not in the fleet.
    """
    repository = ExceptionRepository(session)
    meter_id = repository.meter_id_of(serial_number)
    if meter_id is None:
        raise NoSuchMeterError(
            f"No meter with serial {serial_number!r}; check the serial (meterops meters show)."
        )
    return [
        row for row, _ in repository.list_exceptions(ExceptionQuery(meter_id=meter_id), limit=1000)
    ]


COHORT_COLLECTOR_DAYS = 2
"""Days of comm stats (ending at the cohorts' day) that tell each meter's collector. [d]"""


def run_cohorts(
    session: Session,
    *,
    kind: ExceptionKind | None = None,
    cause: Cause | None = None,
    listed: cohort_analysis.MeterList | None = None,
    label: str = "listed",
    as_of_day: dt.date,
    zone: ZoneInfo | None = None,
    store: ReadStore | None = None,
    min_size: int = 10,
    alpha: float = 0.05,
) -> pl.DataFrame:
    """Cohorts over-represented among a set of meters (see ``cohorts.find_cohorts``).

    The set is the open exceptions (of ``kind`` and of verdict ``cause`` when given, each
    kind analysed apart), or, with ``listed``, exactly those meters (for example the meters
    of customers' complaints) under the name ``label``.

    Args:
        session: Database session.
        kind: Only exceptions of this kind (None: all kinds, each analysed apart).
        cause: Only exceptions whose verdict names this cause.
        listed: The meters of the set instead of the open exceptions.
        label: The ``kind`` column's value for ``listed``.
        as_of_day: Accounts as open on this local day (the meter context).
        zone: The utility's zone (with ``store``: the day's end).
        store: Read store: with it, the collector each meter last reported through (comm
            stats of :data:`COHORT_COLLECTOR_DAYS` days ending with ``as_of_day``) is an
            attribute too.
        min_size: Smallest cohort tested.
        alpha: False-discovery rate.

    Returns:
        ``cohorts.COHORTS`` rows, the strongest first.

    Raises:
        ValidationReportError: A serial of ``listed`` names no meter (each with its line).
    """
    repository = ExceptionRepository(session)
    context = repository.meter_context(as_of_day).join(
        repository.cohort_attributes(), on="meter_id", how="left"
    )
    if store is not None:
        end = local_day_bounds_utc(as_of_day, zone or ZoneInfo("UTC"))[1]
        comm = store.records(
            Table.COMM_STATS, start_utc=end - dt.timedelta(days=COHORT_COLLECTOR_DAYS), end_utc=end
        )
        context = context.join(cohort_analysis.latest_collectors(comm), on="meter_id", how="left")
    if listed is not None:
        ids = _meter_ids_of(session, listed)
        flagged = pl.DataFrame(
            {"meter_id": ids, "kind": [label] * len(ids)},
            schema={"meter_id": pl.Int64, "kind": pl.String},
        )
    else:
        open_rows = [
            r
            for r in repository.open_exceptions(kinds=[kind] if kind else None)
            if cause is None or r.cause == cause
        ]
        flagged = pl.DataFrame(
            {"meter_id": [r.meter_id for r in open_rows], "kind": [str(r.kind) for r in open_rows]},
            schema={"meter_id": pl.Int64, "kind": pl.String},
        )
    return cohort_analysis.find_cohorts(flagged, context, min_size=min_size, alpha=alpha)


def _meter_ids_of(session: Session, listed: cohort_analysis.MeterList) -> list[int]:
    """Meter ids of a list's serials, or every unknown serial named with its line."""
    found: dict[str, int] = {}
    for chunk in range(0, len(listed.serials), 5000):
        part = listed.serials[chunk : chunk + 5000]
        rows = session.execute(
            select(Meter.serial_number, Meter.id).where(Meter.serial_number.in_(part))
        ).all()
        found.update((serial, meter_id) for serial, meter_id in rows)
    unknown = [
        Issue(listed.name, line, "serial", "meter_list.unknown_serial", f"no meter {serial!r}")
        for serial, line in zip(listed.serials, listed.lines, strict=True)
        if serial not in found
    ]
    if unknown:
        raise ValidationReportError(
            f"The meter list {listed.name} names meters meterops does not know", unknown
        )
    return [found[s] for s in listed.serials]


def evaluate(
    session: Session,
    faults: Sequence[dict[str, Any]],
    *,
    as_of_utc: dt.datetime | None = None,
    lookback_days: int = 21,
) -> tuple[Evaluation, dt.datetime]:
    """Judge the open exceptions' verdicts against a simulator's ground truth.

    Args:
        session: Database session (read only).
        faults: Ground-truth records (``scoring.read_truth``).
        as_of_utc: The run judged (None: the latest moment a run opened or closed an
            exception). [UTC]
        lookback_days: The run's data window. [d]

    Returns:
        The evaluation and the moment judged.

    Raises:
        NotFoundError: No exception in the store and no ``as_of_utc`` (run diagnostics first).
    """
    repository = ExceptionRepository(session)
    moment = as_of_utc or repository.last_run_utc()
    if moment is None:
        raise NotFoundError(
            "No diagnostics exception is stored: run `meterops diagnostics run` first.",
            code="diagnostics.no_run",
        )
    return (
        evaluate_verdicts(
            repository.open_verdicts(),
            faults,
            window_start_utc=moment - dt.timedelta(days=lookback_days),
            as_of_utc=moment,
        ),
        moment,
    )


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """One fact behind a verdict.

    Attributes:
        name: Fact or detector field name.
        value: Its value (text as shown).
        time_utc: When it held (the exception's latest evidence for the verdict's facts, the
            detector's own time where it gives one). [UTC]
        test: The rule's test of it (``>= 3``), if the rule tests it.
    """

    name: str
    value: str
    time_utc: dt.datetime | None
    test: str | None = None


@dataclass(frozen=True, slots=True)
class Explanation:
    """One exception of a meter, its verdict in plain words.

    Attributes:
        exception_id: Exception id.
        kind: Exception kind.
        status: ``open`` or ``closed``.
        first_seen_utc: First evidence. [UTC]
        last_seen_utc: Latest evidence. [UTC]
        closed: ``closed at …: reason`` for a closed one.
        cause: Cause named.
        confidence: How sure the rule is. [0-1]
        summary: The rule's sentence with its conditions.
        evidence: Every fact with value and time.
        action: Where the fix happens (``field``, ``remote``, ``back_office`` …).
        remote_command: Head-end command of a remote fix.
        order_type: Work-order type of a visit.
        skill: Skill the visit needs at this service.
        parts: Parts the visit brings.
        work_order_number: The order created for it, if any.
    """

    exception_id: int
    kind: str
    status: str
    first_seen_utc: dt.datetime
    last_seen_utc: dt.datetime
    closed: str | None
    cause: str | None
    confidence: float | None
    summary: str
    evidence: tuple[EvidenceItem, ...]
    action: str | None
    remote_command: str | None
    order_type: str | None
    skill: str | None
    parts: tuple[str, ...]
    work_order_number: str | None


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str, sort_keys=True)
    return str(value)


def _time_of(name: str, value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not name.endswith(("_utc", "_at")):
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _evidence(row: DiagnosticException) -> tuple[EvidenceItem, ...]:
    verdict = row.verdict_evidence or {}
    tests: dict[str, str] = {}
    for text in verdict.get("conditions") or []:
        name, _, rest = str(text).partition(" = ")
        tests[name] = rest.rpartition(" (")[2].rstrip(")")
    items = [
        EvidenceItem(name, _shown(value), row.last_seen_utc, tests.get(name))
        for name, value in sorted((verdict.get("facts") or {}).items())
    ]
    detector = row.evidence or {}
    for name, value in sorted(detector.items()):
        moment = _time_of(name, value)
        items.append(
            EvidenceItem(
                f"detector.{name}",
                _shown(value),
                moment if moment is not None else row.first_seen_utc,
            )
        )
    return tuple(items)


def explain(session: Session, serial_number: str) -> list[Explanation]:
    """A meter's exceptions (open first, then newest) with their verdicts in plain words.

    Args:
        session: Database session (read only).
        serial_number: The meter's serial.

    Returns:
        One explanation per exception (empty: the meter never had one).

    Raises:
        NoSuchMeterError: The serial is not in the fleet.
    """
    rows = meter_exceptions(session, serial_number)
    meter = session.scalar(select(Meter).where(Meter.serial_number == serial_number))
    rated = session.scalar(
        select(ServicePoint.transformer_rated)
        .join(Installation, Installation.service_point_id == ServicePoint.id)
        .join(Meter, Meter.id == Installation.meter_id)
        .where(Meter.serial_number == serial_number)
        .order_by(Installation.installed_at_utc.desc())
        .limit(1)
    )
    form = meter.form if meter is not None else None
    found = []
    for row in sorted(rows, key=lambda r: (r.status != ExceptionStatus.OPEN, -r.id)):
        skill: str | None = None
        parts: tuple[str, ...] = ()
        if row.order_type:
            skill, parts = visit_parts(
                WorkOrderType(row.order_type), transformer_rated=bool(rated), meter_form=form
            )
        found.append(
            Explanation(
                exception_id=row.id,
                kind=str(row.kind),
                status=str(row.status),
                first_seen_utc=row.first_seen_utc,
                last_seen_utc=row.last_seen_utc,
                closed=(
                    f"closed {row.closed_at_utc:%Y-%m-%d %H:%M} UTC: {row.close_reason}"
                    if row.closed_at_utc
                    else None
                ),
                cause=str(row.cause) if row.cause is not None else None,
                confidence=row.confidence,
                summary=row.summary or "",
                evidence=_evidence(row),
                action=str(row.action) if row.action is not None else None,
                remote_command=row.remote_command,
                order_type=row.order_type,
                skill=skill,
                parts=parts,
                work_order_number=row.work_order_number,
            )
        )
    return found
