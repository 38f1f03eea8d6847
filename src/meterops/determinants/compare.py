"""Compare computed TOU buckets with the meter-programmed TOU registers.

A TOU meter accumulates its delivered energy into one dial per TOU period, following the
program it carries. Computing the same buckets from the interval reads with the **tariff's**
schedule and comparing them with the registers' advances over the same span tells whether the
meter bills the way the tariff says:

* a healthy meter agrees in every period, up to the dial resolution;
* a meter with a **wrong program** (e.g. a missing evening shoulder) moves energy from one
  period to another: the total agrees, some periods are over-registered and others
  under-registered by the same amount — a systematic ``allocation_shift``, visible every day;
* a register that does not advance with the intervals at all (stopped, bypassed at the dial,
  wrong multiplier on the dial side) shows as a ``total_mismatch``.

For each meter the same buckets are also computed under every candidate schedule with the
meter's register periods (e.g. every program of the fleet), and the one whose buckets fit the
registers best is reported (``best_schedule_key``): for a misprogrammed meter that names the
program it really runs.

Three steps, so that the heavy part streams like the billing determinants:

1. :func:`plan_register_check`: from the register reads, each meter's span between two
   register reads that have every TOU period (``REGISTER_ADVANCES``), and one billing period
   per meter and candidate schedule over that span (``BILLING_PERIODS``; multiplier 1, since
   dials show secondary values).
2. The engine computes those periods (:func:`~meterops.determinants.engine.compute_determinants`
   or the streaming runner), with ``include_excluded=True`` as the dial counts everything.
3. :func:`compare_registers` joins both: ``REGISTER_COMPARISON`` per meter and period,
   ``METER_REGISTER_SUMMARY`` per meter.

:func:`check_registers` runs the three in memory.

Pure module: standard library, polars and pure meterops modules; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import polars as pl

from meterops.assets.programs import TouSchedule
from meterops.determinants.engine import DeterminantParams, Determinants, compute_determinants
from meterops.determinants.frames import (
    BILLING_PERIODS,
    METER_REGISTER_SUMMARY,
    REGISTER_ADVANCES,
    REGISTER_COMPARISON,
    REGISTER_SPECS,
)
from meterops.errors import InvalidInputError
from meterops.kit.frames import check_frame

__all__ = [
    "REPORTED_STATUSES",
    "CompareParams",
    "RegisterPlan",
    "RegisterReport",
    "check_registers",
    "compare_registers",
    "plan_register_check",
]

REPORTED_STATUSES: Final = frozenset({"allocation_shift", "total_mismatch"})
"""Meter statuses that mean the registers disagree with the tariff."""

_REGISTER_CHANNEL: Final = "kwh_delivered"


@dataclass(frozen=True, slots=True)
class CompareParams:
    """Tolerances of the register comparison.

    Attributes:
        tolerance_pct: A period agrees when ``|register − computed|`` is at most this share of
            the period's computed energy [%] ...
        resolution_steps: ... or at most this many dial resolutions (``10^-decimals`` kWh;
            each of the two reads is truncated by up to one).
        min_completeness: Below this share of expected intervals the span is not judged. [-]
    """

    tolerance_pct: float = 2.0
    resolution_steps: float = 2.0
    min_completeness: float = 0.99

    def __post_init__(self) -> None:
        if self.tolerance_pct < 0 or self.resolution_steps < 0:
            msg = "tolerance_pct and resolution_steps must not be negative"
            raise InvalidInputError(msg, code="determinants.bad_tolerance")
        if not 0 <= self.min_completeness <= 1:
            msg = f"min_completeness must lie in [0, 1], found {self.min_completeness}"
            raise InvalidInputError(msg, code="determinants.bad_completeness")


@dataclass(frozen=True, slots=True)
class RegisterPlan:
    """What to compute for a register comparison.

    Attributes:
        advances: Register advances per meter and TOU period (``REGISTER_ADVANCES``).
        periods: One billing period per meter and candidate schedule (``BILLING_PERIODS``).
        specs: The meters (``REGISTER_SPECS``).
    """

    advances: pl.DataFrame
    periods: pl.DataFrame
    specs: pl.DataFrame


@dataclass(frozen=True, slots=True)
class RegisterReport:
    """Result of a register comparison.

    Attributes:
        comparison: Per meter and TOU period (``REGISTER_COMPARISON``), against the tariff.
        summary: Per meter (``METER_REGISTER_SUMMARY``).
    """

    comparison: pl.DataFrame
    summary: pl.DataFrame

    @property
    def reported(self) -> pl.DataFrame:
        """Summary rows of meters whose registers disagree with the tariff."""
        return self.summary.filter(pl.col("status").is_in(sorted(REPORTED_STATUSES)))


def plan_register_check(
    register_reads: pl.DataFrame,
    specs: pl.DataFrame,
    *,
    schedules: Mapping[str, TouSchedule],
    start_utc: dt.datetime,
    end_utc: dt.datetime,
) -> RegisterPlan:
    """Register spans, advances and the periods to compute, per meter.

    The span of a meter runs from its first to its last register read time in
    ``[start_utc, end_utc]`` at which every one of its TOU registers was read. The advance is
    ``end − start``; a negative advance is a rollover (``+ 10^register_digits``).

    Args:
        register_reads: Register reads (``reads.schema.REGISTER_READS`` columns ``meter_id``,
            ``channel``, ``read_time_utc``, ``value``, ``tou_period``); only ``kwh_delivered``
            reads with a ``tou_period`` are used. Dial values, secondary side. [kWh]
        specs: The meters to check (``frames.REGISTER_SPECS``).
        schedules: Schedule key → schedule; every tariff key must be there, and every schedule
            whose period names equal a meter's register periods is a candidate for it.
        start_utc: First instant of the range. [UTC]
        end_utc: Last instant of the range. [UTC]

    Returns:
        The plan.

    Raises:
        InvalidInputError: A tariff schedule key is unknown.
    """
    check_frame(specs, REGISTER_SPECS)
    unknown = sorted(set(specs["tariff_schedule_key"].unique()) - set(schedules))
    if unknown:
        msg = f"no TOU schedule for tariff keys {unknown}; known: {sorted(schedules)}"
        raise InvalidInputError(msg, code="determinants.unknown_schedule")
    dials = register_reads.filter(
        (pl.col("channel") == _REGISTER_CHANNEL)
        & pl.col("tou_period").is_not_null()
        & pl.col("read_time_utc").is_between(start_utc, end_utc, closed="both")
        & pl.col("meter_id").is_in(specs["meter_id"].implode())
    ).select("meter_id", "tou_period", "read_time_utc", "value")
    tiers = dials.group_by("meter_id").agg(pl.col("tou_period").n_unique().alias("tiers"))
    complete = (
        dials.group_by("meter_id", "read_time_utc")
        .agg(pl.col("tou_period").n_unique().alias("n"))
        .join(tiers, on="meter_id")
        .filter(pl.col("n") == pl.col("tiers"))
        .group_by("meter_id")
        .agg(
            pl.col("read_time_utc").min().alias("start_read_utc"),
            pl.col("read_time_utc").max().alias("end_read_utc"),
        )
        .filter(pl.col("end_read_utc") > pl.col("start_read_utc"))
    )
    first = dials.join(complete, left_on=["meter_id", "read_time_utc"],
                       right_on=["meter_id", "start_read_utc"])  # fmt: skip
    last = dials.join(complete, left_on=["meter_id", "read_time_utc"],
                      right_on=["meter_id", "end_read_utc"])  # fmt: skip
    advances = (
        first.select("meter_id", "tou_period", pl.col("value").alias("v0"))
        .group_by("meter_id", "tou_period")
        .agg(pl.col("v0").first())
        .join(
            last.select("meter_id", "tou_period", pl.col("value").alias("v1"))
            .group_by("meter_id", "tou_period")
            .agg(pl.col("v1").first()),
            on=["meter_id", "tou_period"],
        )
        .join(complete, on="meter_id")
        .join(specs.select("meter_id", "register_digits"), on="meter_id")
        .with_columns(raw=pl.col("v1") - pl.col("v0"))
        .with_columns(
            register_kwh=pl.when(pl.col("raw") >= 0)
            .then(pl.col("raw"))
            .otherwise(pl.col("raw") + pl.lit(10.0).pow(pl.col("register_digits"))),
            message=pl.lit(None, pl.String),
        )
        .select(REGISTER_ADVANCES.names)
        .sort("meter_id", "tou_period")
    )
    names = {key: frozenset(s.period_names) for key, s in schedules.items()}
    meter_tiers = advances.group_by("meter_id").agg(pl.col("tou_period").unique().sort())
    rows: list[dict[str, object]] = []
    spans = complete.join(meter_tiers, on="meter_id").join(specs, on="meter_id")
    for row in spans.iter_rows(named=True):
        wanted = frozenset(row["tou_period"])
        keys = {row["tariff_schedule_key"]}
        keys |= {k for k, n in names.items() if n == wanted}
        rows.extend(
            {
                "meter_id": row["meter_id"],
                "account_id": None,
                "period_start_utc": row["start_read_utc"],
                "period_end_utc": row["end_read_utc"],
                "schedule_key": key,
                "multiplier": 1.0,
                "net_metering": False,
            }
            for key in sorted(keys)
        )
    periods = pl.DataFrame(rows, schema=BILLING_PERIODS.schema)
    return RegisterPlan(advances, periods, specs.select(REGISTER_SPECS.names))


def _tolerance(decimals: pl.Expr, params: CompareParams) -> pl.Expr:
    return params.resolution_steps * pl.lit(10.0).pow(-decimals.cast(pl.Float64))


def compare_registers(
    plan: RegisterPlan, computed: Determinants, *, params: CompareParams | None = None
) -> RegisterReport:
    """Compare the plan's register advances with the computed buckets.

    Args:
        plan: From :func:`plan_register_check`.
        computed: Determinants of ``plan.periods`` (secondary side, excluded reads included).
        params: Tolerances.

    Returns:
        The comparison per meter and period (against the tariff schedule) and the summary per
        meter, with the best-fitting schedule.
    """
    params = params or CompareParams()
    specs = plan.specs
    completeness = computed.by_period.select(
        "meter_id",
        "schedule_key",
        (pl.col("intervals") / pl.col("expected_intervals").clip(lower_bound=1)).alias(
            "completeness"
        ),
    )
    buckets = (
        computed.by_tou.select(
            "meter_id", "schedule_key", "tou_period", pl.col("delivered_kwh").alias("computed_kwh")
        )
        .join(completeness, on=["meter_id", "schedule_key"], how="left")
        .join(
            plan.advances.select("meter_id", "tou_period", "register_kwh"),
            on=["meter_id", "tou_period"],
            how="full",
            coalesce=True,
        )
    )
    # Fit of every candidate schedule: largest |register − computed| as a share of Σ computed.
    fit = (
        buckets.filter(pl.col("schedule_key").is_not_null())
        .group_by("meter_id", "schedule_key")
        .agg(
            (
                (pl.col("register_kwh") - pl.col("computed_kwh")).abs().max()
                / pl.col("computed_kwh").sum().clip(lower_bound=1e-9)
                * 100
            ).alias("residual_pct"),
            pl.col("register_kwh").is_null().any().alias("gap"),
        )
        .filter(~pl.col("gap"))
        .join(specs, on="meter_id")
        .with_columns(
            preference=pl.when(pl.col("schedule_key") == pl.col("tariff_schedule_key"))
            .then(0)
            .when(pl.col("schedule_key") == pl.col("program_schedule_key"))
            .then(1)
            .otherwise(2),
            rounded=pl.col("residual_pct").round(6),
        )
        .sort("meter_id", "rounded", "preference", "schedule_key")
        .group_by("meter_id", maintain_order=True)
        .agg(
            pl.col("schedule_key").first().alias("best_schedule_key"),
            pl.col("residual_pct").first().alias("best_schedule_residual_pct"),
        )
    )

    tariff = specs.select("meter_id", "tariff_schedule_key", "register_decimals")
    windows = plan.advances.group_by("meter_id").agg(
        pl.col("start_read_utc").first(), pl.col("end_read_utc").first()
    )
    diff = pl.col("register_kwh") - pl.col("computed_kwh")
    tol = _tolerance(pl.col("register_decimals"), params)
    within = (diff.abs() <= tol) | (
        diff.abs() <= pl.col("computed_kwh").abs() * params.tolerance_pct / 100
    )
    comparison = (
        buckets.join(tariff, on="meter_id")
        .filter(
            (pl.col("schedule_key") == pl.col("tariff_schedule_key"))
            | pl.col("schedule_key").is_null()
        )
        .join(windows, on="meter_id", how="left")
        .join(
            plan.periods.select("meter_id", "period_start_utc", "period_end_utc").unique(),
            on="meter_id",
            how="left",
        )
        .with_columns(
            difference_kwh=diff,
            difference_pct=pl.when(pl.col("computed_kwh") != 0).then(
                diff / pl.col("computed_kwh") * 100
            ),
            status=pl.when(pl.col("register_kwh").is_null())
            .then(pl.lit("no_register"))
            .when(pl.col("computed_kwh").is_null())
            .then(pl.lit("no_computed"))
            .when(pl.col("completeness") < params.min_completeness)
            .then(pl.lit("incomplete_intervals"))
            .when(within)
            .then(pl.lit("match"))
            .when(diff > 0)
            .then(pl.lit("over_registered"))
            .otherwise(pl.lit("under_registered")),
            message=pl.lit(None, pl.String),
        )
        .select(REGISTER_COMPARISON.names)
        .sort("meter_id", "tou_period")
    )

    judged = comparison.filter(
        pl.col("status").is_in(["match", "over_registered", "under_registered"])
    )
    per_meter = (
        judged.join(tariff, on="meter_id")
        .sort("meter_id", pl.col("difference_pct").abs(), descending=[False, True], nulls_last=True)
        .group_by("meter_id", maintain_order=True)
        .agg(
            pl.len().alias("periods"),
            pl.col("computed_kwh").sum(),
            pl.col("register_kwh").sum(),
            pl.col("tou_period").first().alias("worst_tou_period"),
            pl.col("difference_pct").first().alias("worst_difference_pct"),
            pl.col("difference_kwh").first().alias("worst_difference_kwh"),
            (pl.col("status") != "match").any().alias("any_off"),
            pl.col("register_decimals").first(),
        )
        .with_columns(total=pl.col("register_kwh") - pl.col("computed_kwh"))
        .with_columns(
            total_difference_pct=pl.when(pl.col("computed_kwh") != 0).then(
                pl.col("total") / pl.col("computed_kwh") * 100
            ),
            total_ok=(pl.col("total").abs() <= _tolerance(pl.col("register_decimals"), params))
            | (pl.col("total").abs() <= pl.col("computed_kwh").abs() * params.tolerance_pct / 100),
        )
    )
    statuses = comparison.group_by("meter_id").agg(
        (pl.col("status") == "incomplete_intervals").any().alias("incomplete"),
        pl.col("register_kwh").is_not_null().any().alias("has_register"),
    )
    summary = (
        specs.select("meter_id", "tariff_schedule_key", "program_schedule_key")
        .join(statuses, on="meter_id", how="left")
        .join(per_meter, on="meter_id", how="left")
        .join(fit, on="meter_id", how="left")
        .with_columns(
            periods_compared=pl.col("periods").fill_null(0).cast(pl.Int64),
            status=pl.when(~pl.col("has_register").fill_null(False))
            .then(pl.lit("no_registers"))
            .when(pl.col("incomplete").fill_null(False) | pl.col("periods").is_null())
            .then(pl.lit("incomplete"))
            .when(~pl.col("total_ok"))
            .then(pl.lit("total_mismatch"))
            .when(pl.col("any_off"))
            .then(pl.lit("allocation_shift"))
            .otherwise(pl.lit("match")),
        )
    )
    summary = summary.with_columns(
        summary=pl.Series([_sentence(r) for r in summary.iter_rows(named=True)], dtype=pl.String)
    ).select(METER_REGISTER_SUMMARY.names)
    return RegisterReport(comparison, summary.sort("meter_id"))


def _sentence(row: Mapping[str, object]) -> str:
    """One verdict-ready sentence for a summary row."""
    status = row["status"]
    if status == "no_registers":
        return "no TOU register reads spanning the range"
    if status == "incomplete":
        return "interval data incomplete over the register span; not judged"
    best = row["best_schedule_key"]
    tariff = row["tariff_schedule_key"]
    fits = (
        f"; registers fit schedule {best} best (residual {row['best_schedule_residual_pct']:.1f} %)"
        if best is not None
        else ""
    )
    if status == "match":
        return f"TOU registers agree with {tariff} in every period" + fits
    worst = (
        f"{row['worst_tou_period']} register {row['worst_difference_pct']:+.1f} % "
        f"({row['worst_difference_kwh']:+.1f} kWh) against {tariff}"
    )
    if status == "allocation_shift":
        return f"energy moved between TOU periods, total agrees: {worst}" + fits
    return f"register total differs by {row['total_difference_pct']:+.1f} %: {worst}" + fits


def check_registers(
    interval_reads: pl.DataFrame,
    register_reads: pl.DataFrame,
    specs: pl.DataFrame,
    *,
    schedules: Mapping[str, TouSchedule],
    params: DeterminantParams,
    start_utc: dt.datetime,
    end_utc: dt.datetime,
    compare: CompareParams | None = None,
) -> RegisterReport:
    """The register comparison in memory (plan, compute, compare).

    Args:
        interval_reads: Interval reads of the meters (``frames.DETERMINANT_READS``).
        register_reads: Their register reads (``reads.schema.REGISTER_READS``).
        specs: The meters (``frames.REGISTER_SPECS``).
        schedules: Schedule key → schedule (tariffs and candidate programs).
        params: Determinant parameters (zone; ``include_excluded`` is forced on).
        start_utc: First instant of the range. [UTC]
        end_utc: Last instant of the range. [UTC]
        compare: Tolerances.

    Returns:
        The report.
    """
    plan = plan_register_check(
        register_reads, specs, schedules=schedules, start_utc=start_utc, end_utc=end_utc
    )
    computed = compute_determinants(
        interval_reads,
        plan.periods,
        schedules={k: schedules[k] for k in plan.periods["schedule_key"].unique().to_list()},
        params=dataclasses.replace(params, include_excluded=True),
    )
    return compare_registers(plan, computed, params=compare)
