"""Scale-out: the same VEE job in process, over a 2-process pool and on Spark ``local[2]``.

One VEE job (:class:`meterops.vee.batch.VeeJob`, default suite, fast engine) over
N meters x D days of quarter-hour reads kept in a real read store (Delta tables, committed
through the store API: no database needed), the last day validated and the days before it as
history. Each executor reads every group's current reads from the store itself and runs the
job; reads/s counts the input rows (history included) over wall time, and every figure's
baseline is the in-process executor over the same groups, measured in the same run. The three
outputs are checked equal.

Spark: the session is started before timing (its start-up is in the note); its value is the
better of two runs (the first pays the Python workers' imports and the Numba kernel load; one
run in QUICK mode).
On 2 cores a pool and Spark cannot beat one process by much: they show the overhead of
shipping groups; the point is that the same job runs unchanged on a cluster.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import shutil

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from benchmarks.harness import BenchContext, Figure, timed
from meterops.reads.store import FileCommit, ReadStore, Table, stored_schema
from meterops.scale import InProcessExecutor, LocalExecutor, ReadWindow, plan_groups
from meterops.vee.batch import VeeJob
from meterops.vee.context import RunWindow, VeeContext
from meterops.vee.suites import default_suite

AREA = "scale"
ZONE = "America/Chicago"
FIRST_DAY = dt.date(2024, 3, 4)
START = dt.datetime(2024, 3, 4, 6, tzinfo=dt.UTC)  # local midnight (CST)
RECEIVED = START + dt.timedelta(days=30)


def _reads(meters: int, days: int, rng: np.random.Generator) -> pl.DataFrame:
    """Raw interval rows (stored schema): a daily load shape x a per-meter scale x noise.

    Every 50th meter misses an hour and three hours each day (the job estimates them).
    """
    per_meter = 96 * days
    slot = np.arange(per_meter) % 96
    hours = slot / 4.0
    shape = 0.25 + 0.2 * np.exp(-((hours - 7.5) ** 2) / 2) + 0.45 * np.exp(-((hours - 19) ** 2) / 6)
    values = np.outer(rng.lognormal(0.0, 0.5, meters), shape) * rng.gamma(
        8.0, 1 / 8.0, (meters, per_meter)
    )
    start_us = int(START.timestamp() * 1e6)
    starts = start_us + np.arange(per_meter, dtype=np.int64) * 900_000_000
    ids = np.repeat(np.arange(1, meters + 1, dtype=np.int64), per_meter)
    hole = (ids % 50 == 0) & np.isin(np.tile(slot, meters), [40, 41, 42, 43, *range(56, 68)])
    n = meters * per_meter
    frame = pl.DataFrame(
        {
            "meter_id": ids,
            "channel": pl.repeat("kwh_delivered", n, eager=True),
            "interval_start_utc": pl.Series(np.tile(starts, meters)).cast(pl.Datetime("us", "UTC")),
            "interval_s": pl.repeat(900, n, dtype=pl.Int32, eager=True),
            "value": np.round(values.ravel(), 3),
            "quality_flags": pl.repeat(0, n, dtype=pl.Int64, eager=True),
            "source_quality": pl.repeat(None, n, dtype=pl.String, eager=True),
            "source_version": pl.repeat(None, n, dtype=pl.Int64, eager=True),
            "source_file_id": pl.repeat(1, n, dtype=pl.Int64, eager=True),
            "received_at_utc": pl.repeat(RECEIVED, n, eager=True).dt.cast_time_unit("us"),
        }
    ).filter(~pl.Series(hole))
    return frame.cast(stored_schema(Table.INTERVAL_READS)).cast({"quality_flags": pl.UInt32})


def _store(ctx: BenchContext, meters: int, days: int) -> tuple[ReadStore, int]:
    folder = ctx.workdir / "reads"
    shutil.rmtree(folder, ignore_errors=True)
    store = ReadStore(str(folder))
    rows = _reads(meters, days, np.random.default_rng(5))
    store.append_rows(Table.INTERVAL_READS, rows, source_file_id=1)
    store.commit_file(
        FileCommit(1, "bench", "bench.csv", "headend_csv", RECEIVED, {"accepted": rows.height})
    )
    return store, rows.height


def _run(
    executor: object, job: VeeJob, window: ReadWindow, groups: list
) -> tuple[float, pl.DataFrame]:
    with timed() as elapsed:
        out = pl.concat(executor.map_groups(job, window, groups))  # type: ignore[attr-defined]
    return elapsed(), out


def run(ctx: BenchContext) -> list[Figure]:
    meters = ctx.scale(20_000, 1_000)
    days = ctx.scale(4, 3)
    store, reads = _store(ctx, meters, days)
    last_day = FIRST_DAY + dt.timedelta(days=days - 1)
    job = VeeJob(default_suite(), RunWindow(last_day, last_day, ZONE), VeeContext())
    window = ReadWindow(store.uri, START, START + dt.timedelta(days=days))
    target = ctx.scale(1_000_000, 50_000)
    groups = plan_groups(
        pl.DataFrame({"meter_id": range(1, meters + 1), "rows": [96 * days] * meters}),
        target_rows=target,
    )
    size = f"{meters:,} meters x {days} days = {reads:,} reads, {len(groups)} groups"

    base_s, reference = _run(InProcessExecutor(), job, window, groups)
    base_rate = reads / base_s
    local_s, local = _run(LocalExecutor(2), job, window, groups)
    assert_frame_equal(local, reference)
    figures = [
        Figure(
            AREA,
            f"VEE job, local executor (2 processes), {size}",
            reads / local_s,
            "reads/s",
            baseline=base_rate,
            baseline_name="in-process executor, same groups",
            note=f"in-process {base_s:.2f} s, pool {local_s:.2f} s (spawn + imports included); "
            "outputs equal",
        )
    ]
    if importlib.util.find_spec("pyspark") is None or shutil.which("java") is None:
        figures.append(
            Figure(
                AREA,
                "VEE job, Spark local[2]",
                float("nan"),
                "reads/s",
                note="skipped: no pyspark or java",
            )
        )
        return figures
    from meterops.scale.spark import SparkExecutor

    with SparkExecutor(master="local[2]", conf={"spark.driver.memory": "2g"}) as spark:
        with timed() as started:
            spark.session.range(1).count()
        first_s, on_spark = _run(spark, job, window, groups)
        # QUICK: one run (a smoke test); full: the better of two.
        again_s = first_s if ctx.quick else _run(spark, job, window, groups)[0]
    assert_frame_equal(on_spark, reference)
    best = min(first_s, again_s)
    figures.append(
        Figure(
            AREA,
            f"VEE job, Spark local[2] (applyInArrow over Parquet), {size}",
            reads / best,
            "reads/s",
            baseline=base_rate,
            baseline_name="in-process executor, same groups",
            note=f"session start {started():.1f} s (not counted); runs {first_s:.1f} s and "
            f"{again_s:.1f} s; outputs equal",
        )
    )
    return figures
