"""Billing determinants streamed from the Delta read store, against a Polars group_by baseline.

Figures (each against a baseline measured in the same run, on the same store):

* reads/s and seconds for the determinants (TOU energy per period, block demand with its time,
  delivered/received/net) of 100,000 meters x 30 days of 15-minute reads (288 M delivered
  reads plus received reads of net-metered meters; QUICK: 5,000 meters in groups of 2,500)
  streamed from the read store's Delta table (``determinants.runner.stream_from_store``:
  meter-id batches of about 20 M stored rows cut from the Delta log's statistics, QUICK 4 M;
  one-day queries of the determinant columns from one store snapshot (``ReadStore.snapshot``:
  the Delta logs read once), the next one read in a thread while the kernel places the
  current one). The store is built once and cached under ``var/bench/determinants/``.
  Goal: at most 30 s for the full size. The previous path (``stream_determinants``: groups
  of 10,000 meters over two worker processes) is timed too and must give the same results;
  the note gives both times with their CPU seconds, peak memory and the load average.
  Baseline: per 2,500 meters, the same one-day store queries concatenated into the month, then a
  straightforward Polars implementation: the TOU period as a ``when/then`` chain over local
  hour, weekday, holiday and season (once per distinct stamp, joined back), ``group_by`` sums
  per meter and period, block demand as a ``group_by`` on 15-minute windows and the maximum per
  meter. The note splits the baseline into store time and Polars time.
* compute only: the engine (``compute_determinants``, one process) against the same Polars
  code on the first 2,500 meters' month in memory.

The two implementations must agree (energy per meter and period to 1e-9 relative, demand and
its window start exactly); the benchmark fails otherwise.

The month (local 2026-09-05 to 2026-10-05, America/Chicago) crosses Labor Day (a holiday of
the tariff) and the summer-to-winter season boundary; 60 % of the meters are on the
residential TOU tariff of the simulator's catalog, the rest on one flat period; 10 % are
net-metered with a received channel.
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import shutil
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from benchmarks.harness import BenchContext, Figure, peak_rss_mb, timed
from meterops.assets.programs import TouSchedule, parse_tou_schedule
from meterops.determinants.engine import DeterminantParams, Determinants, compute_determinants
from meterops.determinants.frames import BILLING_PERIODS
from meterops.determinants.runner import (
    DEFAULT_BATCH_ROWS,
    StreamParams,
    stream_determinants,
    stream_from_store,
)
from meterops.reads._lake import RAW_INTERVAL_READS
from meterops.reads.store import FileCommit, ReadStore, Table
from meterops.simulator.catalog import PROGRAMS

AREA = "determinants"
ZONE = "America/Chicago"
FIRST = dt.datetime(2026, 9, 5, tzinfo=ZoneInfo(ZONE)).astimezone(dt.UTC)
DAYS = 30
TOU_KEY = "RTOU-TARIFF"
WORKERS = 2


def _cpu_seconds() -> float:
    """CPU seconds of this process and its waited-for children (user + system)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _tariff() -> TouSchedule:
    doc = next(p for p in PROGRAMS if p["program_code"] == TOU_KEY)
    return parse_tou_schedule(doc["tou_schedule"], label=TOU_KEY)


def _day_frame(meters: int, day: int, rng: np.random.Generator, file_id: int) -> pl.DataFrame:
    """One day of delivered (all meters) and received (every 10th meter) quarter-hours."""
    start_us = int(FIRST.timestamp() * 1e6) + day * 86_400_000_000
    starts = start_us + np.arange(96, dtype=np.int64) * 900_000_000
    hours = np.arange(96) / 4.0
    shape = 0.25 + 0.2 * np.exp(-((hours - 7.5) ** 2) / 2) + 0.45 * np.exp(-((hours - 19) ** 2) / 6)
    scale = rng.lognormal(0.0, 0.5, meters)
    delivered = np.round(np.outer(scale, shape) * rng.gamma(8.0, 1 / 8.0, (meters, 96)), 3)
    solar = np.arange(0, meters, 10)
    sun = np.clip(np.sin((hours - 6) / 13 * np.pi), 0, None)
    received = np.round(np.outer(rng.uniform(0.5, 1.5, solar.size), sun), 3)
    ids = np.concatenate([np.repeat(np.arange(1, meters + 1), 96), np.repeat(solar + 1, 96)])
    n = ids.size
    frame = pl.DataFrame(
        {
            "meter_id": ids.astype(np.int64),
            "channel": pl.Series(["kwh_delivered", "kwh_received"]).gather(
                np.repeat([0, 1], [meters * 96, solar.size * 96])
            ),
            "interval_start_utc": pl.Series(
                np.concatenate([np.tile(starts, meters), np.tile(starts, solar.size)])
            ).cast(pl.Datetime("us", "UTC")),
            "interval_s": np.full(n, 900, dtype=np.int32),
            "value": np.concatenate([delivered.ravel(), received.ravel()]),
            "quality_flags": np.zeros(n, dtype=np.uint32),
            "source_quality": pl.repeat(None, n, dtype=pl.String, eager=True),
            "source_version": np.zeros(n, dtype=np.int64),
            "source_file_id": np.full(n, file_id, dtype=np.int64),
            "received_at_utc": pl.repeat(FIRST + dt.timedelta(days=day + 1), n, eager=True),
        },
        schema=RAW_INTERVAL_READS,
    )
    return frame.sort("meter_id", "channel", "interval_start_utc")


