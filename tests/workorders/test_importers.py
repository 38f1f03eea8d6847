"""Programme CSV files: whole file or nothing, every problem located, re-import is a no-op."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from meterops.models.workorders import OrderSource
from meterops.workorders import service as workorders_service
from meterops.workorders.errors import ProgrammeImportRefusedError
from meterops.workorders.importers import COLUMNS, parse_programme_csv
from meterops.workorders.schemas import OrderFilter
from tests.workorders.conftest import NOW, POLICY, MeterAt


def _csv(*rows: str, header: str = "order_type,meter_serial,campaign,priority,parts") -> bytes:
    return ("\n".join((header, *rows)) + "\n").encode()


def test_a_programme_file_creates_its_orders(session: Session, meter_at: MeterAt) -> None:
    first, second = meter_at(41.0, -93.0), meter_at(41.1, -93.1)
    data = _csv(
        f"exchange,{first.serial_number},AMI2-2026,5,meter 2S;seals",
        f"exchange,{second.serial_number},AMI2-2026,,",
    )
    imported = workorders_service.import_programme(
        session, data, file="wave1.csv", actor="planner", now=NOW, policy=POLICY
    )
    assert (imported.rows, len(imported.result.created)) == (2, 2)
    orders = workorders_service.list_orders(session, OrderFilter(campaign="AMI2-2026"))
    assert {o.source for o in orders} == {OrderSource.PROGRAMME}
    assert sorted(o.priority for o in orders) == [4, 5]
    assert [o.parts for o in orders if o.priority == 5] == [["meter 2S", "seals"]]


def test_importing_the_same_file_again_creates_nothing(session: Session, meter_at: MeterAt) -> None:
    data = _csv(f"exchange,{meter_at().serial_number},AMI2-2026,,")
    workorders_service.import_programme(
        session, data, file="w.csv", actor="planner", now=NOW, policy=POLICY
    )
    again = workorders_service.import_programme(
        session, data, file="w.csv", actor="planner", now=NOW, policy=POLICY
    )
    assert again.result.created == []
    assert len(again.result.duplicates) == 1


def test_a_file_with_bad_rows_is_refused_whole_naming_file_line_and_field(
    session: Session, meter_at: MeterAt
) -> None:
    good = meter_at()
    data = _csv(
        f"exchange,{good.serial_number},AMI2-2026,,",
        "exchange,NO-SUCH-METER,AMI2-2026,,",
        f"exchange,{good.serial_number},AMI2-2026,9,",
        "swap,X,AMI2-2026,,",
    )
    with pytest.raises(ProgrammeImportRefusedError) as refused:
        workorders_service.import_programme(
            session, data, file="wave2.csv", actor="planner", now=NOW, policy=POLICY
        )
    where = sorted((i.line, i.field) for i in refused.value.issues)
    assert where == [(4, "priority"), (5, "order_type")]
    assert "wave2.csv, line 4, field 'priority'" in refused.value.message
    # Only after the values are clean are subjects looked up: then the unknown meter shows.
    fixed = data.replace(b",9,", b",3,").replace(
        b"swap,X", b"exchange," + good.serial_number.encode()
    )
    with pytest.raises(ProgrammeImportRefusedError) as refused_again:
        workorders_service.import_programme(
            session, fixed, file="wave2.csv", actor="planner", now=NOW, policy=POLICY
        )
    assert [(i.line, i.field, i.code) for i in refused_again.value.issues] == [
        (3, "meter_serial", "meter.not_found")
    ]
    assert workorders_service.list_orders(session, OrderFilter(campaign="AMI2-2026")) == []


def test_an_unknown_column_is_reported_on_the_header_line() -> None:
    parsed = parse_programme_csv(b"order_type,meter_serial,colour\nexchange,M1,red\n", file="x.csv")
    assert [(i.line, i.field) for i in parsed.issues] == [(1, "colour")]
    assert parsed.requests == []


def test_every_documented_column_is_in_the_docs() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "workorders.md").read_text()
    missing = [name for name in COLUMNS if f"`{name}`" not in doc]
    assert missing == []
