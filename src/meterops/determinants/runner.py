"""Stream billing determinants for many meters from the read store, group by group.

The fleet never sits in memory as one frame: meters are split into groups (default 10,000), and
for each group the current interval reads are asked from the store one time window at a time
(default one day) and fed to a :class:`~meterops.determinants.engine.DeterminantAccumulator`,
which keeps only a ``meter × slot`` grid of the group. Groups are independent, so they run in
a pool of worker processes when ``workers > 1`` (each opens its own store).

Why one day per query: the store's current view builds each answer in memory; a one-day window
keeps that answer small (one day of one group) while the accumulator keeps only its grid.

Must not import ``meterops.db``, ``models``, ``web``, ``cli`` or ``config``: it receives a
store factory and explicit parameters (the service builds them from the fleet database).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

import polars as pl

from meterops.assets.programs import TouSchedule
from meterops.determinants.engine import DeterminantAccumulator, DeterminantParams, Determinants
from meterops.determinants.frames import BILLING_PERIODS, DETERMINANT_READS
from meterops.errors import InvalidInputError
from meterops.kit.frames import check_frame
from meterops.reads.batches import covering_ranges, read_ahead, restrict_ranges

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "ENERGY_CHANNELS",
    "IntervalSource",
    "RangeSource",
    "SnapshotSource",
    "StreamParams",
    "meter_groups",
    "run_group",
    "stream_determinants",
    "stream_from_store",
    "time_windows",
]

ENERGY_CHANNELS: Final = ("kwh_delivered", "kwh_received")
"""The channels determinants read."""

DEFAULT_BATCH_ROWS: Final = 20_000_000
"""Stored rows per batch of :func:`stream_from_store` over the whole span (about 6,250 meters
x 30 days of quarter-hours with a received channel on one meter in ten: a grid of about
300 MB; every store query reads one day of the batch, about 0.66 M rows)."""


class IntervalSource(Protocol):
    """What the runner needs from the read store (``reads.store.ReadStore`` satisfies it)."""

    def current_interval_reads(
        self,
        *,
        start_utc: dt.datetime,
        end_utc: dt.datetime,
        meter_ids: Collection[int] | None = None,
        channels: Collection[str] | None = None,
        as_of_utc: dt.datetime | None = None,
    ) -> pl.DataFrame:
        """Current interval reads in ``[start_utc, end_utc)`` (``INTERVAL_READS``)."""
        ...


class RangeSource(IntervalSource, Protocol):
    """What :func:`stream_from_store` needs (``reads.store.ReadStore`` satisfies it)."""

    def meter_ranges(
        self, *, start_utc: dt.datetime, end_utc: dt.datetime, rows_per_range: int
    ) -> list[range]:
        """Contiguous meter-id ranges of about ``rows_per_range`` stored rows each."""
        ...

    def current_interval_reads(
        self,
        *,
        start_utc: dt.datetime,
        end_utc: dt.datetime,
        meter_ids: Collection[int] | None = None,
        channels: Collection[str] | None = None,
        as_of_utc: dt.datetime | None = None,
        columns: Sequence[str] | None = None,
    ) -> pl.DataFrame:
        """Current interval reads in ``[start_utc, end_utc)``, only ``columns``."""
        ...


@runtime_checkable
class SnapshotSource(Protocol):
    """A store that can pin its state for a run (``reads.store.ReadStore`` satisfies it)."""

    def snapshot(self) -> RangeSource:
        """The store's interval reads pinned as they are now (``ReadStore.snapshot``)."""
        ...


@dataclass(frozen=True, slots=True)
class StreamParams:
    """How the fleet is streamed.

    Attributes:
        group_size: Meters per group of the worker-process path (one grid in memory per group
            and worker).
        window_hours: Hours of reads per store query.
        workers: Worker processes (1: in this process, in batches from the store's
            statistics: :func:`stream_from_store`).
        as_of_utc: Compute from the data as it was at this instant (None: now). [UTC]
        batch_rows: Stored rows per batch of :func:`stream_from_store` (over the span).
    """

    group_size: int = 10_000
    window_hours: int = 24
    workers: int = 1
    as_of_utc: dt.datetime | None = None
    batch_rows: int = DEFAULT_BATCH_ROWS

    def __post_init__(self) -> None:
        if min(self.group_size, self.window_hours, self.workers, self.batch_rows) < 1:
            msg = (
                "group_size, window_hours, workers and batch_rows must be positive, found "
                f"{self.group_size}, {self.window_hours}, {self.workers}, {self.batch_rows}"
            )
            raise InvalidInputError(msg, code="determinants.bad_stream_params")


