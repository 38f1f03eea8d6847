"""The ``meterops outages`` commands: thin wrappers over the outages services."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from meterops.cli import context

__all__ = ["app", "list_outages", "show"]

app = typer.Typer(
    help="Outages inferred from last-gasp and restore events.",
    no_args_is_help=True,
)


@app.command("list")
def list_outages(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List outage incidents, latest first."""
    from meterops.outages import service as outages_service

    with context.session() as session:
        incidents = outages_service.list_incidents(session)
    if as_json:
        context.console.print_json(json.dumps([i.model_dump(mode="json") for i in incidents]))
        return
    for i in incidents:
        restored = i.restored_at_utc.isoformat() if i.restored_at_utc else "ongoing"
        context.console.print(
            f"{i.id} · {i.level.value} {i.device_code} · {i.affected_meters} meters · "
            f"{i.started_at_utc.isoformat()} → {restored} · confidence {i.confidence:.2f}"
        )


@app.command("show")
def show(
    incident_id: Annotated[int, typer.Argument(help="Incident id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show an outage incident and its meters."""
    from meterops.outages import service as outages_service

    with context.session() as session:
        detail = outages_service.get_incident(session, incident_id)
    if as_json:
        context.console.print_json(detail.model_dump_json())
        return
    i = detail.incident
    context.console.print(f"{i.level.value} {i.device_code}: {i.affected_meters} meters")
    for m in detail.meters:
        context.console.print(f"  {m.serial_number} last gasp {'yes' if m.last_gasp else 'no'}")
