"""Through the simulator: wrong TOU programs found after the real fleet import and ingest.

A small territory with the ``tou_misprogram`` fault is simulated for four July days; its fleet
files go through ``fleet import`` and its head-end files through ``ingest`` into a database and
a read store; then the determinants service, the CLI and the JSON API run on them. The
simulator's ground truth is used only in the assertions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from meterops.config import Settings
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.determinants import cli as determinants_cli
from meterops.determinants import service
from meterops.fleet import service as fleet_service
from meterops.fleet.parse import parse_fleet_csv
from meterops.fleet.programs import parse_programs_file
from meterops.fleet.spec import IMPORT_ORDER
from meterops.ingest.service import IngestOptions, ingest_files
from meterops.reads.store import ReadStore
from meterops.simulator.output import write_simulation
from meterops.simulator.scenarios import small_town
from meterops.simulator.world import World
from tests.fixtures.web import create_web_user, signed_in

pytestmark = pytest.mark.slow  # a whole-territory scenario: CI runs it on SQLite only

ZONE = ZoneInfo("America/Chicago")
FIRST = dt.date(2026, 7, 6)  # a Monday
DAYS = 4
LAST = FIRST + dt.timedelta(days=DAYS - 1)
NOW = dt.datetime(2026, 7, 11, 12, tzinfo=dt.UTC)


@dataclass
class Utility:
    database_url: str
    reads_uri: str
    folder: Path
    truth: pl.DataFrame
    intervals: pl.DataFrame  # the simulated interval reads (for totals)


@pytest.fixture(scope="module")
def utility(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Utility:
    folder = tmp_path_factory.mktemp("determinants_e2e")
    files = folder / "files"
    world = World(small_town(seed=11, service_points=400, start=FIRST), keep_days=1)
    chunks: list[pl.DataFrame] = []
    write_simulation(
        world, files, days=DAYS, greenbutton=0, on_day=lambda d: chunks.append(d.interval_reads)
    )
    engine = make_engine(module_database_url)
    sessions = make_session_factory(engine)
    for kind in IMPORT_ORDER:
        name = "programs.yaml" if kind == "meter_programs" else f"{kind}.csv"
        data = (files / "fleet" / name).read_bytes()
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
                    default_timezone="America/Chicago",
                    now=NOW,
                )
    wanted = ("intervals.cmep", "intervals_other.csv", "registers.cmep", "registers_other.csv")
    paths = sorted(p for p in (files / "headend").rglob("*") if p.name in wanted)
    reads_uri = str(folder / "reads")
    reports = ingest_files(
        sessions, ReadStore(reads_uri), paths, options=IngestOptions(zone=ZONE), clock=lambda: NOW
    )
    assert not [r.file_name for r in reports if r.refused]
    engine.dispose()
    truth = world.ground_truth()
    return Utility(module_database_url, reads_uri, folder, truth, pl.concat(chunks))


@pytest.fixture
def sessions(utility: Utility) -> Iterator[Any]:
    engine = make_engine(utility.database_url)
    yield make_session_factory(engine)
    engine.dispose()


def _serials(truth: pl.DataFrame, kind: str) -> set[str]:
    return set(truth.filter(pl.col("kind") == kind)["meter_serial"].drop_nulls().to_list())


def test_register_check_reports_the_misprogrammed_meters_only(
    utility: Utility, sessions: Any
) -> None:
    with session_scope(sessions) as session:
        report = service.register_check(
            session, ReadStore(utility.reads_uri), first_day=FIRST, last_day=LAST, zone=ZONE
        )
    summary = report.summary
    misprogrammed = _serials(utility.truth, "tou_misprogram")
    faulted = set(utility.truth["meter_serial"].drop_nulls().to_list())
    assert misprogrammed, "the scenario must contain misprogrammed meters"
    reported = set(report.reported["serial_number"].to_list())
    judged = set(summary.filter(pl.col("status") != "incomplete")["serial_number"].to_list())
    # every misprogrammed meter with complete data is reported, naming the program it runs
    assert misprogrammed & judged
    assert misprogrammed & judged <= reported
    best = dict(summary.select("serial_number", "best_schedule_key").iter_rows())
    assert {best[s] for s in misprogrammed & judged} == {"RES-TOU-2024B"}
    shifts = summary.filter(pl.col("serial_number").is_in(sorted(misprogrammed & judged)))
    assert set(shifts["status"]) == {"allocation_shift"}
    assert set(shifts["worst_tou_period"]) <= {"on_peak", "mid_peak"}
    # and no meter without any fault is reported
    healthy = set(summary["serial_number"].to_list()) - faulted
    assert healthy
    assert not reported & healthy
    assert (
        summary.filter(pl.col("serial_number").is_in(sorted(healthy)))["status"]
        .is_in(["match", "incomplete", "no_registers"])
        .all()
    )


def test_determinants_add_up_and_match_the_simulated_reads(utility: Utility, sessions: Any) -> None:
    with session_scope(sessions) as session:
        run = service.run_determinants(
            session,
            partial(ReadStore, utility.reads_uri),
            first_day=FIRST,
            last_day=LAST,
            zone=ZONE,
        )
    p, t = run.by_period, run.by_tou
    assert run.meters > 300
    # sum of TOU periods = total energy of each billing period
    sums = t.group_by("meter_id", "period_start_utc").agg(pl.col("delivered_kwh").sum())
    joined = p.join(sums, on=["meter_id", "period_start_utc"], suffix="_tou")
    assert (joined["delivered_kwh"] - joined["delivered_kwh_tou"]).abs().max() < 1e-6
    assert (p["net_kwh"] - (p["delivered_kwh"] - p["received_kwh"])).abs().max() < 1e-9
    # a self-contained meter's delivered energy is the simulated intervals' sum over the range
    start, end = service.day_range_utc(FIRST, LAST, ZONE)
    simulated = (
        utility.intervals.filter(
            (pl.col("channel") == "kwh_delivered")
            & pl.col("interval_start_utc").is_between(start, end, closed="left")
        )
        .group_by("serial_number")
        .agg(pl.col("value").sum().alias("simulated_kwh"))
    )
    plain = (
        p.filter(pl.col("multiplier") == 1.0)
        .group_by("serial_number")
        .agg(pl.col("delivered_kwh").sum())
        .join(simulated, on="serial_number")
    )
    assert plain.height > 200
    assert (plain["delivered_kwh"] - plain["simulated_kwh"]).abs().max() < 1e-6
    # TOU customers are billed on the tariff's periods, others on one flat period
    assert {"on_peak", "mid_peak", "off_peak", "total"} <= set(t["tou_period"])
    assert "RTOU-TARIFF" in set(p["schedule_key"].drop_nulls())
    # net-metered solar customers export
    nem = p.filter(pl.col("net_metering"))
    assert nem.height
    assert nem["received_kwh"].sum() > 0


def _cli(utility: Utility, monkeypatch: pytest.MonkeyPatch) -> Any:
    from meterops.cli import context

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test root."""

    app.add_typer(determinants_cli.app, name="determinants")
    monkeypatch.setenv("METEROPS_DATABASE_URL", utility.database_url)
    monkeypatch.setenv("METEROPS_READS_URI", utility.reads_uri)
    monkeypatch.setenv("METEROPS_UTILITY_TIMEZONE", "America/Chicago")
    monkeypatch.setenv("COLUMNS", "240")
    context.settings.cache_clear()
    context.engine.cache_clear()
    return app


