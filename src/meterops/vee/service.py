"""VEE runs and manual edits against the database and the read store.

:func:`run_vee` validates and estimates a window of local days over all or selected meters,
one batch of meters at a time (memory is bounded by the batch, not the fleet): it loads the
fleet facts (:mod:`meterops.vee.repository`), the events and register reads of the store for
the run's meters, then runs the pure :class:`~meterops.vee.batch.VeeJob` batch by batch on
each batch's current reads with some history days before the window
(:func:`~meterops.vee.stream.run_partition` here, or :mod:`meterops.scale`'s executors) and
writes what changed: sparse flag rows and estimate
versions through :class:`~meterops.reads.store.ReadStore`. Running it twice writes nothing
new (flags are written only where they change; an estimate that re-makes the current one
with the same value is left out). Each run is audited (``vee.run``) with its summary.

:func:`edit_interval` stores a manual edit as a new version; it needs a reason code from
:data:`~meterops.vee.reasons.EDIT_REASONS` and an actor, or it is refused. An actual read that
arrives later supersedes estimates and edits made before it (the store's current-view rule);
they stay in history.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy.orm import Session

from meterops.audit.service import record
from meterops.errors import InvalidInputError
from meterops.nomenclature import CHANNELS
from meterops.outages import service as outages_service
from meterops.reads.batches import covering_ranges, restrict_ranges
from meterops.reads.schema import INTERVAL_VERSIONS
from meterops.reads.store import ReadStore, Table
from meterops.scale.groups import fixed_groups
from meterops.scale.run import ExecutorName, iter_job
from meterops.timeutil import local_day_bounds_utc
from meterops.vee import repository
from meterops.vee.batch import VeeJob, report_from_rows, store_rows
from meterops.vee.context import VEE_INPUT, RunWindow, VeeContext
from meterops.vee.engine import Engine, VeeReport
from meterops.vee.flags import FLAGS
from meterops.vee.incidents import INCIDENT_PERIODS
from meterops.vee.reasons import EDIT_REASONS
from meterops.vee.ruleset import RuleSet, load_rule_set
from meterops.vee.sources import registers_from_reads, windows_from_events
from meterops.vee.stream import DEFAULT_BATCH_ROWS, REPORT_COLUMNS, run_partition
from meterops.vee.suites import Suite

__all__ = [
    "INCIDENT_LEVELS",
    "MAX_VIEW_DAYS",
    "EditResult",
    "VeeRunSummary",
    "edit_interval",
    "interval_versions",
    "meter_intervals",
    "run_vee",
]


_T: Final = "interval_start_utc"
_EDITED: Final = FLAGS["EDITED"].mask
_SOURCE_BITS: Final = 0xFF


@dataclass(frozen=True, slots=True)
class VeeRunSummary:
    """What a VEE run did.

    Attributes:
        first_day: First local day validated.
        last_day: Last local day validated.
        meters: Meters in the run.
        groups: Groups of meters processed.
        rule_set_version: Version of the rule set that ran.
        report: Reads validated, intervals flagged per rule, estimates per method.
        flag_rows_written: Flag rows appended (changed flags only).
        versions_written: Estimate versions appended.
    """

    first_day: dt.date
    last_day: dt.date
    meters: int
    groups: int
    rule_set_version: str
    report: VeeReport
    flag_rows_written: int
    versions_written: int

    @property
    def reads_validated(self) -> int:
        """Stored reads inside the window that were validated."""
        return self.report.reads

    @property
    def estimated(self) -> int:
        """Estimates written or confirmed (every method)."""
        return sum(count for _, count in self.report.estimates)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (audit data, API)."""
        return {
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "meters": self.meters,
            "groups": self.groups,
            "rule_set_version": self.rule_set_version,
            "reads_validated": self.reads_validated,
            "flagged": {r.rule_id: r.intervals for r in self.report.rules},
            "estimated": dict(self.report.estimates),
            "flag_rows_written": self.flag_rows_written,
            "versions_written": self.versions_written,
        }


