"""Crossed meters: two neighbouring meters installed in each other's socket.

A swap leaves no trace in either meter's own data — each measures a real premise — until
the back office acts on one premise. When an account closes and the premise goes vacant, the
meter the back office links to it keeps registering the neighbour's use (energy on an
inactive account), while the neighbour's meter, which really sits in the vacant premise,
falls to nothing on the same day (an occupied account that stopped using energy). Where
the utility opens the vacant premise's switch, it opens the switch of the meter the back
office links to it — which sits at the neighbour's: that meter falls to nothing too (and the
neighbour calls in). Either meter alone has a plain explanation (a move-in not recorded, a
vacancy, a stopped register); an occupied account's meter that stops on the day a
neighbour's account closed, a few doors apart, is a swap.

A pair is reported when, for a meter **A** whose service point has no open account:

* its last account closed on day ``d`` inside the window, at least
  ``crossed_min_days_after`` days before the last day judged;
* A registered before ``d`` (at least ``inactive_kwh_per_day`` a day) or, with no days
  before, after it; after ``d`` it either kept registering (``role`` of the evidence:
  ``inactive_with_use``) or fell silent with its premise (``inactive_disconnected``: then
  B must read nothing after ``d``, less than ``inactive_kwh_per_day`` a day — it measures
  the vacant premise — since A's silence alone is only a vacancy);

and a meter **B** with an open account, whose premise lies within ``crossed_radius_m`` of
A's:

* used at least ``inactive_kwh_per_day`` a day before ``d``;
* fell to at most ``crossed_low_share`` of that from a day within one day of ``d`` and has
  stayed there since (at least ``crossed_min_days_after`` days).

The nearest such B is A's partner; both meters get an exception with the other's serial.

The vacancy may also have ended before the run (an account opened again at A's service point
on day ``e``, at least ``crossed_min_days_after`` days after ``d``, on or before the last day
judged): then the same tests apply to the **episode** ``[d, e)`` — A registered in it, B fell
low within one day of ``d`` and stayed low until ``e`` — and the evidence says when the
episode ended (``episode_ended_on``). A move-in a few days after a move-out is common, and
the swap does not end with it: both meters still sit in each other's socket.

Pure module: polars and pure meterops modules only.
"""

from __future__ import annotations

import datetime as dt
import math

import polars as pl

from meterops.diagnostics.detect._common import as_exceptions
from meterops.diagnostics.frames import EXCEPTIONS
from meterops.diagnostics.kinds import ExceptionKind
from meterops.diagnostics.params import DetectParams

__all__ = ["detect_crossed_meters"]

_EARTH_M = 6_371_000.0


def _distance_m() -> pl.Expr:
    """Distance between (latitude, longitude) and their ``_b`` twins, equirectangular [m]."""
    lat = ((pl.col("latitude") + pl.col("latitude_b")) / 2.0).radians()
    dx = (pl.col("longitude_b") - pl.col("longitude")).radians() * lat.cos()
    dy = (pl.col("latitude_b") - pl.col("latitude")).radians()
    return (dx**2 + dy**2).sqrt() * _EARTH_M


def _local_midnight_utc(column: str, zone: str) -> pl.Expr:
    return (
        pl.col(column)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
    )


