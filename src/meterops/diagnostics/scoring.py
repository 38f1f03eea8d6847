"""Score verdicts against a known truth: precision, recall and F1 per cause.

Used by tests and benchmarks against the territory simulator's ground truth; diagnostics
itself never reads a ground truth. :data:`SIMULATOR_CAUSES` says which cause a verdict
should name for each simulated fault kind and :data:`DETECTABLE_AFTER_DAYS` how long after
its onset a fault can be seen (a radio silent for less than the non-comm limit is not a
non-comm yet); faults that leave their trace only in events (tamper) count only when the
onset falls inside the data window.

Pure module: standard library and polars only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

import polars as pl

from meterops.diagnostics.kinds import Cause

__all__ = [
    "BARE_DROP_AFTER_DAYS",
    "BARE_DROP_BASELINE_DAYS",
    "CROSSED_VISIBLE_AFTER_DAYS",
    "DETECTABLE_AFTER_DAYS",
    "EVENT_TRACE_KINDS",
    "SCORES",
    "SIMULATOR_CAUSES",
    "score_verdicts",
    "truth_pairs",
]

SIMULATOR_CAUSES: Final[Mapping[str, Cause]] = MappingProxyType(
    {
        "radio_failure": Cause.RADIO_MODULE_FAILURE,
        "weak_mesh_path": Cause.WEAK_MESH_PATH,
        "meter_removed": Cause.METER_REMOVED,
        "theft_bypass": Cause.BYPASS_THEFT,
        "tamper_without_theft": Cause.TAMPER,
        "hot_socket": Cause.HOT_SOCKET,
        "stopped_register": Cause.STOPPED_REGISTER,
        "clock_drift": Cause.CLOCK_ERROR,
        "tou_misprogram": Cause.TOU_MISPROGRAM,
        "ct_polarity_reversed": Cause.CT_POLARITY,
        "unknown_serial": Cause.UNPROVISIONED_METER,
        "crossed_meters": Cause.CROSSED_METERS,
    }
)
"""Simulated fault kind → the cause a verdict must name. Kinds not listed are not scored:
outages are suppressed by design, a vacant premise is legitimate, hours-long collector
outages end before the non-comm limit, and wrong multipliers leave no trace in the data a
utility has (the true CT ratio is random, independent of the load). Crossed meters count
only once an account at one of the two premises closed (:func:`truth_pairs`)."""

DETECTABLE_AFTER_DAYS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "radio_failure": 1.5,
        "meter_removed": 1.5,
        "weak_mesh_path": 14.0,
        "hot_socket": 1.0,
        "stopped_register": 4.0,
        "theft_bypass": 2.0,
        "tamper_without_theft": 0.0,
    }
)
"""Days between a fault's onset and the run for it to be visible (standing faults: 0)."""

EVENT_TRACE_KINDS: Final = frozenset({"theft_bypass", "tamper_without_theft"})
"""Faults seen through events at their onset: scored when the onset is in the window, even
if the fault ended since (its events stay in the window)."""

BARE_DROP_BASELINE_DAYS: Final = 7.0
"""A bypass without tamper events is visible only as a drop against the premise's own use
before it: its onset must leave this many days of the window before it. [d]"""
BARE_DROP_AFTER_DAYS: Final = 4.0
"""...and be this old (three complete local days after the onset day). [d]"""


CROSSED_VISIBLE_AFTER_DAYS: Final = 2.0
"""A swap shows when one of the two premises goes vacant (its account closes) inside the
window, at least this long before the run (two complete local days after). [d]"""


def _vacated(
    faults: Iterable[Mapping[str, Any]],
    crossed: Mapping[str, Any],
    window_start_utc: dt.datetime,
    as_of_utc: dt.datetime,
) -> bool:
    points = {
        (crossed.get("parameters") or {}).get("installed_at_service_point"),
        (crossed.get("parameters") or {}).get("back_office_service_point"),
    }
    latest = as_of_utc - dt.timedelta(days=CROSSED_VISIBLE_AFTER_DAYS)
    for fault in faults:
        if fault["kind"] != "vacant_premise" or fault.get("service_point_number") not in points:
            continue
        start = _utc(fault.get("start_utc"))
        if start is not None and window_start_utc + dt.timedelta(days=1) <= start <= latest:
            return True
    return False


def _tamper_event(fault: Mapping[str, Any]) -> bool:
    return bool((fault.get("parameters") or {}).get("tamper_event"))


SCORES: Final = pl.Schema(
    {
        "cause": pl.String,
        "true_positives": pl.Int64,
        "false_positives": pl.Int64,
        "false_negatives": pl.Int64,
        "precision": pl.Float64,
        "recall": pl.Float64,
        "f1": pl.Float64,
    }
)
"""Columns of :func:`score_verdicts`."""


