"""The fused single-pass VEE kernel (numba), over sorted arrays of a group of meters.

Only :mod:`meterops.vee.fast` calls this module; it computes per series, in one pass over
its rows, the same columns :mod:`meterops.vee.prepare` builds with Polars, the rule flags of
:mod:`meterops.vee.rules` and the estimates of :mod:`meterops.vee.estimation`. The tests hold
both paths to identical flags and estimates equal within 1e-9. Series are processed in
parallel chunks (``prange``); each chunk reuses its scratch buffers.

Pure module: numpy and numba only; must not import ``meterops.db``, ``models``, ``web``,
``cli`` or ``config``.
"""

# numba kernels take their arrays positionally and test NaN as ``x != x`` (no np.isnan call
# per element inside the hot loop).
# ruff: noqa: PLR0917, PLR0124
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar, cast

import numba as nb
import numpy as np

__all__: list[str] = []

# Bits (mirrors vee.flags; checked by meterops.vee.fast at import).
B_MISSING: Final = 1 << 10
B_SPIKE: Final = 1 << 11
B_ZERO: Final = 1 << 12
B_INACTIVE: Final = 1 << 13
B_REVERSE: Final = 1 << 14
B_SUM: Final = 1 << 15
B_CLOCK: Final = 1 << 16
B_FLAT: Final = 1 << 17
B_HIGH_V: Final = 1 << 18
B_LOW_V: Final = 1 << 19
B_SOURCE_MISSING: Final = 1 << 7
B_POWER_OUTAGE: Final = 1 << 3
B_ESTIMATED: Final = 1 << 24

# Parameter slots.
P_SPIKE_FACTOR, P_SPIKE_MIN, P_REVERSE_TOL, P_HIGH_V, P_LOW_V = 0, 1, 2, 3, 4
P_ZERO_S, P_INACTIVE_MIN, P_FLAT_S, P_SUM_ABS, P_SUM_REL, P_PRIMARY = 5, 6, 7, 8, 9, 10
P_CLOCK_S, P_MAX_INTERP_S, P_LIKE_DAYS = 11, 12, 13
N_PARAMS: Final = 14

# Flow codes.
F_DELIVERED, F_RECEIVED, F_NET, F_NONE = 0, 1, 2, 3
# Window kinds.
W_DISCONNECTED, W_OUTAGE, W_CLOCK = 0, 1, 2
# Methods (index into estimation.Method order).
M_NONE, M_ZERO_DISC, M_ZERO_OUTAGE, M_LINEAR, M_LIKE, M_FLAT, M_REGISTER = -1, 0, 1, 2, 3, 4, 5

_US: Final = 1_000_000
_NO_CLOCK: Final = np.iinfo(np.int64).max

_F = TypeVar("_F", bound=Callable[..., Any])


def _jit(function: _F) -> _F:
    return cast("_F", nb.njit(cache=True, nogil=True)(function))


def _pjit(function: _F) -> _F:
    return cast("_F", nb.njit(cache=True, nogil=True, parallel=True)(function))


@_jit
def _day_of(t: int, day_bounds: Any, hint: int) -> int:
    """Index of the local day holding ``t`` (-1 before the table), walking from ``hint``."""
    d = hint
    if d < 0 or t < day_bounds[d]:
        d = int(np.searchsorted(day_bounds, t, side="right")) - 1
    n = day_bounds.shape[0] - 1
    while d < n and t >= day_bounds[d + 1]:
        d += 1
    return d


@_pjit
def new_series(meter: Any, channel_change: Any) -> Any:
    """Where a series starts (meter or channel changes), and whether meters ascend."""
    n = meter.shape[0]
    out = np.empty(n, np.bool_)
    descending = 0
    for i in nb.prange(n):
        if i == 0:
            out[i] = True
        else:
            out[i] = meter[i] != meter[i - 1] or channel_change[i]
            if meter[i] < meter[i - 1]:
                descending += 1
    return out, descending == 0


