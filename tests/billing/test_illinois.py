"""Real-data check: the eemeter Illinois sample meter with a stated 10 % reduction.

``il-electricity-cdd-hdd-daily`` ships with OpenEEmeter: a synthetic meter whose metadata states
an annual baseline load of 10,000 kWh and a reporting-year load of 9,000 kWh (a 10 % reduction
after an intervention), with the Illinois weather it was made with. The normalised comparison
of the reporting year against the baseline year must recover the reduction within 2 percentage
points — with eemeter's daily model and with the fallback regression.
"""

from __future__ import annotations

import datetime as dt
import warnings

import polars as pl
import pytest

from meterops.billing.compare import BillingPeriod, compare_periods
from meterops.billing.normalize import EEMETER, FALLBACK, NormalizeParams, fit_weather_model
from meterops.billing.weather import f_to_c

# Weather-model fits, no database: CI runs them in the SQLite pass only.
pytestmark = pytest.mark.slow

BASELINE = BillingPeriod(dt.date(2015, 12, 27), dt.date(2016, 12, 25))  # 365 days
REPORTING = BillingPeriod(dt.date(2017, 1, 4), dt.date(2018, 1, 3))  # after the blackout


def illinois_daily(sample: str) -> tuple[pl.DataFrame, float]:
    """The sample's daily use with the daily mean temperature, and the stated change [%]."""
    from eemeter.eemeter.samples import load_sample

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        meter, temperature_f, metadata = load_sample(sample)
    daily_f = temperature_f.resample("D").mean()
    temps = pl.DataFrame(
        {
            "day": [ts.date() for ts in daily_f.index],
            "temperature_c": [f_to_c(float(v)) for v in daily_f.to_numpy()],
        }
    )
    use = pl.DataFrame(
        {"day": [ts.date() for ts in meter.index], "delivered_kwh": meter["value"].to_numpy()}
    )
    daily = use.join(temps, on="day", how="left").with_columns(energy_kwh=pl.col("delivered_kwh"))
    stated = 100.0 * (
        metadata["annual_reporting_total_load"] / metadata["annual_baseline_total_load"] - 1.0
    )
    return daily, stated


@pytest.mark.parametrize(("use_eemeter", "method"), [(True, EEMETER), (False, FALLBACK)])
def test_normalized_comparison_recovers_the_stated_reduction(
    use_eemeter: bool, method: str
) -> None:
    daily, stated = illinois_daily("il-electricity-cdd-hdd-daily")
    assert stated == pytest.approx(-10.0)
    model = fit_weather_model(
        daily.filter(BASELINE.contains()), params=NormalizeParams(use_eemeter=use_eemeter)
    )
    assert model.method == method
    comparison = compare_periods(daily, current=REPORTING, previous=BASELINE, model=model)
    assert comparison.normalized_change_pct == pytest.approx(stated, abs=2.0)
    # the raw comparison is off by more: the reporting year was milder
    raw = 100.0 * (comparison.current.actual_kwh / comparison.previous.actual_kwh - 1.0)
    assert abs(raw - stated) > abs(comparison.normalized_change_pct - stated)
    # the parts add up to the change
    parts = comparison.days_kwh + comparison.weather_kwh + comparison.use_kwh
    assert parts == pytest.approx(comparison.change_kwh, rel=1e-9)


def test_eemeter_refuses_a_short_baseline_and_the_fallback_serves() -> None:
    daily, _ = illinois_daily("il-electricity-cdd-hdd-daily")
    short = daily.filter(pl.col("day").is_between(dt.date(2016, 1, 1), dt.date(2016, 3, 31)))
    model = fit_weather_model(short, params=NormalizeParams(eemeter_min_days=30))
    assert model.method == FALLBACK
    assert any("eemeter" in note for note in model.notes)
    assert model.heating_kwh_per_degree_day > 0
