"""Wrong multiplier at a CT-rated meter exchange (``detect/multiplier.py``) and its verdict.

The sites are built as interval reads (a business's load shape: busy weekday working hours,
a base load at night and at weekends), the daily summaries come from the same reads through
``summarise_intervals``; missing reads are left out of the reads the detector sees, as a
collector outage leaves them out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from meterops.diagnostics.detect.multiplier import (
    EXCHANGE_READS,
    EXCHANGES,
    MultiplierParams,
    detect_wrong_multiplier,
    exchange_steps,
)
from meterops.diagnostics.detect.summary import summarise_intervals
from meterops.diagnostics.engine import DiagnosticInputs, detect_exceptions
from meterops.diagnostics.facts import meter_facts
from meterops.diagnostics.kinds import ActionKind, Cause, ExceptionKind
from meterops.diagnostics.params import DetectParams
from meterops.diagnostics.rules import diagnose
from tests.diagnostics import frames as f

DAYS = range(1, 29)
EXCHANGE_DAY = 14
AT = dt.datetime(2026, 7, EXCHANGE_DAY, 15, tzinfo=dt.UTC)  # 10:00 in Chicago
OLD, NEW = 1, 9
"""Meter 1 is taken out of SP1, meter 9 goes in; meters 2 and 3 are neighbours."""

STANDARD_CT = (10.0, 20.0, 40.0, 60.0, 80.0, 120.0, 160.0, 240.0, 400.0)

Keep = Callable[[int, int, int], bool]
"""Whether the read of (meter, day of July 2026, local quarter-hour 0-95) arrived."""


def _every(meter: int, day: int, quarter: int) -> bool:
    return True


def _shape(day: int) -> list[float]:
    """A business's quarter-hours (sums to 1 over the day): busy 08:00-18:00 on weekdays."""
    weekend = dt.date(2026, 7, day).weekday() >= 5
    raw = [1.0 if weekend or not 32 <= q < 72 else 5.0 for q in range(96)]
    total = sum(raw)
    return [r / total for r in raw]


def _meters(*, rated: bool = True) -> pl.DataFrame:
    return f.meters(
        3,
        meter_id=[NEW, 2, 3],
        serial_number=["M-NEW", "M2", "M3"],
        service_point_number=["SP1", "SP2", "SP3"],
        transformer_rated=[rated, False, False],
        ct_ratio=[40.0, 1.0, 1.0],
    )


def _day_reads(meter: int, day: int, kwh: float, keep: Keep) -> pl.DataFrame:
    start = f.T0 + dt.timedelta(days=day - 1)
    shape = _shape(day)
    values = [kwh * s for s in shape]
    reads = f.interval_reads(meter, "kwh_delivered", start, values)
    kept = [keep(meter, day, q) for q in range(96)]
    return reads.filter(pl.Series(kept))


def _reads(
    before: float,
    after: float,
    *,
    weather: float = 1.0,
    keep: Keep = _every,
    ramp: Callable[[int], float] | None = None,
) -> pl.DataFrame:
    """``INTERVAL_READS``: meter-side kWh/d of the old meter before and the new one after.

    Neighbours use 20 and 30 kWh/d. ``weather`` scales every meter's days after the
    exchange (a hot spell); ``ramp`` (day -> factor) scales the site's days; ``keep`` says
    which of the site's reads arrived (the neighbours' all arrive).
    """
    parts: list[pl.DataFrame] = []
    for day in DAYS:
        w = weather if day > EXCHANGE_DAY else 1.0
        r = ramp(day) if ramp is not None else 1.0
        if day < EXCHANGE_DAY:
            parts.append(_day_reads(OLD, day, before * r, keep))
        elif day > EXCHANGE_DAY:
            parts.append(_day_reads(NEW, day, after * w * r, keep))
        parts += [_day_reads(2, day, 20.0 * w, _every), _day_reads(3, day, 30.0 * w, _every)]
    return pl.concat(parts)


def _exchanges(old: float, new: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "service_point_number": ["SP1"],
            "removed_meter_id": [OLD],
            "removed_serial": ["M-OLD"],
            "installed_meter_id": [NEW],
            "installed_serial": ["M-NEW"],
            "exchanged_at_utc": [AT],
            "removed_multiplier": [old],
            "installed_multiplier": [new],
        },
        schema=EXCHANGES.schema,
    )


def _site(reads: pl.DataFrame) -> pl.DataFrame:
    return reads.filter(pl.col("meter_id").is_in([OLD, NEW])).select(EXCHANGE_READS.names)


