"""The outbox dispatcher: claim, re-check, send, confirm, reconcile, expire.

A worker (the CLI's ``meterops remote dispatch`` or a thread in a benchmark) runs
:meth:`Dispatcher.cycle` in a loop. It owns its transactions, like any adapter: each step
commits on its own so that a crash leaves every command in a state the next cycle can resume.

- **Claim** under the ``dispatch_lock`` row lock: nothing while the kill switch is on; at most
  ``dispatch_rate_per_s`` commands per second to the head-end (counting sent and claimed
  ones, so several dispatchers share one budget); reconnects only while their feeder has
  fewer than ``reconnects_per_feeder`` in the rolling ``feeder_window_s`` (cold-load
  pickup; an arm-for-customer-press reconnect is not capped: customers press their buttons at
  their own times, which spreads the pickup by itself). The claim itself is a
  compare-and-set, so a command is claimed once.
- **Send** each claimed command after checking the kill switch again (a halt stops sending
  within one command) and re-evaluating every guard with fresh facts: a flag set after
  approval still blocks. A reconnect at a meter that reports load-side voltage is never sent:
  the command fails and a field reconnect work order is created. The head-end gets the
  command's own idempotency key (``meterops-cmd-<id>``), so a resend after a crash returns
  the same head-end command: never two.
- **Confirm** by polling the head-end; a confirmed disconnect or reconnect gets a follow-up
  on-demand read whose switch state is compared with the intended one (``matched`` or
  ``mismatch``, the latter an audit alert; an armed reconnect matches ``armed`` or, once the
  customer has pressed, ``closed``). A confirmed program push updates the meter's
  program. A reconnect refused for load-side voltage creates the work order too.
- **Expire** what cannot finish: queued past its time to live, sent without an answer past the
  status timeout, held past the approval deadline. Every command ends confirmed, failed,
  expired or cancelled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meterops.audit import service as audit_service
from meterops.commands import schemas
from meterops.commands import service as commands_service
from meterops.commands.policy import Actor, CommandPolicy, check_meter
from meterops.commands.repository import CommandRepository
from meterops.db.engine import session_scope
from meterops.errors import MeterOpsError
from meterops.headend.protocol import (
    CommandKind,
    CommandState,
    HeadEnd,
    HeadEndUnavailableError,
)
from meterops.models import Meter, MeterProgram
from meterops.models.commands import (
    CommandRequest,
    CommandType,
    RemoteCommand,
    RemoteCommandState,
)
from meterops.reads.store import ReadStore
from meterops.workorders import service as workorders_service

__all__ = ["Dispatcher", "headend_request_id"]

_SYSTEM = "system:dispatcher"
_RECHECKED = frozenset(
    {
        CommandType.DISCONNECT,
        CommandType.RECONNECT,
        CommandType.ARM_RECONNECT,
        CommandType.PROGRAM_PUSH,
        CommandType.TIME_SYNC,
        CommandType.DEMAND_RESET,
    }
)
_EXPECTED_SWITCH: dict[CommandType, frozenset[str]] = {
    CommandType.DISCONNECT: frozenset({"open"}),
    CommandType.RECONNECT: frozenset({"closed"}),
    # Armed, or already closed by the customer's press before the reconciliation read.
    CommandType.ARM_RECONNECT: frozenset({"armed", "closed"}),
}
_LOAD_SIDE_REFUSED = frozenset({CommandType.RECONNECT, CommandType.ARM_RECONNECT})


def _write_first(session: Session) -> None:
    """On SQLite, take the write lock before reading (a read snapshot cannot be upgraded)."""
    if session.get_bind().dialect.name == "sqlite":
        CommandRepository(session).lock("dispatch_lock")


def headend_request_id(command_id: int) -> str:
    """The idempotency key the head-end gets for a command."""
    return f"meterops-cmd-{command_id}"


class Dispatcher:
    """Sends the outbox to one head-end under the policy's throttle and caps.

    Args:
        sessions: Session factory of the operational database.
        headend: The head-end (any :class:`HeadEnd`).
        policy: The safeguard policy.
        worker: Name of this dispatcher (kept on claimed rows).
        clock: Source of "now" (default: the head-end's clock).
        store: Read store for load-side voltage events (None: not checked before sending).
        workorder_policy: Policy for the field orders it creates.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        headend: HeadEnd,
        *,
        policy: CommandPolicy,
        worker: str = "dispatcher-1",
        clock: Callable[[], dt.datetime] | None = None,
        store: ReadStore | None = None,
        workorder_policy: workorders_service.WorkOrderPolicy | None = None,
    ) -> None:
        self.sessions = sessions
        self.headend = headend
        self.policy = policy
        self.worker = worker
        self.clock = clock or headend.now_utc
        self.store = store
        self.workorder_policy = workorder_policy or workorders_service.WorkOrderPolicy()
        self.submitted: list[int] = []

    # -- one cycle ---------------------------------------------------------------------------

    def cycle(self, *, max_claims: int = 1000) -> schemas.DispatchReport:
        """Expire, poll sent commands, claim and send what is due."""
        report = schemas.DispatchReport()
        self.expire(report)
        self.poll(report)
        ids = self.claim(max_claims=max_claims, report=report)
        self.send(ids, report)
        return report

    def halted(self) -> bool:
        """Whether the kill switch is on (a fresh read)."""
        with session_scope(self.sessions) as session:
            return CommandRepository(session).control_active(commands_service.KILL_SWITCH)

    def claim(self, *, max_claims: int, report: schemas.DispatchReport) -> list[int]:
        """Claim due commands within the throttle and the per-feeder reconnect cap."""
        now = self.clock()
        policy = self.policy
        with session_scope(self.sessions) as session:
            repository = CommandRepository(session)
            repository.lock("dispatch_lock")
            if repository.control_active(commands_service.KILL_SWITCH):
                report.halted = True
                return []
            repository.release_stale_claims(now - dt.timedelta(seconds=policy.claim_lease_s))
            recent = repository.count_recent_sends(now - dt.timedelta(seconds=1))
            budget = min(max_claims, int(policy.dispatch_rate_per_s) - recent)
            if budget <= 0:
                return []
            feeders = repository.feeder_reconnects(
                now - dt.timedelta(seconds=policy.feeder_window_s)
            )
            chosen: list[int] = []
            for command_id, kind, feeder in repository.ready(now, limit=budget * 50 + 100):
                if len(chosen) >= budget:
                    break
                if kind == CommandType.RECONNECT.value and feeder is not None:
                    if feeders.get(feeder, 0) >= policy.reconnects_per_feeder:
                        continue
                    feeders[feeder] = feeders.get(feeder, 0) + 1
                chosen.append(command_id)
            won = repository.claim(chosen, worker=self.worker, now=now)
        report.claimed += len(won)
        return won

    def send(self, ids: Sequence[int], report: schemas.DispatchReport) -> None:
        """Send claimed commands one by one, checking the kill switch before each."""
        for index, command_id in enumerate(ids):
            if self.halted():
                self._unclaim(ids[index:])
                report.halted = True
                return
            self._send_one(command_id, report)

    def _unclaim(self, ids: Sequence[int]) -> None:
        with session_scope(self.sessions) as session:
            _write_first(session)
            for command_id in ids:
                command = CommandRepository(session).command(command_id)
                if command is not None and command.state is RemoteCommandState.DISPATCHING:
                    command.state = RemoteCommandState.QUEUED
                    command.claimed_by = None

    def _send_one(self, command_id: int, report: schemas.DispatchReport) -> None:
        with session_scope(self.sessions) as session:
            _write_first(session)
            repository = CommandRepository(session)
            command = repository.command(command_id, for_update=True)
            if command is None or command.state is not RemoteCommandState.DISPATCHING:
                return
            if command.claimed_by != self.worker:
                return
            now = self.clock()
            blocked = self._recheck(session, command, now=now)
            if blocked:
                report.blocked += 1
                if blocked == "guard.load_side_voltage":
                    command.state = RemoteCommandState.FAILED
                    command.failure_reason = "load_side_voltage"
                    command.completed_at_utc = now
                    order = self._field_reconnect(session, command, now=now)
                    if order:
                        report.work_orders.append(order)
                else:
                    command.state = RemoteCommandState.CANCELLED
                    command.failure_reason = blocked
                    command.completed_at_utc = now
                audit_service.record(
                    session,
                    actor=_SYSTEM,
                    action="command.blocked_at_dispatch",
                    entity_type="remote_command",
                    entity_id=command.id,
                    reason=blocked,
                    data={"serial_number": command.serial_number, "kind": command.kind.value},
                    now=now,
                )
                return
            try:
                headend_id = self.headend.submit(
                    CommandKind(command.kind.value),
                    command.serial_number,
                    program_code=command.program_code,
                    request_id=headend_request_id(command.id),
                )
            except HeadEndUnavailableError as error:
                command.state = RemoteCommandState.QUEUED
                command.claimed_by = None
                backoff = min(300, 5 * 2 ** min(command.attempts, 6))
                command.not_before_utc = now + dt.timedelta(seconds=backoff)
                command.failure_reason = error.code
                report.retried += 1
                return
            except MeterOpsError as error:
                command.state = RemoteCommandState.FAILED
                command.failure_reason = error.code
                command.completed_at_utc = now
                report.failed += 1
                return
            self.submitted.append(command.id)
            command.state = RemoteCommandState.SENT
            command.sent_at_utc = now
            command.headend_command_id = headend_id
            command.failure_reason = None
            report.sent += 1

    def _recheck(self, session: Session, command: RemoteCommand, *, now: dt.datetime) -> str | None:
        """The first guard that blocks now (None: go ahead).

        Only commands that change the meter (switch operations, program pushes) are checked
        again: a ping or a read changes nothing, and its role and territory were checked when
        it was requested.
        """
        if command.purpose != "request" or command.kind not in _RECHECKED:
            return None
        request = session.get(CommandRequest, command.request_id)
        assert request is not None
        facts, _ = commands_service.facts_for(
            session,
            [command.serial_number],
            now=now,
            policy=self.policy,
            store=self.store,
            program_code=command.program_code,
        )
        fact = facts[command.serial_number]
        # The requester's role and territory were checked at request time; the meter's
        # territory is the one it is in now.
        actor = Actor(
            request.requested_by, request.requester_role, frozenset({fact.territory_code or ""})
        )
        results = check_meter(command.kind.value, fact, actor=actor, now=now, policy=self.policy)
        command.guard_results = {
            **command.guard_results,
            "dispatch": [{"code": r.code, "passed": r.passed} for r in results],
        }
        blocked = [r.code for r in results if not r.passed]
        return blocked[0] if blocked else None

    def _field_reconnect(
        self, session: Session, command: RemoteCommand, *, now: dt.datetime
    ) -> str | None:
        return commands_service.field_reconnect_order(
            session, command, now=now, workorder_policy=self.workorder_policy
        )

    # -- confirmation and reconciliation ----------------------------------------------------

    def poll(self, report: schemas.DispatchReport) -> None:
        """Ask the head-end about sent commands; settle, reconcile, expire."""
        with session_scope(self.sessions) as session:
            _write_first(session)
            repository = CommandRepository(session)
            sent = repository.in_state(RemoteCommandState.SENT, limit=5000)
            now = self.clock()
            for command in sent:
                assert command.headend_command_id is not None
                try:
                    status = self.headend.command_status(command.headend_command_id)
                except HeadEndUnavailableError:
                    status = None
                if status is None or status.state is CommandState.PENDING:
                    assert command.sent_at_utc is not None
                    limit = dt.timedelta(seconds=self.policy.status_timeout_s)
                    if now - command.sent_at_utc > limit:
                        command.state = RemoteCommandState.EXPIRED
                        command.failure_reason = "status_timeout"
                        command.completed_at_utc = now
                        report.expired += 1
                    continue
                command.completed_at_utc = status.completed_at_utc or now
                command.result = dict(status.result)
                if status.state is CommandState.CONFIRMED:
                    command.state = RemoteCommandState.CONFIRMED
                    report.confirmed += 1
                    self._after_confirmed(session, command, now=now, report=report)
                else:
                    command.state = RemoteCommandState.FAILED
                    command.failure_reason = status.reason
                    report.failed += 1
                    self._after_failed(session, command, now=now, report=report)
                audit_service.record(
                    session,
                    actor=_SYSTEM,
                    action="command.completed",
                    entity_type="remote_command",
                    entity_id=command.id,
                    data={
                        "serial_number": command.serial_number,
                        "kind": command.kind.value,
                        "purpose": command.purpose,
                        "headend": status.to_dict(),
                    },
                    now=now,
                )

    def _after_confirmed(
        self,
        session: Session,
        command: RemoteCommand,
        *,
        now: dt.datetime,
        report: schemas.DispatchReport,
    ) -> None:
        if command.purpose == "request" and command.kind in _EXPECTED_SWITCH:
            session.add(
                RemoteCommand(
                    request_id=command.request_id,
                    kind=CommandType.ON_DEMAND_READ,
                    serial_number=command.serial_number,
                    meter_id=command.meter_id,
                    territory_code=command.territory_code,
                    feeder_code=command.feeder_code,
                    purpose="reconcile",
                    parent_id=command.id,
                    state=RemoteCommandState.QUEUED,
                    not_before_utc=now,
                    expires_at_utc=now + dt.timedelta(seconds=self.policy.command_ttl_s),
                    result={},
                    guard_results={},
                    created_at_utc=now,
                )
            )
            command.reconciliation = "pending"
        elif command.purpose == "reconcile" and command.parent_id is not None:
            parent = session.get(RemoteCommand, command.parent_id)
            assert parent is not None
            allowed = _EXPECTED_SWITCH[parent.kind]
            expected = " or ".join(sorted(allowed))
            actual = command.result.get("switch")
            parent.reconciliation = "matched" if actual in allowed else "mismatch"
            report.reconciled += 1
            if actual not in allowed:
                report.mismatches += 1
                audit_service.record(
                    session,
                    actor=_SYSTEM,
                    action="command.reconcile_mismatch",
                    entity_type="remote_command",
                    entity_id=parent.id,
                    reason=f"intended switch {expected}, meter reads {actual}",
                    data={"serial_number": parent.serial_number, "read": command.result},
                    now=now,
                )
        elif command.kind is CommandType.PROGRAM_PUSH and command.meter_id is not None:
            program_id = session.execute(
                select(MeterProgram.id).where(MeterProgram.program_code == command.program_code)
            ).scalar_one_or_none()
            meter = session.get(Meter, command.meter_id)
            if meter is not None and program_id is not None:
                meter.program_id = program_id

    def _after_failed(
        self,
        session: Session,
        command: RemoteCommand,
        *,
        now: dt.datetime,
        report: schemas.DispatchReport,
    ) -> None:
        if command.purpose == "reconcile" and command.parent_id is not None:
            parent = session.get(RemoteCommand, command.parent_id)
            assert parent is not None
            parent.reconciliation = "unverified"
        if command.kind in _LOAD_SIDE_REFUSED and command.failure_reason == "load_side_voltage":
            order = self._field_reconnect(session, command, now=now)
            if order:
                report.work_orders.append(order)

    # -- expiry -----------------------------------------------------------------------------

    def expire(self, report: schemas.DispatchReport) -> None:
        """Expire queued commands past their time to live and held requests past approval."""
        with session_scope(self.sessions) as session:
            _write_first(session)
            now = self.clock()
            repository = CommandRepository(session)
            for command in repository.in_state(RemoteCommandState.QUEUED, before=now):
                command.state = RemoteCommandState.EXPIRED
                command.failure_reason = command.failure_reason or "not_sent_in_time"
                command.completed_at_utc = now
                if command.parent_id is not None:
                    parent = session.get(RemoteCommand, command.parent_id)
                    if parent is not None:
                        parent.reconciliation = "unverified"
                report.expired += 1
            commands_service.expire_overdue_requests(session, now=now)
