"""Frame contracts of the billing determinants: inputs, determinants, register comparison.

One declaration per frame (name, dtype, meaning with the unit in brackets), checked at the
capability's public entry points with :func:`meterops.kit.frames.check_frame`. Energies and
demands in the determinant frames are **billed** values (the meter's secondary-side values
times ``multiplier = ct_ratio × pt_ratio``); the register comparison works on the meter's own
(secondary) values, as its dials do.

Pure module: standard library, polars and pure meterops modules; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from meterops.kit.frames import ColumnSpec, FrameContract
from meterops.reads.schema import UTC_DATETIME

__all__ = [
    "BILLING_PERIODS",
    "BY_PERIOD",
    "BY_TOU",
    "DETERMINANT_READS",
    "METER_REGISTER_SUMMARY",
    "REGISTER_ADVANCES",
    "REGISTER_COMPARISON",
    "REGISTER_SPECS",
    "render_markdown",
]

_C = ColumnSpec
_METER = _C("meter_id", pl.Int64(), "meterops meter id.")
_ACCOUNT = _C("account_id", pl.Int64(), "Account billed for the period; null when vacant.", True)
_START = _C("period_start_utc", UTC_DATETIME, "Billing period start (inclusive). [UTC]")
_END = _C("period_end_utc", UTC_DATETIME, "Billing period end (exclusive). [UTC]")
_SCHEDULE = _C(
    "schedule_key",
    pl.String(),
    "Key of the TOU schedule applied (tariff or program code); null: no TOU, one period 'total'.",
    True,
)
_MULTIPLIER = _C("multiplier", pl.Float64(), "ct_ratio × pt_ratio applied to the reads. [-]")
_NEM = _C("net_metering", pl.Boolean(), "Whether the account is net-metered.")
_TOU = _C("tou_period", pl.String(), "TOU period name.")


def _energy(kind: str, nullable: bool = False) -> tuple[ColumnSpec, ...]:
    return (
        _C("delivered_kwh", pl.Float64(), f"Energy delivered to the customer{kind}. [kWh]"),
        _C("received_kwh", pl.Float64(), f"Energy received from the customer{kind}. [kWh]"),
        _C("net_kwh", pl.Float64(), f"delivered_kwh − received_kwh{kind}. [kWh]"),
        _C(
            "billed_import_kwh",
            pl.Float64(),
            "Net import at the tariff's netting granularity (delivered for non-NEM accounts); "
            "null per TOU period when netting is per billing period. [kWh]",
            nullable,
        ),
        _C(
            "billed_export_kwh",
            pl.Float64(),
            "Net export credited at the netting granularity (0 for non-NEM accounts). [kWh]",
            nullable,
        ),
    )


def _counts() -> tuple[ColumnSpec, ...]:
    return (
        _C("intervals", pl.Int64(), "Delivered-energy intervals used."),
        _C("estimated_intervals", pl.Int64(), "Intervals used that are estimated."),
        _C("excluded_intervals", pl.Int64(), "Intervals flagged EXCLUDE_FROM_BILLING."),
    )


_DEMAND = (
    _C("block_demand_kw", pl.Float64(), "Maximum block demand. [kW]", True),
    _C("block_demand_start_utc", UTC_DATETIME, "Start of that block window. [UTC]", True),
    _C("rolling_demand_kw", pl.Float64(), "Maximum rolling demand. [kW]", True),
    _C("rolling_demand_start_utc", UTC_DATETIME, "Start of that rolling window. [UTC]", True),
)

DETERMINANT_READS: Final = FrameContract(
    "determinant_reads",
    (
        _METER,
        _C("channel", pl.String(), "kwh_delivered or kwh_received (other channels ignored)."),
        _C("interval_start_utc", UTC_DATETIME, "Beginning of the interval. [UTC]"),
        _C("interval_s", pl.Int32(), "Interval length. [s]"),
        _C("value", pl.Float64(), "Energy in the interval, secondary side. [kWh]"),
        _C("quality_flags", pl.UInt32(), "Bits from vee.flags.FLAGS."),
    ),
)
"""The columns of ``INTERVAL_READS`` that determinants read."""

BILLING_PERIODS: Final = FrameContract(
    "billing_periods", (_METER, _ACCOUNT, _START, _END, _SCHEDULE, _MULTIPLIER, _NEM)
)
"""What to compute: one row per meter and billing period (a meter may have several)."""

BY_PERIOD: Final = FrameContract(
    "determinants_by_period",
    (
        _METER,
        _ACCOUNT,
        _START,
        _END,
        _SCHEDULE,
        _MULTIPLIER,
        _NEM,
        _C("interval_s", pl.Int32(), "Interval length of the meter's data. [s]"),
        _C("expected_intervals", pl.Int64(), "Intervals the period holds at that length."),
        *_counts(),
        _C("missing_intervals", pl.Int64(), "expected − intervals − excluded."),
        _C("irregular_intervals", pl.Int64(), "Reads off the interval grid (energy only)."),
        _C("estimated_share", pl.Float64(), "estimated_intervals / expected_intervals. [-]"),
        _C("excluded_share", pl.Float64(), "excluded_intervals / expected_intervals. [-]"),
        *_energy(" in the period"),
        *_DEMAND,
        _C("demand_note", pl.String(), "Why a demand figure is null.", True),
    ),
)
"""Determinants per meter and billing period (billed values)."""

BY_TOU: Final = FrameContract(
    "determinants_by_tou",
    (
        _METER,
        _START,
        _SCHEDULE,
        _TOU,
        *_counts(),
        *_energy(" in the TOU period", nullable=True),
        *_DEMAND,
    ),
)
"""Determinants per meter, billing period and TOU period (billed values)."""

REGISTER_SPECS: Final = FrameContract(
    "register_specs",
    (
        _METER,
        _C(
            "tariff_schedule_key",
            pl.String(),
            "Schedule the customer is billed on (the tariff's TOU definition).",
        ),
        _C(
            "program_schedule_key",
            pl.String(),
            "Program the back office says the meter carries.",
            True,
        ),
        _C("register_digits", pl.Int32(), "Integer digits of the dial (rollover at 10^digits)."),
        _C("register_decimals", pl.Int32(), "Decimal digits of the dial (resolution)."),
    ),
)
"""What the register comparison needs to know about each meter."""

REGISTER_ADVANCES: Final = FrameContract(
    "register_advances",
    (
        _METER,
        _TOU,
        _C("start_read_utc", UTC_DATETIME, "Register read used at the start. [UTC]"),
        _C("end_read_utc", UTC_DATETIME, "Register read used at the end. [UTC]"),
        _C(
            "register_kwh",
            pl.Float64(),
            "Advance of the TOU register, rollover undone. [kWh]",
            True,
        ),
        _C("message", pl.String(), "Why the advance is unusable.", True),
    ),
)
"""Advance of each meter's TOU registers between two common register reads."""

