"""The fast path: the whole default suite and the estimators in one fused numba pass.

:func:`run_fast` turns current reads and the VEE context into sorted numpy arrays (zero-copy
where the frame allows), a table of the local days (UTC bounds, DST shift, day type) and dense
per-meter context arrays, then calls the kernel in :mod:`meterops.vee._kernel`, which walks
every series once, in parallel chunks of series. It returns the same
:class:`~meterops.vee.outcome.VeeOutcome` as the reference path of
:mod:`meterops.vee.engine` (Polars expressions of :mod:`meterops.vee.rules`); the tests hold
the two to identical flags and estimates equal within 1e-9.

Pure module: numpy, numba, polars and pure meterops modules only; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from meterops.kit.frames import check_frame
from meterops.nomenclature import CHANNELS, FlowDirection
from meterops.timeutil import local_day_bounds_utc
from meterops.vee import _kernel as k
from meterops.vee.context import DEFAULTS, VEE_INPUT, RunWindow, VeeContext, WindowKind
from meterops.vee.estimation import ESTIMATES, REASONS, SOURCE_MASK, Method, actor_of
from meterops.vee.flags import FLAGS
from meterops.vee.outcome import ABSENT, VeeOutcome
from meterops.vee.suites import Suite

__all__ = ["kernel_params", "run_fast"]

_T: Final = "interval_start_utc"
_US: Final = 1_000_000
_FLOWS: Final = {
    FlowDirection.DELIVERED: k.F_DELIVERED,
    FlowDirection.RECEIVED: k.F_RECEIVED,
    FlowDirection.NET: k.F_NET,
    FlowDirection.NONE: k.F_NONE,
}
_KINDS: Final = {
    WindowKind.DISCONNECTED: k.W_DISCONNECTED,
    WindowKind.OUTAGE: k.W_OUTAGE,
    WindowKind.CLOCK_ERROR: k.W_CLOCK,
}
_METHODS: Final = list(Method)
_CHUNK_SERIES: Final = 4096

for _name, _bit in (
    ("MISSING_INTERVAL", k.B_MISSING),
    ("SPIKE", k.B_SPIKE),
    ("ZERO_RUN", k.B_ZERO),
    ("INACTIVE_USAGE", k.B_INACTIVE),
    ("REVERSE_ENERGY", k.B_REVERSE),
    ("SUM_CHECK", k.B_SUM),
    ("CLOCK_ERROR", k.B_CLOCK),
    ("FLATLINE", k.B_FLAT),
    ("HIGH_VOLTAGE", k.B_HIGH_V),
    ("LOW_VOLTAGE", k.B_LOW_V),
    ("SOURCE_MISSING", k.B_SOURCE_MISSING),
    ("POWER_OUTAGE", k.B_POWER_OUTAGE),
    ("ESTIMATED", k.B_ESTIMATED),
):
    assert FLAGS[_name].mask == _bit, _name  # the kernel's constants mirror the flag table
assert [m.value for m in Method][k.M_REGISTER] == Method.REGISTER_SCALED_PROFILE.value


def _param(suite: Suite, rule_id: str, name: str, default: float) -> float:
    rule_set = suite.rule_set
    return float(getattr(rule_set.params(rule_id), name)) if rule_set.enabled(rule_id) else default


def kernel_params(suite: Suite) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The suite's parameters in the kernel's slots (disabled rules are masked out anyway)."""
    est = suite.rule_set.estimation
    p = np.zeros(k.N_PARAMS)
    p[k.P_SPIKE_FACTOR] = _param(suite, "limits.spike", "factor", 0.0)
    p[k.P_SPIKE_MIN] = _param(suite, "limits.spike", "min_value", 0.0)
    p[k.P_REVERSE_TOL] = _param(suite, "limits.reverse_energy", "tolerance", 0.0)
    p[k.P_HIGH_V] = _param(suite, "limits.voltage_high", "limit_fraction", 0.0)
    p[k.P_LOW_V] = _param(suite, "limits.voltage_low", "limit_fraction", 0.0)
    p[k.P_ZERO_S] = _param(suite, "usage.zero_run", "min_duration_s", 0.0)
    p[k.P_INACTIVE_MIN] = _param(suite, "usage.inactive_account", "min_value", 0.0)
    p[k.P_FLAT_S] = _param(suite, "usage.flatline", "min_duration_s", 0.0)
    p[k.P_SUM_ABS] = _param(suite, "registers.sum_check", "abs_tolerance", 0.0)
    p[k.P_SUM_REL] = _param(suite, "registers.sum_check", "rel_tolerance", 0.0)
    p[k.P_PRIMARY] = _param(suite, "registers.sum_check", "interval_values_primary", 0.0)
    p[k.P_CLOCK_S] = _param(suite, "clock.clock_error_window", "window_s", 0.0)
    p[k.P_MAX_INTERP_S] = float(est.max_interpolation_s)
    p[k.P_LIKE_DAYS] = float(est.like_days)
    return p


