"""A whole simulated day: chunks of reads, then registers, events, comm stats and topology.

:func:`generate_day` plans the day (``day.plan_day``), generates every chunk of service
points (optionally on worker threads; numpy and polars release the GIL for the heavy work),
and assembles the head-end's view as ``PARSED_*`` frames: interval reads (kWh delivered and
received per 15 minutes, hourly voltage minimum and maximum), daily register reads at local
midnight (total, received and the TOU registers of the meter's own program, on the meter's
dial with its digits and rollover), events, comm stats, the topology snapshot and hourly
collector status.

Pure module: standard library, numpy, polars and pure meterops modules; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from meterops.reads.schema import PARSED_INTERVAL_READS, PARSED_REGISTER_READS
from meterops.simulator.chunk import ChunkOutput, generate_chunk
from meterops.simulator.day import DayPlan, expand_pairs, plan_day
from meterops.simulator.events import generate_events
from meterops.simulator.faults import CHUNK_SITES, FaultKind
from meterops.simulator.network import collector_status, comm_stats, topology
from meterops.simulator.state import DayInputs

__all__ = ["DayOutput", "assemble_interval_reads", "generate_day"]

_US_DAY = 86_400_000_000


@dataclass(frozen=True, slots=True)
class DayOutput:
    """What the head-end holds for one local day.

    Attributes:
        day: Local date.
        start_utc: UTC start of the day.
        interval_reads: ``PARSED_INTERVAL_READS``.
        register_reads: ``PARSED_REGISTER_READS``.
        events: ``PARSED_EVENTS``.
        comm_stats: ``PARSED_COMM_STATS``.
        topology: ``PARSED_TOPOLOGY`` snapshot at the day's end.
        collector_status: ``PARSED_TOPOLOGY`` rows of collectors, hourly.
        registers_end_wh: Every meter's registers at the day's end (state for the next day).
    """

    day: dt.date
    start_utc: dt.datetime
    interval_reads: pl.DataFrame
    register_reads: pl.DataFrame
    events: pl.DataFrame
    comm_stats: pl.DataFrame
    topology: pl.DataFrame
    collector_status: pl.DataFrame
    registers_end_wh: npt.NDArray[np.int64]


def assemble_interval_reads(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Chunk frames as one ``PARSED_INTERVAL_READS`` frame (no copy of the chunks).

    Args:
        frames: Chunk frames (every contract column but ``source_line``).

    Returns:
        The contract's columns; ``source_line`` numbers the rows from 1.
    """
    frames = [f for f in frames if f.height]
    if not frames:
        return PARSED_INTERVAL_READS.empty()
    lines = np.arange(1, sum(f.height for f in frames) + 1, dtype=np.int64)
    numbered = []
    start = 0
    for f in frames:  # per block, so no column is copied into one piece
        numbered.append(f.with_columns(pl.Series("source_line", lines[start : start + f.height])))
        start += f.height
    return pl.concat(numbered, rechunk=False).select(PARSED_INTERVAL_READS.names)


