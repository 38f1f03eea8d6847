"""Simulator: generation throughput into canonical frames and into CMEP text.

Goals (issue 3): at least 20 M interval reads per second into ``PARSED_INTERVAL_READS`` frames
and at least 3 M per second into CMEP text, on the project's 2-core machine. Each figure has a
baseline measured in the same run: a straightforward per-meter Python loop over the same load
model (numpy for the meter's 96 values, then one row tuple per read, then one frame) and, for
CMEP, f-strings per triplet.

Full run: the ``metro`` scenario (1,000,000 meters) for frames, streamed chunk by chunk (a
metro day does not fit in memory as one frame), one warm-up day then a measured day on two
worker threads; ``county`` (50,000 meters) for CMEP. ``--quick``: ``county`` with 20,000
meters and ``small_town``.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from benchmarks.harness import BenchContext, Figure, peak_rss_mb, timed
from meterops.ingest.formats.cmep import write_cmep
from meterops.simulator import World, county, metro, small_town
from meterops.simulator.day import plan_day

AREA = "simulator"
WORKERS = 2


def _naive_reads(world: World, day: int, meters: int) -> tuple[pl.DataFrame, float]:
    """The baseline: one Python loop iteration per meter and one tuple per read."""
    inputs = world.inputs(day)
    plan = plan_day(inputs)
    clock = inputs.clock
    basis = plan.basis.basis
    cust = world.customers
    rng = np.random.default_rng(1)
    serials = world.reported_serial
    starts = [dt.datetime.fromtimestamp(t / 1e6, dt.UTC) for t in clock.starts_us.tolist()]
    rows: list[tuple[object, ...]] = []
    with timed() as elapsed:
        for m in range(meters):
            kw = cust.weights[m] @ basis
            noise = np.exp(cust.noise_sd[m] * rng.standard_normal(kw.size) - 0.05)
            wh = np.rint(kw * noise * 250.0)
            for t, start in enumerate(starts):
                rows.append((serials[m], "kwh_delivered", start, 900, wh[t] / 1000.0, 0, None))
            for h in range(0, len(starts) - 3, 4):
                mean = 240.0 - 0.3 * float(wh[h : h + 4].sum()) / 1000.0
                rows.append(
                    (
                        serials[m],
                        "voltage_min_v",
                        starts[h],
                        3600,
                        round(mean - abs(rng.normal()), 1),
                        0,
                        None,
                    )
                )
                rows.append(
                    (
                        serials[m],
                        "voltage_max_v",
                        starts[h],
                        3600,
                        round(mean + abs(rng.normal()), 1),
                        0,
                        None,
                    )
                )
        frame = pl.DataFrame(
            rows,
            orient="row",
            schema={
                "serial_number": pl.String,
                "channel": pl.String,
                "interval_start_utc": pl.Datetime("us", "UTC"),
                "interval_s": pl.Int32,
                "value": pl.Float64,
                "quality_flags": pl.UInt32,
                "source_quality": pl.String,
            },
        )
        seconds = elapsed()
    return frame, frame.height / seconds


def _naive_cmep(frame: pl.DataFrame, zone: ZoneInfo) -> float:
    """The baseline writer: f-strings per triplet, one line per meter and day."""
    kwh = frame.filter(pl.col("channel") == "kwh_delivered")
    with timed() as elapsed:
        lines = []
        current: str | None = None
        triplets: list[str] = []
        for serial, start, value in kwh.select(
            "serial_number", "interval_start_utc", "value"
        ).iter_rows():
            if serial != current:
                if current is not None:
                    lines.append(
                        f"MEPMD01,19970819,SIM,,,,202607020200,{current},OK,E,KWH,1,"
                        f"00000015,{len(triplets)},{','.join(triplets)}"
                    )
                current, triplets = serial, []
            stamp = (start + dt.timedelta(minutes=15)).astimezone(zone).strftime("%Y%m%d%H%M")
            triplets.append(f"{stamp},,{value}")
        text = "\n".join(lines).encode()
        seconds = elapsed()
    del text
    return kwh.height / seconds


def _stream_day(world: World, day: int) -> tuple[int, float]:
    """Interval reads of one day as chunk frames (each dropped after counting)."""
    rows = 0

    def count(frame: pl.DataFrame) -> None:
        nonlocal rows
        rows += frame.height

    with timed() as elapsed:
        for _ in world.iter_days(day, 1, workers=WORKERS, sink=count):
            pass
        seconds = elapsed()
    return rows, seconds


def run(ctx: BenchContext) -> list[Figure]:
    figures: list[Figure] = []
    scenario = county(seed=7, service_points=20_000) if ctx.quick else metro(seed=7)
    started = time.perf_counter()
    world = World(scenario, keep_days=1)
    build_s = time.perf_counter() - started
    meters = scenario.territory.service_points
    figures.append(
        Figure(
            AREA,
            f"build the {scenario.name} world ({meters:,} meters)",
            build_s,
            "s",
            note="territory, customers, mesh planning, fault schedule",
        )
    )
    _stream_day(world, 0)  # warm-up: allocator, huge pages, imports
    load_before = os.getloadavg()[0]
    cpu = time.process_time()
    rows, seconds = _stream_day(world, 1)
    cpu_seconds = time.process_time() - cpu
    _, naive_rate = _naive_reads(world, 1, ctx.scale(2_000, 500))
    rate = rows / seconds
    figures.append(
        Figure(
            AREA,
            f"interval reads into PARSED_INTERVAL_READS frames ({scenario.name}, one day)",
            rate,
            "reads/s",
            baseline=naive_rate,
            baseline_name="per-meter Python loop",
            goal=">= 20 M reads/s",
            met=rate >= 20e6,
            note=f"{rows:,} reads (kWh delivered/received, hourly voltage min/max) in "
            f"{seconds:.1f} s with registers, events, comm stats and topology of the day; "
            f"{WORKERS} threads; {rows / cpu_seconds / 1e6:,.1f} M reads per CPU-second; "
            f"load average {load_before:.1f} before the run (other jobs on the machine slow "
            f"the wall-clock figure); peak RSS {peak_rss_mb():,.0f} MB",
        )
    )
    # CMEP: generate and write a day of kWh interval reads.
    cmep_world = World(small_town(seed=7) if ctx.quick else county(seed=7), keep_days=1)
    cmep_world.day(0)
    written = 0
    size = 0

    def to_cmep(frame: pl.DataFrame) -> None:
        nonlocal written, size
        kwh = frame.filter(pl.col("channel") == "kwh_delivered")
        size += len(
            write_cmep(
                kwh,
                sender_id="SIM",
                zone=cmep_world.zone,
                created_at=dt.datetime(2026, 7, 3, tzinfo=dt.UTC),
            )
        )
        written += kwh.height

    with timed() as elapsed:
        for _ in cmep_world.iter_days(1, 1, workers=WORKERS, sink=to_cmep):
            pass
        cmep_seconds = elapsed()
    naive_frame, _ = _naive_reads(cmep_world, 1, ctx.scale(2_000, 500))
    naive_cmep = _naive_cmep(naive_frame, cmep_world.zone)
    cmep_rate = written / cmep_seconds
    figures.append(
        Figure(
            AREA,
            f"interval reads into CMEP text ({cmep_world.scenario.name}, one day)",
            cmep_rate,
            "reads/s",
            baseline=naive_cmep,
            baseline_name="f-strings per triplet",
            goal=">= 3 M reads/s",
            met=cmep_rate >= 3e6,
            note=f"{written:,} kWh reads, {size / 1e6:,.0f} MB of MEPMD01 text via "
            f"ingest.formats.cmep.write_cmep, generation included",
        )
    )
    return figures
