"""``meterops orders``: list, show, create, move, import programmes, and the board.

Thin wrappers over :mod:`meterops.workorders.service`; cancelling an order that is on a
technician's route goes through :func:`meterops.dispatch.changes.cancel_order`, which
re-plans that route.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from meterops.cli import context

__all__ = ["app", "board", "create", "import_", "list_", "move", "show"]

app = typer.Typer(
    help="Work orders: list, show, create, move along the lifecycle, import programmes.",
    no_args_is_help=True,
)

ACTOR = "cli"


def _when(moment: dt.datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(context.settings().zone).strftime("%Y-%m-%d %H:%M")


def _aware(text: str | None, option: str) -> dt.datetime | None:
    from meterops.errors import InvalidInputError

    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        msg = (
            f"{option}: expected an ISO 8601 time with an offset "
            f"(2026-07-06T09:00-05:00), got {text!r}"
        )
        raise InvalidInputError(msg, code="cli.bad_time")
    return moment


@app.command("list")
def list_(
    *,
    status: Annotated[
        list[str] | None, typer.Option("--status", help="Status (repeat for several).")
    ] = None,
    order_type: Annotated[str | None, typer.Option("--type", help="Order type.")] = None,
    territory: Annotated[str | None, typer.Option(help="Territory code.")] = None,
    technician: Annotated[str | None, typer.Option(help="Employee number.")] = None,
    date: Annotated[str | None, typer.Option(help="Scheduled date (YYYY-MM-DD).")] = None,
    campaign: Annotated[str | None, typer.Option(help="Programme name.")] = None,
    limit: Annotated[int, typer.Option(help="Most orders to show.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List work orders, most urgent first."""
    from pydantic import TypeAdapter

    from meterops.workorders import schemas
    from meterops.workorders import service as workorders_service

    filters = schemas.OrderFilter.model_validate(
        {
            "statuses": status or [],
            "order_type": order_type,
            "territory_code": territory,
            "technician": technician,
            "scheduled_date": date,
            "campaign": campaign,
            "limit": limit,
        }
    )
    with context.session() as session:
        orders = workorders_service.list_orders(session, filters)
    if as_json:
        adapter = TypeAdapter(list[schemas.WorkOrderRead])
        context.console.print_json(adapter.dump_json(orders).decode())
        return
    table = Table(title=f"{len(orders)} work order(s)")
    for column in ("order", "type", "status", "prio", "subject", "due (local)", "tech", "date"):
        table.add_column(column)
    for o in orders:
        table.add_row(
            o.order_number,
            o.order_type.value,
            o.status.value,
            str(o.priority),
            o.meter_serial or o.service_point_number or o.subject_key,
            _when(o.due_at_utc),
            o.technician or "-",
            "-" if o.scheduled_date is None else o.scheduled_date.isoformat(),
        )
    context.console.print(table)


