"""``is_sorted`` (the append's check before it sorts) agrees with sorting.

Property: for random frames of an integer key, a text key and a time key (with nulls,
repeated values, one-valued text columns and every order of the keys), ``is_sorted`` is
true exactly when sorting the key columns (nulls first, stable) leaves them unchanged. Its
shortcuts (a one-valued text key left out, no null handling without nulls) must not change
the answer.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from meterops.reads._lake import is_sorted

_BASE = dt.datetime(2024, 3, 5, tzinfo=dt.UTC)


def _reference(frame: pl.DataFrame, keys: tuple[str, ...]) -> bool:
    keyed = frame.select(keys)
    return keyed.equals(keyed.sort(keys, nulls_last=False, maintain_order=True))


@st.composite
def _frames(draw: st.DrawFn) -> pl.DataFrame:
    rows = draw(st.integers(0, 12))
    ids = st.one_of(st.none(), st.integers(1, 3)) if draw(st.booleans()) else st.integers(1, 3)
    texts = st.sampled_from(["a", "b", "kwh_delivered"])
    if draw(st.booleans()):  # a one-valued text column, with or without nulls
        value = draw(texts)
        texts = st.one_of(st.none(), st.just(value)) if draw(st.booleans()) else st.just(value)
    times = st.integers(0, 3).map(lambda q: _BASE + dt.timedelta(minutes=15 * q))
    return pl.DataFrame(
        {
            "meter_id": draw(st.lists(ids, min_size=rows, max_size=rows)),
            "channel": draw(st.lists(texts, min_size=rows, max_size=rows)),
            "interval_start_utc": draw(st.lists(times, min_size=rows, max_size=rows)),
        },
        schema={
            "meter_id": pl.Int64,
            "channel": pl.String,
            "interval_start_utc": pl.Datetime("us", "UTC"),
        },
    )


@settings(max_examples=400, deadline=None)
@given(
    frame=_frames(),
    keys=st.permutations(["meter_id", "channel", "interval_start_utc"]),
    sort_first=st.booleans(),
)
def test_is_sorted_is_true_exactly_when_sorting_changes_nothing(
    frame: pl.DataFrame, keys: list[str], sort_first: bool
) -> None:
    order = tuple(keys)
    if sort_first:  # half the examples sorted, so both answers are drawn often
        frame = frame.sort(list(order), nulls_last=False)
    assert is_sorted(frame, order) == _reference(frame, order)