def _detect(reads: pl.DataFrame, old: float, new: float, *, rated: bool = True) -> pl.DataFrame:
    return detect_wrong_multiplier(
        daily=summarise_intervals(reads, zone=f.ZONE),
        reads=_site(reads),
        meters=_meters(rated=rated),
        exchanges=_exchanges(old, new),
        last_day=dt.date(2026, 7, DAYS[-1]),
        zone=f.ZONE,
    )


def _collector_outages(meter: int, day: int, quarter: int) -> bool:
    """Reads lost in long blocks: every day of the old meter misses its nights and a
    morning, every day of the new one misses most of its busy afternoon (the worst case
    for a day's sum: the missing hours differ in use on the two sides)."""
    if meter == OLD:
        return 28 <= quarter < 88 and not (day % 3 == 0 and quarter < 44)
    return not 48 <= quarter < 72 and not (day % 4 == 1 and quarter >= 80)


def test_a_new_meter_recorded_with_half_the_ratio_is_a_wrong_multiplier() -> None:
    found = _detect(_reads(5.15, 5.15), 80.0, 40.0)
    assert found["meter_id"].to_list() == [NEW]
    assert found["kind"].to_list() == [ExceptionKind.WRONG_MULTIPLIER.value]
    assert found["first_seen_utc"][0] == AT
    evidence = json.loads(found["evidence"][0])
    assert evidence["billed_kwh_per_day_before"] == 412.0
    assert evidence["billed_kwh_per_day_after"] == 206.0
    assert evidence["multiplier_ratio"] == 0.5
    assert evidence["exchange_day"] == "2026-07-14"
    assert evidence["days_before"] == EXCHANGE_DAY - 1
    assert evidence["hours_after"] == 24.0 * (DAYS[-1] - EXCHANGE_DAY)
    assert evidence["message"].startswith(
        "Billed daily use fell from 412 kWh to 206 kWh on 14 Jul 2026, the day meter M-NEW "
        "replaced M-OLD; multiplier 40 recorded for the new meter, the old meter billed with 80."
    )


def test_the_fault_with_many_reads_missing_on_both_sides_is_found() -> None:
    reads = _reads(5.15, 5.15, keep=_collector_outages)
    daily = summarise_intervals(reads, zone=f.ZONE)
    site = daily.filter(pl.col("meter_id").is_in([OLD, NEW]))
    assert site["reads_received"].max() < 90  # no complete day on either side
    # use per present read is biased by which hours arrived: about half as much again before
    per_read = site.group_by(pl.col("meter_id") == NEW).agg(
        (pl.col("kwh_delivered").sum() / pl.col("reads_received").sum()).alias("x")
    )
    assert per_read["x"].max() / per_read["x"].min() > 1.4
    found = _detect(reads, 80.0, 40.0)
    assert found["meter_id"].to_list() == [NEW]
    evidence = json.loads(found["evidence"][0])
    assert evidence["meter_ratio"] == 1.0  # the same hours compared: no bias
    assert evidence["billed_ratio"] == 0.5
    assert evidence["billed_kwh_per_day_before"] == 412.0
    assert evidence["hours_after"] < 24.0 * 10


def test_look_alike_with_many_reads_missing_the_customer_leaves_on_the_exchange_day() -> None:
    # right multiplier; after the exchange only a standby load is left (a vacancy)
    reads = _reads(5.0, 0.1, keep=_collector_outages)
    assert _detect(reads, 80.0, 80.0).is_empty()
    # a CT change recorded at the same visit (80 -> 40) does not make the vacancy a fault
    assert _detect(reads, 80.0, 40.0).is_empty()
    steps = exchange_steps(
        daily=summarise_intervals(reads, zone=f.ZONE),
        reads=_site(reads),
        exchanges=_exchanges(80.0, 80.0),
        zone=f.ZONE,
        last_day=dt.date(2026, 7, DAYS[-1]),
    )
    assert steps["meter_ratio"][0] < 0.05  # judged, and the use did not carry on


def test_one_instead_of_eighty_is_found_in_a_hot_spell_too() -> None:
    found = _detect(_reads(4.0, 4.0, weather=1.4), 80.0, 1.0)
    assert found["meter_id"].to_list() == [NEW]
    assert json.loads(found["evidence"][0])["meter_ratio"] == 1.0


