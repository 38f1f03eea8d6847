"""The VEE batch step: one pure function over the current reads of a group of meters.

:class:`VeeJob` is what executors (:mod:`meterops.scale`) run per meter group, in a process
pool or in a Spark task: it takes the group's current reads (``VEE_INPUT`` columns, history
days included), runs the engine and returns one small frame, :data:`VEE_OUTPUT`, with four
kinds of rows:

* ``flags`` — every window row whose rule bits are set or changed (``changed`` says whether
  the stored bits differ, i.e. whether a flag row must be written);
* ``estimate`` — new estimate versions (re-made estimates with the same value are left out);
* ``absent`` — expected intervals without a row (what the missing-interval rule counted);
* ``count`` — the number of reads validated (``value``), one row per channel of the group
  (one row with a null channel and 0 for an empty group).

:func:`store_rows` turns the rows into ``INTERVAL_FLAGS`` and ``INTERVAL_VERSIONS`` frames and
:func:`report_from_rows` into a :class:`~meterops.vee.engine.VeeReport`, so the output of
every group, however it was computed, adds up to one run.

Pure module: polars and pure meterops modules only; must not import ``meterops.db``,
``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import polars as pl

from meterops.reads.schema import INTERVAL_FLAGS, INTERVAL_VERSIONS, UTC_DATETIME
from meterops.vee.context import RunWindow, VeeContext
from meterops.vee.engine import Engine, RuleResult, VeeReport, run_vee
from meterops.vee.estimation import drop_unchanged
from meterops.vee.flags import RULE_MASK
from meterops.vee.incidents import zero_in_incidents
from meterops.vee.rules import RULES
from meterops.vee.suites import Suite

__all__ = ["VEE_OUTPUT", "VeeJob", "flag_actor", "report_from_rows", "store_rows"]

_T: Final = "interval_start_utc"
_KEY: Final = ("meter_id", "channel", _T)

VEE_OUTPUT: Final = pl.Schema(
    {
        "row_kind": pl.String(),
        "meter_id": pl.Int64(),
        "channel": pl.String(),
        _T: UTC_DATETIME,
        "interval_s": pl.Int32(),
        "version": pl.Int32(),
        "value": pl.Float64(),
        "quality_flags": pl.UInt32(),
        "changed": pl.Boolean(),
        "method": pl.String(),
        "reason_code": pl.String(),
        "actor": pl.String(),
        "parent_version": pl.Int32(),
    }
)
"""Rows a VEE job returns (see the module docstring for the four kinds)."""


def flag_actor(changed_bits: int) -> str:
    """``rule_id@version`` of the rules whose bits changed, joined with ``+``.

    Examples:
        >>> flag_actor(1 << 11)
        'limits.spike@1'
    """
    names = [spec.actor for spec in RULES.values() if changed_bits & spec.mask]
    return "+".join(sorted(names)) if names else "vee"


@dataclass(frozen=True, slots=True)
class VeeJob:
    """A VEE run over one window, applicable to any group of meters.

    Attributes:
        suite: Rules, parameters and estimation settings.
        window: Local days to validate and estimate.
        context: Context of every meter of the run (each call keeps its group's rows).
        engine: ``"fast"`` or ``"reference"``.
        incidents: Outage periods of the meters the outage system recorded
            (:data:`~meterops.vee.incidents.INCIDENT_PERIODS`); estimates inside them become
            zero (:func:`~meterops.vee.incidents.zero_in_incidents`). None: no incidents.
    """

    suite: Suite
    window: RunWindow
    context: VeeContext
    engine: Engine = "fast"
    incidents: pl.DataFrame | None = None

    @property
    def output_schema(self) -> pl.Schema:
        """Schema of what :meth:`__call__` returns."""
        return VEE_OUTPUT

    def __call__(self, reads: pl.DataFrame) -> pl.DataFrame:
        """Validate and estimate the current reads of one group of meters.

        Args:
            reads: The group's current reads (``VEE_INPUT`` columns), in key order.

        Returns:
            :data:`VEE_OUTPUT` rows in key order within each kind.
        """
        if reads.is_empty():
            return _count_row(0)
        low, high = reads["meter_id"].min(), reads["meter_id"].max()
        assert isinstance(low, int)
        assert isinstance(high, int)
        context = self.context.for_meters(low, high)
        outcome = run_vee(reads, context, suite=self.suite, window=self.window, engine=self.engine)
        start, end = self.window.bounds_utc
        in_window = pl.col(_T).is_between(start, end, closed="left")
        new = outcome.rule_flags
        old = reads["quality_flags"] & RULE_MASK
        flagged = (
            reads.lazy()
            .with_columns(new.alias("_new"), old.alias("_old"))
            .filter(in_window & ((pl.col("_new") != 0) | (pl.col("_new") != pl.col("_old"))))
            .select(
                pl.lit("flags").alias("row_kind"),
                *_KEY,
                "interval_s",
                "version",
                pl.col("_new").alias("quality_flags"),
                (pl.col("_new") != pl.col("_old")).alias("changed"),
                (pl.col("_new") ^ pl.col("_old")).alias("_diff"),
            )
            .collect()
        )
        actors = {int(d): flag_actor(int(d)) for d in flagged["_diff"].unique().to_list()}
        flagged = flagged.with_columns(
            pl.col("_diff").replace_strict(actors, return_dtype=pl.String).alias("actor")
        ).drop("_diff")
        made = outcome.estimates
        if self.incidents is not None:
            made = zero_in_incidents(made, self.incidents)
        estimates = drop_unchanged(made).select(
            pl.lit("estimate").alias("row_kind"),
            *_KEY,
            "interval_s",
            "value",
            "quality_flags",
            "method",
            "reason_code",
            "actor",
            "parent_version",
        )
        absent = outcome.absent.select(pl.lit("absent").alias("row_kind"), *_KEY)
        counts = (
            reads.lazy()  # lazy: only the channel and time columns are read, nothing copied
            .filter(in_window)
            .group_by("channel")
            .agg(pl.len().cast(pl.Float64).alias("value"))
            .sort("channel")
            .select(pl.lit("count").alias("row_kind"), "channel", "value")
            .collect()
        )
        return pl.concat(
            [_typed(flagged), _typed(estimates), _typed(absent), _typed(counts)],
            how="vertical",
        )


def _typed(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype).alias(name)
        for name, dtype in VEE_OUTPUT.items()
    )


def _count_row(reads: int) -> pl.DataFrame:
    return _typed(pl.DataFrame({"row_kind": ["count"], "value": [float(reads)]}))


def store_rows(
    rows: pl.DataFrame, *, latest_versions: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The flag rows and estimate versions to append to the read store.

    Args:
        rows: :data:`VEE_OUTPUT` rows of a run.
        latest_versions: Highest stored version per key (``ReadStore.latest_versions``) for
            the estimated keys; new versions are numbered above it (1 where none is stored).

    Returns:
        ``(flags, versions)`` of contracts ``INTERVAL_FLAGS`` and ``INTERVAL_VERSIONS``.
    """
    flags = rows.filter((pl.col("row_kind") == "flags") & pl.col("changed")).select(
        *_KEY,
        "version",
        "quality_flags",
        pl.lit(RULE_MASK, pl.UInt32).alias("flag_mask"),
        "actor",
    )
    estimates = rows.filter(pl.col("row_kind") == "estimate")
    if latest_versions is not None and not latest_versions.is_empty():
        estimates = estimates.drop("version").join(
            latest_versions.select(*_KEY, pl.col("version").cast(pl.Int32)), on=_KEY, how="left"
        )
    versions = estimates.with_columns(
        (pl.col("version").fill_null(0) + 1).cast(pl.Int32).alias("version"),
        pl.lit("estimate").alias("version_kind"),
    ).select(INTERVAL_VERSIONS.names)
    return flags.select(INTERVAL_FLAGS.names), versions


def report_from_rows(rows: pl.DataFrame, suite: Suite) -> VeeReport:
    """The report of a run from the rows of all its groups.

    Args:
        rows: :data:`VEE_OUTPUT` rows.
        suite: The suite that ran (which rules applied to which channels).
    """
    channels = rows.filter(pl.col("channel").is_not_null())["channel"].unique().sort()
    specs = {s.rule_id: s for c in channels.to_list() for s in suite.rules_for(c)}
    flagged = rows.filter(pl.col("row_kind") == "flags")
    absent = rows.filter(pl.col("row_kind") == "absent")
    results = []
    for spec in specs.values():
        hit = flagged.filter((pl.col("quality_flags") & spec.mask) != 0)
        meters = hit["meter_id"]
        intervals = hit.height
        if spec.flag == "MISSING_INTERVAL":
            intervals += absent.height
            meters = pl.concat([meters, absent["meter_id"]])
        ids = tuple(int(m) for m in meters.unique().sort().to_list())
        results.append(RuleResult(spec.rule_id, spec.version, spec.flag, intervals, ids))
    estimates = rows.filter(pl.col("row_kind") == "estimate").group_by("method").len()
    reads = rows.filter(pl.col("row_kind") == "count")["value"].sum()
    return VeeReport(
        int(reads),
        tuple(results),
        tuple((str(m), int(n)) for m, n in estimates.sort("method").iter_rows()),
    )
