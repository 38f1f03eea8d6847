"""A small simulated utility built through the real paths: fleet import and head-end ingest.

``build_town`` simulates ``small_town`` with a few meters, imports its fleet files with
``meterops.fleet.service`` and ingests its head-end files with ``meterops.ingest.service``,
into a fresh database (the active test backend) and a read store in a scratch folder. A day's
interval file can be split: some reads held back and ingested later (late arrivals).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy.orm import Session, sessionmaker

from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.fleet import service as fleet_service
from meterops.fleet.parse import parse_fleet_csv
from meterops.fleet.programs import parse_programs_file
from meterops.fleet.spec import IMPORT_ORDER
from meterops.ingest import service as ingest_service
from meterops.ingest.formats.cmep import parse_cmep
from meterops.ingest.formats.headend_csv import write_headend_csv
from meterops.reads.store import ReadStore
from meterops.simulator.output import write_simulation
from meterops.simulator.scenarios import small_town
from meterops.simulator.world import World
from tests.conftest import fresh_database

ZONE = ZoneInfo("America/Chicago")
START = dt.date(2026, 3, 4)
NOW = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)


@dataclass
class Town:
    """The database, the read store and the simulated files."""

    sessions: sessionmaker[Session]
    store: ReadStore
    files: Path
    database_url: str
    days: int

    def day(self, index: int) -> dt.date:
        return START + dt.timedelta(days=index)

    def ingest(
        self, paths: Sequence[Path], *, now: dt.datetime = NOW
    ) -> list[ingest_service.FileReport]:
        options = ingest_service.IngestOptions(zone=ZONE, actor="test")
        return ingest_service.ingest_files(
            self.sessions, self.store, list(paths), options=options, clock=lambda: now
        )

    def day_files(self, index: int) -> list[Path]:
        folder = self.files / "headend" / self.day(index).isoformat()
        return sorted(p for p in folder.iterdir() if p.is_file())

    def interval_reads(self, index: int) -> pl.DataFrame:
        """The parsed reads of a day's CMEP interval file."""
        path = self.files / "headend" / self.day(index).isoformat() / "intervals.cmep"
        return parse_cmep(path.read_bytes(), name=path.name, zone=ZONE).interval_reads


def _import_fleet(sessions: sessionmaker[Session], fleet_dir: Path) -> None:
    for kind in IMPORT_ORDER:
        name = "programs.yaml" if kind == "meter_programs" else f"{kind}.csv"
        if not (fleet_dir / name).exists():  # a kind the simulator does not write (history)
            continue
        data = (fleet_dir / name).read_bytes()
        with session_scope(sessions) as session:
            if kind == "meter_programs":
                fleet_service.import_programs(
                    session, parse_programs_file(data, file=name), actor="test", now=NOW
                )
            else:
                fleet_service.import_file(
                    session,
                    parse_fleet_csv(data, file=name),
                    actor="test",
                    default_timezone=ZONE.key,
                    now=NOW,
                )


@contextmanager
def build_town(
    folder: Path, *, days: int = 4, meters: int = 12, seed: int = 5, ingest: bool = True
) -> Iterator[Town]:
    """A simulated town; its head-end files ingested unless ``ingest`` is False."""
    folder.mkdir(parents=True, exist_ok=True)
    world = World(small_town(seed=seed, start=START, service_points=meters), keep_days=1)
    files = folder / "files"
    write_simulation(world, files, days=days)
    with fresh_database(folder) as url:
        engine = make_engine(url)
        try:
            sessions = make_session_factory(engine)
            _import_fleet(sessions, files / "fleet")
            town = Town(sessions, ReadStore(str(folder / "reads")), files, url, days)
            if ingest:
                for index in range(days):
                    town.ingest(town.day_files(index))
            yield town
        finally:
            engine.dispose()


def write_reads(folder: Path, name: str, frame: pl.DataFrame) -> Path:
    """A head-end CSV file of parsed interval reads."""
    path = folder / name
    path.write_bytes(write_headend_csv(frame.drop("source_line"), kind="interval_reads"))
    return path
