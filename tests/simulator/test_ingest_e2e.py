"""End to end: the simulated utility's files go through the real fleet import and ingest."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

from meterops.db.engine import session_scope
from meterops.fleet import service as fleet_service
from meterops.fleet.parse import parse_fleet_csv
from meterops.fleet.programs import parse_programs_file
from meterops.fleet.spec import IMPORT_ORDER
from meterops.ingest.service import IngestOptions
from meterops.simulator import FaultRates, World, small_town, write_simulation
from tests.reads.world import world

START = dt.date(2026, 7, 6)
CHICAGO = ZoneInfo("America/Chicago")


def test_a_simulated_day_ingests_whole_and_only_the_unknown_serial_is_held(
    tmp_path: Path,
) -> None:
    rates = FaultRates(unknown_serial_per_1000=10.0, crossed_pairs_per_1000=0.0)
    sim = World(
        small_town(seed=23, start=START, faults=rates, service_points=250, horizon_days=4),
        keep_days=2,
    )
    out = tmp_path / "sim"
    write_simulation(sim, out, days=1, events_format="csv", greenbutton=1)
    now = dt.datetime.combine(START + dt.timedelta(days=1), dt.time(9), tzinfo=dt.UTC)
    with world(tmp_path / "platform") as w:
        with session_scope(w.sessions) as session:
            for kind in IMPORT_ORDER:
                if kind == "meter_programs":
                    data = (out / "fleet" / "programs.yaml").read_bytes()
                    fleet_service.import_programs(
                        session,
                        parse_programs_file(data, file="programs.yaml"),
                        actor="sim",
                        now=now,
                    )
                    continue
                path = out / "fleet" / f"{kind}.csv"
                fleet_service.import_file(
                    session,
                    parse_fleet_csv(path.read_bytes(), file=path.name),
                    actor="sim",
                    default_timezone="America/Chicago",
                    now=now,
                )
        files = sorted((out / "headend").rglob("*.*"))
        reports = w.ingest(*files, now=now, options=IngestOptions(zone=CHICAGO))
        assert [r.file_name for r in reports if r.refused] == []
        for report in reports:
            counts = report.counts.as_dict()
            assert counts["rejected"] == 0, report.file_name
            stored = counts["accepted"] + counts["late"]  # TOU registers after the totals
            assert stored + counts["quarantined"] == counts["rows_in_file"], report.file_name
        unknown = {
            json.loads(line)["parameters"]["reported_serial"]
            for line in (out / "ground_truth" / "faults.jsonl").read_text().splitlines()
            if json.loads(line)["kind"] == "unknown_serial"
        }
        assert unknown
        cmep = next(r for r in reports if r.file_name.endswith("intervals.cmep")).counts.as_dict()
        reads = sim.day(0).interval_reads.filter(pl.col("channel") == "kwh_delivered")
        held = reads.filter(pl.col("serial_number").is_in(sorted(unknown))).height
        assert cmep["quarantined"] == held > 0
        again = w.ingest(*files, now=now, options=IngestOptions(zone=CHICAGO))
        assert all(r.counts.as_dict()["accepted"] + r.counts.as_dict()["late"] == 0 for r in again)
