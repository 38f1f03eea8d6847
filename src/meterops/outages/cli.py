"""The ``meterops outages`` commands: thin wrappers over the outages services."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from meterops.cli import context

__all__ = ["app", "detect", "export", "list_outages", "ping", "show"]

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


@app.command("detect")
def detect(
    since: Annotated[str, typer.Option(help="Start of the window, ISO 8601 UTC.")],
    until: Annotated[str, typer.Option(help="End of the window, ISO 8601 UTC.")],
) -> None:
    """Infer outages from the stored last-gasp and restore events of a window."""
    from meterops.errors import InvalidInputError
    from meterops.outages import service as outages_service
    from meterops.outages.inference import OutageParams
    from meterops.reads.store import ReadStore

    try:
        start = dt.datetime.fromisoformat(since).astimezone(dt.UTC)
        end = dt.datetime.fromisoformat(until).astimezone(dt.UTC)
    except ValueError as error:
        raise InvalidInputError(f"--since/--until: expected ISO 8601 times ({error})") from None
    with context.session() as session:
        found = outages_service.detect(
            session,
            ReadStore(context.settings().reads_uri),
            start_utc=start,
            end_utc=end,
            now=dt.datetime.now(dt.UTC),
            params=OutageParams(),
        )
    by_level: dict[str, int] = {}
    for incident in found:
        by_level[incident.level.value] = by_level.get(incident.level.value, 0) + 1
    context.console.print(f"{len(found)} incidents: {by_level}")


@app.command("ping")
def ping(
    incident_id: Annotated[int, typer.Argument(help="Incident id.")],
    round_: Annotated[
        str, typer.Option("--round", help="confirm (during) or restore (after).")
    ] = "confirm",
    sample: Annotated[int, typer.Option(help="Meters to ping.")] = 5,
) -> None:
    """Queue confirmation or restoration pings for an incident (sent by the dispatcher)."""
    from meterops.commands.policy import CommandPolicy
    from meterops.outages import service as outages_service

    with context.session() as session:
        request_id = outages_service.request_pings(
            session,
            incident_id,
            round_=round_,
            sample=sample,
            now=dt.datetime.now(dt.UTC),
            policy=CommandPolicy(),
        )
    context.console.print(f"ping request {request_id} queued")


@app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="Where to write the XML.")],
) -> None:
    """Write the incidents as IEC 61968-9 EndDeviceEvents (power loss and restore per meter)."""
    from meterops.outages import service as outages_service

    with context.session() as session:
        xml = outages_service.export_cim(session)
    out.write_bytes(xml)
    context.console.print(f"wrote {out} ({len(xml):,} bytes)")
