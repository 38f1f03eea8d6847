"""Pure core: weather files, the degree-day model, daily use, checks and verdicts."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterops.billing.checks import (
    CheckParams,
    Status,
    check_accuracy_test,
    check_crossed_meters,
    check_estimation,
    check_multiplier,
    check_tou_program,
)
from meterops.billing.compare import BillingPeriod, compare_periods
from meterops.billing.normalize import FALLBACK, NormalizeParams, fit_weather_model, predict_use
from meterops.billing.usage import EvParams, daily_usage, detect_ev_sessions
from meterops.billing.verdict import Cause, decide
from meterops.billing.weather import parse_weather_csv, write_weather_csv
from meterops.errors import InvalidInputError, ValidationReportError

UTC = dt.UTC
START = dt.date(2026, 1, 1)


def _days(n: int) -> list[dt.date]:
    return [START + dt.timedelta(days=i) for i in range(n)]


# Weather files


def test_weather_file_errors_name_line_and_field() -> None:
    data = b"date,temperature_f\n2026-01-01,20\n2026-01-32,20\n2026-01-03,warm\n2026-01-01,3\n"
    with pytest.raises(ValidationReportError) as caught:
        parse_weather_csv(data, file="w.csv")
    issues = [(i.line, i.field, i.code) for i in caught.value.issues]
    assert issues == [
        (3, "date", "weather.bad_date"),
        (4, "temperature_f", "weather.bad_temperature"),
        (5, "date", "weather.duplicate_day"),
    ]
    assert "w.csv, line 3, field 'date'" in str(caught.value)


def test_weather_file_without_temperature_column_is_refused() -> None:
    with pytest.raises(ValidationReportError, match="temperature_c"):
        parse_weather_csv(b"date,temp\n2026-01-01,3\n", file="w.csv")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(min_value=-60, max_value=50, allow_nan=False), min_size=1, max_size=40))
def test_weather_file_round_trips(values: list[float]) -> None:
    frame = pl.DataFrame({"day": _days(len(values)), "temperature_c": values})
    assert parse_weather_csv(write_weather_csv(frame), file="w.csv").equals(frame)


# The fallback model


def _synthetic(
    n: int, *, base: float, heat: float, cool: float, seed: int, th: float = 15.0, tc: float = 22.0
) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    t = 10 + 15 * np.sin(np.arange(n) / 58.0) + rng.normal(0, 3, n)
    y = base + heat * np.maximum(th - t, 0) + cool * np.maximum(t - tc, 0) + rng.normal(0, 1, n)
    return pl.DataFrame({"day": _days(n), "temperature_c": t, "energy_kwh": y})


def test_fallback_recovers_balance_points_and_slopes() -> None:
    model = fit_weather_model(
        _synthetic(365, base=12, heat=1.4, cool=2.1, seed=1),
        params=NormalizeParams(use_eemeter=False),
    )
    assert model.method == FALLBACK
    assert model.heating_balance_c == pytest.approx(15.0, abs=1.0)
    assert model.cooling_balance_c == pytest.approx(22.0, abs=1.0)
    assert model.heating_kwh_per_degree_day == pytest.approx(1.4, rel=0.1)
    assert model.cooling_kwh_per_degree_day == pytest.approx(2.1, rel=0.1)
    assert model.r_squared > 0.9


def test_weather_free_use_gets_an_intercept_only_model() -> None:
    frame = _synthetic(60, base=12, heat=0, cool=0, seed=2)
    model = fit_weather_model(frame, params=NormalizeParams(use_eemeter=False))
    assert model.heating_balance_c is None
    assert model.cooling_balance_c is None
    predicted = predict_use(model, frame)
    assert predicted["heating_kwh"].sum() == 0
    assert predicted["base_kwh"].mean() == pytest.approx(12, abs=0.5)


def test_too_few_days_is_a_clear_error() -> None:
    with pytest.raises(InvalidInputError, match="at least 14 days"):
        fit_weather_model(_synthetic(5, base=1, heat=1, cool=1, seed=3))


# Comparison


def test_a_cold_month_is_weather_and_an_ev_is_use() -> None:
    rng = np.random.default_rng(4)
    n = 120
    t = 8 + 6 * np.sin(np.arange(n) / 5.0) + rng.normal(0, 1, n)
    t[90:] -= 6.0  # the current period is 6 °C colder
    y = 12 + 1.5 * np.maximum(15 - t, 0) + rng.normal(0, 0.5, n)
    frame = pl.DataFrame({"day": _days(n), "temperature_c": t, "delivered_kwh": y})
    frame = frame.with_columns(energy_kwh=pl.col("delivered_kwh"))
    previous = BillingPeriod(_days(n)[60], _days(n)[89])
    current = BillingPeriod(_days(n)[90], _days(n)[119])
    model = fit_weather_model(
        frame.filter(pl.col("day") < current.first_day), params=NormalizeParams(use_eemeter=False)
    )
    weather = compare_periods(frame, current=current, previous=previous, model=model)
    expected = 1.5 * float(np.maximum(15 - t[90:], 0).sum() - np.maximum(15 - t[60:90], 0).sum())
    assert weather.heating_kwh == pytest.approx(expected, rel=0.15)
    assert abs(weather.use_kwh) < 0.2 * weather.heating_kwh
    assert decide(weather, []).cause is Cause.WEATHER
    # an EV adds 10 kWh a day in the current period (mild weather as before)
    mild = frame.with_columns(
        temperature_c=pl.Series(np.where(np.arange(n) >= 90, t + 6.0, t)),
    ).with_columns(
        delivered_kwh=pl.Series(12 + 1.5 * np.maximum(15 - (t + 6.0 * (np.arange(n) >= 90)), 0))
        + pl.when(current.contains()).then(10.0).otherwise(0.0)
    )
    use = compare_periods(mild, current=current, previous=previous, model=model)
    assert use.use_kwh == pytest.approx(300, rel=0.15)
    assert decide(use, []).cause is Cause.CHANGE_IN_USE
    assert use.days_kwh + use.weather_kwh + use.use_kwh == pytest.approx(use.change_kwh)


def test_a_problem_finding_outranks_the_weather() -> None:
    frame = _synthetic(90, base=12, heat=1.5, cool=0.0, seed=5).with_columns(
        delivered_kwh=pl.col("energy_kwh")
    )
    model = fit_weather_model(frame, params=NormalizeParams(use_eemeter=False))
    comparison = compare_periods(
        frame,
        current=BillingPeriod(_days(90)[60], _days(90)[89]),
        previous=BillingPeriod(_days(90)[0], _days(90)[29]),
        model=model,
    )
    tou = check_tou_program({"status": "allocation_shift", "best_schedule_key": "RES-TOU-2024B"})
    est = check_estimation(
        estimated_intervals=0, missing_intervals=0, expected_intervals=2880, params=CheckParams()
    )
    verdict = decide(comparison, [est, tou])
    assert verdict.cause is Cause.PROGRAM_ERROR
    assert verdict.cause.is_meter_or_billing_problem
    assert verdict.evidence[0] is tou
    assert "RES-TOU-2024B" in verdict.summary


# Daily use from interval reads


def _reads(
    values: list[float],
    *,
    start: dt.datetime,
    meter_id: int = 1,
    channel: str = "kwh_delivered",
    flags: int = 0,
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "meter_id": [meter_id] * len(values),
            "channel": [channel] * len(values),
            "interval_start_utc": [
                start + dt.timedelta(minutes=15 * i) for i in range(len(values))
            ],
            "interval_s": [900] * len(values),
            "value": values,
            "quality_flags": [flags] * len(values),
        },
        schema_overrides={
            "interval_start_utc": pl.Datetime("us", "UTC"),
            "interval_s": pl.Int32,
            "quality_flags": pl.UInt32,
        },
    )


def _meters(multiplier: float = 1.0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "meter_id": [1],
            "serial_number": ["A1"],
            "multiplier": [multiplier],
            "installed_from_utc": [dt.datetime(2020, 1, 1, tzinfo=UTC)],
            "installed_to_utc": [None],
        },
        schema_overrides={
            "installed_from_utc": pl.Datetime("us", "UTC"),
            "installed_to_utc": pl.Datetime("us", "UTC"),
        },
    )


def test_daily_use_scales_by_multiplier_and_finds_ev_sessions() -> None:
    # a local day in Chicago (UTC-6): 96 intervals of 0.25 kWh plus a 2-hour 7.2 kW session
    values = [0.25] * 96
    for i in range(80, 88):
        values[i] += 1.8
    start = dt.datetime(2026, 1, 5, 6, tzinfo=UTC)
    reads = pl.concat(
        [
            _reads(values, start=start),
            _reads([0.1] * 96, start=start, channel="kwh_received"),
        ]
    )
    daily = daily_usage(
        reads,
        meters=_meters(2.0),
        zone="America/Chicago",
        first_day=dt.date(2026, 1, 5),
        last_day=dt.date(2026, 1, 6),
    )
    day, empty = daily.row(0, named=True), daily.row(1, named=True)
    assert day["delivered_kwh"] == pytest.approx(2 * (24 + 14.4))
    assert day["received_kwh"] == pytest.approx(2 * 9.6)
    assert day["ev_kwh"] == pytest.approx(2 * 14.4)
    assert day["baseload_kwh"] == pytest.approx(2 * 24.0)
    assert (day["intervals"], day["expected_intervals"]) == (96, 96)
    assert empty["intervals"] == 0
    assert empty["delivered_kwh"] is None


def test_expected_intervals_follow_dst() -> None:
    reads = _reads([0.2] * 4, start=dt.datetime(2026, 3, 8, 6, tzinfo=UTC))
    daily = daily_usage(
        reads,
        meters=_meters(),
        zone="America/Chicago",
        first_day=dt.date(2026, 3, 8),
        last_day=dt.date(2026, 3, 8),
    )
    assert daily["expected_intervals"].to_list() == [92]


def test_a_ramp_is_not_an_ev_session() -> None:
    t = np.arange(40, dtype=np.int64) * 900_000_000
    ramp = np.linspace(1.0, 12.0, 40)
    assert detect_ev_sessions(t, ramp, interval_s=900, params=EvParams()) == []


# Checks


def test_multiplier_checks() -> None:
    p = CheckParams()
    ok = check_multiplier(
        current_multiplier=80.0,
        previous_multiplier=80.0,
        pt_ratio=1.0,
        peak_kw=90.0,
        transformer_kva=150.0,
        params=p,
    )
    assert ok.status is Status.OK
    changed = check_multiplier(
        current_multiplier=160.0,
        previous_multiplier=80.0,
        pt_ratio=1.0,
        peak_kw=90.0,
        transformer_kva=150.0,
        params=p,
    )
    assert changed.status is Status.PROBLEM
    assert "changed from 80 to 160" in changed.message
    overload = check_multiplier(
        current_multiplier=80.0,
        previous_multiplier=None,
        pt_ratio=1.0,
        peak_kw=400.0,
        transformer_kva=150.0,
        params=p,
    )
    assert overload.status is Status.PROBLEM


def test_crossed_meter_outages() -> None:
    t = [dt.datetime(2026, 1, 5, h, tzinfo=UTC) for h in range(6)]
    mine = pl.DataFrame(
        {"interval_start_utc": t[:3]}, schema={"interval_start_utc": pl.Datetime("us", "UTC")}
    )
    same = pl.DataFrame(
        {"meter_id": [2, 2, 2, 3, 3, 3], "interval_start_utc": t[:3] * 2},
        schema_overrides={"interval_start_utc": pl.Datetime("us", "UTC")},
    )
    other = pl.DataFrame(
        {"meter_id": [2, 2, 2, 3, 3, 3], "interval_start_utc": t[3:] * 2},
        schema_overrides={"interval_start_utc": pl.Datetime("us", "UTC")},
    )
    p = CheckParams()
    assert (
        check_crossed_meters(
            meter_outages=mine, neighbour_outages=same, neighbours=2, params=p
        ).status
        is Status.OK
    )
    assert (
        check_crossed_meters(
            meter_outages=mine, neighbour_outages=other, neighbours=2, params=p
        ).status
        is Status.PROBLEM
    )
    none = check_crossed_meters(
        meter_outages=mine.clear(), neighbour_outages=same.clear(), neighbours=2, params=p
    )
    assert none.status is Status.NOT_CHECKED


@pytest.mark.parametrize(
    ("verdict", "average", "status"),
    [
        ("pass", 100.1, Status.OK),
        ("fail_class", 100.6, Status.OK),
        ("fail_in_service", 102.4, Status.PROBLEM),
        ("fail_creep", 100.0, Status.PROBLEM),
        ("pass", 97.9, Status.PROBLEM),
    ],
)
def test_accuracy_test_finding(verdict: str, average: float, status: Status) -> None:
    tests = [
        {
            "tested_at_utc": "2024-01-01T00:00:00",
            "verdict": "fail_in_service",
            "as_found_average_pct": 95.0,
        },
        {
            "tested_at_utc": "2026-01-01T00:00:00",
            "verdict": verdict,
            "as_found_average_pct": average,
        },
    ]
    assert check_accuracy_test(tests, params=CheckParams()).status is status


def test_estimation_boundary() -> None:
    p = CheckParams(max_estimated_share=0.10)
    at = check_estimation(
        estimated_intervals=200, missing_intervals=88, expected_intervals=2880, params=p
    )
    over = check_estimation(
        estimated_intervals=200, missing_intervals=89, expected_intervals=2880, params=p
    )
    assert (at.status, over.status) == (Status.OK, Status.PROBLEM)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    previous_days=st.integers(20, 40),
    current_days=st.integers(20, 40),
    shift_c=st.floats(-10, 10),
)
def test_the_parts_of_the_change_add_up(
    seed: int, previous_days: int, current_days: int, shift_c: float
) -> None:
    rng = np.random.default_rng(seed)
    n = 40 + previous_days + current_days
    t = 5 + 8 * rng.standard_normal(n)
    t[n - current_days :] += shift_c
    y = np.maximum(10 + 1.2 * np.maximum(14 - t, 0) + rng.normal(0, 2, n), 0.1)
    frame = pl.DataFrame({"day": _days(n), "temperature_c": t, "delivered_kwh": y})
    frame = frame.with_columns(energy_kwh=pl.col("delivered_kwh"))
    days = _days(n)
    previous = BillingPeriod(days[40], days[40 + previous_days - 1])
    current = BillingPeriod(days[n - current_days], days[-1])
    model = fit_weather_model(
        frame.filter(pl.col("day") < current.first_day), params=NormalizeParams(use_eemeter=False)
    )
    c = compare_periods(frame, current=current, previous=previous, model=model)
    assert c.days_kwh + c.heating_kwh + c.cooling_kwh + c.use_kwh == pytest.approx(
        c.change_kwh, abs=1e-6
    )
    assert c.current.period.days == current_days
    assert c.change_kwh == pytest.approx(
        float(y[n - current_days :].sum() - y[40 : 40 + previous_days].sum())
    )
