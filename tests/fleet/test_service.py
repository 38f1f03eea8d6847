"""Fleet import into the database: whole files, idempotent, fully reported."""

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meterops.assets import service as assets_service
from meterops.assets.lifecycle import AssetStatus
from meterops.db.base import Base
from meterops.fleet import service as fleet_service
from meterops.fleet.parse import parse_fleet_csv
from meterops.fleet.programs import parse_programs_file, parse_programs_yaml
from meterops.fleet.spec import IMPORT_ORDER
from meterops.models import (
    Account,
    CommModuleLink,
    Customer,
    FleetImport,
    Installation,
    Meter,
    MeterProgram,
    ServicePoint,
)
from tests.fixtures.fleet_files import csv_text, fleet_rows, write_fleet

NOW = dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC)


def _import_bytes(
    session: Session, kind: str, data: bytes, file: str | None = None
) -> fleet_service.ImportReport:
    if kind == "meter_programs":
        parsed_programs = parse_programs_file(data, file="programs.yaml")
        return fleet_service.import_programs(session, parsed_programs, actor="test", now=NOW)
    parsed = parse_fleet_csv(data, file=file or f"{kind}.csv")
    return fleet_service.import_file(
        session, parsed, actor="test", default_timezone="America/Chicago", now=NOW
    )


def _import_all(session: Session, paths: dict[str, Path]) -> list[fleet_service.ImportReport]:
    return [
        _import_bytes(session, kind, paths[kind].read_bytes())
        for kind in IMPORT_ORDER
        if kind in paths
    ]


