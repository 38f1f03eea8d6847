"""``pipeline.screen``'s one-pass check for all-good batches against a row-by-row reference.

``screen`` joins one row per run of a serial and, when aggregates show that no row can be
unknown, in the future or beyond the horizon, skips the row masks and takes the window's ids
from the runs. The reference here joins every row, computes every row's reason and builds
the window from the kept rows: both must keep, hold and window exactly the same, whatever
the runs, unknown or null serials, times at the limits and durations (Hypothesis).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import example, given, settings
from hypothesis import strategies as st

from meterops.ingest.formats.base import ParsedBatch
from meterops.ingest.pipeline import IngestRules, Screened, classify, screen
from meterops.reads.schema import PARSED_EVENTS, PARSED_INTERVAL_READS
from meterops.reads.store import Table
from tests.reads.world import NOW

RULES = IngestRules(NOW, late_data_horizon_days=2, future_tolerance_s=300)
METERS = pl.DataFrame({"serial_number": ["A", "B", "C"], "meter_id": [3, 1, 2]})
FUTURE_LIMIT = NOW + dt.timedelta(seconds=300)
HORIZON = NOW - dt.timedelta(days=2)
# Instants on both sides of each limit, so that a row just inside or just outside is drawn.
_INSTANTS = [
    HORIZON - dt.timedelta(microseconds=1),
    HORIZON,
    HORIZON + dt.timedelta(hours=5),
    NOW - dt.timedelta(days=1, hours=3),
    NOW - dt.timedelta(seconds=600),
    FUTURE_LIMIT - dt.timedelta(seconds=900),
    FUTURE_LIMIT - dt.timedelta(seconds=899),
    FUTURE_LIMIT,
]
_ROW = st.tuples(
    st.sampled_from(["A", "B", "C", "X", None]),
    st.sampled_from(_INSTANTS),
    st.sampled_from([900, 0, 60]),  # never null: the parsed contract
)


_WindowTuple = tuple[list[int], dt.datetime, dt.datetime] | tuple[()]


def _reference(frame: pl.DataFrame, meters: pl.DataFrame) -> tuple[pl.DataFrame, int, _WindowTuple]:
    """Kept rows, the number held and the kept rows' window, row by row."""
    joined = frame.join(meters, on="serial_number", how="left", maintain_order="left")
    joined = joined.select(
        *frame.columns[:1],
        *frame.columns[1:],
        "meter_id",
        pl.lit(None, pl.Int64).alias("source_version"),
    )
    start = pl.col("interval_start_utc")
    end = start + pl.duration(seconds=pl.col("interval_s"))
    bad = (
        pl.col("meter_id").is_null()
        | (end > pl.lit(FUTURE_LIMIT).dt.cast_time_unit("us"))
        | (start < pl.lit(HORIZON).dt.cast_time_unit("us"))
    )
    mask = joined.select(bad.alias("b")).to_series()
    kept = joined.filter(~mask)
    held = int(mask.sum())
    if kept.is_empty():
        return kept, held, ()
    first, last = kept["interval_start_utc"].min(), kept["interval_start_utc"].max()
    assert isinstance(first, dt.datetime)
    assert isinstance(last, dt.datetime)
    window = (
        kept["meter_id"].unique().sort().to_list(),
        dt.datetime.combine(first.date(), dt.time(), tzinfo=dt.UTC),
        dt.datetime.combine(last.date(), dt.time(), tzinfo=dt.UTC) + dt.timedelta(days=1),
    )
    return kept, held, window


