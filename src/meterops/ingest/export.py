"""Green Button export: one customer's usage as an ESPI Atom feed (``meterops export greenbutton``).

What is exported. The account's usage at its service point between two local days, clipped
to the account's tenure (``move_in_date`` to ``move_out_date``, the move-out day excluded), so
a customer never receives the previous or next occupant's reads. The reads are the *current*
interval reads of the read store (VEE estimates and edits included; ESPI quality codes 8 and
7 mark them) of every meter installed at the service point during that time, each only while
it was installed: a meter exchanged mid-period contributes its part, and both parts appear
under one ``UsagePoint`` named after the service point (ESPI's usage point is the place of
service, not the device). Only channels a Green Button feed can carry are written
(:data:`meterops.ingest.formats.espi.ESPI_CHANNELS`).

The feed is written by :func:`meterops.ingest.formats.espi.write_espi`, so it parses back with
:func:`meterops.ingest.formats.espi.parse_espi` to the same values.

Must not import ``meterops.web``, ``cli`` or ``config``: settings arrive as arguments.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy.orm import Session

from meterops.errors import InvalidInputError, NotFoundError
from meterops.ingest import repository
from meterops.ingest.formats.espi import ESPI_CHANNELS, write_espi
from meterops.reads.schema import PARSED_INTERVAL_READS
from meterops.reads.store import ReadStore
from meterops.timeutil import local_day_bounds_utc

__all__ = ["GreenButtonExport", "export_greenbutton"]


@dataclass(frozen=True, slots=True)
class GreenButtonExport:
    """An exported feed and what it holds.

    Attributes:
        xml: The ESPI Atom feed (UTF-8).
        account_number: The account.
        usage_point: The service point number the feed's ``UsagePoint`` is named after.
        meters: Serial numbers of the meters whose reads are in the feed, in time order.
        reads: Interval reads written.
        start_utc: Start of the exported period (after clipping to the tenure). [UTC]
        end_utc: End of the exported period (exclusive). [UTC]
    """

    xml: bytes
    account_number: str
    usage_point: str
    meters: tuple[str, ...]
    reads: int
    start_utc: dt.datetime
    end_utc: dt.datetime


def export_greenbutton(
    session: Session,
    store: ReadStore,
    account_number: str,
    *,
    first_day: dt.date,
    last_day: dt.date,
    zone: ZoneInfo,
    now: dt.datetime,
) -> GreenButtonExport:
    """One account's interval usage between two local days as a Green Button feed.

    Args:
        session: Database session (accounts, installations).
        store: The read store.
        account_number: The account.
        first_day: First local day exported. [local date]
        last_day: Last local day exported (included). [local date]
        zone: The utility's time zone (local days, DST days of 23 and 25 hours).
        now: Stamped as the feed's ``updated`` time. [UTC]

    Returns:
        The feed and a summary of its content.

    Raises:
        NotFoundError: No such account, or no usage stored for it in the period.
        InvalidInputError: ``last_day`` is before ``first_day``, or the period lies outside
            the account's tenure.
    """
    if last_day < first_day:
        raise InvalidInputError(
            f"--to {last_day} is before --from {first_day}", code="export.empty_period"
        )
    account = repository.account_service(session, account_number)
    if account is None:
        raise NotFoundError(f"No account {account_number!r}.", code="export.no_account")
    first = max(first_day, account.move_in_date)
    end_day = last_day + dt.timedelta(days=1)
    if account.move_out_date is not None:
        end_day = min(end_day, account.move_out_date)
    if end_day <= first:
        raise InvalidInputError(
            f"account {account_number} was held from {account.move_in_date} to "
            f"{account.move_out_date or 'now'}; {first_day}..{last_day} lies outside it",
            code="export.outside_tenure",
        )
    start_utc = local_day_bounds_utc(first, zone)[0]
    end_utc = local_day_bounds_utc(end_day, zone)[0]
    installed = repository.installations_at(
        session, account.service_point_id, start_utc=start_utc, end_utc=end_utc
    )
    parts: list[pl.DataFrame] = []
    meters: list[str] = []
    for meter_id, serial, installed_at, removed_at in installed.iter_rows():
        lo = max(start_utc, installed_at)
        hi = end_utc if removed_at is None else min(end_utc, removed_at)
        reads = store.current_interval_reads(
            start_utc=lo, end_utc=hi, meter_ids=[meter_id], channels=sorted(ESPI_CHANNELS)
        )
        if reads.height:
            meters.append(serial)
            parts.append(reads)
    if not parts:
        raise NotFoundError(
            f"no interval reads stored for account {account_number} (service point "
            f"{account.service_point_number}) from {first} to {end_day - dt.timedelta(days=1)}",
            code="export.no_usage",
        )
    frame = pl.concat(parts).select(
        pl.lit(account.service_point_number).alias("serial_number"),
        *(c for c in PARSED_INTERVAL_READS.names if c not in ("serial_number", "source_line")),
    )
    xml = write_espi(
        frame,
        customer_id=account.customer_number,
        updated_at=now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    return GreenButtonExport(
        xml=xml,
        account_number=account.account_number,
        usage_point=account.service_point_number,
        meters=tuple(meters),
        reads=frame.height,
        start_utc=start_utc,
        end_utc=end_utc,
    )
