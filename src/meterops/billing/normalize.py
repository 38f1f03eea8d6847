"""Weather normalisation of daily consumption against degree days.

Two models, one interface (:class:`WeatherModel`, :func:`predict_use`):

* **eemeter** — OpenEEmeter's daily model (``eemeter.eemeter.DailyModel``, CalTRACK 2.0
  daily methods: heating/cooling change-point regressions, season and weekday splits, chosen by
  error). It needs a baseline year (329–365 days of data; eemeter's own sufficiency criteria
  decide), so it serves when the account has a year of history before the current period.
* **degree_day_ols** — the fallback where eemeter cannot serve (too little data, or eemeter
  refuses the baseline): ordinary least squares of daily energy on heating and cooling degree
  days, ``E = base + h · max(Th − T, 0) + c · max(T − Tc, 0)``, with the balance points
  ``Th`` and ``Tc`` found by a grid search (0.5 °C steps) and the intercept-only, heating-only,
  cooling-only and heating+cooling forms compared by adjusted R²; slopes must be positive.

Pure module: numpy, pandas (for eemeter), polars and pure meterops modules; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from meterops.billing.weather import c_to_f
from meterops.errors import InvalidInputError

__all__ = [
    "EEMETER",
    "FALLBACK",
    "NormalizeParams",
    "WeatherModel",
    "fit_weather_model",
    "predict_use",
]

EEMETER: Final = "eemeter_daily"
FALLBACK: Final = "degree_day_ols"

_F = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class NormalizeParams:
    """How the weather model is fitted.

    Attributes:
        use_eemeter: Try eemeter's daily model first when the data covers a baseline year.
        eemeter_min_days: Fewest days with data before eemeter is tried. [d]
        min_days: Fewest days with data and temperature to fit anything. [d]
        heating_balance_c: Grid of heating balance points searched (low, high). [°C]
        cooling_balance_c: Grid of cooling balance points searched (low, high). [°C]
        step_c: Grid step. [°C]
    """

    use_eemeter: bool = True
    eemeter_min_days: int = 329
    min_days: int = 14
    heating_balance_c: tuple[float, float] = (8.0, 22.0)
    cooling_balance_c: tuple[float, float] = (15.0, 27.0)
    step_c: float = 0.5


@dataclass(frozen=True, slots=True)
class WeatherModel:
    """A fitted daily weather model.

    Attributes:
        method: :data:`EEMETER` or :data:`FALLBACK`.
        fit_days: Days the model was fitted on. [d]
        first_day: First day of the fit.
        last_day: Last day of the fit.
        base_kwh_per_day: Weather-independent use per day (mean over the fit days). [kWh/d]
        heating_balance_c: Heating balance point (None: no heating term). [°C]
        heating_kwh_per_degree_day: Heating slope. [kWh/(°C·d)]
        cooling_balance_c: Cooling balance point (None: no cooling term). [°C]
        cooling_kwh_per_degree_day: Cooling slope. [kWh/(°C·d)]
        r_squared: Share of the daily variance explained. [-]
        cvrmse: Coefficient of variation of the root-mean-square error. [-]
        notes: Why eemeter was not used, or what it warned about.
    """

    method: str
    fit_days: int
    first_day: dt.date
    last_day: dt.date
    base_kwh_per_day: float
    heating_balance_c: float | None
    heating_kwh_per_degree_day: float
    cooling_balance_c: float | None
    cooling_kwh_per_degree_day: float
    r_squared: float
    cvrmse: float
    notes: tuple[str, ...] = ()
    eemeter_model: Any = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able parameters (for the technician view and the API)."""
        return {
            "method": self.method,
            "fit_days": self.fit_days,
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "base_kwh_per_day": round(self.base_kwh_per_day, 3),
            "heating_balance_c": self.heating_balance_c,
            "heating_kwh_per_degree_day": round(self.heating_kwh_per_degree_day, 4),
            "cooling_balance_c": self.cooling_balance_c,
            "cooling_kwh_per_degree_day": round(self.cooling_kwh_per_degree_day, 4),
            "r_squared": round(self.r_squared, 4),
            "cvrmse": round(self.cvrmse, 4),
            "notes": list(self.notes),
        }


