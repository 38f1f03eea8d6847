"""The VEE repository: the fleet facts VEE needs, read from the database in set-based queries.

Meters (multiplier, bidirectional, register digits and decimals), their installations
(install and removal times, the service point's nominal voltage) and the accounts on those
service points (move-in and move-out days). :func:`context_days` turns them into the
``VEE_CONTEXT_DAYS`` frame of :mod:`meterops.vee.context`: one row per meter and local day.

The only vee module that issues SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from meterops.errors import NotFoundError
from meterops.models.accounts import Account
from meterops.models.meters import Installation, Meter
from meterops.models.premises import ServicePoint
from meterops.vee.context import VEE_CONTEXT_DAYS

__all__ = [
    "MeterRef",
    "all_meters",
    "context_days",
    "measured_nominal_voltage",
    "meters_by_serial",
]


@dataclass(frozen=True, slots=True)
class MeterRef:
    """A meter's id and serial number."""

    meter_id: int
    serial_number: str


def meters_by_serial(session: Session, serials: Sequence[str]) -> list[MeterRef]:
    """The meters with these serial numbers, in the order given.

    Raises:
        NotFoundError: A serial number is not in the fleet (the message lists them).
    """
    rows = session.execute(
        select(Meter.id, Meter.serial_number).where(Meter.serial_number.in_(list(serials)))
    ).all()
    found = {str(serial): int(id_) for id_, serial in rows}
    unknown = [s for s in serials if s not in found]
    if unknown:
        raise NotFoundError(
            f"unknown meter serial number(s): {', '.join(unknown)}",
            code="vee.unknown_meter",
            details={"serial_numbers": unknown},
        )
    return [MeterRef(found[s], s) for s in dict.fromkeys(serials)]


def all_meters(session: Session) -> list[MeterRef]:
    """Every meter of the fleet, by id."""
    rows = session.execute(select(Meter.id, Meter.serial_number).order_by(Meter.id)).all()
    return [MeterRef(int(id_), str(serial)) for id_, serial in rows]


def _local_date(moment: dt.datetime | None, zone: ZoneInfo) -> dt.date | None:
    if moment is None:
        return None
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(zone).date()


def measured_nominal_voltage(service_voltage_v: float | None, pt_ratio: float) -> float | None:
    """The nominal voltage a meter's voltage channels measure on a service.

    Transformer-rated meters with voltage transformers see the PT secondary (120 V); meters
    on 480Y/277 V and 208Y/120 V services measure line to neutral (277 V, 120 V); otherwise
    the service voltage.

    Examples:
        >>> measured_nominal_voltage(480, 1.0), measured_nominal_voltage(208, 1.0)
        (277.0, 120.0)
        >>> measured_nominal_voltage(240, 1.0), measured_nominal_voltage(12470, 60.0)
        (240.0, 120.0)
    """
    if service_voltage_v is None:
        return None
    if pt_ratio > 1.0:
        return 120.0
    return {480.0: 277.0, 208.0: 120.0}.get(float(service_voltage_v), float(service_voltage_v))


def context_days(
    session: Session,
    meter_ids: Collection[int],
    *,
    first_day: dt.date,
    last_day: dt.date,
    zone: ZoneInfo,
) -> pl.DataFrame:
    """``VEE_CONTEXT_DAYS`` rows of the meters over ``first_day`` … ``last_day``.

    A meter-day has an open account when the meter was installed on that local day (installed
    on or before it, removed after it) at a service point with an account whose move-in day is
    on or before it and whose move-out day, if any, is on or after it. The nominal voltage is
    the one the meter measures on the service point (:func:`measured_nominal_voltage`) on
    the days it is installed there.

    Args:
        session: Database session.
        meter_ids: Meters.
        first_day: First local day.
        last_day: Last local day (included).
        zone: The utility's zone (install and removal instants become local days).

    Returns:
        One row per meter and day, in meter and day order.
    """
    ids = sorted(set(meter_ids))
    if not ids or last_day < first_day:
        return VEE_CONTEXT_DAYS.empty()
    meters = session.execute(
        select(
            Meter.id,
            Meter.ct_ratio,
            Meter.pt_ratio,
            Meter.bidirectional,
            Meter.register_digits,
            Meter.register_decimals,
        ).where(Meter.id.in_(ids))
    ).all()
    installs = session.execute(
        select(
            Installation.meter_id,
            Installation.service_point_id,
            Installation.installed_at_utc,
            Installation.removed_at_utc,
            ServicePoint.voltage_v,
            Meter.pt_ratio,
        )
        .join(Meter, Meter.id == Installation.meter_id)
        .join(ServicePoint, ServicePoint.id == Installation.service_point_id)
        .where(Installation.meter_id.in_(ids))
    ).all()
    points = sorted({int(row[1]) for row in installs})
    accounts = (
        session.execute(
            select(Account.service_point_id, Account.move_in_date, Account.move_out_date).where(
                Account.service_point_id.in_(points)
            )
        ).all()
        if points
        else []
    )
    days = pl.date_range(first_day, last_day, "1d", eager=True).alias("local_date")
    base = pl.DataFrame(
        {
            "meter_id": [int(m[0]) for m in meters],
            "multiplier": [float(m[1]) * float(m[2]) for m in meters],
            "bidirectional": [bool(m[3]) for m in meters],
            "register_digits": [int(m[4]) for m in meters],
            "register_decimals": [int(m[5]) for m in meters],
        },
        schema_overrides={"register_digits": pl.Int32, "register_decimals": pl.Int32},
    ).join(days.to_frame(), how="cross")
    installed = pl.DataFrame(
        {
            "meter_id": [int(i[0]) for i in installs],
            "service_point_id": [int(i[1]) for i in installs],
            "_from": [_local_date(i[2], zone) for i in installs],
            "_until": [_local_date(i[3], zone) for i in installs],
            "nominal_voltage_v": [measured_nominal_voltage(i[4], float(i[5])) for i in installs],
        },
        schema={
            "meter_id": pl.Int64,
            "service_point_id": pl.Int64,
            "_from": pl.Date,
            "_until": pl.Date,
            "nominal_voltage_v": pl.Float64,
        },
    )
    open_accounts = pl.DataFrame(
        {
            "service_point_id": [int(a[0]) for a in accounts],
            "_in": [a[1] for a in accounts],
            "_out": [a[2] for a in accounts],
        },
        schema={"service_point_id": pl.Int64, "_in": pl.Date, "_out": pl.Date},
    )
    day = pl.col("local_date")
    on_site = (
        base.select("meter_id", "local_date")
        .join(installed, on="meter_id")
        .filter((pl.col("_from") <= day) & (pl.col("_until").is_null() | (pl.col("_until") > day)))
    )
    with_account = (
        on_site.join(open_accounts, on="service_point_id")
        .filter((pl.col("_in") <= day) & (pl.col("_out").is_null() | (pl.col("_out") >= day)))
        .select("meter_id", "local_date")
        .unique()
        .with_columns(pl.lit(value=True).alias("active_account"))
    )
    voltage = on_site.group_by("meter_id", "local_date").agg(pl.col("nominal_voltage_v").max())
    return (
        base.join(with_account, on=["meter_id", "local_date"], how="left")
        .join(voltage, on=["meter_id", "local_date"], how="left")
        .with_columns(pl.col("active_account").fill_null(value=False))
        .select(VEE_CONTEXT_DAYS.names)
        .cast(VEE_CONTEXT_DAYS.schema)
        .sort("meter_id", "local_date")
    )
