"""The exception store: one open exception per meter and kind, closed on recovery, history kept.

Runs on SQLite and, with ``METEROPS_TEST_DATABASE_URL``, on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterops.diagnostics import service as diagnostics_service
from meterops.diagnostics.kinds import Cause, ExceptionKind
from meterops.diagnostics.repository import ExceptionRepository
from meterops.diagnostics.rules import VERDICTS, diagnose
from meterops.models.diagnostics import DiagnosticException, ExceptionStatus
from tests.fixtures.builders import JAN_1, create_account, create_installed_meter

DAY1 = dt.datetime(2026, 7, 10, 10, tzinfo=dt.UTC)
DAY2 = DAY1 + dt.timedelta(days=1)


def _found(rows: list[tuple[int, str, dict[str, object]]]) -> pl.DataFrame:
    exceptions = pl.DataFrame(
        {
            "meter_id": [r[0] for r in rows],
            "kind": [r[1] for r in rows],
            "first_seen_utc": [DAY1 - dt.timedelta(hours=30)] * len(rows),
            "last_seen_utc": [DAY1] * len(rows),
            "evidence": [json.dumps(r[2]) for r in rows],
        },
        schema={
            "meter_id": pl.Int64,
            "kind": pl.String,
            "first_seen_utc": pl.Datetime("us", "UTC"),
            "last_seen_utc": pl.Datetime("us", "UTC"),
            "evidence": pl.String,
        },
    )
    facts = pl.DataFrame({"meter_id": [r[0] for r in rows], "mode": ["silent"] * len(rows)})
    verdicts = diagnose(exceptions, facts) if rows else pl.DataFrame(schema=VERDICTS)
    return exceptions.hstack(verdicts.drop("meter_id", "kind"))


def _record(
    session: Session, found: pl.DataFrame, at: dt.datetime
) -> diagnostics_service.RunSummary:
    summary = diagnostics_service.RunSummary(as_of_utc=at)
    diagnostics_service.record_exceptions(session, found, as_of_utc=at, summary=summary)
    return summary


def test_a_repeated_finding_refreshes_the_open_exception_and_recovery_closes_it(
    session: Session,
) -> None:
    meter, _ = create_installed_meter(session)
    other, _ = create_installed_meter(session)
    found = _found([(meter.id, "non_communicating", {"mode": "silent"}), (other.id, "tamper", {})])
    first = _record(session, found, DAY1)
    assert (first.opened, first.refreshed, first.closed) == (2, 0, 0)
    second = _record(session, found.filter(pl.col("kind") == "non_communicating"), DAY2)
    assert (second.opened, second.refreshed, second.closed) == (0, 1, 1)
    rows = session.scalars(select(DiagnosticException).order_by(DiagnosticException.id)).all()
    assert [(r.kind, r.status) for r in rows] == [
        (ExceptionKind.NON_COMMUNICATING, ExceptionStatus.OPEN),
        (ExceptionKind.TAMPER, ExceptionStatus.CLOSED),
    ]
    assert rows[0].cause is Cause.UNDETERMINED  # silent, and no radio facts to go on
    assert rows[0].opened_at_utc == DAY1
    closed = rows[1]
    assert closed.closed_at_utc == DAY2
    assert closed.close_reason == "recovered: no tamper event in the window"
    # A relapse opens a new exception; the closed one stays as history.
    third = _record(session, found, DAY2 + dt.timedelta(days=1))
    assert third.opened == 1
    history = diagnostics_service.meter_exceptions(session, other.serial_number)
    assert sorted(str(r.status) for r in history) == ["closed", "open"]


def test_every_kind_has_a_recovery_reason() -> None:
    assert set(diagnostics_service.RECOVERY_REASONS) == set(ExceptionKind)


def test_a_wrong_multiplier_stays_open_until_its_exchange_is_judged_right_again(
    session: Session,
) -> None:
    meter, _ = create_installed_meter(session)
    found = _found([(meter.id, "wrong_multiplier", {"exchange_day": "2026-07-01"})])
    _record(session, found, DAY1)
    summary = diagnostics_service.RunSummary(as_of_utc=DAY2)
    none = found.clear()
    # the exchange left the window: not judged, the exception stays open
    diagnostics_service.record_exceptions(
        session, none, as_of_utc=DAY2, summary=summary, judged={"wrong_multiplier": set()}
    )
    row = session.scalars(select(DiagnosticException)).one()
    assert (row.status, summary.closed) == (ExceptionStatus.OPEN, 0)
    # judged again and not found (the multiplier was corrected): it closes, with the reason
    later = DAY2 + dt.timedelta(days=1)
    diagnostics_service.record_exceptions(
        session, none, as_of_utc=later, summary=summary, judged={"wrong_multiplier": {meter.id}}
    )
    row = session.scalars(select(DiagnosticException)).one()
    assert row.status is ExceptionStatus.CLOSED
    assert row.close_reason == (
        "recovered: the billed use no longer steps at the exchange (multiplier corrected)"
    )


def test_the_database_refuses_a_second_open_exception_of_a_meter_and_kind(
    session: Session,
) -> None:
    meter, _ = create_installed_meter(session)

    def add() -> None:
        session.add(
            DiagnosticException(
                meter_id=meter.id,
                kind=ExceptionKind.HOT_SOCKET,
                status=ExceptionStatus.OPEN,
                first_seen_utc=DAY1,
                last_seen_utc=DAY1,
                opened_at_utc=DAY1,
                evidence={},
            )
        )
        session.flush()

    add()
    nested = session.begin_nested()
    with pytest.raises(IntegrityError):
        add()
    nested.rollback()
    row = session.scalars(select(DiagnosticException)).one()
    row.status = ExceptionStatus.CLOSED
    session.flush()
    add()  # a closed one does not count


def test_the_meter_context_has_the_account_and_grid_of_installed_meters(session: Session) -> None:
    meter, point = create_installed_meter(session)
    create_account(session, service_point=point, rate_code="RTOU")
    vacant, _ = create_installed_meter(session)
    context = ExceptionRepository(session).meter_context(dt.date(2026, 7, 10))
    rows = {r["serial_number"]: r for r in context.iter_rows(named=True)}
    assert rows[meter.serial_number]["account_active"] is True
    assert rows[meter.serial_number]["rate_code"] == "RTOU"
    assert rows[vacant.serial_number]["account_active"] is False
    assert rows[meter.serial_number]["install_year"] == JAN_1.year