@_pjit
def series_facts(
    series_start: Any, t: Any, value: Any, flags: Any, interval_s: Any, ws: int, we: int,
    estimable: Any,
) -> Any:  # fmt: skip
    """Per series: interval [µs], absent slots, slots to estimate; and whether times ascend."""
    n_series = series_start.shape[0] - 1
    interval_us = np.empty(n_series, np.int64)
    counts = np.zeros((n_series, 2), np.int64)
    unordered = 0
    for s in nb.prange(n_series):
        r0, r1 = series_start[s], series_start[s + 1]
        step = np.int64(interval_s[r0])
        for r in range(r0 + 1, r1):
            step = min(step, np.int64(interval_s[r]))
            if t[r] <= t[r - 1]:
                unordered += 1
        step *= _US
        interval_us[s] = step
        grid = (we - ws + step - 1) // step
        on_grid = 0
        not_actual = 0
        g = np.int64(ws)
        for r in range(r0, r1):
            tr = t[r]
            if tr >= ws and tr < we:
                while g < tr:
                    g += step
                if g == tr:
                    on_grid += 1
                x = value[r]
                if x != x or (flags[r] & (B_SOURCE_MISSING | B_ESTIMATED)) != 0:
                    not_actual += 1
        counts[s, 0] = grid - on_grid
        if estimable[s]:
            counts[s, 1] = grid - on_grid + not_actual
    return interval_us, counts, unordered == 0


