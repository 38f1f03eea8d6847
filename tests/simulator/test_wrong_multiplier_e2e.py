"""End to end: a wrong multiplier recorded at a simulated CT-rated exchange is found; a genuine
exchange at a site whose use really changes is not called a wrong multiplier.

Simulator → fleet files (with ``meter_exchanges.csv``) → ``fleet import`` → head-end files →
``ingest`` → diagnostics inputs from the database and read store, with the exchanges from the
installation history → detectors and verdicts. The ground truth is only read to score. Each
test has a fresh database of its own (PostgreSQL too when configured): the two towns share
service-point numbers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.diagnostics import service as diagnostics_service
from meterops.diagnostics.engine import detect_exceptions
from meterops.diagnostics.facts import meter_facts
from meterops.diagnostics.kinds import ActionKind, Cause, ExceptionKind
from meterops.diagnostics.params import DetectParams
from meterops.diagnostics.rules import diagnose
from meterops.fleet import service as fleet_service
from meterops.fleet.parse import parse_fleet_csv
from meterops.fleet.programs import parse_programs_file
from meterops.fleet.repository import FleetRepository
from meterops.fleet.spec import HISTORY_KINDS, IMPORT_ORDER
from meterops.ingest.service import IngestOptions, ingest_files
from meterops.reads.store import ReadStore
from meterops.simulator import FaultRates, World, small_town, write_simulation
from meterops.simulator.exchanges import (
    EXCHANGE_FAULT_DETAIL,
    exchange_ct_sites,
    exchange_rows,
)
from tests.conftest import fresh_database
from tests.simulator.conftest import NO_FAULTS

ZONE = "America/Chicago"
START = dt.date(2026, 7, 6)
DAYS = 28


@dataclasses.dataclass
class Judged:
    world: World
    exchanges: pl.DataFrame
    verdicts: pl.DataFrame
    serial_of: dict[int, str]


def _judge(
    folder: Path,
    database_url: str,
    rates: FaultRates,
    seed: int,
    prepare: Callable[[World], object] | None = None,
) -> Judged:
    files = folder / "files"
    world = World(
        small_town(seed=seed, start=START, faults=rates, service_points=400, horizon_days=DAYS),
        keep_days=1,
    )
    if prepare is not None:
        prepare(world)
    write_simulation(world, files, days=DAYS, events_format="csv", greenbutton=0)
    as_of = dt.datetime.combine(START + dt.timedelta(days=DAYS), dt.time(11), tzinfo=dt.UTC)
    arrived = as_of - dt.timedelta(hours=1)
    sessions = make_session_factory(make_engine(database_url))
    for kind in (*IMPORT_ORDER, *HISTORY_KINDS):
        name = "programs.yaml" if kind == "meter_programs" else f"{kind}.csv"
        data = (files / "fleet" / name).read_bytes()
        with session_scope(sessions) as session:
            if kind == "meter_programs":
                fleet_service.import_programs(
                    session, parse_programs_file(data, file=name), actor="t", now=arrived
                )
            else:
                fleet_service.import_file(
                    session,
                    parse_fleet_csv(data, file=name),
                    actor="t",
                    default_timezone=ZONE,
                    now=arrived,
                )
    store = ReadStore(str(folder / "reads"))
    ingest_files(
        sessions,
        store,
        sorted(p for p in (files / "headend").rglob("*") if p.is_file()),
        options=IngestOptions(zone=ZoneInfo(ZONE), actor="t"),
        clock=lambda: arrived,
    )
    params = DetectParams()
    with session_scope(sessions) as session:
        inputs, _ = diagnostics_service.load_inputs(
            session, store, as_of_utc=as_of, zone=ZONE, lookback_days=DAYS
        )
        exchanges = FleetRepository(session).meter_exchanges(
            start_utc=inputs.window_start_utc, end_utc=as_of
        )
    inputs = dataclasses.replace(inputs, exchanges=exchanges)
    found = detect_exceptions(inputs, params=params)
    verdicts = diagnose(found, meter_facts(inputs, found, params=params))
    serial_of = dict(inputs.meters.select("meter_id", "serial_number").iter_rows())
    return Judged(world, exchanges, verdicts, serial_of)


def test_a_wrong_multiplier_recorded_at_an_exchange_is_found(tmp_path: Path) -> None:
    rates = dataclasses.replace(NO_FAULTS, exchange_wrong_multiplier_per_ct_site_year=6.0)
    with fresh_database(tmp_path / "db") as url:
        judged = _judge(tmp_path, url, rates, seed=5)
    truth = judged.world.ground_truth().filter(pl.col("kind") == "wrong_multiplier")
    faulty = {
        serial
        for serial, parameters in truth.select("meter_serial", "parameters").iter_rows()
        if json.loads(parameters).get("recorded_at") == EXCHANGE_FAULT_DETAIL
    }
    assert faulty, "the scenario must hold the fault"
    assert set(judged.exchanges["installed_serial"]) == faulty  # the import stored them
    mine = judged.verdicts.filter(pl.col("kind") == ExceptionKind.WRONG_MULTIPLIER.value)
    assert {judged.serial_of[m] for m in mine["meter_id"]} == faulty
    assert set(mine["cause"]) == {Cause.WRONG_MULTIPLIER.value}
    assert set(mine["action"]) == {ActionKind.BACK_OFFICE.value}
    evidence = json.loads(mine["verdict_evidence"][0])["detector"]
    assert evidence["message"].startswith("Billed daily use ")
    assert abs(evidence["billed_ratio"] / evidence["multiplier_ratio"] - 1.0) < 0.2


def test_a_genuine_exchange_where_the_use_changes_is_not_a_wrong_multiplier(
    tmp_path: Path,
) -> None:
    rates = dataclasses.replace(NO_FAULTS, exchange_genuine_per_ct_site_year=6.0)
    with fresh_database(tmp_path / "db") as url:
        judged = _judge(tmp_path, url, rates, seed=5)
    last = START + dt.timedelta(days=DAYS - 1)
    genuine = exchange_rows(judged.world, as_of=last)
    assert genuine.height >= 1, "the scenario must hold the look-alike"
    truth = judged.world.ground_truth()
    assert truth.filter(pl.col("kind") == "wrong_multiplier").is_empty()
    vacated = set(
        truth.filter(pl.col("kind") == "vacant_premise")["service_point_number"].to_list()
    )
    assert set(genuine["service_point_number"]) <= vacated  # the use really changes there
    assert judged.exchanges.height == genuine.height
    causes = set(judged.verdicts["cause"])
    assert Cause.WRONG_MULTIPLIER.value not in causes
    assert ExceptionKind.WRONG_MULTIPLIER.value not in set(judged.verdicts["kind"])


def test_exchanges_placed_in_the_window_are_judged_and_the_look_alike_is_not(
    tmp_path: Path,
) -> None:
    # the run at 06:00 after day 28 reads 21 days: complete days 8-27; days 13-15 leave a
    # week of complete days on each side
    placed: list[str] = []

    def prepare(world: World) -> None:
        placed.extend(exchange_ct_sites(world, wrong=2, genuine=1, first_day=13, last_day=15))

    with fresh_database(tmp_path / "db") as url:
        judged = _judge(tmp_path, url, NO_FAULTS, seed=9, prepare=prepare)
    assert len(placed) == 3, "the town must have three clean CT-rated sites and spares"
    truth = judged.world.ground_truth().filter(pl.col("kind") == "wrong_multiplier")
    faulty = set(truth["meter_serial"])
    assert faulty == set(placed[:2])
    mine = judged.verdicts.filter(pl.col("cause") == Cause.WRONG_MULTIPLIER.value)
    assert {judged.serial_of[m] for m in mine["meter_id"]} == faulty  # not the look-alike
    assert set(judged.exchanges["installed_serial"]) == set(placed)


@pytest.mark.parametrize("seed", [5])
def test_the_exchange_rates_off_leave_a_scenario_unchanged(seed: int) -> None:
    base = small_town(
        seed=seed, start=START, faults=NO_FAULTS, service_points=400, horizon_days=DAYS
    )
    world = World(base, keep_days=1)
    assert exchange_rows(world, as_of=START + dt.timedelta(days=DAYS - 1)).is_empty()
    assert world.inst_meter.size == world.territory.sites.count


def test_exchanges_on_a_network_that_loses_reads_are_judged_on_the_reads_that_arrived(
    tmp_path: Path,
) -> None:
    # the town's collector goes down about 30 times in 28 days and each feeder about five:
    # hardly a day of the exchanged meters is complete (the detector that compared complete
    # days found neither fault here), yet the wrong multipliers are found and the look-alike
    # (the customer leaves that day) is not called one
    rates = dataclasses.replace(
        NO_FAULTS, collector_down_per_collector_year=400.0, feeder_outage_per_feeder_year=60.0
    )
    placed: list[str] = []

    def prepare(world: World) -> None:
        placed.extend(exchange_ct_sites(world, wrong=2, genuine=1, first_day=13, last_day=15))

    with fresh_database(tmp_path / "db") as url:
        judged = _judge(tmp_path, url, rates, seed=9, prepare=prepare)
    assert len(placed) == 3, "the town must have three clean CT-rated sites and spares"
    lost = judged.world.ground_truth().filter(pl.col("kind") == "collector_down")
    assert lost.height >= 5, "the scenario must lose reads often"
    mine = judged.verdicts.filter(pl.col("cause") == Cause.WRONG_MULTIPLIER.value)
    assert {judged.serial_of[m] for m in mine["meter_id"]} == set(placed[:2])
    for evidence in mine["verdict_evidence"]:
        detector = json.loads(evidence)["detector"]
        assert abs(detector["meter_ratio"] - 1.0) < 0.25
