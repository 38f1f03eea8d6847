"""Meter-data ingest of many small XML files: Green Button (ESPI) feeds and CIM files.

A Green Button feed is one customer's year (about 35,000 quarter-hour reads) and a CIM
``MeterReadings`` file a few meters' month, so what ingest does *per file* (journal rows,
meter lookup, store lookups, Delta commits) weighs as much as parsing. Figures (each against
a baseline measured in the same run):

* ESPI: reads/s from file bytes to committed Delta for many feeds in one ``ingest_files``
  call (consecutive XML files grouped into one append per table and one marker commit);
  baseline: the same feeds, one ingest call per file (each with its own two Delta commits).
* CIM: the same for many ``MeterReadings`` files.
* The work after parsing, per file (ingest CPU-seconds minus the parse-only CPU-seconds of the
  same files, divided by the files), grouped vs one call per file. [ms/file]
* Re-run of the identical ESPI feeds (ING-01: every file a ``duplicate_file``, known by its
  unchanged identity, nothing read or parsed):
  seconds against the first run's, goal ≤ 5 %.
* ESPI monthly feeds: the first two figures for 400 feeds of one customer's month (2,976 reads
  each), the other common Green Button download; per-file costs weigh most here.

Each note gives the CPU-seconds of the process (all threads), the parse-only rate of the same
files and the load average (``os.getloadavg``, as ``uptime`` prints it): the machine may be
shared, and CPU-seconds are the comparable number then.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from benchmarks.bench_ingest import DAY, OPTIONS, _reads, _World, settle
from benchmarks.harness import BenchContext, Figure, timed
from meterops.ingest.formats.registry import get_format
from meterops.ingest.service import IngestOptions, ingest_files
from meterops.models.ingest import ImportStatus

AREA = "ingest of many files"


def _options(days: int) -> tuple[IngestOptions, dt.datetime]:
    """Options and arrival time that accept every read (horizon past the first day)."""
    now = DAY + dt.timedelta(days=days, hours=1)
    return dataclasses.replace(OPTIONS, late_data_horizon_days=days + 30), now


def _write_files(
    folder: Path, frame: pl.DataFrame, per_file: int, write: Callable[[pl.DataFrame, Path], object]
) -> list[Path]:
    """One file per ``per_file`` consecutive meters of ``frame``."""
    folder.mkdir(parents=True, exist_ok=True)
    serials = frame["serial_number"].unique(maintain_order=True).to_list()
    paths = []
    for n in range(0, len(serials), per_file):
        path = folder / f"f{n // per_file:04d}.xml"
        write(frame.filter(pl.col("serial_number").is_in(serials[n : n + per_file])), path)
        paths.append(path)
    return paths


class _Call:
    """One measured ingest: wall and CPU seconds, reads, statuses."""

    def __init__(
        self, world: _World, paths: list[Path], options: IngestOptions, now: dt.datetime
    ) -> None:
        with timed() as elapsed:
            cpu = time.process_time()
            reports = ingest_files(
                world.sessions, world.store, paths, options=options, clock=lambda: now
            )
            self.cpu_s = time.process_time() - cpu
        self.wall_s = elapsed()
        for report in reports:
            report.counts.check(report.file_name)
        self.reads = sum(r.counts.rows_in_file for r in reports)
        self.statuses = {r.status for r in reports}


def _parse_cpu_s(name: str, paths: list[Path]) -> float:
    """CPU-seconds to parse the files alone (the quicker of two passes). [s]"""
    spec = get_format(name.split(maxsplit=1)[0])
    best = float("inf")
    for _ in range(2):
        cpu = time.process_time()
        for path in paths:
            spec.parse(path.read_bytes(), name=path.name)
        best = min(best, time.process_time() - cpu)
    return best


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f})"


def _compare(
    ctx: BenchContext, name: str, paths: list[Path], meters: int, days: int
) -> tuple[list[Figure], _World, _Call]:
    options, now = _options(days)
    parse_cpu = _parse_cpu_s(name, paths)
    folder = name.replace(" ", "-")
    grouped_world = _World(ctx.workdir / f"{folder}-grouped", meters)
    settle(paths)
    grouped = _Call(grouped_world, paths, options, now)
    load = _load()
    single_world = _World(ctx.workdir / f"{folder}-single", meters)
    single_wall = single_cpu = 0.0
    for path in paths:
        call = _Call(single_world, [path], options, now)
        single_wall, single_cpu = single_wall + call.wall_s, single_cpu + call.cpu_s
    assert grouped.statuses == {ImportStatus.COMMITTED}
    files, reads = len(paths), grouped.reads
    size_mb = sum(p.stat().st_size for p in paths) / 1e6
    rate = reads / grouped.wall_s
    after_ms = 1000 * (grouped.cpu_s - parse_cpu) / files
    single_after_ms = 1000 * (single_cpu - parse_cpu) / files
    figures = [
        Figure(
            AREA,
            f"{name}: {files} files ({reads:,} reads, {size_mb:,.0f} MB) in one call, "
            "bytes → committed Delta",
            rate,
            "reads/s",
            baseline=reads / single_wall,
            baseline_name="the same files, one ingest call per file",
            goal=">= 1 M reads/s",
            met=rate >= 1e6,
            note=(
                f"wall {grouped.wall_s:.1f} s, CPU {grouped.cpu_s:.1f} s "
                f"({reads / grouped.cpu_s:,.0f} reads per CPU-second); one call per file: wall "
                f"{single_wall:.1f} s, CPU {single_cpu:.1f} s; parse alone {parse_cpu:.1f} CPU-s "
                f"({reads / parse_cpu:,.0f} reads/s); {load}"
            ),
        ),
        Figure(
            AREA,
            f"{name}: work after parsing, per file ({reads // files:,} reads each)",
            after_ms,
            "CPU-ms/file",
            baseline=single_after_ms,
            baseline_name="one ingest call per file",
            note="ingest CPU-seconds minus the parse-only CPU-seconds of the same files",
        ),
    ]
    return figures, grouped_world, grouped


def run(ctx: BenchContext) -> list[Figure]:
    feeds, days = ctx.scale(100, 10), ctx.scale(365, 30)
    espi_frame = _reads(feeds, days, np.random.default_rng(13))
    espi_write = get_format("espi").writers["interval_reads"]
    espi_paths = _write_files(
        ctx.workdir / "espi", espi_frame, 1, lambda frame, path: espi_write(frame, path=path)
    )
    del espi_frame
    figures, world, first = _compare(ctx, "espi", espi_paths, feeds, days)
    options, now = _options(days)
    again = _Call(world, espi_paths, options, now)
    assert again.statuses == {ImportStatus.DUPLICATE_FILE}
    share = again.wall_s / first.wall_s
    figures.append(
        Figure(
            AREA,
            f"re-run of the {len(espi_paths)} identical ESPI feeds (ING-01)",
            again.wall_s,
            "s",
            baseline=first.wall_s,
            baseline_name="first run",
            goal="<= 5 % of the first run",
            met=share <= 0.05,
            note=(
                f"{100 * share:.1f} % of the first run; CPU {again.cpu_s:.2f} s; the files' "
                f"identities unchanged: known from the journal, none read or parsed; {_load()}"
            ),
        )
    )
    cim_files, per_file, cim_days = ctx.scale(60, 10), ctx.scale(20, 5), ctx.scale(30, 7)
    cim_frame = _reads(cim_files * per_file, cim_days, np.random.default_rng(17))
    cim_write = get_format("cim").writers["meter_readings"]
    cim_paths = _write_files(
        ctx.workdir / "cim", cim_frame, per_file, lambda frame, path: cim_write(frame, path=path)
    )
    del cim_frame
    cim_figures, _, _ = _compare(ctx, "cim", cim_paths, cim_files * per_file, cim_days)
    return figures + cim_figures + _monthly(ctx)


def _monthly(ctx: BenchContext) -> list[Figure]:
    """Green Button feeds of one customer's month (a utility's download shape)."""
    feeds, days = ctx.scale(400, 20), 31
    frame = _reads(feeds, days, np.random.default_rng(19))
    write = get_format("espi").writers["interval_reads"]
    paths = _write_files(
        ctx.workdir / "espi-month", frame, 1, lambda frame, path: write(frame, path=path)
    )
    del frame
    figures, _, _ = _compare(ctx, "espi monthly feeds", paths, feeds, days)
    return figures