@_jit
def _slots(
    n: int, vt: Any, vday: Any, day_bounds: Any, day_shift_at: Any, day_shift_us: Any,
    step: int, vslot: Any,
) -> None:  # fmt: skip
    """Local wall-clock slot of the day of each virtual row (like days match on it)."""
    for i in range(n):
        d = vday[i]
        wall = vt[i] - day_bounds[d]
        if vt[i] >= day_shift_at[d]:
            wall += day_shift_us[d]
        vslot[i] = (wall // _US) // (step // _US)


@_jit
def _series(
    s: int,
    r0: int,
    r1: int,
    t: Any,
    value: Any,
    flags: Any,
    meter_index: Any,
    rule_mask: Any,
    flow: Any,
    estimable: Any,
    interval_us: Any,
    ws: int,
    we: int,
    day_bounds: Any,
    day_shift_at: Any,
    day_shift_us: Any,
    day_weekend: Any,
    day_ordinal: Any,
    first_window_day: int,
    ctx_active: Any,
    ctx_bidir: Any,
    ctx_mult: Any,
    ctx_digits: Any,
    ctx_decimals: Any,
    ctx_nominal: Any,
    win_start: Any,
    win_s: Any,
    win_e: Any,
    win_kind: Any,
    reg_start: Any,
    reg_end: Any,
    params: Any,
    out_flags: Any,
    abs_at: int,
    abs_series: Any,
    abs_t: Any,
    est_at: int,
    est_series: Any,
    est_t: Any,
    est_value: Any,
    est_method: Any,
    est_row: Any,
    vt: Any,
    vv: Any,
    vf: Any,
    vrow: Any,
    vact: Any,
    vday: Any,
    vslot: Any,
    vzero: Any,
    vflat: Any,
    vdisc: Any,
    vout: Any,
    vclock: Any,
    vest: Any,
    vmeth: Any,
    day_sum: Any,
    day_complete: Any,
    day_fixed: Any,
    day_profile: Any,
    day_slots: Any,
) -> None:
    step = interval_us[s]
    grid = (we - ws + step - 1) // step
    # 1. Virtual rows: history rows, then the window grid merged with the window rows.
    n = 0
    r = r0
    while r < r1 and t[r] < ws:
        vt[n], vv[n], vf[n], vrow[n] = t[r], value[r], flags[r], r
        n += 1
        r += 1
    k = 0
    while k < grid or (r < r1 and t[r] < we):
        g = ws + k * step if k < grid else we
        if r < r1 and t[r] < we and t[r] <= g:
            vt[n], vv[n], vf[n], vrow[n] = t[r], value[r], flags[r], r
            if t[r] == g:
                k += 1
            r += 1
        else:
            vt[n], vv[n], vf[n], vrow[n] = g, np.nan, 0, -1
            k += 1
        n += 1
    m = meter_index[s]
    mask = rule_mask[s]
    fl = flow[s]
    total = 0.0
    count = 0
    d = -1
    n_ctx_days = ctx_active.shape[1]
    w0, w1 = win_start[m], win_start[m + 1]
    n_wdays = day_sum.shape[0]
    for j in range(n_wdays):
        day_sum[j] = 0.0
        day_complete[j] = True
        day_fixed[j] = 0.0
        day_profile[j] = 0.0
        day_slots[j] = 0
    # 2. One pass: actual, day, windows, series sum, runs (closed when they end), day sums.
    zero_begin = -1
    flat_begin = -1
    for i in range(n + 1):
        zero = False
        flat = False
        contiguous = False
        if i < n:
            vest[i] = np.nan
            vmeth[i] = M_NONE
            x = vv[i]
            f = vf[i]
            act = (x == x) and (f & (B_SOURCE_MISSING | B_ESTIMATED)) == 0
            vact[i] = act
            d = _day_of(vt[i], day_bounds, d)
            vday[i] = d
            disc = False
            out = (f & B_POWER_OUTAGE) != 0
            clock = _NO_CLOCK
            for w in range(w0, w1):
                dist = max(vt[i] - win_e[w], win_s[w] - vt[i] - step)
                kind = win_kind[w]
                if kind == W_DISCONNECTED:
                    disc = disc or dist < 0
                elif kind == W_OUTAGE:
                    out = out or dist < 0
                elif dist < clock:
                    clock = dist
            vdisc[i], vout[i], vclock[i] = disc, out, clock
            contiguous = i > 0 and vt[i] - vt[i - 1] == step
            if act:
                total += x
                count += 1
                active = ctx_active[m, d] if d < n_ctx_days else True
                zero = x == 0.0 and active and not disc and not out
                flat = x != 0.0
            if vt[i] >= ws:
                j = d - first_window_day
                if x == x:
                    day_sum[j] += x
                day_complete[j] = day_complete[j] and act
            vzero[i] = 0
            vflat[i] = 0
        if zero_begin >= 0 and not (zero and contiguous):
            for j in range(zero_begin, i):
                vzero[j] = i - zero_begin
            zero_begin = -1
        if zero and zero_begin < 0:
            zero_begin = i
        if flat_begin >= 0 and not (contiguous and flat and vv[i] == vv[i - 1]):
            for j in range(flat_begin, i):
                vflat[j] = i - flat_begin
            flat_begin = -1
        if flat and flat_begin < 0:
            flat_begin = i
    # 3. Sum check per window day (register advance rolled over at 10^digits).
    for j in range(n_wdays):
        a = reg_start[s, j]
        b = reg_end[s, j]
        dd = j + first_window_day
        fail = False
        if day_complete[j] and a == a and b == b and (mask & B_SUM) != 0:
            in_ctx = dd < n_ctx_days
            advance = b - a
            if advance < 0:
                advance += 10.0 ** (ctx_digits[m, dd] if in_ctx else 5)
            factor = (ctx_mult[m, dd] if in_ctx else 1.0) if params[P_PRIMARY] > 0 else 1.0
            advance *= factor
            step_r = 10.0 ** -(ctx_decimals[m, dd] if in_ctx else 0)
            tolerance = params[P_SUM_ABS] + params[P_SUM_REL] * abs(advance) + step_r * factor
            fail = abs(day_sum[j] - advance) > tolerance
        day_fixed[j] = 1.0 if fail else 0.0
    # 4. Rule flags of window rows; absent grid slots are listed.
    step_s = step // _US
    for i in range(n):
        if vt[i] < ws:
            continue
        x = vv[i]
        dd = vday[i]
        bits = 0
        if not vact[i]:
            bits = B_MISSING
        else:
            spike = x * (count - 1) > params[P_SPIKE_FACTOR] * (total - x)
            if count > 1 and x > params[P_SPIKE_MIN] and spike:
                bits |= B_SPIKE
            tol = params[P_REVERSE_TOL]
            if (x < -tol and fl != F_NET) or (
                fl == F_RECEIVED and x > tol and not ctx_bidir[m, dd]
            ):
                bits |= B_REVERSE
            if vzero[i] > 0 and vzero[i] * step_s >= params[P_ZERO_S]:
                bits |= B_ZERO
            if not ctx_active[m, dd] and x > params[P_INACTIVE_MIN]:
                bits |= B_INACTIVE
            if x != 0.0 and vflat[i] * step_s >= params[P_FLAT_S]:
                bits |= B_FLAT
            if vclock[i] != _NO_CLOCK and vclock[i] < params[P_CLOCK_S] * _US:
                bits |= B_CLOCK
            nominal = ctx_nominal[m, dd]
            if nominal == nominal:
                if x > nominal * params[P_HIGH_V]:
                    bits |= B_HIGH_V
                if not vout[i] and x < nominal * params[P_LOW_V]:
                    bits |= B_LOW_V
            if day_fixed[dd - first_window_day] > 0.0:
                bits |= B_SUM
        bits &= mask
        if vrow[i] >= 0:
            out_flags[vrow[i]] = bits
        else:
            abs_series[abs_at] = s
            abs_t[abs_at] = vt[i]
            abs_at += 1
    for j in range(n_wdays):
        day_fixed[j] = 0.0
    if not estimable[s]:
        return
    # 5. Estimation over gaps of window rows without an actual value.
    slots_ready = False
    i = 0
    while i < n:
        if vt[i] < ws or vact[i]:
            i += 1
            continue
        g0 = i
        while i + 1 < n and not vact[i + 1] and vt[i + 1] - vt[i] == step:
            i += 1
        g1 = i + 1
        i += 1
        length = g1 - g0
        left = np.nan
        if g0 > 0 and vt[g0] - vt[g0 - 1] == step and vact[g0 - 1]:
            left = vv[g0 - 1]
        right = np.nan
        if g1 < n and vt[g1] - vt[g1 - 1] == step and vact[g1]:
            right = vv[g1]
        covered = True
        has_like = True
        for j in range(g0, g1):
            covered = covered and (vdisc[j] or vout[j])
        interpolate = (
            length * (step // _US) <= params[P_MAX_INTERP_S] and left == left and right == right
        )
        like_days = int(params[P_LIKE_DAYS])
        if not covered and not interpolate:
            if not slots_ready:
                _slots(n, vt, vday, day_bounds, day_shift_at, day_shift_us, step, vslot)
                slots_ready = True
            for j in range(g0, g1):
                found = 0
                acc = 0.0
                day_j = day_ordinal[vday[j]]
                weekend_j = day_weekend[vday[j]]
                q = j - 1
                while q >= 0 and found < like_days:
                    if (
                        vact[q]
                        and vslot[q] == vslot[j]
                        and day_ordinal[vday[q]] < day_j
                        and day_weekend[vday[q]] == weekend_j
                    ):
                        acc += vv[q]
                        found += 1
                    q -= 1
                vest[j] = acc / found if found > 0 else np.nan
                has_like = has_like and found > 0
        for j in range(g0, g1):
            if covered:
                vmeth[j] = M_ZERO_DISC if vdisc[j] else M_ZERO_OUTAGE
                vest[j] = 0.0
            elif interpolate:
                vmeth[j] = M_LINEAR
                stepv = (right - left) / (length + 1)
                vest[j] = left + stepv * (j - g0 + 1)
            elif has_like:
                vmeth[j] = M_LIKE
            else:
                vmeth[j] = M_FLAT
                vest[j] = total / count if count > 0 else np.nan
    # 6. Scale profile estimates to the register advance of their day.
    for j in range(n):
        if vt[j] < ws or vact[j]:
            continue
        w = vday[j] - first_window_day
        if vmeth[j] == M_LIKE or vmeth[j] == M_FLAT:
            if vest[j] == vest[j]:
                day_profile[w] += vest[j]
            day_slots[w] += 1
        elif vest[j] == vest[j]:
            day_fixed[w] += vest[j]
    for j in range(n):
        if vt[j] < ws or vact[j]:
            continue
        w = vday[j] - first_window_day
        dd = vday[j]
        a = reg_start[s, w]
        b = reg_end[s, w]
        if (vmeth[j] == M_LIKE or vmeth[j] == M_FLAT) and a == a and b == b:
            in_ctx = 0 <= dd < n_ctx_days
            digits = ctx_digits[m, dd] if in_ctx else 5
            advance = b - a
            if advance < 0:
                advance += 10.0**digits
            if params[P_PRIMARY] > 0:
                advance *= ctx_mult[m, dd] if in_ctx else 1.0
            actual_sum = 0.0
            # Actual energy of the day: the day's sum of values minus its non-actual ones.
            for q in range(n):
                if vt[q] >= ws and vday[q] == dd and vact[q]:
                    actual_sum += vv[q]
            remaining = advance - actual_sum - day_fixed[w]
            profile = vest[j] if vest[j] == vest[j] else 0.0
            if remaining <= 0.0:
                vest[j] = 0.0
            elif day_profile[w] > 0.0:
                vest[j] = profile * (remaining / day_profile[w])
            else:
                vest[j] = remaining / day_slots[w]
            vmeth[j] = M_REGISTER
        est_series[est_at] = s
        est_t[est_at] = vt[j]
        est_value[est_at] = vest[j]
        est_method[est_at] = vmeth[j] if vest[j] == vest[j] else M_NONE
        est_row[est_at] = vrow[j]
        est_at += 1


@_pjit
def run_kernel(
    series_start: Any,
    t: Any,
    value: Any,
    flags: Any,
    meter_index: Any,
    rule_mask: Any,
    flow: Any,
    estimable: Any,
    interval_us: Any,
    ws: int,
    we: int,
    day_bounds: Any,
    day_shift_at: Any,
    day_shift_us: Any,
    day_weekend: Any,
    day_ordinal: Any,
    first_window_day: int,
    ctx_active: Any,
    ctx_bidir: Any,
    ctx_mult: Any,
    ctx_digits: Any,
    ctx_decimals: Any,
    ctx_nominal: Any,
    win_start: Any,
    win_s: Any,
    win_e: Any,
    win_kind: Any,
    reg_start: Any,
    reg_end: Any,
    params: Any,
    abs_offsets: Any,
    est_offsets: Any,
    chunks: Any,
) -> Any:
    """Run every series; returns (flags, absent series/t, estimate series/t/value/method/row)."""
    n_rows = t.shape[0]
    out_flags = np.zeros(n_rows, np.uint32)
    n_abs = abs_offsets[-1]
    n_est = est_offsets[-1]
    abs_series = np.empty(n_abs, np.int64)
    abs_t = np.empty(n_abs, np.int64)
    est_series = np.empty(n_est, np.int64)
    est_t = np.empty(n_est, np.int64)
    est_value = np.empty(n_est, np.float64)
    est_method = np.empty(n_est, np.int8)
    est_row = np.empty(n_est, np.int64)
    n_wdays = reg_start.shape[1]
    for c in nb.prange(chunks.shape[0] - 1):
        s0, s1 = chunks[c], chunks[c + 1]
        size = 1
        for s in range(s0, s1):
            grid = (we - ws + interval_us[s] - 1) // interval_us[s]
            size = max(size, series_start[s + 1] - series_start[s] + grid + 1)
        vt = np.empty(size, np.int64)
        vv = np.empty(size, np.float64)
        vf = np.empty(size, np.uint32)
        vrow = np.empty(size, np.int64)
        vact = np.empty(size, np.bool_)
        vday = np.empty(size, np.int64)
        vslot = np.empty(size, np.int64)
        vzero = np.empty(size, np.int64)
        vflat = np.empty(size, np.int64)
        vdisc = np.empty(size, np.bool_)
        vout = np.empty(size, np.bool_)
        vclock = np.empty(size, np.int64)
        vest = np.full(size, np.nan)
        vmeth = np.full(size, M_NONE, np.int8)
        day_sum = np.empty(n_wdays, np.float64)
        day_complete = np.empty(n_wdays, np.bool_)
        day_fixed = np.empty(n_wdays, np.float64)
        day_profile = np.empty(n_wdays, np.float64)
        day_slots = np.empty(n_wdays, np.int64)
        for s in range(s0, s1):
            _series(
                s, series_start[s], series_start[s + 1], t, value, flags, meter_index,
                rule_mask, flow, estimable, interval_us, ws, we, day_bounds, day_shift_at,
                day_shift_us, day_weekend, day_ordinal, first_window_day, ctx_active, ctx_bidir,
                ctx_mult, ctx_digits, ctx_decimals, ctx_nominal, win_start, win_s, win_e,
                win_kind, reg_start, reg_end, params, out_flags, abs_offsets[s], abs_series,
                abs_t, est_offsets[s], est_series, est_t, est_value, est_method, est_row, vt, vv,
                vf, vrow, vact, vday, vslot, vzero, vflat, vdisc, vout, vclock, vest, vmeth,
                day_sum, day_complete, day_fixed, day_profile, day_slots,
            )  # fmt: skip
    return out_flags, abs_series, abs_t, est_series, est_t, est_value, est_method, est_row
