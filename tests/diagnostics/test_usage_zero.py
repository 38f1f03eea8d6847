"""Zero use on an open account: a stopped register against an empty premise (the customer
left at a meter exchange without a recorded move-out, or moved in only days ago)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from meterops.diagnostics.detect.multiplier import EXCHANGES
from meterops.diagnostics.engine import DiagnosticInputs, detect_exceptions
from meterops.diagnostics.facts import meter_facts
from meterops.diagnostics.params import DetectParams
from meterops.diagnostics.rules import diagnose
from tests.diagnostics import frames as f

P = DetectParams()
DAYS = range(1, 22)
LAST_DAY = dt.date(2026, 7, 21)
AS_OF = f.T0 + dt.timedelta(days=len(DAYS))
EXCHANGE_DAY = 10  # the new meter (3) replaced meter 2 that day; meter 5 replaced meter 4
METERS = 8


def _exchanges() -> pl.DataFrame:
    at = f.T0 + dt.timedelta(days=EXCHANGE_DAY - 1, hours=14)
    return pl.DataFrame(
        {
            "service_point_number": ["SP3", "SP5"],
            "removed_meter_id": [2, 4],
            "removed_serial": ["M2", "M4"],
            "installed_meter_id": [3, 5],
            "installed_serial": ["M3", "M5"],
            "exchanged_at_utc": [at, at],
            "removed_multiplier": [1.0, 1.0],
            "installed_multiplier": [1.0, 1.0],
        },
        schema=EXCHANGES.schema,
    )


def _inputs(rows: list[tuple[int, int, float]], meters: pl.DataFrame) -> DiagnosticInputs:
    # the removed meters read 1 kWh an hour up to the exchange
    removed = [
        f.interval_reads(m, "kwh_delivered", f.T0, [1.0] * (24 * (EXCHANGE_DAY - 1)), step_s=3600)
        for m in (2, 4)
    ]
    return DiagnosticInputs(
        meters=meters,
        daily=f.daily(rows),
        last_reads=pl.DataFrame(
            {"meter_id": list(range(1, METERS + 1)), "last_read_utc": [AS_OF] * METERS},
            schema={"meter_id": pl.Int64, "last_read_utc": pl.Datetime("us", "UTC")},
        ),
        voltage_reads=f.interval_reads(1, "voltage_min_v", f.T0, []),
        registers=f.registers([]),
        events=f.events([]),
        comm_stats=f.comm_stats([]),
        collectors=f.no_collectors(),
        window_start_utc=f.T0,
        as_of_utc=AS_OF,
        zone=f.ZONE,
        exchanges=_exchanges(),
        exchange_reads=pl.concat(removed),
    )


def _causes(inputs: DiagnosticInputs) -> dict[int, str]:
    found = detect_exceptions(inputs, params=P).filter(pl.col("kind") == "zero_consumption")
    verdicts = diagnose(found, meter_facts(inputs, found, params=P))
    return {r["meter_id"]: f"{r['rule_id']}:{r['cause']}" for r in verdicts.iter_rows(named=True)}


def test_the_use_that_stopped_at_an_exchange_is_an_empty_premise_not_a_dead_meter() -> None:
    rows = [(m, d, 20.0 + m) for m in (1, 6, 7, 8) for d in DAYS]
    rows += [(2, d, 24.0) for d in DAYS if d < EXCHANGE_DAY]  # removed: read until then
    rows += [(4, d, 24.0) for d in DAYS if d < EXCHANGE_DAY]
    rows += [(3, d, 0.0) for d in DAYS if d >= EXCHANGE_DAY]  # never registered since
    # look-alike: the new meter registered for six days after the exchange, then stopped
    rows += [(5, d, 22.0 if d < EXCHANGE_DAY + 6 else 0.0) for d in DAYS if d >= EXCHANGE_DAY]
    meters = f.meters(METERS, account_opened_on=[dt.date(2015, 1, 1)] * METERS)
    causes = _causes(_inputs(rows, meters))
    assert causes[3] == "zero_consumption.vacant_since_exchange:vacant_premise"
    assert causes[5] == "zero_consumption.stopped_register:stopped_register"


def test_zero_since_before_a_move_in_days_ago_is_an_empty_premise() -> None:
    rows = [(m, d, 20.0 + m) for m in range(1, METERS + 1) if m not in (6, 7) for d in DAYS]
    rows += [(m, d, 0.0) for m in (6, 7) for d in DAYS]  # nothing all window
    opened = [dt.date(2015, 1, 1)] * METERS
    opened[5] = LAST_DAY - dt.timedelta(days=2)  # meter 6: the customer moved in 2 days ago
    causes = _causes(_inputs(rows, f.meters(METERS, account_opened_on=opened)))
    assert causes[6] == "zero_consumption.vacant_until_move_in:vacant_premise"
    # meter 7: the same zeros on an account open for years: a register stopped before the
    # window (or an empty premise: the technician checks both)
    assert causes[7] == "zero_consumption.stopped_register.standing:stopped_register"