_BUILDER = 1
"""Bump when the way the cached store is built changes."""


def _cached_store(meters: int) -> tuple[ReadStore, int, bool]:
    """The benchmark's read store, built once and cached under ``var/bench/determinants/``.

    The harness's workdir is deleted after each run; building the full store (316.8 M rows
    in 60 Delta commits) takes minutes, so it is kept between runs, keyed by size and
    builder version.

    Returns:
        The store, its row count and whether it was built in this run.
    """
    cache = Path(__file__).resolve().parents[1] / "var" / "bench" / AREA
    folder = cache / f"reads-m{meters}-d{DAYS}-b{_BUILDER}"
    done = folder / "rows"
    if done.exists():
        return ReadStore(str(folder / "reads")), int(done.read_text()), False
    building = cache / f"{folder.name}.building"
    shutil.rmtree(building, ignore_errors=True)
    _, total = _build_store(building / "reads", meters)
    (building / "rows").write_text(str(total))
    shutil.rmtree(folder, ignore_errors=True)
    building.rename(folder)
    return ReadStore(str(folder / "reads")), total, True


def _build_store(folder: Path, meters: int) -> tuple[ReadStore, int]:
    shutil.rmtree(folder, ignore_errors=True)
    store = ReadStore(str(folder))
    rng = np.random.default_rng(4)
    total = 0
    for day in range(DAYS):
        frame = _day_frame(meters, day, rng, day + 1)
        total += frame.height
        store.append_rows(Table.INTERVAL_READS, frame, source_file_id=day + 1)
        store.commit_file(
            FileCommit(
                day + 1,
                f"hash{day}",
                f"day{day}.csv",
                "headend_csv",
                FIRST + dt.timedelta(days=day + 1),
                {"rows_in_file": frame.height, "accepted": frame.height},
            ),
        )
    return store, total


def _periods(meters: int) -> pl.DataFrame:
    ids = np.arange(1, meters + 1)
    end = FIRST + dt.timedelta(days=DAYS)
    return pl.DataFrame(
        {
            "meter_id": ids,
            "account_id": ids + 1_000_000,
            "period_start_utc": pl.repeat(FIRST, meters, eager=True),
            "period_end_utc": pl.repeat(end, meters, eager=True),
            "schedule_key": np.where(ids % 10 < 6, TOU_KEY, None),
            "multiplier": np.ones(meters),
            "net_metering": ids % 10 == 1,
        },
        schema=BILLING_PERIODS.schema,
    )


# --------------------------------------------------------------------------------------------
# Baseline: straightforward Polars


def _tou_expr(schedule: TouSchedule) -> pl.Expr:
    """TOU period of a local wall time column ``local`` as a when/then chain."""
    local = pl.col("local")
    minute = local.dt.hour().cast(pl.Int32) * 60 + local.dt.minute().cast(pl.Int32)
    month_day = local.dt.month().cast(pl.Int32) * 100 + local.dt.day().cast(pl.Int32)
    holidays = pl.Series(sorted(schedule.extra_holidays), dtype=pl.Date)
    day_type = (
        pl.when(local.dt.date().is_in(holidays.implode()))
        .then(pl.lit("holiday"))
        .when(local.dt.weekday() >= 6)
        .then(pl.lit("weekend"))
        .otherwise(pl.lit("weekday"))
    )
    expr: pl.Expr = pl.lit(None, pl.String)
    for season in schedule.seasons:
        lo, hi = season.start[0] * 100 + season.start[1], season.end[0] * 100 + season.end[1]
        in_season = (
            month_day.is_between(lo, hi) if lo <= hi else (month_day >= lo) | (month_day <= hi)
        )
        for kind, switches in schedule.periods[season.name].items():
            for k, (start, name) in enumerate(switches):
                first = start.hour * 60 + start.minute
                last = (
                    switches[k + 1][0].hour * 60 + switches[k + 1][0].minute
                    if k + 1 < len(switches)
                    else 1440
                )
                cond = in_season & (day_type == kind) & minute.is_between(first, last - 1)
                expr = pl.when(cond).then(pl.lit(name)).otherwise(expr)
    return expr


