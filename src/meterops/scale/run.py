"""One call to run a job over a store's meters with a chosen executor (what CLIs call).

Pure module: standard library, polars and pure meterops modules only; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Sequence
from typing import Final, Literal

import polars as pl

from meterops.reads.store import ReadStore
from meterops.scale.executors import (
    Executor,
    GroupJob,
    InProcessExecutor,
    LocalExecutor,
    ReadWindow,
)
from meterops.scale.groups import DEFAULT_TARGET_ROWS, MeterGroup, plan_groups

__all__ = [
    "EXECUTORS",
    "ExecutorName",
    "iter_job",
    "make_executor",
    "meter_rows",
    "plan_store",
    "run_job",
]

ExecutorName = Literal["inprocess", "local", "spark"]
EXECUTORS: Final[tuple[ExecutorName, ...]] = ("inprocess", "local", "spark")
"""Executor names accepted by :func:`run_job` (``meterops vee run --executor``)."""

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def meter_rows(
    store: ReadStore,
    *,
    start_utc: dt.datetime,
    end_utc: dt.datetime,
    meter_ids: Collection[int] | None = None,
) -> pl.DataFrame:
    """Raw interval rows per meter on the UTC days that overlap ``[start_utc, end_utc)``.

    A size hint for :func:`~meterops.scale.groups.plan_groups` from the store's per-day counts
    (whole UTC days, raw rows only).

    Returns:
        Columns ``meter_id`` and ``rows`` (Int64), by meter id.
    """
    last_day = (end_utc - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date()
    days = store.touched_days(committed_after_utc=_EPOCH).filter(
        pl.col("day").is_between(start_utc.astimezone(dt.UTC).date(), last_day)
    )
    if meter_ids is not None:
        days = days.filter(pl.col("meter_id").is_in(pl.Series(list(meter_ids), dtype=pl.Int64)))
    return (
        days.group_by("meter_id")
        .agg(pl.col("reads").sum().cast(pl.Int64).alias("rows"))
        .sort("meter_id")
    )


def plan_store(
    store: ReadStore,
    *,
    start_utc: dt.datetime,
    end_utc: dt.datetime,
    meter_ids: Collection[int] | None = None,
    target_rows: int = DEFAULT_TARGET_ROWS,
) -> list[MeterGroup]:
    """Groups of the meters with reads in the window (:func:`meter_rows` then ``plan_groups``)."""
    rows = meter_rows(store, start_utc=start_utc, end_utc=end_utc, meter_ids=meter_ids)
    return plan_groups(rows, target_rows=target_rows)


def make_executor(name: ExecutorName, *, workers: int = 2) -> Executor:
    """An executor by name: ``inprocess``, ``local`` (``workers`` processes) or ``spark``.

    ``spark`` starts a local session with ``workers`` cores (``local[workers]``); the
    caller should ``close()`` it (``run_job`` does).

    Raises:
        ValueError: Unknown name.
    """
    if name == "inprocess":
        return InProcessExecutor()
    if name == "local":
        return LocalExecutor(workers)
    if name == "spark":
        from meterops.scale.spark import SparkExecutor  # the optional ``spark`` extra

        return SparkExecutor(master=f"local[{workers}]")
    msg = f"unknown executor {name!r}; expected one of {', '.join(EXECUTORS)}"  # type: ignore[unreachable]
    raise ValueError(msg)


def iter_job(
    job: GroupJob,
    store: ReadStore,
    meter_groups: Sequence[MeterGroup],
    *,
    start_utc: dt.datetime,
    end_utc: dt.datetime,
    executor: ExecutorName | Executor = "local",
    workers: int = 2,
    channels: Collection[str] | None = None,
) -> Iterator[pl.DataFrame]:
    """Like :func:`run_job`, but yields each group's output as it comes (in group order)."""
    source = ReadWindow(
        store.uri,
        start_utc,
        end_utc,
        tuple(channels) if channels is not None else None,
        store.storage_options,
    )
    runner = make_executor(executor, workers=workers) if isinstance(executor, str) else executor
    try:
        yield from runner.map_groups(job, source, meter_groups)
    finally:
        close = getattr(runner, "close", None)
        if isinstance(executor, str) and close is not None:
            close()


def run_job(
    job: GroupJob,
    store: ReadStore,
    meter_groups: Sequence[MeterGroup],
    *,
    start_utc: dt.datetime,
    end_utc: dt.datetime,
    executor: ExecutorName | Executor = "local",
    workers: int = 2,
    channels: Collection[str] | None = None,
) -> pl.DataFrame:
    """Run ``job`` over every group's current reads and concatenate the outputs.

    Args:
        job: The pure job (e.g. ``VeeJob``; any :class:`GroupJob`).
        store: The read store (its URI and options are what workers open).
        meter_groups: Groups (``plan_store`` or ``plan_groups``).
        start_utc: First interval start read (include the history the job needs). [UTC]
        end_utc: Interval starts before this are read. [UTC]
        executor: ``"inprocess"``, ``"local"``, ``"spark"`` or an executor instance (e.g. a
            ``SparkExecutor`` on a cluster's session; not closed here).
        workers: Processes (local) or cores (``local[N]`` Spark) for a named executor.
        channels: Only these channels (None: all).

    Returns:
        The groups' outputs in group order (``job.output_schema``).
    """
    frames = list(
        iter_job(
            job,
            store,
            meter_groups,
            start_utc=start_utc,
            end_utc=end_utc,
            executor=executor,
            workers=workers,
            channels=channels,
        )
    )
    if not frames:
        return pl.DataFrame(schema=job.output_schema)
    return pl.concat(frames, how="vertical")