def _group_outputs(
    session: Session,
    store: ReadStore,
    ids: list[int],
    *,
    suite: Suite,
    window: RunWindow,
    engine: Engine,
    history_start: dt.date,
    zone: ZoneInfo,
    group_meters: int,
    executor: ExecutorName,
    workers: int,
    incidents: pl.DataFrame,
) -> Iterator[tuple[list[int], pl.DataFrame]]:
    """Each group's meter ids and VEE output rows, in group order (through an executor)."""
    start_utc, _ = local_day_bounds_utc(history_start, zone)
    _, end_utc = window.bounds_utc
    size = max(group_meters, 1)
    if not ids:
        return
    context = _group_context(session, store, ids, first_day=history_start, window=window, zone=zone)
    job = VeeJob(suite, window, context, engine, incidents)
    meter_groups = fixed_groups(ids, meters_per_group=size)
    outputs = iter_job(
        job,
        store,
        meter_groups,
        start_utc=start_utc,
        end_utc=end_utc,
        executor=executor,
        workers=workers,
    )
    for meter_group, rows in zip(meter_groups, outputs, strict=True):
        yield list(meter_group.meter_ids), rows


def _group_context(
    session: Session,
    store: ReadStore,
    meter_ids: list[int],
    *,
    first_day: dt.date,
    window: RunWindow,
    zone: ZoneInfo,
) -> VeeContext:
    start_utc, _ = local_day_bounds_utc(first_day, zone)
    _, end_utc = window.bounds_utc
    days = repository.context_days(
        session, meter_ids, first_day=first_day, last_day=window.last_day, zone=zone
    )
    events = store.records(
        Table.EVENTS,
        start_utc=start_utc - dt.timedelta(days=1),
        end_utc=end_utc + dt.timedelta(days=1),
        ids=meter_ids,
    )
    registers = store.records(
        Table.REGISTER_READS,
        start_utc=start_utc - dt.timedelta(hours=2),
        end_utc=end_utc + dt.timedelta(hours=2),
        ids=meter_ids,
    )
    return VeeContext(
        days=days,
        windows=windows_from_events(events, start_utc=start_utc, end_utc=end_utc),
        registers=registers_from_reads(
            registers, first_day=window.first_day, last_day=window.last_day, zone=zone
        ),
    )


INCIDENT_LEVELS: Final = ("meter", "transformer", "feeder")
"""Outage incident levels whose periods make missing intervals zero estimates."""


def _incident_periods(
    session: Session, ids: list[int], *, start_utc: dt.datetime, end_utc: dt.datetime
) -> pl.DataFrame:
    """The recorded outage periods of the run's meters overlapping its window."""
    periods = outages_service.outage_periods(
        session, start_utc=start_utc, end_utc=end_utc, levels=INCIDENT_LEVELS
    )
    return (
        periods.filter(pl.col("meter_id").is_in(ids))
        .select(list(INCIDENT_PERIODS.names()))
        .cast(INCIDENT_PERIODS)
    )


def _run_batched(
    store: ReadStore,
    ids: list[int],
    *,
    job: VeeJob,
    start_utc: dt.datetime,
    now: dt.datetime,
    batch_rows: int,
    group_meters: int,
    on_group: Callable[[int, int], None] | None,
) -> tuple[int, int, int, pl.DataFrame]:
    """VEE of ``ids`` here, batch by batch (:func:`~meterops.vee.stream.run_partition`).

    Batches are the store's meter-id ranges of about ``batch_rows`` stored rows
    (:meth:`~meterops.reads.store.ReadStore.meter_ranges`), cut to the selected meters and to
    at most ``group_meters`` meters each; the next batch is read while this one runs.

    Returns:
        Batches, flag rows written, versions written, the report rows.
    """
    _, end_utc = job.window.bounds_utc
    ranges: list[range] = []
    if ids:
        stored = store.meter_ranges(
            start_utc=start_utc, end_utc=end_utc, rows_per_range=max(batch_rows, 1)
        )
        ranges = restrict_ranges(
            covering_ranges(stored, low=ids[0], high=ids[-1]), ids, max_meters=group_meters
        )
    done = [0]

    def advance(batches_done: int, _total: int) -> None:
        done[0] += len(ranges[batches_done - 1])
        if on_group is not None:
            on_group(done[0], len(ids))

    run = run_partition(store, job, start_utc=start_utc, now=now, ranges=ranges, on_batch=advance)
    return run.batches, run.flag_rows_written, run.versions_written, run.report_rows