def _transition(start: dt.datetime, end: dt.datetime, zone: ZoneInfo) -> tuple[int, int]:
    """(instant [µs], offset change [µs]) of a UTC-offset change inside a day, if any."""
    before = start.astimezone(zone).utcoffset()
    after = (end - dt.timedelta(microseconds=1)).astimezone(zone).utcoffset()
    assert before is not None
    assert after is not None
    if before == after:
        return np.iinfo(np.int64).max, 0
    low, high = start, end
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    change = int((after - before).total_seconds()) * _US
    return int(high.replace(microsecond=0).timestamp()) * _US, change


def _day_table(first: dt.date, window: RunWindow) -> dict[str, Any]:
    zone = ZoneInfo(window.zone)
    count = (window.last_day - first).days + 1
    days = [first + dt.timedelta(days=i) for i in range(count)]
    bounds = [local_day_bounds_utc(day, zone) for day in days]
    shifts = [_transition(start, end, zone) for start, end in bounds]
    return {
        "days": days,
        "bounds": np.array(
            [int(b[0].timestamp()) * _US for b in bounds] + [int(bounds[-1][1].timestamp()) * _US],
            np.int64,
        ),
        "shift_at": np.array([s[0] for s in shifts], np.int64),
        "shift_us": np.array([s[1] for s in shifts], np.int64),
        "weekend": np.array([day.weekday() >= 5 for day in days], np.bool_),
        "ordinal": np.array([day.toordinal() for day in days], np.int64),
        "first_window_day": (window.first_day - first).days,
    }


def _dense_context(
    context: VeeContext, meters: np.ndarray[Any, Any], first: dt.date, n_days: int
) -> dict[str, np.ndarray[Any, Any]]:
    shape = (meters.shape[0], n_days)
    out: dict[str, np.ndarray[Any, Any]] = {
        "active": np.full(shape, DEFAULTS.active_account, np.bool_),
        "bidir": np.full(shape, DEFAULTS.bidirectional, np.bool_),
        "mult": np.full(shape, DEFAULTS.multiplier),
        "digits": np.full(shape, DEFAULTS.register_digits, np.int64),
        "decimals": np.full(shape, DEFAULTS.register_decimals, np.int64),
        "nominal": np.full(shape, np.nan),
    }
    days = context.days
    if days.is_empty():
        return out
    ids = days["meter_id"].to_numpy()
    m = np.searchsorted(meters, ids)
    d = (days["local_date"].cast(pl.Int32).to_numpy() - _epoch_days(first)).astype(np.int64)
    ok = (m < meters.shape[0]) & (d >= 0) & (d < n_days)
    ok &= meters[np.minimum(m, meters.shape[0] - 1)] == ids
    m, d = m[ok], d[ok]
    for column, name in (
        ("active_account", "active"),
        ("bidirectional", "bidir"),
        ("multiplier", "mult"),
        ("register_digits", "digits"),
        ("register_decimals", "decimals"),
    ):
        out[name][m, d] = days[column].to_numpy()[ok]
    out["nominal"][m, d] = days["nominal_voltage_v"].fill_null(np.nan).to_numpy()[ok]
    return out