_READ_COLUMNS = (
    "meter_id",
    "channel",
    "interval_start_utc",
    "interval_s",
    "value",
    "quality_flags",
)
BASELINE_CHUNK = 2_500
"""Meters per baseline step (its month of reads in memory: about 8 M rows)."""


def _group_reads(store: ReadStore, periods: pl.DataFrame) -> tuple[pl.DataFrame, float]:
    """A group's month of current reads, asked one day at a time (as the runner does)."""
    ids = periods["meter_id"].to_list()
    parts = []
    with timed() as elapsed:
        for day in range(DAYS):
            low = FIRST + dt.timedelta(days=day)
            parts.append(
                store.current_interval_reads(
                    start_utc=low,
                    end_utc=low + dt.timedelta(days=1),
                    meter_ids=ids,
                    channels=("kwh_delivered", "kwh_received"),
                ).select(_READ_COLUMNS)
            )
        reads = pl.concat(parts)
        del parts
    return reads, elapsed()


def _baseline_compute(
    reads: pl.DataFrame, periods: pl.DataFrame, schedule: TouSchedule
) -> tuple[pl.DataFrame, pl.DataFrame]:
    stamps = (
        reads.select(pl.col("interval_start_utc").unique())
        .with_columns(local=pl.col("interval_start_utc").dt.convert_time_zone(ZONE))
        .with_columns(tou=_tou_expr(schedule))
        .drop("local")
    )
    keyed = (
        reads.join(periods.select("meter_id", "schedule_key"), on="meter_id")
        .join(stamps, on="interval_start_utc")
        .with_columns(
            tou_period=pl.when(pl.col("schedule_key").is_null())
            .then(pl.lit("total"))
            .otherwise(pl.col("tou"))
        )
    )
    energy = keyed.group_by("meter_id", "tou_period").agg(
        pl.col("value").filter(pl.col("channel") == "kwh_delivered").sum().alias("delivered_kwh"),
        pl.col("value").filter(pl.col("channel") == "kwh_received").sum().alias("received_kwh"),
    )
    demand = (
        keyed.filter(pl.col("channel") == "kwh_delivered")
        .group_by("meter_id", pl.col("interval_start_utc").dt.truncate("15m").alias("window"))
        .agg(pl.col("value").sum().alias("kwh"))
        .sort("meter_id", "window")
        .group_by("meter_id")
        .agg(
            (pl.col("kwh").max() * 4).alias("block_demand_kw"),
            pl.col("window").get(pl.col("kwh").arg_max()).alias("block_demand_start_utc"),
        )
    )
    return energy, demand


def _check_equal(fast: Determinants, energy: pl.DataFrame, demand: pl.DataFrame) -> None:
    mine = fast.by_tou.select("meter_id", "tou_period", "delivered_kwh", "received_kwh")
    joined = mine.join(energy, on=["meter_id", "tou_period"], how="full", coalesce=True)
    joined = joined.fill_null(0.0)
    for column in ("delivered_kwh", "received_kwh"):
        err = (joined[column] - joined[f"{column}_right"]).abs() / joined[column].abs().clip(1e-9)
        if float(err.max() or 0.0) > 1e-9:
            msg = f"determinants and baseline disagree on {column}: max rel. error {err.max()}"
            raise AssertionError(msg)
    d = fast.by_period.select("meter_id", "block_demand_kw", "block_demand_start_utc").join(
        demand, on="meter_id", suffix="_b"
    )
    if d.height != fast.by_period.height:
        raise AssertionError("baseline lacks demand rows")
    rel = (d["block_demand_kw"] - d["block_demand_kw_b"]).abs() / d["block_demand_kw"].clip(1e-9)
    if (
        float(rel.max() or 0.0) > 1e-9
        or not (d["block_demand_start_utc"] == d["block_demand_start_utc_b"]).all()
    ):
        raise AssertionError("determinants and baseline disagree on block demand or its time")


