"""Consumption exceptions: zero on an active account, usage on an inactive one, high bills.

All work on :data:`DAILY_USAGE` (local days) and the meter context; ``last_day`` is the last
complete local day judged (explicit, never the clock).

High bills compare the customer with their own history: the mean daily energy of the last
``recent_days`` against the days before. The weather adjustment divides each meter's ratio by
the fleet's median ratio over the same days (a hot week raises everyone's use alike), so no
temperature series is needed. For TOU customers a second test compares the on-peak share of
the register advance with the median of the customers on the same rate: a misprogrammed
period table bills shoulder hours as on-peak without changing the total.

Pure module: polars and pure meterops modules only.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from meterops.diagnostics.detect._common import as_exceptions
from meterops.diagnostics.frames import EXCEPTIONS
from meterops.diagnostics.kinds import ExceptionKind
from meterops.diagnostics.params import DetectParams

__all__ = [
    "detect_high_bill",
    "detect_inactive_usage",
    "detect_zero_consumption",
    "installation_facts",
    "tou_shares",
]


def _day_start_utc(column: str, zone: str) -> pl.Expr:
    return (
        pl.col(column)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
    )


def _last(daily: pl.DataFrame, last_day: dt.date, days: int) -> pl.LazyFrame:
    first = last_day - dt.timedelta(days=days - 1)
    return daily.lazy().filter(pl.col("day").is_between(first, last_day))


def detect_zero_consumption(
    *,
    daily: pl.DataFrame,
    meters: pl.DataFrame,
    last_day: dt.date,
    zone: str,
    params: DetectParams,
) -> pl.DataFrame:
    """Active accounts whose meter reports but registers no energy for ``zero_days`` days.

    Reads must arrive (at least half the intervals of each day) so that silence is left to
    the non-comm detector; intervals flagged ``POWER_OUTAGE`` do not count as zero. The
    ``zero_days`` are the latest days with reads among the last ``zero_days +
    zero_gap_days`` (a day the head-end file never arrived does not hide a stopped register).

    Args:
        daily: :data:`DAILY_USAGE`.
        meters: ``METER_CONTEXT``.
        last_day: Last local day judged.
        zone: IANA zone of the utility.
        params: Thresholds.

    Returns:
        ``EXCEPTIONS`` rows; evidence: ``zero_days``, ``kwh``, ``reads_received``,
        ``kwh_received``, ``prior_kwh_per_day`` (mean of the days before, null if none).

    Examples:
        >>> import datetime as dt
        >>> from meterops.diagnostics.frames import DAILY_USAGE
        >>> days = [dt.date(2026, 7, d) for d in (1, 2, 3, 4)]
        >>> daily = pl.DataFrame({"meter_id": [1] * 4, "day": days,
        ...     "kwh_delivered": [20.0, 0.0, 0.0, 0.0], "kwh_received": [0.0] * 4,
        ...     "reads_received": [96] * 4, "outage_intervals": [0] * 4,
        ...     "suspect_intervals": [0] * 4}, schema=DAILY_USAGE.schema)
        >>> meters = pl.DataFrame({"meter_id": [1], "account_active": [True]})
        >>> out = detect_zero_consumption(daily=daily, meters=meters, last_day=days[-1],
        ...     zone="America/Chicago", params=DetectParams())
        >>> out["kind"].to_list(), out["first_seen_utc"].dt.day().to_list()
        (['zero_consumption'], [2])
    """
    n = params.zero_days
    recent = (
        _last(daily, last_day, n + params.zero_gap_days)
        .filter(pl.col("reads_received") >= 48)
        .sort("meter_id", "day")
        .group_by("meter_id")
        .tail(n)
        .group_by("meter_id")
        .agg(
            pl.col("day").n_unique().alias("days"),
            pl.col("kwh_delivered").sum().alias("kwh"),
            pl.col("kwh_received").sum().round(3).alias("kwh_received"),
            pl.col("reads_received").min().alias("min_reads"),
            pl.col("reads_received").sum().alias("reads_received"),
            pl.col("day").min().alias("recent_first"),
        )
    )
    history = (
        daily.lazy()
        .filter(pl.col("day") <= last_day)
        .join(recent.select("meter_id", "recent_first"), on="meter_id")
        .group_by("meter_id")
        .agg(
            pl.col("kwh_delivered")
            .filter(pl.col("day") < pl.col("recent_first"))
            .mean()
            .round(2)
            .alias("prior_kwh_per_day"),
            pl.col("day").filter(pl.col("kwh_delivered") > params.zero_kwh).max().alias("last_use"),
            pl.col("day").min().alias("first_day"),
        )
    )
    frame = (
        meters.lazy()
        .filter(pl.col("account_active"))
        .select("meter_id")
        .join(recent, on="meter_id")
        .join(history, on="meter_id", how="left")
        .filter(
            (pl.col("days") == n) & (pl.col("min_reads") >= 48) & (pl.col("kwh") <= params.zero_kwh)
        )
        .with_columns(
            pl.coalesce(pl.col("last_use") + pl.duration(days=1), pl.col("first_day")).alias(
                "zero_from"
            ),
            pl.lit(last_day + dt.timedelta(days=1)).alias("next_day"),
        )
        .with_columns(
            pl.lit(n).alias("zero_days"),
            pl.col("kwh").round(3),
            _day_start_utc("zero_from", zone).alias("first_seen_utc"),
            _day_start_utc("next_day", zone).alias("last_seen_utc"),
        )
    ).collect()
    return as_exceptions(
        frame,
        ExceptionKind.ZERO_CONSUMPTION,
        ("zero_days", "kwh", "reads_received", "kwh_received", "prior_kwh_per_day"),
    )


def detect_inactive_usage(
    *,
    daily: pl.DataFrame,
    meters: pl.DataFrame,
    last_day: dt.date,
    zone: str,
    params: DetectParams,
) -> pl.DataFrame:
    """Service points without an active account whose meter delivers energy.

    Args:
        daily: :data:`DAILY_USAGE`.
        meters: ``METER_CONTEXT``.
        last_day: Last local day judged.
        zone: IANA zone of the utility.
        params: Thresholds.

    Returns:
        ``EXCEPTIONS`` rows; evidence: ``kwh_per_day``, ``days``.
    """
    n = params.inactive_days
    frame = (
        meters.lazy()
        .filter(~pl.col("account_active"))
        .select("meter_id")
        .join(
            _last(daily, last_day, n)
            .group_by("meter_id")
            .agg(
                pl.col("day").n_unique().alias("days"),
                (pl.col("kwh_delivered").sum() / n).round(2).alias("kwh_per_day"),
                pl.col("day").filter(pl.col("kwh_delivered") > 0).min().alias("first_day"),
            ),
            on="meter_id",
        )
        .filter(pl.col("kwh_per_day") > params.inactive_kwh_per_day)
        .with_columns(
            pl.lit(last_day + dt.timedelta(days=1)).alias("next_day"),
        )
        .with_columns(
            _day_start_utc("first_day", zone).alias("first_seen_utc"),
            _day_start_utc("next_day", zone).alias("last_seen_utc"),
        )
        .collect()
    )
    return as_exceptions(frame, ExceptionKind.INACTIVE_USAGE, ("kwh_per_day", "days"))


def tou_shares(registers: pl.DataFrame) -> pl.DataFrame:
    """On-peak share of each TOU meter's register advance over the window.

    Args:
        registers: Stored register reads (``REGISTER_READS``) with TOU rows
            (``tou_period`` not null) on ``kwh_delivered``.

    Returns:
        ``meter_id``, ``on_peak_kwh``, ``tou_kwh`` (all periods) [kWh] and ``on_peak_share``.
    """
    advances = (
        registers.lazy()
        .filter((pl.col("channel") == "kwh_delivered") & pl.col("tou_period").is_not_null())
        .group_by("meter_id", "tou_period")
        .agg((pl.col("value").max() - pl.col("value").min()).alias("advance_kwh"))
    )
    return (
        advances.group_by("meter_id")
        .agg(
            pl.col("advance_kwh")
            .filter(pl.col("tou_period") == "on_peak")
            .sum()
            .alias("on_peak_kwh"),
            pl.col("advance_kwh").sum().alias("tou_kwh"),
        )
        .filter(pl.col("tou_kwh") > 0)
        .with_columns((pl.col("on_peak_kwh") / pl.col("tou_kwh")).alias("on_peak_share"))
        .sort("meter_id")
        .collect()
    )


def detect_high_bill(
    *,
    daily: pl.DataFrame,
    meters: pl.DataFrame,
    registers: pl.DataFrame | None,
    last_day: dt.date,
    zone: str,
    params: DetectParams,
) -> pl.DataFrame:
    """Customers whose recent use, weather-adjusted, is well above their own history.

    Args:
        daily: :data:`DAILY_USAGE`.
        meters: ``METER_CONTEXT``.
        registers: Stored register reads for the TOU share test (None: skip it).
        last_day: Last local day judged.
        zone: IANA zone of the utility.
        params: Thresholds.

    Returns:
        ``EXCEPTIONS`` rows; evidence: ``basis`` (``usage`` or ``tou_on_peak_share``) and
        its figures (``recent_kwh_per_day``, ``baseline_kwh_per_day``, ``ratio``,
        ``fleet_ratio``, ``adjusted_ratio``; or ``on_peak_share``, ``peer_median_share``,
        ``share_ratio``, ``peers``).
    """
    recent_first = last_day - dt.timedelta(days=params.recent_days - 1)
    next_day = last_day + dt.timedelta(days=1)
    active = meters.lazy().filter(pl.col("account_active"))
    usage = (
        daily.lazy()
        .filter(pl.col("day") <= last_day)
        .group_by("meter_id")
        .agg(
            pl.col("kwh_delivered").filter(pl.col("day") >= recent_first).mean().alias("recent"),
            pl.col("kwh_delivered").filter(pl.col("day") < recent_first).mean().alias("base"),
            (pl.col("day") < recent_first).sum().alias("base_days"),
        )
        .join(active.select("meter_id"), on="meter_id")
        .filter((pl.col("base_days") >= params.baseline_days) & (pl.col("base") > 0.5))
        .with_columns((pl.col("recent") / pl.col("base")).alias("ratio"))
        .with_columns(pl.col("ratio").median().alias("fleet_ratio"))
        .with_columns((pl.col("ratio") / pl.col("fleet_ratio")).alias("adjusted_ratio"))
        .filter(
            (pl.col("adjusted_ratio") >= params.high_bill_ratio)
            & (
                pl.col("recent") - pl.col("base") * pl.col("fleet_ratio")
                >= params.high_bill_min_increase_kwh
            )
        )
        .with_columns(
            pl.lit("usage").alias("basis"),
            pl.col("recent").round(2).alias("recent_kwh_per_day"),
            pl.col("base").round(2).alias("baseline_kwh_per_day"),
            pl.col("ratio").round(3),
            pl.col("fleet_ratio").round(3),
            pl.col("adjusted_ratio").round(3),
            pl.lit(recent_first).alias("from_day"),
        )
        .collect()
    )
    parts = []
    if not usage.is_empty():
        usage = usage.with_columns(
            _day_start_utc("from_day", zone).alias("first_seen_utc"),
            pl.lit(next_day).alias("to_day"),
        ).with_columns(_day_start_utc("to_day", zone).alias("last_seen_utc"))
        parts.append(
            as_exceptions(
                usage,
                ExceptionKind.HIGH_BILL,
                (
                    "basis",
                    "recent_kwh_per_day",
                    "baseline_kwh_per_day",
                    "ratio",
                    "fleet_ratio",
                    "adjusted_ratio",
                ),
            )
        )
    if registers is not None and not registers.is_empty():
        shares = (
            tou_shares(registers)
            .lazy()
            .join(active.select("meter_id", "rate_code"), on="meter_id")
            .filter(pl.col("tou_kwh") >= 1.0)
            .with_columns(
                pl.col("on_peak_share").median().over("rate_code").alias("peer_median_share"),
                pl.len().over("rate_code").alias("peers"),
            )
            .with_columns(
                (pl.col("on_peak_share") / pl.col("peer_median_share")).alias("share_ratio")
            )
            .filter((pl.col("peers") >= 5) & (pl.col("share_ratio") >= params.tou_share_ratio))
            .with_columns(
                pl.lit("tou_on_peak_share").alias("basis"),
                pl.col("on_peak_share").round(3),
                pl.col("peer_median_share").round(3),
                pl.col("share_ratio").round(3),
                pl.col("on_peak_kwh").round(1),
                pl.col("tou_kwh").round(1),
                pl.lit(recent_first).alias("from_day"),
                pl.lit(next_day).alias("to_day"),
            )
            .with_columns(
                _day_start_utc("from_day", zone).alias("first_seen_utc"),
                _day_start_utc("to_day", zone).alias("last_seen_utc"),
            )
            .collect()
        )
        parts.append(
            as_exceptions(
                shares,
                ExceptionKind.HIGH_BILL,
                (
                    "basis",
                    "on_peak_share",
                    "peer_median_share",
                    "share_ratio",
                    "on_peak_kwh",
                    "tou_kwh",
                    "peers",
                    "rate_code",
                ),
            )
        )
    if not parts:
        return EXCEPTIONS.empty()
    return pl.concat(parts).unique("meter_id", keep="last").sort("meter_id")


def installation_facts(
    *,
    meters: pl.DataFrame,
    exchanges: pl.DataFrame | None,
    exchange_reads: pl.DataFrame | None,
    as_of_utc: dt.datetime,
    last_day: dt.date,
) -> pl.DataFrame:
    """When each meter went in at a recorded exchange, and when its account opened.

    What tells an empty premise from a stopped register when a meter has read zero from
    the start of the window: the customer left at a meter exchange (the new meter never
    registered, the one it replaced did until that day) or the account opened only days ago.

    Args:
        meters: ``METER_CONTEXT`` (``account_opened_on``).
        exchanges: Recorded exchanges (``detect.multiplier.EXCHANGES``; None: none known).
        exchange_reads: ``kwh_delivered`` interval reads of the exchanged meters
            (``detect.multiplier.EXCHANGE_READS``; None: not read).
        as_of_utc: The run's moment. [UTC]
        last_day: Last local day judged.

    Returns:
        ``meter_id``, ``installed_days_ago`` (days since the meter went in at the latest
        exchange, null if none) [d], ``removed_kwh_per_day`` (mean daily energy of the meter
        it replaced, over that meter's reads before the exchange; null without reads)
        [kWh/d], ``days_since_move_in`` (days from the open account's move-in to the last
        day judged, null if unknown) [d].

    Examples:
        >>> meters = pl.DataFrame({"meter_id": [1, 2],
        ...     "account_opened_on": [dt.date(2026, 7, 19), None]})
        >>> out = installation_facts(meters=meters, exchanges=None, exchange_reads=None,
        ...     as_of_utc=dt.datetime(2026, 7, 21, 11, tzinfo=dt.UTC),
        ...     last_day=dt.date(2026, 7, 20))
        >>> out["days_since_move_in"].to_list()
        [1, None]
    """
    frame = meters.select(
        "meter_id",
        (pl.lit(last_day) - pl.col("account_opened_on")).dt.total_days().alias("days_since_move_in")
        if "account_opened_on" in meters.columns
        else pl.lit(None, pl.Int64).alias("days_since_move_in"),
    )
    if exchanges is None or exchanges.is_empty():
        return frame.with_columns(
            pl.lit(None, pl.Float64).alias("installed_days_ago"),
            pl.lit(None, pl.Float64).alias("removed_kwh_per_day"),
        ).select("meter_id", "installed_days_ago", "removed_kwh_per_day", "days_since_move_in")
    latest = (
        exchanges.filter(pl.col("exchanged_at_utc") <= as_of_utc)
        .sort("exchanged_at_utc")
        .group_by("installed_meter_id")
        .last()
        .select(
            pl.col("installed_meter_id").alias("meter_id"),
            "removed_meter_id",
            "exchanged_at_utc",
            ((pl.lit(as_of_utc) - pl.col("exchanged_at_utc")).dt.total_seconds() / 86_400.0).alias(
                "installed_days_ago"
            ),
        )
    )
    if exchange_reads is not None and not exchange_reads.is_empty():
        before = (
            latest.select("removed_meter_id", "exchanged_at_utc")
            .join(
                exchange_reads.select(
                    pl.col("meter_id").alias("removed_meter_id"),
                    "interval_start_utc",
                    "interval_s",
                    "value",
                ),
                on="removed_meter_id",
            )
            .filter(pl.col("interval_start_utc") < pl.col("exchanged_at_utc"))
            .group_by("removed_meter_id")
            .agg(
                (pl.col("value").sum() * 86_400.0 / pl.col("interval_s").sum()).alias(
                    "removed_kwh_per_day"
                )
            )
        )
        latest = latest.join(before, on="removed_meter_id", how="left")
    else:
        latest = latest.with_columns(pl.lit(None, pl.Float64).alias("removed_kwh_per_day"))
    return frame.join(
        latest.select(
            "meter_id",
            pl.col("installed_days_ago").round(1),
            pl.col("removed_kwh_per_day").cast(pl.Float64).round(2),
        ),
        on="meter_id",
        how="left",
    ).select("meter_id", "installed_days_ago", "removed_kwh_per_day", "days_since_move_in")
