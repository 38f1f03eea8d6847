"""Turn the engine's per-period arrays into the ``BY_PERIOD`` and ``BY_TOU`` frames.

Applies the multiplier, converts window energies to kW, nets delivered and received energy at
the tariff's granularity and writes the notes that say why a demand figure is not computable.

Pure module: numpy, polars and pure meterops modules; must not import ``meterops.db``,
``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import numpy.typing as npt
import polars as pl

from meterops.determinants.frames import BY_PERIOD, BY_TOU
from meterops.reads.schema import UTC_DATETIME

if TYPE_CHECKING:
    from meterops.determinants.engine import DeterminantParams

__all__ = ["Demand", "build"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]


class Demand(NamedTuple):
    """Demand maxima from the kernel (window energies [kWh], window first slots)."""

    block_max: F64
    block_at: I64
    rolling_max: F64
    rolling_at: I64
    block_ok: B
    rolling_ok: B


def _kw(  # noqa: PLR0917
    maxima: F64, at: I64, ok: B, factor: F64, origin_us: int, slot_us: int
) -> list[pl.Series]:
    valid = ok & np.isfinite(maxima)
    kw = np.where(valid, maxima * factor, np.nan)
    start = np.where(valid, origin_us + at * slot_us, 0)
    return [
        pl.Series(kw).fill_nan(None),
        pl.Series(start).cast(UTC_DATETIME).set(pl.Series(~valid), None),
    ]


def _notes(params: DeterminantParams, resolution_s: npt.NDArray[np.int32], intervals: I64,
           demand: Demand) -> list[str | None]:  # fmt: skip
    window, sub = params.demand_window_min, params.demand_subinterval_min
    notes: list[str | None] = []
    for res, n, block_ok, rolling_ok in zip(
        resolution_s.tolist(), intervals.tolist(), demand.block_ok, demand.rolling_ok, strict=True
    ):
        parts: list[str] = []
        if n == 0:
            parts.append("no delivered-energy reads in the period")
        if not block_ok:
            parts.append(
                f"block demand needs reads whose interval divides {window} min; "
                f"this meter's are {res / 60:g} min"
            )
        if sub is not None and not rolling_ok:
            parts.append(
                f"rolling demand ({window}-min window every {sub} min) needs reads of "
                f"{sub} min or finer; this meter's are {res / 60:g} min"
            )
        notes.append("; ".join(parts) or None)
    return notes


def build(
    *,
    periods: pl.DataFrame,
    params: DeterminantParams,
    names: list[str],
    schedule_codes: list[list[int]],
    energy: F64,
    counts: I64,
    demand: Demand,
    slot_us: int,
    origin_us: int,
    resolution_s: npt.NDArray[np.int32],
    irregular: I64,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The two determinant frames (see ``engine.DeterminantAccumulator.finish``)."""
    from meterops.determinants.engine import Netting

    multiplier = periods["multiplier"].to_numpy()
    nem = periods["net_metering"].to_numpy()
    kw_factor = 3600.0 / params.window_s * multiplier
    n_periods = len(names)
    billed = energy * multiplier[:, None, None]

    # -- per TOU period ---------------------------------------------------------------------
    lengths = np.array([len(c) for c in schedule_codes], dtype=np.int64)
    jj = np.repeat(np.arange(len(schedule_codes)), lengths)
    pp = np.concatenate([np.asarray(c, dtype=np.int64) for c in schedule_codes])
    d, r = billed[jj, pp, 0], billed[jj, pp, 1]
    nem_t = nem[jj]
    if params.netting is Netting.INTERVAL:
        imp, exp = billed[jj, pp, 2], billed[jj, pp, 3]
    else:
        imp, exp = np.maximum(d - r, 0.0), np.maximum(r - d, 0.0)
    imp_t = pl.Series(np.where(nem_t, imp, d))
    exp_t = pl.Series(np.where(nem_t, exp, 0.0))
    if params.netting is Netting.BILLING_PERIOD:
        imp_t = imp_t.set(pl.Series(nem_t), None)
        exp_t = exp_t.set(pl.Series(nem_t), None)
    block_t = _kw(demand.block_max[jj, pp], demand.block_at[jj, pp], demand.block_ok[jj],
                  kw_factor[jj], origin_us, slot_us)  # fmt: skip
    rolling_t = _kw(demand.rolling_max[jj, pp], demand.rolling_at[jj, pp], demand.rolling_ok[jj],
                    kw_factor[jj], origin_us, slot_us)  # fmt: skip
    keys = periods.select("meter_id", "period_start_utc", "schedule_key")[jj]
    by_tou = keys.with_columns(
        pl.Series("tou_period", names).gather(pp),
        pl.Series("intervals", counts[jj, pp, 0]),
        pl.Series("estimated_intervals", counts[jj, pp, 1]),
        pl.Series("excluded_intervals", counts[jj, pp, 2]),
        pl.Series("delivered_kwh", d),
        pl.Series("received_kwh", r),
        pl.Series("net_kwh", d - r),
        imp_t.alias("billed_import_kwh"),
        exp_t.alias("billed_export_kwh"),
        block_t[0].alias("block_demand_kw"),
        block_t[1].alias("block_demand_start_utc"),
        rolling_t[0].alias("rolling_demand_kw"),
        rolling_t[1].alias("rolling_demand_start_utc"),
    ).select(pl.col(c.name).cast(c.dtype) for c in BY_TOU)

    # -- per billing period ----------------------------------------------------------------
    total = billed.sum(axis=1)
    n = counts.sum(axis=1)
    big_d, big_r = total[:, 0], total[:, 1]
    if params.netting is Netting.INTERVAL:
        imp_p, exp_p = total[:, 2], total[:, 3]
    elif params.netting is Netting.TOU_PERIOD:
        imp_p = np.maximum(billed[:, :, 0] - billed[:, :, 1], 0.0).sum(axis=1)
        exp_p = np.maximum(billed[:, :, 1] - billed[:, :, 0], 0.0).sum(axis=1)
    else:
        imp_p, exp_p = np.maximum(big_d - big_r, 0.0), np.maximum(big_r - big_d, 0.0)
    span_us = (
        periods["period_end_utc"].dt.epoch("us").to_numpy()
        - periods["period_start_utc"].dt.epoch("us").to_numpy()
    )
    expected = span_us // (resolution_s.astype(np.int64) * 1_000_000)
    unused_excluded = 0 if params.include_excluded else n[:, 2]
    missing = np.maximum(expected - n[:, 0] - unused_excluded, 0)
    share = np.maximum(expected, 1).astype(np.float64)
    block_p = _kw(demand.block_max[:, n_periods], demand.block_at[:, n_periods],
                  demand.block_ok, kw_factor, origin_us, slot_us)  # fmt: skip
    rolling_p = _kw(demand.rolling_max[:, n_periods], demand.rolling_at[:, n_periods],
                    demand.rolling_ok, kw_factor, origin_us, slot_us)  # fmt: skip
    by_period = periods.with_columns(
        pl.Series("interval_s", resolution_s),
        pl.Series("expected_intervals", expected),
        pl.Series("intervals", n[:, 0]),
        pl.Series("estimated_intervals", n[:, 1]),
        pl.Series("excluded_intervals", n[:, 2]),
        pl.Series("missing_intervals", missing),
        pl.Series("irregular_intervals", irregular),
        pl.Series("estimated_share", n[:, 1] / share),
        pl.Series("excluded_share", n[:, 2] / share),
        pl.Series("delivered_kwh", big_d),
        pl.Series("received_kwh", big_r),
        pl.Series("net_kwh", big_d - big_r),
        pl.Series("billed_import_kwh", np.where(nem, imp_p, big_d)),
        pl.Series("billed_export_kwh", np.where(nem, exp_p, 0.0)),
        block_p[0].alias("block_demand_kw"),
        block_p[1].alias("block_demand_start_utc"),
        rolling_p[0].alias("rolling_demand_kw"),
        rolling_p[1].alias("rolling_demand_start_utc"),
        pl.Series("demand_note", _notes(params, resolution_s, n[:, 0], demand), pl.String),
    ).select(pl.col(c.name).cast(c.dtype) for c in BY_PERIOD)
    return by_period, by_tou
