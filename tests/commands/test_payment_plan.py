"""CMD-08, open payment plan: no remote disconnect while the account's arrangement runs.

Plans reach the database through the real fleet import (``payment_plans.csv``, the simulated
CIS's file or one written here); commands go to the simulated head-end. The guard is checked
at request time, again at approval and again just before sending.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meterops.commands import schemas
from meterops.commands import service as commands_service
from meterops.commands.dispatcher import Dispatcher
from meterops.commands.policy import (
    Actor,
    CommandPolicy,
    MeterFacts,
    check_meter,
    payment_plan_open_on,
)
from meterops.fleet import service as fleet_service
from meterops.fleet.parse import parse_fleet_csv
from meterops.headend.protocol import CommandKind
from meterops.models import Account, Installation, Meter
from meterops.models.accounts import PaymentPlan, PaymentPlanStatus
from meterops.models.commands import CommandType
from meterops.models.org import Role
from tests.commands.world import MONDAY_10, Loaded, add_user, load_world

POLICY = CommandPolicy(jitter_max_s=0.0)
# Every disconnect request is held for a second person (request size > 0).
APPROVAL_POLICY = dataclasses.replace(POLICY, request_meter_limit=0)
PLAN_HEADER = "plan_number,account_number,start_date,end_date,status"
STATUSES = ("open", "completed", "defaulted", "cancelled")


# -- the pure rule ---------------------------------------------------------------------------

_days = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2040, 12, 31))


@given(
    status=st.sampled_from(STATUSES),
    start=_days,
    length=st.none() | st.integers(min_value=0, max_value=3000),
    day=_days,
)
def test_a_plan_is_open_exactly_on_the_days_from_start_to_end_while_its_status_is_open(
    status: str, start: dt.date, length: int | None, day: dt.date
) -> None:
    end = None if length is None else start + dt.timedelta(days=length)
    is_open = payment_plan_open_on(status, start, end, day)
    if status != "open" or day < start:
        assert not is_open
    elif end is None:
        assert is_open
    else:
        assert is_open == (day <= end)
    # The open days form one run: open on both neighbours means open in between.
    before = payment_plan_open_on(status, start, end, day - dt.timedelta(days=1))
    after = payment_plan_open_on(status, start, end, day + dt.timedelta(days=1))
    if before and after:
        assert is_open


@given(start=_days, length=st.integers(min_value=0, max_value=400))
def test_an_open_plan_covers_its_first_and_last_day_and_not_the_days_around(
    start: dt.date, length: int
) -> None:
    end = start + dt.timedelta(days=length)
    one = dt.timedelta(days=1)
    assert payment_plan_open_on("open", start, end, start)
    assert payment_plan_open_on("open", start, end, end)
    assert not payment_plan_open_on("open", start, end, start - one)
    assert not payment_plan_open_on("open", start, end, end + one)
    open_days = sum(
        payment_plan_open_on("open", start, end, start + dt.timedelta(days=k))
        for k in range(-3, length + 4)
    )
    assert open_days == length + 1


ANN = Actor("ann", "dispatcher", frozenset({"T1"}))


@pytest.mark.parametrize("switch_on", [True, False])
def test_the_guard_blocks_disconnects_only_and_follows_the_policy_switch(switch_on: bool) -> None:
    policy = dataclasses.replace(POLICY, payment_plan_blocks_disconnect=switch_on)
    facts = MeterFacts("M1", territory_code="T1", payment_plan_open=True)
    disconnect = {
        r.code: r for r in check_meter("disconnect", facts, actor=ANN, now=MONDAY_10, policy=policy)
    }
    assert disconnect["guard.payment_plan"].passed is not switch_on
    if switch_on:
        assert "open payment plan" in disconnect["guard.payment_plan"].message
    assert [r.code for r in disconnect.values() if not r.passed] == (
        ["guard.payment_plan"] if switch_on else []
    )
    for kind in ("reconnect", "arm_reconnect", "ping", "on_demand_read"):
        results = check_meter(kind, facts, actor=ANN, now=MONDAY_10, policy=policy)
        assert "guard.payment_plan" not in {r.code for r in results}
        assert all(r.passed for r in results), kind
    closed = dataclasses.replace(facts, payment_plan_open=False)
    assert all(
        r.passed for r in check_meter("disconnect", closed, actor=ANN, now=MONDAY_10, policy=policy)
    )


# -- through the database, the import and the simulated head-end -----------------------------


class CountingHeadEnd:
    """The simulated head-end, recording every submit."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.submits: list[tuple[str, str]] = []

    def submit(self, kind: CommandKind, serial_number: str, **kw: Any) -> str:
        self.submits.append((kind.value, serial_number))
        return self.inner.submit(kind, serial_number, **kw)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _request(
    session: Session,
    kind: CommandType,
    serials: list[str],
    key: str,
    *,
    actor: Actor,
    now: dt.datetime,
    policy: CommandPolicy = POLICY,
) -> schemas.CommandRequestRead:
    payload = schemas.CommandRequestCreate(
        kind=kind, serial_numbers=serials, reason="non-payment", idempotency_key=key
    )
    return commands_service.request(session, payload, actor=actor, now=now, policy=policy)


