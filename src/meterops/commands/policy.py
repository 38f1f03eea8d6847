"""The safeguard policy of remote commands, and the pure guard, threshold and stagger rules.

Everything here is a pure function of explicit facts (:class:`MeterFacts`, :class:`Actor`,
window counts) and one frozen :class:`CommandPolicy` whose defaults are those of
``reliability-tests.md`` section E. The service evaluates the same rules at request time and
again, with fresh facts, just before the dispatcher sends a command.

Pure module: standard library and the ``holidays`` package; must not import ``meterops.db``,
``models``, ``web``, ``cli``, ``config``, sqlalchemy, fastapi or typer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import holidays

from meterops.errors import InvalidInputError

__all__ = [
    "ALLOWED_ROLES",
    "APPROVER_ROLES",
    "COMMON_GUARDS",
    "KILL_SWITCH_ROLES",
    "KINDS_BEGIN",
    "KINDS_END",
    "KIND_GUARDS",
    "PAYMENT_PLAN_OPEN",
    "POLICY_BEGIN",
    "POLICY_END",
    "SWITCH_KINDS",
    "Actor",
    "CommandPolicy",
    "GuardResult",
    "MeterFacts",
    "ThresholdVerdict",
    "WindowCounts",
    "check_meter",
    "check_thresholds",
    "payment_plan_open_on",
    "render_kinds_table",
    "render_policy_table",
    "rollout_stage_sizes",
    "stagger_offsets_s",
]

SWITCH_KINDS = frozenset({"disconnect", "reconnect", "arm_reconnect"})
"""Command kinds that operate the service switch."""

ALLOWED_ROLES: Mapping[str, frozenset[str]] = {
    "ping": frozenset({"technician", "dispatcher", "analyst", "supervisor", "admin"}),
    "on_demand_read": frozenset({"technician", "dispatcher", "analyst", "supervisor", "admin"}),
    "disconnect": frozenset({"dispatcher", "supervisor", "admin"}),
    "reconnect": frozenset({"dispatcher", "supervisor", "admin"}),
    "arm_reconnect": frozenset({"dispatcher", "supervisor", "admin"}),
    "program_push": frozenset({"supervisor", "admin"}),
    "time_sync": frozenset({"technician", "dispatcher", "supervisor", "admin"}),
    "demand_reset": frozenset({"supervisor", "admin"}),
}
"""Which roles may request each kind of command (least privilege, ASVS V8).

A demand reset out of the billing cycle changes what a demand customer is billed, so only a
supervisor or admin may ask for one; a time sync corrects the meter and is a field task too.
"""

COMMON_GUARDS: tuple[str, ...] = (
    "guard.role",
    "guard.meter_known",
    "guard.territory",
    "guard.installed",
)
"""Guards every command passes (in this order; the rest only for a known meter)."""

KIND_GUARDS: Mapping[str, tuple[str, ...]] = {
    "ping": (),
    "on_demand_read": (),
    "disconnect": (
        "guard.switch",
        "guard.medical_life_support",
        "guard.critical_facility",
        "guard.payment_plan",
        "guard.calendar",
        "guard.hours",
        "guard.weather",
    ),
    "reconnect": ("guard.switch", "guard.reconnect_mode", "guard.load_side_voltage"),
    "arm_reconnect": ("guard.switch", "guard.load_side_voltage"),
    "program_push": ("guard.program",),
    "time_sync": (),
    "demand_reset": (),
}
"""The guards each kind of command passes after :data:`COMMON_GUARDS`, in order.

Reads, pings, time syncs and demand resets neither cut nor restore anyone's power: they pass
the common guards only (the head-end refuses a demand reset on a meter without a demand
register). Reconnects are refused with voltage on the load side, and a direct close also when
the policy wants every reconnect armed for the customer's press.
"""

APPROVER_ROLES = frozenset({"supervisor", "admin"})
"""Roles that may be the second person on a held request."""

KILL_SWITCH_ROLES = frozenset({"dispatcher", "supervisor", "admin"})
"""Roles that may halt all commands (releasing the halt needs a supervisor or admin)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a user's name, role and the territory codes they may work in."""

    username: str
    role: str
    territories: frozenset[str]


