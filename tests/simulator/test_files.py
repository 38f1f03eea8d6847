"""The written files are what a utility would have, and the real parsers read them back."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from meterops.fleet.parse import parse_fleet_csv
from meterops.fleet.programs import parse_programs_yaml
from meterops.ingest.formats.cim import read_cim
from meterops.ingest.formats.cmep import read_cmep
from meterops.ingest.formats.espi import read_espi
from meterops.ingest.formats.headend_csv import read_headend_csv
from meterops.simulator import World, small_town, write_simulation
from meterops.simulator.fleetfiles import FLEET_FILE_ORDER

from .conftest import BUSY_RATES, BUSY_START


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Path]:
    out = tmp_path_factory.mktemp("sim")
    world = World(
        small_town(
            seed=13, start=BUSY_START, faults=BUSY_RATES, service_points=500, horizon_days=12
        ),
        keep_days=3,
    )
    write_simulation(world, out, days=2, greenbutton=3)
    return world, out


def _keyed(frame: pl.DataFrame, time: str) -> pl.DataFrame:
    return frame.select("serial_number", "channel", time, "value").sort(
        "serial_number", "channel", time
    )


def test_the_output_has_the_documented_layout(written: tuple[World, Path]) -> None:
    _, out = written
    day = out / "headend" / BUSY_START.isoformat()
    assert sorted(p.name for p in day.iterdir()) == sorted(
        [
            "intervals.cmep",
            "registers.cmep",
            "intervals_other.csv",
            "registers_other.csv",
            "events.xml",
            "comm_stats.csv",
            "topology.csv",
            "collector_status.csv",
        ]
    )
    assert sorted(p.stem for p in (out / "fleet").glob("*.csv")) == sorted(
        [*FLEET_FILE_ORDER, "meter_exchanges"]  # the installation history, header only here
    )
    assert (out / "fleet" / "programs.yaml").is_file()
    assert len(list((out / "greenbutton").glob("*.xml"))) == 3
    meta = json.loads((out / "simulation.json").read_text())
    assert meta["seed"] == 13
    assert meta["days"] == 2


def test_cmep_files_parse_back_to_the_simulated_reads(written: tuple[World, Path]) -> None:
    world, out = written
    day = world.day(0)
    folder = out / "headend" / BUSY_START.isoformat()
    intervals = read_cmep(folder / "intervals.cmep", strict=True, zone=world.zone)
    expected = day.interval_reads.filter(pl.col("channel") == "kwh_delivered")
    assert _keyed(intervals.interval_reads, "interval_start_utc").equals(
        _keyed(expected, "interval_start_utc")
    )
    registers = read_cmep(folder / "registers.cmep", strict=True, zone=world.zone)
    total = day.register_reads.filter(
        (pl.col("channel") == "kwh_delivered") & pl.col("tou_period").is_null()
    )
    # CMEP stamps have whole minutes; a drifting meter's read lands between them.
    minute = pl.col("read_time_utc").dt.truncate("1m")
    assert _keyed(registers.register_reads, "read_time_utc").equals(
        _keyed(total.with_columns(minute), "read_time_utc")
    )


def test_head_end_csvs_parse_back_to_the_same_frames(written: tuple[World, Path]) -> None:
    world, out = written
    day = world.day(0)
    folder = out / "headend" / BUSY_START.isoformat()
    other = read_headend_csv(folder / "intervals_other.csv", strict=True).interval_reads
    expected = day.interval_reads.filter(pl.col("channel") != "kwh_delivered")
    assert _keyed(other, "interval_start_utc").equals(_keyed(expected, "interval_start_utc"))
    stats = read_headend_csv(folder / "comm_stats.csv", strict=True).comm_stats
    assert stats.drop("source_line").equals(day.comm_stats.drop("source_line"))
    topology = read_headend_csv(folder / "topology.csv", strict=True).topology
    assert topology.drop("source_line").equals(day.topology.drop("source_line"))
    tou = read_headend_csv(folder / "registers_other.csv", strict=True).register_reads
    assert set(tou["tou_period"].drop_nulls().unique()) == {"on_peak", "mid_peak", "off_peak"}


def test_cim_events_parse_back_with_their_codes(written: tuple[World, Path]) -> None:
    world, out = written
    events = read_cim(out / "headend" / BUSY_START.isoformat() / "events.xml", strict=True).events
    expected = world.day(0).events
    assert events.height == expected.height
    assert sorted(events["cim_event_type"].to_list()) == sorted(
        expected["cim_event_type"].to_list()
    )


def test_green_button_feeds_hold_each_customers_days(written: tuple[World, Path]) -> None:
    world, out = written
    for path in (out / "greenbutton").glob("*.xml"):
        feed = read_espi(path, strict=True).interval_reads
        serial = path.stem
        expected = pl.concat([world.day(d).interval_reads for d in range(2)]).filter(
            (pl.col("serial_number") == serial)
            & pl.col("channel").is_in(["kwh_delivered", "kwh_received"])
        )
        assert feed.height == expected.height
        assert feed["value"].sum() == pytest.approx(expected["value"].sum(), abs=1e-6)


def test_fleet_files_pass_the_fleet_import_parser_without_issues(
    written: tuple[World, Path],
) -> None:
    _, out = written
    for kind in FLEET_FILE_ORDER:
        path = out / "fleet" / f"{kind}.csv"
        parsed = parse_fleet_csv(path.read_bytes(), file=path.name)
        assert parsed.issues == [], [str(i) for i in parsed.issues[:5]]
        assert parsed.rows == parsed.frame.height > 0
    programs, issues = parse_programs_yaml(
        (out / "fleet" / "programs.yaml").read_text(), file="programs.yaml"
    )
    assert issues == []
    codes = {p.program_code: p for p in programs}
    right, wrong = codes["RES-TOU-2024"], codes["RES-TOU-2024B"]
    assert right.tariff_code == wrong.tariff_code == "RTOU"
    assert (
        right.schedule.periods["summer"]["weekend"] == wrong.schedule.periods["summer"]["weekend"]
    )
    assert (
        right.schedule.periods["summer"]["weekday"] != wrong.schedule.periods["summer"]["weekday"]
    )


def test_the_fleet_has_medical_critical_and_net_metering_accounts_and_skilled_technicians(
    written: tuple[World, Path],
) -> None:
    _, out = written
    accounts = pl.read_csv(out / "fleet" / "accounts.csv")
    assert accounts["net_metering"].sum() > 0
    assert accounts["critical_facility"].sum() + accounts["medical_life_support"].sum() > 0
    technicians = pl.read_csv(out / "fleet" / "technicians.csv")
    skills = {s for row in technicians["skills"].to_list() for s in row.split(";")}
    assert {"residential", "ct_rated", "meter_shop"} <= skills


def test_the_ground_truth_lives_apart_as_json_lines(written: tuple[World, Path]) -> None:
    _, out = written
    lines = (out / "ground_truth" / "faults.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert {
        "fault_id",
        "kind",
        "meter_serial",
        "service_point_number",
        "collector_code",
        "transformer_code",
        "feeder_code",
        "start_utc",
        "end_utc",
        "parameters",
    } <= set(records[0])
    assert len({r["kind"] for r in records}) >= 10
    headend = "".join(p.read_text(errors="ignore") for p in (out / "headend").rglob("*.csv"))
    assert "theft_bypass" not in headend