def run_vee(
    session: Session,
    store: ReadStore,
    *,
    first_day: dt.date,
    last_day: dt.date,
    zone: ZoneInfo,
    now: dt.datetime,
    serials: Sequence[str] | None = None,
    rule_set: RuleSet | None = None,
    actor: str = "system:vee",
    history_days: int = 14,
    group_meters: int = 5_000,
    engine: Engine = "fast",
    batch_rows: int = DEFAULT_BATCH_ROWS,
    on_group: Callable[[int, int], None] | None = None,
    executor: ExecutorName | None = None,
    workers: int = 2,
) -> VeeRunSummary:
    """Validate and estimate ``first_day`` … ``last_day`` for all or selected meters.

    Args:
        session: Database session (fleet facts, audit; the caller commits).
        store: The read store (reads, events and registers in; flags and versions out).
        first_day: First local day.
        last_day: Last local day (included).
        zone: The utility's zone.
        now: When flags and versions are recorded. [UTC]
        serials: Only these meters (None: the whole fleet).
        rule_set: Thresholds (None: the packaged default).
        actor: Who runs it (audit).
        history_days: Days before the window loaded as reference (spikes, like days).
        group_meters: Meters per group (bounds memory; here: the most meters per batch).
        engine: ``"fast"`` or ``"reference"``.
        batch_rows: Here: stored rows per batch (about; bounds memory).
        on_group: Called with (meters done, meters in total) after each group or batch.
        executor: None runs here, batch after batch
            (:func:`~meterops.vee.stream.run_partition`: meter-id ranges of about
            ``batch_rows`` stored rows from the Delta statistics, the next batch read while
            this one is validated and written), with one context for all meters;
            ``"inprocess"``, ``"local"`` (a process pool of ``workers``) or
            ``"spark"`` run the same job through :mod:`meterops.scale` with one context for
            all meters, and this process writes each group's flags and versions.
        workers: Processes of the local executor.

    Returns:
        The run summary.

    Raises:
        NotFoundError: A serial number is not in the fleet.
        InvalidInputError: ``last_day`` before ``first_day``.
    """
    if last_day < first_day:
        raise InvalidInputError(
            f"--to {last_day} is before --from {first_day}",
            code="vee.bad_window",
            details={"field": "to"},
        )
    window = RunWindow(first_day, last_day, zone.key)
    rules = rule_set or load_rule_set()
    suite = Suite(rules)
    meters = (
        repository.meters_by_serial(session, serials) if serials else repository.all_meters(session)
    )
    ids = sorted(m.meter_id for m in meters)
    history_start = first_day - dt.timedelta(days=history_days)
    window_start, end_utc = window.bounds_utc
    incidents = _incident_periods(session, ids, start_utc=window_start, end_utc=end_utc)
    if executor is None:
        groups, flags_written, versions_written, all_rows = _run_batched(
            store,
            ids,
            job=VeeJob(
                suite,
                window,
                _group_context(
                    session, store, ids, first_day=history_start, window=window, zone=zone
                )
                if ids
                else VeeContext(),
                engine,
                incidents,
            ),
            start_utc=local_day_bounds_utc(history_start, zone)[0],
            now=now,
            batch_rows=batch_rows,
            group_meters=group_meters,
            on_group=on_group,
        )
    else:
        outputs: list[pl.DataFrame] = []
        flags_written = versions_written = groups = 0
        for _group, rows in _group_outputs(
            session,
            store,
            ids,
            suite=suite,
            window=window,
            engine=engine,
            history_start=history_start,
            zone=zone,
            group_meters=group_meters,
            executor=executor,
            workers=workers,
            incidents=incidents,
        ):
            groups += 1
            # Numbered above the versions table alone: a raw-only key's first version is 1.
            latest = store.highest_versions(rows.filter(pl.col("row_kind") == "estimate"))
            flags, versions = store_rows(rows, latest_versions=latest)
            if not flags.is_empty():
                flags_written += store.write_flags(flags, now=now)
            if not versions.is_empty():
                versions_written += store.write_versions(versions, now=now)
            # What the report needs, without the times and texts of every row.
            outputs.append(rows.select(REPORT_COLUMNS))
            if on_group is not None:
                on_group(min(groups * group_meters, len(ids)), len(ids))
        all_rows = (
            pl.concat(outputs)
            if outputs
            else VeeJob(suite, window, VeeContext())(VEE_INPUT.empty()).select(REPORT_COLUMNS)
        )
    summary = VeeRunSummary(
        first_day,
        last_day,
        len(ids),
        groups,
        rules.version,
        report_from_rows(all_rows, suite),
        flags_written,
        versions_written,
    )
    record(
        session,
        actor=actor,
        action="vee.run",
        entity_type="vee_run",
        entity_id=f"{first_day.isoformat()}..{last_day.isoformat()}",
        reason=f"rule set {rules.version} ({rules.source})",
        data=summary.to_dict(),
        now=now,
    )
    return summary