def _approve(
    session: Session, request_id: int, *, actor: Actor, now: dt.datetime, policy: CommandPolicy
) -> schemas.CommandRequestRead:
    """The second person approves, having stepped up just now (CMD-03)."""
    return commands_service.approve(
        session, request_id, actor=actor, now=now, policy=policy, stepped_up_at_utc=now
    )


def _run(dispatcher: Dispatcher, loaded: Loaded, *, cycles: int) -> None:
    for _ in range(cycles):
        dispatcher.cycle()
        loaded.clock.advance(dt.timedelta(seconds=30))


def _account_of(session: Session, serial: str) -> str:
    number = session.scalars(
        select(Account.account_number)
        .join(Installation, Installation.service_point_id == Account.service_point_id)
        .join(Meter, Meter.id == Installation.meter_id)
        .where(Meter.serial_number == serial)
        .where(Installation.removed_at_utc.is_(None))
        .where(Account.move_out_date.is_(None))
    ).first()
    assert number is not None, f"meter {serial} has no open account"
    return number


def _import_plans(
    session: Session, rows: list[tuple[str, str, str, str, str]], *, file: str, now: dt.datetime
) -> fleet_service.ImportReport:
    text = "\n".join([PLAN_HEADER, *(",".join(r) for r in rows)]) + "\n"
    return fleet_service.import_file(
        session,
        parse_fleet_csv(text.encode(), file=file),
        actor="cis",
        default_timezone="America/Chicago",
        now=now,
    )


def _with_open_accounts(session: Session, serials: list[str], count: int) -> list[str]:
    chosen = [
        s
        for s in serials
        if session.scalars(
            select(Account.id)
            .join(Installation, Installation.service_point_id == Account.service_point_id)
            .join(Meter, Meter.id == Installation.meter_id)
            .where(Meter.serial_number == s)
            .where(Installation.removed_at_utc.is_(None))
            .where(Account.move_out_date.is_(None))
        ).first()
        is not None
    ]
    if len(chosen) < count:
        pytest.skip("not enough switch meters with open accounts in this world")
    return chosen[:count]


