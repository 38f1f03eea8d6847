"""High-bill investigations: how well the normalised comparison recovers a known change.

On OpenEEmeter's Illinois sample meters (synthetic; the metadata states a baseline year of
10,000 kWh and a reporting year of 9,000 kWh, the loads' split and their balance points) the
weather-normalised change of the reporting year against the baseline year is set against the
truth; the baseline is the raw (unnormalised) comparison of the two years' totals, measured
in the same run. The truth is the stated −10 % for ``il-electricity-cdd-hdd-daily`` and, for
``il-electricity-cdd-only-daily`` (whose reporting year had fewer cooling degree-hours), the
sample's own counterfactual (:func:`own_counterfactual_change_pct`), which the stated 10 % is
not. Also eemeter's CalTRACK hourly model on the hourly variants (full run only), and the time
to fit one account's weather model: eemeter's daily model against the degree-day regression.

The sample helpers here are also used by ``tests/billing/test_illinois.py``.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from typing import Any

import polars as pl

from benchmarks.harness import BenchContext, Figure, timed
from meterops.billing.compare import BillingPeriod, compare_periods
from meterops.billing.normalize import NormalizeParams, fit_weather_model
from meterops.billing.weather import f_to_c

__all__ = [
    "AREA",
    "BASELINE",
    "LOCAL_TZ",
    "REPORTING",
    "eemeter_hourly_change_pct",
    "illinois_daily",
    "load_illinois",
    "own_counterfactual_change_pct",
    "run",
    "sample_degree_days",
]

AREA = "high bill"
# CalTRACK: the baseline is the 365 days before the intervention (the samples' blackout,
# 2016-12-26 to 2017-01-03); the reporting year is the 365 days after it.
BASELINE = BillingPeriod(dt.date(2015, 12, 27), dt.date(2016, 12, 25))
REPORTING = BillingPeriod(dt.date(2017, 1, 4), dt.date(2018, 1, 3))
LOCAL_TZ = "America/Chicago"
"""The samples' clock: their days are local Illinois dates."""


def load_illinois(sample: str) -> tuple[Any, Any, dict[str, Any]]:
    """eemeter's ``load_sample``: meter frame, hourly temperature [°F] (UTC index), metadata."""
    from eemeter.eemeter.samples import load_sample

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        meter, temperature_f, metadata = load_sample(sample)
    return meter, temperature_f, metadata


def illinois_daily(sample: str) -> tuple[pl.DataFrame, float]:
    """A daily sample's use with the local day's mean temperature, and the stated change [%].

    eemeter's loader labels each daily read with its local date (at UTC midnight), so the
    temperature is averaged over the same local (America/Chicago) day, not the UTC day.
    """
    meter, temperature_f, metadata = load_illinois(sample)
    daily_f = temperature_f.tz_convert(LOCAL_TZ).resample("D").mean()
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


def sample_degree_days(sample: str, *, daily_mean: bool = False) -> pl.DataFrame:
    """Per local day, heating (``hdd``) and cooling (``cdd``) degree-days [°F·d].

    At the sample's stated baseline balance points; from the hourly temperatures (the mean over
    the day's hours of ``max(T − balance, 0)``), or from the day's mean temperature when
    ``daily_mean``.
    """
    _, temperature_f, metadata = load_illinois(sample)
    local = temperature_f.tz_convert(LOCAL_TZ)
    frame = pl.DataFrame(
        {"day": [ts.date() for ts in local.index], "t_f": local.to_numpy().astype(float)}
    ).drop_nans()
    heat_bp = float(metadata.get("baseline_heating_balance_point") or 0.0)
    cool_bp = float(metadata.get("baseline_cooling_balance_point") or 0.0)
    if daily_mean:
        frame = frame.group_by("day").agg(pl.col("t_f").mean())
    return frame.group_by("day").agg(
        hdd=(heat_bp - pl.col("t_f")).clip(lower_bound=0.0).mean(),
        cdd=(pl.col("t_f") - cool_bp).clip(lower_bound=0.0).mean(),
    )


