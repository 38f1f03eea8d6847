"""Database side of the determinants: meters, installations, accounts and meter programs.

Billing periods are derived, not stored: for each installation of a meter in the range, the
span is split where an account at its service point moves in or out; a stretch without an
open account is a vacant period (``account_id`` null), kept so that usage on a vacant premise
stays visible.

Which TOU schedule a period is billed on (``schedule_key``): the **tariff definition** of the
account's rate, i.e. the meter program coded ``<rate_code>-TARIFF`` (e.g. ``RTOU-TARIFF``)
when the fleet has one; otherwise the meter's own program (the program then stands for its
tariff); null when the meter has no program (one flat period ``total``). Vacant periods use
the meter's program.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from meterops.assets.programs import TouSchedule, parse_tou_schedule
from meterops.determinants.frames import BILLING_PERIODS, REGISTER_SPECS
from meterops.errors import NotFoundError
from meterops.models.accounts import Account
from meterops.models.meters import Installation, Meter, MeterProgram

__all__ = [
    "TARIFF_SUFFIX",
    "MeterPeriods",
    "billing_periods",
    "meter_id_for_serial",
    "schedules",
    "serials_by_id",
    "tariff_key",
]

TARIFF_SUFFIX: Final = "-TARIFF"
"""Program codes ending with this define a tariff's TOU schedule (``RTOU-TARIFF``)."""

_FAR: Final = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)


def schedules(session: Session) -> dict[str, TouSchedule]:
    """Every meter program's TOU schedule, by program code."""
    rows = session.execute(select(MeterProgram.program_code, MeterProgram.tou_schedule)).all()
    return {code: parse_tou_schedule(doc, label=code) for code, doc in rows}


def tariff_key(rate_code: str | None, program_code: str | None, known: set[str]) -> str | None:
    """The schedule key a period is billed on (see the module docstring).

    Examples:
        >>> tariff_key("RTOU", "RES-TOU-2024B", {"RTOU-TARIFF", "RES-TOU-2024B"})
        'RTOU-TARIFF'
        >>> tariff_key("LGS", "LGS-TOU-2023", {"RTOU-TARIFF", "LGS-TOU-2023"})
        'LGS-TOU-2023'
    """
    if rate_code is not None and f"{rate_code}{TARIFF_SUFFIX}" in known:
        return f"{rate_code}{TARIFF_SUFFIX}"
    return program_code


def meter_id_for_serial(session: Session, serial: str) -> int:
    """The meter id of a serial number.

    Raises:
        NotFoundError: No meter has that serial.
    """
    found = session.scalar(select(Meter.id).where(Meter.serial_number == serial))
    if found is None:
        msg = f"no meter with serial number {serial!r}"
        raise NotFoundError(msg, code="meter.not_found")
    return int(found)


def serials_by_id(session: Session, meter_ids: Sequence[int]) -> pl.DataFrame:
    """``meter_id`` → ``serial_number`` for the given ids."""
    rows: list[tuple[int, str]] = []
    ids = sorted(set(meter_ids))
    for first in range(0, len(ids), 5000):
        chunk = ids[first : first + 5000]
        rows += [
            (int(i), str(s))
            for i, s in session.execute(
                select(Meter.id, Meter.serial_number).where(Meter.id.in_(chunk))
            ).all()
        ]
    return pl.DataFrame(
        rows, schema={"meter_id": pl.Int64, "serial_number": pl.String}, orient="row"
    )


@dataclass(frozen=True, slots=True)
class MeterPeriods:
    """Billing periods and register specs of the meters installed in a range.

    Attributes:
        periods: ``frames.BILLING_PERIODS``.
        specs: ``frames.REGISTER_SPECS`` of the meters whose program has TOU periods.
    """

    periods: pl.DataFrame
    specs: pl.DataFrame


