"""VEE end to end over a partition of the read store, one bounded batch of meters at a time.

:func:`run_partition` reads a window of every meter (a *partition*: e.g. one day of the whole
fleet) from the Delta tables, validates and estimates it with a :class:`~meterops.vee.batch.VeeJob`
and writes the flag rows and estimate versions, without ever holding the whole partition:

1. :meth:`~meterops.reads.store.ReadStore.meter_ranges` cuts the meter ids into contiguous
   ranges of about ``rows_per_batch`` stored rows each, from the Delta log's file statistics
   (no data is read for it);
2. per range, :meth:`~meterops.reads.store.ReadStore.current_interval_reads` reads only the
   ``VEE_INPUT`` columns (and the few the current-view rule needs) of that range: Parquet
   row-group statistics on ``meter_id`` skip the rest of the table;
3. the job validates and estimates the batch (every meter is whole in one batch, so rules over
   a meter's series and history see the same rows as in one big run);
4. only what changes is written: flag rows whose bits change and new estimate versions,
   numbered above the highest stored version of their key
   (:meth:`~meterops.reads.store.ReadStore.highest_versions`, which reads the sparse versions
   table only, not the raw reads).

Peak memory is therefore bounded by one batch (its reads, the job's working arrays and the
output rows of the batch), plus the small per-run outputs kept for the report. The stored
versions and flags are exactly those of one unbatched run (a Hypothesis test,
``tests/vee/test_stream.py``). Batches are written as they finish (one Delta commit for the
flags and one for the versions of each batch), like the groups of
:func:`meterops.vee.service.run_vee`.

Must not import ``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import polars as pl

from meterops.reads.batches import read_ahead
from meterops.reads.store import ReadStore
from meterops.vee.batch import VeeJob, store_rows
from meterops.vee.context import VEE_INPUT

__all__ = ["DEFAULT_BATCH_ROWS", "REPORT_COLUMNS", "PartitionRun", "run_partition"]

DEFAULT_BATCH_ROWS: Final = 4_000_000
"""Stored rows per batch by default (about 170 MB of current reads in memory, VEE columns)."""

REPORT_COLUMNS: Final = ("row_kind", "meter_id", "channel", "quality_flags", "method", "value")
"""The :data:`~meterops.vee.batch.VEE_OUTPUT` columns kept per batch for the run's report."""


@dataclass(frozen=True, slots=True)
class PartitionRun:
    """What :func:`run_partition` did.

    Attributes:
        batches: Batches (meter-id ranges) processed.
        reads: Current reads loaded (history days included).
        flag_rows_written: Flag rows appended.
        versions_written: Estimate versions appended.
        report_rows: :data:`REPORT_COLUMNS` of every batch's output rows (for
            :func:`~meterops.vee.batch.report_from_rows`).
        partition_bytes: In-memory size of all the current reads loaded, summed over the
            batches (``VEE_INPUT`` columns; Polars' ``estimated_size``). [bytes]
        largest_batch_bytes: In-memory size of the largest batch's current reads. [bytes]
    """

    batches: int
    reads: int
    flag_rows_written: int
    versions_written: int
    report_rows: pl.DataFrame
    partition_bytes: int
    largest_batch_bytes: int


def run_partition(
    store: ReadStore,
    job: VeeJob,
    *,
    start_utc: dt.datetime,
    now: dt.datetime,
    rows_per_batch: int = DEFAULT_BATCH_ROWS,
    ranges: list[range] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    prefetch: bool = True,
) -> PartitionRun:
    """Validate, estimate and write a partition batch by batch.

    Args:
        store: The read store (reads in; flags and versions out).
        job: The VEE job (suite, window, context of every meter of the partition, incidents).
        start_utc: First interval start loaded: the window's start, or earlier to give the
            rules history days (the job validates only its window). [UTC]
        now: When flags and versions are recorded. [UTC]
        rows_per_batch: Target stored rows per batch (bounds memory; at least 1).
        ranges: Meter-id ranges to process (ascending, disjoint); None: every meter with
            stored rows in the window, cut by :meth:`ReadStore.meter_ranges`.
        on_batch: Called with (batches done, batches in total) after each batch.
        prefetch: Read the next batch in a background thread (its own handle on the store)
            while this one is validated and written (:func:`~meterops.reads.batches.read_ahead`):
            the Delta scan overlaps the VEE kernel and the writes, at the cost of a second
            batch in memory. Batches are disjoint meter ranges, so what a batch writes never
            changes what the next reads.

    Returns:
        What was read and written.
    """
    _, end_utc = job.window.bounds_utc
    if ranges is None:
        ranges = store.meter_ranges(
            start_utc=start_utc, end_utc=end_utc, rows_per_range=max(rows_per_batch, 1)
        )
    report: list[pl.DataFrame] = []
    reads = flags_written = versions_written = 0
    total_bytes = largest = 0
    # One snapshot for the run: the Delta logs are read once, and each query opens only the
    # files its meters and days need. Batches are disjoint meter ranges, so nothing this run
    # writes is missed by a later batch.
    handle = ReadStore(store.uri, storage_options=store.storage_options) if prefetch else store
    reader = handle.snapshot()

    def read(meters: range) -> pl.DataFrame:
        return reader.current_interval_reads(
            start_utc=start_utc, end_utc=end_utc, meter_ids=meters, columns=VEE_INPUT.names
        )

    for position, _, current in read_ahead(ranges, read, prefetch=prefetch, thread_name="vee-read"):
        size = int(current.estimated_size())
        reads += current.height
        total_bytes += size
        largest = max(largest, size)
        rows = job(current)
        del current  # the batch's reads are not needed past the job
        estimates = rows.filter(pl.col("row_kind") == "estimate")
        latest = store.highest_versions(estimates)
        flags, versions = store_rows(rows, latest_versions=latest)
        if not flags.is_empty():
            flags_written += store.write_flags(flags, now=now)
        if not versions.is_empty():
            versions_written += store.write_versions(versions, now=now)
        report.append(rows.select(REPORT_COLUMNS))
        if on_batch is not None:
            on_batch(position + 1, len(ranges))
    report_rows = pl.concat(report) if report else job(VEE_INPUT.empty()).select(REPORT_COLUMNS)
    return PartitionRun(
        len(ranges),
        reads,
        flags_written,
        versions_written,
        report_rows,
        total_bytes,
        largest,
    )