def test_the_ct_rated_peers_day_factor_stands_when_homes_and_businesses_differ() -> None:
    # 20 CT-rated businesses (meters 10-29) keep their use through a hot spell after the
    # exchange that makes 30 homes (meters 30-59) use 60 % more: the site carries on too
    days = [d for d in DAYS if d != EXCHANGE_DAY]
    rows = [(m, d, 50.0) for m in range(10, 30) for d in days]
    rows += [(m, d, 20.0 * (1.6 if d > EXCHANGE_DAY else 1.0)) for m in range(30, 60) for d in days]
    site = _reads(5.0, 5.0)
    daily = pl.concat([summarise_intervals(site, zone=f.ZONE), f.daily(rows)])
    args = {
        "daily": daily,
        "reads": _site(site),
        "exchanges": _exchanges(80.0, 40.0),
        "zone": f.ZONE,
        "last_day": dt.date(2026, 7, DAYS[-1]),
    }
    fleet = exchange_steps(**args)  # type: ignore[arg-type]
    peers = exchange_steps(**args, rated=pl.Series([NEW, *range(10, 30)]))  # type: ignore[arg-type]
    assert fleet["meter_ratio"][0] < 0.7  # the homes' hot spell taken for the site's
    assert peers["meter_ratio"][0] == 1.0
    meters = f.meters(
        41,
        meter_id=[NEW, *range(10, 30), *range(30, 50)],
        transformer_rated=[True] * 21 + [False] * 20,
    )
    found = detect_wrong_multiplier(
        daily=daily,
        reads=_site(site),
        meters=meters,
        exchanges=_exchanges(80.0, 40.0),
        last_day=dt.date(2026, 7, DAYS[-1]),
        zone=f.ZONE,
    )
    assert found["meter_id"].to_list() == [NEW]


def test_look_alike_a_right_multiplier_at_a_site_whose_use_changes_is_not_flagged() -> None:
    assert _detect(_reads(5.0, 2.5), 80.0, 80.0).is_empty()  # half the load gone
    assert _detect(_reads(5.0, 9.0), 80.0, 80.0).is_empty()  # a new load


def test_a_ct_change_recorded_right_keeps_the_billed_use_and_is_not_flagged() -> None:
    # 400:5 CTs (80) replaced by 200:5 (40): the secondary current doubles.
    assert _detect(_reads(5.0, 10.0), 80.0, 40.0).is_empty()
    assert _detect(_reads(5.0, 10.0, keep=_collector_outages), 80.0, 40.0).is_empty()


def test_a_self_contained_site_or_too_few_days_is_not_judged() -> None:
    assert _detect(_reads(5.0, 5.0), 80.0, 40.0, rated=False).is_empty()
    short = _reads(5.0, 5.0).filter(
        (pl.col("meter_id") != NEW)
        | (pl.col("interval_start_utc") < f.T0 + dt.timedelta(days=EXCHANGE_DAY + 2))
    )
    assert _detect(short, 80.0, 40.0).is_empty()
    # a week of days on each side, but only an hour of each: too few hours to judge
    hour = _reads(5.0, 5.0, keep=lambda m, d, q: m not in (OLD, NEW) or 40 <= q < 44)
    assert _detect(hour, 80.0, 40.0).is_empty()
    # a week with reads after, but none in the week next to the exchange: a step on the
    # exchange day cannot be told from a gradual change, so it is not judged
    late = _reads(5.0, 5.0, keep=lambda m, d, q: m != NEW or d > EXCHANGE_DAY + 7)
    steps = exchange_steps(
        daily=summarise_intervals(late, zone=f.ZONE),
        reads=_site(late),
        exchanges=_exchanges(80.0, 40.0),
        zone=f.ZONE,
        last_day=dt.date(2026, 7, DAYS[-1]),
    )
    assert steps.is_empty()


def test_a_sixty_minute_meter_replaced_by_a_fifteen_minute_one_compares() -> None:
    reads = _reads(5.15, 5.15)
    old = (
        reads.filter(pl.col("meter_id") == OLD)
        .group_by_dynamic("interval_start_utc", every="1h")
        .agg(pl.col("value").sum())
    )
    hourly = pl.DataFrame(
        {
            "meter_id": [OLD] * old.height,
            "interval_start_utc": old["interval_start_utc"],
            "interval_s": [3600] * old.height,
            "value": old["value"],
            "quality_flags": [0] * old.height,
        },
        schema=EXCHANGE_READS.schema,
    )
    site = pl.concat([hourly, _site(reads).filter(pl.col("meter_id") == NEW)])
    found = detect_wrong_multiplier(
        daily=summarise_intervals(reads, zone=f.ZONE),
        reads=site,
        meters=_meters(),
        exchanges=_exchanges(80.0, 40.0),
        last_day=dt.date(2026, 7, DAYS[-1]),
        zone=f.ZONE,
    )
    assert json.loads(found["evidence"][0])["meter_ratio"] == 1.0