def billing_periods(
    session: Session,
    *,
    start_utc: dt.datetime,
    end_utc: dt.datetime,
    zone: ZoneInfo,
    meter_id: int | None = None,
) -> MeterPeriods:
    """Billing periods of every meter installed in ``[start_utc, end_utc)``.

    Args:
        session: Database session.
        start_utc: Range start. [UTC]
        end_utc: Range end (exclusive). [UTC]
        zone: The utility's zone (account move-in and move-out dates are local days).
        meter_id: Only this meter.

    Returns:
        The periods and the register specs.
    """
    known = schedules(session)
    query = (
        select(
            Installation.meter_id,
            Installation.service_point_id,
            Installation.installed_at_utc,
            Installation.removed_at_utc,
            Meter.ct_ratio,
            Meter.pt_ratio,
            Meter.register_digits,
            Meter.register_decimals,
            MeterProgram.program_code,
        )
        .join(Meter, Meter.id == Installation.meter_id)
        .outerjoin(MeterProgram, MeterProgram.id == Meter.program_id)
        .where(Installation.installed_at_utc < end_utc)
        .where((Installation.removed_at_utc.is_(None)) | (Installation.removed_at_utc > start_utc))
    )
    if meter_id is not None:
        query = query.where(Installation.meter_id == meter_id)
    installs = session.execute(query).all()
    points = sorted({int(r.service_point_id) for r in installs})
    accounts: dict[int, list[tuple[dt.datetime, dt.datetime, int, str, bool]]] = {}
    for first in range(0, len(points), 5000):
        chunk = points[first : first + 5000]
        for a in session.execute(
            select(Account).where(Account.service_point_id.in_(chunk))
        ).scalars():
            a_start = _local_midnight(a.move_in_date, zone)
            a_end = _local_midnight(a.move_out_date, zone) if a.move_out_date else _FAR
            accounts.setdefault(int(a.service_point_id), []).append(
                (a_start, a_end, int(a.id), a.rate_code, bool(a.net_metering))
            )
    rows: list[dict[str, object]] = []
    specs: dict[int, dict[str, object]] = {}
    for r in installs:
        lo = max(_utc(r.installed_at_utc), start_utc)
        hi = min(_utc(r.removed_at_utc) if r.removed_at_utc else _FAR, end_utc)
        if hi <= lo:
            continue
        multiplier = float(r.ct_ratio) * float(r.pt_ratio)
        program = r.program_code
        base = {"meter_id": int(r.meter_id), "multiplier": multiplier}
        cuts = {lo, hi}
        spans = sorted(accounts.get(int(r.service_point_id), []))
        for a_start, a_end, *_ in spans:
            cuts |= {t for t in (a_start, a_end) if lo < t < hi}
        edges = sorted(cuts)
        for left, right in itertools.pairwise(edges):
            open_account = next((a for a in spans if a[0] <= left and right <= a[1]), None)
            if open_account is None:
                rows.append(
                    {
                        **base,
                        "account_id": None,
                        "period_start_utc": left,
                        "period_end_utc": right,
                        "schedule_key": program,
                        "net_metering": False,
                    }
                )
                continue
            _, _, account_id, rate, nem = open_account
            key = tariff_key(rate, program, set(known))
            rows.append(
                {
                    **base,
                    "account_id": account_id,
                    "period_start_utc": left,
                    "period_end_utc": right,
                    "schedule_key": key,
                    "net_metering": nem,
                }
            )
            if program and key and len(known[key].period_names) > 1:
                specs[int(r.meter_id)] = {
                    "meter_id": int(r.meter_id),
                    "tariff_schedule_key": key,
                    "program_schedule_key": program,
                    "register_digits": int(r.register_digits),
                    "register_decimals": int(r.register_decimals),
                }
    periods = pl.DataFrame(rows, schema=BILLING_PERIODS.schema).sort("meter_id", "period_start_utc")
    spec_frame = pl.DataFrame(list(specs.values()), schema=REGISTER_SPECS.schema).sort("meter_id")
    return MeterPeriods(periods, spec_frame)
