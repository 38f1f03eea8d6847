"""Per-meter facts that verdict rules read: radio, mesh neighbourhood, events, consumption.

Computed column-wise for the meters that have exceptions. Neighbourhood facts use the
topology the head-end reports: the meter's collector and mesh parent (latest comm stats), the
collector's latest status, and how many of the meters on the same collector or parent are
silent too.

Pure module: polars and pure meterops modules only.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from meterops.diagnostics.detect._common import event_name_expr, utc_literal
from meterops.diagnostics.detect.comm import rssi_trend
from meterops.diagnostics.detect.drop import adjusted_daily
from meterops.diagnostics.detect.events import REVERSE_EVENTS, TAMPER_EVENTS
from meterops.diagnostics.detect.usage import installation_facts
from meterops.diagnostics.engine import DiagnosticInputs
from meterops.diagnostics.kinds import ExceptionKind
from meterops.diagnostics.params import DetectParams

__all__ = ["FACT_NAMES", "meter_facts"]

FACT_NAMES = (
    "mode",
    "silent_hours",
    "never_reported",
    "read_success",
    "rssi_dbm",
    "rssi_change_db",
    "hop_count",
    "parent_changed",
    "collector_code",
    "collector_down",
    "collector_down_hours",
    "silent_before_collector_down",
    "collector_meters",
    "collector_silent_share",
    "parent_meters",
    "parent_silent_share",
    "comm_failure_events",
    "outage_after_last_read",
    "meter_removed_events",
    "power_failed_events",
    "high_temperature_events",
    "tamper_events",
    "reverse_events",
    "clock_error_days",
    "usage_ratio",
    "usage_ratio_since_tamper",
    "comm_stats_days",
    "prior_kwh_per_day",
    "kwh_received",
    "transformer_rated",
    "account_active",
    "unknown_serials_reported",
    "transformer_voltage_share",
    "basis",
    "drop_ratio",
    "neighbour_ratio",
    "export_ratio",
    "step_t",
    "installed_days_ago",
    "removed_kwh_per_day",
    "days_since_move_in",
    "net_metering",
    "crossed_partner",
    "rssi_reports",
    "rssi_trend_db_per_day",
    "rssi_fade_db",
    "rssi_trend_t",
    "collector_fading_share",
    "program_mismatch",
    "program_tou_flagged",
    "program_tou_share",
)
"""Every fact a rule may test (documented in docs/diagnostics.md)."""


def _comm(inputs: DiagnosticInputs) -> pl.LazyFrame:
    stats = inputs.comm_stats.lazy().sort("meter_id", "period_start_utc")
    with_rssi = stats.filter(pl.col("rssi_dbm").is_not_null())
    rssi = with_rssi.group_by("meter_id").agg(
        pl.col("rssi_dbm").last().alias("rssi_dbm"),
        (pl.col("rssi_dbm").last() - pl.col("rssi_dbm").first()).round(1).alias("rssi_change_db"),
    )
    days = stats.group_by("meter_id").agg(pl.len().alias("comm_stats_days"))
    mesh = (
        stats.filter(pl.col("collector_code").is_not_null())
        .group_by("meter_id")
        .agg(
            pl.col("hop_count").last().alias("hop_count"),
            (pl.col("parent_node").n_unique() > 1).alias("parent_changed"),
            pl.col("parent_node").last().alias("parent_node"),
            pl.col("collector_code").last().alias("collector_code"),
        )
    )
    return (
        rssi.join(mesh, on="meter_id", how="full", coalesce=True)
        .join(days, on="meter_id", how="full", coalesce=True)
        .join(rssi_trend(inputs.comm_stats).lazy(), on="meter_id", how="left")
    )


_TOU_SHARE_BASIS = "tou_on_peak_share"
"""``basis`` of a high-bill exception raised by the on-peak share test (``detect.usage``)."""


def _program_facts(inputs: DiagnosticInputs, high_bill: pl.DataFrame) -> pl.DataFrame:
    """``program_mismatch``, ``program_tou_flagged``, ``program_tou_share`` per meter.

    ``program_mismatch``: the meter's program is one that ``programs.validate_programs``
    found billing other periods than its tariff's filed definition (False: not among them;
    null: no program recorded, or the programs were not checked). The cohort facts count the
    meters with an open account on the same program whose on-peak share test fired (a
    high-bill exception of basis ``tou_on_peak_share``), and their share of them: a program
    that bins on-peak energy wrong shifts most of its meters, while the test (a share at
    least 1.2 times the rate's median) flags only the few heaviest on-peak customers of a
    program that bins right.
    """
    flagged = high_bill.filter(pl.col("basis") == _TOU_SHARE_BASIS)["meter_id"].implode()
    mismatched = (
        None
        if inputs.program_mismatches is None
        else inputs.program_mismatches["program_code"].implode()
    )
    return (
        inputs.meters.select("meter_id", "program_code", "account_active")
        .with_columns(
            (pl.col("account_active") & pl.col("meter_id").is_in(flagged)).alias("_flagged"),
            (
                pl.lit(None, pl.Boolean)
                if mismatched is None
                else pl.when(pl.col("program_code").is_not_null()).then(
                    pl.col("program_code").is_in(mismatched)
                )
            ).alias("program_mismatch"),
        )
        .with_columns(
            pl.when(pl.col("program_code").is_not_null())
            .then(pl.col("_flagged").sum().over("program_code"))
            .cast(pl.Int64)
            .alias("program_tou_flagged"),
            pl.when(
                pl.col("program_code").is_not_null()
                & (pl.col("account_active").sum().over("program_code") > 0)
            )
            .then(
                (
                    pl.col("_flagged").sum().over("program_code")
                    / pl.col("account_active").sum().over("program_code")
                ).round(3)
            )
            .alias("program_tou_share"),
        )
        .select("meter_id", "program_mismatch", "program_tou_flagged", "program_tou_share")
    )


def meter_facts(
    inputs: DiagnosticInputs,
    exceptions: pl.DataFrame,
    *,
    params: DetectParams,
    unknown_serials_reported: int = 0,
) -> pl.DataFrame:
    """The facts of every meter that has an exception.

    Args:
        inputs: The window's frames.
        exceptions: ``EXCEPTIONS`` rows of the same window.
        params: Detector thresholds (recent-days split, outage share).
        unknown_serials_reported: Serials the head-end reported that the back office does
            not know (the store's ``unknown_meter`` quarantine), a fleet-wide fact.

    Returns:
        ``meter_id`` and one column per name in :data:`FACT_NAMES` (null where unknown).
    """
    as_of = inputs.as_of_utc
    noncomm = exceptions.filter(pl.col("kind") == ExceptionKind.NON_COMMUNICATING.value)
    decoded = noncomm.select(
        "meter_id",
        pl.col("evidence")
        .str.json_decode(
            pl.Struct(
                {
                    "mode": pl.String,
                    "silent_hours": pl.Float64,
                    "never_reported": pl.Boolean,
                    "read_success": pl.Float64,
                }
            )
        )
        .alias("e"),
    ).unnest("e")
    silent_ids = decoded.filter(pl.col("mode") == "silent")["meter_id"].implode()
    comm = _comm(inputs).collect()
    everyone = (
        inputs.meters.lazy()
        .select("meter_id", "transformer_code", "transformer_rated", "account_active")
        .join(comm.lazy(), on="meter_id", how="left")
        .with_columns(
            pl.col("meter_id").is_in(silent_ids).alias("_silent"),
            # a steady fade as the weak-path rules and the degrading detector judge it
            (
                (pl.col("rssi_fade_db") >= params.rssi_fall_db)
                & (pl.col("rssi_trend_t") <= -params.rssi_trend_t)
            )
            .fill_null(value=False)
            .alias("_fading"),
        )
        .with_columns(
            pl.when(pl.col("collector_code").is_not_null())
            .then(pl.len().over("collector_code"))
            .alias("collector_meters"),
            pl.when(pl.col("collector_code").is_not_null())
            .then(pl.col("_silent").cast(pl.Float64).mean().over("collector_code").round(3))
            .alias("collector_silent_share"),
            pl.when(pl.col("collector_code").is_not_null())
            .then(pl.col("_fading").cast(pl.Float64).mean().over("collector_code").round(3))
            .alias("collector_fading_share"),
            pl.when(pl.col("parent_node").is_not_null())
            .then(pl.len().over("parent_node"))
            .alias("parent_meters"),
            pl.when(pl.col("parent_node").is_not_null())
            .then(pl.col("_silent").cast(pl.Float64).mean().over("parent_node").round(3))
            .alias("parent_silent_share"),
        )
    )
    status = (
        inputs.collectors.lazy()
        .filter(pl.col("observed_at_utc") < utc_literal(as_of))
        .sort("observed_at_utc")
        .group_by("node_id")
        .agg(
            pl.col("status").last().alias("collector_status"),
            pl.col("observed_at_utc").filter(pl.col("status") == "up").max().alias("_last_up"),
        )
        .rename({"node_id": "collector_code"})
        .with_columns(
            pl.when(pl.col("collector_status") == "down")
            .then(
                (
                    utc_literal(as_of)
                    - pl.coalesce("_last_up", utc_literal(inputs.window_start_utc))
                ).dt.total_seconds()
                / 3600.0
            )
            .round(1)
            .alias("collector_down_hours")
        )
        .drop("_last_up")
    )
    named = inputs.events.lazy().with_columns(event_name_expr().alias("event_name"))
    history = (
        (inputs.events if inputs.event_history is None else inputs.event_history)
        .lazy()
        .with_columns(event_name_expr().alias("event_name"))
    )
    last_reads = inputs.last_reads.lazy()
    events = named.group_by("meter_id").agg(
        (pl.col("event_name") == "comm_failure").sum().alias("comm_failure_events"),
        pl.col("event_name").is_in(list(TAMPER_EVENTS)).sum().alias("tamper_events"),
        pl.col("event_name").is_in(list(REVERSE_EVENTS)).sum().alias("reverse_events"),
        pl.col("event_time_utc")
        .filter(pl.col("event_name") == "clock_error")
        .dt.convert_time_zone(inputs.zone)
        .dt.date()
        .n_unique()
        .alias("clock_error_days"),
    )
    # Events that explain a silence may predate the window: read them from the history,
    # after the meter's last read (any time when it never reported in the window).
    after_last = pl.col("last_read_utc").is_null() | (
        pl.col("event_time_utc") >= pl.col("last_read_utc") - dt.timedelta(hours=1)
    )
    outage = pl.col("event_name").is_in(["last_gasp", "power_loss"]) & after_last
    restore = pl.col("event_name").is_in(["power_restored", "power_restored_nic"])
    past = (
        history.join(last_reads, on="meter_id", how="left")
        .group_by("meter_id")
        .agg(
            pl.col("event_time_utc").filter(outage).max().alias("_lo"),
            pl.col("event_time_utc").filter(restore).max().alias("_lr"),
            ((pl.col("event_name") == "meter_removed") & after_last)
            .sum()
            .alias("meter_removed_events"),
            ((pl.col("event_name") == "power_failed") & after_last)
            .sum()
            .alias("power_failed_events"),
            (pl.col("event_name") == "high_temperature").sum().alias("high_temperature_events"),
        )
        .with_columns(
            (
                pl.col("_lo").is_not_null()
                & (pl.col("_lr").is_null() | (pl.col("_lr") < pl.col("_lo")))
            ).alias("outage_after_last_read")
        )
        .drop("_lo", "_lr")
    )
    recent_first = inputs.last_day - dt.timedelta(days=params.recent_days - 1)
    usage = (
        inputs.daily.lazy()
        .filter(pl.col("day") <= inputs.last_day)
        .group_by("meter_id")
        .agg(
            pl.col("kwh_delivered").filter(pl.col("day") >= recent_first).mean().alias("recent"),
            pl.col("kwh_delivered").filter(pl.col("day") < recent_first).mean().alias("before"),
            pl.col("kwh_received")
            .filter(pl.col("day") >= recent_first)
            .sum()
            .alias("kwh_received"),
        )
        .with_columns(
            pl.when(pl.col("before") > 0.5)
            .then(pl.col("recent") / pl.col("before"))
            .otherwise(None)
            .round(3)
            .alias("usage_ratio"),
            pl.col("before").round(2).alias("prior_kwh_per_day"),
            pl.col("kwh_received").round(2),
        )
        .select("meter_id", "usage_ratio", "prior_kwh_per_day", "kwh_received")
    )
    tamper_day = (
        named.filter(pl.col("event_name").is_in(list(TAMPER_EVENTS)))
        .group_by("meter_id")
        .agg(
            pl.col("event_time_utc")
            .min()
            .dt.convert_time_zone(inputs.zone)
            .dt.date()
            .alias("tamper_day")
        )
    )
    # days with at least half their reads, scaled to full days, weekly shape and weather
    # taken out (detect.drop.adjusted_daily): reads lost on the way or a hot spell are not
    # a change of the premise's use
    tampered = inputs.daily.join(tamper_day.select("meter_id").collect(), on="meter_id")
    since_tamper = (
        adjusted_daily(tampered, last_day=inputs.last_day, factors=inputs.daily, min_read_share=0.5)
        .lazy()
        .join(tamper_day, on="meter_id")
        .group_by("meter_id")
        .agg(
            pl.col("x").filter(pl.col("day") > pl.col("tamper_day")).mean().alias("a"),
            pl.col("x").filter(pl.col("day") < pl.col("tamper_day")).mean().alias("b"),
        )
        .select(
            "meter_id",
            pl.when(pl.col("b") > 0.5)
            .then(pl.col("a") / pl.col("b"))
            .otherwise(None)
            .round(3)
            .alias("usage_ratio_since_tamper"),
        )
    )
    voltage = exceptions.filter(pl.col("kind") == ExceptionKind.VOLTAGE_OUT_OF_RANGE.value)
    voltage_share = (
        inputs.meters.lazy()
        .select("meter_id", "transformer_code")
        .with_columns(
            pl.col("meter_id")
            .is_in(voltage["meter_id"].implode())
            .cast(pl.Float64)
            .mean()
            .over("transformer_code")
            .round(3)
            .alias("transformer_voltage_share")
        )
        .select("meter_id", "transformer_voltage_share")
    )
    high_bill = exceptions.filter(pl.col("kind") == ExceptionKind.HIGH_BILL.value).select(
        "meter_id",
        pl.col("evidence").str.json_path_match("$.basis").alias("basis"),
    )
    program = _program_facts(inputs, high_bill)
    drop = exceptions.filter(pl.col("kind") == ExceptionKind.CONSUMPTION_DROP.value).select(
        "meter_id",
        pl.col("evidence")
        .str.json_decode(
            pl.Struct(
                {
                    "drop_ratio": pl.Float64,
                    "neighbour_ratio": pl.Float64,
                    "export_ratio": pl.Float64,
                    "step_t": pl.Float64,
                }
            )
        )
        .alias("d"),
    )
    drop = (
        drop.unnest("d")
        if not drop.is_empty()
        else drop.drop("d").with_columns(
            pl.lit(None, pl.Float64).alias("drop_ratio"),
            pl.lit(None, pl.Float64).alias("neighbour_ratio"),
            pl.lit(None, pl.Float64).alias("export_ratio"),
            pl.lit(None, pl.Float64).alias("step_t"),
        )
    )
    frame = (
        exceptions.lazy()
        .select("meter_id")
        .unique()
        .join(everyone, on="meter_id", how="left")
        .join(decoded.lazy(), on="meter_id", how="left")
        .join(status, on="collector_code", how="left")
        .join(events, on="meter_id", how="left")
        .join(past, on="meter_id", how="left")
        .join(usage, on="meter_id", how="left")
        .join(since_tamper, on="meter_id", how="left")
        .join(voltage_share, on="meter_id", how="left")
        .join(high_bill.lazy(), on="meter_id", how="left")
        .join(program.lazy(), on="meter_id", how="left")
        .join(drop.lazy(), on="meter_id", how="left")
        .join(
            installation_facts(
                meters=inputs.meters,
                exchanges=inputs.exchanges,
                exchange_reads=inputs.exchange_reads,
                as_of_utc=as_of,
                last_day=inputs.last_day,
            ).lazy(),
            on="meter_id",
            how="left",
        )
        .with_columns(
            pl.col("meter_id")
            .is_in(
                exceptions.filter(pl.col("kind") == ExceptionKind.CROSSED_METERS.value)[
                    "meter_id"
                ].implode()
            )
            .alias("crossed_partner")
        )
        .join(inputs.meters.lazy().select("meter_id", "net_metering"), on="meter_id", how="left")
        .with_columns(
            (pl.col("collector_status") == "down").fill_null(value=False).alias("collector_down"),
            (pl.col("silent_hours") > pl.col("collector_down_hours") + 2.0).alias(
                "silent_before_collector_down"
            ),
            pl.lit(unknown_serials_reported).alias("unknown_serials_reported"),
            pl.col("outage_after_last_read").fill_null(value=False),
            *(
                pl.col(name).fill_null(0)
                for name in (
                    "comm_failure_events",
                    "meter_removed_events",
                    "power_failed_events",
                    "high_temperature_events",
                    "tamper_events",
                    "reverse_events",
                    "clock_error_days",
                    "comm_stats_days",
                    "rssi_reports",
                )
            ),
        )
        .select("meter_id", *FACT_NAMES)
        .sort("meter_id")
        .collect()
    )
    return frame
