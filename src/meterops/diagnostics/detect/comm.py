"""Non-communicating meters: silent for too long, too few reads arriving, or a fading signal.

Three modes: ``silent`` (no read for ``non_comm_hours``), ``intermittent`` (read success
below ``min_read_success`` over the last ``comm_days``) and ``degrading`` (reads still
arrive but the RSSI has been fading steadily: the weak path is caught before it fails).

A fading signal is judged by :func:`rssi_trend`, a least-squares line through the window's
daily RSSI reports, not by two single reports: a healthy meter's daily RSSI scatters about
1.5 dB around a steady level, so the difference of two reports is often 3 to 4 dB while the
fitted slope stays within a tenth of a dB per day; a weak path loses its margin dB by dB
(about 0.4 to 1.6 dB a day), a straight, significant fall. ``degrading`` needs at least
``rssi_min_reports`` reports, a fitted fall of ``rssi_fall_db`` or more over them and a
slope at least ``rssi_trend_t`` standard errors below zero (the absolute level does not
matter: a path's margin is its weakest link, which a strong last hop does not show).

A meter whose transformer or feeder is in a power outage is not a non-comm: when at least
``outage_share`` of the meters on its transformer (or feeder) logged a power loss or a last
gasp with no restore since, the meter is left out (a pulled meter's own ``meter_removed``
event overrides this: its transformer is fine). The outage system's own record
(``outages.service.outage_periods``, passed as ``outages``) suppresses too: a meter that fell
silent inside a recorded transformer or feeder outage is not judged until ``non_comm_hours``
after the restore (it may come back), and missing reads during a recorded outage do not make
a meter intermittent. A meter that sent nothing in the whole window was silent before any
outage in it and is judged (the outage system keeps such a meter's outage open only because
it never sends a restore); a meter whose signal has been fading steadily (see above) stays,
since an outage of hours does not explain a fade over days.

Pure module: polars and pure meterops modules only.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from meterops.diagnostics.detect._common import as_exceptions, event_name_expr, utc_literal
from meterops.diagnostics.kinds import ExceptionKind
from meterops.diagnostics.params import DetectParams

__all__ = [
    "OUTAGE_PERIODS",
    "RSSI_RESOLUTION_DB",
    "detect_non_communicating",
    "outage_state",
    "rssi_trend",
]

OUTAGE_PERIODS = pl.Schema(
    [
        ("meter_id", pl.Int64()),
        ("outage_start_utc", pl.Datetime("us", "UTC")),
        ("outage_end_utc", pl.Datetime("us", "UTC")),
    ]
)
"""Recorded outage periods per meter (``outage_end_utc`` null while it lasts)."""

RSSI_RESOLUTION_DB = 0.5
"""Resolution of reported RSSI [dB]: the trend's residual spread is taken as at least this,
so a handful of identical reports does not make an infinitely certain slope."""

_OUTAGE = ("power_loss", "last_gasp")
_RESTORE = ("power_restored", "power_restored_nic")


def outage_state(
    *, meters: pl.DataFrame, events: pl.DataFrame, outage_share: float
) -> pl.DataFrame:
    """Which meters sit on a transformer or feeder that is in an outage now.

    Args:
        meters: ``METER_CONTEXT`` rows (``meter_id``, ``transformer_code``, ``feeder_code``).
        events: Stored events (``EVENTS``) up to the moment judged.
        outage_share: Share of a transformer's (feeder's) meters with an unrestored power
            loss that puts it in an outage. [0-1]

    Returns:
        ``meter_id``, ``unrestored`` (own power loss not restored), ``meter_removed`` (own
        removal event), ``transformer_outage_share``, ``feeder_outage_share`` and
        ``in_outage`` (the grid, not the meter, explains silence).
    """
    named = events.lazy().with_columns(event_name_expr().alias("event_name"))
    own = named.group_by("meter_id").agg(
        pl.col("event_time_utc").filter(pl.col("event_name").is_in(_OUTAGE)).max().alias("lo"),
        pl.col("event_time_utc").filter(pl.col("event_name").is_in(_RESTORE)).max().alias("lr"),
        (pl.col("event_name") == "meter_removed").any().alias("meter_removed"),
    )
    frame = (
        meters.lazy()
        .select("meter_id", "transformer_code", "feeder_code")
        .join(own, on="meter_id", how="left")
        .with_columns(
            (
                pl.col("lo").is_not_null()
                & (pl.col("lr").is_null() | (pl.col("lr") < pl.col("lo")))
            ).alias("unrestored"),
            pl.col("meter_removed").fill_null(value=False),
        )
        .with_columns(
            pl.col("unrestored")
            .cast(pl.Float64)
            .mean()
            .over("transformer_code")
            .alias("transformer_outage_share"),
            pl.col("unrestored")
            .cast(pl.Float64)
            .mean()
            .over("feeder_code")
            .alias("feeder_outage_share"),
        )
        .with_columns(
            in_outage=(
                (
                    (pl.col("transformer_outage_share") >= outage_share)
                    & pl.col("transformer_code").is_not_null()
                )
                | (
                    (pl.col("feeder_outage_share") >= outage_share)
                    & pl.col("feeder_code").is_not_null()
                )
            )
            & ~pl.col("meter_removed")
        )
    )
    return frame.select(
        "meter_id",
        "unrestored",
        "meter_removed",
        "transformer_outage_share",
        "feeder_outage_share",
        "in_outage",
    ).collect()


def rssi_trend(comm_stats: pl.DataFrame) -> pl.DataFrame:
    """A least-squares line through each meter's RSSI reports.

    Args:
        comm_stats: Comm stats (``COMM_STATS``: ``meter_id``, ``period_start_utc``,
            ``rssi_dbm``); rows without an RSSI are left out.

    Returns:
        ``meter_id``, ``rssi_reports`` (reports with an RSSI), ``rssi_trend_db_per_day``
        (fitted slope [dB/d]; null with fewer than three reports), ``rssi_fade_db`` (fitted
        fall from the first report to the last, positive when the signal faded [dB]) and
        ``rssi_trend_t`` (the slope over its standard error, the residual spread taken as at
        least :data:`RSSI_RESOLUTION_DB`; strongly negative: a steady fade, not scatter).

    Examples:
        >>> import datetime as dt
        >>> days = [dt.datetime(2026, 7, d, tzinfo=dt.UTC) for d in range(1, 11)]
        >>> stats = pl.DataFrame({"meter_id": [1] * 10, "period_start_utc": days,
        ...                       "rssi_dbm": [-70.0 - d for d in range(10)]})
        >>> rssi_trend(stats).select("rssi_trend_db_per_day", "rssi_fade_db").row(0)
        (-1.0, 9.0)
    """
    n = pl.len().cast(pl.Float64)
    slope = pl.cov("t", "rssi_dbm") / pl.col("t").var()
    residual = (
        ((pl.col("rssi_dbm").var() - slope.pow(2) * pl.col("t").var()).clip(0.0) * (n - 1.0))
        / (n - 2.0)
    ).sqrt()
    spread = pl.max_horizontal(residual, pl.lit(RSSI_RESOLUTION_DB))
    error = spread / (pl.col("t").var() * (n - 1.0)).sqrt()
    enough = (n >= 3) & (pl.col("t").var() > 0)
    return (
        comm_stats.lazy()
        .filter(pl.col("rssi_dbm").is_not_null())
        .select(
            "meter_id",
            "rssi_dbm",
            (
                (pl.col("period_start_utc") - pl.col("period_start_utc").min()).dt.total_seconds()
                / 86_400.0
            ).alias("t"),
        )
        .group_by("meter_id")
        .agg(
            pl.len().alias("rssi_reports"),
            pl.when(enough).then(slope).alias("_slope"),
            pl.when(enough).then(slope / error).alias("_t"),
            (pl.col("t").max() - pl.col("t").min()).alias("_span"),
        )
        .select(
            "meter_id",
            "rssi_reports",
            pl.col("_slope").round(2).alias("rssi_trend_db_per_day"),
            (-pl.col("_slope") * pl.col("_span")).round(1).alias("rssi_fade_db"),
            pl.col("_t").round(1).alias("rssi_trend_t"),
        )
        .sort("meter_id")
        .collect()
    )


def _recorded_outages(
    frame: pl.DataFrame,
    outages: pl.DataFrame | None,
    *,
    as_of_utc: dt.datetime,
    params: DetectParams,
) -> pl.DataFrame:
    """Drop the candidates a recorded outage explains (see the module docstring)."""
    if outages is None or outages.is_empty() or frame.is_empty():
        return frame
    grace = utc_literal(as_of_utc - dt.timedelta(hours=params.non_comm_hours))
    comm_from = utc_literal(as_of_utc - dt.timedelta(days=params.comm_days))
    as_of = utc_literal(as_of_utc)
    slack = dt.timedelta(hours=1)
    periods = outages.lazy().select(
        "meter_id",
        "outage_start_utc",
        pl.col("outage_end_utc").fill_null(as_of).alias("end"),
    )
    explained = (
        frame.lazy()
        .select("meter_id", "silent", "silent_since", "never_reported", "fading")
        .join(periods, on="meter_id")
        .filter(pl.col("outage_start_utc") <= as_of)
        .filter(
            pl.when(pl.col("silent"))
            .then(
                (pl.col("outage_start_utc") <= pl.col("silent_since") + slack)
                & (pl.col("end") >= pl.col("silent_since") - slack)
                & (pl.col("end") >= grace)
                # silent since before the window: an outage record kept open for the whole
                # window only because this meter never sent a restore explains nothing
                & ~pl.col("never_reported")
            )
            # a recorded outage explains missing reads, not a signal fading for days
            .otherwise((pl.col("end") >= comm_from) & ~pl.col("fading"))
        )
        .select("meter_id")
        .unique()
        .collect()
    )
    return frame.filter(~pl.col("meter_id").is_in(explained["meter_id"].implode()))


def detect_non_communicating(
    *,
    meters: pl.DataFrame,
    last_reads: pl.DataFrame,
    comm_stats: pl.DataFrame,
    events: pl.DataFrame,
    window_start_utc: dt.datetime,
    as_of_utc: dt.datetime,
    params: DetectParams,
    outages: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Meters silent for ``non_comm_hours`` or below ``min_read_success``, outages excepted.

    Args:
        meters: ``METER_CONTEXT``.
        last_reads: ``meter_id``, ``last_read_utc`` (from ``summary.last_read_times``).
        comm_stats: Stored comm stats (``COMM_STATS``) of the window.
        events: Stored events (``EVENTS``) of the window.
        window_start_utc: Start of the data window; a meter with no read in it has been
            silent since then at least. [UTC]
        as_of_utc: The moment judged. [UTC]
        params: Thresholds.
        outages: :data:`OUTAGE_PERIODS` the outage system recorded (None: none known).

    Returns:
        ``EXCEPTIONS`` rows of kind ``non_communicating``; evidence: ``mode`` (``silent`` or
        ``intermittent`` or ``degrading``), ``silent_hours``, ``last_read_utc``, ``read_success``,
        ``reads_received``, ``reads_expected``, ``never_reported``, ``rssi_fall_db``,
        ``rssi_recent_dbm``.
    """
    as_of = utc_literal(as_of_utc)
    comm_from = as_of_utc - dt.timedelta(days=params.comm_days)
    success = (
        comm_stats.lazy()
        .filter(
            (pl.col("period_start_utc") >= utc_literal(comm_from))
            & (pl.col("period_start_utc") < as_of)
        )
        .group_by("meter_id")
        .agg(
            pl.col("reads_expected").sum().alias("reads_expected"),
            pl.col("reads_received").sum().alias("reads_received"),
            pl.col("period_start_utc")
            .filter(pl.col("reads_received") < pl.col("reads_expected"))
            .min()
            .alias("first_short_utc"),
        )
    )
    fading = (
        comm_stats.lazy()
        .filter(pl.col("rssi_dbm").is_not_null())
        .sort("meter_id", "period_start_utc")
        .group_by("meter_id")
        .agg(
            (pl.col("rssi_dbm").head(3).mean() - pl.col("rssi_dbm").tail(3).mean())
            .round(1)
            .alias("rssi_fall_db"),
            pl.col("rssi_dbm").tail(3).mean().round(1).alias("rssi_recent_dbm"),
        )
    )
    trend = rssi_trend(comm_stats).lazy()
    outage = outage_state(meters=meters, events=events, outage_share=params.outage_share)
    candidates = (
        meters.lazy()
        .select("meter_id")
        .join(last_reads.lazy(), on="meter_id", how="left")
        .join(success, on="meter_id", how="left")
        .join(fading, on="meter_id", how="left")
        .join(trend, on="meter_id", how="left")
        .join(outage.lazy(), on="meter_id", how="left")
        .with_columns(
            pl.col("last_read_utc").is_null().alias("never_reported"),
            pl.coalesce("last_read_utc", utc_literal(window_start_utc)).alias("silent_since"),
            (
                pl.col("reads_received").cast(pl.Float64)
                / pl.col("reads_expected").cast(pl.Float64)
            ).alias("read_success"),
        )
        .with_columns(
            ((as_of - pl.col("silent_since")).dt.total_seconds() / 3600.0)
            .round(1)
            .alias("silent_hours")
        )
        .with_columns(
            (pl.col("silent_hours") >= params.non_comm_hours).alias("silent"),
        )
        .with_columns(
            (~pl.col("silent") & (pl.col("read_success") < params.min_read_success)).alias(
                "intermittent"
            )
        )
        .with_columns(
            (
                (pl.col("rssi_reports") >= params.rssi_min_reports)
                & (pl.col("rssi_fade_db") >= params.rssi_fall_db)
                & (pl.col("rssi_trend_t") <= -params.rssi_trend_t)
            )
            .fill_null(value=False)
            .alias("fading")
        )
        .with_columns(
            (
                ~pl.col("silent")
                & ~pl.col("intermittent").fill_null(value=False)
                & pl.col("fading")
            ).alias("degrading")
        )
        .filter(
            (
                pl.col("silent")
                | pl.col("intermittent").fill_null(value=False)
                | pl.col("degrading").fill_null(value=False)
            )
            & ~pl.col("in_outage").fill_null(value=False)
        )
        .collect()
    )
    kept = _recorded_outages(candidates, outages, as_of_utc=as_of_utc, params=params)
    frame = kept.with_columns(
        pl.when(pl.col("silent"))
        .then(pl.lit("silent"))
        .when(pl.col("intermittent").fill_null(value=False))
        .then(pl.lit("intermittent"))
        .otherwise(pl.lit("degrading"))
        .alias("mode"),
        pl.when(pl.col("silent"))
        .then(pl.col("silent_since"))
        .when(pl.col("intermittent").fill_null(value=False))
        .then(pl.coalesce("first_short_utc", utc_literal(comm_from)))
        .otherwise(utc_literal(window_start_utc))
        .alias("first_seen_utc"),
        as_of.alias("last_seen_utc"),
        pl.col("read_success").round(3),
        pl.col("last_read_utc").dt.to_string("%Y-%m-%dT%H:%M:%SZ"),
    )
    return as_exceptions(
        frame,
        ExceptionKind.NON_COMMUNICATING,
        (
            "mode",
            "silent_hours",
            "last_read_utc",
            "read_success",
            "reads_received",
            "reads_expected",
            "never_reported",
            "rssi_fall_db",
            "rssi_recent_dbm",
            "rssi_reports",
            "rssi_trend_db_per_day",
            "rssi_fade_db",
            "rssi_trend_t",
        ),
    )
