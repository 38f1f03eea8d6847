"""Each validation rule on small hand-checkable frames, through both engines.

Every case runs the reference path (Polars expressions) and the fast path (numba kernel) via
``frames.both``, which also asserts that the two agree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest

from meterops.vee.context import VeeContext
from meterops.vee.flags import FLAGS
from meterops.vee.rules import RULES
from meterops.vee.ruleset import load_rule_set
from meterops.vee.suites import default_suite
from tests.vee.frames import (
    DAY,
    FALL,
    SPRING,
    both,
    days_frame,
    registers_frame,
    rule_hits,
    series,
    slots,
    window,
    windows_frame,
)

MISSING = FLAGS["MISSING_INTERVAL"].mask
SPIKE = FLAGS["SPIKE"].mask
ZERO = FLAGS["ZERO_RUN"].mask
INACTIVE = FLAGS["INACTIVE_USAGE"].mask
REVERSE = FLAGS["REVERSE_ENERGY"].mask
SUM = FLAGS["SUM_CHECK"].mask
CLOCK = FLAGS["CLOCK_ERROR"].mask
FLAT = FLAGS["FLATLINE"].mask
HIGH_V = FLAGS["HIGH_VOLTAGE"].mask
LOW_V = FLAGS["LOW_VOLTAGE"].mask


def varied(n: int, base: float = 0.5) -> list[float | None]:
    """Values that trip no rule: small, positive, never repeated twice in a row."""
    return [base + 0.01 * (i % 7) for i in range(n)]


def test_a_clean_day_is_not_flagged() -> None:
    outcome = both(series(varied(96)))
    assert outcome.rule_flags.to_list() == [0] * 96
    assert outcome.absent.is_empty()
    assert outcome.estimates.is_empty()


@pytest.mark.parametrize(("day", "count"), [(DAY, 96), (SPRING, 92), (FALL, 100)])
def test_dst_days_expect_92_96_100_intervals(day: dt.date, count: int) -> None:
    assert len(slots(day)) == count
    full = both(series(varied(count), first_day=day), run=window(day))
    assert full.absent.is_empty()
    assert not rule_hits(full, MISSING)
    # One interval short: exactly one absent interval, the last one.
    short = both(series(varied(count - 1), first_day=day), run=window(day))
    assert short.absent["interval_start_utc"].to_list() == [slots(day)[-1]]


def test_missing_interval_flags_null_rows_and_lists_absent_ones() -> None:
    values = varied(96)
    values[10] = None
    outcome = both(series(values, skip=[20]))
    assert rule_hits(outcome, MISSING) == [10]  # input row 10 is slot 10
    assert outcome.absent["interval_start_utc"].to_list() == [slots(DAY)[20]]


def test_source_missing_and_estimates_are_not_actual() -> None:
    flags = [0] * 96
    flags[5] = FLAGS["SOURCE_MISSING"].mask
    flags[6] = FLAGS["ESTIMATED"].mask
    outcome = both(series(varied(96), flags=flags))
    assert rule_hits(outcome, MISSING) == [5, 6]


def test_spike_against_the_series_own_history() -> None:
    values = varied(96)
    values[40] = 9.0  # mean of the others ~0.53: 9.0 > 8 x 0.53
    outcome = both(series(values))
    assert rule_hits(outcome, SPIKE) == [40]


def test_spike_needs_min_value() -> None:
    values: list[float | None] = [0.05] * 96
    values = [0.05 + 0.001 * (i % 5) for i in range(96)]
    values[40] = 0.9  # 18 x the mean, but not above min_value 1.0 kWh
    assert not rule_hits(both(series(values)), SPIKE)


def test_reverse_energy_negative_delivered() -> None:
    values = varied(96)
    values[3] = -0.2
    assert rule_hits(both(series(values)), REVERSE) == [3]


def test_received_energy_needs_a_bidirectional_meter() -> None:
    values = varied(96, base=0.3)
    received = series(values, channel="kwh_received")
    one_way = both(received)
    assert len(rule_hits(one_way, REVERSE)) == 96
    context = VeeContext(
        days=days_frame([{"meter_id": 1, "local_date": DAY, "bidirectional": True}])
    )
    assert not rule_hits(both(received, context), REVERSE)


def test_net_channel_may_go_negative() -> None:
    values = varied(96)
    values[3] = -0.2
    assert not rule_hits(both(series(values, channel="kwh_net")), REVERSE)


def test_zero_run_of_four_hours_on_an_active_account() -> None:
    values = varied(96)
    values[20:36] = [0.0] * 16  # 16 x 15 min = 4 h
    values[60:75] = [0.0] * 15  # 3 h 45 min: not flagged
    outcome = both(series(values))
    assert rule_hits(outcome, ZERO) == list(range(20, 36))


def test_zero_run_inside_a_disconnection_or_outage_or_inactive_day_is_not_flagged() -> None:
    values = varied(96)
    values[20:40] = [0.0] * 20
    times = slots(DAY)
    disconnected = windows_frame([(1, "disconnected", times[18], times[42])])
    assert not rule_hits(both(series(values), VeeContext(windows=disconnected)), ZERO)
    outage = windows_frame([(1, "outage", times[18], times[42])])
    assert not rule_hits(both(series(values), VeeContext(windows=outage)), ZERO)
    inactive = days_frame([{"meter_id": 1, "local_date": DAY, "active_account": False}])
    assert not rule_hits(both(series(values), VeeContext(days=inactive)), ZERO)


def test_zero_run_does_not_apply_to_received_energy() -> None:
    values: list[float | None] = [0.0] * 96
    assert not rule_hits(both(series(values, channel="kwh_received")), ZERO)


def test_usage_on_an_inactive_account() -> None:
    values = varied(96)
    values[0:10] = [0.0] * 10
    inactive = days_frame([{"meter_id": 1, "local_date": DAY, "active_account": False}])
    outcome = both(series(values), VeeContext(days=inactive))
    assert rule_hits(outcome, INACTIVE) == list(range(10, 96))


def test_flatline_of_three_hours() -> None:
    values = varied(96)
    values[30:42] = [1.2] * 12  # 3 h: flagged
    values[60:71] = [0.8] * 11  # 2 h 45 min: not
    assert rule_hits(both(series(values)), FLAT) == list(range(30, 42))


def test_sum_check_against_the_register_advance() -> None:
    values: list[float | None] = [0.25] * 96  # 24 kWh
    reads = series(values)
    agree = registers_frame([(1, "kwh_delivered", DAY, 1000.0, 1024.0)])
    assert not rule_hits(both(reads, VeeContext(registers=agree)), SUM)
    disagree = registers_frame([(1, "kwh_delivered", DAY, 1000.0, 1030.0)])
    assert len(rule_hits(both(reads, VeeContext(registers=disagree)), SUM)) == 96


def test_sum_check_rolls_the_register_over() -> None:
    reads = series([0.25] * 96)
    rolled = registers_frame([(1, "kwh_delivered", DAY, 99_990.0, 14.0)])  # 5 digits: +24
    assert not rule_hits(both(reads, VeeContext(registers=rolled)), SUM)


def test_sum_check_with_multiplier_on_primary_values() -> None:
    reads = series([10.0] * 96)  # 960 kWh primary
    regs = registers_frame([(1, "kwh_delivered", DAY, 100.0, 124.0)])  # 24 dial x 40
    days = days_frame([{"meter_id": 1, "local_date": DAY, "multiplier": 40.0}])
    rule_set = load_rule_set()
    rules = tuple(
        (rid, dataclasses.replace(p, interval_values_primary=True))
        if rid == "registers.sum_check"
        else (rid, p)
        for rid, p in rule_set.rules
    )
    primary = default_suite(dataclasses.replace(rule_set, rules=rules))
    context = VeeContext(days=days, registers=regs)
    assert not rule_hits(both(reads, context, suite=primary), SUM)
    # Read as secondary values, 960 kWh disagrees with a 24 kWh advance.
    assert len(rule_hits(both(reads, context), SUM)) == 96


def test_sum_check_skips_incomplete_days() -> None:
    values = [0.25] * 96
    values[5] = None
    regs = registers_frame([(1, "kwh_delivered", DAY, 1000.0, 1100.0)])
    assert not rule_hits(both(series(values), VeeContext(registers=regs)), SUM)


def test_clock_error_window_of_one_hour() -> None:
    times = slots(DAY)
    event = times[48]  # local noon
    clock = windows_frame([(1, "clock_error", event, event)])
    outcome = both(series(varied(96)), VeeContext(windows=clock))
    # Intervals ending less than an hour before noon or starting less than an hour after it.
    assert rule_hits(outcome, CLOCK) == list(range(44, 52))


def test_voltage_limits_on_the_nominal_voltage() -> None:
    values: list[float | None] = [240.0 + 0.1 * (i % 3) for i in range(96)]
    values[10] = 256.0  # above 1.058 x 240 = 253.9
    values[20] = 200.0  # below 0.917 x 240 = 220.1
    values[30] = 0.0  # during an outage: not low voltage
    times = slots(DAY)
    context = VeeContext(
        days=days_frame([{"meter_id": 1, "local_date": DAY, "nominal_voltage_v": 240.0}]),
        windows=windows_frame([(1, "outage", times[30], times[31])]),
    )
    outcome = both(series(values, channel="voltage_v"), context)
    assert rule_hits(outcome, HIGH_V) == [10]
    assert rule_hits(outcome, LOW_V) == [20]
    assert outcome.estimates.is_empty()  # voltage is validated, never estimated


def test_history_rows_are_references_but_never_flagged() -> None:
    history = series([9.0] * 96, first_day=DAY - dt.timedelta(days=1))
    today = series(varied(96))
    outcome = both(pl.concat([history, today]))
    assert outcome.rule_flags.to_list()[:96] == [0] * 96


def test_a_disabled_rule_sets_no_flag() -> None:
    rule_set = load_rule_set()
    without = dataclasses.replace(
        rule_set, rules=tuple(r for r in rule_set.rules if r[0] != "limits.spike")
    )
    values = varied(96)
    values[40] = 9.0
    assert not rule_hits(both(series(values), suite=default_suite(without)), SPIKE)


def test_every_registered_rule_has_a_rule_flag() -> None:
    for spec in RULES.values():
        assert FLAGS[spec.flag].group == "rule"
        assert spec.version >= 1
