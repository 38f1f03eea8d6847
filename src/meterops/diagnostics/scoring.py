"""Score verdicts against a known truth: precision, recall and F1 per cause.

Used by tests and benchmarks against the territory simulator's ground truth; diagnostics
itself never reads a ground truth. :data:`SIMULATOR_CAUSES` says which cause a verdict
should name for each simulated fault kind and :data:`DETECTABLE_AFTER_DAYS` how long after
its onset a fault can be seen (a radio silent for less than the non-comm limit is not a
non-comm yet); faults that leave their trace only in events (tamper) count only when the
onset falls inside the data window; a meter that reports under a serial the back office does
not know (``unknown_serial``) shows no other fault under its recorded serial.

:func:`read_truth` reads the simulator's ``faults.jsonl`` with located errors;
:func:`evaluate_verdicts` gives everything ``meterops diagnostics evaluate`` prints: the
scores per cause, the confusion matrix, the share of exceptions resolved without a visit and
the share of visits sent with the skill and parts the true cause needs (:data:`VISIT_NEEDS`,
derived from the verdict rules: a first-visit-resolution proxy).

Pure module: standard library, polars and pure meterops modules only.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import polars as pl

from meterops.diagnostics.kinds import ActionKind, Cause
from meterops.diagnostics.rules import RULES
from meterops.errors import Issue, ValidationReportError
from meterops.workorders.types import ORDER_TYPES, WorkOrderType, required_skill

__all__ = [
    "BARE_DROP_AFTER_DAYS",
    "BARE_DROP_BASELINE_DAYS",
    "CONFUSION",
    "CROSSED_VISIBLE_AFTER_DAYS",
    "DETECTABLE_AFTER_DAYS",
    "EVENT_TRACE_KINDS",
    "EXCHANGE_SIDE_DAYS",
    "SCORES",
    "SIMULATOR_CAUSES",
    "TRUTH_FIELDS",
    "VERDICT_COLUMNS",
    "VISITS",
    "VISIT_NEEDS",
    "Evaluation",
    "collectors_down",
    "confusion_matrix",
    "evaluate_verdicts",
    "read_truth",
    "score_verdicts",
    "truth_pairs",
    "visit_parts",
    "visits_judged",
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
        "wrong_multiplier": Cause.WRONG_MULTIPLIER,
    }
)
"""Simulated fault kind → the cause a verdict must name. Kinds not listed are not scored:
outages are suppressed by design, a vacant premise is legitimate, hours-long collector
outages end before the non-comm limit. A wrong multiplier is scored only when it entered the
back office at a meter exchange inside the window (``parameters.recorded_at == "exchange"``)
with :data:`EXCHANGE_SIDE_DAYS` on each side of it: a standing one leaves no trace in the data
a utility has (the true CT ratio is random, independent of the load), so it counts only for
precision. Crossed meters count only once an account at one of the two premises closed
(:func:`truth_pairs`)."""

EXCHANGE_SIDE_DAYS: Final = 8.0
"""Days of the window needed on each side of an exchange for a wrong multiplier to show: the
exchange day and the detector's seven days with reads (``detect.multiplier`` ``min_days``;
it also needs 96 h of reads on each side). [d]"""

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
    # a meter that reports under a serial the back office does not know shows nothing else
    # under its recorded serial: its other faults are not visible
    unheard = {
        str(f.get("meter_serial"))
        for f in faults
        if f["kind"] == "unknown_serial" and (_utc(f.get("start_utc")) or as_of_utc) <= as_of_utc
    }
    for fault in faults:
        kind = str(fault["kind"])
        cause = SIMULATOR_CAUSES.get(kind)
        serial = fault.get("meter_serial")
        if cause is None or not serial:
            continue
        if detectable_only and kind != "unknown_serial" and serial in unheard:
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
        if kind == "wrong_multiplier" and detectable_only:
            side = dt.timedelta(days=EXCHANGE_SIDE_DAYS)
            parameters = fault.get("parameters") or {}
            if parameters.get("recorded_at") != "exchange" or not (
                window_start_utc + side <= start <= as_of_utc - side
            ):
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


# -- reading the ground truth ----------------------------------------------------------------

TRUTH_FIELDS: Final[Mapping[str, tuple[type, ...]]] = MappingProxyType(
    {
        "kind": (str,),
        "meter_serial": (str, type(None)),
        "service_point_number": (str, type(None)),
        "start_utc": (str, type(None)),
        "end_utc": (str, type(None)),
        "parameters": (dict,),
    }
)
"""Fields every ground-truth record must have, with the JSON types allowed (times ISO 8601)."""


def _truth_issues(record: Any, *, file: str, line: int) -> list[Issue]:
    if not isinstance(record, dict):
        return [Issue(file, line, None, "truth.not_an_object", "expected a JSON object")]
    issues = []
    for name, types in TRUTH_FIELDS.items():
        if name not in record:
            issues.append(Issue(file, line, name, "truth.missing_field", "the field is missing"))
            continue
        value = record[name]
        if not isinstance(value, types):
            issues.append(
                Issue(
                    file,
                    line,
                    name,
                    "truth.wrong_type",
                    f"{value!r} is not a {' or '.join(t.__name__ for t in types)}",
                )
            )
        elif name.endswith("_utc") and value is not None:
            try:
                moment = dt.datetime.fromisoformat(str(value))
            except ValueError:
                moment = None
            if moment is None or moment.tzinfo is None:
                issues.append(
                    Issue(
                        file,
                        line,
                        name,
                        "truth.bad_time",
                        f"{value!r} is not an ISO 8601 time with an offset "
                        "(e.g. 2026-07-20T11:00:00Z)",
                    )
                )
    return issues


def read_truth(text: str, *, file: str) -> list[dict[str, Any]]:
    """The records of a ground-truth file as the simulator writes it (``faults.jsonl``).

    Args:
        text: The file's text: one JSON object per line (blank lines are skipped).
        file: The file's name, for the error messages.

    Returns:
        The records, in file order.

    Raises:
        ValidationReportError: A line is not JSON, not an object, or lacks a field of
            :data:`TRUTH_FIELDS` or has it with the wrong type (every issue, located by file,
            line and field).

    Examples:
        >>> read_truth('{"kind": "x"}', file="f.jsonl")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        meterops.errors.ValidationReportError: f.jsonl is not a ground-truth file ...
          f.jsonl, line 1, field 'meter_serial': the field is missing
        ...
    """
    records: list[dict[str, Any]] = []
    issues: list[Issue] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            issues.append(Issue(file, number, None, "truth.not_json", f"not JSON: {error.msg}"))
            continue
        found = _truth_issues(record, file=file, line=number)
        issues += found
        if not found:
            records.append(record)
    if issues:
        raise ValidationReportError(
            f"{file} is not a ground-truth file as the simulator writes it "
            f"({len(issues)} issue{'s' if len(issues) > 1 else ''}):",
            issues,
        )
    return records


# -- what each cause needs, and what was sent --------------------------------------------------


def _visit_needs() -> Mapping[str, frozenset[WorkOrderType]]:
    needs: dict[str, set[WorkOrderType]] = {c.value: set() for c in Cause}
    for rule in RULES:
        if rule.action is ActionKind.FIELD and rule.order_type is not None:
            needs[rule.cause.value].add(rule.order_type)
    return MappingProxyType({cause: frozenset(types) for cause, types in needs.items()})


VISIT_NEEDS: Final[Mapping[str, frozenset[WorkOrderType]]] = _visit_needs()
"""Cause → the work-order types a visit for it may have (the field rules naming the cause in
``rules.RULES``); empty: the cause is fixed without a visit (remote or back office)."""

VERDICT_COLUMNS: Final = pl.Schema(
    {
        "serial_number": pl.String,
        "kind": pl.String,
        "cause": pl.String,
        "action": pl.String,
        "order_type": pl.String,
        "transformer_rated": pl.Boolean,
        "meter_form": pl.String,
        "subject": pl.String,
        "collector_code": pl.String,
    }
)
"""Columns :func:`evaluate_verdicts` needs: one row per open exception with its verdict, the
meter's service (transformer-rated or not) and form (they decide skill and parts), and the
visit's subject (``meter`` or ``collector``: collector work is one visit per collector, with
the collector's code from the verdict's facts)."""

VISITS: Final = pl.Schema(
    {
        "serial_number": pl.String,
        "collector_code": pl.String,
        "cause": pl.String,
        "order_type": pl.String,
        "skill": pl.String,
        "parts": pl.String,
        "true_causes": pl.String,
        "needed": pl.String,
        "right": pl.Boolean,
    }
)
"""Columns of :func:`visits_judged`: a visit (to a meter, or to a collector: serial null),
what it brings, what the truth needed."""

CONFUSION: Final = pl.Schema(
    {"true_cause": pl.String, "predicted_cause": pl.String, "meters": pl.Int64}
)
"""Columns of :func:`confusion_matrix` (long form; ``none`` where a side has nothing)."""


def visit_parts(
    order_type: WorkOrderType, *, transformer_rated: bool, meter_form: str | None
) -> tuple[str, tuple[str, ...]]:
    """The skill a visit of this type needs and the parts it brings, at one service.

    Args:
        order_type: The work-order type.
        transformer_rated: The service point is CT-rated (skill ``ct_rated`` where the type
            says so).
        meter_form: The meter's form (fills ``{form}`` in the parts; None: ``?``).

    Returns:
        ``(skill, parts)``.

    Examples:
        >>> visit_parts(WorkOrderType.EXCHANGE, transformer_rated=True, meter_form="9S")
        ('ct_rated', ('meter 9S', 'seals', 'locking ring'))
    """
    spec = ORDER_TYPES[order_type]
    skill = required_skill(spec, transformer_rated=transformer_rated).value
    return skill, tuple(part.format(form=meter_form or "?") for part in spec.parts)


def collectors_down(faults: Iterable[Mapping[str, Any]], *, as_of_utc: dt.datetime) -> set[str]:
    """Codes of the collectors the ground truth has down at ``as_of_utc``.

    Examples:
        >>> collectors_down([{"kind": "collector_down", "collector_code": "C-1",
        ...     "start_utc": "2026-07-01T00:00:00Z", "end_utc": None}],
        ...     as_of_utc=dt.datetime(2026, 7, 2, tzinfo=dt.UTC))
        {'C-1'}
    """
    down = set()
    for fault in faults:
        if fault.get("kind") != "collector_down" or not fault.get("collector_code"):
            continue
        start, end = _utc(fault.get("start_utc")), _utc(fault.get("end_utc"))
        if (start is None or start <= as_of_utc) and (end is None or end > as_of_utc):
            down.add(str(fault["collector_code"]))
    return down


def visits_judged(
    verdicts: pl.DataFrame,
    present: pl.DataFrame,
    *,
    collectors_down: Iterable[str] = (),
) -> pl.DataFrame:
    """Every visit the verdicts send, judged against what the true faults need.

    A visit to a meter is right when one of the causes truly present at the meter needs a
    visit (see :data:`VISIT_NEEDS`) whose skill and parts are those the verdict's work order
    brings. Collector work is one visit per collector (as the work-order service orders it):
    right when the collector is truly down or a meter whose verdict sent it there truly needs
    collector work (a weak mesh path). A visit to a meter with no scored fault, or whose
    fault is fixed without a visit, is wrong.

    Args:
        verdicts: :data:`VERDICT_COLUMNS` rows.
        present: ``serial_number``, ``cause`` of every fault present at the run
            (``truth_pairs(detectable_only=False)``).
        collectors_down: Collectors truly down at the run (:func:`collectors_down`).

    Returns:
        :data:`VISITS` rows, one per meter visit and one per collector visited.

    Examples:
        >>> v = pl.DataFrame({"serial_number": ["a"], "kind": ["non_communicating"],
        ...     "cause": ["radio_module_failure"], "action": ["field"],
        ...     "order_type": ["radio_module_replacement"], "transformer_rated": [False],
        ...     "meter_form": ["2S"], "subject": ["meter"], "collector_code": ["C-1"]},
        ...     schema=VERDICT_COLUMNS)
        >>> t = pl.DataFrame({"serial_number": ["a"], "cause": ["weak_mesh_path"]})
        >>> visits_judged(v, t)["right"].to_list()
        [False]
    """
    true_causes: dict[str, set[str]] = {}
    for serial, cause in present.select("serial_number", "cause").iter_rows():
        true_causes.setdefault(str(serial), set()).add(str(cause))
    down = set(collectors_down)
    field = verdicts.filter(
        (pl.col("action") == ActionKind.FIELD.value) & pl.col("order_type").is_not_null()
    )
    groups: dict[tuple[str | None, str | None, str], list[dict[str, Any]]] = {}
    for row in field.iter_rows(named=True):
        if row["subject"] == "collector":
            key = (None, row["collector_code"], row["order_type"])
        else:
            key = (row["serial_number"], None, row["order_type"])
        groups.setdefault(key, []).append(row)
    rows = []
    for (serial, collector, order_type), members in groups.items():
        first = members[0]
        rated, form = bool(first["transformer_rated"]), first["meter_form"]
        sent = visit_parts(WorkOrderType(order_type), transformer_rated=rated, meter_form=form)
        causes = sorted({c for m in members for c in true_causes.get(m["serial_number"], set())})
        if collector is not None and collector in down:
            causes = sorted({*causes, Cause.COLLECTOR_DOWN.value})
        needed = sorted(
            {
                visit_parts(t, transformer_rated=rated, meter_form=form)
                for cause in causes
                for t in VISIT_NEEDS.get(cause, frozenset())
            }
        )
        rows.append(
            {
                "serial_number": serial,
                "collector_code": collector if serial is None else first["collector_code"],
                "cause": first["cause"],
                "order_type": order_type,
                "skill": sent[0],
                "parts": "; ".join(sent[1]),
                "true_causes": ", ".join(causes) or None,
                "needed": " | ".join(f"{s}: {'; '.join(p)}" for s, p in needed) or None,
                "right": sent in needed,
            }
        )
    return pl.DataFrame(rows, schema=VISITS)


def confusion_matrix(
    predicted: pl.DataFrame, truth: pl.DataFrame, *, present: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Meters counted by (true cause, predicted cause).

    Each visible truth pair is crossed with every cause the verdicts name on its meter
    (``none`` if none); a verdict on a meter with no fault present at the run gives true
    cause ``none``. Verdicts on meters whose fault is present but not yet visible are left
    out (they are neither missed nor false).

    Args:
        predicted: ``serial_number``, ``cause`` of the verdicts.
        truth: Visible truth pairs (:func:`truth_pairs`).
        present: Every fault present at the run (None: ``truth``).

    Returns:
        :data:`CONFUSION` rows sorted by true then predicted cause.

    Examples:
        >>> p = pl.DataFrame({"serial_number": ["a", "b"], "cause": ["tamper", "hot_socket"]})
        >>> t = pl.DataFrame({"serial_number": ["a", "c"], "cause": ["tamper", "tamper"]})
        >>> confusion_matrix(p, t).rows()
        [('none', 'hot_socket', 1), ('tamper', 'none', 1), ('tamper', 'tamper', 1)]
    """
    predicted = predicted.select("serial_number", "cause").unique()
    truth = truth.select("serial_number", "cause").unique()
    allowed = truth if present is None else present.select("serial_number", "cause").unique()
    said = predicted.rename({"cause": "predicted_cause"})
    known = truth.rename({"cause": "true_cause"}).join(said, on="serial_number", how="left")
    stray = said.join(allowed.select("serial_number").unique(), on="serial_number", how="anti")
    frame = pl.concat(
        [
            known.select("true_cause", pl.col("predicted_cause").fill_null("none")),
            stray.select(pl.lit("none").alias("true_cause"), "predicted_cause"),
        ]
    )
    return (
        frame.group_by("true_cause", "predicted_cause")
        .agg(pl.len().cast(pl.Int64).alias("meters"))
        .sort("true_cause", "predicted_cause")
        .select(CONFUSION.names())
    )


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What ``meterops diagnostics evaluate`` reports.

    Attributes:
        scores: :data:`SCORES` per cause.
        macro_f1: Mean F1 over the causes with both a precision and a recall. [0-1]
        confusion: :data:`CONFUSION` rows.
        exceptions: Open exceptions judged.
        without_visit: Exceptions whose verdict is a remote or back-office fix. [0-1]
        visits: :data:`VISITS` rows (collector work: one per collector).
        field_verdicts: Exceptions whose verdict sends a visit.
        right_visits: Visits with the skill and parts the true cause needs (None: no visit).
            [0-1]
    """

    scores: pl.DataFrame
    macro_f1: float | None
    confusion: pl.DataFrame
    exceptions: int
    without_visit: float | None
    visits: pl.DataFrame
    field_verdicts: int
    right_visits: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the CLI's ``--json``)."""
        return {
            "scores": self.scores.to_dicts(),
            "macro_f1": self.macro_f1,
            "confusion": self.confusion.to_dicts(),
            "exceptions": self.exceptions,
            "without_visit_share": self.without_visit,
            "visits": self.visits.height,
            "field_verdicts": self.field_verdicts,
            "right_skill_and_parts_share": self.right_visits,
            "wrong_visits": self.visits.filter(~pl.col("right")).to_dicts(),
        }


