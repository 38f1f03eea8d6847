"""Staged program pushes: a few meters, then up to 10 %, then all; halt and roll back.

:func:`start` stores the rollout and requests its first stage through the ordinary request
path (guards, audit, outbox). :func:`advance` is called by a worker after dispatcher cycles:
when every command of the current stage has ended it computes the stage's failure share
(failed and expired over the stage's meters); above the policy's limit the rollout halts,
the rest is never requested, and every meter confirmed in an earlier or the current stage gets
its previous program pushed back. Otherwise the next stage is requested, or the rollout
completes. Services only flush.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterops.audit import service as audit_service
from meterops.commands import schemas
from meterops.commands import service as commands_service
from meterops.commands.policy import Actor, CommandPolicy, rollout_stage_sizes
from meterops.errors import NotFoundError
from meterops.models.commands import (
    CommandRequest,
    CommandType,
    ProgramRollout,
    RemoteCommand,
    RemoteCommandState,
    RolloutState,
)
from meterops.reads.store import ReadStore

__all__ = ["advance", "get", "start"]

_TERMINAL = frozenset(
    {
        RemoteCommandState.CONFIRMED,
        RemoteCommandState.FAILED,
        RemoteCommandState.EXPIRED,
        RemoteCommandState.CANCELLED,
    }
)


def get(session: Session, rollout_id: int) -> schemas.RolloutRead:
    """A rollout.

    Raises:
        NotFoundError: No such rollout.
    """
    rollout = session.get(ProgramRollout, rollout_id)
    if rollout is None:
        raise NotFoundError(f"no program rollout {rollout_id}", code="commands.rollout_not_found")
    return schemas.RolloutRead.model_validate(rollout)


def start(
    session: Session,
    payload: schemas.RolloutCreate,
    *,
    actor: Actor,
    now: dt.datetime,
    policy: CommandPolicy,
    store: ReadStore | None = None,
) -> schemas.RolloutRead:
    """Store a staged rollout and request its first stage."""
    existing = session.execute(
        select(CommandRequest).where(
            CommandRequest.idempotency_key == f"{payload.idempotency_key}:stage-0"
        )
    ).scalar_one_or_none()
    if existing is not None and existing.rollout_id is not None:
        return get(session, existing.rollout_id)
    sizes = rollout_stage_sizes(len(payload.serial_numbers), policy=policy)
    rollout = ProgramRollout(
        program_code=payload.program_code,
        requested_by=actor.username,
        reason=payload.reason,
        serial_numbers=list(payload.serial_numbers),
        stages={"sizes": sizes, "key": payload.idempotency_key},
        current_stage=0,
        max_failure_share=policy.rollout_max_failure_share,
        state=RolloutState.RUNNING,
        created_at_utc=now,
    )
    session.add(rollout)
    session.flush()
    _request_stage(session, rollout, 0, actor=actor, now=now, policy=policy, store=store)
    audit_service.record(
        session,
        actor=actor.username,
        action="command.rollout_start",
        entity_type="program_rollout",
        entity_id=rollout.id,
        reason=payload.reason,
        data={"program_code": payload.program_code, "stages": sizes},
        now=now,
    )
    return get(session, rollout.id)


def _request_stage(
    session: Session,
    rollout: ProgramRollout,
    stage: int,
    *,
    actor: Actor,
    now: dt.datetime,
    policy: CommandPolicy,
    store: ReadStore | None,
) -> None:
    sizes: list[int] = rollout.stages["sizes"]
    begin = sum(sizes[:stage])
    serials = rollout.serial_numbers[begin : begin + sizes[stage]]
    commands_service.request(
        session,
        schemas.CommandRequestCreate(
            kind=CommandType.PROGRAM_PUSH,
            serial_numbers=serials,
            reason=f"rollout {rollout.id} stage {stage + 1}/{len(sizes)}: {rollout.reason}",
            idempotency_key=f"{rollout.stages['key']}:stage-{stage}",
            program_code=rollout.program_code,
        ),
        actor=actor,
        now=now,
        policy=policy,
        store=store,
        rollout_id=rollout.id,
        rollout_stage=stage,
    )


def _commands(session: Session, rollout_id: int) -> list[RemoteCommand]:
    return list(
        session.scalars(
            select(RemoteCommand)
            .join(CommandRequest, CommandRequest.id == RemoteCommand.request_id)
            .where(CommandRequest.rollout_id == rollout_id)
            .where(RemoteCommand.purpose == "request")
            .order_by(RemoteCommand.id)
        ).all()
    )


def advance(
    session: Session,
    rollout_id: int,
    *,
    now: dt.datetime,
    policy: CommandPolicy,
    store: ReadStore | None = None,
) -> schemas.RolloutRead:
    """Move a running rollout on when its current stage has ended (halt on failures)."""
    rollout = session.get(ProgramRollout, rollout_id)
    if rollout is None:
        raise NotFoundError(f"no program rollout {rollout_id}", code="commands.rollout_not_found")
    if rollout.state is not RolloutState.RUNNING:
        return get(session, rollout_id)
    commands = [c for c in _commands(session, rollout_id) if c.rollout_stage is not None]
    stage = rollout.current_stage
    current = [c for c in commands if c.rollout_stage == stage]
    if not current or any(c.state not in _TERMINAL for c in current):
        return get(session, rollout_id)
    failed = sum(
        c.state in (RemoteCommandState.FAILED, RemoteCommandState.EXPIRED) for c in current
    )
    share = failed / len(current)
    actor = commands_service.resolve_actor(session, rollout.requested_by)
    sizes: list[int] = rollout.stages["sizes"]
    if share > rollout.max_failure_share:
        rollout.state = RolloutState.HALTED
        rollout.halt_reason = (
            f"stage {stage + 1}: {failed} of {len(current)} failed ({share:.1%} > "
            f"{rollout.max_failure_share:.1%})"
        )
        _roll_back(session, rollout, commands, actor=actor, now=now, policy=policy, store=store)
        action = "command.rollout_halt"
    elif stage + 1 < len(sizes):
        rollout.current_stage = stage + 1
        _request_stage(
            session, rollout, stage + 1, actor=actor, now=now, policy=policy, store=store
        )
        action = "command.rollout_stage"
    else:
        rollout.state = RolloutState.COMPLETED
        action = "command.rollout_complete"
    session.flush()
    audit_service.record(
        session,
        actor="system:rollout",
        action=action,
        entity_type="program_rollout",
        entity_id=rollout.id,
        reason=rollout.halt_reason,
        data={"stage": stage, "failed": failed, "stage_meters": len(current)},
        now=now,
    )
    return get(session, rollout_id)


def _roll_back(
    session: Session,
    rollout: ProgramRollout,
    commands: list[RemoteCommand],
    *,
    actor: Actor,
    now: dt.datetime,
    policy: CommandPolicy,
    store: ReadStore | None,
) -> None:
    by_program: dict[str, list[str]] = defaultdict(list)
    for command in commands:
        if command.state is RemoteCommandState.CONFIRMED and command.previous_program_code:
            by_program[command.previous_program_code].append(command.serial_number)
    for program_code, serials in sorted(by_program.items()):
        commands_service.request(
            session,
            schemas.CommandRequestCreate(
                kind=CommandType.PROGRAM_PUSH,
                serial_numbers=serials,
                reason=f"rollback of rollout {rollout.id} to {program_code}",
                idempotency_key=f"{rollout.stages['key']}:rollback-{program_code}",
                program_code=program_code,
            ),
            actor=actor,
            now=now,
            policy=policy,
            store=store,
            rollout_id=rollout.id,
        )