@app.command("show")
def show(
    order_number: Annotated[str, typer.Argument(help="Order number, e.g. WO-000042.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show an order with its evidence, last ping and history."""
    import json

    from meterops.workorders import service as workorders_service

    with context.session() as session:
        order = workorders_service.read_order(session, order_number)
        events = workorders_service.history(session, order_number)
    if as_json:
        payload = {
            "order": order.model_dump(mode="json"),
            "history": [e.model_dump(mode="json") for e in events],
        }
        context.console.print_json(json.dumps(payload))
        return
    out = context.console
    out.print(
        f"[bold]{order.order_number}[/] · {order.order_type.value} · [bold]{order.status.value}[/]"
        f" · priority {order.priority} · {order.source.value}"
    )
    out.print(
        f"subject {order.subject_key} · {order.address or '-'} · territory "
        f"{order.territory_code} · ({order.latitude:.5f}, {order.longitude:.5f})"
    )
    out.print(
        f"{order.duration_min} min on site · skill {order.required_skill} · parts "
        f"{', '.join(order.parts) or '-'}"
    )
    out.print(
        f"due {_when(order.due_at_utc)} · appointment {_when(order.appointment_start_utc)} – "
        f"{_when(order.appointment_end_utc)} (local) · technician {order.technician or '-'} · "
        f"date {order.scheduled_date or '-'} · bundle {order.bundle_key or '-'}"
    )
    if order.status_reason:
        out.print(f"reason: {order.status_reason}", highlight=False)
    if order.evidence:
        out.print(f"evidence: {json.dumps(order.evidence, default=str)}", highlight=False)
    if order.last_ping:
        ping = order.last_ping
        out.print(
            f"last ping ({ping.get('purpose')}): {ping.get('state')} "
            f"{ping.get('reason') or ''} {json.dumps(ping.get('result') or {})}",
            highlight=False,
        )
    table = Table(title="history")
    for column in ("when (local)", "who", "what", "reason", "data"):
        table.add_column(column)
    for e in events:
        table.add_row(
            _when(e.occurred_at_utc),
            e.actor,
            e.action,
            e.reason or "",
            json.dumps(e.data, default=str)[:120],
        )
    out.print(table)


@app.command("create")
def create(
    *,
    order_type: Annotated[str, typer.Option("--type", help="Order type, e.g. exchange.")],
    meter: Annotated[str | None, typer.Option(help="Meter serial (meter work).")] = None,
    service_point: Annotated[
        str | None, typer.Option(help="Service point number (installs).")
    ] = None,
    collector: Annotated[str | None, typer.Option(help="Collector code.")] = None,
    priority: Annotated[int | None, typer.Option(help="1 (most urgent) to 5.")] = None,
    due: Annotated[str | None, typer.Option(help="Deadline, ISO 8601 with offset.")] = None,
    appointment_start: Annotated[
        str | None, typer.Option(help="Appointment start, ISO 8601 with offset.")
    ] = None,
    appointment_end: Annotated[
        str | None, typer.Option(help="Appointment end, ISO 8601 with offset.")
    ] = None,
    problem: Annotated[str | None, typer.Option(help="Problem code (default: the type).")] = None,
    why: Annotated[str, typer.Option(help="Why the order exists, one sentence.")] = "",
    notes: Annotated[str | None, typer.Option(help="Notes for the technician.")] = None,
) -> None:
    """Create a work order by hand (deduplicated and bundled like every other)."""
    from meterops.dispatch import wiring
    from meterops.timeutil import utc_now
    from meterops.workorders import schemas
    from meterops.workorders import service as workorders_service

    request = schemas.OrderRequest.model_validate(
        {
            "order_type": order_type,
            "meter_serial": meter,
            "service_point_number": service_point,
            "collector_code": collector,
            "priority": priority,
            "due_at_utc": _aware(due, "--due"),
            "appointment_start_utc": _aware(appointment_start, "--appointment-start"),
            "appointment_end_utc": _aware(appointment_end, "--appointment-end"),
            "problem_code": problem,
            "evidence_summary": why,
            "notes": notes,
        }
    )
    with context.session() as session:
        order = workorders_service.create_order(
            session,
            request,
            actor=ACTOR,
            now=utc_now(),
            policy=wiring.policy(context.settings()),
        )
    bundle = f" · bundled as {order.bundle_key}" if order.bundle_key else ""
    context.console.print(
        f"created [bold]{order.order_number}[/] · {order.order_type.value} · priority "
        f"{order.priority} · due {_when(order.due_at_utc)}{bundle}"
    )


@app.command("move")
def move(
    order_number: Annotated[str, typer.Argument(help="Order number.")],
    status: Annotated[str, typer.Argument(help="Target status, e.g. en_route, cancelled.")],
    reason: Annotated[
        str | None, typer.Option(help="Why (required to cancel or for unable_to_complete).")
    ] = None,
) -> None:
    """Move an order along its lifecycle; cancelling one on a route re-plans that route."""
    from meterops.dispatch import changes, wiring
    from meterops.timeutil import utc_now
    from meterops.workorders import service as workorders_service
    from meterops.workorders.lifecycle import WorkOrderStatus

    target = WorkOrderStatus(status)
    now = utc_now()
    with context.session() as session:
        if target is WorkOrderStatus.CANCELLED:
            changes.cancel_order(
                session,
                order_number,
                reason=reason or "",
                planner=wiring.planner(context.settings()),
                actor=ACTOR,
                now=now,
            )
            order = workorders_service.read_order(session, order_number)
        else:
            order = workorders_service.transition(
                session, order_number, target, actor=ACTOR, now=now, reason=reason
            )
    context.console.print(f"{order.order_number} is now [bold]{order.status.value}[/]")


@app.command("import")
def import_(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Programme CSV (see docs).")
    ],
) -> None:
    """Import a planned programme's orders from a CSV file (whole file or nothing)."""
    from meterops.dispatch import wiring
    from meterops.timeutil import utc_now
    from meterops.workorders import service as workorders_service

    with context.session() as session:
        report = workorders_service.import_programme(
            session,
            file.read_bytes(),
            file=file.name,
            actor=ACTOR,
            now=utc_now(),
            policy=wiring.policy(context.settings()),
        )
    result = report.result
    context.console.print(
        f"{report.file}: {report.rows} row(s) · {len(result.created)} created · "
        f"{len(result.duplicates)} already active · {len(result.bundled)} bundled"
    )


@app.command("board")
def board(
    territory: Annotated[str | None, typer.Option(help="Territory code.")] = None,
    date: Annotated[str | None, typer.Option(help="Scheduled date (YYYY-MM-DD).")] = None,
    show: Annotated[int, typer.Option(help="Orders listed per column.")] = 5,
) -> None:
    """The dispatcher's board: orders by status, with counts."""
    from meterops.workorders import schemas
    from meterops.workorders import service as workorders_service

    filters = schemas.OrderFilter.model_validate(
        {"territory_code": territory, "scheduled_date": date, "limit": 2000}
    )
    with context.session() as session:
        columns = workorders_service.board(session, filters).columns
    table = Table(title="work orders by status")
    table.add_column("status")
    table.add_column("count", justify="right")
    table.add_column("most urgent")
    for column in columns:
        table.add_row(
            column.status.value,
            str(column.count),
            " ".join(
                f"{o.order_number}(p{o.priority},{o.order_type.value})"
                for o in column.orders[:show]
            ),
        )
    context.console.print(table)
