"""The VEE context: what the pure engine needs to know about meters besides their reads.

The adapter (:mod:`meterops.vee.service`) gathers it from the fleet database and the read
store; the engine reads nothing else. Three frames:

* ``days`` (:data:`VEE_CONTEXT_DAYS`): one row per meter and local day — open account,
  bidirectional, multiplier, register digits and decimals, nominal service voltage.
* ``windows`` (:data:`VEE_CONTEXT_WINDOWS`): disconnections, outages and clock events as
  UTC intervals (a clock event is an instant: start = end).
* ``registers`` (:data:`VEE_CONTEXT_REGISTERS`): the register (dial) reads at the start and
  end of each local day, per meter and channel.

A meter-day without a ``days`` row gets :data:`DEFAULTS` (an active, one-way, self-contained
meter with a 5-digit register and no voltage limits).

Pure module: standard library, polars and pure meterops modules only; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

import polars as pl

from meterops.kit.frames import ColumnSpec, FrameContract, check_frame
from meterops.reads.schema import UTC_DATETIME
from meterops.timeutil import local_day_bounds_utc

__all__ = [
    "DEFAULTS",
    "VEE_CONTEXT_DAYS",
    "VEE_CONTEXT_REGISTERS",
    "VEE_CONTEXT_WINDOWS",
    "VEE_INPUT",
    "RunWindow",
    "VeeContext",
    "WindowKind",
]

_C = ColumnSpec

VEE_INPUT: Final = FrameContract(
    "vee_input",
    (
        _C("meter_id", pl.Int64(), "meterops meter id."),
        _C("channel", pl.String(), "Canonical channel name."),
        _C("interval_start_utc", UTC_DATETIME, "Beginning of the interval. [UTC]"),
        _C("interval_s", pl.Int32(), "Interval length. [s]"),
        _C("value", pl.Float64(), "Current value (null: none).", nullable=True),
        _C("quality_flags", pl.UInt32(), "Bits from vee.flags.FLAGS."),
        _C("version", pl.Int32(), "Version of the current row (0 = raw)."),
    ),
)
"""The columns of ``INTERVAL_READS`` that VEE reads (current rows, one per key)."""

VEE_CONTEXT_DAYS: Final = FrameContract(
    "vee_context_days",
    (
        _C("meter_id", pl.Int64(), "meterops meter id."),
        _C("local_date", pl.Date(), "Local calendar day in the utility's zone."),
        _C("active_account", pl.Boolean(), "An open account is served by the meter that day."),
        _C("bidirectional", pl.Boolean(), "The meter measures delivered and received energy."),
        _C("multiplier", pl.Float64(), "CT ratio x PT ratio."),
        _C("register_digits", pl.Int32(), "Integer digits of the register dial."),
        _C("register_decimals", pl.Int32(), "Decimals of the register dial."),
        _C(
            "nominal_voltage_v",
            pl.Float64(),
            "Nominal voltage the voltage channels measure. [V]",
            nullable=True,
        ),
    ),
)
"""Per meter and local day: account and meter facts."""


class WindowKind(StrEnum):
    """Kinds of context windows."""

    DISCONNECTED = "disconnected"
    """Service switch open (from ``switch_disconnected`` to ``switch_connected``)."""
    OUTAGE = "outage"
    """No power (``power_loss``/``last_gasp`` to ``power_restored``)."""
    CLOCK_ERROR = "clock_error"
    """A ``clock_error`` or ``time_changed`` event (an instant)."""


VEE_CONTEXT_WINDOWS: Final = FrameContract(
    "vee_context_windows",
    (
        _C("meter_id", pl.Int64(), "meterops meter id."),
        _C("kind", pl.String(), "disconnected | outage | clock_error"),
        _C("start_utc", UTC_DATETIME, "Start of the window. [UTC]"),
        _C("end_utc", UTC_DATETIME, "End of the window (= start for an instant). [UTC]"),
    ),
)
"""Disconnections, outages and clock events of meters."""

VEE_CONTEXT_REGISTERS: Final = FrameContract(
    "vee_context_registers",
    (
        _C("meter_id", pl.Int64(), "meterops meter id."),
        _C("channel", pl.String(), "Interval channel the register accumulates."),
        _C("local_date", pl.Date(), "Local calendar day."),
        _C("register_start", pl.Float64(), "Dial reading at the day's start.", nullable=True),
        _C("register_end", pl.Float64(), "Dial reading at the day's end.", nullable=True),
    ),
)
"""Register reads bracketing each local day (before the multiplier)."""
del _C


@dataclass(frozen=True, slots=True)
class _Defaults:
    active_account: bool = True
    bidirectional: bool = False
    multiplier: float = 1.0
    register_digits: int = 5
    register_decimals: int = 0


DEFAULTS: Final = _Defaults()
"""Facts assumed for a meter-day without a ``days`` row (``nominal_voltage_v`` null)."""


def _empty(contract: FrameContract) -> pl.DataFrame:
    return contract.empty()


@dataclass(frozen=True, slots=True)
class VeeContext:
    """Everything besides the reads that the engine needs.

    Attributes:
        days: :data:`VEE_CONTEXT_DAYS` rows.
        windows: :data:`VEE_CONTEXT_WINDOWS` rows.
        registers: :data:`VEE_CONTEXT_REGISTERS` rows.
    """

    days: pl.DataFrame = field(default_factory=lambda: _empty(VEE_CONTEXT_DAYS))
    windows: pl.DataFrame = field(default_factory=lambda: _empty(VEE_CONTEXT_WINDOWS))
    registers: pl.DataFrame = field(default_factory=lambda: _empty(VEE_CONTEXT_REGISTERS))

    def checked(self) -> VeeContext:
        """The context with every frame checked against its contract.

        Raises:
            MissingColumnsError: A frame lacks columns.
            DataContractError: A column has the wrong dtype.
        """
        check_frame(self.days, VEE_CONTEXT_DAYS)
        check_frame(self.windows, VEE_CONTEXT_WINDOWS)
        check_frame(self.registers, VEE_CONTEXT_REGISTERS)
        return self

    def for_meters(self, first_meter_id: int, last_meter_id: int) -> VeeContext:
        """The rows of meters ``first_meter_id`` … ``last_meter_id`` (inclusive)."""
        keep = pl.col("meter_id").is_between(first_meter_id, last_meter_id)
        return VeeContext(
            self.days.filter(keep), self.windows.filter(keep), self.registers.filter(keep)
        )


@dataclass(frozen=True, slots=True)
class RunWindow:
    """The local days a VEE run validates and estimates, in the utility's zone.

    Attributes:
        first_day: First local day.
        last_day: Last local day (included).
        zone: IANA zone of the utility.
    """

    first_day: dt.date
    last_day: dt.date
    zone: str

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            msg = f"last_day {self.last_day} is before first_day {self.first_day}"
            raise ValueError(msg)

    @property
    def bounds_utc(self) -> tuple[dt.datetime, dt.datetime]:
        """``[start, end)`` of the window in UTC.

        Examples:
            >>> w = RunWindow(dt.date(2024, 3, 10), dt.date(2024, 3, 10), "America/Chicago")
            >>> [t.isoformat() for t in w.bounds_utc]
            ['2024-03-10T06:00:00+00:00', '2024-03-11T05:00:00+00:00']
        """
        zone = ZoneInfo(self.zone)
        start, _ = local_day_bounds_utc(self.first_day, zone)
        _, end = local_day_bounds_utc(self.last_day, zone)
        return start, end

    def days(self) -> list[dt.date]:
        """The local days of the window."""
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + dt.timedelta(days=i) for i in range(count)]
