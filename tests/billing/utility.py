"""A simulated utility for high-bill tests, built through the real import paths.

``small_town`` is simulated from November into January; its fleet files go through ``fleet
import``, its head-end files through ``ingest``, and the territory's daily weather (the
simulator's own temperature series, averaged per local day — what a NOAA extract would give)
is written as a weather file. Ground truth is kept for assertions only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from sqlalchemy import select

from meterops.billing.weather import write_weather_csv
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.fleet import service as fleet_service
from meterops.fleet.parse import parse_fleet_csv
from meterops.fleet.programs import parse_programs_file
from meterops.fleet.spec import IMPORT_ORDER
from meterops.ingest.service import IngestOptions, ingest_files
from meterops.models.org import Territory
from meterops.reads.store import ReadStore
from meterops.simulator.output import write_simulation
from meterops.simulator.params import FaultRates
from meterops.simulator.scenarios import small_town
from meterops.simulator.weather import ColdSnap
from meterops.simulator.world import World

ZONE = ZoneInfo("America/Chicago")
FIRST = dt.date(2026, 11, 2)
DAYS = 91  # to 31 January 2027


@dataclass
class SimulatedUtility:
    """A built utility."""

    database_url: str
    reads_uri: str
    data_dir: Path
    truth: pl.DataFrame
    weather: pl.DataFrame


def daily_weather(world: World, days: int) -> pl.DataFrame:
    """The simulator's temperature averaged per local day (``DAILY_TEMPERATURE``)."""
    hours = np.arange(0.125, 24.0, 0.25)
    first = world.scenario.start
    dates = [first + dt.timedelta(days=i) for i in range(days)]
    means = [float(np.mean(world.weather.temperature_c(d, hours))) for d in dates]
    return pl.DataFrame({"day": dates, "temperature_c": means})


def build_utility(
    database_url: str,
    folder: Path,
    *,
    seed: int,
    service_points: int,
    days: int = DAYS,
    faults: FaultRates | None = None,
    cold_snaps: tuple[ColdSnap, ...] = (),
) -> SimulatedUtility:
    """Simulate, import and ingest; write the weather file under ``folder/var/weather``."""
    files = folder / "files"
    scenario = small_town(
        seed=seed, service_points=service_points, start=FIRST, faults=faults
    ).replace(cold_snaps=cold_snaps)
    world = World(scenario, keep_days=1)
    write_simulation(world, files, days=days, greenbutton=0)
    now = dt.datetime.combine(FIRST + dt.timedelta(days=days + 1), dt.time(12), tzinfo=dt.UTC)
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    for kind in IMPORT_ORDER:
        name = "programs.yaml" if kind == "meter_programs" else f"{kind}.csv"
        data = (files / "fleet" / name).read_bytes()
        with session_scope(sessions) as session:
            if kind == "meter_programs":
                fleet_service.import_programs(
                    session, parse_programs_file(data, file=name), actor="test", now=now
                )
            else:
                fleet_service.import_file(
                    session,
                    parse_fleet_csv(data, file=name),
                    actor="test",
                    default_timezone=ZONE.key,
                    now=now,
                )
    wanted = (
        "intervals.cmep",
        "intervals_other.csv",
        "registers.cmep",
        "registers_other.csv",
        "events.xml",
        "events.csv",
    )
    paths = sorted(p for p in (files / "headend").rglob("*") if p.name in wanted)
    reads_uri = str(folder / "var" / "reads")
    reports = ingest_files(
        sessions,
        ReadStore(reads_uri),
        paths,
        options=IngestOptions(zone=ZONE, late_data_horizon_days=days + 30),
        clock=lambda: now,
    )
    refused = [(r.file_name, r.message) for r in reports if r.refused]
    assert not refused, refused[:3]
    weather = daily_weather(world, days)
    with session_scope(sessions) as session:
        codes = list(session.scalars(select(Territory.code)))
    (folder / "var" / "weather").mkdir(parents=True, exist_ok=True)
    for code in codes:
        (folder / "var" / "weather" / f"{code}.csv").write_bytes(write_weather_csv(weather))
    engine.dispose()
    return SimulatedUtility(database_url, reads_uri, folder / "var", world.ground_truth(), weather)