@dataclass(frozen=True, slots=True)
class CommandPolicy:
    """Safeguard thresholds and rules (defaults: ``reliability-tests.md`` section E).

    Attributes:
        request_meter_limit: A request touching more meters than this needs approval.
        user_limit: Unapproved disconnects per user per ``user_window_s`` before approval.
        user_window_s: Rolling window of the per-user limit. [s]
        territory_limit: Unapproved disconnects per territory per ``territory_window_s``.
        territory_window_s: Rolling window of the per-territory limit. [s]
        system_limit: Unapproved disconnects system-wide per ``system_window_s``.
        system_window_s: Rolling window of the system-wide limit. [s]
        hard_ceiling: Disconnects per ``system_window_s`` even with approval.
        thresholded_kinds: Command kinds the blast-radius limits count.
        approval_timeout_s: A held request must be approved within this time. [s]
        command_ttl_s: A queued command not sent within this time expires. [s]
        status_timeout_s: A sent command without an answer expires after this time. [s]
        dispatch_rate_per_s: Commands per second to one head-end. [1/s]
        jitter_max_s: Bulk commands start after a random delay up to this. [s]
        reconnects_per_feeder: Reconnects per feeder in ``feeder_window_s`` (cold load).
        feeder_window_s: Window of the per-feeder reconnect cap. [s]
        claim_lease_s: A claimed command not sent within this time is claimed again. [s]
        blocked_weekdays: Local weekdays (0 = Monday) without disconnects.
        holidays: Extra local dates without disconnects (nor on the day before).
        holiday_calendar: Country of the public-holiday calendar (``holidays`` package code;
            empty for none): no disconnects on a public holiday nor on the day before.
        holiday_subdivision: State or province of that calendar (None: national holidays).
        disconnect_hours_local: Local hours [start, end) in which disconnects may be sent.
        min_temperature_c: No disconnects at or below this temperature. [°C]
        max_temperature_c: No disconnects at or above this temperature. [°C]
        temperature_max_age_s: A temperature older than this is not used. [s]
        load_side_voltage_lookback_s: A load-side voltage report this recent blocks a
            reconnect. [s]
        rollout_first_stage: Meters in a rollout's first stage.
        rollout_second_share: Share of the meters pushed by the end of the second stage.
        rollout_max_failure_share: A stage whose failed share exceeds this halts the rollout.
        direct_reconnect: A reconnect may close the switch at once; when False, only
            ``arm_reconnect`` (the customer closes it with the meter's button) is allowed.
        payment_plan_blocks_disconnect: An account with an open payment plan on the local
            day is not disconnected remotely (``guard.payment_plan``; False turns it off).
    """

    request_meter_limit: int = 10
    user_limit: int = 25
    user_window_s: int = 900
    territory_limit: int = 100
    territory_window_s: int = 3600
    system_limit: int = 250
    system_window_s: int = 3600
    hard_ceiling: int = 1000
    thresholded_kinds: frozenset[str] = frozenset({"disconnect"})
    approval_timeout_s: int = 1800
    command_ttl_s: int = 86_400
    status_timeout_s: int = 3600
    dispatch_rate_per_s: float = 10.0
    jitter_max_s: float = 60.0
    reconnects_per_feeder: int = 20
    feeder_window_s: int = 300
    claim_lease_s: int = 120
    blocked_weekdays: frozenset[int] = frozenset({4, 5, 6})
    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    holiday_calendar: str = "US"
    holiday_subdivision: str | None = None
    disconnect_hours_local: tuple[int, int] = (8, 16)
    min_temperature_c: float = 0.0
    max_temperature_c: float = 35.0
    temperature_max_age_s: int = 86_400
    load_side_voltage_lookback_s: int = 7 * 86_400
    rollout_first_stage: int = 5
    rollout_second_share: float = 0.10
    rollout_max_failure_share: float = 0.02
    direct_reconnect: bool = True
    payment_plan_blocks_disconnect: bool = True


@dataclass(frozen=True, slots=True)
class MeterFacts:
    """What the guards need to know about one meter at one moment.

    Attributes:
        serial_number: Meter serial.
        known: The meter exists in the fleet.
        installed: It is installed at a service point.
        territory_code: Territory of its premise (None when unknown).
        timezone: IANA zone of that territory.
        has_switch: It has a service switch.
        medical_life_support: The open account has the medical / life-support flag.
        critical_facility: The open account is a critical facility.
        payment_plan_open: The open account has a payment plan open on the meter's local day
            (see :func:`payment_plan_open_on`).
        temperature_c: Latest temperature for the territory, None if none recent. [°C]
        load_side_voltage: The meter reported load-side voltage recently.
        program_known: For a program push: the program exists.
    """

    serial_number: str
    known: bool = True
    installed: bool = True
    territory_code: str | None = None
    timezone: str = "America/Chicago"
    has_switch: bool = True
    medical_life_support: bool = False
    critical_facility: bool = False
    payment_plan_open: bool = False
    temperature_c: float | None = None
    load_side_voltage: bool = False
    program_known: bool = True


