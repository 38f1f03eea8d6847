"""Spark schema strings for job outputs (no Spark needed)."""

from __future__ import annotations

import polars as pl
import pytest

from meterops.reads.store import Table, stored_schema
from meterops.scale.jobs import DAILY_TOTALS
from meterops.scale.spark import spark_ddl
from meterops.vee.batch import VEE_OUTPUT


def test_outputs_and_stored_tables_have_spark_schemas() -> None:
    assert spark_ddl(DAILY_TOTALS) == (
        "`meter_id` bigint, `channel` string, `local_date` date, `reads` bigint, `value_sum` double"
    )
    assert "`quality_flags` bigint" in spark_ddl(VEE_OUTPUT)  # UInt32 widened
    assert "`interval_start_utc` timestamp" in spark_ddl(stored_schema(Table.INTERVAL_READS))


@pytest.mark.parametrize(
    ("dtype", "message"),
    [(pl.Datetime("us"), "naive datetimes"), (pl.List(pl.Int64), "no Spark type")],
)
def test_columns_without_a_spark_type_are_named(dtype: pl.DataType, message: str) -> None:
    with pytest.raises(TypeError, match=f"column 'bad'.*{message}"):
        spark_ddl(pl.Schema({"ok": pl.Int64(), "bad": dtype}))
