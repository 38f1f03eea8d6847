"""Billing periods from the fleet database: accounts moving in and out, vacancy, tariffs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from meterops.determinants import repository
from meterops.errors import NotFoundError
from meterops.fleet import service as fleet_service
from meterops.fleet.parse import parse_fleet_csv
from meterops.fleet.programs import parse_programs_file
from meterops.fleet.spec import IMPORT_ORDER
from meterops.models.accounts import Account, Customer
from meterops.models.meters import Meter, MeterProgram
from tests.fixtures.fleet_files import PROGRAM, write_fleet

ZONE = ZoneInfo("America/Chicago")
NOW = dt.datetime(2024, 8, 2, tzinfo=dt.UTC)


def _import(session: Session, folder: Path) -> None:
    paths = write_fleet(folder, meters=3)
    for kind in IMPORT_ORDER:
        data = paths[kind].read_bytes()
        if kind == "meter_programs":
            fleet_service.import_programs(
                session, parse_programs_file(data, file="programs.yaml"), actor="t", now=NOW
            )
        else:
            fleet_service.import_file(
                session,
                parse_fleet_csv(data, file=f"{kind}.csv"),
                actor="t",
                default_timezone="America/Chicago",
                now=NOW,
            )
    session.flush()


def _local(day: int, month: int = 7) -> dt.datetime:
    return dt.datetime(2024, month, day, tzinfo=ZONE).astimezone(dt.UTC)


def test_periods_split_at_move_out_and_move_in_with_vacancy(
    session: Session, tmp_path: Path
) -> None:
    _import(session, tmp_path)
    a1 = session.scalars(select(Account).where(Account.account_number == "A1")).one()
    a1.move_out_date = dt.date(2024, 7, 15)
    customer = Customer(customer_number="C-NEW", name="New customer")
    session.add(customer)
    session.flush()
    session.add(
        Account(
            account_number="A1-NEW",
            customer_id=customer.id,
            service_point_id=a1.service_point_id,
            move_in_date=dt.date(2024, 7, 20),
            rate_code="RNEM",
            net_metering=True,
        )
    )
    session.flush()
    m1 = repository.meter_id_for_serial(session, "M000001")
    found = repository.billing_periods(
        session, start_utc=_local(1), end_utc=_local(1, 8), zone=ZONE, meter_id=m1
    )
    rows = found.periods.rows(named=True)
    assert [(r["period_start_utc"], r["period_end_utc"]) for r in rows] == [
        (_local(1), _local(15)),
        (_local(15), _local(20)),
        (_local(20), _local(1, 8)),
    ]
    assert rows[0]["account_id"] == a1.id
    assert rows[1]["account_id"] is None  # vacant: still computed
    assert rows[2]["net_metering"] is True
    assert {r["schedule_key"] for r in rows} == {"RES-TOU"}  # no tariff definition: the program
    assert found.specs["meter_id"].to_list() == [m1]


def test_tariff_definition_and_multiplier(session: Session, tmp_path: Path) -> None:
    _import(session, tmp_path)
    session.add(
        MeterProgram(
            program_code="RTOU-TARIFF",
            name="RTOU as filed",
            tariff_code="RTOU",
            tou_schedule=PROGRAM["tou_schedule"],
            channels=["kwh_delivered"],
        )
    )
    session.flush()
    found = repository.billing_periods(session, start_utc=_local(1), end_utc=_local(2), zone=ZONE)
    ct = session.scalars(select(Meter).where(Meter.serial_number == "M-CT1")).one()
    by_meter = {r["meter_id"]: r for r in found.periods.iter_rows(named=True)}
    assert by_meter[ct.id]["multiplier"] == 80.0
    assert by_meter[ct.id]["schedule_key"] is None  # no program: one flat period
    assert by_meter[ct.id]["account_id"] is None
    keys = {r["schedule_key"] for m, r in by_meter.items() if m != ct.id}
    assert keys == {"RTOU-TARIFF"}
    specs = found.specs.rows(named=True)
    assert len(specs) == 3
    assert {(s["tariff_schedule_key"], s["program_schedule_key"]) for s in specs} == {
        ("RTOU-TARIFF", "RES-TOU")
    }
    assert set(repository.schedules(session)) == {"RES-TOU", "RTOU-TARIFF"}


def test_unknown_serial(session: Session) -> None:
    with pytest.raises(NotFoundError, match="no meter with serial number"):
        repository.meter_id_for_serial(session, "NOPE")
