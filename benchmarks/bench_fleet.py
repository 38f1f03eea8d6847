"""Fleet import throughput: 100,000 meters with premises, service points and accounts.

Figures: rows/s of the set-based import (all kinds, one file each), the same for a
straightforward per-row ORM import measured in the same run (baseline), and the re-import of
identical content in a different row order (must create and update 0 rows).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from benchmarks.harness import BenchContext, Figure, timed
from meterops.db import migrate
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.fleet import service as fleet_service
from meterops.fleet.parse import parse_fleet_csv
from meterops.fleet.spec import KINDS
from meterops.models import Meter

NOW = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
KIND_ORDER = (
    "territories",
    "feeders",
    "transformers",
    "premises",
    "service_points",
    "meters",
    "accounts",
)


def _write(folder: Path, kind: str, rows: list[dict[str, object]]) -> Path:
    path = folder / f"{kind}.csv"
    columns = [c.name for c in KINDS[kind].columns]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({c: row.get(c, "") for c in columns} for row in rows)
    return path


def _fleet(folder: Path, n: int) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    per_transformer = 8
    transformers = (n + per_transformer - 1) // per_transformer
    rows: dict[str, list[dict[str, object]]] = {
        "territories": [{"territory_code": "T1", "name": "Territory"}],
        "feeders": [
            {"feeder_code": f"F{i}", "name": f"F{i}", "territory_code": "T1"}
            for i in range(transformers // 400 + 1)
        ],
        "transformers": [
            {
                "transformer_code": f"X{i}",
                "feeder_code": f"F{i // 400}",
                "kva": 50,
                "latitude": 41 + i * 1e-5,
                "longitude": -93,
            }
            for i in range(transformers)
        ],
        "premises": [
            {
                "premise_number": f"P{i}",
                "address_line": f"{i} Main St",
                "city": "Town",
                "state": "IA",
                "postal_code": "50000",
                "latitude": 41 + i * 1e-6,
                "longitude": -93 - i * 1e-6,
                "territory_code": "T1",
            }
            for i in range(n)
        ],
        "service_points": [
            {
                "service_point_number": f"SP{i}",
                "premise_number": f"P{i}",
                "transformer_code": f"X{i // per_transformer}",
                "service_type": "1ph_3w",
                "voltage_v": 240,
            }
            for i in range(n)
        ],
        "meters": [
            {
                "serial_number": f"M{i:08d}",
                "vendor": "Itron",
                "model": "Centron",
                "form": "2S",
                "meter_class": "CL200",
                "firmware_revision": "4.2",
                "service_point_number": f"SP{i}",
                "installed_at": "2023-04-01T15:00:00Z",
                "install_read_kwh": 0,
            }
            for i in range(n)
        ],
        "accounts": [
            {
                "account_number": f"A{i}",
                "customer_number": f"C{i}",
                "customer_name": f"Customer {i}",
                "service_point_number": f"SP{i}",
                "move_in_date": "2020-01-01",
                "rate_code": "RES",
            }
            for i in range(n)
        ],
    }
    return {kind: _write(folder, kind, rows[kind]) for kind in KIND_ORDER}


def _import(url: str, paths: dict[str, Path]) -> tuple[int, int, int]:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    rows = created = updated = 0
    for kind in KIND_ORDER:
        parsed = parse_fleet_csv(paths[kind].read_bytes(), file=paths[kind].name)
        with session_scope(factory) as session:
            report = fleet_service.import_file(
                session, parsed, actor="bench", default_timezone="America/Chicago", now=NOW
            )
        rows += report.rows
        created += report.created
        updated += report.updated
    engine.dispose()
    return rows, created, updated


def _naive_meter_import(url: str, path: Path) -> int:
    """Baseline: one ORM object and one existence query per row."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    count = 0
    with session_scope(factory) as session, path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            exists = session.query(Meter).filter_by(serial_number=row["serial_number"]).first()
            if exists is None:
                session.add(
                    Meter(
                        serial_number=row["serial_number"],
                        vendor=row["vendor"],
                        model=row["model"],
                        form=row["form"],
                        meter_class=row["meter_class"],
                        accuracy_class="0.5",
                        firmware_revision=row["firmware_revision"],
                    )
                )
                session.flush()
            count += 1
    engine.dispose()
    return count


def _fresh_db(folder: Path) -> str:
    url = f"sqlite:///{folder / 'bench.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


def run(ctx: BenchContext) -> list[Figure]:
    n = ctx.scale(100_000, 5_000)
    paths = _fleet(ctx.workdir / "fleet", n)
    url = _fresh_db(ctx.workdir / "db1")
    with timed() as elapsed:
        rows, created, _ = _import(url, paths)
    first_s = elapsed()

    with timed() as elapsed:
        _, again_created, again_updated = _import(url, paths)
    duplicate_s = elapsed()

    shuffled = {}
    for kind, path in paths.items():
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        shuffled_path = ctx.workdir / "fleet-reordered" / path.name
        shuffled_path.parent.mkdir(exist_ok=True)
        shuffled_path.write_text(lines[0] + "".join(reversed(lines[1:])), encoding="utf-8")
        shuffled[kind] = shuffled_path
    with timed() as elapsed:
        _, reorder_created, reorder_updated = _import(url, shuffled)
    reorder_s = elapsed()

    baseline_n = min(n, 10_000)
    baseline_path = ctx.workdir / "baseline.csv"
    lines = paths["meters"].read_text(encoding="utf-8").splitlines(keepends=True)
    baseline_path.write_text("".join(lines[: baseline_n + 1]), encoding="utf-8")
    baseline_url = _fresh_db(ctx.workdir / "db2")
    with timed() as elapsed:
        naive_rows = _naive_meter_import(baseline_url, baseline_path)
    naive_rate = naive_rows / elapsed()

    note = f"{n:,} meters + SPs + premises + accounts ({rows:,} rows), SQLite file"
    return [
        Figure(
            "fleet import",
            "first import, all kinds",
            rows / first_s,
            "rows/s",
            baseline=naive_rate,
            baseline_name="per-row ORM import",
            note=note,
        ),
        Figure("fleet import", "first import wall time", first_s, "s", note=note),
        Figure(
            "fleet import",
            "re-import, same bytes: rows created+updated",
            again_created + again_updated,
            "rows",
            goal="0",
            met=again_created + again_updated == 0,
            note=f"{duplicate_s:.2f} s (journal hit)",
        ),
        Figure(
            "fleet import",
            "re-import, rows reordered: rows created+updated",
            reorder_created + reorder_updated,
            "rows",
            goal="0",
            met=reorder_created + reorder_updated == 0,
            note=f"{reorder_s:.1f} s, {rows / reorder_s:,.0f} rows/s compared",
        ),
        Figure("fleet import", "rows created", created, "rows"),
    ]
