"""Time resolution of CMEP triplets (see the time rule in ``cmep.py``), vectorised.

Pure module: numpy and pure meterops modules only.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from meterops.ingest.formats import _time

__all__ = ["Triplets", "resolve"]

_US = 1_000_000


class Triplets(NamedTuple):
    """Per-triplet arrays of the accepted MEPMD01 lines."""

    owner: np.ndarray
    k: np.ndarray
    wall: np.ndarray
    bad_stamp: np.ndarray
    stamp_empty: np.ndarray
    register: np.ndarray
    interval_us: np.ndarray


def resolve(
    t: Triplets, n_lines: int, zone: str, ambiguous: _time.Ambiguity
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UTC interval ends (register: read times) per triplet, and per line why it is refused.

    Returns:
        ``(utc_us, reason, first_k)``: reason 0 accepted, 1 invalid stamp, 2 nonexistent local
        time, 3 ambiguous local time, 4 out of sequence; ``first_k`` is the first offending
        triplet of a refused line.
    """
    owner, k = t.owner, t.k
    utc = np.zeros(owner.size, dtype=np.int64)
    reason = np.zeros(n_lines, dtype=np.int64)
    first_k = np.full(n_lines, np.iinfo(np.int64).max, dtype=np.int64)

    def mark(bad_trip: np.ndarray, code: int) -> None:
        idx = np.flatnonzero(bad_trip)
        fresh = reason[owner[idx]] == 0
        np.minimum.at(first_k, owner[idx[fresh]], k[idx[fresh]])
        lines = np.unique(owner[idx[fresh]])
        reason[lines] = code

    mark(t.bad_stamp, 1)
    ok_trip = reason[owner] == 0
    reg = np.flatnonzero(t.register & ok_trip)
    utc[reg] = _time.wall_to_utc_us(t.wall[reg], zone, ambiguous=ambiguous)
    reg_null = np.zeros(owner.size, dtype=bool)
    reg_null[reg] = _time.is_null(utc[reg])
    ambiguous_reg = reg_null.copy()
    if reg_null.any():
        early = _time.wall_to_utc_us(t.wall[reg_null], zone, ambiguous="earliest")
        ambiguous_reg[reg_null] = ~_time.is_null(early)
    mark(reg_null & ~ambiguous_reg, 2)
    mark(ambiguous_reg, 3)
    first = np.flatnonzero((k == 0) & ~t.register)
    first_wall = np.zeros(n_lines, dtype=np.int64)
    first_wall[owner[first]] = t.wall[first]
    early = _time.wall_to_utc_us(first_wall, zone, ambiguous="earliest")
    late = _time.wall_to_utc_us(first_wall, zone, ambiguous="latest")
    explicit = ~t.stamp_empty & ~t.register & (reason[owner] == 0)

    last_k = np.maximum(np.bincount(owner, minlength=n_lines) - 1, 0)
    line_interval = np.zeros(n_lines, dtype=np.int64)
    line_interval[owner] = t.interval_us

    def wrong(start: np.ndarray) -> np.ndarray:
        # Wall clock = UTC + offset. A line whose first and last interval ends have the same
        # offset and that spans under a week crosses no DST change: numpy suffices. Only
        # the other lines (DST days) go through the time-zone engine.
        valid = ~_time.is_null(start)
        first_offset = first_wall - start
        last_utc = np.where(valid, start + last_k * line_interval, 0)
        last_offset = _time.utc_to_wall_us(last_utc, zone) - last_utc
        simple = valid & (first_offset == last_offset) & (last_k * line_interval < 7 * 86_400 * _US)
        expected = np.where(valid[owner], start[owner] + k * t.interval_us, 0)
        local = expected + first_offset[owner]
        hard = np.flatnonzero(~simple[owner])
        if hard.size:
            local[hard] = _time.utc_to_wall_us(expected[hard], zone)
        result: np.ndarray = explicit & (local != t.wall)
        return result

    early_wrong = wrong(early)
    chosen = early.copy()
    wrong_trip = early_wrong
    ambiguous_first = (early != late) & (reason == 0)
    if ambiguous_first.any():
        late_wrong = wrong(late)
        line_early_bad = np.bincount(owner, weights=early_wrong, minlength=n_lines) > 0
        line_late_bad = np.bincount(owner, weights=late_wrong, minlength=n_lines) > 0
        pick_late = ambiguous_first & line_early_bad & ~line_late_bad
        both = ambiguous_first & ~line_early_bad & ~line_late_bad
        if ambiguous == "latest":
            pick_late |= both
        elif ambiguous == "raise":
            mark(both[owner] & (k == 0), 3)
        chosen[pick_late] = late[pick_late]
        wrong_trip = np.where(pick_late[owner], late_wrong, early_wrong)
    interval_trip = ~t.register & (reason[owner] == 0)
    mark(interval_trip & (k == 0) & _time.is_null(early)[owner], 2)
    mark(wrong_trip & (reason[owner] == 0), 4)
    idx = np.flatnonzero(~t.register)
    utc[idx] = chosen[owner[idx]] + k[idx] * t.interval_us[idx]
    return utc, reason, first_k
