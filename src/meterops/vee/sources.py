"""Context frames from stored records: event windows and register reads around local days.

:func:`windows_from_events` pairs end-device events into ``VEE_CONTEXT_WINDOWS`` rows
(disconnections, outages, clock events); :func:`registers_from_reads` picks, for each local
day, the register reads nearest to its two midnights (``VEE_CONTEXT_REGISTERS``).

Pure module: polars and pure meterops modules only; must not import ``meterops.db``,
``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from typing import Final
from zoneinfo import ZoneInfo

import polars as pl

from meterops.nomenclature import EVENT_BY_NAME
from meterops.timeutil import local_day_bounds_utc
from meterops.vee.context import VEE_CONTEXT_REGISTERS, VEE_CONTEXT_WINDOWS, WindowKind

__all__ = ["EVENT_ROLES", "registers_from_reads", "windows_from_events"]

EVENT_ROLES: Final = {
    "switch_disconnected": (WindowKind.DISCONNECTED, "start"),
    "switch_connected": (WindowKind.DISCONNECTED, "end"),
    "power_loss": (WindowKind.OUTAGE, "start"),
    "power_failed": (WindowKind.OUTAGE, "start"),
    "power_restored": (WindowKind.OUTAGE, "end"),
    "clock_error": (WindowKind.CLOCK_ERROR, "instant"),
    "time_changed": (WindowKind.CLOCK_ERROR, "instant"),
}
"""Event name → (window kind, role): which events open, close or mark a window."""


def windows_from_events(
    events: pl.DataFrame, *, start_utc: dt.datetime, end_utc: dt.datetime
) -> pl.DataFrame:
    """Windows of disconnection and outage, and clock-event instants, from stored events.

    Per meter and kind, in time order, a start event opens a window and the next end event
    closes it; a window still open at ``end_utc`` ends there, and an end event with no start
    before it (the start fell before the loaded events) opens at ``start_utc``.

    Args:
        events: Rows with ``meter_id``, ``event_time_utc`` and ``cim_event_type``.
        start_utc: Start of the loaded period. [UTC]
        end_utc: End of the loaded period. [UTC]

    Returns:
        ``VEE_CONTEXT_WINDOWS`` rows.

    Examples:
        >>> t = dt.datetime(2024, 7, 1, 12, tzinfo=dt.UTC)
        >>> ev = pl.DataFrame({"meter_id": [1, 1], "event_time_utc": [t, t + dt.timedelta(hours=2)],
        ...     "cim_event_type": ["3.26.0.47", "3.26.0.216"]})
        >>> w = windows_from_events(ev, start_utc=t - dt.timedelta(days=1),
        ...     end_utc=t + dt.timedelta(days=1))
        >>> w.select("kind", "start_utc", "end_utc").rows()[0][0]
        'outage'
    """
    codes = {EVENT_BY_NAME[name].code: role for name, role in EVENT_ROLES.items()}
    kind_of = {code: kind.value for code, (kind, _) in codes.items()}
    role_of = {code: role for code, (_, role) in codes.items()}
    chosen = (
        events.filter(pl.col("cim_event_type").is_in(list(codes)))
        .select(
            "meter_id",
            pl.col("event_time_utc").alias("t"),
            pl.col("cim_event_type").replace_strict(kind_of, return_dtype=pl.String).alias("kind"),
            pl.col("cim_event_type").replace_strict(role_of, return_dtype=pl.String).alias("role"),
        )
        .sort("meter_id", "kind", "t")
    )
    rows: list[dict[str, object]] = []
    for (meter_id, kind), part in chosen.group_by(["meter_id", "kind"], maintain_order=True):
        opened: dt.datetime | None = None
        for t, role in part.select("t", "role").iter_rows():
            if role == "instant":
                rows.append({"meter_id": meter_id, "kind": kind, "start_utc": t, "end_utc": t})
            elif role == "start":
                opened = t if opened is None else opened
            else:
                begin = opened if opened is not None else start_utc
                rows.append({"meter_id": meter_id, "kind": kind, "start_utc": begin, "end_utc": t})
                opened = None
        if opened is not None:
            rows.append(
                {"meter_id": meter_id, "kind": kind, "start_utc": opened, "end_utc": end_utc}
            )
    if not rows:
        return VEE_CONTEXT_WINDOWS.empty()
    return pl.DataFrame(rows).cast(VEE_CONTEXT_WINDOWS.schema).select(VEE_CONTEXT_WINDOWS.names)


def registers_from_reads(
    reads: pl.DataFrame,
    *,
    first_day: dt.date,
    last_day: dt.date,
    zone: ZoneInfo,
    tolerance_s: int = 3600,
) -> pl.DataFrame:
    """The register reads bracketing each local day, per meter and channel.

    For each local day, ``register_start`` is the total-register read (``tou_period`` null)
    nearest to the day's first midnight and ``register_end`` the one nearest to its last, each
    within ``tolerance_s``; a day needs both to get a row.

    Args:
        reads: Rows with ``meter_id``, ``channel``, ``read_time_utc``, ``value``, ``tou_period``.
        first_day: First local day.
        last_day: Last local day (included).
        zone: The utility's zone.
        tolerance_s: Largest distance of a read from midnight. [s]

    Returns:
        ``VEE_CONTEXT_REGISTERS`` rows.
    """
    if reads.is_empty() or last_day < first_day:
        return VEE_CONTEXT_REGISTERS.empty()
    count = (last_day - first_day).days + 2
    days = [first_day + dt.timedelta(days=i) for i in range(count)]
    midnights = pl.DataFrame(
        {
            "_midnight_day": days,
            "_midnight": [local_day_bounds_utc(d, zone)[0] for d in days],
        },
        schema={"_midnight_day": pl.Date, "_midnight": reads.schema["read_time_utc"]},
    )
    totals = reads.filter(pl.col("tou_period").is_null()).select(
        "meter_id", "channel", "read_time_utc", "value"
    )
    near = (
        totals.join(midnights, how="cross")
        .with_columns(
            (pl.col("read_time_utc") - pl.col("_midnight")).dt.total_seconds().abs().alias("_d")
        )
        .filter(pl.col("_d") <= tolerance_s)
        .sort("meter_id", "channel", "_midnight_day", "_d")
        .unique(["meter_id", "channel", "_midnight_day"], keep="first", maintain_order=True)
        .select("meter_id", "channel", "_midnight_day", "value")
    )
    start = near.rename({"_midnight_day": "local_date", "value": "register_start"})
    end = near.with_columns(pl.col("_midnight_day") - pl.duration(days=1)).rename(
        {"_midnight_day": "local_date", "value": "register_end"}
    )
    return (
        start.join(end, on=["meter_id", "channel", "local_date"])
        .filter(pl.col("local_date").is_between(first_day, last_day))
        .select(VEE_CONTEXT_REGISTERS.names)
        .cast(VEE_CONTEXT_REGISTERS.schema)
        .sort("meter_id", "channel", "local_date")
    )