def detect_crossed_meters(
    *,
    daily: pl.DataFrame,
    meters: pl.DataFrame,
    last_day: dt.date,
    zone: str,
    params: DetectParams,
) -> pl.DataFrame:
    """Pairs of neighbouring meters that look swapped (see the module docstring).

    Args:
        daily: :data:`DAILY_USAGE`.
        meters: ``METER_CONTEXT`` (with ``account_closed_on``, ``latitude``, ``longitude``).
        last_day: Last local day judged.
        zone: IANA zone of the utility.
        params: Thresholds (``crossed_*``, ``inactive_kwh_per_day``).

    Returns:
        ``EXCEPTIONS`` rows of kind ``crossed_meters``, one per meter of each pair; evidence:
        ``partner_serial``, ``partner_service_point``, ``role`` (``inactive_with_use``,
        ``inactive_disconnected`` or ``active_without_use``), ``account_closed_on``,
        ``episode_ended_on`` (null while the premise is still vacant), ``distance_m``,
        ``inactive_kwh_per_day_after``, ``active_kwh_per_day_before``,
        ``active_kwh_per_day_after``, ``active_low_since``.
    """
    first_day = daily["day"].min() if not daily.is_empty() else None
    latest = last_day - dt.timedelta(days=params.crossed_min_days_after - 1)
    if first_day is None or not isinstance(first_day, dt.date):
        return EXCEPTIONS.empty()
    located = meters.filter(pl.col("latitude").is_not_null() & pl.col("longitude").is_not_null())
    vacant_now = ~pl.col("account_active")
    episode = (  # vacated, then an account opened again before the run
        pl.col("account_active")
        & pl.col("account_opened_on").is_not_null()
        & (
            (pl.col("account_opened_on") - pl.col("account_closed_on")).dt.total_days()
            >= params.crossed_min_days_after
        )
        & (pl.col("account_opened_on") <= last_day)
    )
    closed = located.filter(
        (vacant_now | episode)
        & pl.col("account_closed_on").is_between(first_day + dt.timedelta(days=1), latest)
    ).with_columns(
        pl.when(pl.col("account_active"))
        .then(pl.col("account_opened_on"))
        .otherwise(pl.lit(last_day + dt.timedelta(days=1)))
        .alias("episode_end")
    )
    if closed.is_empty():
        return EXCEPTIONS.empty()
    usage = (  # days with too few reads say nothing about use
        daily.lazy()
        .filter((pl.col("day") <= last_day) & (pl.col("reads_received") >= 48))
        .select("meter_id", "day", "kwh_delivered")
    )
    a_use = (
        closed.lazy()
        .select("meter_id", "account_closed_on", "episode_end")
        .join(usage, on="meter_id")
        .group_by("meter_id")
        .agg(
            pl.col("kwh_delivered")
            .filter(
                (pl.col("day") >= pl.col("account_closed_on"))
                & (pl.col("day") < pl.col("episode_end"))
            )
            .mean()
            .alias("a_after"),
            pl.col("kwh_delivered")
            .filter(pl.col("day") < pl.col("account_closed_on"))
            .mean()
            .alias("a_before"),
        )
        .filter(pl.coalesce("a_before", "a_after").fill_null(0.0) >= params.inactive_kwh_per_day)
    )
    radius_deg = params.crossed_radius_m / _EARTH_M * 180.0 / math.pi
    band = (pl.col("latitude") / radius_deg).floor().cast(pl.Int64)
    a_side = (
        closed.lazy()
        .join(a_use, on="meter_id")
        .select(
            band.alias("band"),
            "meter_id",
            "serial_number",
            "service_point_number",
            "account_closed_on",
            "episode_end",
            "latitude",
            "longitude",
            "a_after",
        )
    )
    b_side = (
        located.lazy()
        .filter(pl.col("account_active"))
        .select(
            (band + pl.lit([-1, 0, 1], dtype=pl.List(pl.Int64))).alias("band"),
            pl.col("meter_id").alias("meter_id_b"),
            pl.col("serial_number").alias("serial_number_b"),
            pl.col("service_point_number").alias("service_point_number_b"),
            pl.col("latitude").alias("latitude_b"),
            pl.col("longitude").alias("longitude_b"),
        )
        .explode("band")
    )
    near = (
        a_side.join(b_side, on="band")  # premises in the same or a neighbouring latitude band
        .filter((pl.col("longitude_b") - pl.col("longitude")).abs() <= 4 * radius_deg)
        .filter(pl.col("meter_id_b") != pl.col("meter_id"))  # an ended vacancy's A is active
        .with_columns(_distance_m().alias("distance_m"))
        .filter(pl.col("distance_m") <= params.crossed_radius_m)
    )
    b_use = (
        near.select("meter_id", "meter_id_b", "account_closed_on", "episode_end")
        .join(usage.rename({"meter_id": "meter_id_b"}), on="meter_id_b")
        .filter(pl.col("day") < pl.col("episode_end"))  # judged up to the episode's end
        .with_columns(
            pl.col("kwh_delivered")
            .filter(pl.col("day") < pl.col("account_closed_on") - dt.timedelta(days=1))
            .median()
            .over("meter_id", "meter_id_b")
            .alias("b_reference")
        )
        .with_columns(
            (pl.col("kwh_delivered") <= params.crossed_low_share * pl.col("b_reference")).alias(
                "low"
            )
        )
        .sort("meter_id", "meter_id_b", "day")
        .group_by("meter_id", "meter_id_b", maintain_order=True)
        .agg(
            pl.col("b_reference").first(),
            # first day of the trailing run of low days (null when the last day is not low)
            pl.col("day").filter(~pl.col("low")).max().alias("last_normal"),
            pl.col("low").last().alias("low_now"),
            pl.col("day").min().alias("b_first"),
            pl.col("kwh_delivered")
            .filter(pl.col("day") < pl.col("account_closed_on"))
            .mean()
            .alias("b_before"),
            pl.col("kwh_delivered")
            .filter(pl.col("day") >= pl.col("account_closed_on"))
            .mean()
            .alias("b_after"),
        )
        .with_columns(
            pl.coalesce(pl.col("last_normal") + dt.timedelta(days=1), pl.col("b_first")).alias(
                "low_since"
            )
        )
    )
    pairs = (
        near.join(b_use, on=["meter_id", "meter_id_b"])
        .filter(
            pl.col("low_now")
            & (pl.col("b_before") >= params.inactive_kwh_per_day)
            & (pl.col("b_reference") >= params.inactive_kwh_per_day)
            & ((pl.col("low_since") - pl.col("account_closed_on")).dt.total_days().abs() <= 1)
            & (pl.col("low_since") <= latest)
            # when A fell silent with its premise (a vacancy, nothing more), B must read
            # nothing: it measures the vacant premise; a neighbour that still registers a
            # share of its use (a bypass, a change of habits) is a coincidence of dates
            & (
                (pl.col("a_after").fill_null(0.0) >= params.inactive_kwh_per_day)
                | (pl.col("b_after") < params.inactive_kwh_per_day)
            )
        )
        .sort("meter_id", "distance_m")
        .group_by("meter_id", maintain_order=True)
        .first()
        .sort("distance_m")
        .unique("meter_id_b", keep="first", maintain_order=True)
        .collect()
    )
    if pairs.is_empty():
        return EXCEPTIONS.empty()
    common = [
        pl.col("account_closed_on").cast(pl.String),
        pl.when(pl.col("episode_end") <= last_day)
        .then(pl.col("episode_end").cast(pl.String))
        .alias("episode_ended_on"),
        pl.col("distance_m").round(1),
        pl.col("a_after").round(2).alias("inactive_kwh_per_day_after"),
        pl.col("b_before").round(2).alias("active_kwh_per_day_before"),
        pl.col("b_after").round(2).alias("active_kwh_per_day_after"),
        pl.col("low_since").cast(pl.String).alias("active_low_since"),
        _local_midnight_utc("account_closed_on", zone).alias("first_seen_utc"),
        _local_midnight_utc("_next", zone).alias("last_seen_utc"),
    ]
    pairs = pairs.with_columns(pl.lit(last_day + dt.timedelta(days=1)).alias("_next"))
    inactive = pairs.select(
        "meter_id",
        pl.col("serial_number_b").alias("partner_serial"),
        pl.col("service_point_number_b").alias("partner_service_point"),
        pl.when(pl.col("a_after").fill_null(0.0) >= params.inactive_kwh_per_day)
        .then(pl.lit("inactive_with_use"))
        .otherwise(pl.lit("inactive_disconnected"))
        .alias("role"),
        *common,
    )
    active = pairs.select(
        pl.col("meter_id_b").alias("meter_id"),
        pl.col("serial_number").alias("partner_serial"),
        pl.col("service_point_number").alias("partner_service_point"),
        pl.lit("active_without_use").alias("role"),
        *common,
    )
    return as_exceptions(
        pl.concat([inactive, active]),
        ExceptionKind.CROSSED_METERS,
        (
            "partner_serial",
            "partner_service_point",
            "role",
            "account_closed_on",
            "episode_ended_on",
            "distance_m",
            "inactive_kwh_per_day_after",
            "active_kwh_per_day_before",
            "active_kwh_per_day_after",
            "active_low_since",
        ),
    )
