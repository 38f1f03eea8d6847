"""Estimation methods on hand-checkable gaps, through both engines."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from meterops.vee.context import VeeContext
from meterops.vee.estimation import drop_unchanged
from meterops.vee.flags import FLAGS, flag_names
from tests.vee.frames import DAY, both, registers_frame, series, slots, windows_frame


def ramp(n: int, offset: float = 0.0) -> list[float | None]:
    """0.5, 0.51, … distinct positive values."""
    return [0.5 + offset + 0.01 * i for i in range(n)]


def test_linear_interpolation_between_the_neighbours() -> None:
    values = ramp(96)
    values[9], values[13] = 1.0, 2.0
    values[10] = None  # a null row: parent version 0
    outcome = both(series(values, skip=[11, 12]))
    est = outcome.estimates
    assert est["value"].to_list() == pytest.approx([1.25, 1.5, 1.75])
    assert est["interval_start_utc"].to_list() == slots(DAY)[10:13]
    assert set(est["method"]) == {"linear_interpolation"}
    assert set(est["reason_code"]) == {"missing_read"}
    assert set(est["actor"]) == {"estimation.linear_interpolation@1"}
    assert est["parent_version"].to_list() == [0, None, None]
    for flags in est["quality_flags"]:
        assert set(flag_names(flags)) == {"ESTIMATED", "MISSING_INTERVAL"}


@pytest.mark.parametrize(("gap", "method"), [(8, "linear_interpolation"), (9, "flat_average")])
def test_interpolation_up_to_two_hours(gap: int, method: str) -> None:
    outcome = both(series(ramp(96), skip=range(20, 20 + gap)))
    assert outcome.estimates.height == gap
    assert set(outcome.estimates["method"]) == {method}


def test_a_gap_at_the_day_edge_is_not_interpolated() -> None:
    outcome = both(series(ramp(96), skip=[0, 1]))
    assert set(outcome.estimates["method"]) == {"flat_average"}


def test_flat_average_is_the_series_mean() -> None:
    values = ramp(96)
    outcome = both(series(values, skip=range(40, 52)))
    kept = [v for i, v in enumerate(values) if not 40 <= i < 52]
    mean = sum(v for v in kept if v is not None) / len(kept)
    assert outcome.estimates["value"].to_list() == pytest.approx([mean] * 12)


def history(days: int, first: dt.date) -> pl.DataFrame:
    """``days`` days before ``first``, day k (1 = the day before) valued slot/100 + k."""
    parts = []
    for k in range(1, days + 1):
        day = first - dt.timedelta(days=k)
        parts.append(series([i / 100 + k for i in range(96)], first_day=day))
    return pl.concat(parts)


def test_like_day_averages_the_last_three_weekdays() -> None:
    # DAY is a Wednesday: the last three weekdays are k=1 (Tue), 2 (Mon), 5 (Fri).
    today = series(ramp(96), skip=range(40, 52))
    outcome = both(pl.concat([history(7, DAY), today]))
    expected = [i / 100 + (1 + 2 + 5) / 3 for i in range(40, 52)]
    assert outcome.estimates["value"].to_list() == pytest.approx(expected)
    assert set(outcome.estimates["method"]) == {"like_day"}


def test_register_scaled_profile_adds_up_to_the_advance() -> None:
    values = ramp(96)
    today = series(values, skip=range(40, 52))
    actual_sum = sum(v for i, v in enumerate(values) if v is not None and not 40 <= i < 52)
    advance = round(actual_sum + 30.0)
    regs = registers_frame([(1, "kwh_delivered", DAY, 500.0, 500.0 + advance)])
    outcome = both(pl.concat([history(7, DAY), today]), VeeContext(registers=regs))
    est = outcome.estimates
    assert set(est["method"]) == {"register_scaled_profile"}
    assert est["value"].sum() == pytest.approx(advance - actual_sum)
    # The shape is the like-day profile's.
    profile = [i / 100 + 8 / 3 for i in range(40, 52)]
    ratios = [v / p for v, p in zip(est["value"].to_list(), profile, strict=True)]
    assert max(ratios) == pytest.approx(min(ratios))


@pytest.mark.parametrize(
    ("kind", "method", "reason"),
    [
        ("disconnected", "zero_disconnected", "disconnected"),
        ("outage", "zero_outage", "power_outage"),
    ],
)
def test_zero_for_a_disconnected_or_powerless_meter(kind: str, method: str, reason: str) -> None:
    times = slots(DAY)
    context = VeeContext(windows=windows_frame([(1, kind, times[30], times[70])]))
    outcome = both(series(ramp(96), skip=range(40, 60)), context)
    assert outcome.estimates["value"].to_list() == [0.0] * 20
    assert set(outcome.estimates["method"]) == {method}
    assert set(outcome.estimates["reason_code"]) == {reason}


def test_re_estimating_names_the_parent_and_drops_unchanged_values() -> None:
    values = ramp(96)
    values[9], values[11] = 1.0, 2.0
    values[10] = 1.5  # the estimate a previous run made (version 1)
    flags = [0] * 96
    flags[10] = FLAGS["ESTIMATED"].mask | FLAGS["MISSING_INTERVAL"].mask
    reads = series(values, flags=flags).with_columns(
        pl.when(pl.int_range(pl.len()) == 10).then(1).otherwise(0).cast(pl.Int32).alias("version")
    )
    est = both(reads).estimates
    assert est["parent_version"].to_list() == [1]
    assert est["previous_value"].to_list() == [1.5]
    assert drop_unchanged(est).is_empty()  # same value again: nothing new to write
    moved = reads.with_columns(
        pl.when(pl.int_range(pl.len()) == 11).then(3.0).otherwise(pl.col("value")).alias("value")
    )
    assert drop_unchanged(both(moved).estimates)["value"].to_list() == [2.0]


def test_source_bits_carry_over_to_the_estimate() -> None:
    flags = [0] * 96
    flags[10] = FLAGS["SOURCE_MISSING"].mask
    est = both(series(ramp(96), flags=flags)).estimates
    assert set(flag_names(est["quality_flags"][0])) == {
        "SOURCE_MISSING",
        "ESTIMATED",
        "MISSING_INTERVAL",
    }
