"""A Hypothesis state machine over the whole command lifecycle (reliability-tests CMD-18).

Rules request (single and mass disconnects, reconnects, pings), approve (by the requester or
by a second person), cancel, halt and resume, take the head-end down and up, dispatch and let
time pass, in any order. Invariants after every step: a command in a terminal state never
leaves it; no command reaches the head-end twice; nothing reaches the head-end while the kill
switch is on or before its request was approved; the approver is never the requester. At the
end, with the head-end up and the switch off, every command reaches a terminal state.

Runs on the active backend (a module database; each example rolls back).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from meterops.commands import schemas
from meterops.commands import service as commands_service
from meterops.commands.dispatcher import Dispatcher
from meterops.commands.policy import Actor, CommandPolicy
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.errors import MeterOpsError
from meterops.headend.protocol import CommandKind, HeadEndUnavailableError
from meterops.headend.simulated import SimClock, SimulatedHeadEnd
from meterops.models.commands import CommandRequest, CommandType, RemoteCommand
from meterops.models.org import Role
from meterops.simulator.world import World
from tests.commands.world import MONDAY_10, Loaded, add_user, load_world

POLICY = CommandPolicy(
    jitter_max_s=0.0, request_meter_limit=3, user_limit=5, command_ttl_s=1800, status_timeout_s=900
)
TERMINAL = {"confirmed", "failed", "expired", "cancelled"}


class _HeadEnd:
    def __init__(self, inner: SimulatedHeadEnd) -> None:
        self.inner = inner
        self.down = False
        self.submits: list[str] = []

    def now_utc(self) -> dt.datetime:
        return self.inner.now_utc()

    def submit(self, kind: CommandKind, serial_number: str, **kw: Any) -> str:
        if self.down:
            raise HeadEndUnavailableError("down")
        self.submits.append(str(kw["request_id"]))
        return self.inner.submit(kind, serial_number, **kw)

    def command_status(self, command_id: str) -> Any:
        if self.down:
            raise HeadEndUnavailableError("down")
        return self.inner.command_status(command_id)


STATE: dict[str, Any] = {}


@pytest.fixture(scope="module")
def prepared(module_database_url: str) -> tuple[Engine, Loaded, dict[str, Actor]]:
    engine = make_engine(module_database_url)
    with session_scope(make_session_factory(engine)) as session:
        loaded = load_world(session, Path(tempfile.mkdtemp()), service_points=60)
        actors = {
            "ann": add_user(session, "ann", Role.DISPATCHER, [loaded.territory]),
            "sue": add_user(session, "sue", Role.SUPERVISOR, [loaded.territory]),
        }
    return engine, loaded, actors


class Lifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        engine, loaded, actors = STATE["prepared"]
        self.connection = engine.connect()
        self.transaction = self.connection.begin()
        self.sessions: sessionmaker[Session] = sessionmaker(
            bind=self.connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        self.session = self.sessions()
        self.actors: dict[str, Actor] = actors
        self.serials: list[str] = loaded.switch_serials
        self.clock = SimClock(MONDAY_10)
        world = World(loaded.world.scenario)
        self.headend = _HeadEnd(SimulatedHeadEnd(world, clock=self.clock))
        self.dispatcher = Dispatcher(
            self.sessions,
            self.headend,
            policy=POLICY,
            clock=self.clock.now,  # type: ignore[arg-type]
        )
        self.halted = False
        self.terminal: dict[int, str] = {}
        self.keys = 0
        self.approved_before: set[int] = set()

    def teardown(self) -> None:
        try:
            self.headend.down = False
            if self.halted:
                commands_service.set_kill_switch(
                    self.session,
                    active=False,
                    actor=self.actors["sue"],
                    now=self.clock.now(),
                    reason="end",
                )
                self.session.commit()
            for _ in range(60):
                self.dispatcher.cycle()
                self.clock.advance(dt.timedelta(seconds=120))
                if {c.state.value for c in self._commands()} <= TERMINAL:
                    break
            states = {c.state.value for c in self._commands()}
            assert states <= TERMINAL, f"commands left in {states - TERMINAL}"
        finally:
            self.session.close()
            self.transaction.rollback()
            self.connection.close()

    def _commands(self) -> list[RemoteCommand]:
        self.session.expire_all()
        return list(self.session.scalars(select(RemoteCommand)).all())

    @rule(
        kind=st.sampled_from([CommandType.DISCONNECT, CommandType.RECONNECT, CommandType.PING]),
        count=st.integers(1, 5),
        who=st.sampled_from(["ann", "sue"]),
    )
    def request(self, kind: CommandType, count: int, who: str) -> None:
        self.keys += 1
        serials = self.serials[(self.keys * 3) % 20 : (self.keys * 3) % 20 + count]
        try:
            commands_service.request(
                self.session,
                schemas.CommandRequestCreate(
                    kind=kind,
                    serial_numbers=serials,
                    reason="fuzz",
                    idempotency_key=f"fuzz-{self.keys:05d}",
                ),
                actor=self.actors[who],
                now=self.clock.now(),
                policy=POLICY,
            )
            self.session.commit()
        except MeterOpsError:
            self.session.rollback()

    @rule(who=st.sampled_from(["ann", "sue"]))
    def approve(self, who: str) -> None:
        held = self.session.scalars(
            select(CommandRequest).where(CommandRequest.state == "awaiting_approval")
        ).first()
        if held is None:
            return
        try:
            commands_service.approve(
                self.session,
                held.id,
                actor=self.actors[who],
                now=self.clock.now(),
                policy=POLICY,
                stepped_up_at_utc=self.clock.now(),
            )
            self.session.commit()
        except MeterOpsError:
            self.session.rollback()

    @rule()
    def cancel(self) -> None:
        last = self.session.scalars(
            select(CommandRequest).order_by(CommandRequest.id.desc())
        ).first()
        if last is None:
            return
        commands_service.cancel(
            self.session, last.id, actor=self.actors["sue"], now=self.clock.now(), reason="fuzz"
        )
        self.session.commit()

    @rule(on=st.booleans())
    def kill_switch(self, on: bool) -> None:
        commands_service.set_kill_switch(
            self.session, active=on, actor=self.actors["sue"], now=self.clock.now(), reason="fuzz"
        )
        self.session.commit()
        self.halted = on

    @rule(down=st.booleans())
    def headend_state(self, down: bool) -> None:
        self.headend.down = down

    @rule(seconds=st.sampled_from([1, 30, 300, 2000]))
    def dispatch(self, seconds: int) -> None:
        before = len(self.headend.submits)
        self.dispatcher.cycle()
        if self.halted:
            assert len(self.headend.submits) == before, "sent while halted"
        self.clock.advance(dt.timedelta(seconds=seconds))

    @invariant()
    def terminal_states_are_final(self) -> None:
        for command in self._commands():
            if command.id in self.terminal:
                assert command.state.value == self.terminal[command.id]
            elif command.state.value in TERMINAL:
                self.terminal[command.id] = command.state.value

    @invariant()
    def nothing_twice_and_nothing_unapproved(self) -> None:
        assert max(Counter(self.headend.submits).values(), default=0) <= 1
        sent = {int(key.rsplit("-", 1)[1]) for key in self.headend.submits}
        for command in self._commands():
            if command.id in sent and command.purpose == "request":
                request = self.session.get(CommandRequest, command.request_id)
                assert request is not None
                assert not request.approval_required or request.approved_by is not None
                assert request.approved_by != request.requested_by


def test_the_command_lifecycle_holds_its_invariants(
    prepared: tuple[Engine, Loaded, dict[str, Actor]],
) -> None:
    STATE["prepared"] = prepared
    Lifecycle.TestCase.settings = settings(
        max_examples=10,
        stateful_step_count=10,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    Lifecycle.TestCase().runTest()
