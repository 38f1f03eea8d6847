"""The ``meterops remote`` commands: thin wrappers over the commands services.

There is no sign-in yet: ``--as USER`` names the acting user, whose role and territories come
from the users table. ``dispatch`` runs the outbox dispatcher against a head-end service
(``--headend-url``, e.g. ``meterops headend-sim serve``).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import Annotated

import typer

from meterops.cli import context

__all__ = [
    "app",
    "approve",
    "arm_reconnect",
    "demand_reset",
    "disconnect",
    "dispatch",
    "kill_switch",
    "ping",
    "push",
    "read",
    "reconnect",
    "status",
    "time_sync",
]

app = typer.Typer(
    help="Remote operations: ping, read, disconnect, reconnect, program push, with safeguards.",
    no_args_is_help=True,
)

AsUser = Annotated[
    str, typer.Option("--as", help="Acting user name (role and territories from the users table).")
]
Reason = Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")]
Key = Annotated[
    str | None, typer.Option("--key", help="Idempotency key (default: a new one per call).")
]
Serials = Annotated[list[str], typer.Argument(help="Meter serial numbers.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _request(
    kind: str,
    *,
    serials: list[str],
    user: str,
    reason: str,
    key: str | None,
    program_code: str | None,
    as_json: bool,
) -> None:
    from meterops.commands import schemas
    from meterops.commands import service as commands_service
    from meterops.commands.policy import CommandPolicy
    from meterops.models.commands import CommandType

    with context.session() as session:
        actor = commands_service.resolve_actor(session, user)
        read = commands_service.request(
            session,
            schemas.CommandRequestCreate(
                kind=CommandType(kind),
                serial_numbers=serials,
                reason=reason,
                idempotency_key=key or f"cli-{uuid.uuid4().hex}",
                program_code=program_code,
            ),
            actor=actor,
            now=_now(),
            policy=CommandPolicy(),
        )
    _print_request(read, as_json)


def _print_request(read: object, as_json: bool) -> None:
    from meterops.commands import schemas

    assert isinstance(read, schemas.CommandRequestRead)
    if as_json:
        context.console.print_json(read.model_dump_json())
        return
    context.console.print(
        f"request {read.id} · {read.kind.value} · {read.meter_count} meters · "
        f"[bold]{read.state.value}[/]"
        + (f" (approval: {', '.join(read.approval_reasons)})" if read.approval_required else "")
    )
    for c in read.commands:
        context.console.print(
            f"  {c.serial_number} {c.state.value}"
            + (f" · {c.failure_reason}" if c.failure_reason else "")
            + (f" · reconciliation {c.reconciliation}" if c.reconciliation else "")
        )


def _kind_command(kind: str, doc: str, default_reason: str | None = None) -> Callable[..., None]:
    """The ``meterops remote`` command that requests ``kind`` for the serials given.

    Args:
        kind: The command kind (a ``CommandType`` value).
        doc: The command's help text.
        default_reason: The reason when none is given; None makes ``--reason`` required
            (every disruptive kind).
    """

    def required(
        serials: Serials, user: AsUser, reason: Reason, key: Key = None, as_json: AsJson = False
    ) -> None:
        _request(
            kind,
            serials=serials,
            user=user,
            reason=reason,
            key=key,
            program_code=None,
            as_json=as_json,
        )

    def defaulted(
        serials: Serials,
        user: AsUser,
        reason: Reason = default_reason or "",
        key: Key = None,
        as_json: AsJson = False,
    ) -> None:
        required(serials, user, reason, key, as_json)

    command = required if default_reason is None else defaulted
    command.__doc__ = doc
    command.__name__ = command.__qualname__ = kind
    return command


ping = app.command("ping")(_kind_command("ping", "Ping meters (RSSI, hops, round trip).", "ping"))
read = app.command("read")(
    _kind_command("on_demand_read", "Read meters' registers on demand.", "on-demand read")
)
disconnect = app.command("disconnect")(
    _kind_command(
        "disconnect", "Open meters' service switches (guards, thresholds and approval apply)."
    )
)
reconnect = app.command("reconnect")(
    _kind_command(
        "reconnect",
        "Close meters' service switches (never with load-side voltage; staggered per feeder).",
    )
)
arm_reconnect = app.command("arm-reconnect")(
    _kind_command(
        "arm_reconnect",
        "Arm meters' switches: each closes when the customer presses the meter's button.",
    )
)
time_sync = app.command("time-sync")(
    _kind_command(
        "time_sync",
        "Set meters' clocks to the head-end's (the result gives the error fixed).",
        "time sync",
    )
)
demand_reset = app.command("demand-reset")(
    _kind_command(
        "demand_reset", "Reset demand meters' maximum-demand registers (supervisors and admins)."
    )
)


@app.command("push")
def push(  # noqa: PLR0917 - Typer passes options by keyword
    program_code: Annotated[str, typer.Argument(help="Program to push.")],
    serials: Serials,
    user: AsUser,
    reason: Reason,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Push a program as a staged rollout (a few meters, 10 %, then all; halts on failures)."""
    from meterops.commands import rollout, schemas
    from meterops.commands import service as commands_service
    from meterops.commands.policy import CommandPolicy

    with context.session() as session:
        actor = commands_service.resolve_actor(session, user)
        started = rollout.start(
            session,
            schemas.RolloutCreate(
                program_code=program_code,
                serial_numbers=serials,
                reason=reason,
                idempotency_key=key or f"cli-{uuid.uuid4().hex[:24]}",
            ),
            actor=actor,
            now=_now(),
            policy=CommandPolicy(),
        )
    if as_json:
        context.console.print_json(started.model_dump_json())
        return
    context.console.print(
        f"rollout {started.id} · {started.program_code} · stages {started.stages['sizes']} · "
        f"{started.state}"
    )


