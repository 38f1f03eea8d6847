"""End to end on the simulated utility: fleet files -> real fleet import -> lots -> decisions.

The simulator's back-office files go through the real fleet import; lots must be exactly the
vendor/model/firmware/install-year groups of the installed meters in ``meters.csv``. Test
results are then written for the sampled meters with one cohort drifting fast (the ground
truth we choose), imported as a test file, and only that cohort's lot is rejected.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy.orm import Session

from meterops.fleet import service as fleet_service
from meterops.fleet.parse import parse_fleet_csv
from meterops.fleet.programs import parse_programs_file
from meterops.fleet.spec import IMPORT_ORDER
from meterops.meter_shop import sampling
from meterops.meter_shop import service as shop_service
from meterops.meter_shop.testfiles import CSV_COLUMNS
from meterops.simulator import World, small_town
from meterops.simulator.fleetfiles import write_fleet_files

NOW = dt.datetime(2027, 3, 1, 12, tzinfo=dt.UTC)
DRIFTING = "Itron|Riva CENTRON|4.3.2|2025"


def _import_fleet(session: Session, folder: Path) -> None:
    for kind in IMPORT_ORDER:
        if kind == "meter_programs":
            parsed_programs = parse_programs_file(
                (folder / "programs.yaml").read_bytes(), file="programs.yaml"
            )
            fleet_service.import_programs(session, parsed_programs, actor="sim", now=NOW)
            continue
        path = folder / f"{kind}.csv"
        fleet_service.import_file(
            session,
            parse_fleet_csv(path.read_bytes(), file=path.name),
            actor="sim",
            default_timezone="America/Chicago",
            now=NOW,
        )


def test_lots_of_the_simulated_fleet_and_a_drifting_cohort_is_rejected(
    session: Session, tmp_path: Path
) -> None:
    world = World(small_town(seed=17, service_points=250, horizon_days=5), keep_days=1)
    folder = tmp_path / "fleet"
    write_fleet_files(world, folder, as_of=dt.date(2026, 7, 3))
    _import_fleet(session, folder)

    meters = pl.read_csv(folder / "meters.csv", infer_schema_length=0).filter(
        pl.col("lifecycle_status") == "installed"
    )
    expected = (
        meters.with_columns(
            pl.concat_str(
                "vendor",
                "model",
                pl.col("firmware_revision").fill_null("-"),
                pl.col("installed_at").str.slice(0, 4),
                separator="|",
            ).alias("lot_key")
        )
        .group_by("lot_key")
        .len()
        .sort("lot_key")
    )
    plan = sampling.VariablesPlan(aql_pct=2.5)
    report = shop_service.plan_lots(session, year=2027, plan=plan, seed=7, actor="sim", now=NOW)
    lots = shop_service.list_lots(session, year=2027)
    assert [(lot.lot_key, lot.lot_size) for lot in lots] == expected.rows()
    assert report.meters == meters.height
    assert DRIFTING in {lot.lot_key for lot in lots}

    samples = shop_service.sample_list(session, year=2027)
    nameplate = {r["serial_number"]: r for r in meters.iter_rows(named=True)}
    rng = np.random.default_rng(5)
    header = ",".join(c.name for c in CSV_COLUMNS)
    rows = [header]
    for n, sample in enumerate(samples):
        meter = nameplate[sample.serial_number]
        drift = 1.7 if sample.lot_key == DRIFTING else 0.0
        spread = 0.5 if sample.lot_key == DRIFTING else 0.15
        value = round(100.0 + drift + rng.normal(0.0, spread), 3)
        stamp = (NOW - dt.timedelta(days=20, minutes=n)).isoformat()
        rows.extend(
            f"{sample.serial_number},{stamp},shop,bench1,sample,{meter['form']},"
            f"{meter['meter_class']},{meter['accuracy_class']},TS-9,2027-01-05,2028-01-05,"
            f"as_found,{point},all,{value},,,,"
            for point in ("FL", "LL")
        )
    imported = shop_service.import_test_file(
        session, ("\n".join(rows) + "\n").encode(), file="programme.csv", actor="sim", now=NOW
    )
    assert imported.created == len(samples)

    judged = {lot.lot_key: lot for lot in shop_service.update_lot_status(session, year=2027)}
    assert judged[DRIFTING].decision == "reject"
    assert {k for k, lot in judged.items() if lot.decision == "reject"} == {DRIFTING}
    assert all(lot.tested == lot.sample_size for lot in judged.values())
    replace = shop_service.replacements(session, year=2027)
    assert len(replace) == judged[DRIFTING].lot_size