def run(ctx: BenchContext) -> list[Figure]:
    """Determinants streamed from Delta vs a Polars group_by baseline."""
    meters = ctx.scale(100_000, 5_000)
    group_size = ctx.scale(10_000, 2_500)
    with timed() as build_s:
        store, reads, built = _cached_store(meters)
    periods = _periods(meters)
    schedule = _tariff()
    params = DeterminantParams(zone=ZONE, demand_window_min=15, demand_subinterval_min=None)
    delivered = meters * DAYS * 96

    # warm the compiled kernels (numba cache) outside the timing
    stream_from_store(store, periods.head(10), schedules={TOU_KEY: schedule}, params=params)
    batch_rows = ctx.scale(DEFAULT_BATCH_ROWS, 4_000_000)
    load_before = os.getloadavg()[0]
    cpu_before = _cpu_seconds()
    with timed() as fast_s:
        fast = stream_from_store(
            store, periods, schedules={TOU_KEY: schedule}, params=params, rows_per_batch=batch_rows
        )
    seconds = fast_s()
    fast_cpu = _cpu_seconds() - cpu_before
    fast_peak = peak_rss_mb()  # the process's peak so far: the streamed run (or the build)
    load = (load_before + os.getloadavg()[0]) / 2
    print(f"  streamed {reads:,} reads in {seconds:.1f} s ({fast_cpu:.1f} s CPU)", flush=True)

    # the previous path: meter groups over worker processes, one-day queries per group
    cpu_before = _cpu_seconds()
    with timed() as pooled_s:
        pooled = stream_determinants(
            partial(ReadStore, store.uri),
            periods,
            schedules={TOU_KEY: schedule},
            params=params,
            stream=StreamParams(group_size=group_size, window_hours=24, workers=WORKERS),
        )
    pooled_seconds, pooled_cpu = pooled_s(), _cpu_seconds() - cpu_before
    if not (
        pooled.by_period.equals(fast.by_period) and pooled.by_tou.equals(fast.by_tou)
    ):  # the two streaming paths must agree exactly
        raise AssertionError("stream_from_store and stream_determinants disagree")
    print(f"  worker-process path {pooled_seconds:.1f} s ({pooled_cpu:.1f} s CPU)", flush=True)

    energies, demands = [], []
    store_seconds = compute_seconds = 0.0
    for first in range(0, meters, BASELINE_CHUNK):
        group = periods.slice(first, BASELINE_CHUNK)
        reads_g, asked = _group_reads(store, group)
        store_seconds += asked
        with timed() as compute:
            e, d = _baseline_compute(reads_g, group, schedule)
        compute_seconds += compute()
        energies.append(e)
        demands.append(d)
        if first == 0:  # compute only, in memory: the engine against the same Polars code
            with timed() as engine_s:
                compute_determinants(reads_g, group, schedules={TOU_KEY: schedule}, params=params)
            one_group = (reads_g.height, engine_s(), compute_seconds)
        del reads_g
    base_seconds = store_seconds + compute_seconds
    _check_equal(fast, pl.concat(energies), pl.concat(demands))

    note = (
        f"{meters:,} meters x {DAYS} days = {delivered / 1e6:.1f} M delivered + "
        f"{(reads - delivered) / 1e6:.1f} M received reads in Delta; stream_from_store: "
        f"batches of ~{batch_rows / 1e6:.0f} M stored rows by meter-id range, one-day "
        f"queries of one store snapshot read ahead in a thread, {fast_cpu:.1f} s CPU, peak "
        f"RSS {fast_peak:.0f} MB{' (store built in this run)' if built else ''}, load "
        f"average {load:.1f}; "
        f"previous path (groups of {group_size:,} meters over {WORKERS} worker processes): "
        f"{pooled_seconds:.1f} s, {pooled_cpu:.1f} s CPU, same results; results equal "
        f"(1e-9); store {'built in' if built else 'cached, opened in'} {build_s():.0f} s"
    )
    base_note = (
        f"baseline: {store_seconds:.1f} s in one-day store queries (the same queries the "
        f"runner makes) + {compute_seconds:.1f} s Polars group_by"
    )
    group_reads, engine_seconds, polars_seconds = one_group
    return [
        Figure(
            AREA,
            f"TOU energy + block demand + net, {meters:,} meters x {DAYS} days from Delta",
            reads / seconds,
            "reads/s",
            baseline=reads / base_seconds,
            baseline_name="store queries + Polars group_by per 2,500 meters",
            note=f"{note}; {base_note}",
        ),
        Figure(
            AREA,
            f"compute only, 2,500 meters' month in memory ({group_reads / 1e6:.1f} M reads)",
            group_reads / engine_seconds,
            "reads/s",
            baseline=group_reads / polars_seconds,
            baseline_name="Polars group_by (TOU per distinct stamp, joins, sums, 15-min windows)",
            note="engine.compute_determinants (1 process) on the first 2,500 meters' month",
        ),
        Figure(
            AREA,
            f"wall time, {meters:,} meters x {DAYS} days from Delta",
            seconds,
            "s",
            baseline=base_seconds,
            baseline_name="store queries + Polars group_by per 2,500 meters",
            goal="<= 30 s for 100,000 meters" if not ctx.quick else None,
            met=seconds <= 30 if not ctx.quick else None,
            note=note,
        ),
    ]
