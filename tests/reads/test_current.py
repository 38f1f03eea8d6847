"""The fast current view equals the readable reference (latest row per key, flags merged)."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from meterops.reads import _current
from meterops.reads.schema import INTERVAL_READS

T0 = dt.datetime(2024, 3, 10, 6, tzinfo=dt.UTC)
UTC_US = pl.Datetime("us", "UTC")
TIMES = {"interval_start_utc": UTC_US, "received_at_utc": UTC_US}
CHANNELS = ["kwh_delivered", "kwh_received", "voltage_min", "kvarh_delivered"]


def reference(rows: pl.DataFrame, flags: pl.DataFrame) -> pl.DataFrame:
    lazy = _current.latest_per_key(rows.lazy())
    if flags.height:
        lazy = _current.apply_flags(lazy, flags.lazy())
    return _current.as_interval_reads(lazy).collect()


@st.composite
def _stores(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Raw rows (with superseding source versions), versions and flags for a few keys.

    Every row of a key differs in (received, version, source version), so the reference's
    choice is unique; stamps sit on an irregular grid (5-min steps and odd seconds).
    """
    minutes = draw(st.sampled_from([5, 15, 7]))
    keys = draw(
        st.lists(
            st.tuples(
                st.integers(1, 6) | st.integers(10**9, 10**9 + 3),
                st.sampled_from(CHANNELS),
                st.integers(0, 12),
            ),
            min_size=1,
            max_size=25,
            unique=True,
        )
    )
    raw: list[dict[str, object]] = []
    versions: list[dict[str, object]] = []
    flags: list[dict[str, object]] = []
    for meter, channel, slot in keys:
        start = T0 + dt.timedelta(minutes=minutes * slot, seconds=draw(st.sampled_from([0, 0, 3])))
        base = {"meter_id": meter, "channel": channel, "interval_start_utc": start}
        hours = draw(st.lists(st.integers(0, 40), min_size=1, max_size=4, unique=True))
        for n, hour in enumerate(hours):
            received = T0 + dt.timedelta(hours=hour)
            value = float(draw(st.integers(0, 9)))
            if n == 0 or draw(st.booleans()):
                raw.append({**base, "value": value, "source_version": n or None,
                            "received_at_utc": received})  # fmt: skip
            else:
                versions.append({**base, "value": value, "version": n,
                                 "received_at_utc": received})  # fmt: skip
        for _ in range(draw(st.integers(0, 3))):
            flags.append(
                {
                    **base,
                    "version": draw(st.integers(0, 3)),
                    "quality_flags": draw(st.integers(0, 15)),
                    "flag_mask": draw(st.integers(1, 15)),
                    "received_at_utc": T0
                    + dt.timedelta(hours=draw(st.integers(0, 45)), seconds=len(flags)),
                }
            )
    raw_frame = pl.DataFrame(raw, schema_overrides=TIMES).with_columns(
        interval_s=pl.lit(900, pl.Int32),
        quality_flags=pl.lit(1, pl.Int64),
        source_quality=pl.lit(None, pl.String),
        source_version=pl.col("source_version").cast(pl.Int64),
        source_file_id=pl.lit(1, pl.Int64),
    )
    rows = _current.raw_as_rows(raw_frame.lazy())
    if versions:
        version_frame = pl.DataFrame(versions, schema_overrides=TIMES).with_columns(
            interval_s=pl.lit(900, pl.Int32),
            quality_flags=pl.lit(2, pl.Int64),
            version=pl.col("version").cast(pl.Int32),
            version_kind=pl.lit("estimate"),
            method=pl.lit("linear"),
            reason_code=pl.lit("GAP"),
            actor=pl.lit("vee"),
            parent_version=pl.lit(0, pl.Int32),
        )
        rows = pl.concat([rows, _current.versions_as_rows(version_frame.lazy())])
    shuffled = rows.collect().sample(fraction=1.0, shuffle=True, seed=draw(st.integers(0, 99)))
    flag_frame = (
        pl.DataFrame(flags, schema_overrides=TIMES).with_columns(
            pl.col("version").cast(pl.Int32), actor=pl.lit("vee")
        )
        if flags
        else pl.DataFrame()
    )
    return shuffled, flag_frame


@settings(max_examples=300, deadline=None)
@given(_stores())
def test_the_fast_current_view_equals_the_reference(
    case: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    rows, flags = case
    assert_frame_equal(_current.current_rows(rows, flags), reference(rows, flags))


@settings(max_examples=50, deadline=None)
@given(_stores())
def test_rows_in_key_order_give_the_same_view(case: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    rows, flags = case
    ordered = rows.sort(["meter_id", "channel", "interval_start_utc", "received_at_utc"])
    assert_frame_equal(_current.current_rows(ordered, flags), reference(rows, flags))


def test_a_key_space_beyond_int64_falls_back_to_the_reference() -> None:
    far = [T0, T0 + dt.timedelta(days=3650, microseconds=1)]
    raw = pl.DataFrame(
        {
            "meter_id": [1, 2**40],
            "channel": ["kwh_delivered", "kwh_received"],
            "interval_start_utc": far,
            "interval_s": [900, 900],
            "value": [1.0, 2.0],
            "quality_flags": [0, 0],
            "source_quality": [None, None],
            "source_version": [None, None],
            "source_file_id": [1, 1],
            "received_at_utc": [T0, T0],
        },
        schema_overrides={"interval_start_utc": UTC_US, "received_at_utc": UTC_US,
                          "interval_s": pl.Int32, "source_quality": pl.String,
                          "source_version": pl.Int64},
    )  # fmt: skip
    rows = _current.raw_as_rows(raw.lazy()).collect()
    got = _current.current_rows(rows.reverse(), pl.DataFrame())
    assert got["meter_id"].to_list() == [1, 2**40]
    assert got.schema == INTERVAL_READS.schema