def test_a_gradual_change_is_not_a_step_on_the_exchange_day() -> None:
    def ramp(day: int) -> float:  # use creeping up day by day
        return max(1.0 + 0.08 * (day - EXCHANGE_DAY), 0.1)

    reads = _reads(5.0, 5.0, ramp=ramp)
    steps = exchange_steps(
        daily=summarise_intervals(reads, zone=f.ZONE),
        reads=_site(reads),
        exchanges=_exchanges(80.0, 40.0),
        zone=f.ZONE,
        last_day=dt.date(2026, 7, DAYS[-1]),
    )
    assert steps["meter_ratio"][0] > 1.2
    assert _detect(reads, 80.0, 40.0).is_empty()


def test_the_engine_runs_it_with_the_exchanges_and_the_verdict_is_a_back_office_fix() -> None:
    reads = _reads(5.15, 5.15)
    inputs = DiagnosticInputs(
        meters=_meters(),
        daily=summarise_intervals(reads, zone=f.ZONE),
        last_reads=pl.DataFrame(
            {"meter_id": [NEW, 2, 3], "last_read_utc": [f.T0 + dt.timedelta(days=28)] * 3}
        ),
        voltage_reads=f.interval_reads(2, "voltage_min_v", f.T0, []),
        registers=f.registers([]),
        events=f.events([]),
        comm_stats=f.comm_stats([]),
        collectors=f.no_collectors(),
        window_start_utc=f.T0,
        as_of_utc=f.T0 + dt.timedelta(days=28, hours=6),
        zone=f.ZONE,
        exchanges=_exchanges(80.0, 40.0),
        exchange_reads=_site(reads),
    )
    params = DetectParams()
    found = detect_exceptions(inputs, params=params)
    mine = found.filter(pl.col("kind") == ExceptionKind.WRONG_MULTIPLIER.value)
    assert mine["meter_id"].to_list() == [NEW]
    verdict = diagnose(mine, meter_facts(inputs, found, params=params)).row(0, named=True)
    assert verdict["cause"] == Cause.WRONG_MULTIPLIER.value
    assert verdict["action"] == ActionKind.BACK_OFFICE.value
    assert "correct the multiplier" in verdict["summary"]
    for missing in ({"exchanges": None}, {"exchange_reads": None}):
        without = detect_exceptions(dataclasses.replace(inputs, **missing), params=params)  # type: ignore[arg-type]
        assert ExceptionKind.WRONG_MULTIPLIER.value not in without["kind"].to_list()


_ratios = st.sampled_from(STANDARD_CT)


@settings(max_examples=40, deadline=None)
@given(
    use=st.floats(1.0, 800.0),
    old=_ratios,
    new=_ratios,
    weather=st.floats(0.6, 1.6),
    gap=st.integers(0, 16),
)
def test_continuous_meter_side_use_is_flagged_exactly_when_the_multipliers_differ(
    use: float, old: float, new: float, weather: float, gap: int
) -> None:
    # ``gap`` hours of the site's reads lost every day, starting at a different hour each day
    def keep(meter: int, day: int, quarter: int) -> bool:
        return (quarter // 4 - 5 * day) % 24 >= gap

    found = _detect(_reads(use, use, weather=weather, keep=keep), old, new)
    differ = max(old, new) / min(old, new) >= MultiplierParams().min_multiplier_step
    assert found.height == (1 if differ else 0)
    if differ:
        evidence = json.loads(found["evidence"][0])
        assert abs(evidence["billed_ratio"] - new / old) <= 0.01 * new / old


@settings(max_examples=40, deadline=None)
@given(
    use=st.floats(1.0, 800.0),
    step=st.floats(0.05, 8.0),
    ratio=_ratios,
    scale=st.floats(1.0, 100.0),
)
def test_equal_multipliers_are_never_flagged_and_scale_does_not_matter(
    use: float, step: float, ratio: float, scale: float
) -> None:
    assert _detect(_reads(use, use * step), ratio, ratio).is_empty()
    plain = _detect(_reads(use, use), 80.0, 40.0)
    scaled = _detect(_reads(use, use).with_columns(pl.col("value") * scale), 80.0, 40.0)
    assert plain["meter_id"].to_list() == scaled["meter_id"].to_list() == [NEW]
