"""A small simulated town imported, ingested and diagnosed through the real paths (tests)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.diagnostics import service as diagnostics_service
from meterops.fleet import service as fleet_service
from meterops.fleet.parse import parse_fleet_csv
from meterops.fleet.programs import parse_programs_file
from meterops.fleet.spec import HISTORY_KINDS, IMPORT_ORDER
from meterops.ingest.service import IngestOptions, ingest_files
from meterops.reads.store import ReadStore
from meterops.simulator import FaultRates, World, small_town, write_simulation

ZONE = "America/Chicago"


@dataclass
class Town:
    """A diagnosed town: its files, database and read store."""

    folder: Path
    files: Path
    engine: Engine
    sessions: sessionmaker[Session]
    store: ReadStore
    as_of: dt.datetime
    summary: diagnostics_service.RunSummary

    @property
    def truth_file(self) -> Path:
        """The simulator's ground truth."""
        return self.files / "ground_truth" / "faults.jsonl"


def build_town(
    folder: Path,
    database_url: str,
    *,
    seed: int,
    service_points: int,
    days: int,
    rates: FaultRates,
    start: dt.date = dt.date(2026, 7, 6),
    territory: Mapping[str, Any] | None = None,
) -> Town:
    """Simulate ``days`` of a small town, import the fleet, ingest, diagnose the morning after.

    ``territory``: fields of the small town's ``TerritoryParams`` to change (for example
    ``{"vacancy_share": 0.3}``); None keeps the small town as it is.
    """
    files = folder / "files"
    scenario = small_town(
        seed=seed, start=start, faults=rates, service_points=service_points, horizon_days=days
    )
    if territory:
        scenario = dataclasses.replace(
            scenario, territory=dataclasses.replace(scenario.territory, **territory)
        )
    write_simulation(
        World(scenario, keep_days=1), files, days=days, events_format="csv", greenbutton=0
    )
    as_of = dt.datetime.combine(start + dt.timedelta(days=days), dt.time(11), tzinfo=dt.UTC)
    arrived = as_of - dt.timedelta(hours=1)
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    for kind in (*IMPORT_ORDER, *HISTORY_KINDS):  # with the installation history
        if kind != "meter_programs" and not (files / "fleet" / f"{kind}.csv").exists():
            continue  # a kind the simulator does not write
        with session_scope(sessions) as session:
            if kind == "meter_programs":
                data = (files / "fleet" / "programs.yaml").read_bytes()
                fleet_service.import_programs(
                    session, parse_programs_file(data, file="programs.yaml"), actor="t", now=arrived
                )
            else:
                path = files / "fleet" / f"{kind}.csv"
                fleet_service.import_file(
                    session,
                    parse_fleet_csv(path.read_bytes(), file=path.name),
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
    with session_scope(sessions) as session:
        summary = diagnostics_service.run(
            session,
            store,
            as_of_utc=as_of,
            options=diagnostics_service.RunOptions(zone=ZONE),
            actor="t",
            now=as_of,
        )
    return Town(folder, files, engine, sessions, store, as_of, summary)