REGISTER_COMPARISON: Final = FrameContract(
    "register_comparison",
    (
        _METER,
        _START,
        _END,
        _TOU,
        _C("computed_kwh", pl.Float64(), "Bucket computed from intervals (tariff). [kWh]", True),
        _C("register_kwh", pl.Float64(), "Advance of the meter's TOU register. [kWh]", True),
        _C("difference_kwh", pl.Float64(), "register − computed. [kWh]", True),
        _C("difference_pct", pl.Float64(), "difference / computed × 100. [%]", True),
        _C("start_read_utc", UTC_DATETIME, "Register read used at the start. [UTC]", True),
        _C("end_read_utc", UTC_DATETIME, "Register read used at the end. [UTC]", True),
        _C("completeness", pl.Float64(), "Interval completeness of the period. [-]", True),
        _C(
            "status",
            pl.String(),
            "match | over_registered | under_registered | incomplete_intervals | "
            "no_register | no_computed | register_error",
        ),
        _C("message", pl.String(), "Register error text.", True),
    ),
)
"""Computed TOU buckets against register advances, per meter, billing period and period."""

METER_REGISTER_SUMMARY: Final = FrameContract(
    "meter_register_summary",
    (
        _METER,
        _C("periods_compared", pl.Int64(), "Billing periods with a usable comparison."),
        _C("computed_kwh", pl.Float64(), "Σ computed buckets. [kWh]", True),
        _C("register_kwh", pl.Float64(), "Σ register advances. [kWh]", True),
        _C("total_difference_pct", pl.Float64(), "Σ difference / Σ computed × 100. [%]", True),
        _C("worst_tou_period", pl.String(), "Period with the largest |difference_pct|.", True),
        _C("worst_difference_pct", pl.Float64(), "Its difference. [%]", True),
        _C("worst_difference_kwh", pl.Float64(), "Its difference. [kWh]", True),
        _C(
            "status",
            pl.String(),
            "match | allocation_shift | total_mismatch | incomplete | no_registers",
        ),
        _C("tariff_schedule_key", pl.String(), "Schedule the computed buckets follow."),
        _C("program_schedule_key", pl.String(), "Program on record for the meter.", True),
        _C(
            "best_schedule_key", pl.String(), "Schedule whose buckets fit the registers best.", True
        ),
        _C(
            "best_schedule_residual_pct",
            pl.Float64(),
            "Its largest |register − computed| over the periods, as a share of Σ computed. [%]",
            True,
        ),
        _C("summary", pl.String(), "One verdict-ready sentence."),
    ),
)
"""One row per meter: is the meter's TOU registration consistent with the tariff?"""


def render_markdown() -> str:
    """Markdown tables of the output frames (the block in ``docs/determinants.md``).

    Examples:
        >>> render_markdown().splitlines()[0]
        '### `determinants_by_period`'
    """
    parts: list[str] = []
    for contract in (BY_PERIOD, BY_TOU, REGISTER_COMPARISON, METER_REGISTER_SUMMARY):
        parts += [f"### `{contract.name}`", "", "| column | type | meaning |", "|---|---|---|"]
        for column in contract:
            meaning = column.description.replace("|", "\\|")
            nullable = " (nullable)" if column.nullable else ""
            dtype = "Datetime (µs, UTC)" if column.dtype == UTC_DATETIME else str(column.dtype)
            parts.append(f"| `{column.name}` | {dtype}{nullable} | {meaning} |")
        parts.append("")
    return "\n".join(parts)
