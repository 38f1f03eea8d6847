"""Fixtures of the scale-out tests: a simulated territory and, when it can run, Spark.

The Spark tests skip (with the reason) when PySpark or Java is missing, and fail instead when
``METEROPS_REQUIRE_SPARK=1`` (CI), so that CI can never pass by skipping them.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from meterops.scale import InProcessExecutor, LocalExecutor, MeterGroup, plan_groups
from tests.scale.territory import Territory, build

TARGET_ROWS = 2_000


@pytest.fixture(scope="package")
def territory(tmp_path_factory: pytest.TempPathFactory) -> Territory:
    """Three simulated days of 24 meters ingested, validated once and written back."""
    return build(tmp_path_factory.mktemp("territory"))


@pytest.fixture(scope="package")
def groups(territory: Territory) -> list[MeterGroup]:
    """Several groups (more than workers) and a last one of meters without any read."""
    planned = plan_groups(territory.meter_rows, target_rows=TARGET_ROWS)
    assert len(planned) >= 4
    return [*planned, MeterGroup(len(planned), (10**9, 10**9 + 1))]


@pytest.fixture(scope="package")
def vee_outputs(territory: Territory, groups: list[MeterGroup]) -> dict[str, list[pl.DataFrame]]:
    """The VEE job's output per group, in process and from the local executor (2 workers)."""
    job, window = territory.job, territory.window
    return {
        "inprocess": list(InProcessExecutor().map_groups(job, window, groups)),
        "local": list(LocalExecutor(2, in_flight=3).map_groups(job, window, groups)),
    }


def _spark_missing() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (the `spark` extra)"
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and Path(java_home).is_dir()):
        return "no Java runtime (java on PATH or JAVA_HOME) for Spark"
    return None


@pytest.fixture(scope="package")
def spark_executor() -> Iterator[object]:
    """A :class:`~meterops.scale.spark.SparkExecutor` on a ``local[2]`` session."""
    missing = _spark_missing()
    if missing is not None:
        if os.environ.get("METEROPS_REQUIRE_SPARK") == "1":
            pytest.fail(f"{missing}; CI requires the Spark test (METEROPS_REQUIRE_SPARK=1)")
        pytest.skip(f"{missing}; the Spark executor test is skipped")
    from meterops.scale.spark import SparkExecutor

    executor = SparkExecutor(master="local[2]")
    try:
        yield executor
    finally:
        executor.close()
