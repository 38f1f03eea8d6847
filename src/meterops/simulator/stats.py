"""The realism table: simulated figures next to public ones (``meterops simulate --stats``).

Daily kWh per customer class (primary side: transformer-rated meters times their true
multiplier), daily load factor (mean over peak 15-minute demand), solar and EV shares,
read success, and event rates per 1,000 meters per day. The public figures are round numbers
from the sources named in the table, for orientation; they are US-wide annual averages,
while a simulated week sits in one season of one climate.

Pure module: standard library, numpy, polars and meterops.simulator; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np
import polars as pl

from meterops.nomenclature import CIM_EVENTS
from meterops.simulator.days import DayOutput
from meterops.simulator.territory import SiteClass

if TYPE_CHECKING:
    from meterops.simulator.world import World

__all__ = [
    "REFERENCES",
    "DaySummary",
    "daily_usage",
    "format_markdown",
    "realism_table",
    "summarize_day",
]

REFERENCES: Final[dict[str, str]] = {
    "residential kWh per customer-day": "≈ 29 (US average home, about 10,800 kWh a year; EIA)",
    "commercial kWh per customer-day": "≈ 200 (US commercial account, ~6,000 kWh a month; EIA)",
    "industrial kWh per customer-day": "≈ 3,000 (US average industrial account; EIA; wide spread)",
    "residential daily load factor": "≈ 0.2-0.4 for a single home at 15 minutes",
    "commercial daily load factor": "≈ 0.4-0.6",
    "industrial daily load factor": "≈ 0.6-0.8",
    "homes with rooftop solar [%]": "≈ 4 % of US homes (higher in sunny states)",
    "homes with an EV charger [%]": "≈ 3-7 % of US households",
    "complete meter-days [%]": "≥ 99.5 % (what AMI fleets report)",
    "interval reads received [%]": "≥ 99.5 %",
}
"""Public figures to compare with, with their source in words."""

_RESIDENTIAL = (SiteClass.HOME, SiteClass.APARTMENT, SiteClass.FARM)


def _mean(series: pl.Series) -> float:
    """Mean of a numeric series as a float (0 when empty)."""
    value = series.cast(pl.Float64).mean()
    return float(value) if isinstance(value, int | float) else 0.0


@dataclass(frozen=True, slots=True)
class DaySummary:
    """What the realism table needs of a day (small even for a million meters).

    Attributes:
        usage: Per meter: ``kwh``, ``peak`` and ``n`` of its delivered intervals
            (:func:`daily_usage`).
        comm_stats: The day's comm stats.
        events: The day's events.
    """

    usage: pl.DataFrame
    comm_stats: pl.DataFrame
    events: pl.DataFrame


def daily_usage(interval_reads: pl.DataFrame) -> pl.DataFrame:
    """Per meter: delivered kWh, the largest interval and the number of intervals.

    Works on a day's reads or on one chunk of them (the results concatenate).
    """
    return (
        interval_reads.filter(pl.col("channel") == "kwh_delivered")
        .group_by("serial_number")
        .agg(
            pl.col("value").sum().alias("kwh"),
            pl.col("value").max().alias("peak"),
            pl.len().alias("n"),
        )
    )


def summarize_day(output: DayOutput, usage: pl.DataFrame | None = None) -> DaySummary:
    """A day's summary; pass ``usage`` when a sink took the interval reads."""
    return DaySummary(
        daily_usage(output.interval_reads) if usage is None else usage,
        output.comm_stats,
        output.events,
    )