def _count(session: Session, model: type[Base]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_whole_fleet_imports_with_installations_links_and_accounts(
    session: Session, tmp_path: Path
) -> None:
    reports = _import_all(session, write_fleet(tmp_path, meters=12))
    created = {r.kind: r.created for r in reports}
    assert created["meters"] == 13
    assert created["service_points"] == 13
    assert created["accounts"] == 12
    assert _count(session, Installation) == 13
    assert _count(session, CommModuleLink) == 12
    assert _count(session, Customer) == 12
    detail = assets_service.meter_detail(session, "M-CT1")
    assert detail.meter.multiplier == 80.0
    assert detail.meter.lifecycle_status is AssetStatus.INSTALLED
    assert detail.service_point is not None
    assert detail.service_point.transformer_code == "X0"
    assert detail.service_point.feeder_code == "F1"
    assert assets_service.meter_detail(session, "M000003").comm_module is not None
    program = session.scalars(select(MeterProgram)).one()
    assert program.tou_schedule["seasons"][0]["name"] == "summer"


def test_importing_the_same_files_again_changes_nothing(session: Session, tmp_path: Path) -> None:
    paths = write_fleet(tmp_path, meters=8)
    _import_all(session, paths)
    journal = _count(session, FleetImport)
    again = _import_all(session, paths)
    assert all(r.duplicate_file for r in again)
    assert sum(r.created + r.updated for r in again) == 0
    assert _count(session, FleetImport) == journal


def test_the_same_rows_in_another_order_are_recognised_as_unchanged(
    session: Session, tmp_path: Path
) -> None:
    _import_all(session, write_fleet(tmp_path, meters=8))
    rows = fleet_rows(8)["meters"]
    report = _import_bytes(session, "meters", csv_text(rows[::-1]).encode())
    assert not report.duplicate_file
    assert (report.created, report.updated, report.unchanged) == (0, 0, 9)


def test_changed_attributes_are_updated_and_new_rows_created(
    session: Session, tmp_path: Path
) -> None:
    _import_all(session, write_fleet(tmp_path, meters=6))
    rows = fleet_rows(7)["meters"]  # one more meter than before
    rows[0]["firmware_revision"] = "4.3"
    rows[6]["service_point_number"] = ""
    rows[6]["installed_at"] = ""
    report = _import_bytes(session, "meters", csv_text(rows).encode())
    assert (report.created, report.updated) == (1, 1)
    assert assets_service.get_meter(session, "M000000").firmware_revision == "4.3"
    assert assets_service.get_meter(session, "M000006").lifecycle_status is AssetStatus.IN_STOCK


def test_a_file_with_one_bad_row_is_refused_whole(session: Session, tmp_path: Path) -> None:
    paths = write_fleet(tmp_path, meters=6)
    for kind in IMPORT_ORDER[: IMPORT_ORDER.index("meters")]:
        if kind in paths:
            _import_bytes(session, kind, paths[kind].read_bytes())
    rows = fleet_rows(6)["meters"]
    rows[4]["form"] = "2X"
    before = _count(session, Meter)
    with pytest.raises(fleet_service.FleetImportRefusedError) as caught:
        _import_bytes(session, "meters", csv_text(rows).encode())
    assert [(i.line, i.field) for i in caught.value.issues] == [(6, "form")]
    assert "nothing of it was stored" in caught.value.message
    assert _count(session, Meter) == before


def test_unknown_references_are_located(session: Session, tmp_path: Path) -> None:
    paths = write_fleet(tmp_path, meters=4)
    for kind in ("territories", "feeders", "transformers", "premises"):
        _import_bytes(session, kind, paths[kind].read_bytes())
    rows = fleet_rows(4)["service_points"]
    rows[2]["premise_number"] = "P-NOWHERE"
    with pytest.raises(fleet_service.FleetImportRefusedError) as caught:
        _import_bytes(session, "service_points", csv_text(rows).encode())
    (issue,) = caught.value.issues
    assert (issue.line, issue.field, issue.code) == (4, "premise_number", "fleet.unknown_reference")
    assert "'P-NOWHERE'" in issue.message
    assert _count(session, ServicePoint) == 0


def _import_until(session: Session, paths: dict[str, Path], last: str) -> None:
    for kind in IMPORT_ORDER[: IMPORT_ORDER.index(last)]:
        if kind in paths:
            _import_bytes(session, kind, paths[kind].read_bytes())


def test_a_meter_form_the_socket_cannot_take_is_refused(session: Session, tmp_path: Path) -> None:
    paths = write_fleet(tmp_path, meters=3)
    _import_until(session, paths, "meters")
    rows = fleet_rows(3)["meters"]
    rows[-1]["service_point_number"] = "SP1"  # the 9S CT meter onto a residential 2S socket
    rows[1]["service_point_number"] = "SP-CI"
    with pytest.raises(fleet_service.FleetImportRefusedError) as caught:
        _import_bytes(session, "meters", csv_text(rows).encode())
    codes = {(i.line, i.code) for i in caught.value.issues}
    assert (5, "meter.incompatible_form") in codes
    assert (3, "meter.incompatible_form") in codes
    assert _count(session, Meter) == 0


def test_two_meters_claiming_one_service_point_are_refused(
    session: Session, tmp_path: Path
) -> None:
    paths = write_fleet(tmp_path, meters=3)
    _import_until(session, paths, "meters")
    rows = fleet_rows(3)["meters"]
    rows[2]["service_point_number"] = "SP0"
    with pytest.raises(fleet_service.FleetImportRefusedError) as caught:
        _import_bytes(session, "meters", csv_text(rows).encode())
    (issue,) = caught.value.issues
    assert (issue.line, issue.code) == (4, "service_point.occupied")
    assert "line 2" in issue.message


def test_an_import_cannot_move_an_installed_meter(session: Session, tmp_path: Path) -> None:
    paths = write_fleet(tmp_path, meters=3)
    _import_all(session, paths)
    rows = fleet_rows(3)["meters"]
    rows[0]["service_point_number"], rows[1]["service_point_number"] = "SP1", "SP0"
    with pytest.raises(fleet_service.FleetImportRefusedError) as caught:
        _import_bytes(session, "meters", csv_text(rows).encode())
    assert {(i.line, i.code) for i in caught.value.issues} == {
        (2, "fleet.installation_change"),
        (3, "fleet.installation_change"),
    }


def test_a_customer_with_two_different_names_is_refused(session: Session, tmp_path: Path) -> None:
    paths = write_fleet(tmp_path, meters=3)
    _import_until(session, paths, "accounts")
    rows = fleet_rows(3)["accounts"]
    rows[1]["customer_number"] = rows[0]["customer_number"]
    with pytest.raises(fleet_service.FleetImportRefusedError) as caught:
        _import_bytes(session, "accounts", csv_text(rows).encode())
    assert caught.value.issues[0].code == "fleet.customer_conflict"
    assert _count(session, Account) == 0


def test_an_invalid_tou_schedule_is_located_in_the_programs_file() -> None:
    text = "programs:\n  - program_code: P1\n    tou_schedule:\n      seasons: []\n"
    programs, issues = parse_programs_yaml(text, file="programs.yaml")
    assert programs == []
    assert [(i.line, i.field) for i in issues] == [(2, "tou_schedule")]
