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
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final, Protocol

import polars as pl

from meterops.assets.programs import TouSchedule
from meterops.determinants.engine import DeterminantAccumulator, DeterminantParams, Determinants
from meterops.determinants.frames import BILLING_PERIODS
from meterops.errors import InvalidInputError
from meterops.kit.frames import check_frame

__all__ = [
    "ENERGY_CHANNELS",
    "IntervalSource",
    "StreamParams",
    "meter_groups",
    "run_group",
    "stream_determinants",
    "time_windows",
]

ENERGY_CHANNELS: Final = ("kwh_delivered", "kwh_received")
"""The channels determinants read."""


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


@dataclass(frozen=True, slots=True)
class StreamParams:
    """How the fleet is streamed.

    Attributes:
        group_size: Meters per group (one grid in memory per group and worker).
        window_hours: Hours of reads per store query.
        workers: Worker processes (1: in this process).
        as_of_utc: Compute from the data as it was at this instant (None: now). [UTC]
    """

    group_size: int = 10_000
    window_hours: int = 24
    workers: int = 1
    as_of_utc: dt.datetime | None = None

    def __post_init__(self) -> None:
        if self.group_size < 1 or self.window_hours < 1 or self.workers < 1:
            msg = (
                "group_size, window_hours and workers must be positive, found "
                f"{self.group_size}, {self.window_hours}, {self.workers}"
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
