"""The consumption-drop detector and its verdicts: a bypass against its look-alikes."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from meterops.diagnostics import detect
from meterops.diagnostics.detect.drop import step_changes
from meterops.diagnostics.kinds import ExceptionKind
from meterops.diagnostics.params import DetectParams
from meterops.diagnostics.rules import evaluate
from tests.diagnostics import frames as f

P = DetectParams()
DAYS = range(1, 22)
LAST_DAY = dt.date(2026, 7, 21)
STEP = 13  # first day after the step


def _use(meter: int, day: int) -> float:
    """A premise's use: its own level, a weekly shape and a little noise (deterministic)."""
    weekend = dt.date(2026, 7, day).weekday() >= 5
    wobble = 1.0 + 0.05 * np.sin(meter * 7.0 + day * 1.3)
    return (15.0 + meter) * (1.1 if weekend else 1.0) * wobble


def _detect(rows: list[tuple[int, int, float]], meters: pl.DataFrame, **extra: list[float]):
    return detect.detect_consumption_drop(
        daily=f.daily(rows, **extra), meters=meters, last_day=LAST_DAY, zone=f.ZONE, params=P
    )


def test_a_bypass_is_a_lasting_step_down_against_the_premise_and_its_neighbours() -> None:
    rows = [
        (m, d, _use(m, d) * (0.35 if m == 1 and d >= STEP else 1.0))
        for m in range(1, 8)
        for d in DAYS
    ]
    out = _detect(rows, f.meters(7))
    assert out["meter_id"].to_list() == [1]
    evidence = json.loads(out["evidence"][0])
    assert evidence["step_day"] == f"2026-07-{STEP}"
    assert 0.3 <= evidence["drop_ratio"] <= 0.4
    assert evidence["neighbour_ratio"] > 0.9
    assert evidence["neighbours"] == 6
    assert out["first_seen_utc"][0] == f.T0 + dt.timedelta(days=STEP - 1)


def test_a_cool_spell_that_lowers_everyone_is_not_a_drop() -> None:
    rows = [(m, d, _use(m, d) * (0.5 if d >= STEP else 1.0)) for m in range(1, 8) for d in DAYS]
    assert _detect(rows, f.meters(7)).is_empty()


def test_one_low_day_or_a_weekend_business_is_not_a_step() -> None:
    rows = [(m, d, _use(m, d)) for m in range(2, 8) for d in DAYS]
    rows += [(1, d, _use(1, d) * (0.3 if d == 19 else 1.0)) for d in DAYS]
    # A business that closes at weekends: half its use every Saturday and Sunday.
    rows += [(8, d, 80.0 * (0.5 if dt.date(2026, 7, d).weekday() >= 5 else 1.0)) for d in DAYS]
    assert _detect(rows, f.meters(8)).is_empty()


def test_zero_after_the_step_is_left_to_the_zero_consumption_detector() -> None:
    rows = [(m, d, 0.0 if m == 1 and d >= STEP else _use(m, d)) for m in range(1, 8) for d in DAYS]
    assert _detect(rows, f.meters(7)).is_empty()


def test_too_few_days_after_the_step_or_an_inactive_account_is_not_judged() -> None:
    late = [
        (m, d, _use(m, d) * (0.3 if m == 1 and d >= 20 else 1.0)) for m in range(1, 8) for d in DAYS
    ]
    assert _detect(late, f.meters(7)).is_empty()
    rows = [
        (m, d, _use(m, d) * (0.3 if m == 1 and d >= STEP else 1.0))
        for m in range(1, 8)
        for d in DAYS
    ]
    inactive = f.meters(7, account_active=[False] + [True] * 6)
    assert _detect(rows, inactive).is_empty()


def test_the_export_across_the_step_is_evidence() -> None:
    rows = [
        (m, d, _use(m, d) * (0.4 if m == 1 and d >= STEP else 1.0))
        for m in range(1, 8)
        for d in DAYS
    ]
    export = [(8.0 if d >= STEP else 4.0) if m == 1 else 0.0 for m in range(1, 8) for d in DAYS]
    out = _detect(rows, f.meters(7), kwh_received=export)
    assert json.loads(out["evidence"][0])["export_ratio"] == 2.0


@settings(max_examples=40, deadline=None)
@given(
    level=st.floats(2.0, 500.0),
    share=st.floats(0.05, 0.95),
    step=st.integers(5, 18),
)
def test_the_step_found_is_where_a_clean_step_is(level: float, share: float, step: int) -> None:
    rows = [(1, d, level * (share if d >= step else 1.0)) for d in DAYS]
    rows += [(m, d, 10.0) for m in range(2, 6) for d in DAYS]  # the fleet: steady
    found = step_changes(f.daily(rows), last_day=LAST_DAY, min_days=3).row(0, named=True)
    assert found["meter_id"] == 1
    assert found["step_day"] == dt.date(2026, 7, step)
    assert abs(found["ratio"] - share) < 1e-6
    assert found["days_before"] + found["days_after"] == len(DAYS)


