"""Voltage out of range: hourly min/max outside the service's band, or voltage events.

The nominal voltage of a meter is the mean of its own hourly readings, snapped to the
nearest standard service voltage (120, 208, 240, 277, 480 V; a few hours of deep dips barely
move a mean over weeks of readings): the back office's service
voltage is often the line-to-line figure of a service the meter sees line to neutral, and
snapping keeps a persistently wrong level visible (a 240 V service reading 212 V snaps to
208 V only if it is closer to it). Zero readings (an outage) are left out.

Pure module: polars and pure meterops modules only.
"""

from __future__ import annotations

from itertools import pairwise

import polars as pl

from meterops.diagnostics.detect._common import as_exceptions, event_name_expr
from meterops.diagnostics.kinds import ExceptionKind
from meterops.diagnostics.params import DetectParams

__all__ = ["STANDARD_VOLTAGES_V", "detect_voltage_out_of_range"]

STANDARD_VOLTAGES_V = (120.0, 208.0, 240.0, 277.0, 480.0)
"""Service voltages a nominal snaps to. [V]"""


def detect_voltage_out_of_range(
    *, voltage_reads: pl.DataFrame, events: pl.DataFrame, params: DetectParams
) -> pl.DataFrame:
    """Meters with at least ``voltage_min_hours`` hours (or events) outside nominal ± band.

    Args:
        voltage_reads: Current interval reads of ``voltage_min_v`` and ``voltage_max_v``.
        events: Stored events (``under_voltage``, ``over_voltage`` count as an hour each).
        params: Thresholds (``voltage_band``, ``voltage_min_hours``).

    Returns:
        ``EXCEPTIONS`` rows; evidence: ``nominal_v``, ``lowest_v``, ``highest_v``,
        ``hours_low``, ``hours_high``, ``voltage_events``.
    """
    reads = voltage_reads.lazy().filter(
        pl.col("channel").is_in(["voltage_min_v", "voltage_max_v"]) & (pl.col("value") > 0)
    )
    nominal = reads.group_by("meter_id").agg(pl.col("value").mean().alias("mean_v"))
    snapped = pl.lit(STANDARD_VOLTAGES_V[-1])
    for lower, upper in reversed(list(pairwise(STANDARD_VOLTAGES_V))):
        snapped = (
            pl.when(pl.col("mean_v") < (lower + upper) / 2).then(pl.lit(lower)).otherwise(snapped)
        )
    nominal = nominal.select("meter_id", snapped.alias("nominal_v"))
    low = pl.col("value") < pl.col("nominal_v") * (1 - params.voltage_band)
    high = pl.col("value") > pl.col("nominal_v") * (1 + params.voltage_band)
    bad_low = (pl.col("channel") == "voltage_min_v") & low
    bad_high = (pl.col("channel") == "voltage_max_v") & high
    hours = (
        reads.join(nominal, on="meter_id")
        .group_by("meter_id")
        .agg(
            pl.col("nominal_v").first(),
            pl.col("value").filter(pl.col("channel") == "voltage_min_v").min().alias("lowest_v"),
            pl.col("value").filter(pl.col("channel") == "voltage_max_v").max().alias("highest_v"),
            bad_low.sum().alias("hours_low"),
            bad_high.sum().alias("hours_high"),
            pl.col("interval_start_utc").filter(bad_low | bad_high).min().alias("first_bad"),
            pl.col("interval_start_utc").filter(bad_low | bad_high).max().alias("last_bad"),
        )
    )
    voltage_events = (
        events.lazy()
        .with_columns(event_name_expr().alias("event_name"))
        .filter(pl.col("event_name").is_in(["under_voltage", "over_voltage"]))
        .group_by("meter_id")
        .agg(
            pl.len().alias("voltage_events"),
            pl.col("event_time_utc").min().alias("first_event"),
            pl.col("event_time_utc").max().alias("last_event"),
        )
    )
    frame = (
        hours.join(voltage_events, on="meter_id", how="full", coalesce=True)
        .with_columns(
            pl.col("hours_low").fill_null(0),
            pl.col("hours_high").fill_null(0),
            pl.col("voltage_events").fill_null(0),
        )
        .filter(
            pl.col("hours_low") + pl.col("hours_high") + pl.col("voltage_events")
            >= params.voltage_min_hours
        )
        .with_columns(
            pl.min_horizontal("first_bad", "first_event").alias("first_seen_utc"),
            pl.max_horizontal("last_bad", "last_event").alias("last_seen_utc"),
        )
        .collect()
    )
    return as_exceptions(
        frame,
        ExceptionKind.VOLTAGE_OUT_OF_RANGE,
        ("nominal_v", "lowest_v", "highest_v", "hours_low", "hours_high", "voltage_events"),
    )
