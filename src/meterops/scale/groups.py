"""Meter groups: the unit of work of every executor (:mod:`meterops.scale.executors`).

A batch step (VEE, daily totals, determinants) is a pure function over the frame of a group of
meters. :func:`plan_groups` cuts the meters, in meter-id order, into contiguous groups whose
row counts stay near a target, so that one group's frame fits comfortably in a worker's memory
and there are enough groups to keep every worker busy. A meter is never split: its whole
history is in one group (VEE compares a meter with its own past).

Pure module: standard library and polars only; must not import ``meterops.db``, ``models``,
``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl

from meterops.errors import InvalidInputError

__all__ = ["DEFAULT_TARGET_ROWS", "MeterGroup", "fixed_groups", "membership", "plan_groups"]

DEFAULT_TARGET_ROWS: Final = 2_000_000
"""Default rows per group: about 100 MB of interval rows in memory, 20,000 meter-days."""


@dataclass(frozen=True, slots=True)
class MeterGroup:
    """A set of meters processed together, in meter-id order.

    Attributes:
        index: Position of the group in its plan (0, 1, …).
        meter_ids: The meters, ascending, without repeats.
        rows: Rows the plan expected for these meters (a size hint, not a limit).
    """

    index: int
    meter_ids: tuple[int, ...]
    rows: int = 0

    def __post_init__(self) -> None:
        if not self.meter_ids:
            msg = f"meter group {self.index} has no meters"
            raise ValueError(msg)
        if any(b <= a for a, b in zip(self.meter_ids, self.meter_ids[1:], strict=False)):
            msg = f"meter ids of group {self.index} must be ascending without repeats"
            raise ValueError(msg)

    @property
    def first_meter_id(self) -> int:
        """Smallest meter id of the group."""
        return self.meter_ids[0]

    @property
    def last_meter_id(self) -> int:
        """Largest meter id of the group."""
        return self.meter_ids[-1]


def plan_groups(
    meter_rows: pl.DataFrame, *, target_rows: int = DEFAULT_TARGET_ROWS
) -> list[MeterGroup]:
    """Cut meters into contiguous groups of about ``target_rows`` rows each.

    Meters are taken in id order and added to the current group until adding the next one
    would pass ``target_rows``; a meter with more rows than the target gets a group of its
    own. Every meter of ``meter_rows`` ends up in exactly one group.

    Args:
        meter_rows: Columns ``meter_id`` (integer) and ``rows`` (integer, ≥ 0): the rows
            each meter will bring (e.g. channels × intervals × days). A meter listed twice
            counts the sum of its rows.
        target_rows: Wanted rows per group (≥ 1).

    Returns:
        Groups in meter-id order, indexed from 0.

    Raises:
        InvalidInputError: ``target_rows`` < 1, a column is missing, or ``rows`` is negative
            or null.

    Examples:
        >>> meters = pl.DataFrame({"meter_id": [5, 1, 2, 9], "rows": [96, 96, 192, 96]})
        >>> [(g.index, g.meter_ids, g.rows) for g in plan_groups(meters, target_rows=200)]
        [(0, (1,), 96), (1, (2,), 192), (2, (5, 9), 192)]
    """
    if target_rows < 1:
        raise InvalidInputError(
            f"target_rows must be at least 1, got {target_rows}",
            code="scale.target_rows",
            details={"target_rows": target_rows},
        )
    missing = [c for c in ("meter_id", "rows") if c not in meter_rows.columns]
    if missing:
        raise InvalidInputError(
            f"meter_rows lacks column(s) {missing}; expected meter_id and rows",
            code="scale.meter_rows_columns",
            details={"missing": missing},
        )
    bad = meter_rows.filter(pl.col("rows").is_null() | (pl.col("rows") < 0))
    if bad.height:
        raise InvalidInputError(
            f"meter_rows has {bad.height} meter(s) with a null or negative row count, "
            f"e.g. meter {bad['meter_id'][0]}",
            code="scale.meter_rows_values",
            details={"meter_id": bad["meter_id"][0]},
        )
    per_meter = (
        meter_rows.group_by("meter_id")
        .agg(pl.col("rows").sum().cast(pl.Int64))
        .filter(pl.col("meter_id").is_not_null())
        .sort("meter_id")
    )
    groups: list[MeterGroup] = []
    current: list[int] = []
    current_rows = 0
    for meter_id, rows in per_meter.iter_rows():
        if current and current_rows + rows > target_rows:
            groups.append(MeterGroup(len(groups), tuple(current), current_rows))
            current, current_rows = [], 0
        current.append(int(meter_id))
        current_rows += int(rows)
    if current:
        groups.append(MeterGroup(len(groups), tuple(current), current_rows))
    return groups


def fixed_groups(meter_ids: Iterable[int], *, meters_per_group: int) -> list[MeterGroup]:
    """Cut meters, in id order, into groups of ``meters_per_group`` (the last may be smaller).

    For callers that size groups by meters rather than rows (``meterops vee run``); repeated
    ids count once.

    Raises:
        InvalidInputError: ``meters_per_group`` < 1.

    Examples:
        >>> [g.meter_ids for g in fixed_groups([9, 3, 5, 3, 7], meters_per_group=2)]
        [(3, 5), (7, 9)]
    """
    if meters_per_group < 1:
        raise InvalidInputError(
            f"meters_per_group must be at least 1, got {meters_per_group}",
            code="scale.meters_per_group",
            details={"meters_per_group": meters_per_group},
        )
    ids = sorted(set(meter_ids))
    return [
        MeterGroup(i, tuple(ids[start : start + meters_per_group]))
        for i, start in enumerate(range(0, len(ids), meters_per_group))
    ]


def membership(groups: Sequence[MeterGroup]) -> pl.DataFrame:
    """One row per meter with the index of its group (to join rows to their group).

    Args:
        groups: Groups whose meters do not overlap.

    Returns:
        Columns ``meter_id`` (Int64) and ``group_index`` (Int32), by meter id.

    Raises:
        ValueError: A meter is in more than one group.

    Examples:
        >>> membership([MeterGroup(0, (3, 4)), MeterGroup(1, (7,))]).rows()
        [(3, 0), (4, 0), (7, 1)]
    """
    frame = pl.DataFrame(
        {
            "meter_id": [m for g in groups for m in g.meter_ids],
            "group_index": [g.index for g in groups for _ in g.meter_ids],
        },
        schema={"meter_id": pl.Int64, "group_index": pl.Int32},
    ).sort("meter_id")
    repeated = frame.filter(pl.col("meter_id").is_duplicated())
    if repeated.height:
        msg = f"meter {repeated['meter_id'][0]} is in more than one group"
        raise ValueError(msg)
    return frame
