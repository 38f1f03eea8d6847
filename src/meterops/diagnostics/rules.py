"""Verdict rules as data: for each exception kind, the causes in the order they are tried.

A rule holds when all its conditions hold on the meter's facts (:mod:`diagnostics.facts`);
the first rule of the exception's kind that holds gives the verdict: the cause, a
confidence, the action (remote command, back-office fix, or a visit with its work-order
type) and the evidence (each condition with the fact's value and the threshold). A kind's
last rule has no conditions, so every exception gets a verdict.

Pure module: standard library, polars and pure meterops modules only.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

import polars as pl

from meterops.diagnostics.kinds import ActionKind, Cause, ExceptionKind
from meterops.workorders.types import WorkOrderType

__all__ = [
    "OPERATORS",
    "RULES",
    "SHORT_SILENCE_HOURS",
    "VERDICTS",
    "Condition",
    "VerdictRule",
    "diagnose",
    "evaluate",
]

OPERATORS: Final[Mapping[str, Callable[[Any, Any], bool]]] = MappingProxyType(
    {
        "==": operator.eq,
        "!=": operator.ne,
        ">=": operator.ge,
        "<=": operator.le,
        ">": operator.gt,
        "<": operator.lt,
    }
)
"""Comparison operators a condition may use (a null fact never satisfies one)."""


@dataclass(frozen=True, slots=True)
class Condition:
    """One test of a fact: ``fact op value``.

    Attributes:
        fact: A name from ``facts.FACT_NAMES``.
        op: One of :data:`OPERATORS`.
        value: The threshold or value compared with.
    """

    fact: str
    op: str
    value: Any

    def holds(self, facts: Mapping[str, Any]) -> bool:
        """Whether the condition holds (False when the fact is null)."""
        found = facts.get(self.fact)
        if found is None:
            return False
        return bool(OPERATORS[self.op](found, self.value))

    def describe(self, facts: Mapping[str, Any]) -> str:
        """``fact = value (op threshold)`` for the evidence text."""
        return f"{self.fact} = {facts.get(self.fact)} ({self.op} {self.value})"


@dataclass(frozen=True, slots=True)
class VerdictRule:
    """One way an exception can be explained.

    Attributes:
        rule_id: Stable id (``kind.cause[.variant]``).
        kind: The exception kind it explains.
        cause: The root cause it names.
        when: Conditions that must all hold (empty: always, the kind's fallback).
        confidence: How sure the rule is when it holds. [0-1]
        action: Where the fix happens.
        order_type: Work-order type of a visit (``action`` = field).
        remote_command: Head-end command of a remote fix (``ping``, ``read_on_demand``,
            ``push_program``, ``time_sync``).
        subject: ``meter`` or ``collector`` (collector work is ordered on the collector).
        priority: Work-order priority, 1 (most urgent) to 5 (None: the type's default).
        explanation: One sentence for people.
        facts: Further facts shown with the evidence.
    """

    rule_id: str
    kind: ExceptionKind
    cause: Cause
    when: tuple[Condition, ...]
    confidence: float
    action: ActionKind
    explanation: str
    order_type: WorkOrderType | None = None
    remote_command: str | None = None
    subject: str = "meter"
    priority: int | None = None
    facts: tuple[str, ...] = field(default=())


_K, _C, _A, _W = ExceptionKind, Cause, ActionKind, WorkOrderType


def _c(fact: str, op: str, value: Any) -> Condition:
    return Condition(fact, op, value)


SHORT_SILENCE_HOURS: Final[float] = 36.0
"""A silent meter with no comm-failure event and a steady signal, silent at most this long,
gets a remote on-demand read first (``non_communicating.short_silence``), not a
radio-module visit. [h]"""

_COMM_FACTS = ("rssi_dbm", "rssi_change_db", "hop_count", "collector_code", "read_success")

RULES: Final[tuple[VerdictRule, ...]] = (
    # -- non-communicating -------------------------------------------------------------------
    VerdictRule(
        "non_communicating.unprovisioned",
        _K.NON_COMMUNICATING,
        _C.UNPROVISIONED_METER,
        (
            _c("never_reported", "==", True),
            _c("comm_stats_days", "==", 0),
            _c("comm_failure_events", "==", 0),
            _c("unknown_serials_reported", ">=", 1),
        ),
        0.7,
        _A.BACK_OFFICE,
        "The head-end does not know this meter (no read, no comm stats, no comm-failure log) "
        "while it reports serials the back office does not know: check the serial recorded "
        "for this meter.",
        facts=("unknown_serials_reported",),
    ),
    VerdictRule(
        "non_communicating.collector_down",
        _K.NON_COMMUNICATING,
        _C.COLLECTOR_DOWN,
        (
            _c("collector_down", "==", True),
            _c("silent_before_collector_down", "==", False),
            _c("mode", "!=", "degrading"),
        ),
        0.95,
        _A.FIELD,
        "The meter's collector reports itself down and the meter fell silent with it.",
        _W.COLLECTOR_WORK,
        subject="collector",
        priority=2,
        facts=(
            "collector_code",
            "collector_down_hours",
            "collector_silent_share",
            "collector_meters",
        ),
    ),
    VerdictRule(
        "non_communicating.collector_silent",
        _K.NON_COMMUNICATING,
        _C.COLLECTOR_DOWN,
        (
            _c("collector_silent_share", ">=", 0.5),
            _c("collector_meters", ">=", 5),
            _c("silent_hours", "<=", 72.0),
            _c("mode", "!=", "degrading"),
        ),
        0.85,
        _A.FIELD,
        "Most meters on the same collector went silent together: the collector, not their radios.",
        _W.COLLECTOR_WORK,
        subject="collector",
        priority=2,
        facts=("collector_code", "collector_meters"),
    ),
    VerdictRule(
        "non_communicating.meter_removed",
        _K.NON_COMMUNICATING,
        _C.METER_REMOVED,
        (_c("meter_removed_events", ">=", 1),),
        0.9,
        _A.FIELD,
        "The meter reported its removal from the socket, then went silent.",
        _W.TAMPER_INVESTIGATION,
        priority=2,
        facts=("outage_after_last_read",),
    ),
    VerdictRule(
        "non_communicating.hot_socket",
        _K.NON_COMMUNICATING,
        _C.HOT_SOCKET,
        (_c("high_temperature_events", ">=", 1),),
        0.9,
        _A.FIELD,
        "High-temperature alarms before the meter went silent: a burnt socket.",
        _W.HOT_SOCKET_INSPECTION,
        priority=1,
        facts=("power_failed_events",),
    ),
    VerdictRule(
        "non_communicating.power_outage",
        _K.NON_COMMUNICATING,
        _C.POWER_OUTAGE,
        (
            _c("outage_after_last_read", "==", True),
            _c("mode", "==", "silent"),
            _c("silent_hours", "<=", 72.0),
        ),
        0.6,
        _A.REMOTE,
        "A last gasp or power loss came with a silence of hours, not days: ping it; if it "
        "stays dark the service is without power.",
        remote_command="ping",
    ),
    VerdictRule(
        "non_communicating.weak_mesh_path.intermittent",
        _K.NON_COMMUNICATING,
        _C.WEAK_MESH_PATH,
        (_c("mode", "==", "intermittent"), _c("rssi_change_db", "<=", -3.0)),
        0.8,
        _A.FIELD,
        "Reads still arrive, but too few, and the signal has been fading: a weak mesh path to "
        "the collector (relocate or add a collector or router).",
        _W.COLLECTOR_WORK,
        subject="collector",
        priority=3,
        facts=_COMM_FACTS,
    ),
    VerdictRule(
        "non_communicating.weak_mesh_path.intermittent_weak_signal",
        _K.NON_COMMUNICATING,
        _C.WEAK_MESH_PATH,
        (_c("mode", "==", "intermittent"), _c("rssi_dbm", "<=", -88.0)),
        0.7,
        _A.FIELD,
        "Reads still arrive, but too few, over a signal at the edge of reception: a weak mesh "
        "path.",
        _W.COLLECTOR_WORK,
        subject="collector",
        priority=3,
        facts=_COMM_FACTS,
    ),
    VerdictRule(
        "non_communicating.intermittent",
        _K.NON_COMMUNICATING,
        _C.UNDETERMINED,
        (_c("mode", "==", "intermittent"),),
        0.4,
        _A.REMOTE,
        "Too few reads over a steady, healthy signal (outages, a busy collector): read it on "
        "demand before sending anyone.",
        remote_command="read_on_demand",
        facts=_COMM_FACTS,
    ),
    VerdictRule(
        "non_communicating.weak_mesh_path.degrading",
        _K.NON_COMMUNICATING,
        _C.WEAK_MESH_PATH,
        (_c("mode", "==", "degrading"),),
        0.75,
        _A.FIELD,
        "Reads still arrive but the signal keeps fading: a weak mesh path about to fail.",
        _W.COLLECTOR_WORK,
        subject="collector",
        priority=4,
        facts=_COMM_FACTS,
    ),
    VerdictRule(
        "non_communicating.weak_mesh_path.rssi",
        _K.NON_COMMUNICATING,
        _C.WEAK_MESH_PATH,
        (_c("rssi_change_db", "<=", -6.0),),
        0.75,
        _A.FIELD,
        "The signal faded over days before the silence: a weak mesh path.",
        _W.COLLECTOR_WORK,
        subject="collector",
        priority=3,
        facts=_COMM_FACTS,
    ),
    VerdictRule(
        "non_communicating.radio_module_failure.comm_failure",
        _K.NON_COMMUNICATING,
        _C.RADIO_MODULE_FAILURE,
        (_c("mode", "==", "silent"), _c("comm_failure_events", ">=", 1)),
        0.85,
        _A.FIELD,
        "The head-end logs the meter as not communicating while its neighbours read: the "
        "radio module failed.",
        _W.RADIO_MODULE_REPLACEMENT,
        facts=(*_COMM_FACTS, "parent_silent_share"),
    ),
    VerdictRule(
        "non_communicating.short_silence",
        _K.NON_COMMUNICATING,
        _C.UNDETERMINED,
        (
            _c("mode", "==", "silent"),
            _c("comm_failure_events", "==", 0),
            _c("rssi_change_db", ">", -6.0),
            _c("silent_hours", "<=", SHORT_SILENCE_HOURS),
        ),
        0.4,
        _A.REMOTE,
        "Silent for about a day with a steady signal and no comm-failure event from the "
        "head-end: the head-end may simply have dropped reads on a long mesh path. Read it on "
        "demand before a visit; a radio-module visit only if it stays silent.",
        remote_command="read_on_demand",
        facts=(*_COMM_FACTS, "silent_hours", "comm_failure_events"),
    ),
    VerdictRule(
        "non_communicating.radio_module_failure",
        _K.NON_COMMUNICATING,
        _C.RADIO_MODULE_FAILURE,
        (_c("mode", "==", "silent"), _c("rssi_change_db", ">", -6.0)),
        0.85,
        _A.FIELD,
        "A sudden stop with a steady signal before it and its neighbours still reading: the "
        "radio module failed.",
        _W.RADIO_MODULE_REPLACEMENT,
        facts=(*_COMM_FACTS, "comm_failure_events", "parent_silent_share"),
    ),
    VerdictRule(
        "non_communicating.undetermined",
        _K.NON_COMMUNICATING,
        _C.UNDETERMINED,
        (),
        0.3,
        _A.FIELD,
        "No rule explains the silence: a technician investigates on site.",
        _W.NON_COMM_INVESTIGATION,
        facts=_COMM_FACTS,
    ),
    # -- zero consumption ----------------------------------------------------------------------
    VerdictRule(
        "zero_consumption.crossed_meters",
        _K.ZERO_CONSUMPTION,
        _C.CROSSED_METERS,
        (_c("crossed_partner", "==", True),),
        0.8,
        _A.BACK_OFFICE,
        "The use stopped the day a neighbouring premise's account closed while that premise's "
        "meter kept registering: the two meters are in each other's socket, not a stopped "
        "register; correct the meter-service-point links.",
    ),
    VerdictRule(
        "zero_consumption.vacant_exporting",
        _K.ZERO_CONSUMPTION,
        _C.VACANT_PREMISE,
        (_c("kwh_received", ">", 0.01),),
        0.7,
        _A.BACK_OFFICE,
        "The meter measures export (its register works) but nothing is used: the premise "
        "is empty; confirm occupancy and close the account if it moved out.",
        facts=("prior_kwh_per_day", "kwh_received"),
    ),
    VerdictRule(
        "zero_consumption.stopped_register",
        _K.ZERO_CONSUMPTION,
        _C.STOPPED_REGISTER,
        (_c("prior_kwh_per_day", ">=", 1.0),),
        0.85,
        _A.FIELD,
        "The meter communicates and used energy before, but now registers none on an "
        "occupied account: the register stopped.",
        _W.EXCHANGE,
        facts=("prior_kwh_per_day", "kwh_received"),
    ),
    VerdictRule(
        "zero_consumption.stopped_register.standing",
        _K.ZERO_CONSUMPTION,
        _C.STOPPED_REGISTER,
        (),
        0.6,
        _A.FIELD,
        "No energy at all in the window on an occupied account, no export either: the "
        "register stopped before the window (or the premise is empty; the technician "
        "checks both).",
        _W.EXCHANGE,
        facts=("prior_kwh_per_day", "kwh_received"),
    ),
    # -- inactive usage ------------------------------------------------------------------------
    VerdictRule(
        "inactive_usage.crossed_meters",
        _K.INACTIVE_USAGE,
        _C.CROSSED_METERS,
        (_c("crossed_partner", "==", True),),
        0.8,
        _A.BACK_OFFICE,
        "The premise's account closed but its meter kept registering, while a neighbour's "
        "meter fell silent on the same day: a swap, not a move-in left unrecorded; correct the "
        "meter-service-point links.",
    ),
    VerdictRule(
        "inactive_usage.account",
        _K.INACTIVE_USAGE,
        _C.ACCOUNT_MISCONFIGURATION,
        (),
        0.8,
        _A.BACK_OFFICE,
        "Energy is used where no account is open: a move-in not recorded (or a meter linked "
        "to the wrong service point).",
        facts=("prior_kwh_per_day",),
    ),
    # -- tamper ----------------------------------------------------------------------------------
    VerdictRule(
        "tamper.bypass",
        _K.TAMPER,
        _C.BYPASS_THEFT,
        (_c("usage_ratio_since_tamper", "<=", 0.7),),
        0.8,
        _A.FIELD,
        "Tamper events and registered consumption fell: a bypass.",
        _W.TAMPER_INVESTIGATION,
        priority=2,
        facts=("tamper_events", "usage_ratio", "prior_kwh_per_day"),
    ),
    VerdictRule(
        "tamper.events_only",
        _K.TAMPER,
        _C.TAMPER,
        (),
        0.7,
        _A.FIELD,
        "Tamper events with consumption unchanged: inspect and re-seal.",
        _W.TAMPER_INVESTIGATION,
        priority=4,
        facts=("tamper_events", "usage_ratio_since_tamper"),
    ),
    # -- reverse energy --------------------------------------------------------------------------
    VerdictRule(
        "reverse_energy.ct_polarity",
        _K.REVERSE_ENERGY,
        _C.CT_POLARITY,
        (_c("transformer_rated", "==", True),),
        0.85,
        _A.FIELD,
        "Reverse energy on a transformer-rated meter without export: a CT wired backwards.",
        _W.CT_SITE_CHECK,
        facts=("reverse_events",),
    ),
    VerdictRule(
        "reverse_energy.export",
        _K.REVERSE_ENERGY,
        _C.ACCOUNT_MISCONFIGURATION,
        (),
        0.5,
        _A.BACK_OFFICE,
        "Reverse energy on a self-contained meter: generation not enrolled for net metering.",
        facts=("reverse_events", "kwh_received"),
    ),
    # -- hot socket -------------------------------------------------------------------------------
    VerdictRule(
        "hot_socket.alarms",
        _K.HOT_SOCKET,
        _C.HOT_SOCKET,
        (),
        0.9,
        _A.FIELD,
        "High-temperature alarms: inspect the socket today before it burns.",
        _W.HOT_SOCKET_INSPECTION,
        priority=1,
        facts=("high_temperature_events",),
    ),
    # -- voltage -----------------------------------------------------------------------------------
    VerdictRule(
        "voltage_out_of_range.hot_socket",
        _K.VOLTAGE_OUT_OF_RANGE,
        _C.HOT_SOCKET,
        (_c("high_temperature_events", ">=", 1),),
        0.85,
        _A.FIELD,
        "Voltage dips with temperature alarms: a failing socket connection.",
        _W.HOT_SOCKET_INSPECTION,
        priority=1,
    ),
    VerdictRule(
        "voltage_out_of_range.transformer",
        _K.VOLTAGE_OUT_OF_RANGE,
        _C.SERVICE_VOLTAGE,
        (_c("transformer_voltage_share", ">=", 0.5),),
        0.7,
        _A.ANALYST,
        "Most meters on the transformer see it too: a grid voltage problem for distribution "
        "engineering.",
        facts=("transformer_voltage_share",),
    ),
    VerdictRule(
        "voltage_out_of_range.service",
        _K.VOLTAGE_OUT_OF_RANGE,
        _C.SERVICE_VOLTAGE,
        (),
        0.5,
        _A.ANALYST,
        "Only this service is out of range: review before sending a visit (loose neutral?).",
        facts=("transformer_voltage_share",),
    ),
    # -- suspect reads -----------------------------------------------------------------------------
    VerdictRule(
        "suspect_reads.clock",
        _K.SUSPECT_READS,
        _C.CLOCK_ERROR,
        (_c("clock_error_days", ">=", 2),),
        0.85,
        _A.REMOTE,
        "The meter reports clock errors day after day: set its clock from the head-end.",
        remote_command="time_sync",
    ),
    VerdictRule(
        "suspect_reads.flags",
        _K.SUSPECT_READS,
        _C.METER_FAULT,
        (),
        0.5,
        _A.ANALYST,
        "Many reads fail validation: review the flagged reads.",
    ),
    # -- register mismatch -------------------------------------------------------------------------
    VerdictRule(
        "register_mismatch.clock",
        _K.REGISTER_MISMATCH,
        _C.CLOCK_ERROR,
        (_c("clock_error_days", ">=", 1),),
        0.7,
        _A.REMOTE,
        "Intervals are shifted by a drifting clock: set the clock.",
        remote_command="time_sync",
    ),
    VerdictRule(
        "register_mismatch.metrology",
        _K.REGISTER_MISMATCH,
        _C.METER_FAULT,
        (),
        0.6,
        _A.FIELD,
        "Register and intervals disagree: test the meter's accuracy.",
        _W.ACCURACY_TEST,
    ),
    # -- crossed meters ----------------------------------------------------------------------------
    VerdictRule(
        "crossed_meters.swap",
        _K.CROSSED_METERS,
        _C.CROSSED_METERS,
        (),
        0.8,
        _A.BACK_OFFICE,
        "When one premise's account closed, its meter kept registering while a neighbour's "
        "meter fell to nothing the same day: the two meters are in each other's socket. "
        "Swap their service-point links in the back office (and re-bill both accounts); a "
        "check at the sockets confirms it.",
    ),
    # -- consumption drop --------------------------------------------------------------------------
    VerdictRule(
        "consumption_drop.tamper",
        _K.CONSUMPTION_DROP,
        _C.BYPASS_THEFT,
        (_c("tamper_events", ">=", 1),),
        0.85,
        _A.FIELD,
        "The premise's use stepped down and stayed down, with tamper events: a bypass.",
        _W.TAMPER_INVESTIGATION,
        facts=("drop_ratio", "neighbour_ratio"),
    ),
    VerdictRule(
        "consumption_drop.shared",
        _K.CONSUMPTION_DROP,
        _C.CUSTOMER_USAGE,
        (_c("neighbour_ratio", "<=", 0.8),),
        0.5,
        _A.ANALYST,
        "The meters on the same transformer dropped too: the change is shared, not a bypass "
        "at this premise.",
        facts=("drop_ratio",),
    ),
    VerdictRule(
        "consumption_drop.solar",
        _K.CONSUMPTION_DROP,
        _C.CUSTOMER_USAGE,
        (_c("net_metering", "==", True), _c("export_ratio", ">=", 1.2)),
        0.4,
        _A.ANALYST,
        "A net-metered premise whose export rose as its delivered energy fell: more sun, "
        "not a bypass; review before a visit.",
        facts=("drop_ratio",),
    ),
    VerdictRule(
        "consumption_drop.bypass",
        _K.CONSUMPTION_DROP,
        _C.BYPASS_THEFT,
        (),
        0.7,
        _A.FIELD,
        "The premise's weather-adjusted use stepped down and stayed down while its "
        "neighbours' did not, with no tamper event: a bypass that left no trace but the "
        "missing energy.",
        _W.TAMPER_INVESTIGATION,
        facts=("drop_ratio", "neighbour_ratio", "export_ratio", "prior_kwh_per_day"),
    ),
    VerdictRule(
        "wrong_multiplier.exchange",
        _K.WRONG_MULTIPLIER,
        _C.WRONG_MULTIPLIER,
        (),
        0.85,
        _A.BACK_OFFICE,
        "At the meter exchange the billed use stepped by the ratio of the two recorded "
        "multipliers while the meter-side use carried on: correct the multiplier on the meter "
        "record (and re-bill since the exchange); if the site's CT ratio itself is in doubt, "
        "order a CT-rated site check by a CT-qualified technician.",
    ),
    # -- high bill ---------------------------------------------------------------------------------
    VerdictRule(
        "program_mismatch.tou",
        _K.PROGRAM_MISMATCH,
        _C.TOU_MISPROGRAM,
        (),
        0.95,
        _A.REMOTE,
        "The meter's program bills other TOU periods than the tariff's filed definition: "
        "push the right program.",
        remote_command="push_program",
    ),
    VerdictRule(
        "high_bill.tou_misprogram",
        _K.HIGH_BILL,
        _C.TOU_MISPROGRAM,
        (_c("basis", "==", "tou_on_peak_share"),),
        0.8,
        _A.REMOTE,
        "Far more on-peak energy than customers on the same rate, same total: the meter's "
        "TOU periods are wrong; push the right program.",
        remote_command="push_program",
    ),
    VerdictRule(
        "high_bill.usage",
        _K.HIGH_BILL,
        _C.CUSTOMER_USAGE,
        (),
        0.5,
        _A.ANALYST,
        "Use rose well above the customer's own weather-adjusted history with no fault "
        "found: explain the usage.",
        facts=("usage_ratio", "prior_kwh_per_day"),
    ),
)
"""Every verdict rule, by kind in the order tried."""

VERDICTS: Final = pl.Schema(
    {
        "meter_id": pl.Int64,
        "kind": pl.String,
        "rule_id": pl.String,
        "cause": pl.String,
        "confidence": pl.Float64,
        "action": pl.String,
        "order_type": pl.String,
        "remote_command": pl.String,
        "subject": pl.String,
        "priority": pl.Int32,
        "summary": pl.String,
        "verdict_evidence": pl.String,
    }
)
"""Columns of :func:`diagnose`'s output."""


def evaluate(kind: ExceptionKind, facts: Mapping[str, Any]) -> tuple[VerdictRule, list[str]]:
    """The first rule of ``kind`` that holds on ``facts``, and its conditions described.

    Args:
        kind: The exception kind.
        facts: Fact name → value (nulls as None).

    Returns:
        The rule and ``fact = value (op threshold)`` for each of its conditions.

    Raises:
        KeyError: No rule for the kind (every kind has a fallback, so only a new kind).

    Examples:
        >>> rule, why = evaluate(ExceptionKind.TAMPER, {"usage_ratio_since_tamper": 0.4})
        >>> rule.cause.value, why
        ('bypass_theft', ['usage_ratio_since_tamper = 0.4 (<= 0.7)'])
    """
    for rule in _BY_KIND[kind]:
        if all(condition.holds(facts) for condition in rule.when):
            return rule, [condition.describe(facts) for condition in rule.when]
    raise KeyError(kind)


def diagnose(exceptions: pl.DataFrame, facts: pl.DataFrame) -> pl.DataFrame:
    """A verdict for each exception.

    Args:
        exceptions: ``EXCEPTIONS`` rows.
        facts: ``facts.meter_facts`` of their meters.

    Returns:
        One row per exception (:data:`VERDICTS` columns), in the exceptions' order.
    """
    by_meter = {row["meter_id"]: row for row in facts.iter_rows(named=True)}
    rows: list[dict[str, Any]] = []
    for meter_id, kind_text, evidence in exceptions.select(
        "meter_id", "kind", "evidence"
    ).iter_rows():
        kind = ExceptionKind(kind_text)
        meter_facts = by_meter.get(meter_id, {})
        rule, why = evaluate(kind, meter_facts)
        shown = {
            name: meter_facts.get(name) for name in (*(c.fact for c in rule.when), *rule.facts)
        }
        summary = rule.explanation + (" Because " + "; ".join(why) + "." if why else "")
        rows.append(
            {
                "meter_id": meter_id,
                "kind": kind.value,
                "rule_id": rule.rule_id,
                "cause": rule.cause.value,
                "confidence": rule.confidence,
                "action": rule.action.value,
                "order_type": rule.order_type.value if rule.order_type else None,
                "remote_command": rule.remote_command,
                "subject": rule.subject,
                "priority": rule.priority,
                "summary": summary,
                "verdict_evidence": json.dumps(
                    {
                        "rule": rule.rule_id,
                        "conditions": why,
                        "facts": shown,
                        "detector": json.loads(evidence),
                    },
                    default=str,
                    sort_keys=True,
                ),
            }
        )
    return pl.DataFrame(rows, schema=VERDICTS)


def _by_kind(rules: Sequence[VerdictRule]) -> dict[ExceptionKind, tuple[VerdictRule, ...]]:
    grouped: dict[ExceptionKind, list[VerdictRule]] = {}
    for rule in rules:
        grouped.setdefault(rule.kind, []).append(rule)
    missing = [kind for kind in ExceptionKind if kind not in grouped or grouped[kind][-1].when]
    if missing:  # pragma: no cover - guarded by a test
        raise ValueError(f"kinds without a fallback rule: {missing}")
    return {kind: tuple(found) for kind, found in grouped.items()}


_BY_KIND: Final = _by_kind(RULES)
