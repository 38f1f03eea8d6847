"""Builders of small hand-made frames for the detector and rule tests."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import polars as pl

from meterops.diagnostics.frames import DAILY_USAGE, METER_CONTEXT
from meterops.nomenclature import EVENT_BY_NAME
from meterops.reads.schema import COMM_STATS, EVENTS, INTERVAL_READS, REGISTER_READS

ZONE = "America/Chicago"
T0 = dt.datetime(2026, 7, 1, 5, tzinfo=dt.UTC)
"""Local midnight of 2026-07-01 in Chicago."""


def meters(count: int = 3, **overrides: Sequence[Any]) -> pl.DataFrame:
    """``METER_CONTEXT`` rows for meters 1..count; columns overridable as lists."""
    base: dict[str, Any] = {
        "meter_id": list(range(1, count + 1)),
        "serial_number": [f"M{i}" for i in range(1, count + 1)],
        "vendor": ["Itron"] * count,
        "model": ["Riva"] * count,
        "firmware_revision": ["1.0"] * count,
        "program_code": ["RES-STD"] * count,
        "ct_ratio": [1.0] * count,
        "transformer_rated": [False] * count,
        "bidirectional": [False] * count,
        "register_digits": [5] * count,
        "service_point_number": [f"SP{i}" for i in range(1, count + 1)],
        "transformer_code": ["TX1"] * count,
        "feeder_code": ["F1"] * count,
        "account_active": [True] * count,
        "net_metering": [False] * count,
        "rate_code": ["RS"] * count,
        "install_year": [2020] * count,
        "account_closed_on": [None] * count,
        "latitude": [42.0 + 0.001 * i for i in range(count)],
        "longitude": [-93.0] * count,
        "account_opened_on": [None] * count,
    }
    base.update({k: list(v) for k, v in overrides.items()})
    return pl.DataFrame(base, schema=METER_CONTEXT.schema)


def daily(rows: Sequence[tuple[int, int, float]], **extra: Sequence[Any]) -> pl.DataFrame:
    """``DAILY_USAGE`` from (meter, day of July 2026, kWh) with full reads."""
    n = len(rows)
    data: dict[str, Any] = {
        "meter_id": [r[0] for r in rows],
        "day": [dt.date(2026, 7, r[1]) for r in rows],
        "kwh_delivered": [r[2] for r in rows],
        "kwh_received": [0.0] * n,
        "reads_received": [96] * n,
        "outage_intervals": [0] * n,
        "suspect_intervals": [0] * n,
    }
    data.update({k: list(v) for k, v in extra.items()})
    return pl.DataFrame(data, schema=DAILY_USAGE.schema)


def events(
    rows: Sequence[tuple[int, dt.datetime, str] | tuple[int, dt.datetime, str, dict[str, Any]]],
) -> pl.DataFrame:
    """``EVENTS`` from (meter, time, event name[, details])."""
    return pl.DataFrame(
        {
            "meter_id": [r[0] for r in rows],
            "event_time_utc": [r[1] for r in rows],
            "cim_event_type": [EVENT_BY_NAME[r[2]].code for r in rows],
            "vendor_code": [r[2] for r in rows],
            "severity": ["warning"] * len(rows),
            "details": [json.dumps(r[3]) if len(r) > 3 else None for r in rows],  # type: ignore[misc]
            "source_file_id": [1] * len(rows),
            "received_at_utc": [T0] * len(rows),
        },
        schema=EVENTS.schema,
    )


def comm_stats(rows: Sequence[tuple[int, int, int, float | None, str | None]]) -> pl.DataFrame:
    """``COMM_STATS`` from (meter, day of July, reads received, RSSI, collector)."""
    return pl.DataFrame(
        {
            "meter_id": [r[0] for r in rows],
            "period_start_utc": [T0 + dt.timedelta(days=r[1] - 1) for r in rows],
            "period_s": [86400] * len(rows),
            "reads_expected": [96] * len(rows),
            "reads_received": [r[2] for r in rows],
            "rssi_dbm": [r[3] for r in rows],
            "hop_count": [2] * len(rows),
            "parent_node": [f"P-{r[4]}" if r[4] else None for r in rows],
            "collector_code": [r[4] for r in rows],
            "source_file_id": [1] * len(rows),
            "received_at_utc": [T0] * len(rows),
        },
        schema=COMM_STATS.schema,
    )


def no_collectors() -> pl.DataFrame:
    """An empty collector-status frame (``node_id``, ``observed_at_utc``, ``status``)."""
    return pl.DataFrame(
        schema={
            "node_id": pl.String,
            "observed_at_utc": pl.Datetime("us", "UTC"),
            "status": pl.String,
        }
    )


def registers(rows: Sequence[tuple[int, int, float, str | None]]) -> pl.DataFrame:
    """``REGISTER_READS`` from (meter, day of July read at local midnight, kWh, TOU period)."""
    return pl.DataFrame(
        {
            "meter_id": [r[0] for r in rows],
            "channel": ["kwh_delivered"] * len(rows),
            "read_time_utc": [T0 + dt.timedelta(days=r[1] - 1) for r in rows],
            "value": [r[2] for r in rows],
            "tou_period": [r[3] for r in rows],
            "quality_flags": [0] * len(rows),
            "source_quality": [None] * len(rows),
            "source_file_id": [1] * len(rows),
            "received_at_utc": [T0] * len(rows),
        },
        schema=REGISTER_READS.schema,
    )


def interval_reads(
    meter_id: int,
    channel: str,
    start: dt.datetime,
    values: Sequence[float],
    *,
    step_s: int = 900,
    flags: Sequence[int] | None = None,
) -> pl.DataFrame:
    """``INTERVAL_READS`` of one meter and channel from ``start`` every ``step_s``."""
    n = len(values)
    return pl.DataFrame(
        {
            "meter_id": [meter_id] * n,
            "channel": [channel] * n,
            "interval_start_utc": [start + dt.timedelta(seconds=step_s * k) for k in range(n)],
            "interval_s": [step_s] * n,
            "value": list(values),
            "quality_flags": list(flags) if flags is not None else [0] * n,
            "version": [0] * n,
            "version_kind": ["raw"] * n,
            "method": [None] * n,
            "reason_code": [None] * n,
            "actor": [None] * n,
            "parent_version": [None] * n,
            "source_quality": [None] * n,
            "source_version": [None] * n,
            "source_file_id": [1] * n,
            "received_at_utc": [T0] * n,
        },
        schema=INTERVAL_READS.schema,
    )
