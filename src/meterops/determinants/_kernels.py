"""Compiled loops of the determinants engine: scatter reads onto a grid, reduce per period.

Two loops that would cost a Python step per read or several full-array passes in numpy are
compiled with numba (``nogil``, cached on disk): :func:`scatter` places a batch of reads on a
``meter × time slot`` grid, :func:`reduce_periods` walks each billing period's slots once and
accumulates energy, counts and the block and rolling demand maxima per TOU period. Both are
plain loops over arrays so that they can be read as the definition of the arithmetic.

Pure module: numpy and numba only; must not import ``meterops.db``, ``models``, ``web``,
``cli`` or ``config``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar, cast

import numba
import numpy as np

__all__ = [
    "EST_D",
    "EXCL_D",
    "EXCL_R",
    "IRREGULAR",
    "PRESENT_D",
    "PRESENT_R",
    "reduce_periods",
    "scatter",
]

PRESENT_D: Final = 1
"""Cell bit: a delivered read is present."""
PRESENT_R: Final = 2
"""Cell bit: a received read is present."""
EST_D: Final = 4
"""Cell bit: the delivered read is estimated."""
EXCL_D: Final = 8
"""Cell bit: the delivered read carries an EXCLUDE_FROM_BILLING flag."""
EXCL_R: Final = 16
"""Cell bit: the received read carries an EXCLUDE_FROM_BILLING flag."""
IRREGULAR: Final = 32
"""Cell bit: a read starts off the grid (floored onto it; used for energy, not demand)."""

_F = TypeVar("_F", bound=Callable[..., Any])


def _jit(function: _F) -> _F:
    return cast("_F", numba.njit(cache=True, nogil=True)(function))


@_jit
def scatter(  # noqa: PLR0917
    meter_id: np.ndarray,
    received: np.ndarray,
    energy: np.ndarray,
    start_us: np.ndarray,
    interval_s: np.ndarray,
    value: np.ndarray,
    flags: np.ndarray,
    estimated_mask: int,
    excluded_mask: int,
    lookup: np.ndarray,
    lookup_base: int,
    origin_us: int,
    slot_us: int,
    n_slots: int,
    delivered_grid: np.ndarray,
    received_grid: np.ndarray,
    cells: np.ndarray,
    min_interval_s: np.ndarray,
    max_interval_s: np.ndarray,
    irregular: np.ndarray,
) -> int:
    """Add a batch of reads to the grids; returns how many were placed.

    Row ``i`` goes to meter row ``lookup[meter_id[i] - lookup_base]`` (skipped when outside the
    table or ``-1``) and slot ``(start_us[i] - origin_us) // slot_us`` (skipped outside
    ``[0, n_slots)``); only rows with ``energy[i]`` are used, ``received[i]`` picks the grid.
    A read off the slot grid is floored onto it and marked :data:`IRREGULAR`.
    """
    used = 0
    for i in range(meter_id.size):
        if not energy[i]:
            continue
        index = meter_id[i] - lookup_base
        if index < 0 or index >= lookup.size:
            continue
        r = lookup[index]
        off = start_us[i] - origin_us
        if r < 0 or off < 0:
            continue
        slot = off // slot_us
        if slot >= n_slots:
            continue
        used += 1
        cell = r * n_slots + slot
        bits = 0
        if off - slot * slot_us != 0:
            bits |= IRREGULAR
            irregular[r] += 1
        iv = interval_s[i]
        min_interval_s[r] = min(min_interval_s[r], iv)
        max_interval_s[r] = max(max_interval_s[r], iv)
        f = flags[i]
        if received[i]:
            received_grid[cell] += value[i]
            bits |= PRESENT_R
            if f & excluded_mask:
                bits |= EXCL_R
        else:
            delivered_grid[cell] += value[i]
            bits |= PRESENT_D
            if f & estimated_mask:
                bits |= EST_D
            if f & excluded_mask:
                bits |= EXCL_D
        cells[cell] |= bits
    return used


@_jit
def reduce_periods(  # noqa: PLR0917
    delivered_grid: np.ndarray,
    received_grid: np.ndarray,
    cells: np.ndarray,
    n_slots: int,
    period_table: np.ndarray,
    meter_rank: np.ndarray,
    first_slot: np.ndarray,
    end_slot: np.ndarray,
    demand_end_slot: np.ndarray,
    schedule_row: np.ndarray,
    block_cells: np.ndarray,
    sub_cells: np.ndarray,
    subs_per_window: int,
    exclude: bool,
    energy: np.ndarray,
    counts: np.ndarray,
    block_max: np.ndarray,
    block_at: np.ndarray,
    rolling_max: np.ndarray,
    rolling_at: np.ndarray,
) -> None:
    """Energy, counts and demand maxima per billing period and TOU period.

    For billing period ``j`` (meter row ``meter_rank[j]``, slots ``[first_slot, end_slot)``,
    of which ``[first_slot, demand_end_slot)`` lie wholly inside the period, period codes
    ``period_table[schedule_row[j]]``):

    * ``energy[j, p, :]`` = delivered, received, Σ max(d − r, 0), Σ max(r − d, 0) [kWh];
    * ``counts[j, p, :]`` = delivered intervals used, of which estimated, flagged excluded;
    * ``block_max[j, p]`` / ``block_at[j, p]``: largest window energy over clock-aligned
      windows of ``block_cells[j]`` slots (0 = not computable) and the window's first slot;
      column ``P`` holds the maximum over all periods;
    * ``rolling_max`` / ``rolling_at``: the same for windows of ``subs_per_window``
      sub-intervals of ``sub_cells[j]`` slots, re-evaluated every sub-interval.

    A window belongs to the TOU period of its last slot and counts only when it lies inside the
    billing period (starts at or after ``first_slot`` and ends at or before the start of slot
    ``demand_end_slot``: a period that ends inside an interval keeps that interval's energy
    but no window that runs past its end); maxima are window energies [kWh] (the caller
    converts to kW). Ties keep the earliest window. Excluded cells (when ``exclude``) and
    off-grid cells count as missing for demand.
    """
    n_periods = energy.shape[1]
    ring = np.zeros(max(subs_per_window, 1))
    ring_n = np.zeros(max(subs_per_window, 1), dtype=np.int64)
    for j in range(meter_rank.size):
        base = meter_rank[j] * n_slots
        codes = period_table[schedule_row[j]]
        k = block_cells[j]
        ks = sub_cells[j]
        a = first_slot[j]
        z = demand_end_slot[j]
        block_sum, block_n, block_start = 0.0, 0, -1
        sub_sum, sub_n, sub_start = 0.0, 0, -1
        pushed = 0
        for t in range(a, end_slot[j]):
            bits = cells[base + t]
            p = codes[t]
            d = 0.0
            use_d = (bits & PRESENT_D) != 0 and not (exclude and (bits & EXCL_D) != 0)
            if use_d:
                d = delivered_grid[base + t]
            r = 0.0
            use_r = (bits & PRESENT_R) != 0 and not (exclude and (bits & EXCL_R) != 0)
            if use_r:
                r = received_grid[base + t]
            if use_d or use_r:
                energy[j, p, 0] += d
                energy[j, p, 1] += r
                if d >= r:
                    energy[j, p, 2] += d - r
                else:
                    energy[j, p, 3] += r - d
            if use_d:
                counts[j, p, 0] += 1
                if (bits & EST_D) != 0:
                    counts[j, p, 1] += 1
            if (bits & PRESENT_D) != 0 and (bits & EXCL_D) != 0:
                counts[j, p, 2] += 1
            demand_ok = use_d and (bits & IRREGULAR) == 0
            if k > 0:
                if t % k == 0:
                    block_sum, block_n, block_start = 0.0, 0, t
                if demand_ok:
                    block_sum += d
                    block_n += 1
                if (t + 1) % k == 0 and block_start >= a and t < z and block_n > 0:
                    if block_sum > block_max[j, p]:
                        block_max[j, p] = block_sum
                        block_at[j, p] = block_start
                    if block_sum > block_max[j, n_periods]:
                        block_max[j, n_periods] = block_sum
                        block_at[j, n_periods] = block_start
            if ks > 0:
                if t % ks == 0:
                    sub_sum, sub_n, sub_start = 0.0, 0, t
                if demand_ok:
                    sub_sum += d
                    sub_n += 1
                if (t + 1) % ks == 0 and sub_start >= a:
                    ring[pushed % subs_per_window] = sub_sum
                    ring_n[pushed % subs_per_window] = sub_n
                    pushed += 1
                    if pushed >= subs_per_window and t < z and ring_n.sum() > 0:
                        window = ring.sum()
                        start = t + 1 - subs_per_window * ks
                        if window > rolling_max[j, p]:
                            rolling_max[j, p] = window
                            rolling_at[j, p] = start
                        if window > rolling_max[j, n_periods]:
                            rolling_max[j, n_periods] = window
                            rolling_at[j, n_periods] = start