def realism_table(world: World, days: Sequence[DayOutput | DaySummary]) -> pl.DataFrame:
    """Figures of simulated days next to public ones.

    Args:
        world: The world the days come from.
        days: Simulated days (or their summaries).

    Returns:
        Columns ``figure``, ``simulated``, ``reference``.
    """
    summaries = [d if isinstance(d, DaySummary) else summarize_day(d) for d in days]
    sites = world.territory.sites
    site_of_meter = np.full(world.meter_count, -1, dtype=np.int64)
    site_of_meter[world.inst_meter] = world.inst_site
    serials = pl.Series("serial_number", world.reported_serial, dtype=pl.String)
    known = site_of_meter >= 0
    meter_class = np.where(known, sites.site_class[np.maximum(site_of_meter, 0)], -1)
    ratio = np.where(known, (sites.ct_ratio * sites.pt_ratio)[np.maximum(site_of_meter, 0)], 1.0)
    lookup = pl.DataFrame(
        {"serial_number": serials, "site_class": meter_class, "ratio": ratio, "site": site_of_meter}
    )
    per_day = []
    for day in summaries:
        usage = day.usage.group_by("serial_number").agg(
            pl.col("kwh").sum(), pl.col("peak").max(), pl.col("n").sum()
        )
        intervals = day.comm_stats.select("serial_number", "reads_expected")
        per_day.append(
            usage.join(intervals, on="serial_number").filter(
                pl.col("n") == pl.col("reads_expected")
            )
        )
    daily = (
        pl.concat(per_day)
        .join(lookup, on="serial_number")
        .with_columns(
            (pl.col("kwh") * pl.col("ratio")).alias("kwh_primary"),
            (pl.col("kwh") / pl.col("n") / pl.col("peak")).alias("load_factor"),
        )
    )
    vacant = set(world.occupancy.vacancy_site.tolist())
    daily = daily.filter(~pl.col("site").is_in(list(vacant)) & (pl.col("kwh") > 0))
    rows: list[tuple[str, float]] = []
    for label, classes in (
        ("residential", _RESIDENTIAL),
        ("commercial", (SiteClass.SMALL_COMMERCIAL,)),
        ("industrial", (SiteClass.LARGE_CI,)),
    ):
        mine = daily.filter(pl.col("site_class").is_in([int(c) for c in classes]))
        rows.append((f"{label} kWh per customer-day", _mean(mine["kwh_primary"])))
        rows.append((f"{label} daily load factor", _mean(mine["load_factor"])))
    homes = np.isin(sites.site_class, [SiteClass.HOME, SiteClass.FARM])
    rows.append(
        (
            "homes with rooftop solar [%]",
            100.0 * float(np.mean(world.customers.solar_kw[homes] > 0)),
        )
    )
    rows.append(
        ("homes with an EV charger [%]", 100.0 * float(np.mean(world.customers.ev_kw[homes] > 0)))
    )
    stats = pl.concat([d.comm_stats for d in summaries])
    rows.append(
        (
            "complete meter-days [%]",
            100.0 * _mean((stats["reads_received"] == stats["reads_expected"]).cast(pl.Float64)),
        )
    )
    rows.append(
        (
            "interval reads received [%]",
            100.0 * int(stats["reads_received"].sum()) / max(int(stats["reads_expected"].sum()), 1),
        )
    )
    meter_days = stats.height
    events = (
        pl.concat([d.events for d in summaries])
        .group_by("cim_event_type")
        .len()
        .sort("len", descending=True)
    )
    for code, count in events.iter_rows():
        name = CIM_EVENTS[code].name if code in CIM_EVENTS else code
        rows.append(
            (f"{name} events per 1,000 meters per day", 1000.0 * count / max(meter_days, 1))
        )
    return pl.DataFrame(
        {
            "figure": [r[0] for r in rows],
            "simulated": [round(r[1], 3) for r in rows],
            "reference": [REFERENCES.get(r[0], "") for r in rows],
        }
    )


def format_markdown(table: pl.DataFrame) -> str:
    """The table as Markdown (for the README and ``docs/simulator.md``)."""
    lines = ["| figure | simulated | public figure |", "|---|---:|---|"]
    for figure, simulated, reference in table.iter_rows():
        value = f"{simulated:,.1f}" if abs(simulated) >= 10 else f"{simulated:,.3g}"
        lines.append(f"| {figure} | {value} | {reference} |")
    return "\n".join(lines)