def _epoch_days(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def _windows(context: VeeContext, meters: np.ndarray[Any, Any]) -> tuple[Any, Any, Any, Any]:
    w = context.windows.filter(pl.col("meter_id").is_in(pl.Series(meters).implode())).sort(
        "meter_id"
    )
    ids = w["meter_id"].to_numpy()
    start = np.searchsorted(ids, meters, side="left")
    offsets = np.append(start, ids.shape[0]).astype(np.int64)
    kinds = w["kind"].replace_strict(
        {kind.value: code for kind, code in _KINDS.items()}, return_dtype=pl.Int8
    )
    return (
        offsets,
        w["start_utc"].dt.epoch("us").to_numpy().astype(np.int64),
        w["end_utc"].dt.epoch("us").to_numpy().astype(np.int64),
        kinds.to_numpy(),
    )


def _registers(
    context: VeeContext, series: pl.DataFrame, window: RunWindow
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    n_wdays = len(window.days())
    shape = (series.height, n_wdays)
    start, end = np.full(shape, np.nan), np.full(shape, np.nan)
    regs = context.registers.filter(
        pl.col("local_date").is_between(window.first_day, window.last_day)
    ).join(series, on=["meter_id", "channel"])
    if regs.height:
        s = regs["_series"].to_numpy()
        d = regs["local_date"].cast(pl.Int32).to_numpy() - _epoch_days(window.first_day)
        start[s, d] = regs["register_start"].fill_null(np.nan).to_numpy()
        end[s, d] = regs["register_end"].fill_null(np.nan).to_numpy()
    return start, end


def _channel_change(channel: pl.Series, meter: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """True where the channel differs from the previous row's.

    Rows are in key order, so a meter whose first and last rows have the same channel has one
    channel: strings are compared row by row only inside meters with several channels.
    Enum and Categorical columns compare their codes.
    """
    n = meter.shape[0]
    if isinstance(channel.dtype, pl.Enum | pl.Categorical):
        codes = channel.to_physical().to_numpy()
        return np.concatenate(([True], codes[1:] != codes[:-1]))
    change = np.zeros(n, np.bool_)
    first = np.flatnonzero(np.concatenate(([True], meter[1:] != meter[:-1])))
    last = np.append(first[1:], n) - 1
    several = (channel.gather(first) != channel.gather(last)).to_numpy()
    for a, b in zip(first[several].tolist(), last[several].tolist(), strict=True):
        part = channel.slice(a, b - a + 1)
        change[a + 1 : b + 1] = (part.slice(1) != part.slice(0, b - a)).to_numpy()
    return change


def _times(frame: pl.DataFrame) -> np.ndarray[Any, Any]:
    return frame[_T].to_physical().to_numpy()


def _values(frame: pl.DataFrame) -> np.ndarray[Any, Any]:
    value = frame["value"]
    return (value.fill_null(np.nan) if value.null_count() else value).to_numpy()


class _Index:
    """Series of a frame: starts, channel names and the kernel's per-series facts."""

    def __init__(self, frame: pl.DataFrame, suite: Suite, ws: int, we: int) -> None:
        meter = frame["meter_id"].to_numpy()
        if frame.height:
            new, ascending = k.new_series(meter, _channel_change(frame["channel"], meter))
            starts = np.flatnonzero(new)
        else:
            starts, ascending = np.zeros(0, np.int64), True
        names = frame["channel"].gather(starts).cast(pl.String)
        same_meter = meter[starts][1:] == meter[starts][:-1]
        later = (names.slice(1) > names.slice(0, max(names.len() - 1, 0))).to_numpy()
        self.channels = {c: suite.estimates(c) for c in names.unique().to_list()}
        self.estimable = names.replace_strict(self.channels, return_dtype=pl.Boolean).to_numpy()
        self.series_start = np.append(starts, frame.height).astype(np.int64)
        self.interval_us, self.counts, times_ok = k.series_facts(
            self.series_start, _times(frame), _values(frame), frame["quality_flags"].to_numpy(),
            frame["interval_s"].to_numpy(), ws, we, self.estimable,
        )  # fmt: skip
        self.starts = starts
        self.names = names
        self.meters = meter[starts]
        self.ordered = bool(ascending and times_ok and (~same_meter | later).all())


def run_fast(
    reads: pl.DataFrame,
    context: VeeContext,
    *,
    suite: Suite,
    window: RunWindow,
    chunk_series: int = _CHUNK_SERIES,
) -> VeeOutcome:
    """Validate and estimate ``reads`` in one fused pass.

    Args:
        reads: Current reads (:data:`~meterops.vee.context.VEE_INPUT`), one row per key, best
            in key order (meter, channel, time); rows before the window are history.
        context: Meter facts, windows and register reads.
        suite: Rules, parameters and which channels are estimated.
        window: The local days to validate.
        chunk_series: Series per parallel chunk.

    Returns:
        Rule flags per input row, absent intervals and estimates.
    """
    check_frame(reads, VEE_INPUT)
    ws_dt, we_dt = window.bounds_utc
    ws, we = int(ws_dt.timestamp()) * _US, int(we_dt.timestamp()) * _US
    n_input = reads.height
    keep: np.ndarray[Any, Any] | None = None
    frame = reads
    if n_input and _times(reads).max() >= we:
        keep = np.flatnonzero(_times(reads) < we)
        frame = reads[keep]
    index = _Index(frame, suite, ws, we)
    order: np.ndarray[Any, Any] | None = None
    if not index.ordered:
        order = frame.with_row_index("_i").sort("meter_id", "channel", _T)["_i"].to_numpy()
        frame = frame[order]
        index = _Index(frame, suite, ws, we)
    names = index.names
    series = pl.DataFrame(
        {"meter_id": index.meters, "channel": names, "_series": np.arange(names.len())}
    )
    masks = {c: suite.rule_mask(c) for c in index.channels}
    rule_mask = names.replace_strict(masks, return_dtype=pl.UInt32).to_numpy()
    flows = {c: _FLOWS[CHANNELS[c].flow if c in CHANNELS else FlowDirection.NONE] for c in masks}
    flow = names.replace_strict(flows, return_dtype=pl.Int8).to_numpy()
    distinct = np.concatenate(([True], index.meters[1:] != index.meters[:-1]))
    meters = index.meters[distinct]
    meter_index = np.cumsum(distinct) - 1
    first = window.first_day
    if frame.height:
        first_us = int(_times(frame)[index.series_start[:-1]].min())
        first_local = dt.datetime.fromtimestamp(first_us / _US, ZoneInfo(window.zone)).date()
        first = min(first, first_local)
    table = _day_table(first, window)
    ctx = _dense_context(context, meters, first, len(table["days"]))
    win = _windows(context, meters)
    reg_start, reg_end = _registers(context, series, window)
    counts = index.counts
    abs_offsets = np.concatenate(([0], np.cumsum(counts[:, 0]))).astype(np.int64)
    est_offsets = np.concatenate(([0], np.cumsum(counts[:, 1]))).astype(np.int64)
    n_series = names.len()
    chunks = np.unique(np.append(np.arange(0, n_series, chunk_series), n_series)).astype(np.int64)
    (out_flags, abs_series, abs_t, est_series, est_t, est_value, est_method, est_row) = (
        k.run_kernel(
            index.series_start, _times(frame), _values(frame), frame["quality_flags"].to_numpy(),
            meter_index, rule_mask, flow, index.estimable, index.interval_us, ws, we,
            table["bounds"], table["shift_at"], table["shift_us"], table["weekend"],
            table["ordinal"], table["first_window_day"], ctx["active"], ctx["bidir"],
            ctx["mult"], ctx["digits"], ctx["decimals"], ctx["nominal"], win[0], win[1],
            win[2], win[3], reg_start, reg_end, kernel_params(suite), abs_offsets, est_offsets,
            chunks,
        )
    )  # fmt: skip
    rule_flags = out_flags
    if order is not None:
        rule_flags = np.empty_like(out_flags)
        rule_flags[order] = out_flags
    if keep is not None:
        full = np.zeros(n_input, np.uint32)
        full[keep] = rule_flags
        rule_flags = full
    absent = pl.DataFrame(
        {"meter_id": index.meters[abs_series], "channel": names.gather(abs_series), _T: abs_t}
    ).with_columns(pl.col(_T).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"))
    estimates = _estimates(
        frame, series, index.interval_us, suite, est_series, est_t, est_value, est_method, est_row
    )
    return VeeOutcome(
        pl.Series("rule_flags", rule_flags, pl.UInt32), absent.cast(ABSENT), estimates
    )


def _estimates(  # noqa: PLR0917 - the kernel's output arrays, in its order
    frame: pl.DataFrame,
    series: pl.DataFrame,
    interval_us: np.ndarray[Any, Any],
    suite: Suite,
    est_series: np.ndarray[Any, Any],
    est_t: np.ndarray[Any, Any],
    est_value: np.ndarray[Any, Any],
    est_method: np.ndarray[Any, Any],
    est_row: np.ndarray[Any, Any],
) -> pl.DataFrame:
    ok = est_method >= 0
    s, row = est_series[ok], est_row[ok]
    has_row = row >= 0
    safe = np.where(has_row, row, 0)
    row_flags = frame["quality_flags"].to_numpy()[safe] if frame.height else np.zeros(0, np.uint32)
    row_version = frame["version"].to_numpy()[safe] if frame.height else np.zeros(0, np.int32)
    row_value = frame["value"].fill_null(np.nan).to_numpy()[safe] if frame.height else np.zeros(0)
    names = series["channel"].gather(s)
    missing = (
        FLAGS["MISSING_INTERVAL"].mask
        if suite.rule_set.enabled("completeness.missing_interval")
        else 0
    )
    flags = np.where(has_row, row_flags & SOURCE_MASK, 0) | FLAGS["ESTIMATED"].mask | missing
    was_estimate = has_row & ((row_flags & FLAGS["ESTIMATED"].mask) != 0)
    methods = pl.Series(
        np.array([m.value for m in _METHODS], dtype=object)[est_method[ok]], dtype=pl.String
    )
    frame_out = pl.DataFrame(
        {
            "meter_id": series["meter_id"].to_numpy()[s],
            "channel": names,
            "interval_start_utc": est_t[ok],
            "interval_s": (interval_us[s] // _US).astype(np.int32),
            "value": est_value[ok],
            "quality_flags": flags.astype(np.uint32),
            "method": methods,
            "parent_version": pl.Series(row_version, dtype=pl.Int32),
            "previous_value": row_value,
            "_has_row": has_row,
            "_was_estimate": was_estimate,
        }
    )
    reasons = {m.value: REASONS[m] for m in Method}
    actors = {m.value: actor_of(m) for m in Method}
    return (
        frame_out.with_columns(
            pl.col(_T).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            pl.col("method").replace_strict(reasons, return_dtype=pl.String).alias("reason_code"),
            pl.col("method").replace_strict(actors, return_dtype=pl.String).alias("actor"),
            pl.when(pl.col("_has_row")).then(pl.col("parent_version")).alias("parent_version"),
            pl.when(pl.col("_was_estimate") & pl.col("previous_value").is_not_nan())
            .then(pl.col("previous_value"))
            .alias("previous_value"),
        )
        .select(ESTIMATES.names())
        .cast(ESTIMATES)
    )
