"""The local executor (process pool) gives what the in-process one gives, group by group.

On a simulated territory ingested through the real path: the VEE job and a daily-totals job,
over several groups; the grouped VEE run also adds up to one call over every meter at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import overload

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from meterops.reads.store import ReadStore
from meterops.scale import (
    InProcessExecutor,
    LocalExecutor,
    MeterGroup,
    ReadWindow,
    plan_store,
    run_job,
)
from meterops.scale.executors import check_output
from meterops.scale.jobs import DailyTotals
from meterops.vee.batch import report_from_rows, store_rows
from tests.scale.territory import INVISIBLE_FILE_ID, ZONE, Territory

TARGET_ROWS = 2_000


def _kinds(rows: pl.DataFrame) -> dict[str, int]:
    return dict(rows.group_by("row_kind").len().iter_rows())


def test_local_executor_equals_in_process_for_the_vee_job(
    vee_outputs: dict[str, list[pl.DataFrame]], groups: list[MeterGroup]
) -> None:
    reference, pooled = vee_outputs["inprocess"], vee_outputs["local"]
    assert len(reference) == len(pooled) == len(groups)
    for ours, theirs in zip(reference, pooled, strict=True):
        assert_frame_equal(theirs, ours)
    kinds = _kinds(pl.concat(reference))
    assert kinds["flags"]
    assert kinds["estimate"]
    assert kinds["absent"]
    assert kinds["count"]
    # The group of meters without reads: the job's output for an empty frame.
    assert set(reference[-1]["row_kind"]) == {"count"}
    assert reference[-1]["value"].sum() == 0


def test_grouped_vee_adds_up_to_one_call_over_every_meter(
    territory: Territory, vee_outputs: dict[str, list[pl.DataFrame]]
) -> None:
    grouped = pl.concat(vee_outputs["inprocess"])
    store, window = territory.store, territory.window
    everyone = store.current_interval_reads(start_utc=window.start_utc, end_utc=window.end_utc)
    whole = territory.job(everyone)
    for ours, theirs in zip(store_rows(grouped), store_rows(whole), strict=True):
        assert_frame_equal(ours, theirs)
    assert report_from_rows(grouped, territory.job.suite) == report_from_rows(
        whole, territory.job.suite
    )


def test_local_executor_equals_in_process_for_daily_totals(
    territory: Territory, groups: list[MeterGroup]
) -> None:
    job = DailyTotals(ZONE)
    reference = pl.concat(InProcessExecutor().map_groups(job, territory.window, groups))
    pooled = pl.concat(LocalExecutor(2).map_groups(job, territory.window, groups))
    assert_frame_equal(pooled, reference)
    # Sanity: the totals are the current values (estimates included, invisible rows not).
    window = territory.window
    current = territory.store.current_interval_reads(
        start_utc=window.start_utc, end_utc=window.end_utc
    )
    assert reference["reads"].sum() == current.height
    assert reference["value_sum"].sum() == pytest.approx(current["value"].sum(), rel=1e-12)
    assert INVISIBLE_FILE_ID not in current["source_file_id"].to_list()


def test_run_job_plans_the_store_and_concatenates_in_group_order(territory: Territory) -> None:
    store = ReadStore(territory.store.uri)
    window = territory.window
    groups = plan_store(
        store, start_utc=window.start_utc, end_utc=window.end_utc, target_rows=TARGET_ROWS
    )
    assert [m for g in groups for m in g.meter_ids] == sorted(territory.meter_rows["meter_id"])
    job = DailyTotals(ZONE)
    by_name = run_job(
        job, store, groups, start_utc=window.start_utc, end_utc=window.end_utc, executor="inprocess"
    )
    channels = ("kwh_delivered",)
    local = run_job(
        job,
        store,
        groups,
        start_utc=window.start_utc,
        end_utc=window.end_utc,
        executor="local",
        workers=2,
        channels=channels,
    )
    assert_frame_equal(local, by_name.filter(pl.col("channel").is_in(channels)))
    assert by_name["meter_id"].is_sorted()
    none = run_job(job, store, [], start_utc=window.start_utc, end_utc=window.end_utc)
    assert none.is_empty()
    assert none.schema == job.output_schema


def test_bad_windows_executors_and_outputs_are_refused(territory: Territory) -> None:
    start = territory.window.start_utc
    with pytest.raises(ValueError, match="aware"):
        ReadWindow("x", start.replace(tzinfo=None), start + dt.timedelta(days=1))
    with pytest.raises(ValueError, match="not after"):
        ReadWindow("x", start, start)
    with pytest.raises(ValueError, match="workers"):
        LocalExecutor(0)
    with pytest.raises(ValueError, match="unknown executor"):
        run_job(
            DailyTotals(ZONE),
            territory.store,
            [MeterGroup(0, (1,))],
            start_utc=start,
            end_utc=start + dt.timedelta(days=1),
            executor="threads",  # type: ignore[arg-type]
        )
    with pytest.raises(TypeError, match="output_schema"):
        check_output(DailyTotals(ZONE), pl.DataFrame({"meter_id": [1]}))


class _CountingGroups(Sequence[MeterGroup]):
    """Groups that count how many the executor has taken so far."""

    def __init__(self, groups: list[MeterGroup]) -> None:
        self.groups = groups
        self.taken = 0

    def __len__(self) -> int:
        return len(self.groups)

    @overload
    def __getitem__(self, index: int) -> MeterGroup: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[MeterGroup]: ...
    def __getitem__(self, index: int | slice) -> MeterGroup | Sequence[MeterGroup]:
        return self.groups[index]

    def __iter__(self) -> Iterator[MeterGroup]:
        for group in self.groups:
            self.taken += 1
            yield group


def test_local_executor_streams_with_at_most_in_flight_groups_ahead(
    territory: Territory, groups: list[MeterGroup]
) -> None:
    counting = _CountingGroups(groups)
    outputs = LocalExecutor(2, in_flight=2).map_groups(
        DailyTotals(ZONE), territory.window, counting
    )
    first = next(outputs)
    assert counting.taken == 2  # the first output arrives before the third group is sent
    rest = list(outputs)
    assert counting.taken == len(groups)
    assert len(rest) == len(groups) - 1
    assert first["meter_id"].is_in(list(groups[0].meter_ids)).all()