@app.command("status")
def status(
    request_id: Annotated[int, typer.Argument(help="Request id.")], as_json: AsJson = False
) -> None:
    """Show a request and its commands."""
    from meterops.commands import service as commands_service

    with context.session() as session:
        read = commands_service.get_request(session, request_id)
    _print_request(read, as_json)


@app.command("approve")
def approve(
    request_id: Annotated[int, typer.Argument(help="Request id.")],
    user: AsUser,
    otp: Annotated[
        str | None,
        typer.Option("--otp", help="Code from your authenticator app (asked for when absent)."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Approve a held request (a second, different supervisor or admin).

    Needs the approver's second factor: the code (``--otp`` or asked for) is checked against
    their authenticator secret and counts as a step-up now; each code works once.
    """
    from meterops.auth import service as auth_service
    from meterops.commands import service as commands_service
    from meterops.commands.policy import CommandPolicy
    from meterops.errors import MeterOpsError

    code = otp if otp is not None else str(typer.prompt("Code from your authenticator app"))
    limits = auth_service.SessionPolicy()
    with context.session() as session:
        actor = commands_service.resolve_actor(session, user)
        try:
            stepped_up = auth_service.verify_second_factor(
                session,
                username=actor.username,
                code=code,
                # the command line has no address: count its failures per user, so that one
                # person's wrong codes do not lock every operator out
                client_address=f"cli:{actor.username}",
                now=_now(),
                policy=limits,
            )
        except MeterOpsError:
            session.commit()  # a wrong code counts towards throttling
            raise
    with context.session() as session:
        actor = commands_service.resolve_actor(session, user)
        read = commands_service.approve(
            session,
            request_id,
            actor=actor,
            now=_now(),
            policy=CommandPolicy(),
            stepped_up_at_utc=stepped_up,
            session_policy=limits,
        )
    _print_request(read, as_json)


@app.command("kill-switch")
def kill_switch(
    state: Annotated[str, typer.Argument(help="on (halt all commands) or off (resume).")],
    user: AsUser,
    reason: Reason,
) -> None:
    """Halt (on) or resume (off) all dispatching; queued commands stay queued."""
    from meterops.commands import service as commands_service
    from meterops.errors import InvalidInputError

    if state not in ("on", "off"):
        raise InvalidInputError(f"state: expected on or off, found {state!r}")
    with context.session() as session:
        actor = commands_service.resolve_actor(session, user)
        read = commands_service.set_kill_switch(
            session, active=state == "on", actor=actor, now=_now(), reason=reason
        )
    context.console.print(f"kill switch {'ON: dispatching halted' if read.active else 'off'}")


@app.command("dispatch")
def dispatch(
    headend_url: Annotated[str, typer.Option("--headend-url", help="Head-end service URL.")],
    seconds: Annotated[float, typer.Option(help="Run for this long. [s]")] = 60.0,
) -> None:
    """Run the outbox dispatcher against a head-end service for a while."""
    from meterops.commands.dispatcher import Dispatcher
    from meterops.commands.policy import CommandPolicy
    from meterops.db.engine import make_session_factory
    from meterops.headend.client import HttpHeadEnd

    headend = HttpHeadEnd(headend_url)
    dispatcher = Dispatcher(
        make_session_factory(context.engine()), headend, policy=CommandPolicy(), clock=_now
    )
    end = time.monotonic() + seconds
    sent = confirmed = 0
    while time.monotonic() < end:
        report = dispatcher.cycle()
        sent += report.sent
        confirmed += report.confirmed
        time.sleep(0.2)
    context.console.print(f"sent {sent}, confirmed {confirmed}")
