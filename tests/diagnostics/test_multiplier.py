"""Wrong multiplier at a CT-rated meter exchange (``detect/multiplier.py``) and its verdict."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from meterops.diagnostics.detect.multiplier import (
    EXCHANGES,
    MultiplierParams,
    detect_wrong_multiplier,
    exchange_steps,
)
from meterops.diagnostics.engine import DiagnosticInputs, detect_exceptions
from meterops.diagnostics.facts import meter_facts
from meterops.diagnostics.kinds import ActionKind, Cause, ExceptionKind
from meterops.diagnostics.params import DetectParams
from meterops.diagnostics.rules import diagnose
from tests.diagnostics import frames as f

DAYS = range(1, 29)
EXCHANGE_DAY = 14
AT = dt.datetime(2026, 7, EXCHANGE_DAY, 15, tzinfo=dt.UTC)  # 10:00 in Chicago
OLD, NEW = 1, 9
"""Meter 1 is taken out of SP1, meter 9 goes in; meters 2 and 3 are neighbours."""

STANDARD_CT = (10.0, 20.0, 40.0, 60.0, 80.0, 120.0, 160.0, 240.0, 400.0)


def _meters(*, rated: bool = True) -> pl.DataFrame:
    return f.meters(
        3,
        meter_id=[NEW, 2, 3],
        serial_number=["M-NEW", "M2", "M3"],
        service_point_number=["SP1", "SP2", "SP3"],
        transformer_rated=[rated, False, False],
        ct_ratio=[40.0, 1.0, 1.0],
    )


def _daily(before: float, after: float, *, weather: float = 1.0) -> pl.DataFrame:
    """Meter-side kWh/d of the old meter before and the new one after; neighbours steady.

    ``weather`` scales every meter's days after the exchange (a hot spell).
    """
    rows: list[tuple[int, int, float]] = []
    for day in DAYS:
        w = weather if day > EXCHANGE_DAY else 1.0
        if day < EXCHANGE_DAY:
            rows.append((OLD, day, before))
        elif day > EXCHANGE_DAY:
            rows.append((NEW, day, after * w))
        rows += [(2, day, 20.0 * w), (3, day, 30.0 * w)]
    return f.daily(rows)


def _exchanges(old: float, new: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "service_point_number": ["SP1"],
            "removed_meter_id": [OLD],
            "removed_serial": ["M-OLD"],
            "installed_meter_id": [NEW],
            "installed_serial": ["M-NEW"],
            "exchanged_at_utc": [AT],
            "removed_multiplier": [old],
            "installed_multiplier": [new],
        },
        schema=EXCHANGES.schema,
    )


def _detect(daily: pl.DataFrame, old: float, new: float, *, rated: bool = True) -> pl.DataFrame:
    return detect_wrong_multiplier(
        daily=daily,
        meters=_meters(rated=rated),
        exchanges=_exchanges(old, new),
        last_day=dt.date(2026, 7, DAYS[-1]),
        zone=f.ZONE,
    )


def test_a_new_meter_recorded_with_half_the_ratio_is_a_wrong_multiplier() -> None:
    found = _detect(_daily(5.15, 5.15), 80.0, 40.0)
    assert found["meter_id"].to_list() == [NEW]
    assert found["kind"].to_list() == [ExceptionKind.WRONG_MULTIPLIER.value]
    assert found["first_seen_utc"][0] == AT
    evidence = json.loads(found["evidence"][0])
    assert evidence["billed_kwh_per_day_before"] == 412.0
    assert evidence["billed_kwh_per_day_after"] == 206.0
    assert evidence["multiplier_ratio"] == 0.5
    assert evidence["exchange_day"] == "2026-07-14"
    assert evidence["message"].startswith(
        "Billed daily use fell from 412 kWh to 206 kWh on 14 Jul 2026, the day meter M-NEW "
        "replaced M-OLD; multiplier 40 recorded for the new meter, the old meter billed with 80."
    )


def test_one_instead_of_eighty_is_found_in_a_hot_spell_too() -> None:
    found = _detect(_daily(4.0, 4.0, weather=1.4), 80.0, 1.0)
    assert found["meter_id"].to_list() == [NEW]
    assert json.loads(found["evidence"][0])["meter_ratio"] == 1.0


def test_look_alike_a_right_multiplier_at_a_site_whose_use_changes_is_not_flagged() -> None:
    assert _detect(_daily(5.0, 2.5), 80.0, 80.0).is_empty()  # half the load gone
    assert _detect(_daily(5.0, 9.0), 80.0, 80.0).is_empty()  # a new load


def test_a_ct_change_recorded_right_keeps_the_billed_use_and_is_not_flagged() -> None:
    # 400:5 CTs (80) replaced by 200:5 (40): the secondary current doubles.
    assert _detect(_daily(5.0, 10.0), 80.0, 40.0).is_empty()


def test_a_self_contained_site_or_too_few_days_is_not_judged() -> None:
    assert _detect(_daily(5.0, 5.0), 80.0, 40.0, rated=False).is_empty()
    short = _daily(5.0, 5.0).filter(
        (pl.col("meter_id") != NEW) | (pl.col("day") <= dt.date(2026, 7, EXCHANGE_DAY + 2))
    )
    assert _detect(short, 80.0, 40.0).is_empty()


def test_a_gradual_change_is_not_a_step_on_the_exchange_day() -> None:
    rows: list[tuple[int, int, float]] = []
    for day in DAYS:
        ramp = 5.0 * (1.0 + 0.08 * (day - EXCHANGE_DAY))  # use creeping up day by day
        if day < EXCHANGE_DAY:
            rows.append((OLD, day, max(ramp, 0.5)))
        elif day > EXCHANGE_DAY:
            rows.append((NEW, day, ramp))
        rows += [(2, day, 20.0), (3, day, 30.0)]
    steps = exchange_steps(
        daily=f.daily(rows),
        exchanges=_exchanges(80.0, 40.0),
        zone=f.ZONE,
        last_day=dt.date(2026, 7, DAYS[-1]),
    )
    assert steps["meter_ratio"][0] > 1.2
    assert _detect(f.daily(rows), 80.0, 40.0).is_empty()


def test_the_engine_runs_it_with_the_exchanges_and_the_verdict_is_a_back_office_fix() -> None:
    daily = _daily(5.15, 5.15)
    inputs = DiagnosticInputs(
        meters=_meters(),
        daily=daily,
        last_reads=pl.DataFrame(
            {"meter_id": [NEW, 2, 3], "last_read_utc": [f.T0 + dt.timedelta(days=28)] * 3}
        ),
        voltage_reads=f.interval_reads(2, "voltage_min_v", f.T0, []),
        registers=f.registers([]),
        events=f.events([]),
        comm_stats=f.comm_stats([]),
        collectors=pl.DataFrame(
            schema={
                "node_id": pl.String,
                "observed_at_utc": pl.Datetime("us", "UTC"),
                "status": pl.String,
            }
        ),
        window_start_utc=f.T0,
        as_of_utc=f.T0 + dt.timedelta(days=28, hours=6),
        zone=f.ZONE,
        exchanges=_exchanges(80.0, 40.0),
    )
    params = DetectParams()
    found = detect_exceptions(inputs, params=params)
    mine = found.filter(pl.col("kind") == ExceptionKind.WRONG_MULTIPLIER.value)
    assert mine["meter_id"].to_list() == [NEW]
    verdict = diagnose(mine, meter_facts(inputs, found, params=params)).row(0, named=True)
    assert verdict["cause"] == Cause.WRONG_MULTIPLIER.value
    assert verdict["action"] == ActionKind.BACK_OFFICE.value
    assert "correct the multiplier" in verdict["summary"]
    without = detect_exceptions(dataclasses.replace(inputs, exchanges=None), params=params)
    assert ExceptionKind.WRONG_MULTIPLIER.value not in without["kind"].to_list()


_ratios = st.sampled_from(STANDARD_CT)


@settings(max_examples=60, deadline=None)
@given(
    use=st.floats(1.0, 800.0),
    old=_ratios,
    new=_ratios,
    weather=st.floats(0.6, 1.6),
)
def test_continuous_meter_side_use_is_flagged_exactly_when_the_multipliers_differ(
    use: float, old: float, new: float, weather: float
) -> None:
    found = _detect(_daily(use, use, weather=weather), old, new)
    differ = max(old, new) / min(old, new) >= MultiplierParams().min_multiplier_step
    assert found.height == (1 if differ else 0)
    if differ:
        evidence = json.loads(found["evidence"][0])
        assert abs(evidence["billed_ratio"] - new / old) <= 0.01 * new / old


@settings(max_examples=60, deadline=None)
@given(
    use=st.floats(1.0, 800.0),
    step=st.floats(0.05, 8.0),
    ratio=_ratios,
    scale=st.floats(1.0, 100.0),
)
def test_equal_multipliers_are_never_flagged_and_scale_does_not_matter(
    use: float, step: float, ratio: float, scale: float
) -> None:
    assert _detect(_daily(use, use * step), ratio, ratio).is_empty()
    plain = _detect(_daily(use, use), 80.0, 40.0)
    scaled = _detect(_daily(use, use).with_columns(pl.col("kwh_delivered") * scale), 80.0, 40.0)
    assert plain["meter_id"].to_list() == scaled["meter_id"].to_list() == [NEW]
