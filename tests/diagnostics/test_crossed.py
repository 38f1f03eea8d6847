"""Crossed meters: the pair signature against its look-alikes (a move-in left unrecorded, a
stopped register, an ordinary vacancy)."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl

from meterops.diagnostics import detect
from meterops.diagnostics.engine import DiagnosticInputs, detect_exceptions
from meterops.diagnostics.facts import meter_facts
from meterops.diagnostics.params import DetectParams
from meterops.diagnostics.rules import diagnose
from tests.diagnostics import frames as f

P = DetectParams()
DAYS = range(1, 15)
LAST_DAY = dt.date(2026, 7, 14)
CLOSED = dt.date(2026, 7, 11)


def _context(closed_on: dt.date | None = CLOSED) -> pl.DataFrame:
    """Meter 1's premise lost its account on ``closed_on``; meters 2 (next door, 20 m), 3
    (a block away, 400 m) have accounts."""
    return f.meters(
        3,
        account_active=[closed_on is None, True, True],
        account_closed_on=[closed_on, None, None],
        latitude=[42.0, 42.00018, 42.0036],
        longitude=[-93.0] * 3,
        rate_code=[None if closed_on else "RS", "RS", "RS"],
    )


def _daily(one: float, two_after: float, three_after: float = 20.0) -> pl.DataFrame:
    rows = [(1, d, one) for d in DAYS]
    rows += [(2, d, 25.0 if d < CLOSED.day else two_after) for d in DAYS]
    rows += [(3, d, 20.0 if d < CLOSED.day else three_after) for d in DAYS]
    return f.daily(rows)


def _detect(meters: pl.DataFrame, daily: pl.DataFrame) -> pl.DataFrame:
    return detect.detect_crossed_meters(
        daily=daily, meters=meters, last_day=LAST_DAY, zone=f.ZONE, params=P
    )


def test_a_closed_premise_still_using_energy_next_to_one_that_stopped_is_a_swap() -> None:
    out = _detect(_context(), _daily(one=25.0, two_after=0.0))
    assert out["meter_id"].to_list() == [1, 2]
    first, second = (json.loads(e) for e in out["evidence"])
    assert first["partner_serial"] == "M2"
    assert first["role"] == "inactive_with_use"
    assert second["partner_serial"] == "M1"
    assert second["role"] == "active_without_use"
    assert second["active_low_since"] == CLOSED.isoformat()
    assert 15.0 < first["distance_m"] < 25.0


def test_look_alikes_are_not_swaps() -> None:
    # a move-in not recorded: the closed premise uses energy, no neighbour stopped
    assert _detect(_context(), _daily(one=25.0, two_after=24.0)).is_empty()
    # an ordinary vacancy: the closed premise's own meter stopped
    assert _detect(_context(), _daily(one=0.0, two_after=0.0)).is_empty()
    # a neighbour that stopped far from the premise (400 m) is not its partner
    daily = _daily(one=25.0, two_after=24.0, three_after=0.0)
    assert _detect(_context(), daily).is_empty()
    # a neighbour that stopped a week before the account closed: a stopped register
    rows = [(1, d, 25.0) for d in DAYS] + [(2, d, 25.0 if d < 4 else 0.0) for d in DAYS]
    rows += [(3, d, 20.0) for d in DAYS]
    assert _detect(_context(), f.daily(rows)).is_empty()
    # no account closed at all
    assert _detect(_context(closed_on=None), _daily(one=25.0, two_after=0.0)).is_empty()


def test_the_pair_overrides_the_plain_explanations_of_its_two_exceptions() -> None:
    start = f.T0
    as_of = f.T0 + dt.timedelta(days=14)
    inputs = DiagnosticInputs(
        meters=_context(),
        daily=_daily(one=25.0, two_after=0.0),
        last_reads=pl.DataFrame(
            {"meter_id": [1, 2, 3], "last_read_utc": [as_of] * 3},
            schema={"meter_id": pl.Int64, "last_read_utc": pl.Datetime("us", "UTC")},
        ),
        voltage_reads=f.interval_reads(1, "voltage_min_v", start, []),
        registers=f.registers([]),
        events=f.events([]),
        comm_stats=f.comm_stats([]),
        collectors=f.no_collectors(),
        window_start_utc=start,
        as_of_utc=as_of,
        zone=f.ZONE,
    )
    found = detect_exceptions(inputs, params=P)
    verdicts = diagnose(found, meter_facts(inputs, found, params=P))
    by_kind = {(r["meter_id"], r["kind"]): r["cause"] for r in verdicts.iter_rows(named=True)}
    assert by_kind[(1, "crossed_meters")] == "crossed_meters"
    assert by_kind[(2, "crossed_meters")] == "crossed_meters"
    assert by_kind[(1, "inactive_usage")] == "crossed_meters"  # not a move-in
    assert by_kind[(2, "zero_consumption")] == "crossed_meters"  # not a stopped register


REOPENED = dt.date(2026, 7, 14)


def _episode_context() -> pl.DataFrame:
    """Meter 1's premise was vacant from CLOSED until a move-in on REOPENED."""
    return f.meters(
        3,
        account_active=[True, True, True],
        account_closed_on=[CLOSED, None, None],
        account_opened_on=[REOPENED, dt.date(2020, 1, 1), dt.date(2020, 1, 1)],
        latitude=[42.0, 42.00018, 42.0036],
        longitude=[-93.0] * 3,
    )


