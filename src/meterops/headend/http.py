"""A head-end as a small HTTP service, so the platform talks to it over the network.

Polls answer with files a head-end exports, produced by the ``ingest/formats`` writers:
head-end CSV for every kind (``format=csv``, the default), IEC 61968-9 EndDeviceEvents XML
for events (``format=cim``) and CMEP for kWh interval and register reads (``format=cmep``).
Commands are JSON: ``POST /v1/commands`` (and ``POST /v1/installs`` for a meter installed in
the field) answers ``202`` with a command id, and
``GET /v1/commands/{id}`` gives its status. Errors come back as the platform's one JSON
shape (``code``, ``message``, ``details``) with 404, 409 or 422. A manual simulated clock can
be moved with ``POST /v1/sim/clock``, and a simulated customer can press an armed meter's
button with ``POST /v1/sim/press`` (demo and tests only).

Adapter module (FastAPI); the head-end it serves is passed in.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import polars as pl
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from meterops.errors import ConflictError, InvalidInputError, MeterOpsError, NotFoundError
from meterops.headend.protocol import POLL_KINDS, CommandKind, HeadEnd
from meterops.headend.simulated import SimClock, SimulatedHeadEnd
from meterops.ingest.formats.cim import write_cim_end_device_events
from meterops.ingest.formats.cmep import write_cmep
from meterops.ingest.formats.headend_csv import write_headend_csv

__all__ = ["ButtonPress", "ClockAdvance", "CommandRequest", "InstallRequest", "create_app"]

_PATHS = {kind: kind.replace("_", "-") for kind in POLL_KINDS}
_STATUS = ((NotFoundError, 404), (ConflictError, 409), (InvalidInputError, 422))


class CommandRequest(BaseModel):
    """A command to submit."""

    kind: CommandKind
    serial_number: str = Field(min_length=1, max_length=32)
    program_code: str | None = None
    request_id: str | None = Field(default=None, max_length=128)


class InstallRequest(BaseModel):
    """A meter installed in the field (after an exchange)."""

    new_serial: str = Field(min_length=1, max_length=32)
    service_point: str = Field(min_length=1, max_length=64)
    replaces: str | None = Field(default=None, max_length=32)
    request_id: str | None = Field(default=None, max_length=128)


class ButtonPress(BaseModel):
    """A customer presses the button of a meter whose switch is armed (simulation only)."""

    serial_number: str = Field(min_length=1, max_length=32)


class ClockAdvance(BaseModel):
    """Move the simulated clock forward."""

    seconds: float = Field(ge=0)


def _aware(value: dt.datetime, name: str) -> dt.datetime:
    if value.tzinfo is None:
        msg = f"{name} must carry an offset (e.g. 2026-07-01T00:00:00Z); found {value}"
        raise InvalidInputError(msg, code="headend.naive_time")
    return value.astimezone(dt.UTC)


def _body(
    kind: str, frame: pl.DataFrame, fmt: str, *, zone: ZoneInfo, sender: str, now: dt.datetime
) -> tuple[bytes, str]:
    if fmt == "csv":
        return write_headend_csv(frame, kind=kind), "text/csv"
    if fmt == "cim" and kind == "events":
        return write_cim_end_device_events(frame), "application/xml"
    if fmt == "cmep" and kind in ("interval_reads", "register_reads"):
        if kind == "interval_reads":
            kwh = frame.filter(pl.col("channel") == "kwh_delivered")
            return write_cmep(kwh, sender_id=sender, zone=zone, created_at=now), "text/plain"
        total = frame.filter(
            (pl.col("channel") == "kwh_delivered") & pl.col("tou_period").is_null()
        )
        return (
            write_cmep(register_reads=total, sender_id=sender, zone=zone, created_at=now),
            "text/plain",
        )
    msg = f"format {fmt!r} is not offered for {kind}; csv always is"
    raise InvalidInputError(msg, code="headend.unknown_format")


def create_app(
    head_end: HeadEnd,
    *,
    zone: ZoneInfo | None = None,
    sender_id: str = "SIM",
    clock: SimClock | None = None,
) -> FastAPI:
    """The HTTP service of a head-end.

    Args:
        head_end: The head-end to serve.
        zone: Local zone of CMEP stamps (default UTC).
        sender_id: CMEP sender id.
        clock: A manual clock to expose at ``/v1/sim/clock`` (simulated head-ends only).

    Returns:
        The FastAPI application.
    """
    app = FastAPI(
        title="meterops head-end",
        version="1",
        description="Polls and commands of a (simulated) AMI head-end.",
    )
    local = zone or ZoneInfo("UTC")

    @app.exception_handler(MeterOpsError)
    async def _error(_: Request, error: MeterOpsError) -> JSONResponse:
        status = next((code for cls, code in _STATUS if isinstance(error, cls)), 502)
        return JSONResponse(error.to_dict(), status_code=status)

    @app.get("/v1/now")
    def now() -> dict[str, str]:
        """The head-end's clock."""
        return {"now_utc": head_end.now_utc().isoformat()}

    def poll_endpoint(kind: str) -> None:
        @app.get(
            f"/v1/{_PATHS[kind]}",
            name=f"poll_{kind}",
            responses={200: {"content": {"text/csv": {}}}},
        )
        def poll(
            since: Annotated[dt.datetime, Query(description="Start, ISO 8601 with offset.")],
            until: Annotated[dt.datetime | None, Query(description="End (default now).")] = None,
            format: Annotated[str, Query(pattern="^(csv|cim|cmep)$")] = "csv",  # noqa: A002
        ) -> Response:
            start = _aware(since, "since")
            end = None if until is None else _aware(until, "until")
            frame = head_end.poll(kind, since_utc=start, until_utc=end)
            content, media = _body(
                kind, frame, format, zone=local, sender=sender_id, now=head_end.now_utc()
            )
            return Response(content=content, media_type=media)

        del poll

    for kind in POLL_KINDS:
        poll_endpoint(kind)

    @app.post("/v1/commands", status_code=202)
    def submit(request: CommandRequest) -> dict[str, str]:
        """Submit a command; returns its id at once."""
        command_id = head_end.submit(
            request.kind,
            request.serial_number,
            program_code=request.program_code,
            request_id=request.request_id,
        )
        return {"command_id": command_id}

    @app.post("/v1/installs", status_code=202)
    def install(request: InstallRequest) -> dict[str, str]:
        """Learn of a meter installed in the field; returns the install command's id at once."""
        command_id = head_end.install(
            request.new_serial,
            service_point=request.service_point,
            replaces=request.replaces,
            request_id=request.request_id,
        )
        return {"command_id": command_id}

    @app.get("/v1/commands/{command_id}")
    def status(command_id: str) -> dict[str, Any]:
        """A command's status."""
        return head_end.command_status(command_id).to_dict()

    if clock is not None:
        manual = clock

        @app.post("/v1/sim/clock")
        def advance(request: ClockAdvance) -> dict[str, str]:
            """Move the simulated clock forward (simulation only)."""
            return {"now_utc": manual.advance(dt.timedelta(seconds=request.seconds)).isoformat()}

    if isinstance(head_end, SimulatedHeadEnd):
        simulated = head_end

        @app.post("/v1/sim/press")
        def press(request: ButtonPress) -> dict[str, bool]:
            """The customer presses the meter's button (closes an armed switch; simulation)."""
            return {"closed": simulated.press_button(request.serial_number)}

    return app