def test_cli_run_and_compare(
    utility: Utility, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from meterops.cli import context

    app = _cli(utility, monkeypatch)
    try:
        out = tmp_path / "d.parquet"
        result = CliRunner().invoke(
            app,
            ["determinants", "run", "--from", str(FIRST), "--to", str(LAST), "--out", str(out)],
        )
        assert result.exit_code == 0, result.output
        assert "billing determinants" in result.output
        assert "intervals used" in result.output
        written = pl.read_parquet(out)
        assert written.height > 300
        assert {"serial_number", "delivered_kwh", "block_demand_kw"} <= set(written.columns)

        bad = min(_serials(utility.truth, "tou_misprogram"))
        result = CliRunner().invoke(
            app,
            [
                "determinants",
                "run",
                "--from",
                str(FIRST),
                "--to",
                str(FIRST),
                "--meter",
                bad,
                "--out",
                str(tmp_path / "one.csv"),
            ],
        )
        assert result.exit_code == 0, result.output
        assert "on_peak" in result.output
        assert pl.read_csv(tmp_path / "one.csv")["serial_number"].cast(pl.String).to_list() == [bad]

        result = CliRunner().invoke(
            app, ["determinants", "compare", "--from", str(FIRST), "--to", str(LAST)]
        )
        assert result.exit_code == 0, result.output
        assert "allocation_shift" in result.output
        assert "RES-TOU-2024B" in result.output
        assert "TOU meters checked" in result.output

        result = CliRunner().invoke(
            app,
            ["determinants", "run", "--from", str(FIRST), "--to", str(LAST), "--out", "d.txt"],
        )
        assert result.exit_code == 2
        assert "must end with .parquet or .csv" in result.output

        result = CliRunner().invoke(
            app, ["determinants", "run", "--from", str(LAST), "--to", str(FIRST)]
        )
        assert result.exit_code != 0
        assert "before --from" in str(result.exception)
    finally:
        context.engine().dispose()
        context.settings.cache_clear()
        context.engine.cache_clear()


def test_api_meter_determinants(utility: Utility) -> None:
    from meterops.web.app import create_app

    settings = Settings(
        database_url=utility.database_url,
        reads_uri=utility.reads_uri,
        data_dir=utility.folder / "var",
        utility_timezone="America/Chicago",
    )
    bad = min(_serials(utility.truth, "tou_misprogram"))
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        signed_in(client, create_web_user(utility.database_url, "det-analyst", "analyst"))
        response = client.get(
            f"/api/v1/meters/{bad}/determinants", params={"from": str(FIRST), "to": str(LAST)}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["serial_number"] == bad
        assert len(body["by_period"]) >= 1
        tou = {r["tou_period"] for r in body["by_tou"]}
        assert tou == {"on_peak", "mid_peak", "off_peak"}
        total = sum(r["delivered_kwh"] for r in body["by_period"])
        assert sum(r["delivered_kwh"] for r in body["by_tou"]) == pytest.approx(total)

        missing = client.get(
            "/api/v1/meters/NOPE/determinants", params={"from": str(FIRST), "to": str(LAST)}
        )
        assert missing.status_code == 403  # refused like another territory's meter
        assert missing.json()["error"]["code"] == "permission_denied.territory"
