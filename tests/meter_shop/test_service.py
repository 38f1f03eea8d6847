"""Meter shop services on the database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from meterops.assets.errors import MeterNotFoundError
from meterops.meter_shop import sampling
from meterops.meter_shop import service as shop_service
from meterops.meter_shop.errors import LotsAlreadyPlannedError, NoLotsPlannedError
from meterops.meter_shop.testfiles import TestFileRefusedError
from meterops.models import AuditEvent, Installation
from meterops.models.meter_shop import AccuracyTestPoint, AccuracyTestRecord, MeterTestSet
from tests.fixtures.builders import create_installed_meter, create_meter

FILES = Path(__file__).parent / "files"
NOW = dt.datetime(2026, 6, 5, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def shop_meters(session: Session) -> None:
    for serial, form in [
        ("SHOP0001", "2S"),
        ("SHOP0002", "2S"),
        ("SHOP0003", "9S"),
        ("SHOP0004", "2S"),
        ("SHOP0005", "2S"),
        ("SHOP0006", "16S"),
    ]:
        create_meter(session, serial_number=serial, form=form)


def test_a_file_is_imported_evaluated_and_audited(session: Session, shop_meters: None) -> None:
    data = (FILES / "shop_tests.csv").read_bytes()
    report = shop_service.import_test_file(
        session, data, file="shop_tests.csv", actor="tech7", now=NOW
    )
    assert (report.tests, report.created, report.duplicate_file) == (3, 3, False)
    assert report.verdicts == {"pass": 2, "fail_in_service": 1}
    points = session.scalar(select(func.count()).select_from(AccuracyTestPoint))
    assert points == 13
    tests = shop_service.list_tests(session, "SHOP0002")
    assert len(tests) == 1
    assert tests[0].as_found_average_pct == pytest.approx(103.0)
    assert tests[0].within_tolerance is False
    assert tests[0].verdict.value == "fail_in_service"
    assert tests[0].test_set_serial == "WECO-2350-118"
    audit = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "meter_shop.import")
    ).one()
    assert audit.data["created"] == 3


def test_the_same_file_twice_is_stored_once(session: Session, shop_meters: None) -> None:
    data = (FILES / "weco_board_export.csv").read_bytes()
    first = shop_service.import_test_file(session, data, file="a.csv", actor="x", now=NOW)
    again = shop_service.import_test_file(session, data, file="b.csv", actor="x", now=NOW)
    assert first.created == 3
    assert again.duplicate_file
    assert again.created == 0
    # Different bytes carrying a test already stored: the test is not stored twice.
    extra = data.replace(b"Test Board,WECO 2350", b"Test Board,WECO 2350 (copy)")
    third = shop_service.import_test_file(session, extra, file="c.csv", actor="x", now=NOW)
    assert (third.created, third.already_stored) == (0, 3)
    assert session.scalar(select(func.count()).select_from(AccuracyTestRecord)) == 3
    assert session.scalar(select(func.count()).select_from(MeterTestSet)) == 1


def test_unknown_meters_and_wrong_forms_refuse_the_whole_file(session: Session) -> None:
    create_meter(session, serial_number="SHOP0001", form="2S")
    create_meter(session, serial_number="SHOP0003", form="16S")
    data = (FILES / "shop_tests.csv").read_bytes()
    with pytest.raises(TestFileRefusedError) as info:
        shop_service.import_test_file(session, data, file="shop_tests.csv", actor="x", now=NOW)
    assert [(i.line, i.field, i.code) for i in info.value.issues] == [
        (5, "meter_serial", "meter_shop.unknown_meter"),
        (7, "form", "meter_shop.form_mismatch"),
    ]
    assert session.scalar(select(func.count()).select_from(AccuracyTestRecord)) == 0


def test_tests_of_an_unknown_meter_are_not_found(session: Session) -> None:
    with pytest.raises(MeterNotFoundError):
        shop_service.list_tests(session, "NOPE")


def _fleet(session: Session) -> dict[str, list[str]]:
    """Two lots installed in 2022: 60 Itron 4.2 (lot size 60 -> E, n 7) and 20 Aclara."""
    serials: dict[str, list[str]] = {"itron": [], "aclara": []}
    for i in range(60):
        meter, _ = create_installed_meter(session, serial_number=f"IT{i:05d}")
        serials["itron"].append(meter.serial_number)
    for i in range(20):
        meter, _ = create_installed_meter(
            session,
            serial_number=f"AC{i:05d}",
            vendor="Aclara",
            model="I210+",
            firmware_revision="1.1",
        )
        serials["aclara"].append(meter.serial_number)
    session.execute(
        update(Installation).values(installed_at_utc=dt.datetime(2022, 5, 1, tzinfo=dt.UTC))
    )
    return serials


def _csv_for(serials: list[str], registrations: list[float]) -> bytes:
    header = (FILES / "shop_tests.csv").read_text().splitlines()[0]
    rows = [header]
    for n, (serial, value) in enumerate(zip(serials, registrations, strict=True)):
        stamp = f"2026-03-{1 + n % 28:02d}T10:{n % 60:02d}:00+00:00"
        rows.extend(
            f"{serial},{stamp},field,tech1,sample,2S,CL200,0.5,TS-1,2026-01-02,2027-01-02,"
            f"as_found,{point},all,{value},,,,"
            for point in ("FL", "LL")
        )
    return ("\n".join(rows) + "\n").encode()


def test_a_programme_year_is_planned_tested_judged_and_rejected_lots_listed(
    session: Session,
) -> None:
    _fleet(session)
    plan = sampling.VariablesPlan(aql_pct=2.5)
    report = shop_service.plan_lots(session, year=2026, plan=plan, seed=2026, actor="x", now=NOW)
    assert (report.lots, report.meters, report.sampled) == (2, 80, 7 + 4)
    with pytest.raises(LotsAlreadyPlannedError):
        shop_service.plan_lots(session, year=2026, plan=plan, seed=1, actor="x", now=NOW)
    lots = {lot.lot_key: lot for lot in shop_service.list_lots(session, year=2026)}
    itron = lots["Itron|Centron|4.2|2022"]
    aclara = lots["Aclara|I210+|1.1|2022"]
    assert (itron.sample_size, itron.code_letter, itron.k) == (7, "E", 1.33)
    assert (aclara.sample_size, aclara.code_letter, aclara.k) == (4, "C", 1.17)

    samples = shop_service.sample_list(session, year=2026)
    itron_sample = [s.serial_number for s in samples if s.lot_key == itron.lot_key]
    aclara_sample = [s.serial_number for s in samples if s.lot_key == aclara.lot_key]
    # Itron tight around 100 %: accept. Aclara: mean 101.7 %, s = 0.5164, so
    # Q_U = (102 - 101.7) / 0.5164 = 0.581 < k = 1.17: reject (one meter is even outside).
    good = [99.9, 100.1, 100.0, 100.2, 99.8, 100.05, 99.95]
    fast = [101.5, 101.9, 101.1, 102.3]
    data = _csv_for(itron_sample + aclara_sample, good + fast)
    shop_service.import_test_file(session, data, file="sample.csv", actor="x", now=NOW)
    judged = {lot.lot_key: lot for lot in shop_service.update_lot_status(session, year=2026)}
    assert judged[itron.lot_key].decision == "accept"
    assert judged[itron.lot_key].tested == 7
    assert judged[aclara.lot_key].decision == "reject"
    assert judged[aclara.lot_key].mean_registration_pct == pytest.approx(101.7)
    assert judged[aclara.lot_key].std_registration_pct == pytest.approx(0.516398, abs=1e-6)
    assert judged[aclara.lot_key].outside_tolerance == 1
    replace = shop_service.replacements(session, year=2026)
    assert len(replace) == 20
    assert {r.lot_key for r in replace} == {aclara.lot_key}
    frame = shop_service.lot_results_frame(session, year=2026)
    assert frame.filter(pl.col("rejected"))["lot_key"].to_list() == [aclara.lot_key]


def test_status_without_a_plan_is_not_found(session: Session) -> None:
    with pytest.raises(NoLotsPlannedError):
        shop_service.update_lot_status(session, year=2031)