def evaluate_verdicts(
    verdicts: pl.DataFrame,
    faults: Iterable[Mapping[str, Any]],
    *,
    window_start_utc: dt.datetime,
    as_of_utc: dt.datetime,
) -> Evaluation:
    """Judge a run's verdicts against the ground truth.

    Args:
        verdicts: :data:`VERDICT_COLUMNS` rows (the run's open exceptions).
        faults: Ground-truth records (:func:`read_truth`).
        window_start_utc: Start of the run's data window. [UTC]
        as_of_utc: The run's moment. [UTC]

    Returns:
        The scores, confusion matrix and visit shares.
    """
    faults = list(faults)
    truth = truth_pairs(faults, window_start_utc=window_start_utc, as_of_utc=as_of_utc)
    present = truth_pairs(
        faults, window_start_utc=window_start_utc, as_of_utc=as_of_utc, detectable_only=False
    )
    scores = score_verdicts(verdicts, truth, present=present)
    both = scores.filter(pl.col("precision").is_not_null() & pl.col("recall").is_not_null())
    visits = visits_judged(
        verdicts, present, collectors_down=collectors_down(faults, as_of_utc=as_of_utc)
    )
    no_visit = verdicts.filter(
        pl.col("action").is_in([ActionKind.REMOTE.value, ActionKind.BACK_OFFICE.value])
    ).height
    return Evaluation(
        scores=scores,
        macro_f1=float(both["f1"].mean()) if both.height else None,  # type: ignore[arg-type]
        confusion=confusion_matrix(verdicts, truth, present=present),
        exceptions=verdicts.height,
        without_visit=no_visit / verdicts.height if verdicts.height else None,
        visits=visits,
        field_verdicts=verdicts.filter(pl.col("action") == ActionKind.FIELD.value).height,
        right_visits=float(visits["right"].mean()) if visits.height else None,  # type: ignore[arg-type]
    )