@dataclass(frozen=True, slots=True)
class GuardResult:
    """One guard's verdict on one meter.

    Attributes:
        code: Stable guard code (``guard.<name>``).
        passed: True when the command may go ahead.
        message: Why it was blocked (empty when passed).
    """

    code: str
    passed: bool
    message: str = ""


def check_meter(
    kind: str, facts: MeterFacts, *, actor: Actor, now: dt.datetime, policy: CommandPolicy
) -> list[GuardResult]:
    """Evaluate every guard for one meter; blocked ones carry a reason.

    Args:
        kind: Command kind (``disconnect``, ``reconnect`` …).
        facts: The meter's facts now.
        actor: The requester.
        now: The moment of evaluation (aware). [UTC]
        policy: The policy.

    Returns:
        One result per guard that applies, in a fixed order.

    Examples:
        >>> import datetime as dt
        >>> actor = Actor("ann", "dispatcher", frozenset({"T1"}))
        >>> monday_10 = dt.datetime(2026, 11, 23, 16, tzinfo=dt.UTC)
        >>> facts = MeterFacts("M1", territory_code="T1", medical_life_support=True)
        >>> [r.code for r in check_meter("disconnect", facts, actor=actor, now=monday_10,
        ...     policy=CommandPolicy()) if not r.passed]
        ['guard.medical_life_support']
    """
    if kind not in KIND_GUARDS:
        msg = f"unknown command kind {kind!r}; expected one of {sorted(KIND_GUARDS)}"
        raise InvalidInputError(msg, code="commands.unknown_kind")
    results = [
        GuardResult(
            "guard.role",
            actor.role in ALLOWED_ROLES.get(kind, frozenset()),
            f"role {actor.role!r} may not request {kind}",
        ),
        GuardResult("guard.meter_known", facts.known, "the fleet knows no such meter"),
    ]
    if not facts.known:
        return _finish(results)
    results.append(
        GuardResult(
            "guard.territory",
            facts.territory_code is not None and facts.territory_code in actor.territories,
            f"meter is in territory {facts.territory_code!r}, outside the actor's territories",
        )
    )
    results.append(GuardResult("guard.installed", facts.installed, "meter is not installed"))
    disconnect = _disconnect_guards(facts, now=now, policy=policy)
    results.extend(
        disconnect[code] if code in disconnect else _guard(code, facts, policy)
        for code in KIND_GUARDS[kind]
    )
    return _finish(results)


def _guard(code: str, facts: MeterFacts, policy: CommandPolicy) -> GuardResult:
    """One of the meter guards that are not disconnect rules."""
    if code == "guard.switch":
        return GuardResult(code, facts.has_switch, "meter has no switch")
    if code == "guard.program":
        return GuardResult(code, facts.program_known, "unknown program")
    if code == "guard.reconnect_mode":
        return GuardResult(
            code,
            policy.direct_reconnect,
            "the policy allows no direct close: request arm_reconnect (the customer closes "
            "the switch with the meter's button)",
        )
    if code == "guard.load_side_voltage":
        return GuardResult(
            code,
            not facts.load_side_voltage,
            "the meter reports voltage on the load side: a technician must reconnect",
        )
    raise AssertionError(f"no guard {code!r}")  # KIND_GUARDS names only known guards


PAYMENT_PLAN_OPEN = "open"
"""The payment-plan status under which a plan can be open (``models.accounts``)."""


def payment_plan_open_on(
    status: str, start_date: dt.date, end_date: dt.date | None, day: dt.date
) -> bool:
    """Whether a payment plan is open on ``day``.

    A plan is open on day ``d`` when its status is ``open`` and ``start_date <= d <=
    end_date`` (no end date: open-ended). Completed, defaulted and cancelled plans, plans
    that have not started and plans whose end date has passed are not open.

    Args:
        status: The plan's status (``open``, ``completed``, ``defaulted``, ``cancelled``).
        start_date: First day of the arrangement (local date).
        end_date: Last day of the arrangement, inclusive (None: open-ended).
        day: The day asked about (the meter's local date).

    Returns:
        True when the plan is open on ``day``.

    Examples:
        >>> import datetime as dt
        >>> d = dt.date(2026, 1, 12)
        >>> payment_plan_open_on("open", dt.date(2026, 1, 1), None, d)
        True
        >>> payment_plan_open_on("open", dt.date(2026, 1, 1), dt.date(2026, 1, 11), d)
        False
        >>> payment_plan_open_on("completed", dt.date(2026, 1, 1), None, d)
        False
    """
    return (
        status == PAYMENT_PLAN_OPEN and start_date <= day and (end_date is None or day <= end_date)
    )


