"""``payment_plans.csv``: the CIS's payment arrangements through the fleet import."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterops.fleet import service as fleet_service
from meterops.fleet.parse import detect_kind, parse_fleet_csv
from meterops.fleet.programs import parse_programs_file
from meterops.fleet.spec import IMPORT_ORDER
from meterops.models import Account
from meterops.models.accounts import PaymentPlan, PaymentPlanStatus
from tests.fixtures.fleet_files import write_fleet

NOW = dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC)
HEADER = "plan_number,account_number,start_date,end_date,status"


def _csv(*rows: str) -> bytes:
    return "\n".join([HEADER, *rows]).encode() + b"\n"


def _import(
    session: Session, data: bytes, file: str = "payment_plans.csv"
) -> fleet_service.ImportReport:
    return fleet_service.import_file(
        session,
        parse_fleet_csv(data, file=file),
        actor="test",
        default_timezone="America/Chicago",
        now=NOW,
    )


def _fleet_without_plans(session: Session, folder: Path) -> None:
    paths = write_fleet(folder, meters=4)
    for kind in IMPORT_ORDER[: IMPORT_ORDER.index("payment_plans")]:
        data = paths[kind].read_bytes()
        if kind == "meter_programs":
            fleet_service.import_programs(
                session, parse_programs_file(data, file="programs.yaml"), actor="test", now=NOW
            )
        else:
            _import(session, data, file=f"{kind}.csv")


def _plans(session: Session) -> dict[str, tuple[str, dt.date, dt.date | None, str]]:
    rows = session.execute(
        select(
            PaymentPlan.plan_number,
            Account.account_number,
            PaymentPlan.start_date,
            PaymentPlan.end_date,
            PaymentPlan.status,
        ).join(Account, Account.id == PaymentPlan.account_id)
    ).all()
    return {n: (a, s, e, status.value) for n, a, s, e, status in rows}


def test_payment_plans_come_after_accounts_and_are_recognised_by_name_or_header() -> None:
    assert IMPORT_ORDER.index("accounts") < IMPORT_ORDER.index("payment_plans")
    assert detect_kind("cis/payment_plans.csv", []) == "payment_plans"
    assert detect_kind("export-17.csv", HEADER.split(",")) == "payment_plans"


def test_a_plans_file_is_stored_with_its_account_and_open_by_default(
    session: Session, tmp_path: Path
) -> None:
    _fleet_without_plans(session, tmp_path)
    report = _import(
        session,
        _csv(
            "PP-1,A1,2024-01-15,,",
            "PP-2,A2,2023-02-01,2023-08-31,completed",
            "PP-3,A3,2024-03-01,2024-12-31,open",
        ),
    )
    assert (report.kind, report.created, report.updated) == ("payment_plans", 3, 0)
    assert _plans(session) == {
        "PP-1": ("A1", dt.date(2024, 1, 15), None, "open"),
        "PP-2": ("A2", dt.date(2023, 2, 1), dt.date(2023, 8, 31), "completed"),
        "PP-3": ("A3", dt.date(2024, 3, 1), dt.date(2024, 12, 31), "open"),
    }
    stored = session.scalars(select(PaymentPlan).where(PaymentPlan.plan_number == "PP-1")).one()
    assert stored.status is PaymentPlanStatus.OPEN
    assert stored.created_at_utc is not None


def test_the_same_file_twice_is_stored_once_and_the_same_rows_again_change_nothing(
    session: Session, tmp_path: Path
) -> None:
    _fleet_without_plans(session, tmp_path)
    data = _csv("PP-1,A1,2024-01-15,,open", "PP-2,A2,2024-02-01,2024-08-31,open")
    assert _import(session, data).created == 2
    again = _import(session, data)
    assert again.duplicate_file
    reordered = _csv("PP-2,A2,2024-02-01,2024-08-31,open", "PP-1,A1,2024-01-15,,open")
    report = _import(session, reordered, file="plans-june.csv")
    assert (report.created, report.updated, report.unchanged) == (0, 0, 2)
    assert session.scalar(select(func.count()).select_from(PaymentPlan)) == 2


def test_a_later_file_closes_a_plan_by_its_number(session: Session, tmp_path: Path) -> None:
    _fleet_without_plans(session, tmp_path)
    _import(session, _csv("PP-1,A1,2024-01-15,,open"))
    report = _import(session, _csv("PP-1,A1,2024-01-15,2024-05-31,completed"), file="b.csv")
    assert (report.created, report.updated) == (0, 1)
    assert _plans(session)["PP-1"] == (
        "A1",
        dt.date(2024, 1, 15),
        dt.date(2024, 5, 31),
        "completed",
    )


def test_a_plan_of_an_unknown_account_refuses_the_file_naming_line_and_field(
    session: Session, tmp_path: Path
) -> None:
    _fleet_without_plans(session, tmp_path)
    with pytest.raises(fleet_service.FleetImportRefusedError) as caught:
        _import(session, _csv("PP-1,A1,2024-01-15,,open", "PP-2,A-GONE,2024-01-15,,open"))
    (issue,) = caught.value.issues
    assert (issue.file, issue.line, issue.field, issue.code) == (
        "payment_plans.csv",
        3,
        "account_number",
        "fleet.unknown_reference",
    )
    assert "'A-GONE'" in issue.message
    assert "accounts" in issue.message
    assert "nothing of it was stored" in caught.value.message
    assert _plans(session) == {}


@pytest.mark.parametrize(
    ("row", "field", "code"),
    [
        ("PP-1,A1,2024-05-01,2024-04-30,open", "end_date", "fleet.date_order"),
        ("PP-1,A1,2024-13-01,,open", "start_date", "fleet.not_a_date"),
        ("PP-1,A1,,,open", "start_date", "fleet.required"),
        ("PP-1,A1,2024-05-01,,paused", "status", "fleet.bad_choice"),
        (",A1,2024-05-01,,open", "plan_number", "fleet.required"),
    ],
)
def test_bad_rows_are_named_by_file_line_and_field(row: str, field: str, code: str) -> None:
    parsed = parse_fleet_csv(_csv("PP-0,A0,2024-01-01,,open", row), file="cis/payment_plans.csv")
    assert [(i.file, i.line, i.field, i.code) for i in parsed.issues] == [
        ("cis/payment_plans.csv", 3, field, code)
    ]
    assert parsed.frame.height == 1


def test_a_repeated_plan_number_is_refused() -> None:
    parsed = parse_fleet_csv(
        _csv("PP-1,A1,2024-01-01,,open", "PP-1,A2,2024-01-01,,open"), file="payment_plans.csv"
    )
    assert [(i.line, i.field, i.code) for i in parsed.issues] == [
        (3, "plan_number", "fleet.duplicate_key")
    ]


_day = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2040, 12, 31))


@given(
    st.lists(
        st.tuples(
            _day,
            st.none() | st.integers(min_value=-400, max_value=4000),
            st.sampled_from(["open", "completed", "defaulted", "cancelled", ""]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_the_parser_flags_exactly_the_rows_whose_end_is_before_their_start(
    rows: list[tuple[dt.date, int | None, str]],
) -> None:
    lines = []
    for i, (start, offset, status) in enumerate(rows):
        end = "" if offset is None else (start + dt.timedelta(days=offset)).isoformat()
        lines.append(f"PP{i},A{i},{start.isoformat()},{end},{status}")
    parsed = parse_fleet_csv(_csv(*lines), file="payment_plans.csv")
    bad = [i + 2 for i, (_, offset, _) in enumerate(rows) if offset is not None and offset < 0]
    assert [(i.line, i.field, i.code) for i in parsed.issues] == [
        (line, "end_date", "fleet.date_order") for line in bad
    ]
    assert parsed.frame.height == len(rows) - len(bad)
    statuses = parsed.frame["status"].to_list()
    assert set(statuses) <= {"open", "completed", "defaulted", "cancelled", None}


@pytest.mark.parametrize(
    ("values", "what"),
    [
        ("'PP-9', :account, '2024-05-01', '2024-04-30', 'open'", "end before start"),
        ("'PP-9', :account, '2024-05-01', NULL, 'paused'", "unknown status"),
        ("'PP-1', :account, '2024-05-01', NULL, 'open'", "repeated plan number"),
        ("'PP-9', -1, '2024-05-01', NULL, 'open'", "unknown account"),
    ],
)
def test_the_database_refuses_what_the_import_refuses(
    session: Session, tmp_path: Path, values: str, what: str
) -> None:
    _fleet_without_plans(session, tmp_path)
    _import(session, _csv("PP-1,A1,2024-01-15,,open"))
    account = session.scalars(select(Account.id).where(Account.account_number == "A2")).one()
    statement = text(
        "INSERT INTO payment_plans (plan_number, account_id, start_date, end_date, status) "
        f"VALUES ({values})"
    )
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(statement, {"account": account})
    assert session.scalar(select(func.count()).select_from(PaymentPlan)) == 1, what
