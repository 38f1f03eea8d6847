"""Same scenario and seed, same data: across runs, worker counts and day ranges."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import polars as pl
import pytest

from meterops.kit.frames import check_frame
from meterops.reads.schema import (
    PARSED_COMM_STATS,
    PARSED_EVENTS,
    PARSED_INTERVAL_READS,
    PARSED_REGISTER_READS,
    PARSED_TOPOLOGY,
)
from meterops.simulator import World, simulate_days, small_town, write_simulation
from meterops.simulator.engine import FRAME_NAMES

from .conftest import BUSY_RATES, BUSY_START


def _digest(days: tuple[object, ...]) -> str:
    h = hashlib.sha256()
    for day in days:
        for name in FRAME_NAMES:
            h.update(getattr(day, name).write_csv().encode())
    return h.hexdigest()


def _scenario(seed: int = 3) -> object:
    return small_town(
        seed=seed, start=BUSY_START, faults=BUSY_RATES, service_points=400, horizon_days=12
    )


def test_same_seed_gives_identical_frames_even_with_more_worker_threads() -> None:
    a = simulate_days(_scenario(), days=2)
    b = simulate_days(_scenario(), days=2, workers=2)
    assert _digest(a.days) == _digest(b.days)
    assert a.ground_truth.equals(b.ground_truth)


def test_another_seed_gives_another_utility() -> None:
    a = simulate_days(_scenario(3), days=1)
    b = simulate_days(_scenario(4), days=1)
    assert _digest(a.days) != _digest(b.days)


def test_a_day_is_the_same_whether_or_not_earlier_days_were_kept() -> None:
    full = simulate_days(_scenario(), days=3)
    later = simulate_days(_scenario(), days=1, first_day=2)
    assert _digest(full.days[2:]) == _digest(later.days)


def test_every_frame_satisfies_its_contract_without_nulls_where_forbidden(
    busy_world: World,
) -> None:
    day = busy_world.day(1)
    for frame, contract in (
        (day.interval_reads, PARSED_INTERVAL_READS),
        (day.register_reads, PARSED_REGISTER_READS),
        (day.events, PARSED_EVENTS),
        (day.comm_stats, PARSED_COMM_STATS),
        (day.topology, PARSED_TOPOLOGY),
        (day.collector_status, PARSED_TOPOLOGY),
    ):
        check_frame(frame, contract, check_nulls=True)
        assert frame.columns == contract.names
        assert frame["source_line"].to_list() == list(range(1, frame.height + 1))


@pytest.mark.parametrize(
    ("day", "intervals"),
    [(dt.date(2026, 3, 8), 92), (dt.date(2026, 11, 1), 100), (dt.date(2026, 11, 2), 96)],
)
def test_local_days_around_dst_have_92_or_100_quarter_hours(day: dt.date, intervals: int) -> None:
    world = World(small_town(seed=2, start=day, service_points=150, horizon_days=2))
    reads = world.day(0).interval_reads.filter(pl.col("channel") == "kwh_delivered")
    per_meter = reads.group_by("serial_number").len()["len"]
    assert per_meter.max() == intervals
    starts = reads["interval_start_utc"].unique().sort()
    assert starts.len() == intervals
    assert (starts.diff().drop_nulls() == dt.timedelta(minutes=15)).all()
    voltage = world.day(0).interval_reads.filter(pl.col("channel") == "voltage_max_v")
    assert voltage.group_by("serial_number").len()["len"].max() == intervals // 4


def test_written_files_are_byte_identical_for_the_same_seed(tmp_path: Path) -> None:
    def tree(out: Path) -> dict[str, str]:
        write_simulation(World(_scenario()), out, days=2, greenbutton=2)
        return {
            str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*"))
            if p.is_file()
        }

    first, second = tree(tmp_path / "a"), tree(tmp_path / "b")
    assert first == second
    assert "ground_truth/faults.jsonl" in first
    assert any(name.startswith("greenbutton/") for name in first)


def test_a_sink_receives_the_same_reads_chunk_by_chunk() -> None:
    kept = World(_scenario(), keep_days=2).day(0).interval_reads  # type: ignore[arg-type]
    parts: list[pl.DataFrame] = []
    streamed = World(_scenario(), keep_days=2)  # type: ignore[arg-type]
    day = next(streamed.iter_days(0, 1, sink=parts.append))
    assert day.interval_reads.height == 0
    assert all(p["source_line"].to_list() == list(range(1, p.height + 1)) for p in parts)
    together = pl.concat(parts).drop("source_line")
    assert together.equals(kept.drop("source_line"))