def _finish(results: list[GuardResult]) -> list[GuardResult]:
    return [r if not r.passed else GuardResult(r.code, True) for r in results]


@functools.cache
def _public_holidays(calendar: str, subdivision: str | None, year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays(calendar, subdiv=subdivision, years=year))


def _holiday(day: dt.date, policy: CommandPolicy) -> bool:
    if day in policy.holidays:
        return True
    if not policy.holiday_calendar:
        return False
    return day in _public_holidays(policy.holiday_calendar, policy.holiday_subdivision, day.year)


def _disconnect_guards(
    facts: MeterFacts, *, now: dt.datetime, policy: CommandPolicy
) -> dict[str, GuardResult]:
    local = now.astimezone(ZoneInfo(facts.timezone))
    day = local.date()
    start_h, end_h = policy.disconnect_hours_local
    tomorrow = day + dt.timedelta(days=1)
    calendar_ok = (
        day.weekday() not in policy.blocked_weekdays
        and not _holiday(day, policy)
        and not _holiday(tomorrow, policy)
    )
    temperature = facts.temperature_c
    weather_ok = temperature is None or (
        policy.min_temperature_c < temperature < policy.max_temperature_c
    )
    results = [
        GuardResult(
            "guard.medical_life_support",
            not facts.medical_life_support,
            "the account has a medical / life-support flag: no remote disconnect",
        ),
        GuardResult(
            "guard.critical_facility",
            not facts.critical_facility,
            "the account is a critical facility: no remote disconnect",
        ),
        GuardResult(
            "guard.payment_plan",
            not (policy.payment_plan_blocks_disconnect and facts.payment_plan_open),
            "the account has an open payment plan: no remote disconnect for non-payment "
            "while the arrangement runs",
        ),
        GuardResult(
            "guard.calendar",
            calendar_ok,
            f"no disconnects on {day:%A %Y-%m-%d} (weekend, holiday or the day before)",
        ),
        GuardResult(
            "guard.hours",
            start_h <= local.hour < end_h,
            f"disconnects only between {start_h:02d}:00 and {end_h:02d}:00 local time",
        ),
        GuardResult(
            "guard.weather",
            weather_ok,
            f"temperature {temperature} °C outside ({policy.min_temperature_c}, "
            f"{policy.max_temperature_c}) °C",
        ),
    ]
    return {r.code: r for r in results}


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """Commands already released in the rolling windows (of the thresholded kinds).

    Attributes:
        user_unapproved: By this user without approval in the user window.
        territory_unapproved: Per territory code, without approval in the territory window.
        system_unapproved: System-wide without approval in the system window.
        system_total: System-wide, approved or not, in the system window (hard ceiling).
    """

    user_unapproved: int = 0
    territory_unapproved: Mapping[str, int] = field(default_factory=dict)
    system_unapproved: int = 0
    system_total: int = 0


@dataclass(frozen=True, slots=True)
class ThresholdVerdict:
    """Whether a request may go without a second person, or at all.

    Attributes:
        approval_reasons: Which limits the request would pass (empty: no approval needed).
        over_ceiling: The hard ceiling would be passed even with approval.
    """

    approval_reasons: tuple[str, ...]
    over_ceiling: bool

    @property
    def needs_approval(self) -> bool:
        """True when a second, different person must approve."""
        return bool(self.approval_reasons)


def check_thresholds(
    kind: str,
    meters_by_territory: Mapping[str, int],
    counts: WindowCounts,
    *,
    policy: CommandPolicy,
) -> ThresholdVerdict:
    """The blast-radius verdict for a request of ``kind`` over the given meters.

    Args:
        kind: Command kind.
        meters_by_territory: Meters of the request that pass the guards, per territory.
        counts: Already released commands in the rolling windows.
        policy: The policy.

    Returns:
        The verdict.

    Examples:
        >>> p = CommandPolicy()
        >>> check_thresholds("disconnect", {"T1": 3}, WindowCounts(user_unapproved=23),
        ...     policy=p).approval_reasons
        ('user_window',)
        >>> check_thresholds("ping", {"T1": 300}, WindowCounts(), policy=p).needs_approval
        False
    """
    n = sum(meters_by_territory.values())
    if kind not in policy.thresholded_kinds or n == 0:
        return ThresholdVerdict((), False)
    reasons: list[str] = []
    if n > policy.request_meter_limit:
        reasons.append("request_size")
    if counts.user_unapproved + n > policy.user_limit:
        reasons.append("user_window")
    if any(
        counts.territory_unapproved.get(code, 0) + k > policy.territory_limit
        for code, k in meters_by_territory.items()
    ):
        reasons.append("territory_window")
    if counts.system_unapproved + n > policy.system_limit:
        reasons.append("system_window")
    return ThresholdVerdict(tuple(reasons), counts.system_total + n > policy.hard_ceiling)


