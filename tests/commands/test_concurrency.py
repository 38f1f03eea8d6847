"""Concurrent requesters and dispatchers on one database (PostgreSQL when configured).

These tests commit for real (a module database), run threads with their own sessions, and
check the invariants: no rolling window passes its limit without approval, and no command
reaches the head-end twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from meterops.commands import schemas
from meterops.commands import service as commands_service
from meterops.commands.dispatcher import Dispatcher
from meterops.commands.policy import Actor, CommandPolicy
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.headend.protocol import CommandKind
from meterops.models.commands import CommandRequest, CommandType, RemoteCommand
from meterops.models.org import Role
from tests.commands.world import MONDAY_10, Loaded, add_user, load_world

POLICY = CommandPolicy(jitter_max_s=0.0, system_limit=30, user_limit=25)


@pytest.fixture(scope="module")
def db(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, Loaded, list[Actor]]]:
    engine = make_engine(module_database_url)
    sessions = make_session_factory(engine)
    with session_scope(sessions) as session:
        loaded = load_world(session, tmp_path_factory.mktemp("fleet"), service_points=150)
        actors = [
            add_user(session, f"user{i}", Role.DISPATCHER, [loaded.territory]) for i in range(10)
        ]
    yield engine, loaded, actors
    engine.dispose()


def _with_retry(
    sessions: sessionmaker[Session],
    payload: schemas.CommandRequestCreate,
    actor: Actor,
    now: dt.datetime,
    policy: CommandPolicy,
) -> None:
    """Request as a client does: on a lock timeout, retry with the same idempotency key."""
    for attempt in range(5):
        try:
            with session_scope(sessions) as session:
                commands_service.request(session, payload, actor=actor, now=now, policy=policy)
        except OperationalError:
            if attempt == 4:
                raise
        else:
            return


class LockedHeadEnd:
    """The simulated head-end behind a lock, recording every submit."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.lock = threading.Lock()
        self.submits: list[tuple[str, str]] = []

    def now_utc(self) -> dt.datetime:
        return self.inner.now_utc()  # type: ignore[no-any-return]

    def submit(self, kind: CommandKind, serial_number: str, **kw: Any) -> str:
        with self.lock:
            self.submits.append((kind.value, serial_number))
            return self.inner.submit(kind, serial_number, **kw)  # type: ignore[no-any-return]

    def command_status(self, command_id: str) -> Any:
        with self.lock:
            return self.inner.command_status(command_id)


def test_concurrent_requests_never_pass_a_window_without_approval(
    db: tuple[Engine, Loaded, list[Actor]],
) -> None:
    engine, loaded, actors = db
    sessions = make_session_factory(engine)
    serials = loaded.switch_serials
    per_thread = max(1, len(serials) // len(actors))
    errors: list[BaseException] = []

    def work(index: int, actor: Actor) -> None:
        mine = serials[index * per_thread : (index + 1) * per_thread]
        try:
            for n, serial in enumerate(mine):
                payload = schemas.CommandRequestCreate(
                    kind=CommandType.DISCONNECT,
                    serial_numbers=[serial],
                    reason="race",
                    idempotency_key=f"race-{index}-{n}",
                )
                _with_retry(sessions, payload, actor, MONDAY_10 + dt.timedelta(seconds=n), POLICY)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i, a)) for i, a in enumerate(actors)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope(sessions) as session:
        released = session.execute(
            select(func.count(RemoteCommand.id))
            .join(CommandRequest, CommandRequest.id == RemoteCommand.request_id)
            .where(CommandRequest.approval_required.is_(False))
            .where(RemoteCommand.kind == CommandType.DISCONNECT)
        ).scalar_one()
        held = session.execute(
            select(func.count(CommandRequest.id)).where(CommandRequest.approval_required.is_(True))
        ).scalar_one()
    total = per_thread * len(actors)
    assert released == min(POLICY.system_limit, total)
    assert released + held == total