@dataclass(frozen=True, slots=True)
class EditResult:
    """A stored edit.

    Attributes:
        meter_id: The meter.
        channel: The channel.
        interval_start_utc: The interval. [UTC]
        version: The edit's version number.
        parent_version: The version it replaces (null when no read existed).
        previous_value: The value it replaces (null when none).
        value: The new value.
    """

    meter_id: int
    channel: str
    interval_start_utc: dt.datetime
    version: int
    parent_version: int | None
    previous_value: float | None
    value: float


def _refuse(field: str, message: str) -> InvalidInputError:
    return InvalidInputError(message, code=f"vee.edit_{field}", details={"field": field})


def edit_interval(
    session: Session,
    store: ReadStore,
    *,
    serial: str,
    channel: str,
    at_utc: dt.datetime,
    value: float,
    reason_code: str | None,
    actor: str | None,
    now: dt.datetime,
    interval_s: int = 900,
    note: str | None = None,
) -> EditResult:
    """Store a manual edit of one interval as a new version.

    Args:
        session: Database session (meter lookup, audit; the caller commits).
        store: The read store.
        serial: Meter serial number.
        channel: Canonical channel name.
        at_utc: Interval start. [UTC]
        value: The new value in the channel's unit.
        reason_code: One of :data:`~meterops.vee.reasons.EDIT_REASONS` (required).
        actor: Who edits (required).
        now: When the edit is recorded. [UTC]
        interval_s: Interval length when no read exists for the interval yet. [s]
        note: Free text for the audit record.

    Returns:
        The stored edit.

    Raises:
        InvalidInputError: Missing or unknown reason code, missing actor, unknown channel,
            naive time or a value that is not a finite number; ``details["field"]`` names
            the field.
        NotFoundError: Unknown meter.
    """
    if not reason_code or not reason_code.strip():
        raise _refuse("reason_code", f"an edit needs a reason code, one of {sorted(EDIT_REASONS)}")
    if reason_code not in EDIT_REASONS:
        raise _refuse(
            "reason_code",
            f"unknown reason code {reason_code!r}; expected one of {sorted(EDIT_REASONS)}",
        )
    if not actor or not actor.strip():
        raise _refuse("actor", "an edit needs an actor (who made it)")
    if channel not in CHANNELS:
        raise _refuse("channel", f"unknown channel {channel!r}; known: {sorted(CHANNELS)}")
    if at_utc.tzinfo is None:
        raise _refuse("at", f"the interval start {at_utc.isoformat()} needs a time zone")
    if not math.isfinite(value):
        raise _refuse("value", f"the value must be a finite number, got {value!r}")
    meter = repository.meters_by_serial(session, [serial])[0]
    at = at_utc.astimezone(dt.UTC)
    window = {"start_utc": at, "end_utc": at + dt.timedelta(microseconds=1)}
    current = store.current_interval_reads(
        start_utc=window["start_utc"],
        end_utc=window["end_utc"],
        meter_ids=[meter.meter_id],
        channels=[channel],
    )
    latest = store.latest_versions(**window, meter_ids=[meter.meter_id]).filter(
        pl.col("channel") == channel
    )
    version = (int(latest["version"].max() or 0) if latest.height else 0) + 1  # type: ignore[arg-type]
    parent: int | None = None
    previous: float | None = None
    flags = _EDITED
    if current.height:
        row = current.row(0, named=True)
        parent, previous = int(row["version"]), row["value"]
        interval_s = int(row["interval_s"])
        flags |= int(row["quality_flags"]) & _SOURCE_BITS
    versions = pl.DataFrame(
        {
            "meter_id": [meter.meter_id],
            "channel": [channel],
            _T: [at],
            "interval_s": [interval_s],
            "value": [float(value)],
            "quality_flags": [flags],
            "version": [version],
            "version_kind": ["edit"],
            "method": ["manual"],
            "reason_code": [reason_code],
            "actor": [actor],
            "parent_version": [parent],
        },
        schema=INTERVAL_VERSIONS.schema,
    )
    store.write_versions(versions, now=now)
    record(
        session,
        actor=actor,
        action="reads.edit",
        entity_type="meter",
        entity_id=serial,
        reason=reason_code,
        data={
            "channel": channel,
            "interval_start_utc": at.isoformat(),
            "version": version,
            "parent_version": parent,
            "previous_value": previous,
            "value": float(value),
            "note": note,
        },
        now=now,
    )
    return EditResult(meter.meter_id, channel, at, version, parent, previous, float(value))