def _usable(daily: pl.DataFrame) -> pl.DataFrame:
    missing = {"day", "energy_kwh", "temperature_c"} - set(daily.columns)
    if missing:
        msg = f"daily frame needs columns day, energy_kwh, temperature_c; missing {sorted(missing)}"
        raise InvalidInputError(msg, code="billing.daily_columns")
    return daily.filter(
        pl.col("energy_kwh").is_not_null()
        & pl.col("temperature_c").is_not_null()
        & pl.col("energy_kwh").is_finite()
    ).sort("day")


def _design(t: _F, heating: float | None, cooling: float | None) -> _F:
    cols = [np.ones_like(t)]
    if heating is not None:
        cols.append(np.maximum(heating - t, 0.0))
    if cooling is not None:
        cols.append(np.maximum(t - cooling, 0.0))
    return np.column_stack(cols)


def _grid(low: float, high: float, step: float) -> list[float]:
    return [round(low + i * step, 4) for i in range(round((high - low) / step) + 1)]


def _fit_ols(t: _F, y: _F, params: NormalizeParams) -> tuple[float | None, float | None, _F, float]:
    """Best (heating balance, cooling balance, coefficients, adjusted R²)."""
    n = y.size
    total = float(((y - y.mean()) ** 2).sum())
    best: tuple[float | None, float | None, _F, float] = (None, None, np.array([y.mean()]), 0.0)
    best_adj = 0.0
    heats: list[float | None] = [None, *_grid(*params.heating_balance_c, params.step_c)]
    cools: list[float | None] = [None, *_grid(*params.cooling_balance_c, params.step_c)]
    for h in heats:
        for c in cools:
            if h is None and c is None:
                continue
            if h is not None and c is not None and c < h:
                continue
            x = _design(t, h, c)
            if np.linalg.matrix_rank(x) < x.shape[1]:
                continue
            coef, *_ = np.linalg.lstsq(x, y, rcond=None)
            if (coef[1:] <= 0).any():
                continue
            k = x.shape[1] - 1
            if n - k - 1 <= 0 or total <= 0:
                continue
            sse = float(((x @ coef - y) ** 2).sum())
            adj = 1.0 - (sse / (n - k - 1)) / (total / (n - 1))
            if adj > best_adj:
                best, best_adj = (h, c, np.asarray(coef, dtype=np.float64), float(adj)), float(adj)
    return best


def _fallback(frame: pl.DataFrame, params: NormalizeParams, notes: list[str]) -> WeatherModel:
    t = frame["temperature_c"].to_numpy().astype(np.float64)
    y = frame["energy_kwh"].to_numpy().astype(np.float64)
    h, c, coef, _ = _fit_ols(t, y, params)
    fitted = _design(t, h, c) @ coef
    sse = float(((fitted - y) ** 2).sum())
    total = float(((y - y.mean()) ** 2).sum())
    heat = float(coef[1]) if h is not None else 0.0
    cool = float(coef[-1]) if c is not None else 0.0
    mean = float(y.mean())
    return WeatherModel(
        method=FALLBACK,
        fit_days=int(y.size),
        first_day=frame["day"].min(),  # type: ignore[arg-type]
        last_day=frame["day"].max(),  # type: ignore[arg-type]
        base_kwh_per_day=float(coef[0]),
        heating_balance_c=h,
        heating_kwh_per_degree_day=heat,
        cooling_balance_c=c,
        cooling_kwh_per_degree_day=cool,
        r_squared=1.0 - sse / total if total > 0 else 0.0,
        cvrmse=float(np.sqrt(sse / y.size) / mean) if mean > 0 else 0.0,
        notes=tuple(notes),
    )


def _eemeter_frames(frame: pl.DataFrame) -> tuple[Any, Any]:
    """Meter series (UTC midnight of each day) and hourly °F temperature (the day's mean)."""
    import pandas as pd

    days = pd.DatetimeIndex(
        [dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC) for d in frame["day"].to_list()]
    )
    meter = pd.Series(frame["energy_kwh"].to_numpy(), index=days, name="observed")
    hours = pd.date_range(days.min(), days.max() + pd.Timedelta(hours=23), freq="h")
    by_day = dict(zip(days, (c_to_f(v) for v in frame["temperature_c"].to_list()), strict=True))
    temps = [by_day.get(h.floor("D"), np.nan) for h in hours]
    return meter, pd.Series(temps, index=hours, name="temperature")


