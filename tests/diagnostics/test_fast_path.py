"""The metro-scale paths give what the straightforward ones gave, on a seeded town.

``service.load_inputs`` reads the interval reads batch by batch of meter ids and only the
columns the detectors use; ``service.record_exceptions`` keeps the exception store with bulk
statements. The references here are the code they replaced: one scan of the whole window
with every column, and one ORM object per exception.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import select
from sqlalchemy.orm import Session

from meterops.diagnostics import service as diagnostics_service
from meterops.diagnostics.detect import last_read_times, summarise_intervals
from meterops.diagnostics.engine import detect_exceptions
from meterops.diagnostics.facts import meter_facts
from meterops.diagnostics.frames import METER_CONTEXT
from meterops.diagnostics.kinds import ExceptionKind
from meterops.diagnostics.params import DetectParams
from meterops.diagnostics.repository import ExceptionRepository
from meterops.diagnostics.rules import diagnose
from meterops.models.diagnostics import DiagnosticException, ExceptionStatus
from meterops.simulator import FaultRates
from tests.diagnostics.town import ZONE, Town, build_town

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def town(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    built = build_town(
        tmp_path_factory.mktemp("fast-town"),
        module_database_url,
        seed=29,
        service_points=120,
        days=22,
        rates=FaultRates().scaled(40),
    )
    yield built
    built.engine.dispose()


def _load(town: Town, session: Session, at: dt.datetime, batch: int) -> Any:
    inputs, _ = diagnostics_service.load_inputs(
        session, town.store, as_of_utc=at, zone=ZONE, lookback_days=21, batch_meters=batch
    )
    return inputs


@pytest.mark.parametrize("batch", [1, 7, 1_000_000])
def test_batched_reads_give_the_frames_of_one_whole_scan(town: Town, batch: int) -> None:
    start = town.as_of - dt.timedelta(days=21)
    reads = town.store.current_interval_reads(
        start_utc=start,
        end_utc=town.as_of,
        channels=("kwh_delivered", "kwh_received", "voltage_min_v", "voltage_max_v"),
        as_of_utc=town.as_of,
    )
    with town.sessions() as session:
        inputs = _load(town, session, town.as_of, batch)
    assert inputs.daily.height > 0
    # Sums of floats: Polars' parallel group-by adds in no fixed order, so a second whole
    # scan differs from the first in the last bits too (measured: up to 1e-12 kWh).
    assert_frame_equal(
        inputs.daily, summarise_intervals(reads, zone=ZONE), check_exact=False, rel_tol=1e-9
    )
    assert inputs.last_reads.equals(
        last_read_times(reads.filter(pl.col("channel") == "kwh_delivered"))
    )
    voltage = reads.filter(pl.col("channel").is_in(["voltage_min_v", "voltage_max_v"]))
    key = ["meter_id", "channel", "interval_start_utc"]
    assert voltage.height > 0
    assert inputs.voltage_reads.columns == ["meter_id", "channel", "interval_start_utc", "value"]
    assert (
        inputs.voltage_reads.with_columns(pl.col("channel").cast(pl.String))
        .sort(key)
        .equals(voltage.select(inputs.voltage_reads.columns).sort(key))
    )


def test_the_detectors_find_the_same_on_the_batched_inputs(town: Town) -> None:
    """Every detector over the batched, projected inputs equals it over one whole scan."""
    with town.sessions() as session:
        inputs = _load(town, session, town.as_of, 7)
    start = town.as_of - dt.timedelta(days=21)
    reads = town.store.current_interval_reads(
        start_utc=start,
        end_utc=town.as_of,
        channels=("kwh_delivered", "kwh_received", "voltage_min_v", "voltage_max_v"),
        as_of_utc=town.as_of,
    )
    whole = replace(
        inputs,
        daily=summarise_intervals(reads, zone=ZONE),
        last_reads=last_read_times(reads.filter(pl.col("channel") == "kwh_delivered")),
        voltage_reads=reads.filter(pl.col("channel").is_in(["voltage_min_v", "voltage_max_v"])),
    )
    params = DetectParams()
    found = detect_exceptions(inputs, params=params)
    assert found.height > 0
    assert found.equals(detect_exceptions(whole, params=params))


def _found(town: Town, session: Session, at: dt.datetime) -> pl.DataFrame:
    inputs = _load(town, session, at, 50)
    params = DetectParams()
    exceptions = detect_exceptions(inputs, params=params)
    verdicts = diagnose(exceptions, meter_facts(inputs, exceptions, params=params))
    return exceptions.hstack(verdicts.drop("meter_id", "kind"))


def _reference_record(
    session: Session, found: pl.DataFrame, at: dt.datetime
) -> diagnostics_service.RunSummary:
    """The ORM-object-per-exception store keeping that ``record_exceptions`` replaced."""
    summary = diagnostics_service.RunSummary(as_of_utc=at)
    open_rows = {
        (row.meter_id, row.kind): row
        for row in session.scalars(
            select(DiagnosticException).where(DiagnosticException.status == ExceptionStatus.OPEN)
        )
    }
    seen = set()
    for record in found.iter_rows(named=True):
        key = (int(record["meter_id"]), ExceptionKind(record["kind"]))
        seen.add(key)
        row = open_rows.get(key)
        if row is None:
            row = DiagnosticException(
                meter_id=key[0],
                kind=key[1],
                status=ExceptionStatus.OPEN,
                first_seen_utc=record["first_seen_utc"],
                opened_at_utc=at,
            )
            session.add(row)
            summary.opened += 1
        else:
            summary.refreshed += 1
        row.last_seen_utc = record["last_seen_utc"]
        row.evidence = json.loads(record["evidence"])
        row.cause = record["cause"]
        row.rule_id = record["rule_id"]
        row.confidence = record["confidence"]
        row.action = record["action"]
        row.order_type = record["order_type"]
        row.remote_command = record["remote_command"]
        row.summary = record["summary"][:2000]
        row.verdict_evidence = {
            **json.loads(record["verdict_evidence"]),
            "subject": record["subject"],
            "priority": record["priority"],
        }
    for key, row in open_rows.items():
        if key not in seen:
            row.status = ExceptionStatus.CLOSED
            row.closed_at_utc = at
            row.close_reason = f"recovered: {diagnostics_service.RECOVERY_REASONS[key[1]]}"
            summary.closed += 1
    session.flush()
    return summary


def _state(session: Session) -> list[tuple[Any, ...]]:
    session.expire_all()
    rows = session.scalars(select(DiagnosticException)).all()
    return sorted(
        (
            r.meter_id,
            str(r.kind),
            str(r.status),
            r.first_seen_utc,
            r.last_seen_utc,
            r.opened_at_utc,
            r.closed_at_utc,
            r.close_reason,
            json.dumps(r.evidence, sort_keys=True),
            str(r.cause),
            r.rule_id,
            r.confidence,
            str(r.action),
            r.order_type,
            r.remote_command,
            r.summary,
            json.dumps(r.verdict_evidence, sort_keys=True),
        )
        for r in rows
    )


def test_bulk_store_keeping_leaves_the_rows_the_orm_loop_left(town: Town) -> None:
    days = [town.as_of + dt.timedelta(days=n) for n in (0, 3, 9)]
    with town.sessions() as session:
        found = [_found(town, session, at) for at in days]
    outcomes = []
    for record in (_reference_record, None):
        with town.sessions() as session, session.begin():
            counts = []
            for at, frame in zip(days, found, strict=True):
                if record is None:
                    summary = diagnostics_service.RunSummary(as_of_utc=at)
                    ids = diagnostics_service.record_exceptions(
                        session, frame, as_of_utc=at, summary=summary
                    )
                    assert len(ids) == frame.height
                    named = dict(
                        session.execute(
                            select(
                                DiagnosticException.id,
                                DiagnosticException.meter_id,
                            ).where(DiagnosticException.id.in_(ids))
                        ).all()
                    )
                    assert [named[i] for i in ids] == frame["meter_id"].to_list()
                else:
                    summary = record(session, frame, at)
                counts.append((summary.opened, summary.refreshed, summary.closed))
            outcomes.append((counts, _state(session)))
            session.rollback()
    (reference_counts, reference_rows), (counts, rows) = outcomes
    assert counts == reference_counts
    assert any(closed for _, _, closed in counts)  # the later days close some
    assert any(opened for _, (opened, _, _) in zip(days[1:], counts[1:], strict=True))
    assert rows == reference_rows


def test_the_meter_context_is_the_one_built_row_by_row(town: Town) -> None:
    """``meter_context`` builds its frame column by column; the reference built a dict per row."""
    day = (town.as_of - dt.timedelta(hours=12)).date()
    with town.sessions() as session:
        repository = ExceptionRepository(session)
        frame = repository.meter_context(day)
        rows, closed = repository.meter_context_rows(day)
    names = METER_CONTEXT.names
    records = [
        {
            **dict(zip(names[:13], row[:13], strict=True)),
            "account_active": row[13] is not None,
            "net_metering": bool(row[14]),
            "rate_code": row[15],
            "install_year": int(row[16]) if row[16] is not None else None,
            "account_closed_on": closed.get(row[19]),
            "latitude": row[17],
            "longitude": row[18],
            "account_opened_on": row[20],
        }
        for row in rows
    ]
    reference = pl.DataFrame(records, schema=METER_CONTEXT.schema)
    assert frame.height > 0
    assert frame["account_active"].any()
    assert frame.equals(reference.unique("meter_id", keep="first", maintain_order=True))