def own_counterfactual_change_pct(sample: str, *, daily_mean: bool = False) -> float:
    """Reporting-year use against the sample's own counterfactual [%].

    The counterfactual is the baseline year's stated loads under the reporting year's weather:
    the stated base load (per day), and the stated heating and cooling loads scaled by the
    reporting year's degree-days over the baseline year's (:func:`sample_degree_days`).
    No model is fitted.
    """
    daily, _ = illinois_daily(sample)
    _, _, md = load_illinois(sample)
    dd = sample_degree_days(sample, daily_mean=daily_mean)
    before = dd.filter(BASELINE.contains())
    after = dd.filter(REPORTING.contains())
    counterfactual = float(md["annual_baseline_base_load"]) * REPORTING.days / BASELINE.days
    for load, column in (
        ("annual_baseline_heating_load", "hdd"),
        ("annual_baseline_cooling_load", "cdd"),
    ):
        if md.get(load):
            ratio = float(after[column].sum()) / float(before[column].sum())
            counterfactual += float(md[load]) * ratio
    actual = float(daily.filter(REPORTING.contains())["delivered_kwh"].sum())
    return 100.0 * (actual / counterfactual - 1.0)


def eemeter_hourly_change_pct(sample: str) -> float:
    """eemeter's CalTRACK hourly model on an hourly sample: reporting vs predicted [%].

    Fitted on the baseline year's hours, predicting the reporting year's; the change is
    ``observed / predicted − 1`` over the reporting year.
    """
    import pandas as pd
    from eemeter.eemeter import (
        HourlyCaltrackBaselineData,
        HourlyCaltrackModel,
        HourlyCaltrackReportingData,
    )

    meter, temperature_f, _ = load_illinois(sample)

    def window(series: Any, period: BillingPeriod) -> Any:
        start = pd.Timestamp(period.first_day.isoformat(), tz=LOCAL_TZ)
        end = pd.Timestamp((period.last_day + dt.timedelta(days=1)).isoformat(), tz=LOCAL_TZ)
        return series[(series.index >= start) & (series.index < end)]

    use = meter["value"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("eemeter").disabled = True
        try:
            baseline = HourlyCaltrackBaselineData.from_series(
                window(use, BASELINE), window(temperature_f, BASELINE), is_electricity_data=True
            )
            model = HourlyCaltrackModel().fit(baseline)
            reporting = HourlyCaltrackReportingData.from_series(
                window(use, REPORTING), window(temperature_f, REPORTING), is_electricity_data=True
            )
            predicted = model.predict(reporting)
        finally:
            logging.getLogger("eemeter").disabled = False
    return 100.0 * (float(predicted["observed"].sum()) / float(predicted["predicted"].sum()) - 1.0)


def run(ctx: BenchContext) -> list[Figure]:
    """Recovered change per sample and method; eemeter hourly; fit time per method."""
    figures: list[Figure] = []
    samples = ["il-electricity-cdd-hdd-daily"]
    if not ctx.quick:
        samples.append("il-electricity-cdd-only-daily")
    for sample in samples:
        daily, stated = illinois_daily(sample)
        if "cdd-only" in sample:
            truth = own_counterfactual_change_pct(sample)
            truth_name = f"own counterfactual {truth:+.1f} % (stated {stated:+.0f} %)"
        else:
            truth, truth_name = stated, f"stated {stated:+.0f} %"
        reference = daily.filter(BASELINE.contains())
        times: dict[str, float] = {}
        for use_eemeter in (True, False):
            with timed() as elapsed:
                model = fit_weather_model(
                    reference, params=NormalizeParams(use_eemeter=use_eemeter)
                )
            times[model.method] = elapsed()
            c = compare_periods(daily, current=REPORTING, previous=BASELINE, model=model)
            raw = 100.0 * (c.current.actual_kwh / c.previous.actual_kwh - 1.0)
            error = abs(c.normalized_change_pct - truth)
            figures.append(
                Figure(
                    AREA,
                    f"{sample}: |normalised change − {truth_name}|, {model.method}",
                    round(error, 2),
                    "pp",
                    baseline=round(abs(raw - truth), 2),
                    baseline_name="raw year-over-year change",
                    goal="<= 2 pp",
                    met=error <= 2.0,
                    note=f"normalised {c.normalized_change_pct:+.2f} %, raw {raw:+.2f} %",
                )
            )
        if not ctx.quick:
            hourly = sample.replace("-daily", "-hourly")
            change = eemeter_hourly_change_pct(hourly)
            figures.append(
                Figure(
                    AREA,
                    f"{hourly}: |eemeter CalTRACK hourly change − {truth_name}|",
                    round(abs(change - truth), 2),
                    "pp",
                    note=f"eemeter hourly {change:+.2f} % (reference, not meterops code)",
                )
            )
        figures.append(
            Figure(
                AREA,
                f"{sample}: fit one account's weather model (eemeter daily)",
                round(times["eemeter_daily"], 3),
                "s",
                baseline=round(times["degree_day_ols"], 3),
                baseline_name="degree-day OLS fallback",
                note="365 days of daily use",
            )
        )
    return figures
