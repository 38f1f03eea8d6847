"""``meterops reads``: look at a meter's stored interval reads, versions and flags."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from meterops.cli import context

app = typer.Typer(help="Meter data: interval reads, versions and flags.", no_args_is_help=True)


def _instant(text: str, zone: ZoneInfo) -> dt.datetime:
    """An ISO date-time; without an offset it is a wall time in the utility's zone."""
    from meterops.timeutil import localize

    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as error:
        raise typer.BadParameter(
            f"{text!r} is not an ISO date-time such as 2024-03-05T14:00 or 2024-03-05T20:00Z"
        ) from error
    if moment.tzinfo is None:
        return localize(moment, zone, ambiguous="earliest")
    return moment.astimezone(dt.UTC)


@app.command("show")
def show(
    serial: Annotated[str, typer.Argument(help="Meter serial number.")],
    *,
    from_date: Annotated[
        dt.datetime,
        typer.Option("--from", formats=["%Y-%m-%d"], help="First local day (YYYY-MM-DD)."),
    ],
    to_date: Annotated[
        dt.datetime,
        typer.Option("--to", formats=["%Y-%m-%d"], help="Last local day, included."),
    ],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Show the data as it was at this instant (ISO; no offset = utility time).",
        ),
    ] = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
    history: Annotated[
        bool, typer.Option("--history", help="Every stored version, not only the current one.")
    ] = False,
) -> None:
    """Show a meter's interval reads between two local days (current values, or history).

    Times are shown in the utility's time zone and in UTC; DST days have 92 or 100
    quarter-hours. Flags are listed by name; versions show kind, method and reason.
    """
    import polars as pl

    from meterops.assets import service as assets_service
    from meterops.reads.store import ReadStore
    from meterops.timeutil import local_day_bounds_utc
    from meterops.vee.flags import flag_names

    settings = context.settings()
    zone = settings.zone
    with context.session() as session:
        meter_id = assets_service.get_meter(session, serial).id
    start_utc, _ = local_day_bounds_utc(from_date.date(), zone)
    _, end_utc = local_day_bounds_utc(to_date.date(), zone)
    store = ReadStore(settings.reads_uri)
    read = store.interval_history if history else store.current_interval_reads
    rows = read(
        start_utc=start_utc,
        end_utc=end_utc,
        meter_ids=[meter_id],
        channels=[channel] if channel else None,
        as_of_utc=_instant(as_of, zone) if as_of else None,
    )
    table = Table(title=f"meter {serial} · {from_date:%Y-%m-%d} to {to_date:%Y-%m-%d} ({zone.key})")
    for column in ("local time", "UTC", "channel", "value", "flags", "version", "by / why"):
        table.add_column(column, justify="right" if column == "value" else "left")
    if history:
        table.add_column("current")
    for row in rows.iter_rows(named=True):
        start: dt.datetime = row["interval_start_utc"]
        version = f"{row['version']} {row['version_kind']}"
        why = " · ".join(str(row[c]) for c in ("actor", "method", "reason_code") if row[c])
        cells = [
            start.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
            start.strftime("%H:%M"),
            row["channel"],
            f"{row['value']:g}",
            " ".join(flag_names(row["quality_flags"])),
            version,
            why,
        ]
        if history:
            cells.append("yes" if row["is_current"] else "")
        table.add_row(*cells)
    context.console.print(table)
    current = rows.filter(pl.col("is_current")) if history else rows
    totals = current.group_by("channel").agg(pl.len().alias("count"), pl.col("value").sum())
    for channel_name, count, total in totals.sort("channel").iter_rows():
        context.console.print(f"{channel_name}: {count} intervals, total {total:g}")
