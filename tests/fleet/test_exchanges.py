"""Installation history import (``meter_exchanges.csv``): exchanges applied in time order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from meterops.assets.lifecycle import AssetStatus
from meterops.cli import context
from meterops.cli.main import main
from meterops.fleet import service as fleet_service
from meterops.fleet.parse import parse_fleet_csv
from meterops.fleet.programs import parse_programs_file
from meterops.fleet.spec import IMPORT_ORDER, KINDS
from meterops.models import AuditEvent, Installation, Meter
from tests.fixtures.fleet_files import csv_text, fleet_rows, write_fleet

NOW = dt.datetime(2026, 8, 1, 12, tzinfo=dt.UTC)
COLUMNS = [c.name for c in KINDS["meter_exchanges"].columns]
SPARES = ("M-CT2", "M-CT3")


def _import(
    session: Session, kind: str, text: str, file: str | None = None
) -> fleet_service.ImportReport:
    if kind == "meter_programs":
        return fleet_service.import_programs(
            session, parse_programs_file(text.encode(), file="programs.yaml"), actor="t", now=NOW
        )
    parsed = parse_fleet_csv(text.encode(), file=file or f"{kind}.csv")
    return fleet_service.import_file(
        session, parsed, actor="t", default_timezone="America/Chicago", now=NOW
    )


@pytest.fixture
def fleet(session: Session, tmp_path: Path) -> Session:
    """A small fleet: CT-rated M-CT1 at SP-CI (CT 80), two 9S spares and a 2S spare M-RES9."""
    paths = write_fleet(tmp_path, meters=4)
    for kind in IMPORT_ORDER:
        if kind in paths:
            _import(session, kind, paths[kind].read_text(encoding="utf-8"))
    rows = {r["serial_number"]: r for r in fleet_rows(4)["meters"]}
    spare = {"service_point_number": "", "installed_at": "", "install_read_kwh": ""}
    spares = [{**rows["M-CT1"], **spare, "serial_number": s} for s in SPARES]
    spares.append({**rows["M000000"], **spare, "serial_number": "M-RES9"})
    _import(session, "meters", csv_text(spares), "spares.csv")
    return session


def _row(**values: object) -> dict[str, object]:
    base: dict[str, object] = {
        "service_point_number": "SP-CI",
        "removed_serial": "M-CT1",
        "installed_serial": "M-CT2",
        "exchanged_at": "2026-07-14T15:00:00Z",
        "removed_final_read_kwh": 250,
        "installed_initial_read_kwh": 3,
        "installed_multiplier": 40,
        "work_order_id": "WO-1",
    }
    base.update(values)
    return {c: base.get(c, "") for c in COLUMNS}


def _meter(session: Session, serial: str) -> Meter:
    return session.scalars(select(Meter).where(Meter.serial_number == serial)).one()


def _history(session: Session, serial: str) -> list[tuple[dt.datetime, dt.datetime | None]]:
    meter = _meter(session, serial)
    return [
        (i.installed_at_utc, i.removed_at_utc)
        for i in session.scalars(
            select(Installation)
            .where(Installation.meter_id == meter.id)
            .order_by(Installation.installed_at_utc)
        )
    ]


def test_an_exchange_moves_the_meters_keeps_the_history_and_records_the_multiplier(
    fleet: Session,
) -> None:
    report = _import(fleet, "meter_exchanges", csv_text([_row()]))
    assert (report.created, report.unchanged) == (1, 0)
    at = dt.datetime(2026, 7, 14, 15, tzinfo=dt.UTC)
    old, new = _meter(fleet, "M-CT1"), _meter(fleet, "M-CT2")
    assert old.lifecycle_status is AssetStatus.REMOVED
    assert new.lifecycle_status is AssetStatus.INSTALLED
    assert _history(fleet, "M-CT1")[-1][1] == at  # kept, closed at the exchange
    assert _history(fleet, "M-CT2") == [(at, None)]
    assert new.multiplier == 40.0
    assert old.multiplier == 80.0
    installed = fleet.scalars(select(Installation).where(Installation.meter_id == new.id)).one()
    assert installed.work_order_ref == "WO-1"
    assert installed.install_read_kwh == 3
    actions = fleet.scalars(select(AuditEvent.action)).all()
    assert "meter.exchange" in actions


def test_exchanges_apply_in_time_order_whatever_the_line_order(fleet: Session) -> None:
    later = _row(
        removed_serial="M-CT2",
        installed_serial="M-CT3",
        exchanged_at="2026-07-20T15:00:00Z",
        removed_final_read_kwh=9,
        installed_initial_read_kwh=0,
        installed_multiplier=80,
    )
    report = _import(fleet, "meter_exchanges", csv_text([later, _row()]))
    assert report.created == 2
    assert _history(fleet, "M-CT3")[0][1] is None
    assert _meter(fleet, "M-CT3").multiplier == 80.0


def test_the_same_file_twice_and_the_same_exchange_in_another_file_are_stored_once(
    fleet: Session,
) -> None:
    text = csv_text([_row()])
    _import(fleet, "meter_exchanges", text)
    again = _import(fleet, "meter_exchanges", text)
    assert again.duplicate_file
    other = _import(fleet, "meter_exchanges", text + "\n", "exchanges-august.csv")
    assert (other.created, other.unchanged) == (0, 1)
    assert len(_history(fleet, "M-CT2")) == 1


def test_bad_rows_name_file_line_and_field_and_nothing_is_stored(fleet: Session) -> None:
    text = csv_text([_row(), _row(exchanged_at="yesterday", removed_final_read_kwh=-1)])
    with pytest.raises(fleet_service.FleetImportRefusedError) as refused:
        _import(fleet, "meter_exchanges", text)
    found = {(i.file, i.line, i.field) for i in refused.value.issues}
    assert found == {
        ("meter_exchanges.csv", 3, "exchanged_at"),
        ("meter_exchanges.csv", 3, "removed_final_read_kwh"),
    }
    assert _history(fleet, "M-CT2") == []


@pytest.mark.parametrize(
    ("row", "field", "code"),
    [
        (_row(service_point_number="SP-NOPE"), "service_point_number", "fleet.unknown_reference"),
        (_row(installed_serial="M-NOPE"), "installed_serial", "fleet.unknown_reference"),
        (_row(removed_serial="M000001"), "removed_serial", "fleet.exchange_conflict"),
        (_row(removed_serial="M-CT3"), "removed_serial", "fleet.exchange_conflict"),
        (_row(installed_serial="M000002"), "installed_serial", None),
        (_row(exchanged_at="2020-01-01T00:00:00Z"), "exchanged_at", None),
        (_row(removed_final_read_kwh=1), "removed_final_read_kwh", "register.read_below_previous"),
    ],
)
def test_an_exchange_that_contradicts_the_database_is_refused_whole(
    fleet: Session, row: dict[str, object], field: str, code: str | None
) -> None:
    good = _row(
        service_point_number="SP0",
        removed_serial="M000000",
        installed_serial="M-RES9",
        exchanged_at="2026-07-01T00:00:00Z",
        installed_multiplier="",
    )
    with pytest.raises(fleet_service.FleetImportRefusedError) as refused:
        _import(fleet, "meter_exchanges", csv_text([good, row]))
    (issue,) = refused.value.issues
    assert (issue.line, issue.field) == (3, field)
    if code is not None:
        assert issue.code == code
    assert _history(fleet, "M-RES9") == []  # the good row was not stored either
    assert _meter(fleet, "M-CT1").lifecycle_status is AssetStatus.INSTALLED


_NO_NEWLINE = st.characters(blacklist_characters="\r\n")


def test_a_lone_carriage_return_in_a_cell_is_reported_not_a_crash() -> None:
    rows = [_row(removed_final_read_kwh="\r")]
    parsed = parse_fleet_csv(csv_text(rows).encode(), file="meter_exchanges.csv")
    assert parsed.frame.height == 0
    assert parsed.issues
    assert all(i.file == "meter_exchanges.csv" for i in parsed.issues)


@settings(max_examples=40, deadline=None)
@given(
    reads=st.lists(
        st.one_of(st.floats(-1e6, 1e9), st.text(_NO_NEWLINE, max_size=6)), min_size=1, max_size=5
    )
)
def test_parsing_locates_every_bad_read_and_keeps_every_good_row(reads: list[object]) -> None:
    rows = [
        _row(removed_final_read_kwh=r, exchanged_at=f"2026-07-{k + 1:02d}T00:00:00Z")
        for k, r in enumerate(reads)
    ]
    parsed = parse_fleet_csv(csv_text(rows).encode(), file="meter_exchanges.csv")

    def good(read: object) -> bool:
        try:
            return float(str(read).strip()) >= 0
        except ValueError:
            return False

    bad_lines = {i.line for i in parsed.issues if i.field == "removed_final_read_kwh"}
    assert bad_lines == {k + 2 for k, r in enumerate(reads) if not good(r)}
    assert parsed.frame.height == sum(good(r) for r in reads)
    assert all(i.file == "meter_exchanges.csv" for i in parsed.issues)


@pytest.fixture
def run_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., tuple[int, str, str]]]:
    """The real ``meterops`` entry point on a private SQLite database (as tests/cli)."""
    monkeypatch.setenv("METEROPS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("METEROPS_DATABASE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    context.settings.cache_clear()
    context.engine.cache_clear()

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    yield run
    context.engine().dispose()
    context.settings.cache_clear()
    context.engine.cache_clear()


def test_the_cli_applies_the_history_after_the_snapshot_files_of_a_folder(
    run_cli: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    folder = tmp_path / "fleet"
    write_fleet(folder, meters=3)
    ct = next(r for r in fleet_rows(3)["meters"] if r["serial_number"] == "M-CT1")
    spare = {**ct, "serial_number": "M-CT2", "service_point_number": "", "installed_at": ""}
    (folder / "spare_meters.csv").write_text(csv_text([{**spare, "install_read_kwh": ""}]))
    (folder / "meter_exchanges.csv").write_text(csv_text([_row()]))
    run_cli("db", "upgrade")
    code, out, err = run_cli("fleet", "import", str(folder))
    assert code == 0, err
    assert "meter_exchanges.csv" in out
    code, out, _ = run_cli("meter", "show", "M-CT2")
    assert code == 0
    assert "SP-CI" in out
    assert "multiplier 40" in out
