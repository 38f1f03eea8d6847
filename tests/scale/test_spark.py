"""The Spark executor (``local[2]``) gives what the local executor gives, group by group.

Spark reads the store's Parquet files itself (raw rows of committed files only, versions,
flags) and runs the same jobs inside ``applyInArrow``. Skipped without PySpark or Java, except
in CI (``METEROPS_REQUIRE_SPARK=1``), where it must run.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from meterops.scale import MeterGroup, run_job
from meterops.scale.jobs import DailyTotals
from tests.scale.territory import ZONE, Territory

pytestmark = [pytest.mark.spark, pytest.mark.slow]  # Spark: CI runs it on SQLite only


def test_spark_vee_job_equals_the_local_executor_and_in_process(
    territory: Territory,
    spark_executor: Any,
    groups: list[MeterGroup],
    vee_outputs: dict[str, list[pl.DataFrame]],
) -> None:
    on_spark = list(spark_executor.map_groups(territory.job, territory.window, groups))
    local, in_process = vee_outputs["local"], vee_outputs["inprocess"]
    assert len(on_spark) == len(local) == len(in_process) == len(groups)
    for spark_out, local_out, reference in zip(on_spark, local, in_process, strict=True):
        assert_frame_equal(spark_out, local_out)
        assert_frame_equal(local_out, reference)
    kinds = set(pl.concat(on_spark)["row_kind"].unique())
    assert {"flags", "estimate", "absent", "count"} <= kinds


def test_spark_runs_any_job_daily_totals(
    territory: Territory, spark_executor: Any, groups: list[MeterGroup]
) -> None:
    job = DailyTotals(ZONE)
    window = territory.window
    on_spark = run_job(
        job,
        territory.store,
        groups,
        start_utc=window.start_utc,
        end_utc=window.end_utc,
        executor=spark_executor,
        channels=("kwh_delivered", "kwh_received"),
    )
    reference = run_job(
        job,
        territory.store,
        groups,
        start_utc=window.start_utc,
        end_utc=window.end_utc,
        executor="inprocess",
        channels=("kwh_delivered", "kwh_received"),
    )
    assert_frame_equal(on_spark, reference)
    assert set(on_spark["channel"]) == {"kwh_delivered", "kwh_received"}
