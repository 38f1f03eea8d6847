"""Limit rules: spikes against the meter's own history, reverse energy, voltage limits.

Pure module: standard library and polars only.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from meterops.vee.rules import rule

__all__ = [
    "HighVoltageParams",
    "LowVoltageParams",
    "ReverseEnergyParams",
    "SpikeParams",
    "VoltageLimitParams",
    "check_reverse_energy",
    "check_spike",
    "check_voltage_high",
    "check_voltage_low",
]


@dataclass(frozen=True, slots=True)
class SpikeParams:
    """Parameters of ``limits.spike``.

    Attributes:
        factor: How many times the mean of the series' other actual values a spike exceeds.
        min_value: Values at or below this are never spikes. [kWh]
    """

    factor: float = 8.0
    min_value: float = 1.0


@rule(flag="SPIKE", rule_id="limits.spike", version=1, params=SpikeParams)
def check_spike(*, factor: float, min_value: float) -> pl.Expr:
    """An actual value above ``factor`` x the mean of the series' other actual values.

    The reference is the meter's own history: every other actual value of the same series in
    the frame (the run's days and the history days loaded before them). Written without a
    division: ``value x (n - 1) > factor x (sum - value)``.

    Args:
        factor: Multiple of the mean of the other values.
        min_value: Floor below which nothing is a spike. [kWh]

    Examples:
        >>> frame = pl.DataFrame({"actual": [True, True, True, True],
        ...     "value": [0.5, 0.4, 9.0, 0.6], "series_sum": [10.5] * 4,
        ...     "series_count": [4] * 4})
        >>> frame.select(check_spike(factor=8.0, min_value=1.0)).to_series().to_list()
        [False, False, True, False]
    """
    value, total, count = pl.col("value"), pl.col("series_sum"), pl.col("series_count")
    return (
        pl.col("actual")
        & (count > 1)
        & (value > min_value)
        & (value * (count - 1).cast(pl.Float64) > factor * (total - value))
    )


@dataclass(frozen=True, slots=True)
class ReverseEnergyParams:
    """Parameters of ``limits.reverse_energy``.

    Attributes:
        tolerance: Magnitude below which a value counts as zero. [kWh]
    """

    tolerance: float = 0.0


@rule(
    flag="REVERSE_ENERGY",
    rule_id="limits.reverse_energy",
    version=1,
    params=ReverseEnergyParams,
)
def check_reverse_energy(*, tolerance: float) -> pl.Expr:
    """Negative energy on a one-direction channel, or received energy on a one-way meter.

    A net channel may go negative; a received channel may carry energy only when the meter is
    bidirectional (net metering).

    Args:
        tolerance: Magnitude below which a value counts as zero. [kWh]

    Examples:
        >>> frame = pl.DataFrame({"actual": [True, True, True, True],
        ...     "value": [-0.2, 0.3, 0.3, -0.2],
        ...     "flow": ["delivered", "received", "received", "net"],
        ...     "bidirectional": [False, False, True, False]})
        >>> frame.select(check_reverse_energy(tolerance=0.0)).to_series().to_list()
        [True, True, False, False]
    """
    value, flow = pl.col("value"), pl.col("flow")
    negative = (value < -tolerance) & (flow != "net")
    one_way_export = (flow == "received") & (value > tolerance) & ~pl.col("bidirectional")
    return pl.col("actual") & (negative | one_way_export)


@dataclass(frozen=True, slots=True)
class VoltageLimitParams:
    """Parameters of ``limits.voltage_high`` and ``limits.voltage_low``.

    Attributes:
        limit_fraction: Limit as a fraction of the nominal service voltage (ANSI C84.1 range
            B: 1.058 high, 0.917 low).
    """

    limit_fraction: float


@dataclass(frozen=True, slots=True)
class HighVoltageParams(VoltageLimitParams):
    """Parameters of ``limits.voltage_high`` (default ANSI C84.1 range B upper limit)."""

    limit_fraction: float = 1.058


@dataclass(frozen=True, slots=True)
class LowVoltageParams(VoltageLimitParams):
    """Parameters of ``limits.voltage_low`` (default ANSI C84.1 range B lower limit)."""

    limit_fraction: float = 0.917


@rule(flag="HIGH_VOLTAGE", rule_id="limits.voltage_high", version=1, params=HighVoltageParams)
def check_voltage_high(*, limit_fraction: float) -> pl.Expr:
    """Voltage above ``limit_fraction`` x the nominal service voltage.

    Args:
        limit_fraction: Upper limit as a fraction of ``nominal_voltage_v``.

    Examples:
        >>> frame = pl.DataFrame({"actual": [True, True], "value": [250.0, 256.0],
        ...     "nominal_voltage_v": [240.0, 240.0]})
        >>> frame.select(check_voltage_high(limit_fraction=1.058)).to_series().to_list()
        [False, True]
    """
    return pl.col("actual") & (pl.col("value") > pl.col("nominal_voltage_v") * limit_fraction)


@rule(flag="LOW_VOLTAGE", rule_id="limits.voltage_low", version=1, params=LowVoltageParams)
def check_voltage_low(*, limit_fraction: float) -> pl.Expr:
    """Voltage below ``limit_fraction`` x the nominal service voltage, outside outages.

    Args:
        limit_fraction: Lower limit as a fraction of ``nominal_voltage_v``.

    Examples:
        >>> frame = pl.DataFrame({"actual": [True, True, True], "value": [230.0, 200.0, 0.0],
        ...     "nominal_voltage_v": [240.0] * 3, "outage": [False, False, True]})
        >>> frame.select(check_voltage_low(limit_fraction=0.917)).to_series().to_list()
        [False, True, False]
    """
    low = pl.col("value") < pl.col("nominal_voltage_v") * limit_fraction
    return pl.col("actual") & ~pl.col("outage") & low
