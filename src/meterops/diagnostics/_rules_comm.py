"""Verdict rules of non-communicating meters, in the order they are tried.

Pure module: pure meterops modules only.
"""

from __future__ import annotations

from typing import Final

from meterops.diagnostics._rule import VerdictRule
from meterops.diagnostics._rule import c as _c
from meterops.diagnostics.kinds import ActionKind, Cause, ExceptionKind
from meterops.workorders.types import WorkOrderType

__all__ = ["ALONE_SHARE", "COMM_RULES", "FADE_DB", "FADE_T", "SHORT_SILENCE_HOURS"]

_K, _C, _A, _W = ExceptionKind, Cause, ActionKind, WorkOrderType


SHORT_SILENCE_HOURS: Final[float] = 36.0
"""A silent meter with a steady signal and at most one comm-failure event (the head-end logs
one for each day without reads, whatever the cause), silent at most this long, gets a remote
on-demand read first (``non_communicating.short_silence``), not a radio-module visit. [h]"""

FADE_DB: Final[float] = 5.0
"""A weak mesh path: the least-squares line through the meter's daily RSSI reports fell by
at least this much over the window (``rssi_fade_db``)... [dB]"""

FADE_T: Final[float] = -4.0
"""...with a slope at least this many standard errors below zero (``rssi_trend_t``): a
healthy meter's daily RSSI scatters about 1.5 dB around a steady level (a change of 3 dB
between two single reports is common), a weak path loses its margin dB by dB. [-]"""

_COMM_FACTS = (
    "rssi_dbm",
    "rssi_fade_db",
    "rssi_trend_db_per_day",
    "rssi_trend_t",
    "rssi_reports",
    "hop_count",
    "collector_code",
    "read_success",
)
_FADING = (_c("rssi_fade_db", ">=", FADE_DB), _c("rssi_trend_t", "<=", FADE_T))
ALONE_SHARE: Final[float] = 0.5
"""A fade is the meter's own path only while fewer than this share of the meters on its
collector fade with it (``collector_fading_share``); most of them fading together is the
collector or its backhaul, not each meter's path. [0-1]"""
_ALONE = (_c("collector_fading_share", "<", ALONE_SHARE),)


COMM_RULES: Final[tuple[VerdictRule, ...]] = (
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
        "non_communicating.weak_mesh_path.faded_before_silence",
        _K.NON_COMMUNICATING,
        _C.WEAK_MESH_PATH,
        (_c("mode", "==", "silent"), *_FADING, *_ALONE),
        0.75,
        _A.FIELD,
        "The signal had been fading steadily, day after day, before the meter fell silent, "
        "while most meters on its collector held theirs: a weak mesh path (even if the "
        "collector is down now, its path needs the collector work too).",
        _W.COLLECTOR_WORK,
        subject="collector",
        priority=3,
        facts=(*_COMM_FACTS, "collector_fading_share", "collector_down"),
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
        (_c("mode", "==", "intermittent"), *_FADING),
        0.8,
        _A.FIELD,
        "Reads still arrive, but too few, and the signal has been fading steadily day after "
        "day: a weak mesh path to the collector (relocate or add a collector or router).",
        _W.COLLECTOR_WORK,
        subject="collector",
        priority=3,
        facts=_COMM_FACTS,
    ),
    VerdictRule(
        "non_communicating.weak_mesh_path.intermittent_weak_signal",
        _K.NON_COMMUNICATING,
        _C.WEAK_MESH_PATH,
        (
            _c("mode", "==", "intermittent"),
            _c("rssi_dbm", "<=", -88.0),
            _c("rssi_fade_db", ">=", 3.0),
            _c("rssi_trend_t", "<=", FADE_T),
        ),
        0.7,
        _A.FIELD,
        "Reads still arrive, but too few, over a signal at the edge of reception that is "
        "still falling: a weak mesh path.",
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
        "Too few reads over a steady signal (no fading trend: outages, a collector that was "
        "down, a long mesh path dropping reads): read it on demand before sending anyone.",
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
        (*_FADING, *_ALONE),
        0.75,
        _A.FIELD,
        "The signal faded steadily, day after day, before the silence: a weak mesh path (a "
        "failed radio stops at a steady signal).",
        _W.COLLECTOR_WORK,
        subject="collector",
        priority=3,
        facts=_COMM_FACTS,
    ),
    VerdictRule(
        "non_communicating.weak_mesh_path.faded_out",
        _K.NON_COMMUNICATING,
        _C.WEAK_MESH_PATH,
        (
            _c("mode", "==", "silent"),
            _c("rssi_dbm", "<=", -88.0),
            _c("rssi_fade_db", ">=", 4.0),
            _c("rssi_trend_t", "<=", -2.5),
            *_ALONE,
        ),
        0.65,
        _A.FIELD,
        "Only a few reports before the silence, but they fell to the edge of reception: the "
        "path faded out (a failed radio stops at a steady signal).",
        _W.COLLECTOR_WORK,
        subject="collector",
        priority=3,
        facts=(*_COMM_FACTS, "collector_fading_share"),
    ),
    VerdictRule(
        "non_communicating.short_silence",
        _K.NON_COMMUNICATING,
        _C.UNDETERMINED,
        (
            _c("mode", "==", "silent"),
            _c("comm_failure_events", "<=", 1),
            _c("rssi_change_db", ">", -6.0),
            _c("silent_hours", "<=", SHORT_SILENCE_HOURS),
        ),
        0.4,
        _A.REMOTE,
        "Silent for about a day with a steady signal and at most the one comm-failure event "
        "the head-end logs for a day without reads: the head-end may simply have dropped a "
        "day of reads on a long mesh path. Read it on demand before a visit; a radio-module "
        "visit only if it stays silent.",
        remote_command="read_on_demand",
        facts=(*_COMM_FACTS, "silent_hours", "comm_failure_events"),
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
)
"""The ``non_communicating`` rules; the last has no condition (the fallback)."""