def test_the_simulated_cis_plans_block_disconnects_at_request_and_nothing_is_sent(
    session: Session, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    loaded = load_world(session, tmp_path, payment_plans=True)
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    day = MONDAY_10.date()
    plans = session.execute(
        select(
            Meter.serial_number, PaymentPlan.status, PaymentPlan.start_date, PaymentPlan.end_date
        )
        .join(Account, Account.id == PaymentPlan.account_id)
        .join(Installation, Installation.service_point_id == Account.service_point_id)
        .join(Meter, Meter.id == Installation.meter_id)
        .where(Installation.removed_at_utc.is_(None))
        .where(Account.move_out_date.is_(None))
    ).all()
    statuses = {status for _, status, _, _ in plans}
    assert PaymentPlanStatus.OPEN in statuses
    assert statuses & {PaymentPlanStatus.COMPLETED, PaymentPlanStatus.DEFAULTED}
    switch = set(loaded.switch_serials)
    on_plan = sorted(
        s
        for s, status, start, end in plans
        if s in switch and payment_plan_open_on(status, start, end, day)
    )
    closed = sorted(
        s for s, status, _, _ in plans if s in switch and status != PaymentPlanStatus.OPEN
    )
    assert on_plan, "the seeded world gives some switch meters an open plan"
    read = _request(
        session, CommandType.DISCONNECT, on_plan + closed, "pp-sim-1", actor=ann, now=MONDAY_10
    )
    by_serial = {c.serial_number: c for c in read.commands}
    for serial in on_plan:
        command = by_serial[serial]
        assert (command.state, command.failure_reason) == ("cancelled", "guard.payment_plan")
        blocked = [g for g in command.guard_results["request"] if not g["passed"]]
        assert [g["code"] for g in blocked] == ["guard.payment_plan"]
        assert "open payment plan" in blocked[0]["message"]
    for serial in closed:
        assert by_serial[serial].state == "queued", serial
    headend = CountingHeadEnd(loaded.headend)
    _run(Dispatcher(sessions, headend, policy=POLICY), loaded, cycles=30)
    sent = {s for k, s in headend.submits if k == "disconnect"}
    assert sent == set(closed)


def test_a_plan_opened_after_approval_blocks_at_dispatch(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    bob = add_user(session, "bob", Role.SUPERVISOR, [loaded.territory])
    first, second = _with_open_accounts(session, loaded.switch_serials, 2)
    now = loaded.clock.now()
    held = _request(
        session,
        CommandType.DISCONNECT,
        [first, second],
        "pp-after-approval",
        actor=ann,
        now=now,
        policy=APPROVAL_POLICY,
    )
    assert held.state == "awaiting_approval"
    approved = _approve(session, held.id, actor=bob, now=now, policy=APPROVAL_POLICY)
    assert [c.state for c in approved.commands] == ["queued", "queued"]
    # The CIS sends a new arrangement for the first meter's account after the approval.
    report = _import_plans(
        session,
        [("PP-NEW-1", _account_of(session, first), now.date().isoformat(), "", "open")],
        file="payment_plans.csv",
        now=now,
    )
    assert report.created == 1
    headend = CountingHeadEnd(loaded.headend)
    _run(Dispatcher(sessions, headend, policy=APPROVAL_POLICY), loaded, cycles=30)
    after = {c.serial_number: c for c in commands_service.get_request(session, held.id).commands}
    assert after[first].failure_reason == "guard.payment_plan"
    assert after[first].sent_at_utc is None
    assert {"code": "guard.payment_plan", "passed": False} in after[first].guard_results["dispatch"]
    assert [s for _, s in headend.submits if s == first] == []
    assert ("disconnect", second) in headend.submits


def test_a_plan_opened_while_the_request_is_held_cancels_the_meter_at_approval(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    bob = add_user(session, "bob", Role.SUPERVISOR, [loaded.territory])
    (serial,) = _with_open_accounts(session, loaded.switch_serials, 1)
    now = loaded.clock.now()
    held = _request(
        session,
        CommandType.DISCONNECT,
        [serial],
        "pp-held-request",
        actor=ann,
        now=now,
        policy=APPROVAL_POLICY,
    )
    assert held.commands[0].state == "held"
    _import_plans(
        session,
        [("PP-HELD-1", _account_of(session, serial), "2025-12-01", "2026-06-30", "open")],
        file="payment_plans.csv",
        now=now,
    )
    approved = _approve(session, held.id, actor=bob, now=now, policy=APPROVAL_POLICY)
    command = approved.commands[0]
    assert (command.state, command.failure_reason) == ("cancelled", "guard.payment_plan")
    headend = CountingHeadEnd(loaded.headend)
    _run(Dispatcher(sessions, headend, policy=APPROVAL_POLICY), loaded, cycles=5)
    assert headend.submits == []


def test_completed_ended_future_defaulted_and_cancelled_plans_do_not_block(
    session: Session, loaded: Loaded
) -> None:
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    serials = _with_open_accounts(session, loaded.switch_serials, 5)
    today = MONDAY_10.date()
    rows = [
        ("PP-C", "completed", "2025-01-01", "2025-12-31"),
        ("PP-E", "open", "2025-06-01", (today - dt.timedelta(days=1)).isoformat()),
        ("PP-F", "open", (today + dt.timedelta(days=1)).isoformat(), ""),
        ("PP-D", "defaulted", "2025-10-01", ""),
        ("PP-X", "cancelled", "2025-11-01", "2026-12-31"),
    ]
    _import_plans(
        session,
        [
            (number, _account_of(session, serial), start, end, status)
            for serial, (number, status, start, end) in zip(serials, rows, strict=True)
        ],
        file="payment_plans.csv",
        now=MONDAY_10,
    )
    read = _request(
        session, CommandType.DISCONNECT, serials, "pp-none-blocking", actor=ann, now=MONDAY_10
    )
    assert [c.state for c in read.commands] == ["queued"] * 5
    # The plan ending today still covers today; the one starting tomorrow covers tomorrow.
    evaluation = commands_service.evaluate(
        session,
        CommandType.DISCONNECT,
        serials,
        actor=ann,
        now=MONDAY_10 + dt.timedelta(days=1),
        policy=POLICY,
    )
    blocked = {
        s: [g.code for g in evaluation.guards[s] if not g.passed and g.code == "guard.payment_plan"]
        for s in serials
    }
    assert blocked == {
        serials[0]: [],
        serials[1]: [],
        serials[2]: ["guard.payment_plan"],
        serials[3]: [],
        serials[4]: [],
    }


def test_the_plan_day_is_the_meters_local_day(session: Session, loaded: Loaded) -> None:
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    (serial,) = _with_open_accounts(session, loaded.switch_serials, 1)
    _import_plans(
        session,
        [("PP-LOCAL", _account_of(session, serial), "2025-12-01", "2026-01-12", "open")],
        file="payment_plans.csv",
        now=MONDAY_10,
    )
    # 03:00 UTC on the 13th is still the evening of the 12th in Iowa: the plan covers it.
    late = dt.datetime(2026, 1, 13, 3, 0, tzinfo=dt.UTC)
    next_day = dt.datetime(2026, 1, 13, 16, 0, tzinfo=dt.UTC)
    for when, blocked in ((late, True), (next_day, False)):
        evaluation = commands_service.evaluate(
            session, CommandType.DISCONNECT, [serial], actor=ann, now=when, policy=POLICY
        )
        results = {g.code: g.passed for g in evaluation.guards[serial]}
        assert results["guard.payment_plan"] is not blocked, when


def test_reconnects_are_not_blocked_by_an_open_plan(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    (serial,) = _with_open_accounts(session, loaded.switch_serials, 1)
    _import_plans(
        session,
        [("PP-RC", _account_of(session, serial), "2025-12-01", "", "open")],
        file="payment_plans.csv",
        now=MONDAY_10,
    )
    read = _request(
        session, CommandType.RECONNECT, [serial], "pp-reconnect", actor=ann, now=MONDAY_10
    )
    command = read.commands[0]
    assert command.state == "queued"
    assert "guard.payment_plan" not in {g["code"] for g in command.guard_results["request"]}
    headend = CountingHeadEnd(loaded.headend)
    _run(Dispatcher(sessions, headend, policy=POLICY), loaded, cycles=5)
    assert ("reconnect", serial) in headend.submits


def test_closing_the_plan_in_the_cis_lets_the_disconnect_through(
    session: Session, loaded: Loaded
) -> None:
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    (serial,) = _with_open_accounts(session, loaded.switch_serials, 1)
    account = _account_of(session, serial)
    _import_plans(
        session, [("PP-1", account, "2025-12-01", "", "open")], file="plans-1.csv", now=MONDAY_10
    )
    first = _request(
        session, CommandType.DISCONNECT, [serial], "pp-close-1", actor=ann, now=MONDAY_10
    )
    assert first.commands[0].failure_reason == "guard.payment_plan"
    report = _import_plans(
        session,
        [("PP-1", account, "2025-12-01", "2026-01-09", "defaulted")],
        file="plans-2.csv",
        now=MONDAY_10,
    )
    assert (report.created, report.updated) == (0, 1)
    second = _request(
        session, CommandType.DISCONNECT, [serial], "pp-close-2", actor=ann, now=MONDAY_10
    )
    assert second.commands[0].state == "queued"
