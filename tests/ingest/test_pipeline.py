"""The pure ingest pipeline: every row lands in exactly one bucket, and the buckets add up."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterops.errors import DataContractError, Issue
from meterops.ingest.formats.base import ParsedBatch
from meterops.ingest.pipeline import Counts, IngestRules, classify, screen
from meterops.reads.schema import PARSED_EVENTS, PARSED_REGISTER_READS, PARSED_TOPOLOGY
from meterops.reads.store import Table
from meterops.vee.flags import FLAGS
from tests.reads.world import DAY, NOW, interval_frame, quarter, raw_rows

LATE = FLAGS["LATE"].mask
RULES = IngestRules(NOW, late_data_horizon_days=60, future_tolerance_s=300)
METERS = pl.DataFrame({"serial_number": ["A", "B"], "meter_id": [1, 2]})
NO_TIMES = pl.DataFrame(
    schema={
        "meter_id": pl.Int64,
        "channel": pl.String,
        "interval_start_utc": pl.Datetime("us", "UTC"),
    }
)


def _batch(
    frame: pl.DataFrame, rows_in_file: int | None = None, **others: pl.DataFrame
) -> ParsedBatch:
    return ParsedBatch(
        "f.csv",
        "headend_csv",
        interval_reads=frame,
        rows_in_file=rows_in_file
        if rows_in_file is not None
        else frame.height + sum(o.height for o in others.values()),
        **others,
    )


def _plan(
    batch: ParsedBatch,
    existing: pl.DataFrame | None = None,
    times: pl.DataFrame | None = None,
    rules: IngestRules = RULES,
):
    screened = screen(batch, METERS, rules=rules)
    stored = {Table.INTERVAL_READS: existing} if existing is not None else {}
    return classify(
        screened,
        stored,
        stored_interval_times=times if times is not None else NO_TIMES,
        source_file_id=9,
        rules=rules,
    )


def test_rows_of_unknown_serials_are_quarantined_with_the_serial_named() -> None:
    plan = _plan(_batch(interval_frame(["A", "ZZ"], intervals=2)))
    assert plan.counts == Counts(rows_in_file=4, accepted=2, quarantined=2)
    held = plan.tables[Table.QUARANTINE]
    assert held["reason_code"].to_list() == ["unknown_meter"] * 2
    assert "serial number 'ZZ' is not a meter" in held["message"][0]
    assert '"serial_number":"ZZ"' in held["payload"][0]
    assert held["source_file_id"].to_list() == [9, 9]


def test_future_and_beyond_horizon_rows_are_quarantined_at_their_limits() -> None:
    # An interval may end exactly at now + tolerance; one microsecond more is in the future.
    edge = NOW + dt.timedelta(seconds=300) - dt.timedelta(minutes=15)
    oldest = NOW - dt.timedelta(days=60)
    frame = pl.concat(
        [
            interval_frame(["A"], start=edge, intervals=1),
            interval_frame(["A"], start=edge + dt.timedelta(microseconds=1), intervals=1),
            interval_frame(["A"], start=oldest, intervals=1),
            interval_frame(["A"], start=oldest - dt.timedelta(microseconds=1), intervals=1),
        ]
    )
    plan = _plan(_batch(frame))
    assert plan.counts == Counts(rows_in_file=4, accepted=2, quarantined=2)
    assert sorted(plan.tables[Table.QUARANTINE]["reason_code"].to_list()) == [
        "beyond_horizon",
        "future_timestamp",
    ]
    assert plan.tables[Table.INTERVAL_READS].height == 2


def test_topology_rows_beyond_the_horizon_are_quarantined_too() -> None:
    # Topology rows are keyed by node, not by meter serial.
    old, fresh = NOW - dt.timedelta(days=61), NOW - dt.timedelta(hours=1)
    topology = pl.DataFrame(
        {
            "node_id": ["C-1", "C-1"],
            "node_kind": ["collector", "collector"],
            "parent_node": [None, None],
            "hop_count": [0, 0],
            "rssi_dbm": [None, None],
            "observed_at_utc": [old, fresh],
            "status": ["up", "up"],
            "source_line": [2, 3],
        },
        schema=PARSED_TOPOLOGY.schema,
    )
    screened = screen(
        _batch(interval_frame([], intervals=0), topology=topology), METERS, rules=RULES
    )
    [held] = screened.held
    assert held["reason_code"].to_list() == ["beyond_horizon"]
    assert "observed_at_utc" in held["message"][0]
    assert screened.frames[Table.TOPOLOGY]["node_id"].to_list() == ["C-1"]


def test_the_same_key_twice_in_a_file_keeps_the_first_and_records_a_different_value() -> None:
    first = interval_frame(["A"], intervals=2, value=1.0)
    again = first.with_columns(pl.col("source_line") + 10)
    clash = first.head(1).with_columns(
        pl.lit(2.0).alias("value"), pl.lit(30, pl.Int64).alias("source_line")
    )
    plan = _plan(_batch(pl.concat([clash, again, first])))
    assert plan.counts == Counts(rows_in_file=5, accepted=2, duplicate=2, conflicting=1)
    stored = plan.tables[Table.INTERVAL_READS]
    assert stored["value"].to_list() == [1.0, 1.0]
    conflict = plan.tables[Table.CONFLICTS].row(0, named=True)
    assert (conflict["stored_value"], conflict["new_value"], conflict["source_line"]) == (
        1.0,
        2.0,
        30,
    )
    assert conflict["stored_source_file_id"] == 9


def test_stored_reads_are_duplicates_or_conflicts_and_never_stored_again() -> None:
    existing = raw_rows(1, [1.0, 2.0], source_file_id=4)
    frame = interval_frame(["A"], intervals=3).with_columns(pl.Series("value", [1.0, 2.5, 3.0]))
    plan = _plan(
        _batch(frame),
        existing=existing,
        times=existing.select("meter_id", "channel", "interval_start_utc"),
    )
    assert plan.counts == Counts(rows_in_file=3, accepted=1, duplicate=1, conflicting=1)
    conflict = plan.tables[Table.CONFLICTS].row(0, named=True)
    assert (conflict["stored_value"], conflict["new_value"], conflict["stored_source_file_id"]) == (
        2.0,
        2.5,
        4,
    )
    assert plan.tables[Table.INTERVAL_READS]["interval_start_utc"].to_list() == [quarter(2)]


def test_values_that_differ_only_by_float_rounding_are_duplicates() -> None:
    existing = raw_rows(1, [0.1 + 0.2], source_file_id=4)
    plan = _plan(_batch(interval_frame(["A"], intervals=1, value=0.3)), existing=existing)
    assert plan.counts == Counts(rows_in_file=1, duplicate=1)


@pytest.mark.parametrize(
    ("stored_version", "new_version", "superseded"),
    [(10, 11, 1), (10, 10, 0), (11, 10, 0), (None, 11, 0)],
)
def test_only_a_higher_source_version_supersedes(
    stored_version: int | None, new_version: int, superseded: int
) -> None:
    existing = raw_rows(1, [1.0], source_file_id=4, source_version=stored_version)
    frame = interval_frame(["A"], intervals=1, value=2.0).with_columns(
        pl.lit(new_version, pl.Int64).alias("source_version")
    )
    plan = _plan(
        _batch(frame),
        existing=existing,
        times=existing.select("meter_id", "channel", "interval_start_utc"),
    )
    assert plan.counts.superseded == superseded
    assert plan.counts.conflicting == 1 - superseded
    if superseded:
        stored = plan.tables[Table.INTERVAL_READS].row(0, named=True)
        assert (stored["value"], stored["source_version"]) == (2.0, new_version)
        assert stored["quality_flags"] & LATE  # the key's day already had data


def test_a_row_behind_data_already_stored_that_day_is_late_and_flagged() -> None:
    times = pl.DataFrame(
        {"meter_id": [1], "channel": ["kwh_delivered"], "interval_start_utc": [quarter(10)]}
    ).cast({"interval_start_utc": pl.Datetime("us", "UTC")})
    frame = pl.concat(
        [
            interval_frame(["A"], start=quarter(9), intervals=3),  # 9 late (10 is stored), 11 after
            interval_frame(
                ["A"], start=quarter(9) - dt.timedelta(days=1), intervals=1
            ),  # other day
            interval_frame(["B"], start=quarter(9), intervals=1),  # other meter
        ]
    )
    frame = frame.filter(pl.col("interval_start_utc") != quarter(10))
    plan = _plan(_batch(frame), times=times)
    assert plan.counts == Counts(rows_in_file=4, accepted=3, late=1)
    stored = plan.tables[Table.INTERVAL_READS]
    late = stored.filter((pl.col("quality_flags") & LATE) != 0)
    assert late.select("meter_id", "interval_start_utc").rows() == [(1, quarter(9))]


def test_parse_issues_count_as_rejected_and_keep_their_line_text() -> None:
    data = b"header\nA,1\nbroken line\n"
    issue = Issue("f.csv", 3, "value", "value.not_a_number", "'line' is not a number")
    batch = _batch(interval_frame(["A"], intervals=1), rows_in_file=2)
    batch.issues.append(issue)
    screened = screen(batch, METERS, rules=RULES, data=data)
    plan = classify(screened, {}, stored_interval_times=NO_TIMES, source_file_id=9, rules=RULES)
    assert plan.counts == Counts(rows_in_file=2, accepted=1, rejected=1)
    held = plan.tables[Table.QUARANTINE].row(0, named=True)
    assert (held["record_kind"], held["reason_code"], held["source_line"]) == (
        "source_line",
        "parse_error",
        3,
    )
    assert '"line_text": "broken line"' in held["payload"]
    assert "line 3" in held["message"]


def test_registers_and_events_are_keyed_and_compared_like_reads() -> None:
    register = pl.DataFrame(
        {
            "serial_number": ["A", "A"],
            "channel": ["kwh_delivered"] * 2,
            "read_time_utc": [DAY, DAY],
            "value": [100.0, 100.0],
            "tou_period": [None, None],
            "quality_flags": [0, 0],
            "source_quality": [None, None],
            "source_line": [2, 3],
        },
        schema=PARSED_REGISTER_READS.schema,
    )
    events = pl.DataFrame(
        {
            "serial_number": ["A", "A"],
            "event_time_utc": [DAY, DAY],
            "cim_event_type": ["3.26.38.85"] * 2,
            "vendor_code": [None, None],
            "severity": ["alarm", "warning"],
            "details": [None, None],
            "source_line": [2, 3],
        },
        schema=PARSED_EVENTS.schema,
    )
    batch = ParsedBatch(
        "f.csv", "headend_csv", register_reads=register, events=events, rows_in_file=4
    )
    plan = classify(
        screen(batch, METERS, rules=RULES),
        {},
        stored_interval_times=NO_TIMES,
        source_file_id=9,
        rules=RULES,
    )
    assert plan.counts == Counts(rows_in_file=4, accepted=2, duplicate=1, conflicting=1)
    conflict = plan.tables[Table.CONFLICTS].row(0, named=True)
    assert conflict["record_kind"] == "event"
    assert '"severity":"alarm"' in conflict["stored_payload"]
    assert '"cim_event_type":"3.26.38.85"' in conflict["key_detail"]


def test_counts_that_do_not_add_up_are_a_contract_error() -> None:
    with pytest.raises(DataContractError, match="add up to 1"):
        Counts(rows_in_file=2, accepted=1).check("f.csv")


_rows = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "ZZ"]),
        st.integers(min_value=-3, max_value=8),  # quarter-hours; with days below
        st.sampled_from([0, 0, 0, -61, 3]),  # day offset from DAY: now, beyond horizon, future
        st.sampled_from([1.0, 2.0]),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(
    rows=_rows,
    stored=st.lists(
        st.tuples(st.integers(0, 8), st.sampled_from([1.0, 2.0])),
        max_size=8,
        unique_by=lambda r: r[0],
    ),
)
def test_every_row_lands_in_exactly_one_bucket(
    rows: list[tuple[str, int, int, float]], stored: list[tuple[int, float]]
) -> None:
    frame = (
        pl.concat(
            [
                interval_frame(
                    [serial], start=quarter(q) + dt.timedelta(days=days), intervals=1, value=value
                ).with_columns(pl.lit(line, pl.Int64).alias("source_line"))
                for line, (serial, q, days, value) in enumerate(rows, start=2)
            ]
        )
        if rows
        else interval_frame([], intervals=0)
    )
    existing = (
        pl.concat([raw_rows(1, [v], start=quarter(q), source_file_id=4) for q, v in stored])
        if stored
        else None
    )
    times = (
        existing.select("meter_id", "channel", "interval_start_utc")
        if existing is not None
        else NO_TIMES
    )
    plan = _plan(_batch(frame), existing=existing, times=times)
    counts = plan.counts
    assert (
        counts.accepted
        + counts.late
        + counts.duplicate
        + counts.conflicting
        + counts.quarantined
        + counts.rejected
        == len(rows)
    )
    stored_rows = plan.tables.get(
        Table.INTERVAL_READS,
        pl.DataFrame(
            schema={
                "meter_id": pl.Int64,
                "channel": pl.String,
                "interval_start_utc": pl.Datetime("us", "UTC"),
            }
        ),
    )
    assert stored_rows.height == counts.stored
    keys = stored_rows.select("meter_id", "channel", "interval_start_utc")
    assert not keys.is_duplicated().any()
    if existing is not None:
        assert keys.join(
            existing, on=["meter_id", "channel", "interval_start_utc"], how="semi"
        ).is_empty()
    assert plan.tables.get(Table.CONFLICTS, pl.DataFrame()).height == counts.conflicting
    assert plan.tables.get(Table.QUARANTINE, pl.DataFrame()).height == counts.quarantined


def test_a_tou_register_read_at_the_time_of_the_stored_total_is_not_late() -> None:
    def registers(tou: list[str | None]) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "serial_number": ["A"] * len(tou),
                "channel": ["kwh_delivered"] * len(tou),
                "read_time_utc": [DAY] * len(tou),
                "value": [100.0] * len(tou),
                "tou_period": tou,
                "quality_flags": [0] * len(tou),
                "source_quality": [None] * len(tou),
                "source_line": list(range(2, 2 + len(tou))),
            },
            schema=PARSED_REGISTER_READS.schema,
        )

    stored = registers([None]).with_columns(
        pl.lit(1, pl.Int64).alias("meter_id"), pl.lit(4, pl.Int64).alias("source_file_id")
    )
    batch = ParsedBatch(
        "f.csv", "headend_csv", register_reads=registers(["1", "2"]), rows_in_file=2
    )
    plan = classify(
        screen(batch, METERS, rules=RULES),
        {Table.REGISTER_READS: stored},
        stored_interval_times=NO_TIMES,
        source_file_id=9,
        rules=RULES,
    )
    assert plan.counts == Counts(rows_in_file=2, accepted=2)
