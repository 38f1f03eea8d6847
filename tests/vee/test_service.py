"""VEE runs and edits on a simulated town ingested through the real paths (DB + read store)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select

from meterops.db.engine import session_scope
from meterops.errors import InvalidInputError, NotFoundError
from meterops.models.audit import AuditEvent
from meterops.timeutil import local_day_bounds_utc
from meterops.vee import repository, service
from meterops.vee.flags import FLAGS, RULE_MASK
from meterops.vee.rules import RULES
from meterops.vee.service import edit_interval, run_vee
from tests.vee.town import NOW, ZONE, Town, build_town, write_reads

ESTIMATED = FLAGS["ESTIMATED"].mask
EDITED = FLAGS["EDITED"].mask


def _run(
    town: Town, first: int, last: int, *, now: dt.datetime = NOW, **kw: object
) -> service.VeeRunSummary:
    with session_scope(town.sessions) as session:
        return run_vee(
            session,
            town.store,
            first_day=town.day(first),
            last_day=town.day(last),
            zone=ZONE,
            now=now,
            **kw,  # type: ignore[arg-type]
        )


def _current(town: Town, first: int, last: int) -> pl.DataFrame:
    start, _ = local_day_bounds_utc(town.day(first), ZONE)
    _, end = local_day_bounds_utc(town.day(last), ZONE)
    return town.store.current_interval_reads(start_utc=start, end_utc=end)


def test_a_run_flags_what_the_rules_find_and_a_second_run_writes_nothing(tmp_path: Path) -> None:
    with build_town(tmp_path) as town:
        first = _run(town, 2, 3, group_meters=5)
        current = _current(town, 2, 3)
        assert first.reads_validated == current.height > 0
        assert first.groups == -(-first.meters // 5)
        found = {r.rule_id: r.intervals for r in first.report.rules}
        assert {"completeness.missing_interval", "limits.spike", "usage.zero_run"} <= set(found)
        # The stored flags say what the report counted.
        for rule_id, count in found.items():
            if rule_id == "completeness.missing_interval":
                continue
            stored = current.filter((pl.col("quality_flags") & RULES[rule_id].mask) != 0).height
            assert stored == count, rule_id
        flagged = current.filter((pl.col("quality_flags") & RULE_MASK) != 0).height
        assert first.flag_rows_written == flagged
        again = _run(town, 2, 3, now=NOW + dt.timedelta(hours=1))
        assert (again.flag_rows_written, again.versions_written) == (0, 0)
        assert again.report == first.report
        with session_scope(town.sessions) as session:
            events = session.scalars(select(AuditEvent).where(AuditEvent.action == "vee.run")).all()
            assert len(events) == 2
            assert events[0].data["reads_validated"] == first.reads_validated
            assert events[0].entity_id == f"{town.day(2)}..{town.day(3)}"


def test_selected_meters_only(tmp_path: Path) -> None:
    with build_town(tmp_path, days=2) as town:
        current = _current(town, 1, 1)
        meter_id = int(current["meter_id"][0])
        from meterops.models.meters import Meter

        with session_scope(town.sessions) as session:
            serial = session.get_one(Meter, meter_id).serial_number
        summary = _run(town, 1, 1, serials=[serial])
        assert summary.meters == 1
        assert summary.reads_validated == current.filter(pl.col("meter_id") == meter_id).height
        with pytest.raises(NotFoundError, match="NOPE"):
            _run(town, 1, 1, serials=["NOPE"])


def test_gaps_are_estimated_and_a_late_actual_supersedes_the_estimate(tmp_path: Path) -> None:
    with build_town(tmp_path, days=4, ingest=False) as town:
        for index in range(3):
            town.ingest(town.day_files(index))
        reads = town.interval_reads(3)
        kwh = reads.filter(pl.col("channel") == "kwh_delivered")
        serial = kwh["serial_number"][0]
        held = kwh.filter(pl.col("serial_number") == serial).slice(40, 4)
        rest = reads.join(held, on=["serial_number", "channel", "interval_start_utc"], how="anti")
        others = [p for p in town.day_files(3) if p.name != "intervals.cmep"]
        town.ingest([*others, write_reads(tmp_path, "day3_rest.csv", rest)])

        with session_scope(town.sessions) as session:
            (meter,) = repository.meters_by_serial(session, [serial])
        mine = (pl.col("meter_id") == meter.meter_id) & (pl.col("channel") == "kwh_delivered")
        summary = _run(town, 3, 3, serials=[serial])
        assert dict(summary.report.estimates) == {"linear_interpolation": 4}
        assert summary.versions_written == 4
        gap = set(held["interval_start_utc"].to_list())
        current = _current(town, 3, 3).filter(mine & pl.col("interval_start_utc").is_in(list(gap)))
        assert current.height == 4
        assert (current["quality_flags"] & ESTIMATED != 0).all()
        assert set(current["version"]) == {1}
        assert set(current["actor"]) == {"estimation.linear_interpolation@1"}
        assert current["parent_version"].is_null().all()
        assert (_run(town, 3, 3, serials=[serial]).versions_written) == 0  # idempotent

        # The actual reads arrive late, through the real ingest path.
        later = NOW + dt.timedelta(hours=3)
        (report,) = town.ingest([write_reads(tmp_path, "day3_late.csv", held)], now=later)
        assert report.counts.late + report.counts.accepted == 4
        now_current = _current(town, 3, 3).filter(
            mine & pl.col("interval_start_utc").is_in(list(gap))
        )
        assert set(now_current["version"]) == {0}
        assert sorted(now_current["value"].to_list()) == sorted(held["value"].to_list())
        assert (now_current["quality_flags"] & ESTIMATED == 0).all()
        start, end = local_day_bounds_utc(town.day(3), ZONE)
        history = town.store.interval_history(start_utc=start, end_utc=end).filter(
            mine & pl.col("interval_start_utc").is_in(list(gap))
        )
        estimates = history.filter(pl.col("version_kind") == "estimate")
        assert estimates.height == 4
        assert not estimates["is_current"].any()
        # Re-running estimates nothing now: the gap holds actual reads.
        rerun = _run(town, 3, 3, serials=[serial], now=later + dt.timedelta(hours=1))
        assert rerun.versions_written == 0
        assert rerun.report.result("completeness.missing_interval").intervals == 0


def _edit(town: Town, **overrides: object) -> service.EditResult:
    current = _current(town, 1, 1).filter(pl.col("channel") == "kwh_delivered")
    meter_id = int(current["meter_id"][0])
    from meterops.models.meters import Meter

    with session_scope(town.sessions) as session:
        serial = session.get_one(Meter, meter_id).serial_number
        args: dict[str, object] = {
            "serial": serial,
            "channel": "kwh_delivered",
            "at_utc": current["interval_start_utc"][10],
            "value": 1.234,
            "reason_code": "field_read",
            "actor": "alice",
            "now": NOW,
        }
        args.update(overrides)
        return edit_interval(session, town.store, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"reason_code": None}, "reason_code"),
        ({"reason_code": "  "}, "reason_code"),
        ({"reason_code": "because"}, "reason_code"),
        ({"actor": ""}, "actor"),
        ({"actor": None}, "actor"),
        ({"value": float("nan")}, "value"),
        ({"channel": "kwh_sideways"}, "channel"),
    ],
)
def test_an_edit_without_reason_or_actor_is_refused(
    tmp_path: Path, overrides: dict[str, object], field: str
) -> None:
    with build_town(tmp_path, days=2) as town:
        with pytest.raises(InvalidInputError) as caught:
            _edit(town, **overrides)
        assert caught.value.details["field"] == field
        assert (
            town.store.interval_history(start_utc=NOW - dt.timedelta(days=30), end_utc=NOW)
            .filter(pl.col("version_kind") == "edit")
            .is_empty()
        )


def test_an_edit_is_a_new_version_and_the_raw_read_stays(tmp_path: Path) -> None:
    with build_town(tmp_path, days=2) as town:
        first = _edit(town)
        assert (first.version, first.parent_version) == (1, 0)
        second = _edit(town, value=2.5, now=NOW + dt.timedelta(minutes=5))
        assert (second.version, second.parent_version, second.previous_value) == (2, 1, 1.234)
        at = first.interval_start_utc
        window = {"start_utc": at, "end_utc": at + dt.timedelta(seconds=1)}
        current = town.store.current_interval_reads(**window, meter_ids=[first.meter_id])
        row = current.filter(pl.col("channel") == "kwh_delivered").row(0, named=True)
        assert row["value"] == 2.5
        assert row["quality_flags"] & EDITED
        assert (row["version_kind"], row["reason_code"], row["actor"]) == (
            "edit",
            "field_read",
            "alice",
        )
        history = town.store.interval_history(**window, meter_ids=[first.meter_id]).filter(
            pl.col("channel") == "kwh_delivered"
        )
        assert history["version"].to_list() == [0, 1, 2]
        assert history["is_current"].to_list() == [False, False, True]
        # As of before the second edit, the first one was current.
        before = town.store.current_interval_reads(
            **window, meter_ids=[first.meter_id], as_of_utc=NOW + dt.timedelta(minutes=1)
        ).filter(pl.col("channel") == "kwh_delivered")
        assert before["value"].to_list() == [1.234]
        with session_scope(town.sessions) as session:
            audit = session.scalars(
                select(AuditEvent).where(AuditEvent.action == "reads.edit")
            ).all()
        assert [e.reason for e in audit] == ["field_read", "field_read"]
        assert audit[1].data["previous_value"] == 1.234


@pytest.mark.parametrize("executor", ["inprocess", "local"])
def test_an_executor_run_stores_what_the_group_by_group_run_stores(
    tmp_path: Path, executor: str
) -> None:
    with build_town(tmp_path / "here") as here, build_town(tmp_path / executor) as there:
        expected = _run(here, 2, 3, group_meters=4)
        got = _run(there, 2, 3, group_meters=4, executor=executor, workers=2)
        assert got.report == expected.report
        assert (got.flag_rows_written, got.versions_written) == (
            expected.flag_rows_written,
            expected.versions_written,
        )
        columns = ["meter_id", "channel", "interval_start_utc", "value", "quality_flags"]
        assert _current(there, 2, 3).select(columns).equals(_current(here, 2, 3).select(columns))
