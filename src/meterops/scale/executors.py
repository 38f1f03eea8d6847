"""Executors: run one pure job over groups of meters, in process, over processes, on Spark.

A job (:class:`GroupJob`, e.g. :class:`meterops.vee.batch.VeeJob` or
:class:`meterops.scale.jobs.DailyTotals`) is a picklable callable from a group's current
interval reads (``INTERVAL_READS`` rows, one per key, in key order) to a frame of its
``output_schema``. An executor reads each group's rows from the read store as the window
(:class:`ReadWindow`) says, applies the job and yields one output frame per group, in group
order, whatever runs it:

* :class:`InProcessExecutor` — one group after the other in this process (the reference);
* :class:`LocalExecutor` — a pool of spawned processes; each worker opens the store itself,
  reads its group and returns only the job's output; at most ``2 × workers`` groups are in
  flight, so memory is bounded by a few groups, never by the whole input;
* :class:`meterops.scale.spark.SparkExecutor` — the same job inside Spark's
  ``groupBy(...).applyInArrow`` over the Delta tables' Parquet files.

Pure module: standard library, polars and pure meterops modules only; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import polars as pl

from meterops.reads.store import ReadStore
from meterops.scale.groups import MeterGroup

__all__ = [
    "Executor",
    "GroupJob",
    "InProcessExecutor",
    "LocalExecutor",
    "ReadWindow",
    "check_output",
]


@runtime_checkable
class GroupJob(Protocol):
    """A pure batch step over the current reads of one group of meters.

    Must be picklable by reference (a module-level class or a frozen dataclass instance), as
    executors ship it to other processes and Spark tasks.
    """

    @property
    def output_schema(self) -> pl.Schema:
        """Schema of every frame the job returns."""
        ...

    def __call__(self, reads: pl.DataFrame) -> pl.DataFrame:
        """The job's output for one group's current reads (``INTERVAL_READS`` rows)."""
        ...


@dataclass(frozen=True, slots=True)
class ReadWindow:
    """What each group reads: the store and the interval starts ``[start_utc, end_utc)``.

    Include the history a job needs (VEE: the days before its run window).

    Attributes:
        uri: The read store's URI (``Settings.reads_uri``).
        start_utc: First interval start read. [UTC]
        end_utc: Interval starts before this are read. [UTC]
        channels: Only these channels (None: all).
        storage_options: Object-store options of the store, if any.
    """

    uri: str
    start_utc: dt.datetime
    end_utc: dt.datetime
    channels: tuple[str, ...] | None = None
    storage_options: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        for name in ("start_utc", "end_utc"):
            moment = getattr(self, name)
            if moment.tzinfo is None:
                msg = f"{name} must be an aware UTC datetime, got naive {moment.isoformat()}"
                raise ValueError(msg)
        if self.end_utc <= self.start_utc:
            msg = f"end_utc {self.end_utc.isoformat()} is not after {self.start_utc.isoformat()}"
            raise ValueError(msg)

    def open(self) -> ReadStore:
        """The read store."""
        return ReadStore(self.uri, storage_options=self.storage_options)

    def read_group(self, store: ReadStore, group: MeterGroup) -> pl.DataFrame:
        """The group's current interval reads in the window (``INTERVAL_READS``)."""
        return store.current_interval_reads(
            start_utc=self.start_utc,
            end_utc=self.end_utc,
            meter_ids=group.meter_ids,
            channels=self.channels,
        )


class Executor(Protocol):
    """Runs a job over groups of meters and yields each group's output, in group order."""

    def map_groups(
        self, fn: GroupJob, source: ReadWindow, groups: Sequence[MeterGroup]
    ) -> Iterator[pl.DataFrame]:
        """Apply ``fn`` to each group's current reads.

        Args:
            fn: The job.
            source: Store and window to read.
            groups: Groups whose meters do not overlap.

        Yields:
            ``fn``'s output for each group (``fn.output_schema``), in the order of ``groups``.
        """
        ...


def check_output(fn: GroupJob, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` in ``fn.output_schema`` column order; an error when it does not conform.

    Raises:
        TypeError: The job returned something else than its declared schema.
    """
    expected = fn.output_schema
    if frame.schema != expected:
        if set(frame.columns) == set(expected.names()):
            reordered = frame.select(expected.names())
            if reordered.schema == expected:
                return reordered
        msg = (
            f"{type(fn).__name__} returned columns {dict(frame.schema)}, "
            f"not its output_schema {dict(expected)}"
        )
        raise TypeError(msg)
    return frame


class InProcessExecutor:
    """Groups one after the other in this process (the reference for the other executors)."""

    def map_groups(
        self, fn: GroupJob, source: ReadWindow, groups: Sequence[MeterGroup]
    ) -> Iterator[pl.DataFrame]:
        """See :meth:`Executor.map_groups`."""
        store = source.open()
        for group in groups:
            yield check_output(fn, fn(source.read_group(store, group)))


# Per worker process: the job, the window and the opened store (set once by the initializer,
# so the job, which may carry a large context, is pickled once per worker, not per group).
_WORKER: dict[str, object] = {}


def _init_worker(fn: GroupJob, source: ReadWindow) -> None:
    _WORKER["fn"] = fn
    _WORKER["source"] = source
    _WORKER["store"] = source.open()


def _run_group(group: MeterGroup) -> pl.DataFrame:
    fn = _WORKER["fn"]
    source = _WORKER["source"]
    store = _WORKER["store"]
    assert isinstance(fn, GroupJob)
    assert isinstance(source, ReadWindow)
    assert isinstance(store, ReadStore)
    return check_output(fn, fn(source.read_group(store, group)))


class LocalExecutor:
    """Groups over a pool of spawned worker processes, streamed with bounded memory.

    Each worker opens the store, reads its group and returns only the job's output, so the
    parent never holds the input. At most ``in_flight`` groups are submitted and not yet
    consumed at any time (their outputs wait in order).

    Args:
        workers: Worker processes (≥ 1).
        in_flight: Groups submitted ahead (default ``2 × workers``).
    """

    def __init__(self, workers: int = 2, *, in_flight: int | None = None) -> None:
        if workers < 1:
            msg = f"workers must be at least 1, got {workers}"
            raise ValueError(msg)
        self.workers = workers
        self.in_flight = max(1, in_flight if in_flight is not None else 2 * workers)

    def map_groups(
        self, fn: GroupJob, source: ReadWindow, groups: Sequence[MeterGroup]
    ) -> Iterator[pl.DataFrame]:
        """See :meth:`Executor.map_groups`."""
        if not groups:
            return
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=min(self.workers, len(groups)),
            mp_context=context,
            initializer=_init_worker,
            initargs=(fn, source),
        ) as pool:
            pending: deque[Future[pl.DataFrame]] = deque()
            remaining = iter(groups)
            try:
                for group in remaining:
                    pending.append(pool.submit(_run_group, group))
                    if len(pending) >= self.in_flight:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:
                for future in pending:
                    future.cancel()