def _patch_eemeter_granularity() -> None:
    """Work around eemeter 4.1.1 comparing a pandas 3 ``Day`` offset with a ``Timedelta``.

    A daily index is daily; the wrapper answers that and leaves every other case to eemeter.
    """
    import pandas as pd
    from eemeter.eemeter.models.daily import data as daily_data

    original = daily_data.compute_minimum_granularity
    if getattr(original, "_meterops_wrapped", False):
        return

    def granularity(index: Any, default: str | None) -> Any:
        try:
            return original(index, default)
        except TypeError:
            if isinstance(index.freq, pd.offsets.Day) and index.freq.n == 1:
                return "daily"
            raise

    granularity._meterops_wrapped = True  # type: ignore[attr-defined]
    daily_data.compute_minimum_granularity = granularity


def _eemeter(frame: pl.DataFrame, notes: list[str]) -> WeatherModel | None:
    from eemeter.eemeter import DailyBaselineData, DailyModel

    _patch_eemeter_granularity()
    meter, temperature = _eemeter_frames(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("eemeter").disabled = True
        try:
            data = DailyBaselineData.from_series(meter, temperature, is_electricity_data=True)
            if data.disqualification:
                names = ", ".join(w.qualified_name for w in data.disqualification)
                notes.append(f"eemeter refused the baseline ({names}); degree-day OLS used")
                return None
            model = DailyModel().fit(data)
            if model.disqualification:
                names = ", ".join(w.qualified_name for w in model.disqualification)
                notes.append(f"eemeter disqualified its fit ({names}); degree-day OLS used")
                return None
            prediction = model.predict(data)
        finally:
            logging.getLogger("eemeter").disabled = False
    predicted = prediction["predicted"].to_numpy(dtype=float)
    heating = np.nan_to_num(prediction["heating_load"].to_numpy(dtype=float))
    cooling = np.nan_to_num(prediction["cooling_load"].to_numpy(dtype=float))
    observed = prediction["observed"].to_numpy(dtype=float)
    ok = np.isfinite(observed) & np.isfinite(predicted)
    sse = float(((predicted[ok] - observed[ok]) ** 2).sum())
    total = float(((observed[ok] - observed[ok].mean()) ** 2).sum())
    temp = frame["temperature_c"].to_numpy()
    hdd = np.maximum(18.33 - temp, 0.0)
    cdd = np.maximum(temp - 18.33, 0.0)
    return WeatherModel(
        method=EEMETER,
        fit_days=int(ok.sum()),
        first_day=frame["day"].min(),  # type: ignore[arg-type]
        last_day=frame["day"].max(),  # type: ignore[arg-type]
        base_kwh_per_day=float(np.nanmean(predicted - heating - cooling)),
        heating_balance_c=None,
        heating_kwh_per_degree_day=float(heating.sum() / hdd.sum()) if hdd.sum() else 0.0,
        cooling_balance_c=None,
        cooling_kwh_per_degree_day=float(cooling.sum() / cdd.sum()) if cdd.sum() else 0.0,
        r_squared=1.0 - sse / total if total > 0 else 0.0,
        cvrmse=float(model.error["CVRMSE"]),
        notes=(*notes, f"eemeter model {model.best_combination}"),
        eemeter_model=model,
    )


def fit_weather_model(
    daily: pl.DataFrame, *, params: NormalizeParams | None = None
) -> WeatherModel:
    """Fit the weather model of one account on its reference days.

    Args:
        daily: Reference days: ``day`` (Date), ``energy_kwh`` [kWh] and ``temperature_c``
            [°C]; days with nulls are left out.
        params: Fitting parameters.

    Returns:
        eemeter's daily model when it accepts the data, else the degree-day regression.

    Raises:
        InvalidInputError: Fewer than ``params.min_days`` usable days.

    Examples:
        >>> days = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(30)]
        >>> temps = [float(-10 + i) for i in range(30)]
        >>> use = [20 + 1.5 * max(16 - t, 0) for t in temps]
        >>> m = fit_weather_model(pl.DataFrame({"day": days, "energy_kwh": use,
        ...     "temperature_c": temps}))
        >>> (m.method, m.heating_balance_c, round(m.heating_kwh_per_degree_day, 2))
        ('degree_day_ols', 16.0, 1.5)
    """
    params = params or NormalizeParams()
    frame = _usable(daily)
    if frame.height < params.min_days:
        msg = (
            f"the weather model needs at least {params.min_days} days with reads and "
            f"temperature; found {frame.height}"
        )
        raise InvalidInputError(msg, code="billing.too_few_days")
    notes: list[str] = []
    if params.use_eemeter and frame.height >= params.eemeter_min_days:
        recent = frame.filter(pl.col("day") > frame["day"].max() - dt.timedelta(days=365))  # type: ignore[operator]
        model = _eemeter(recent, notes)
        if model is not None:
            return model
    elif params.use_eemeter:
        notes.append(
            f"{frame.height} days of history, eemeter needs a baseline year "
            f"({params.eemeter_min_days}+ days); degree-day OLS used"
        )
    return _fallback(frame, params, notes)


def predict_use(model: WeatherModel, daily: pl.DataFrame) -> pl.DataFrame:
    """Expected use per day under the model, split into base, heating and cooling.

    Args:
        model: The fitted model.
        daily: Days to predict: ``day`` (Date) and ``temperature_c`` [°C].

    Returns:
        ``day``, ``expected_kwh``, ``base_kwh``, ``heating_kwh``, ``cooling_kwh`` [kWh]; null
        where the temperature is missing.
    """
    if model.eemeter_model is not None:
        return _predict_eemeter(model, daily)
    t = pl.col("temperature_c")
    heat = (
        (pl.lit(model.heating_balance_c) - t).clip(lower_bound=0.0)
        * model.heating_kwh_per_degree_day
        if model.heating_balance_c is not None
        else t * 0.0
    )
    cool = (
        (t - pl.lit(model.cooling_balance_c)).clip(lower_bound=0.0)
        * model.cooling_kwh_per_degree_day
        if model.cooling_balance_c is not None
        else t * 0.0
    )
    return (
        daily.select(
            "day",
            base_kwh=pl.when(t.is_not_null()).then(pl.lit(model.base_kwh_per_day)),
            heating_kwh=heat,
            cooling_kwh=cool,
        )
        .with_columns(
            expected_kwh=pl.col("base_kwh") + pl.col("heating_kwh") + pl.col("cooling_kwh")
        )
        .select("day", "expected_kwh", "base_kwh", "heating_kwh", "cooling_kwh")
    )


def _predict_eemeter(model: WeatherModel, daily: pl.DataFrame) -> pl.DataFrame:
    from eemeter.eemeter import DailyReportingData

    frame = daily.select("day", "temperature_c").with_columns(energy_kwh=pl.lit(1.0))
    meter, temperature = _eemeter_frames(frame.drop_nulls())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("eemeter").disabled = True
        try:
            data = DailyReportingData.from_series(meter, temperature, is_electricity_data=True)
            out = model.eemeter_model.predict(data)
        finally:
            logging.getLogger("eemeter").disabled = False
    result = pl.DataFrame(
        {
            "day": [ts.date() for ts in out.index],
            "expected_kwh": out["predicted"].to_numpy(dtype=float),
            "heating_kwh": np.nan_to_num(out["heating_load"].to_numpy(dtype=float)),
            "cooling_kwh": np.nan_to_num(out["cooling_load"].to_numpy(dtype=float)),
        }
    ).with_columns(base_kwh=pl.col("expected_kwh") - pl.col("heating_kwh") - pl.col("cooling_kwh"))
    return (
        daily.select("day")
        .join(result, on="day", how="left")
        .select("day", "expected_kwh", "base_kwh", "heating_kwh", "cooling_kwh")
    )
