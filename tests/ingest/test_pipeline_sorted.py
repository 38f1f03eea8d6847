"""``pipeline._strictly_sorted`` (with and without nulls in the key) against Python's order.

A batch whose keys are strictly increasing skips the sort and the duplicate search, so the
check must say "sorted" exactly when every row's key is greater than the previous row's,
nulls first (as ``DataFrame.sort(nulls_last=False)`` puts them). The key columns without
nulls take the slice comparison, the others the null-aware one; Hypothesis draws both.
"""

from __future__ import annotations

import datetime as dt
import itertools

import polars as pl
from hypothesis import example, given, settings
from hypothesis import strategies as st

from meterops.ingest.pipeline import _strictly_sorted

_KEY = ("meter_id", "channel", "interval_start_utc")
_DAY = dt.datetime(2024, 3, 5, tzinfo=dt.UTC)
_ROW = st.tuples(
    st.one_of(st.none(), st.integers(1, 3)),
    st.one_of(st.none(), st.sampled_from(["kwh", "kwh_delivered", "kwh_received", "a"])),
    st.one_of(st.none(), st.integers(0, 3).map(lambda n: _DAY + dt.timedelta(minutes=15 * n))),
)

_Row = tuple[int | None, str | None, dt.datetime | None]


def _order(row: _Row) -> tuple[tuple[bool, object], ...]:
    """Python's order of a key with nulls first."""
    return tuple((value is not None, value if value is not None else 0) for value in row)


def _expected(rows: list[_Row]) -> bool:
    return all(_order(a) < _order(b) for a, b in itertools.pairwise(rows))


def _frame(rows: list[_Row]) -> pl.DataFrame:
    return pl.DataFrame(
        {name: [row[i] for row in rows] for i, name in enumerate(_KEY)},
        schema={
            "meter_id": pl.Int64,
            "channel": pl.String,
            "interval_start_utc": pl.Datetime("us", "UTC"),
        },
    )


@settings(max_examples=400, deadline=None)
@given(rows=st.lists(_ROW, max_size=12), nulls=st.booleans(), sort=st.booleans())
@example(rows=[(1, "kwh", _DAY), (1, "kwh", _DAY)], nulls=False, sort=False)  # repeated key
@example(rows=[(1, "kwh_delivered", _DAY), (1, "kwh", _DAY)], nulls=False, sort=False)
@example(rows=[(1, "kwh", _DAY), (2, "a", _DAY)], nulls=False, sort=False)  # id decides
@example(rows=[(None, "kwh", _DAY), (1, "kwh", _DAY)], nulls=True, sort=False)  # null first
@example(rows=[(1, "kwh", _DAY), (None, "kwh", _DAY)], nulls=True, sort=False)
def test_strictly_sorted_is_pythons_strict_order(
    rows: list[_Row], *, nulls: bool, sort: bool
) -> None:
    if not nulls:  # the slice comparison (no null in any key column)
        rows = [(m or 1, c or "kwh", t or _DAY) for m, c, t in rows]
    if sort:  # sorted input (with or without repeated keys) is the usual case
        rows = sorted(rows, key=_order)
    assert _strictly_sorted(_frame(rows), _KEY) is _expected(rows)