def meter_groups(periods: pl.DataFrame, *, group_size: int) -> list[pl.DataFrame]:
    """Split billing periods into groups of at most ``group_size`` meters (by meter id).

    Examples:
        >>> p = pl.DataFrame({"meter_id": [3, 1, 2, 1]})
        >>> [g["meter_id"].to_list() for g in meter_groups(p, group_size=2)]
        [[1, 1, 2], [3]]
    """
    ids = periods["meter_id"].unique().sort()
    ordered = periods.sort("meter_id", maintain_order=True)
    groups = []
    for first in range(0, ids.len(), group_size):
        chunk = ids.slice(first, group_size)
        low, high = chunk[0], chunk[-1]
        groups.append(ordered.filter(pl.col("meter_id").is_between(low, high)))
    return groups


def time_windows(
    start_utc: dt.datetime, end_utc: dt.datetime, *, hours: int
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """Consecutive ``[start, end)`` windows of ``hours`` covering ``[start_utc, end_utc)``.

    Examples:
        >>> t = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        >>> [(a.hour, b.hour) for a, b in time_windows(t, t + dt.timedelta(hours=5), hours=2)]
        [(0, 2), (2, 4), (4, 5)]
    """
    step = dt.timedelta(hours=hours)
    moment = start_utc
    while moment < end_utc:
        yield moment, min(moment + step, end_utc)
        moment += step


def run_group(
    open_source: Callable[[], IntervalSource],
    periods: pl.DataFrame,
    *,
    schedules: Mapping[str, TouSchedule],
    params: DeterminantParams,
    stream: StreamParams,
) -> Determinants:
    """Determinants of one meter group, its reads asked window by window.

    Args:
        open_source: Opens the read store (called in the process that runs the group).
        periods: The group's billing periods (``frames.BILLING_PERIODS``).
        schedules: Schedule key → TOU schedule.
        params: Computation parameters.
        stream: Streaming parameters.

    Returns:
        The group's determinants.
    """
    accumulator = DeterminantAccumulator(periods, schedules=schedules, params=params)
    if periods.is_empty():
        return accumulator.finish()
    source = open_source()
    ids = periods["meter_id"].unique().sort().to_list()
    start, end = periods["period_start_utc"].min(), periods["period_end_utc"].max()
    assert isinstance(start, dt.datetime)
    assert isinstance(end, dt.datetime)
    for low, high in time_windows(start, end, hours=stream.window_hours):
        accumulator.add(
            source.current_interval_reads(
                start_utc=low,
                end_utc=high,
                meter_ids=ids,
                channels=ENERGY_CHANNELS,
                as_of_utc=stream.as_of_utc,
            )
        )
    return accumulator.finish()


@contextmanager
def _single_threaded_polars_children() -> Iterator[None]:
    """Give spawned workers one Polars thread each.

    Workers inherit the environment; with one thread each, the workers, not Polars' pool,
    share the cores.
    """
    before = os.environ.get("POLARS_MAX_THREADS")
    os.environ["POLARS_MAX_THREADS"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("POLARS_MAX_THREADS", None)
        else:
            os.environ["POLARS_MAX_THREADS"] = before


def stream_determinants(
    open_source: Callable[[], IntervalSource],
    periods: pl.DataFrame,
    *,
    schedules: Mapping[str, TouSchedule],
    params: DeterminantParams,
    stream: StreamParams | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Determinants:
    """Determinants of every billing period in ``periods``, streamed group by group.

    Args:
        open_source: Opens the read store; must be picklable when ``workers > 1`` (e.g.
            ``functools.partial(ReadStore, uri)``).
        periods: Billing periods (``frames.BILLING_PERIODS``).
        schedules: Schedule key → TOU schedule.
        params: Computation parameters.
        stream: Streaming parameters (defaults: 10,000 meters, one-day windows, 1 worker).
        progress: Called with (meters done, meters in total) after each group.

    Returns:
        Determinants of all groups, in meter order.
    """
    check_frame(periods, BILLING_PERIODS)
    stream = stream or StreamParams()
    groups = meter_groups(periods, group_size=stream.group_size)
    total = periods["meter_id"].n_unique()
    done = 0
    results: list[Determinants] = []
    if stream.workers == 1 or len(groups) < 2:
        for group in groups:
            results.append(
                run_group(open_source, group, schedules=schedules, params=params, stream=stream)
            )
            done += group["meter_id"].n_unique()
            if progress is not None:
                progress(done, total)
        return Determinants.concat(results)
    context = multiprocessing.get_context("spawn")  # never fork a process running Polars
    with (
        _single_threaded_polars_children(),
        ProcessPoolExecutor(stream.workers, mp_context=context) as pool,
    ):
        futures: list[Future[Determinants]] = [
            pool.submit(
                run_group, open_source, g, schedules=schedules, params=params, stream=stream
            )
            for g in groups
        ]
        for group, future in zip(groups, futures, strict=True):
            results.append(future.result())
            done += group["meter_id"].n_unique()
            if progress is not None:
                progress(done, total)
    return Determinants.concat(results)


def stream_from_store(
    store: RangeSource,
    periods: pl.DataFrame,
    *,
    schedules: Mapping[str, TouSchedule],
    params: DeterminantParams,
    rows_per_batch: int = DEFAULT_BATCH_ROWS,
    window_hours: int = 24,
    as_of_utc: dt.datetime | None = None,
    prefetch: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Determinants:
    """Determinants of every billing period, streamed from the store in meter-id batches.

    The way ``vee.stream.run_partition`` streams VEE: the meter ids are cut into contiguous
    ranges of about ``rows_per_batch`` stored rows over the periods' span from the Delta log's
    statistics (:meth:`~meterops.reads.store.ReadStore.meter_ranges`, no data read), cut to
    the meters that have periods (:func:`~meterops.reads.batches.restrict_ranges`) and
    stretched over meters without stored rows (:func:`~meterops.reads.batches.covering_ranges`:
    their periods come out all-missing). A store that can pin its state
    (:class:`SnapshotSource`, e.g. ``ReadStore``) is read through one
    :meth:`~meterops.reads.store.ReadStore.snapshot` for the whole run: the Delta logs are read
    once, every query opens only the files its window needs, and a file committed during the
    run is not seen by its later batches (all batches see the same state). Each batch is read
    one window of ``window_hours`` at a time with only the
    :data:`~meterops.determinants.frames.DETERMINANT_READS` columns of the energy channels (a
    window within one day's file comes in key order, so the current view takes the rows as
    they are when the window has no versions or flags), and every window is added to the
    batch's :class:`~meterops.determinants.engine.DeterminantAccumulator`; the next window is
    read in a background thread while the kernel places this one
    (:func:`~meterops.reads.batches.read_ahead`). Memory: one batch's grid and two windows.

    Args:
        store: The read store (``reads.store.ReadStore``).
        periods: Billing periods (``frames.BILLING_PERIODS``).
        schedules: Schedule key → TOU schedule.
        params: Computation parameters.
        rows_per_batch: Target stored rows per batch over the span (at least 1).
        window_hours: Hours of reads per store query (at least 1).
        as_of_utc: Compute from the data as it was at this instant (None: now). [UTC]
        prefetch: Read the next window in a background thread.
        progress: Called with (meters done, meters in total) after each batch.

    Returns:
        The determinants of every period, in meter order (equal to
        :func:`~meterops.determinants.engine.compute_determinants` over all the reads).

    Raises:
        InvalidInputError: ``rows_per_batch`` or ``window_hours`` below 1, or a bad period.
    """
    check_frame(periods, BILLING_PERIODS)
    if rows_per_batch < 1 or window_hours < 1:
        msg = f"rows_per_batch and window_hours must be positive, found {rows_per_batch}, "
        msg += str(window_hours)
        raise InvalidInputError(msg, code="determinants.bad_stream_params")
    if periods.is_empty():
        return DeterminantAccumulator(periods, schedules=schedules, params=params).finish()
    ids = periods["meter_id"].unique().sort()
    start, end = periods["period_start_utc"].min(), periods["period_end_utc"].max()
    assert isinstance(start, dt.datetime)
    assert isinstance(end, dt.datetime)
    low, high = ids[0], ids[-1]
    # One pinned state for the whole run: the Delta logs are read once, not before each query.
    source = store.snapshot() if isinstance(store, SnapshotSource) else store
    stored = source.meter_ranges(start_utc=start, end_utc=end, rows_per_range=rows_per_batch)
    ranges = restrict_ranges(covering_ranges(stored, low=low, high=high), ids.to_list())
    ordered = periods.sort("meter_id", maintain_order=True)
    batches = [ordered.filter(pl.col("meter_id").is_between(r.start, r.stop - 1)) for r in ranges]
    items: list[tuple[int, range, tuple[dt.datetime, dt.datetime]]] = []
    for position, (meters, batch) in enumerate(zip(ranges, batches, strict=True)):
        first, last = batch["period_start_utc"].min(), batch["period_end_utc"].max()
        assert isinstance(first, dt.datetime)
        assert isinstance(last, dt.datetime)
        items += [(position, meters, w) for w in time_windows(first, last, hours=window_hours)]

    def read(item: tuple[int, range, tuple[dt.datetime, dt.datetime]]) -> pl.DataFrame:
        _, meters, (low_utc, high_utc) = item
        return source.current_interval_reads(
            start_utc=low_utc,
            end_utc=high_utc,
            meter_ids=meters,
            channels=ENERGY_CHANNELS,
            as_of_utc=as_of_utc,
            columns=DETERMINANT_READS.names,
        )

    results: list[Determinants] = []
    accumulator: DeterminantAccumulator | None = None
    total, done = ids.len(), 0
    for index, (position, _, _), reads in read_ahead(items, read, prefetch=prefetch):
        if accumulator is None:
            accumulator = DeterminantAccumulator(
                batches[position], schedules=schedules, params=params
            )
        accumulator.add(reads)
        del reads
        if index + 1 == len(items) or items[index + 1][0] != position:
            results.append(accumulator.finish())
            accumulator = None
            done += batches[position]["meter_id"].n_unique()
            if progress is not None:
                progress(done, total)
    return Determinants.concat(results)
