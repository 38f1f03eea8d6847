"""``meterops orders`` and ``meterops routes`` through Typer's CliRunner on the root app.

The database is a private SQLite file; the fleet is the simulator's Prairie Junction,
imported with ``meterops fleet import`` (the real path a utility's files take).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from meterops.cli import context
from meterops.cli.main import app
from meterops.errors import ConflictError, InvalidInputError
from meterops.simulator import World, small_town
from meterops.simulator.fleetfiles import write_fleet_files
from tests.dispatch.conftest import next_workday

Invoke = Callable[..., Result]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    monkeypatch.setenv("METEROPS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("METEROPS_DATABASE_URL", raising=False)
    monkeypatch.delenv("METEROPS_HEADEND_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "220")
    context.settings.cache_clear()
    context.engine.cache_clear()
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(app, list(args))
        if ok:
            assert result.exit_code == 0, (result.output, result.exception)
        return result

    invoke("db", "upgrade")
    world = World(small_town(seed=41, start=dt.date(2026, 7, 6), service_points=60), keep_days=1)
    write_fleet_files(world, tmp_path / "fleet", as_of=world.scenario.start)
    invoke("fleet", "import", str(tmp_path / "fleet"))
    yield invoke
    context.engine().dispose()
    context.settings.cache_clear()
    context.engine.cache_clear()


def serials(tmp_path: Path, count: int) -> list[str]:
    """Installed residential meters of the imported fleet (meters.csv joined to placements)."""
    lines = (tmp_path / "fleet" / "meters.csv").read_text().splitlines()
    header = lines[0].split(",")
    rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:]]
    found = [
        r["serial_number"] for r in rows if r.get("service_point_number") and r.get("form") == "2S"
    ]
    return found[:count]


def programme(tmp_path: Path, meters: list[str]) -> Path:
    path = tmp_path / "campaign.csv"
    lines = ["order_type,meter_serial,campaign,external_ref"]
    lines += [f"exchange,{serial},AMI2-2026,row-{i}" for i, serial in enumerate(meters)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_orders_import_create_list_show_board_and_move(cli: Invoke, tmp_path: Path) -> None:
    meters = serials(tmp_path, 5)
    assert len(meters) == 5
    result = cli("orders", "import", str(programme(tmp_path, meters[:4])))
    assert "4 row(s) · 4 created" in result.output
    again = cli("orders", "import", str(programme(tmp_path, meters[:4])))
    assert "0 created · 4 already active" in again.output

    made = cli(
        "orders",
        "create",
        "--type",
        "tamper_investigation",
        "--meter",
        meters[4],
        "--why",
        "cover removal event twice this week",
        "--priority",
        "2",
    )
    assert "created WO-000005" in made.output
    listed = json.loads(cli("orders", "list", "--status", "created", "--json").output)
    assert next(o["order_number"] for o in listed) == "WO-000005"  # most urgent first
    assert len(listed) == 5
    campaign = cli("orders", "list", "--campaign", "AMI2-2026")
    assert "4 work order(s)" in campaign.output

    board = cli("orders", "board")
    assert "created" in board.output
    assert "5" in board.output

    refused = cli("orders", "move", "WO-000005", "cancelled", ok=False)
    assert isinstance(refused.exception, InvalidInputError)
    cli("orders", "move", "WO-000005", "cancelled", "--reason", "customer saw the fitter")
    shown = cli("orders", "show", "WO-000005")
    assert "cancelled" in shown.output
    assert "customer saw the fitter" in shown.output
    assert "workorder.create" in shown.output
    assert "workorder.status" in shown.output
    illegal = cli("orders", "move", "WO-000001", "completed", ok=False)
    assert isinstance(illegal.exception, ConflictError)


def test_routes_plan_prints_each_technician_writes_geojson_and_reassigns(
    cli: Invoke, tmp_path: Path
) -> None:
    meters = serials(tmp_path, 12)
    cli("orders", "import", str(programme(tmp_path, meters)))
    day = next_workday().isoformat()
    out = tmp_path / "plan.geojson"

    planned = cli("routes", "plan", "--date", day, "--out", str(out), "--seconds", "2")

    assert "KPIs: 12/12 orders served" in planned.output
    assert "drive-time share" in planned.output
    assert "T0003" in planned.output
    assert "WO-000012 exchange" in planned.output
    assert "T0001" in planned.output
    collection = json.loads(out.read_text())
    stops = [f for f in collection["features"] if f["properties"]["kind"] == "stop"]
    assert sorted(n for f in stops for n in f["properties"]["orders"]) == sorted(
        f"WO-{i:06d}" for i in range(1, 13)
    )
    shown = json.loads(cli("routes", "show", "--date", day, "--json").output)
    [plan] = shown
    routes = {r["technician"]: r for r in plan["routes"]}
    holder = next(
        t
        for t, r in routes.items()
        if any(o["order_number"] == "WO-000001" for v in r["visits"] for o in v["orders"])
    )
    other = next(t for t in routes if t != holder)

    moved = cli("routes", "reassign", "WO-000001", "--to", other)

    assert f"WO-000001 is now with {other}" in moved.output
    after = json.loads(cli("routes", "show", "--date", day, "--json").output)[0]
    mine = next(r for r in after["routes"] if r["technician"] == other)
    assert "WO-000001" in {o["order_number"] for v in mine["visits"] for o in v["orders"]}
    assert after["revision"] == plan["revision"] + 1
    cli("routes", "dispatch", "--date", day)
    listed = json.loads(cli("orders", "list", "--status", "assigned", "--json").output)
    assert len(listed) == 12
    again = cli("routes", "plan", "--date", day, ok=False)
    assert isinstance(again.exception, ConflictError)


def test_routes_ping_needs_a_head_end(cli: Invoke) -> None:
    result = cli("routes", "ping", "--date", next_workday().isoformat(), ok=False)
    assert isinstance(result.exception, InvalidInputError)
    assert "METEROPS_HEADEND_URL" in str(result.exception)


def test_technicians_stock_and_a_day_off_shape_the_plan(cli: Invoke, tmp_path: Path) -> None:
    listed = cli("routes", "technicians")
    assert "T0001" in listed.output
    assert "not tracked" in listed.output
    stocked = cli("routes", "stock", "T0001", "meter:2S", "3")
    assert "'meter:2S': 3" in stocked.output
    day = next_workday().isoformat()
    for number in ("T0002", "T0003", "T0004"):
        cli("routes", "day-off", number, "--date", day, "--note", "training")
    cli("orders", "import", str(programme(tmp_path, serials(tmp_path, 5))))

    planned = cli("routes", "plan", "--date", day, "--seconds", "1")

    assert "T0002" not in planned.output
    shown = json.loads(cli("routes", "show", "--date", day, "--json").output)[0]
    [route] = shown["routes"]
    assert route["technician"] == "T0001"
    assert sum(len(v["orders"]) for v in route["visits"]) <= 3
    assert shown["kpis"]["work_orders"] == 5
    assert shown["kpis"]["work_orders_served"] <= 3
    assert shown["left_out"]
