"""HTML pieces of the vee capability: the meter page's interval chart and read history.

:func:`meter_reads_panel` builds what ``templates/vee/_meter_reads.html`` draws on the meter
page (``/meters/{serial}``): a server-rendered SVG chart of one channel's current reads over
a chosen range of local days (estimates, edits, VEE flags and missing intervals marked) and
the stored versions of a chosen interval. Thin: it calls :mod:`meterops.vee.service` and the
pure :mod:`meterops.vee.chart`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from meterops.config import Settings
from meterops.nomenclature import CHANNELS
from meterops.reads.store import ReadStore
from meterops.vee import service
from meterops.vee.chart import interval_chart
from meterops.vee.flags import flag_names

__all__ = ["meter_reads_panel", "router"]

router = APIRouter(include_in_schema=False)


def meter_reads_panel(
    session: Session,
    settings: Settings,
    *,
    serial: str,
    first_day: dt.date | None,
    last_day: dt.date | None,
    channel: str | None,
    at: dt.datetime | None,
) -> dict[str, Any]:
    """Template context of the meter page's reads panel.

    Args:
        session: Database session.
        settings: Settings (zone, read store).
        serial: Meter serial number.
        first_day: First local day shown (default: the day before ``last_day``).
        last_day: Last local day shown (default: yesterday in the utility's zone).
        channel: Channel charted (default: ``kwh_delivered`` when present, else the first).
        at: Interval whose stored versions are listed (None: none).

    Returns:
        ``reads`` context: days, channels, chosen channel, chart, history rows.

    Raises:
        NotFoundError: Unknown meter.
        InvalidInputError: A bad range of days.
    """
    zone = settings.zone
    last = last_day or (dt.datetime.now(zone).date() - dt.timedelta(days=1))
    first = first_day or (last - dt.timedelta(days=1))
    store = ReadStore(settings.reads_uri)
    rows = service.meter_intervals(
        session, store, serial=serial, first_day=first, last_day=last, zone=zone
    )
    channels = sorted(set(rows["channel"].to_list()))
    chosen = channel if channel in channels else None
    if chosen is None and channels:
        chosen = "kwh_delivered" if "kwh_delivered" in channels else channels[0]
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    chart = None
    if chosen is not None:
        known = CHANNELS.get(chosen)
        chart = interval_chart(
            rows.filter(rows["channel"] == chosen),
            days=days,
            zone=zone,
            unit=known.unit if known is not None else "",
        )
    history: list[dict[str, Any]] = []
    if at is not None and chosen is not None:
        versions = service.interval_versions(
            session, store, serial=serial, channel=chosen, at_utc=at
        )
        history.extend(
            {**row, "flags": flag_names(row["quality_flags"])}
            for row in versions.iter_rows(named=True)
        )
    return {
        "first_day": first,
        "last_day": last,
        "channels": channels,
        "channel": chosen,
        "chart": chart,
        "at": at,
        "at_local": at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if at else None,
        "history": history,
        "zone": zone,
    }
