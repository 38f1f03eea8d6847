"""Meter groups: every meter in exactly one group, contiguous, sized by rows."""

from __future__ import annotations

import itertools

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterops.errors import InvalidInputError
from meterops.scale import MeterGroup, fixed_groups, membership, plan_groups

_meters = st.dictionaries(
    st.integers(min_value=1, max_value=10**12),
    st.integers(min_value=0, max_value=5_000),
    max_size=60,
)


@given(meters=_meters, target=st.integers(min_value=1, max_value=20_000))
def test_every_meter_is_in_exactly_one_group_and_groups_follow_the_target(
    meters: dict[int, int], target: int
) -> None:
    frame = pl.DataFrame(
        {"meter_id": list(meters), "rows": list(meters.values())},
        schema={"meter_id": pl.Int64, "rows": pl.Int64},
    )
    groups = plan_groups(frame, target_rows=target)
    placed = [m for g in groups for m in g.meter_ids]
    assert placed == sorted(meters)  # each meter once, groups in meter-id order
    assert [g.index for g in groups] == list(range(len(groups)))
    for group in groups:
        assert group.rows == sum(meters[m] for m in group.meter_ids)
        assert group.rows <= target or len(group.meter_ids) == 1
    for left, right in itertools.pairwise(groups):
        # The next group starts only because its first meter did not fit.
        assert left.rows + meters[right.first_meter_id] > target
    if groups:
        ids = membership(groups)
        assert ids["meter_id"].to_list() == sorted(meters)
        owner = {m: g.index for g in groups for m in g.meter_ids}
        assert all(owner[m] == i for m, i in ids.iter_rows())


def test_a_meter_listed_twice_counts_its_rows_once_per_listing() -> None:
    frame = pl.DataFrame({"meter_id": [4, 4, 5], "rows": [60, 60, 10]})
    assert [(g.meter_ids, g.rows) for g in plan_groups(frame, target_rows=100)] == [
        ((4,), 120),
        ((5,), 10),
    ]


@pytest.mark.parametrize(
    ("frame", "target", "code"),
    [
        (pl.DataFrame({"meter_id": [1], "rows": [1]}), 0, "scale.target_rows"),
        (pl.DataFrame({"meter_id": [1]}), 10, "scale.meter_rows_columns"),
        (pl.DataFrame({"meter_id": [1, 2], "rows": [1, -3]}), 10, "scale.meter_rows_values"),
        (
            pl.DataFrame(
                {"meter_id": [1, 2], "rows": [1, None]}, schema_overrides={"rows": pl.Int64}
            ),
            10,
            "scale.meter_rows_values",
        ),
    ],
)
def test_bad_plans_are_refused_with_a_code(frame: pl.DataFrame, target: int, code: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        plan_groups(frame, target_rows=target)
    assert raised.value.code == code


def test_groups_refuse_empty_or_unordered_meters_and_overlaps() -> None:
    with pytest.raises(ValueError, match="no meters"):
        MeterGroup(0, ())
    with pytest.raises(ValueError, match="ascending"):
        MeterGroup(0, (3, 2))
    with pytest.raises(ValueError, match="more than one group"):
        membership([MeterGroup(0, (1, 2)), MeterGroup(1, (2, 3))])


@given(
    ids=st.lists(st.integers(min_value=1, max_value=10**9), max_size=80),
    size=st.integers(min_value=1, max_value=30),
)
def test_fixed_groups_put_every_meter_in_one_group_of_at_most_the_size(
    ids: list[int], size: int
) -> None:
    groups = fixed_groups(ids, meters_per_group=size)
    assert [m for g in groups for m in g.meter_ids] == sorted(set(ids))
    assert all(len(g.meter_ids) == size for g in groups[:-1])
    assert all(0 < len(g.meter_ids) <= size for g in groups)
    assert [g.index for g in groups] == list(range(len(groups)))


def test_fixed_groups_refuse_an_empty_size() -> None:
    with pytest.raises(InvalidInputError) as raised:
        fixed_groups([1], meters_per_group=0)
    assert raised.value.code == "scale.meters_per_group"
