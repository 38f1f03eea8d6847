"""Billing determinants and TOU register checks for a range of local days.

The service reads the billing periods and programs from the database (``repository``), streams
the interval reads of the read store group by group (``runner``) and runs the pure core
(``engine``, ``compare``). The CLI and the JSON API are thin wrappers over it.

Must not import ``meterops.web``, ``cli`` or ``config``: settings arrive as arguments.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy.orm import Session

from meterops.assets.programs import TouSchedule
from meterops.determinants import repository
from meterops.determinants.compare import (
    CompareParams,
    RegisterReport,
    compare_registers,
    plan_register_check,
)
from meterops.determinants.engine import DeterminantParams, Determinants
from meterops.determinants.runner import (
    RangeSource,
    StreamParams,
    stream_determinants,
    stream_from_store,
)
from meterops.errors import InvalidInputError
from meterops.reads.store import ReadStore, Table
from meterops.timeutil import local_day_bounds_utc

__all__ = [
    "DeterminantsRun",
    "day_range_utc",
    "register_check",
    "run_determinants",
]

Progress = Callable[[int, int], None]


def day_range_utc(first: dt.date, last: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """UTC bounds of the local days ``first`` to ``last`` (both included).

    Raises:
        InvalidInputError: ``last`` is before ``first``.

    Examples:
        >>> a, b = day_range_utc(dt.date(2024, 3, 10), dt.date(2024, 3, 10),
        ...                      ZoneInfo("America/Chicago"))
        >>> (b - a).total_seconds() / 3600
        23.0
    """
    if last < first:
        msg = f"--to ({last}) is before --from ({first})"
        raise InvalidInputError(msg, code="determinants.bad_range")
    return local_day_bounds_utc(first, zone)[0], local_day_bounds_utc(last, zone)[1]


@dataclass(frozen=True, slots=True)
class DeterminantsRun:
    """Determinants of a range, with serial numbers.

    Attributes:
        by_period: ``frames.BY_PERIOD`` plus ``serial_number`` first.
        by_tou: ``frames.BY_TOU`` plus ``serial_number`` first.
        meters: Meters computed.
        reads_used: Delivered-energy intervals used.
    """

    by_period: pl.DataFrame
    by_tou: pl.DataFrame
    meters: int
    reads_used: int


def _with_serials(session: Session, frame: pl.DataFrame) -> pl.DataFrame:
    serials = repository.serials_by_id(session, frame["meter_id"].unique().to_list())
    joined = frame.join(serials, on="meter_id", how="left", maintain_order="left")
    return joined.select("serial_number", *frame.columns)


def _stream(
    open_store: Callable[[], RangeSource],
    periods: pl.DataFrame,
    *,
    schedules: Mapping[str, TouSchedule],
    params: DeterminantParams,
    stream: StreamParams,
    progress: Progress | None,
) -> Determinants:
    """One worker: batches from the store here; more: groups over worker processes."""
    if stream.workers == 1:
        return stream_from_store(
            open_store(),
            periods,
            schedules=schedules,
            params=params,
            rows_per_batch=stream.batch_rows,
            window_hours=stream.window_hours,
            as_of_utc=stream.as_of_utc,
            progress=progress,
        )
    return stream_determinants(
        open_store, periods, schedules=schedules, params=params, stream=stream, progress=progress
    )


def run_determinants(
    session: Session,
    open_store: Callable[[], RangeSource],
    *,
    first_day: dt.date,
    last_day: dt.date,
    zone: ZoneInfo,
    serial: str | None = None,
    params: DeterminantParams | None = None,
    stream: StreamParams | None = None,
    progress: Progress | None = None,
) -> DeterminantsRun:
    """Billing determinants of every meter (or one) over local days ``first_day``..``last_day``.

    Args:
        session: Database session (billing periods, programs).
        open_store: Opens the read store (picklable when ``stream.workers > 1``).
        first_day: First local day.
        last_day: Last local day, included.
        zone: The utility's zone.
        serial: Only this meter.
        params: Computation parameters (default: 15-minute demand, 5-minute sub-intervals).
        stream: Streaming parameters: one worker (the default) streams the store in
            meter-id batches here (``runner.stream_from_store``, the next window read
            ahead); more run meter groups in worker processes (``runner.stream_determinants``).
        progress: Called with (meters done, meters in total).

    Returns:
        The determinants with serial numbers.

    Raises:
        NotFoundError: Unknown serial.
        InvalidInputError: Bad range.
    """
    start, end = day_range_utc(first_day, last_day, zone)
    meter_id = repository.meter_id_for_serial(session, serial) if serial else None
    found = repository.billing_periods(
        session, start_utc=start, end_utc=end, zone=zone, meter_id=meter_id
    )
    schedules = repository.schedules(session)
    used = set(found.periods["schedule_key"].drop_nulls().unique().to_list())
    result = _stream(
        open_store,
        found.periods,
        schedules={k: schedules[k] for k in used},
        params=params or DeterminantParams(zone=zone.key),
        stream=stream or StreamParams(),
        progress=progress,
    )
    return DeterminantsRun(
        _with_serials(session, result.by_period),
        _with_serials(session, result.by_tou),
        found.periods["meter_id"].n_unique(),
        int(result.by_period["intervals"].sum()),
    )


def register_check(
    session: Session,
    store: ReadStore,
    *,
    first_day: dt.date,
    last_day: dt.date,
    zone: ZoneInfo,
    serial: str | None = None,
    compare: CompareParams | None = None,
    stream: StreamParams | None = None,
    progress: Progress | None = None,
) -> RegisterReport:
    """Compare computed TOU buckets with the meters' TOU registers over a range of days.

    Every meter whose billing schedule has TOU periods is checked against its tariff; the
    candidates for the best-fitting schedule are every program of the fleet.

    Args:
        session: Database session.
        store: The read store.
        first_day: First local day.
        last_day: Last local day, included (its closing midnight register read is used).
        zone: The utility's zone.
        serial: Only this meter.
        compare: Tolerances.
        stream: Streaming parameters.
        progress: Called with (meters done, meters in total).

    Returns:
        The report; ``comparison`` and ``summary`` have ``serial_number`` first.
    """
    start, end = day_range_utc(first_day, last_day, zone)
    meter_id = repository.meter_id_for_serial(session, serial) if serial else None
    found = repository.billing_periods(
        session, start_utc=start, end_utc=end, zone=zone, meter_id=meter_id
    )
    schedules = repository.schedules(session)
    specs = found.specs
    registers = store.records(
        Table.REGISTER_READS,
        start_utc=start,
        end_utc=end + dt.timedelta(seconds=1),
        ids=specs["meter_id"],
    )
    plan = plan_register_check(registers, specs, schedules=schedules, start_utc=start, end_utc=end)
    used = set(plan.periods["schedule_key"].unique().to_list())
    computed: Determinants = _stream(
        lambda: store,
        plan.periods,
        schedules={k: schedules[k] for k in used},
        params=DeterminantParams(zone=zone.key, include_excluded=True),
        stream=dataclasses.replace(stream or StreamParams(), workers=1),
        progress=progress,
    )
    report = compare_registers(plan, computed, params=compare)
    return RegisterReport(
        _with_serials(session, report.comparison), _with_serials(session, report.summary)
    )
