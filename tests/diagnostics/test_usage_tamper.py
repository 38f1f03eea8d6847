"""Tamper events: a bypass (the use falls after them) against a tamper alone, judged on
complete, weather-adjusted days; a tamper exception on a meter whose use stepped down."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np
import polars as pl

from meterops.diagnostics.engine import DiagnosticInputs, detect_exceptions
from meterops.diagnostics.facts import meter_facts
from meterops.diagnostics.kinds import ExceptionKind
from meterops.diagnostics.params import DetectParams
from meterops.diagnostics.rules import diagnose, evaluate
from tests.diagnostics import frames as f

P = DetectParams()
DAYS = range(1, 22)
TAMPER_DAY = 12
METERS = 12


def _use(meter: int, day: int) -> float:
    """Everyone's use: a hot spell from day 12 on raises every premise by 60 %."""
    heat = 1.6 if day >= TAMPER_DAY else 1.0
    return (15.0 + meter) * heat * (1.0 + 0.04 * np.sin(meter * 5.0 + day * 1.7))


def _inputs(rows: list[tuple[int, int, float]], reads: list[int] | None = None) -> DiagnosticInputs:
    start = f.T0
    as_of = f.T0 + dt.timedelta(days=len(DAYS))
    daily = f.daily(rows) if reads is None else f.daily(rows, reads_received=reads)
    tamper_at = f.T0 + dt.timedelta(days=TAMPER_DAY - 1, hours=15)
    return DiagnosticInputs(
        meters=f.meters(METERS),
        daily=daily,
        last_reads=pl.DataFrame(
            {"meter_id": list(range(1, METERS + 1)), "last_read_utc": [as_of] * METERS},
            schema={"meter_id": pl.Int64, "last_read_utc": pl.Datetime("us", "UTC")},
        ),
        voltage_reads=f.interval_reads(1, "voltage_min_v", start, []),
        registers=f.registers([]),
        events=f.events([(1, tamper_at, "cover_removed"), (2, tamper_at, "magnetic_tamper")]),
        comm_stats=f.comm_stats([]),
        collectors=f.no_collectors(),
        window_start_utc=start,
        as_of_utc=as_of,
        zone=f.ZONE,
    )


def _verdicts(inputs: DiagnosticInputs) -> dict[tuple[int, str], dict[str, object]]:
    found = detect_exceptions(inputs, params=P)
    verdicts = diagnose(found, meter_facts(inputs, found, params=P))
    return {(r["meter_id"], r["kind"]): r for r in verdicts.iter_rows(named=True)}


def test_a_bypass_in_a_hot_spell_is_a_bypass_and_a_tamper_alone_is_not() -> None:
    # meter 1: bypassed at the tamper, registers 55 % of a use that the heat raised by 60 %
    # (raw after/before 0.88: the fall hides in the heat); meter 2: tamper alone
    rows = [
        (m, d, _use(m, d) * (0.55 if m == 1 and d > TAMPER_DAY else 1.0))
        for m in range(1, METERS + 1)
        for d in DAYS
    ]
    by = _verdicts(_inputs(rows))
    bypass = by[(1, "tamper")]
    assert bypass["cause"] == "bypass_theft"
    facts = json.loads(str(bypass["verdict_evidence"]))["facts"]
    assert 0.5 <= facts["usage_ratio_since_tamper"] <= 0.6
    assert by[(2, "tamper")]["cause"] == "tamper"


def test_days_with_missing_reads_do_not_make_a_tamper_a_bypass() -> None:
    # a tamper alone on day 17; on two of the four days after it the collector was down
    # for most of the day (a third of the reads, a third of the energy summed): on raw sums
    # the use "fell" to 0.67, on complete days it did not change
    late = 17
    rows = [
        (m, d, (15.0 + m) * (0.34 if d in (19, 20) else 1.0))
        for m in range(1, METERS + 1)
        for d in DAYS
    ]
    reads = [32 if d in (19, 20) and m == 1 else 96 for m in range(1, METERS + 1) for d in DAYS]
    rows = [(m, d, kwh if m == 1 else 15.0 + m) for m, d, kwh in rows]
    at = f.T0 + dt.timedelta(days=late - 1, hours=15)
    inputs = dataclasses.replace(_inputs(rows, reads), events=f.events([(1, at, "cover_removed")]))
    by = _verdicts(inputs)
    assert by[(1, "tamper")]["cause"] == "tamper"
    facts = json.loads(str(by[(1, "tamper")]["verdict_evidence"]))["facts"]
    assert facts["usage_ratio_since_tamper"] > 0.9


def test_a_tamper_on_a_meter_whose_use_stepped_down_is_the_bypass() -> None:
    # the tamper event came a day after the step (the jumper went in first): the consumption
    # drop's evidence names the bypass on the tamper exception too
    rows = [
        (m, d, _use(m, d) * (0.3 if m == 1 and d >= TAMPER_DAY - 1 else 1.0))
        for m in range(1, METERS + 1)
        for d in DAYS
    ]
    by = _verdicts(_inputs(rows))
    assert by[(1, "consumption_drop")]["cause"] == "bypass_theft"
    assert by[(1, "tamper")]["cause"] == "bypass_theft"
    assert by[(1, "tamper")]["rule_id"] in {"tamper.drop", "tamper.bypass"}
    assert (2, "consumption_drop") not in by


def test_the_tamper_rules_in_order() -> None:
    def rule(**facts: object) -> str:
        found, _ = evaluate(ExceptionKind.TAMPER, facts)
        return f"{found.rule_id}:{found.cause.value}"

    # a drop with no baseline before the tamper (it came on the window's first day)
    assert rule(drop_ratio=0.4, usage_ratio_since_tamper=None) == "tamper.drop:bypass_theft"
    assert rule(usage_ratio_since_tamper=0.5) == "tamper.bypass:bypass_theft"
    assert rule(drop_ratio=None, usage_ratio_since_tamper=0.95) == "tamper.events_only:tamper"


def test_a_bypass_on_a_meter_that_loses_reads_is_still_a_bypass() -> None:
    # after the tamper the meter's collector drops 40 % of its reads every day: the days
    # count scaled to full days (60 of 96 reads: the energy of the reads that arrived)
    rows, reads = [], []
    for m in range(1, METERS + 1):
        for d in DAYS:
            lossy = m == 1 and d > TAMPER_DAY
            share = 0.4 if m == 1 and d > TAMPER_DAY else 1.0
            rows.append((m, d, (15.0 + m) * share * (0.6 if lossy else 1.0)))
            reads.append(58 if lossy else 96)
    by = _verdicts(_inputs(rows, reads))
    assert by[(1, "tamper")]["cause"] == "bypass_theft"
    facts = json.loads(str(by[(1, "tamper")]["verdict_evidence"]))["facts"]
    assert 0.35 <= facts["usage_ratio_since_tamper"] <= 0.45
