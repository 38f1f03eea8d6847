"""Frame contracts of diagnostics: the meter context it reads and the exceptions it emits.

The service builds :data:`METER_CONTEXT` from the fleet and account model; the detectors take
it with the stored reads, events and comm stats (``reads.schema`` contracts) and return
:data:`EXCEPTIONS` rows.

Pure module: standard library, polars and ``meterops.kit``/``reads.schema`` only.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from meterops.kit.frames import ColumnSpec, FrameContract
from meterops.reads.schema import UTC_DATETIME

__all__ = ["DAILY_USAGE", "EXCEPTIONS", "METER_CONTEXT"]

_C = ColumnSpec

METER_CONTEXT: Final = FrameContract(
    "meter_context",
    (
        _C("meter_id", pl.Int64(), "meterops meter id."),
        _C("serial_number", pl.String(), "Meter serial number."),
        _C("vendor", pl.String(), "Manufacturer."),
        _C("model", pl.String(), "Model."),
        _C("firmware_revision", pl.String(), "Firmware revision.", nullable=True),
        _C("program_code", pl.String(), "Meter program code.", nullable=True),
        _C("ct_ratio", pl.Float64(), "CT ratio the back office records (1 if none)."),
        _C("transformer_rated", pl.Boolean(), "The service point is CT-rated."),
        _C("bidirectional", pl.Boolean(), "The meter measures both directions."),
        _C("register_digits", pl.Int32(), "Dial digits (rollover at 10^digits)."),
        _C("service_point_number", pl.String(), "Where it is installed.", nullable=True),
        _C("transformer_code", pl.String(), "Distribution transformer.", nullable=True),
        _C("feeder_code", pl.String(), "Feeder.", nullable=True),
        _C("account_active", pl.Boolean(), "An account is open at the service point."),
        _C("net_metering", pl.Boolean(), "The open account is net-metered."),
        _C("rate_code", pl.String(), "Rate of the open account.", nullable=True),
        _C("install_year", pl.Int32(), "Year of the current installation.", nullable=True),
        _C(
            "account_closed_on",
            pl.Date(),
            "The last move-out date at the service point (on or before the day), whether or "
            "not an account opened since.",
            nullable=True,
        ),
        _C("latitude", pl.Float64(), "Premise latitude. [deg]", nullable=True),
        _C("longitude", pl.Float64(), "Premise longitude. [deg]", nullable=True),
        _C(
            "account_opened_on",
            pl.Date(),
            "Move-in date of the open account.",
            nullable=True,
        ),
    ),
)
"""One row per installed meter: what the back office knows about it."""

DAILY_USAGE: Final = FrameContract(
    "daily_usage",
    (
        _C("meter_id", pl.Int64(), "meterops meter id."),
        _C("day", pl.Date(), "Local calendar day of the utility."),
        _C("kwh_delivered", pl.Float64(), "Energy delivered, outage intervals left out. [kWh]"),
        _C("kwh_received", pl.Float64(), "Energy received (export). [kWh]"),
        _C("reads_received", pl.Int32(), "kWh-delivered intervals received."),
        _C("outage_intervals", pl.Int32(), "Intervals flagged POWER_OUTAGE."),
        _C("suspect_intervals", pl.Int32(), "Intervals with a VEE rule or SOURCE_SUSPECT flag."),
    ),
)
"""Per meter and local day: energy and read counts (from the current interval reads)."""

EXCEPTIONS: Final = FrameContract(
    "exceptions",
    (
        _C("meter_id", pl.Int64(), "meterops meter id."),
        _C("kind", pl.String(), "diagnostics.kinds.ExceptionKind value."),
        _C("first_seen_utc", UTC_DATETIME, "When the condition started (first evidence). [UTC]"),
        _C("last_seen_utc", UTC_DATETIME, "Latest evidence of the condition. [UTC]"),
        _C("evidence", pl.String(), "JSON object of the facts that raised it."),
    ),
)
"""What detectors return: one row per meter and kind that is in exception."""

del _C