def _utc(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    return dt.datetime.fromisoformat(text)


def truth_pairs(
    faults: Iterable[Mapping[str, Any]],
    *,
    window_start_utc: dt.datetime,
    as_of_utc: dt.datetime,
    detectable_only: bool = True,
) -> pl.DataFrame:
    """The (meter serial, cause) pairs a run at ``as_of_utc`` should find.

    Args:
        faults: Ground-truth records (``faults.jsonl`` objects).
        window_start_utc: Start of the run's data window. [UTC]
        as_of_utc: The run's moment. [UTC]
        detectable_only: Only faults old enough to be visible (:data:`DETECTABLE_AFTER_DAYS`);
            False: every fault present at the run (a verdict naming a young fault is right
            too, so precision is judged against these).

    Returns:
        ``serial_number``, ``cause`` (unique pairs).
    """
    faults = list(faults)
    pairs: set[tuple[str, str]] = set()
    for fault in faults:
        kind = str(fault["kind"])
        cause = SIMULATOR_CAUSES.get(kind)
        serial = fault.get("meter_serial")
        if cause is None or not serial:
            continue
        start = _utc(fault.get("start_utc")) or window_start_utc
        end = _utc(fault.get("end_utc"))
        if end is not None and end <= as_of_utc and kind not in EVENT_TRACE_KINDS:
            continue
        age = dt.timedelta(days=DETECTABLE_AFTER_DAYS.get(kind, 0.0) if detectable_only else 0.0)
        if start > as_of_utc - age:
            continue
        if kind in EVENT_TRACE_KINDS and start < window_start_utc:
            continue
        if (
            detectable_only
            and kind == "crossed_meters"
            and not _vacated(faults, fault, window_start_utc, as_of_utc)
        ):
            continue
        # a bare drop shows only against a baseline inside the window, once it held
        if (
            detectable_only
            and kind == "theft_bypass"
            and not _tamper_event(fault)
            and (
                start < window_start_utc + dt.timedelta(days=BARE_DROP_BASELINE_DAYS)
                or start > as_of_utc - dt.timedelta(days=BARE_DROP_AFTER_DAYS)
            )
        ):
            continue
        pairs.add((str(serial), cause.value))
    return pl.DataFrame(
        sorted(pairs), schema={"serial_number": pl.String, "cause": pl.String}, orient="row"
    )


def score_verdicts(
    predicted: pl.DataFrame, truth: pl.DataFrame, *, present: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Precision, recall and F1 per cause of the truth's vocabulary.

    Args:
        predicted: ``serial_number``, ``cause`` of the verdicts (one per meter and cause).
        truth: ``serial_number``, ``cause`` from :func:`truth_pairs` (recall).
        present: Every fault present at the run (``truth_pairs(detectable_only=False)``);
            a verdict naming one of them is not a false positive (precision). None: ``truth``.

    Returns:
        :data:`SCORES` rows, one per cause in :data:`SIMULATOR_CAUSES` that has a truth or a
        prediction (precision or recall null where undefined), in cause order.

    Examples:
        >>> p = pl.DataFrame({"serial_number": ["a", "b"], "cause": ["tamper", "tamper"]})
        >>> t = pl.DataFrame({"serial_number": ["a", "c"], "cause": ["tamper", "tamper"]})
        >>> score_verdicts(p, t).select("precision", "recall").row(0)
        (0.5, 0.5)
    """
    scored = sorted({c.value for c in SIMULATOR_CAUSES.values()})
    predicted = predicted.select("serial_number", "cause").unique()
    truth = truth.select("serial_number", "cause").unique()
    allowed = truth if present is None else present.select("serial_number", "cause").unique()
    found = predicted.join(truth, on=["serial_number", "cause"])
    right = predicted.join(allowed, on=["serial_number", "cause"])
    rows = []
    for cause in scored:
        tp = found.filter(pl.col("cause") == cause).height
        n_right = right.filter(pl.col("cause") == cause).height
        n_pred = predicted.filter(pl.col("cause") == cause).height
        n_true = truth.filter(pl.col("cause") == cause).height
        if n_pred == 0 and n_true == 0:
            continue
        precision = n_right / n_pred if n_pred else None
        recall = tp / n_true if n_true else None
        f1 = (
            2 * precision * recall / (precision + recall)
            if precision is not None and recall is not None and precision + recall > 0
            else (0.0 if precision is not None and recall is not None else None)
        )
        rows.append(
            {
                "cause": cause,
                "true_positives": tp,
                "false_positives": n_pred - n_right,
                "false_negatives": n_true - tp,
                "precision": precision,
                "recall": recall,
                "f1": f1,
            }
        )
    return pl.DataFrame(rows, schema=SCORES)
