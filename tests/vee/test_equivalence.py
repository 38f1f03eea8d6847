"""The reference path (Polars) and the fast path (numba) agree on random data.

Flags identical, absent intervals identical, estimates equal within 1e-9 relative, on random
fleets with gaps (absent rows, nulls, source-missing, old estimates), spikes, zero runs,
flatlines, negative values, DST days, disconnections, outages, clock events, register reads
(with rollover) and history days before the window.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from meterops.timeutil import local_day_bounds_utc
from meterops.vee.context import VEE_INPUT, RunWindow, VeeContext
from meterops.vee.engine import run_vee
from meterops.vee.flags import FLAGS
from meterops.vee.suites import default_suite
from tests.vee.frames import (
    ZONE,
    assert_estimates_equal,
    days_frame,
    registers_frame,
    windows_frame,
)

CHANNELS = ("kwh_delivered", "kwh_received", "kwh_net", "voltage_v", "water_ft3_delivered")
FIRST_DAYS = (dt.date(2024, 3, 8), dt.date(2024, 11, 1), dt.date(2024, 7, 3))


def _fleet(
    seed: int, meters: int, history: int, days: int, first: dt.date
) -> tuple[pl.DataFrame, VeeContext, RunWindow]:
    rng = np.random.default_rng(seed)
    zone = ZoneInfo(ZONE)
    day0 = first - dt.timedelta(days=history)
    start, _ = local_day_bounds_utc(day0, zone)
    _, end = local_day_bounds_utc(first + dt.timedelta(days=days - 1), zone)
    frames = []
    day_rows: list[dict[str, object]] = []
    windows: list[tuple[int, str, dt.datetime, dt.datetime]] = []
    registers: list[tuple[int, str, dt.date, float, float]] = []
    for meter in range(1, meters + 1):
        chosen = rng.choice(len(CHANNELS), size=int(rng.integers(1, 3)), replace=False)
        for c in sorted(int(i) for i in chosen):
            channel = CHANNELS[c]
            interval_s = 900 if rng.random() < 0.8 else 3600
            n = int((end - start).total_seconds()) // interval_s
            times = [start + dt.timedelta(seconds=interval_s * i) for i in range(n)]
            base = 240.0 if channel == "voltage_v" else 0.4
            values = base + rng.gamma(2.0, 0.2 if base < 1 else 3.0, n)
            values = np.round(values, int(rng.integers(1, 4)))
            for _ in range(int(rng.integers(0, 4))):  # zero runs
                a = int(rng.integers(0, n))
                values[a : a + int(rng.integers(1, 30))] = 0.0
            for _ in range(int(rng.integers(0, 3))):  # flatlines
                a = int(rng.integers(0, n))
                values[a : a + int(rng.integers(1, 20))] = values[a]
            for _ in range(int(rng.integers(0, 3))):  # spikes and negatives
                values[int(rng.integers(0, n))] *= 20.0
                values[int(rng.integers(0, n))] = -0.3
            flags = np.zeros(n, np.uint32)
            flags[rng.random(n) < 0.02] |= FLAGS["SOURCE_MISSING"].mask
            flags[rng.random(n) < 0.02] |= FLAGS["ESTIMATED"].mask
            flags[rng.random(n) < 0.02] |= FLAGS["POWER_OUTAGE"].mask
            version = np.where(flags & FLAGS["ESTIMATED"].mask, 1, 0).astype(np.int32)
            keep = np.ones(n, np.bool_)
            for _ in range(int(rng.integers(0, 4))):  # absent gaps of any length
                a = int(rng.integers(0, n))
                keep[a : a + int(rng.integers(1, 40))] = False
            nulls = rng.random(n) < 0.03
            frames.append(
                pl.DataFrame(
                    {
                        "meter_id": meter,
                        "channel": channel,
                        "interval_start_utc": times,
                        "interval_s": interval_s,
                        "value": np.where(nulls, np.nan, values),
                        "quality_flags": flags,
                        "version": version,
                    }
                )
                .with_columns(pl.col("value").fill_nan(None))
                .filter(pl.Series(keep))
            )
            for d in range(days):
                if rng.random() < 0.5:
                    day = first + dt.timedelta(days=d)
                    a = float(rng.integers(99_900, 100_000))
                    advance = float(rng.uniform(0, 80))
                    end_value = (a + advance) % 100_000 if rng.random() < 0.5 else a + 30.0
                    registers.append((meter, channel, day, a, end_value))
        day_rows.extend(
            {
                "meter_id": meter,
                "local_date": first + dt.timedelta(days=d),
                "active_account": bool(rng.random() < 0.8),
                "bidirectional": bool(rng.random() < 0.3),
                "multiplier": float(rng.choice([1.0, 40.0])),
                "nominal_voltage_v": 240.0 if rng.random() < 0.7 else None,
            }
            for d in range(-history, days)
            if rng.random() < 0.5
        )
        for _ in range(int(rng.integers(0, 4))):
            kind = str(rng.choice(["disconnected", "outage", "clock_error"]))
            a = start + dt.timedelta(
                seconds=int(rng.integers(0, int((end - start).total_seconds())))
            )
            b = (
                a
                if kind == "clock_error"
                else a + dt.timedelta(seconds=int(rng.integers(0, 30_000)))
            )
            windows.append((meter, kind, a, b))
    reads = pl.concat(frames).cast(VEE_INPUT.schema)  # type: ignore[arg-type]
    if rng.random() < 0.5:
        reads = reads.sample(fraction=1.0, shuffle=True, seed=seed)
    context = VeeContext(days_frame(day_rows), windows_frame(windows), registers_frame(registers))
    return reads, context, RunWindow(first, first + dt.timedelta(days=days - 1), ZONE)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    meters=st.integers(1, 4),
    history=st.integers(0, 8),
    days=st.integers(1, 3),
    first=st.sampled_from(FIRST_DAYS),
)
# Found by CI: a fleet whose estimated rows all came from one channel mapping typed
# the missing-interval bit as a string.
@example(seed=77474387, meters=1, history=0, days=1, first=dt.date(2024, 3, 8))
def test_reference_and_fast_paths_agree(
    seed: int, meters: int, history: int, days: int, first: dt.date
) -> None:
    reads, context, run = _fleet(seed, meters, history, days, first)
    suite = default_suite()
    ref = run_vee(reads, context, suite=suite, window=run, engine="reference")
    fast = run_vee(reads, context, suite=suite, window=run, engine="fast")
    assert ref.rule_flags.to_list() == fast.rule_flags.to_list()
    assert ref.absent.equals(fast.absent)
    assert_estimates_equal(ref.estimates, fast.estimates)


def test_the_random_fleet_exercises_every_rule_and_method() -> None:
    """The generator is rich enough that the property above compares every rule and method."""
    suite = default_suite()
    bits = 0
    methods: set[str] = set()
    for seed in range(12):
        reads, context, run = _fleet(seed, 4, 8, 3, FIRST_DAYS[seed % 3])
        outcome = run_vee(reads, context, suite=suite, window=run, engine="fast")
        for value in outcome.rule_flags.unique().to_list():
            bits |= int(value)
        methods |= set(outcome.estimates["method"].unique().to_list())
    for spec in (s for c in CHANNELS for s in suite.rules_for(c)):
        assert bits & spec.mask, spec.rule_id
    assert methods >= {"linear_interpolation", "like_day", "register_scaled_profile"}
