"""End to end: the simulated back office's fleet files go through the real fleet import."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meterops.fleet import service as fleet_service
from meterops.fleet.parse import parse_fleet_csv
from meterops.fleet.programs import parse_programs_file
from meterops.fleet.spec import IMPORT_ORDER
from meterops.models import Account, Installation, Meter, MeterProgram, ServicePoint
from meterops.simulator import World, small_town
from meterops.simulator.fleetfiles import write_fleet_files

NOW = dt.datetime(2026, 7, 3, 12, tzinfo=dt.UTC)


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_the_simulated_fleet_imports_whole_and_a_second_import_changes_nothing(
    session: Session, tmp_path: Path
) -> None:
    world = World(small_town(seed=17, service_points=250, horizon_days=5), keep_days=1)
    folder = tmp_path / "fleet"
    write_fleet_files(world, folder, as_of=dt.date(2026, 7, 3))

    def import_all() -> list[fleet_service.ImportReport]:
        reports = []
        for kind in IMPORT_ORDER:
            if kind == "meter_programs":
                data = (folder / "programs.yaml").read_bytes()
                parsed_programs = parse_programs_file(data, file="programs.yaml")
                reports.append(
                    fleet_service.import_programs(
                        session, parsed_programs, actor="simulator", now=NOW
                    )
                )
                continue
            path = folder / f"{kind}.csv"
            parsed = parse_fleet_csv(path.read_bytes(), file=path.name)
            assert parsed.issues == [], [str(i) for i in parsed.issues[:3]]
            reports.append(
                fleet_service.import_file(
                    session, parsed, actor="simulator", default_timezone="America/Chicago", now=NOW
                )
            )
        return reports

    first = import_all()
    meters = pl.read_csv(folder / "meters.csv")
    installed = meters.filter(pl.col("lifecycle_status") == "installed").height
    assert _count(session, Meter) == meters.height
    assert _count(session, Installation) == installed
    assert _count(session, ServicePoint) == world.territory.sites.count
    assert _count(session, MeterProgram) == 7
    assert _count(session, Account) == pl.read_csv(folder / "accounts.csv").height
    assert sum(r.created for r in first) > 0
    second = import_all()
    assert all(r.created == 0 and r.updated == 0 for r in second)