def _frame(rows: list[tuple[str | None, dt.datetime, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "serial_number": [r[0] for r in rows],
            "channel": ["kwh_delivered"] * len(rows),
            "interval_start_utc": [r[1] for r in rows],
            "interval_s": [r[2] for r in rows],
            "value": [float(i) for i in range(len(rows))],
            "quality_flags": [0] * len(rows),
            "source_quality": [None] * len(rows),
            "source_line": list(range(2, len(rows) + 2)),
        },
        schema=PARSED_INTERVAL_READS.schema,
    )


def _screen(frame: pl.DataFrame) -> Screened:
    batch = ParsedBatch("f.csv", "headend_csv", interval_reads=frame, rows_in_file=frame.height)
    return screen(batch, METERS, rules=RULES)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(_ROW, min_size=1, max_size=30), runs=st.booleans())
@example(rows=[("A", _INSTANTS[2], 900)] * 3 + [("B", _INSTANTS[5], 900)], runs=True)
@example(rows=[("A", _INSTANTS[6], 900)], runs=True)  # ends 1 s past the limit: held
@example(rows=[("A", _INSTANTS[0], 900)], runs=True)  # 1 µs before the horizon: held
@example(rows=[(None, _INSTANTS[2], 900), ("A", _INSTANTS[2], 900)], runs=True)
def test_screen_keeps_holds_and_windows_as_row_by_row(
    rows: list[tuple[str | None, dt.datetime, int]], *, runs: bool
) -> None:
    if runs:  # as parsers emit them: a serial's rows together
        rows = sorted(rows, key=lambda r: (r[0] is not None, r[0] or ""))
    frame = _frame(rows)
    expected, held, window = _reference(frame, METERS)
    screened = _screen(frame)
    got = screened.frames.get(Table.INTERVAL_READS)
    if expected.is_empty():
        assert got is None
        assert Table.INTERVAL_READS not in screened.windows
    else:
        assert got is not None
        assert got.select(expected.columns).equals(expected)
        got_window = screened.windows[Table.INTERVAL_READS]
        assert got_window.ids.dtype == pl.Int64
        assert (got_window.ids.to_list(), got_window.start_utc, got_window.end_utc) == window
    assert screened.counts.quarantined == held
    assert sum(h.height for h in screened.held) == held
    assert screened.counts.rows_in_file == frame.height


def test_a_batch_near_the_future_limit_takes_the_row_by_row_check() -> None:
    """Latest start plus longest duration passes the limit, but no single row does."""
    frame = _frame(
        [
            ("A", FUTURE_LIMIT - dt.timedelta(seconds=60), 60),  # ends at the limit: kept
            ("B", FUTURE_LIMIT - dt.timedelta(seconds=900), 900),  # ends at the limit: kept
        ]
    )
    screened = _screen(frame)
    assert screened.counts.quarantined == 0
    assert screened.frames[Table.INTERVAL_READS].height == 2
    assert screened.windows[Table.INTERVAL_READS].ids.to_list() == [1, 3]


def test_events_without_duration_are_screened_by_their_time() -> None:
    """A kind without a duration column: the check is the time alone."""
    events = pl.DataFrame(
        {
            "serial_number": ["B", "B", "A"],
            "event_time_utc": [HORIZON, FUTURE_LIMIT, FUTURE_LIMIT + dt.timedelta(seconds=1)],
            "cim_event_type": ["3.26.0.185"] * 3,
            "vendor_code": ["x"] * 3,
            "severity": [None] * 3,
            "details": [None] * 3,
            "source_line": [2, 3, 4],
        },
        schema=PARSED_EVENTS.schema,
    )
    batch = ParsedBatch("f.csv", "headend_csv", events=events, rows_in_file=3)
    screened = screen(batch, METERS, rules=RULES)
    assert screened.frames[Table.EVENTS]["source_line"].to_list() == [2, 3]
    assert screened.counts.quarantined == 1
    window = screened.windows[Table.EVENTS]
    assert window.ids.to_list() == [1]
    plan = classify(
        screened,
        {},
        stored_interval_times=pl.DataFrame(),
        source_file_id=4,
        rules=RULES,
    )
    assert plan.tables[Table.EVENTS].columns[-2:] == ["source_file_id", "received_at_utc"]
    assert plan.counts.accepted == 2