def stagger_offsets_s(
    feeders: Sequence[str | None], *, already: Mapping[str, int], policy: CommandPolicy
) -> list[float]:
    """Earliest send offsets that keep reconnects under the per-feeder cap.

    The ``k``-th reconnect of a feeder (counting ``already`` scheduled ones) goes out no
    earlier than ``(k // cap) × window`` after now, so at most ``cap`` start per window.

    Args:
        feeders: Feeder code of each reconnect (None: no feeder known, not staggered).
        already: Reconnects per feeder already scheduled in the current window.
        policy: The policy.

    Returns:
        Offsets from now, one per reconnect. [s]

    Examples:
        >>> stagger_offsets_s(["F1"] * 3, already={"F1": 19},
        ...     policy=CommandPolicy())
        [0.0, 300.0, 300.0]
    """
    seen = dict(already)
    offsets: list[float] = []
    for feeder in feeders:
        if feeder is None:
            offsets.append(0.0)
            continue
        k = seen.get(feeder, 0)
        seen[feeder] = k + 1
        offsets.append(float((k // policy.reconnects_per_feeder) * policy.feeder_window_s))
    return offsets


def rollout_stage_sizes(count: int, *, policy: CommandPolicy) -> list[int]:
    """Meters per stage of a staged program push: a few, up to 10 %, then the rest.

    Args:
        count: Meters in the rollout.
        policy: The policy.

    Returns:
        Stage sizes summing to ``count`` (no empty stage).

    Examples:
        >>> rollout_stage_sizes(1000, policy=CommandPolicy())
        [5, 95, 900]
        >>> rollout_stage_sizes(3, policy=CommandPolicy())
        [3]
    """
    first = min(count, policy.rollout_first_stage)
    second = max(0, min(count, math.ceil(count * policy.rollout_second_share)) - first)
    sizes = [first, second, count - first - second]
    return [s for s in sizes if s > 0]


KINDS_BEGIN = "<!-- command-kinds:begin -->"
"""Marker before the generated kinds table in ``docs/remote-operations.md``."""
KINDS_END = "<!-- command-kinds:end -->"
"""Marker after it."""


def render_kinds_table() -> str:
    """Each command kind with the roles that may request it and its guards (for the docs).

    Returns:
        A Markdown table, one row per kind, from :data:`ALLOWED_ROLES` and :data:`KIND_GUARDS`.
    """
    lines = [
        "| kind | who may request | guards after the common ones |",
        "|---|---|---|",
    ]
    for kind, guards in KIND_GUARDS.items():
        roles = ", ".join(sorted(ALLOWED_ROLES[kind]))
        checks = ", ".join(f"`{g}`" for g in guards) or "(none)"
        lines.append(f"| `{kind}` | {roles} | {checks} |")
    return "\n".join(lines)


POLICY_BEGIN = "<!-- policy-defaults:begin -->"
"""Marker before the generated defaults table in ``docs/remote-operations.md``."""
POLICY_END = "<!-- policy-defaults:end -->"
"""Marker after it."""


def render_policy_table() -> str:
    """The shipped defaults of :class:`CommandPolicy` as a Markdown table (for the docs).

    Returns:
        The table, one row per setting, with the description from the class docstring.
    """
    doc = CommandPolicy.__doc__ or ""
    descriptions: dict[str, str] = {}
    for match in re.finditer(r"^ {8}(\w+): (.+?)(?=^ {8}\w+: |\Z)", doc, re.MULTILINE | re.DOTALL):
        descriptions[match.group(1)] = " ".join(match.group(2).split())
    default = CommandPolicy()
    lines = ["| setting | default | meaning |", "|---|---|---|"]
    for item in dataclasses.fields(CommandPolicy):
        value = getattr(default, item.name)
        if isinstance(value, frozenset):
            value = ", ".join(str(v) for v in sorted(value)) or "(none)"
        lines.append(f"| `{item.name}` | {value} | {descriptions.get(item.name, '')} |")
    return "\n".join(lines)