MAX_VIEW_DAYS: Final = 31
"""Longest range of local days a meter view reads at once."""


def meter_intervals(
    session: Session,
    store: ReadStore,
    *,
    serial: str,
    first_day: dt.date,
    last_day: dt.date,
    zone: ZoneInfo,
    channel: str | None = None,
) -> pl.DataFrame:
    """A meter's current interval reads over local days (what the meter page charts).

    Args:
        session: Database session (meter lookup).
        store: The read store.
        serial: Meter serial number.
        first_day: First local day.
        last_day: Last local day (included).
        zone: The utility's zone.
        channel: Only this channel (None: all).

    Returns:
        ``INTERVAL_READS`` rows (current view, flags merged), in key order.

    Raises:
        NotFoundError: Unknown meter.
        InvalidInputError: ``last_day`` before ``first_day`` or more than
            :data:`MAX_VIEW_DAYS` days.
    """
    if last_day < first_day or (last_day - first_day).days >= MAX_VIEW_DAYS:
        raise InvalidInputError(
            f"the range {first_day} to {last_day} must be 1 to {MAX_VIEW_DAYS} local days",
            code="vee.bad_range",
            details={"field": "to"},
        )
    meter = repository.meters_by_serial(session, [serial])[0]
    start, _ = local_day_bounds_utc(first_day, zone)
    _, end = local_day_bounds_utc(last_day, zone)
    return store.current_interval_reads(
        start_utc=start,
        end_utc=end,
        meter_ids=[meter.meter_id],
        channels=[channel] if channel else None,
    )


def interval_versions(
    session: Session, store: ReadStore, *, serial: str, channel: str, at_utc: dt.datetime
) -> pl.DataFrame:
    """Every stored version of one interval, oldest first, with ``is_current``.

    Raises:
        NotFoundError: Unknown meter.
    """
    meter = repository.meters_by_serial(session, [serial])[0]
    at = at_utc.astimezone(dt.UTC)
    return store.interval_history(
        start_utc=at,
        end_utc=at + dt.timedelta(microseconds=1),
        meter_ids=[meter.meter_id],
        channels=[channel],
    )
