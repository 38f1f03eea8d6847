"""Meter shop throughput: reading and judging test files, planning an in-service programme.

Run: ``.venv/bin/python -m benchmarks meter_shop`` (``--quick`` for a smoke run).

1. **Test files**: a meterops test CSV of N tests (FL, LL, PF as found and as left, 6 rows per
   test) is read whole with every check (``parse_test_file``) and every test judged
   (``evaluate_test``). Baseline: the same bytes through ``csv.reader`` and ``float()`` only,
   the least any reader must do.
2. **Programme planning**: lots and seeded samples (``assign_lots`` + ``draw_samples``, Z1.9-style
   plan) over a fleet of M meters in about 300 lots. Baseline: a plain Python grouping of the
   same rows into lots and ``random.sample`` per lot.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random

import numpy as np
import polars as pl

from benchmarks.harness import BenchContext, Figure, timed
from meterops.meter_shop.accuracy import (
    AccuracyTest,
    PointResult,
    Stage,
    TestLocation,
    TestPoint,
    TestSet,
    evaluate_test,
)
from meterops.meter_shop.sampling import VariablesPlan, assign_lots, draw_samples, sample_size
from meterops.meter_shop.testfiles import parse_test_file, write_test_csv

AREA = "meter shop"


def _tests(count: int, rng: np.random.Generator) -> list[AccuracyTest]:
    test_set = TestSet("TS-1", dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    start = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    values = rng.normal(100.0, 0.4, size=(count, 6)).round(3)
    return [
        AccuracyTest(
            meter_serial=f"M{i:08d}",
            tested_at_utc=start + dt.timedelta(minutes=i),
            test_set=test_set,
            location=TestLocation.SHOP,
            technician="bench",
            form="2S",
            current_class="CL200",
            accuracy_class="0.5",
            results=tuple(
                PointResult(stage, point, "all", float(values[i, j]))
                for j, (stage, point) in enumerate((s, p) for s in Stage for p in TestPoint)
            ),
            creep_pulses=0,
        )
        for i in range(count)
    ]


def _fleet(meters: int, rng: np.random.Generator) -> pl.DataFrame:
    vendors = ["Itron", "Landis+Gyr", "Aclara", "Honeywell", "Sensus"]
    return pl.DataFrame(
        {
            "meter_id": np.arange(1, meters + 1, dtype=np.int64),
            "serial_number": [f"S{i:09d}" for i in range(meters)],
            "vendor": rng.choice(vendors, meters),
            "model": rng.choice(["A", "B", "C"], meters),
            "firmware_revision": rng.choice(["1.0", "1.1", "2.0", "2.1"], meters),
            "install_year": rng.integers(2014, 2024, meters).astype(np.int32),
        }
    )


def run(ctx: BenchContext) -> list[Figure]:
    """Measure test-file reading and programme planning against plain baselines."""
    rng = np.random.default_rng(11)
    n_tests = ctx.scale(20_000, 2_000)
    data = write_test_csv(_tests(n_tests, rng))
    with timed() as elapsed:
        parsed = parse_test_file(data, file="bench.csv")
        verdicts = [evaluate_test(t).verdict for t in parsed.tests]
    ours = elapsed()
    assert len(verdicts) == n_tests
    with timed() as elapsed:
        reader = csv.reader(io.StringIO(data.decode()))
        next(reader)
        total = sum(float(row[14]) for row in reader)
    base = elapsed()
    assert total > 0
    figures = [
        Figure(
            AREA,
            f"read + judge a test CSV ({n_tests:,} tests, {6 * n_tests:,} rows)",
            n_tests / ours,
            "tests/s",
            baseline=n_tests / base,
            baseline_name="csv.reader + float() only",
            note="whole-file checks, calibration, class and tolerance per test",
        )
    ]

    meters = ctx.scale(1_000_000, 50_000)
    fleet = _fleet(meters, rng)
    plan = VariablesPlan(aql_pct=2.5)
    with timed() as elapsed:
        lots = assign_lots(fleet)
        samples = draw_samples(lots, plan=plan, seed=2026)
    ours = elapsed()
    with timed() as elapsed:
        groups: dict[tuple[object, ...], list[int]] = {}
        for row in fleet.iter_rows():
            groups.setdefault(row[2:], []).append(row[0])
        chooser = random.Random(2026)
        drawn = sum(
            len(chooser.sample(ids, sample_size(plan, len(ids)).n)) for ids in groups.values()
        )
    base = elapsed()
    assert drawn == samples.height
    figures.append(
        Figure(
            AREA,
            f"plan lots and samples ({meters:,} meters, {len(groups)} lots)",
            meters / ours,
            "meters/s",
            baseline=meters / base,
            baseline_name="Python dict grouping + random.sample",
            note=f"{samples.height:,} meters sampled",
        )
    )
    return figures