def test_two_dispatchers_never_send_a_command_twice(
    db: tuple[Engine, Loaded, list[Actor]], tmp_path: Path
) -> None:
    engine, loaded, _ = db
    sessions = make_session_factory(engine)
    serials = loaded.all_serials
    with session_scope(sessions) as session:
        supervisor = add_user(session, "sup-race", Role.SUPERVISOR, [loaded.territory])
        commands_service.request(
            session,
            schemas.CommandRequestCreate(
                kind=CommandType.PING,
                serial_numbers=serials,
                reason="two dispatchers",
                idempotency_key="two-dispatchers-1",
            ),
            actor=supervisor,
            now=MONDAY_10,
            policy=POLICY,
        )
    headend = LockedHeadEnd(loaded.headend)
    fast = dataclasses.replace(POLICY, dispatch_rate_per_s=10_000)
    stop = threading.Event()
    errors: list[BaseException] = []

    def run(name: str) -> None:
        dispatcher = Dispatcher(
            sessions,
            headend,
            policy=fast,
            worker=name,
            clock=lambda: MONDAY_10,  # type: ignore[arg-type]
        )
        try:
            while not stop.is_set():
                if dispatcher.cycle(max_claims=7).claimed == 0:
                    break
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=run, args=(f"d{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    stop.set()
    assert errors == []
    # Commands of every kind left queued by other tests are dispatched too: none twice.
    counts = Counter(headend.submits)
    assert sorted(s for k, s in counts if k == "ping") == sorted(serials)
    assert max(counts.values()) == 1


def test_the_kill_switch_stops_a_running_dispatcher(
    db: tuple[Engine, Loaded, list[Actor]],
) -> None:
    engine, loaded, _ = db
    sessions = make_session_factory(engine)
    with session_scope(sessions) as session:
        boss = add_user(session, "boss-kill", Role.SUPERVISOR, [loaded.territory])
        for r in range(3):
            commands_service.request(
                session,
                schemas.CommandRequestCreate(
                    kind=CommandType.PING,
                    serial_numbers=loaded.all_serials,
                    reason="kill switch under load",
                    idempotency_key=f"kill-load-{r}",
                ),
                actor=boss,
                now=MONDAY_10,
                policy=POLICY,
            )
    headend = LockedHeadEnd(loaded.headend)
    fast = dataclasses.replace(POLICY, dispatch_rate_per_s=10_000)
    dispatcher = Dispatcher(
        sessions,
        headend,
        policy=fast,
        worker="kill",
        clock=lambda: MONDAY_10,  # type: ignore[arg-type]
    )
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            while not stop.is_set():
                dispatcher.cycle(max_claims=20)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    while len(headend.submits) < 20 and thread.is_alive():
        threading.Event().wait(0.01)
    with session_scope(sessions) as session:
        commands_service.set_kill_switch(
            session, active=True, actor=boss, now=MONDAY_10, reason="halt under load"
        )
    at_halt = len(headend.submits)
    threading.Event().wait(0.5)
    after = len(headend.submits)
    stop.set()
    thread.join()
    assert errors == []
    # At most the one command whose check passed just before the halt committed.
    assert after - at_halt <= 1
    with session_scope(sessions) as session:
        left = session.execute(
            select(func.count(RemoteCommand.id)).where(RemoteCommand.state == "queued")
        ).scalar_one()
        commands_service.set_kill_switch(
            session, active=False, actor=boss, now=MONDAY_10, reason="resume"
        )
    assert left > 0  # the queue is preserved


def test_one_user_in_many_sessions_never_passes_the_user_window(
    db: tuple[Engine, Loaded, list[Actor]],
) -> None:
    engine, loaded, _ = db
    sessions = make_session_factory(engine)
    policy = dataclasses.replace(
        POLICY, user_limit=12, territory_limit=100_000, system_limit=100_000, hard_ceiling=100_000
    )
    with session_scope(sessions) as session:
        solo = add_user(session, "solo", Role.DISPATCHER, [loaded.territory])
    serials = loaded.switch_serials[:8]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            for n, serial in enumerate(serials):
                payload = schemas.CommandRequestCreate(
                    kind=CommandType.DISCONNECT,
                    serial_numbers=[serial],
                    reason="same user, many sessions",
                    idempotency_key=f"solo-{index}-{n}",
                )
                _with_retry(sessions, payload, solo, MONDAY_10 + dt.timedelta(seconds=n), policy)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope(sessions) as session:
        released = session.execute(
            select(func.count(CommandRequest.id))
            .where(CommandRequest.requested_by == "solo")
            .where(CommandRequest.approval_required.is_(False))
        ).scalar_one()
    assert released == policy.user_limit