def _register_reads(
    inputs: DayInputs, plan: DayPlan, chunks: list[ChunkOutput], registers: npt.NDArray[np.int64]
) -> pl.DataFrame:
    clock = inputs.clock
    meter = np.concatenate([c.register_meter[c.register_received] for c in chunks])
    regs = registers[meter]
    digits = inputs.register_digits[meter]
    decimals = inputs.register_decimals[meter]
    # The dial: truncated to its decimals, rolled over past its digits.
    unit = 10.0 ** (3 - decimals)
    dial = np.mod(np.floor(regs / unit[:, None]), (10.0 ** (digits + decimals))[:, None])
    value = dial / (10.0**decimals)[:, None]
    drift = plan.by_meter[FaultKind.CLOCK_DRIFT]
    offset = np.zeros(meter.size, dtype=np.int64)
    order = np.argsort(meter, kind="stable")
    pos, rows = expand_pairs(drift.key, meter[order])
    offset[order[pos]] = (
        np.round(drift.value[rows] * (clock.end_us - drift.start_us[rows]) / _US_DAY) * 1e6
    ).astype(np.int64)
    read_us = clock.end_us + offset
    parts: list[pl.DataFrame] = []

    def part(rows: npt.NDArray[np.int64], column: int, channel: str, period: str | None) -> None:
        parts.append(
            pl.DataFrame(
                {
                    "_meter": meter[rows].astype(np.uint32),
                    "channel": [channel] * rows.size,
                    "read_time_utc": pl.Series(read_us[rows], dtype=pl.Int64),
                    "value": value[rows, column],
                    "tou_period": pl.Series([period] * rows.size, dtype=pl.String),
                }
            )
        )

    everyone = np.arange(meter.size)
    part(everyone, 0, "kwh_delivered", None)
    part(np.flatnonzero(inputs.bidirectional[meter]), 1, "kwh_received", None)
    program = plan.program[meter]
    for index, schedule in enumerate(inputs.schedules):
        names = schedule.period_names
        if len(names) < 2:
            continue
        rows = np.flatnonzero(program == index)
        for j, name in enumerate(names):
            part(rows, 2 + j, "kwh_delivered", name)
    frame = pl.concat(parts)  # totals, then received, then TOU registers
    n = frame.height
    return frame.select(
        inputs.reported_serial.gather(frame["_meter"]).alias("serial_number"),
        "channel",
        pl.col("read_time_utc").cast(pl.Datetime("us", "UTC")),
        "value",
        "tou_period",
        pl.lit(0, dtype=pl.UInt32).alias("quality_flags"),
        pl.lit(None, dtype=pl.String).alias("source_quality"),
        pl.int_range(1, n + 1, dtype=pl.Int64).alias("source_line"),
    ).select(PARSED_REGISTER_READS.names)


def _chunks(inputs: DayInputs, plan: DayPlan, workers: int) -> Iterator[ChunkOutput]:
    """Chunk outputs in order; at most ``2 x workers`` are in flight at a time."""
    n_chunks = max(1, -(-inputs.territory.sites.count // CHUNK_SITES))
    if workers <= 1 or n_chunks == 1:
        for c in range(n_chunks):
            yield generate_chunk(inputs, plan, c)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[ChunkOutput]] = deque()
        for c in range(n_chunks):
            pending.append(pool.submit(generate_chunk, inputs, plan, c))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def generate_day(
    inputs: DayInputs, *, workers: int = 1, sink: Callable[[pl.DataFrame], None] | None = None
) -> DayOutput:
    """Generate one day.

    Args:
        inputs: The day's inputs (the world's state and the registers at the day's start).
        workers: Threads generating chunks (results do not depend on it).
        sink: Receives the interval reads chunk by chunk instead of the output keeping them
            (each a ``PARSED_INTERVAL_READS`` frame numbered from line 1); for days too large
            to hold, e.g. a million meters.

    Returns:
        The day's output (``interval_reads`` empty when a sink took them).
    """
    plan = plan_day(inputs)
    chunks: list[ChunkOutput] = []
    for chunk in _chunks(inputs, plan, workers):
        if sink is None:
            chunks.append(chunk)
            continue
        sink(assemble_interval_reads(chunk.interval_reads))
        chunks.append(dataclasses.replace(chunk, interval_reads=[]))
    registers = inputs.registers_wh.copy()
    for c in chunks:
        registers[c.register_meter] = c.register_wh
    reads = assemble_interval_reads([b for c in chunks for b in c.interval_reads])
    return DayOutput(
        day=inputs.clock.day,
        start_utc=dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        + dt.timedelta(microseconds=inputs.clock.start_us),
        interval_reads=reads,
        register_reads=_register_reads(inputs, plan, chunks, registers),
        events=generate_events(inputs, plan, chunks),
        comm_stats=comm_stats(inputs, plan, chunks),
        topology=topology(inputs, plan, chunks),
        collector_status=collector_status(inputs),
        registers_end_wh=registers,
    )
