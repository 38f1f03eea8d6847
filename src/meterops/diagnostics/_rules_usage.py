"""Verdict rules of every exception kind but non-communicating, by kind in the order tried.

Usage, tamper, reverse energy, hot sockets, voltage, suspect reads, register mismatches,
crossed meters, consumption drops, wrong multipliers, programs and high bills. Pure module:
pure meterops modules only.
"""

from __future__ import annotations

from typing import Final

from meterops.diagnostics._rule import VerdictRule
from meterops.diagnostics._rule import c as _c
from meterops.diagnostics.kinds import ActionKind, Cause, ExceptionKind
from meterops.workorders.types import WorkOrderType

__all__ = ["PROGRAM_TOU_SHARE", "USAGE_RULES"]

_K, _C, _A, _W = ExceptionKind, Cause, ActionKind, WorkOrderType

PROGRAM_TOU_SHARE: Final = 0.25
"""Share of the meters on a program whose on-peak share test fired from which the program,
not its customers, is taken for the cause: the test flags about 1-9 % of the customers of a
program that bins right (a share at least 1.2 times the rate's median), most of the meters
of one that bins wrong. [-]"""

USAGE_RULES: Final[tuple[VerdictRule, ...]] = (
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
        "zero_consumption.vacant_since_exchange",
        _K.ZERO_CONSUMPTION,
        _C.VACANT_PREMISE,
        (
            _c("installed_days_ago", "<=", 21.0),
            _c("prior_kwh_per_day", "<", 1.0),
            _c("removed_kwh_per_day", ">=", 1.0),
        ),
        0.6,
        _A.BACK_OFFICE,
        "The meter has registered nothing since it went in at a recorded exchange, while "
        "the meter it replaced registered until that day: the use stopped at the exchange, "
        "as when the customer leaves then (no move-out recorded). Confirm occupancy first; "
        "if the premise is occupied, the new meter's register is dead: exchange it.",
        facts=("installed_days_ago", "removed_kwh_per_day", "prior_kwh_per_day"),
    ),
    VerdictRule(
        "zero_consumption.vacant_until_move_in",
        _K.ZERO_CONSUMPTION,
        _C.VACANT_PREMISE,
        (_c("days_since_move_in", "<=", 3), _c("prior_kwh_per_day", "<", 1.0)),
        0.6,
        _A.BACK_OFFICE,
        "The premise used nothing in the window and its account opened only days ago: it "
        "was empty until the move-in. Confirm occupancy before sending an exchange.",
        facts=("days_since_move_in", "prior_kwh_per_day"),
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
        "tamper.drop",
        _K.TAMPER,
        _C.BYPASS_THEFT,
        (_c("drop_ratio", "<=", 0.6),),
        0.85,
        _A.FIELD,
        "Tamper events and the premise's weather-adjusted use stepped down and stayed down "
        "(a consumption drop): a bypass, not a tamper alone.",
        _W.TAMPER_INVESTIGATION,
        priority=2,
        facts=("tamper_events", "usage_ratio_since_tamper", "neighbour_ratio"),
    ),
    VerdictRule(
        "tamper.bypass",
        _K.TAMPER,
        _C.BYPASS_THEFT,
        (_c("usage_ratio_since_tamper", "<=", 0.7),),
        0.8,
        _A.FIELD,
        "Tamper events and the registered consumption fell after them (complete days, "
        "weather-adjusted, against the days before the first tamper): a bypass.",
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
        "consumption_drop.within_noise",
        _K.CONSUMPTION_DROP,
        _C.CUSTOMER_USAGE,
        (_c("step_t", "<", 3.0),),
        0.4,
        _A.ANALYST,
        "The use stepped down, but the premise's days vary almost as much (the fall is less "
        "than three times its day-to-day uncertainty) and no tamper event came with it: "
        "review the usage before a visit.",
        facts=("drop_ratio", "neighbour_ratio", "prior_kwh_per_day"),
    ),
    VerdictRule(
        "consumption_drop.bypass",
        _K.CONSUMPTION_DROP,
        _C.BYPASS_THEFT,
        (),
        0.7,
        _A.FIELD,
        "The premise's weather-adjusted use stepped down and stayed down, by at least three "
        "times its day-to-day uncertainty, while its neighbours' did not, with no tamper "
        "event: a bypass that left no trace but the missing energy.",
        _W.TAMPER_INVESTIGATION,
        facts=("drop_ratio", "step_t", "neighbour_ratio", "export_ratio", "prior_kwh_per_day"),
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
        "high_bill.tou_misprogram.program_mismatch",
        _K.HIGH_BILL,
        _C.TOU_MISPROGRAM,
        (_c("basis", "==", "tou_on_peak_share"), _c("program_mismatch", "==", True)),
        0.9,
        _A.REMOTE,
        "Far more on-peak energy than customers on the same rate, and the meter's program "
        "bills other periods than the tariff's filed definition: push the right program.",
        remote_command="push_program",
        facts=("program_tou_flagged", "program_tou_share"),
    ),
    VerdictRule(
        "high_bill.tou_misprogram.cohort",
        _K.HIGH_BILL,
        _C.TOU_MISPROGRAM,
        (
            _c("basis", "==", "tou_on_peak_share"),
            _c("program_tou_share", ">=", PROGRAM_TOU_SHARE),
            _c("program_tou_flagged", ">=", 3),
        ),
        0.85,
        _A.REMOTE,
        "Far more on-peak energy than customers on the same rate, and so are many of the "
        "meters on the same program: the program bins the periods wrong, not the customers' "
        "use; push the right program.",
        remote_command="push_program",
    ),
    VerdictRule(
        "high_bill.tou_share.customer_usage",
        _K.HIGH_BILL,
        _C.CUSTOMER_USAGE,
        (
            _c("basis", "==", "tou_on_peak_share"),
            _c("program_tou_share", "<", PROGRAM_TOU_SHARE),
        ),
        0.5,
        _A.ANALYST,
        "More on-peak energy than customers on the same rate, but the meter's program is not "
        "known to bill other periods than its tariff and few meters on it do this: the "
        "customer uses more at on-peak hours; explain the usage (read the program from the "
        "meter if in doubt).",
        facts=("program_mismatch", "program_tou_flagged", "program_tou_share"),
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
"""Rules of the other kinds; each kind's last rule has no condition (its fallback)."""
