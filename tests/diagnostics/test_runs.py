"""Metro-scale shortcuts against the code they replace (pure; no database).

* ``reads._current.current_rows`` puts a scan's sorted runs (sorted files read in another
  order) in key order by concatenating them, instead of sorting and gathering every row:
  the same frame as the readable reference.
* ``detect.summarise_batch`` gives a batch's daily summaries, last reads and voltage reads in
  one pass over an enum channel: the frames of ``summarise_intervals``, ``last_read_times``
  and the voltage filter over the string channel.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from meterops.diagnostics.detect import last_read_times, summarise_batch, summarise_intervals
from meterops.reads import _current

T0 = dt.datetime(2026, 7, 6, 4, tzinfo=dt.UTC)
UTC_US = pl.Datetime("us", "UTC")
CHANNELS = ["kwh_delivered", "kwh_received", "voltage_min_v", "voltage_max_v"]


def _reference(rows: pl.DataFrame) -> pl.DataFrame:
    return _current.as_interval_reads(_current.latest_per_key(rows.lazy())).collect()


def _raw(
    keys: list[tuple[int, str, int]], values: list[float], late: int | None = None
) -> pl.DataFrame:
    """Raw rows of ``keys``, all received a day after ``T0``; row ``late`` an hour later."""
    received = [T0 + dt.timedelta(days=1, hours=int(n == late)) for n in range(len(keys))]
    frame = pl.DataFrame(
        {
            "meter_id": [k[0] for k in keys],
            "channel": [k[1] for k in keys],
            "interval_start_utc": [T0 + dt.timedelta(minutes=15 * k[2]) for k in keys],
            "value": values,
            "received_at_utc": received,
        },
        schema_overrides={
            "interval_start_utc": UTC_US,
            "received_at_utc": UTC_US,
            "meter_id": pl.Int64,
        },
    ).with_columns(
        interval_s=pl.lit(900, pl.Int32),
        quality_flags=pl.lit(0, pl.UInt32),
        source_quality=pl.lit(None, pl.String),
        source_version=pl.lit(None, pl.Int64),
        source_file_id=pl.lit(1, pl.Int64),
    )
    return _current.raw_as_rows(frame.lazy()).collect()


@st.composite
def _runs(draw: st.DrawFn) -> pl.DataFrame:
    """Distinct keys cut into sorted runs, the runs shuffled (sometimes a key repeated)."""
    keys = sorted(
        draw(
            st.lists(
                st.tuples(st.integers(1, 9), st.sampled_from(CHANNELS), st.integers(0, 20)),
                min_size=2,
                max_size=60,
                unique=True,
            )
        )
    )
    cuts = sorted(draw(st.sets(st.integers(1, len(keys) - 1), max_size=6)))
    runs = [keys[a:b] for a, b in zip([0, *cuts], [*cuts, len(keys)], strict=True)]
    order = draw(st.permutations(range(len(runs))))
    shuffled = [key for index in order for key in runs[index]]
    late = None
    if draw(st.booleans()) and len(shuffled) > 2:  # a key read again, later: the sort path
        shuffled.append(shuffled[draw(st.integers(0, len(shuffled) - 1))])
        late = len(shuffled) - 1
    values = [float(n) for n in range(len(shuffled))]
    return _raw(shuffled, values, late)


@settings(max_examples=200, deadline=None)
@given(_runs())
def test_sorted_runs_in_another_order_give_the_reference_view(rows: pl.DataFrame) -> None:
    assert_frame_equal(_current.current_rows(rows, pl.DataFrame()), _reference(rows))


def test_the_run_shortcut_is_taken_only_for_distinct_non_overlapping_runs() -> None:
    key = np.array([5, 6, 7, 1, 2, 3], dtype=np.int64)
    assert _current._sorted_runs(key) == [(3, 3), (0, 3)]
    assert _current._sorted_runs(np.array([5, 6, 1, 5], dtype=np.int64)) is None  # repeat
    assert _current._sorted_runs(np.array([1, 4, 2, 3], dtype=np.int64)) is None  # overlap


def _reads(seed: int) -> pl.DataFrame:
    """A few meters' reads in all four channels and one the summaries ignore, flags mixed."""
    rng = np.random.default_rng(seed)
    keys = [
        (meter, channel, slot)
        for meter in range(1, 8)
        for channel in [*CHANNELS, "kvarh_delivered"]
        for slot in range(0, 200, 1 if channel.startswith("k") else 4)
        if rng.random() > 0.1
    ]
    rows = _raw(keys, [float(v) for v in rng.uniform(0, 250, len(keys)).round(3)])
    flags = pl.Series(rng.choice([0, 0, 0, 1, 8, 1 << 12, 1 << 20], len(keys)), dtype=pl.UInt32)
    return _current.current_rows(rows, pl.DataFrame()).with_columns(quality_flags=flags)


def test_one_pass_batch_summary_gives_the_three_frames() -> None:
    for seed in range(5):
        reads = _reads(seed)
        daily, last, voltage = summarise_batch(reads, zone="America/Chicago")
        assert daily.height > 0
        assert_frame_equal(
            daily,
            summarise_intervals(reads, zone="America/Chicago"),
            check_exact=False,
            rel_tol=1e-12,
        )
        assert last.equals(last_read_times(reads.filter(pl.col("channel") == "kwh_delivered")))
        expected = reads.filter(pl.col("channel").is_in(["voltage_min_v", "voltage_max_v"]))
        assert voltage.height == expected.height > 0
        assert voltage.with_columns(pl.col("channel").cast(pl.String)).equals(
            expected.select(voltage.columns)
        )