def test_verdicts_for_a_drop() -> None:
    def cause(**facts: object) -> str:
        rule, _ = evaluate(ExceptionKind.CONSUMPTION_DROP, facts)
        return f"{rule.rule_id}:{rule.cause.value}"

    assert cause(drop_ratio=0.3, neighbour_ratio=1.0, tamper_events=0) == (
        "consumption_drop.bypass:bypass_theft"
    )
    assert cause(drop_ratio=0.3, tamper_events=2) == "consumption_drop.tamper:bypass_theft"
    assert cause(drop_ratio=0.3, neighbour_ratio=0.5, tamper_events=0) == (
        "consumption_drop.shared:customer_usage"
    )
    assert cause(drop_ratio=0.3, net_metering=True, export_ratio=1.6, tamper_events=0) == (
        "consumption_drop.solar:customer_usage"
    )
    assert cause(drop_ratio=0.3, net_metering=True, export_ratio=1.0, tamper_events=0) == (
        "consumption_drop.bypass:bypass_theft"
    )
    assert cause(drop_ratio=0.5, step_t=2.1, neighbour_ratio=1.0, tamper_events=0) == (
        "consumption_drop.within_noise:customer_usage"
    )
    assert cause(drop_ratio=0.5, step_t=2.1, tamper_events=1) == (
        "consumption_drop.tamper:bypass_theft"
    )
    assert cause(drop_ratio=0.5, step_t=4.0, neighbour_ratio=1.0, tamper_events=0) == (
        "consumption_drop.bypass:bypass_theft"
    )


def test_a_register_that_stopped_on_the_step_day_is_not_a_drop() -> None:
    # the stop day keeps the morning's use, then exact zeros: a stopped register (the
    # zero-consumption detector's), not a bypass that registers a share of the use
    def use(m: int, d: int) -> float:
        if m != 1 or d < STEP:
            return _use(m, d)
        return _use(m, d) * 0.4 if d == STEP else 0.0

    rows = [(m, d, use(m, d)) for m in range(1, 8) for d in DAYS]
    assert _detect(rows, f.meters(7)).is_empty()
    # the same step to 35 % that keeps registering is a drop
    rows = [
        (m, d, _use(m, d) * (0.35 if m == 1 and d > STEP else 1.0))
        for m in range(1, 8)
        for d in DAYS
    ]
    assert _detect(rows, f.meters(7))["meter_id"].to_list() == [1]


def test_a_new_customer_after_a_move_in_is_not_a_drop() -> None:
    # the premise changed hands on the step day: the new customer uses 40 % of the old one's
    rows = [
        (m, d, _use(m, d) * (0.4 if m == 1 and d >= STEP else 1.0))
        for m in range(1, 8)
        for d in DAYS
    ]
    moved = f.meters(7, account_opened_on=[dt.date(2026, 7, STEP - 1)] + [None] * 6)
    assert _detect(rows, moved).is_empty()
    # a customer there for years with the same step is judged against their own history
    stayed = f.meters(7, account_opened_on=[dt.date(2019, 3, 1)] + [None] * 6)
    assert _detect(rows, stayed)["meter_id"].to_list() == [1]


def test_a_step_within_a_noisy_premises_day_to_day_swing_is_not_sent_as_a_bypass() -> None:
    # meter 1 charges an EV on some days (its use swings 8-50 kWh/d); its best step down is
    # to about half, but no bigger than its own swing: an exception for the analyst, no visit
    swing = [8.0, 50.0, 12.0, 44.0, 9.0, 48.0, 30.0, 10.0, 46.0, 11.0, 40.0, 13.0]
    swing += [9.0, 14.0, 18.0, 8.0, 12.0, 10.0, 16.0, 9.0, 13.0]
    rows = [(m, d, _use(m, d)) for m in range(2, 8) for d in DAYS]
    rows += [(1, d, swing[d - 1]) for d in DAYS]
    out = _detect(rows, f.meters(7))
    assert out["meter_id"].to_list() == [1]
    evidence = json.loads(out["evidence"][0])
    assert evidence["step_t"] < 3.0
    rule, _ = evaluate(
        ExceptionKind.CONSUMPTION_DROP,
        {"drop_ratio": evidence["drop_ratio"], "step_t": evidence["step_t"], "tamper_events": 0},
    )
    assert rule.rule_id == "consumption_drop.within_noise"
    # the clean bypass of the first test stands far above its noise
    rows = [
        (m, d, _use(m, d) * (0.35 if m == 1 and d >= STEP else 1.0))
        for m in range(1, 8)
        for d in DAYS
    ]
    assert json.loads(_detect(rows, f.meters(7))["evidence"][0])["step_t"] > 10.0