def _episode_daily(two_during: float) -> pl.DataFrame:
    rows = [(1, d, 25.0) for d in DAYS]
    rows += [(2, d, two_during if CLOSED.day <= d < REOPENED.day else 25.0) for d in DAYS]
    rows += [(3, d, 20.0) for d in DAYS]
    return f.daily(rows)


def test_a_swap_shows_in_a_vacancy_that_ended_before_the_run() -> None:
    out = _detect(_episode_context(), _episode_daily(two_during=0.0))
    assert out["meter_id"].to_list() == [1, 2]
    first, second = (json.loads(e) for e in out["evidence"])
    assert first["episode_ended_on"] == REOPENED.isoformat()
    assert first["partner_serial"] == "M2"
    assert second["role"] == "active_without_use"
    assert second["active_low_since"] == CLOSED.isoformat()


def test_a_vacancy_that_ended_with_no_neighbour_falling_is_no_swap() -> None:
    assert _detect(_episode_context(), _episode_daily(two_during=24.0)).is_empty()


def test_a_vacancy_of_a_single_day_is_too_short_to_judge() -> None:
    context = _episode_context().with_columns(
        pl.when(pl.col("meter_id") == 1)
        .then(pl.lit(CLOSED + dt.timedelta(days=1)))
        .otherwise(pl.col("account_opened_on"))
        .alias("account_opened_on")
    )
    assert _detect(context, _episode_daily(two_during=0.0)).is_empty()


def test_a_meter_whose_own_vacancy_ended_is_not_its_own_partner() -> None:
    """Alone on its street: its use fell during its vacancy, as a vacant premise's does."""
    context = _episode_context().filter(pl.col("meter_id") == 1)
    rows = [(1, d, 0.0 if CLOSED.day <= d < REOPENED.day else 25.0) for d in DAYS]
    assert _detect(context, f.daily(rows)).is_empty()


def test_a_disconnected_swap_reads_nothing_and_a_neighbour_bypass_is_not_one() -> None:
    # the vacancy disconnect silenced A (it sat at B's premise) while B, at the vacant
    # premise, reads nothing from the same day: a swap
    rows = [(1, d, 25.0 if d < CLOSED.day else 0.0) for d in DAYS]
    rows += [(2, d, 25.0 if d < CLOSED.day else 0.0) for d in DAYS]
    rows += [(3, d, 20.0) for d in DAYS]
    out = _detect(_context(), f.daily(rows))
    assert out["meter_id"].to_list() == [1, 2]
    assert json.loads(out["evidence"][0])["role"] == "inactive_disconnected"
    # the same vacancy next to a premise whose meter fell to 20 % the same day (a bypass
    # registering a share of the use): A's silence is only the vacancy, B still registers
    rows = [(1, d, 25.0 if d < CLOSED.day else 0.0) for d in DAYS]
    rows += [(2, d, 25.0 if d < CLOSED.day else 5.0) for d in DAYS]
    rows += [(3, d, 20.0) for d in DAYS]
    assert _detect(_context(), f.daily(rows)).is_empty()
