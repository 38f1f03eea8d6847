"""High-bill investigations: how well the normalised comparison recovers a stated change.

On OpenEEmeter's Illinois sample meters (synthetic, with a stated 10 % reduction between the
baseline and the reporting year) the weather-normalised change of the reporting year against
the baseline year is set against the stated one; the baseline is the raw (unnormalised)
comparison of the two years' totals, measured in the same run. Also the time to fit one
account's weather model: eemeter's daily model against the degree-day regression fallback.
"""

from __future__ import annotations

import datetime as dt
import warnings

import polars as pl

from benchmarks.harness import BenchContext, Figure, timed
from meterops.billing.compare import BillingPeriod, compare_periods
from meterops.billing.normalize import NormalizeParams, fit_weather_model
from meterops.billing.weather import f_to_c

AREA = "high bill"
BASELINE = BillingPeriod(dt.date(2015, 12, 27), dt.date(2016, 12, 25))
REPORTING = BillingPeriod(dt.date(2017, 1, 4), dt.date(2018, 1, 3))


def _sample(name: str) -> tuple[pl.DataFrame, float]:
    from eemeter.eemeter.samples import load_sample

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        meter, temperature_f, metadata = load_sample(name)
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


def run(ctx: BenchContext) -> list[Figure]:
    """Recovered change per sample and method; fit time per method."""
    figures: list[Figure] = []
    samples = ["il-electricity-cdd-hdd-daily"]
    if not ctx.quick:
        samples.append("il-electricity-cdd-only-daily")
    for sample in samples:
        daily, stated = _sample(sample)
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
            error = abs(c.normalized_change_pct - stated)
            figures.append(
                Figure(
                    AREA,
                    f"{sample}: |normalised change − stated {stated:+.0f} %|, {model.method}",
                    round(error, 2),
                    "pp",
                    baseline=round(abs(raw - stated), 2),
                    baseline_name="raw year-over-year change",
                    goal="<= 2 pp",
                    met=error <= 2.0,
                    note=f"normalised {c.normalized_change_pct:+.2f} %, raw {raw:+.2f} %",
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
