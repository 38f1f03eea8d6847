"""A client of a head-end HTTP service that is itself a :class:`HeadEnd`.

Polls fetch head-end CSV and parse it with the real format parser (so what travels over the
network is exactly a head-end's export); commands are JSON. HTTP errors become the
platform's errors: 404 unknown device or command, 409 conflict, 422 invalid input, anything
else (or no answer) :class:`HeadEndUnavailableError`, retryable.

Adapter module (httpx); must not import the simulator, ``meterops.db``, ``models``, ``web``,
``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import polars as pl

from meterops.errors import ConflictError, InvalidInputError
from meterops.headend.protocol import (
    POLL_KINDS,
    CommandKind,
    CommandStatus,
    HeadEndMixin,
    HeadEndUnavailableError,
    UnknownCommandError,
    UnknownDeviceError,
)
from meterops.ingest.formats.headend_csv import KINDS, parse_headend_csv

__all__ = ["HttpHeadEnd"]


class HttpHeadEnd(HeadEndMixin):
    """Talks to a head-end service over HTTP.

    Args:
        base_url: The service's address, e.g. ``http://127.0.0.1:8765``.
        client: An ``httpx.Client`` to use instead (tests pass one with an in-process
            transport); its ``base_url`` must be set.
        timeout: Seconds to wait for an answer.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        client: httpx.Client | None = None,
        timeout: float = 30.0,
    ) -> None:
        if client is None and base_url is None:
            raise InvalidInputError("give a base_url or a client", code="headend.no_address")
        self._client = client or httpx.Client(base_url=str(base_url), timeout=timeout)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            msg = f"head-end at {self._client.base_url} did not answer {method} {path}: {error}"
            raise HeadEndUnavailableError(msg) from error
        if response.status_code < 400:
            return response
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text[:200], "code": None, "details": {}}
        message = str(body.get("message") or body.get("detail") or response.text[:200])
        code, details = body.get("code"), body.get("details") or {}
        if response.status_code == 404:
            cls = (
                UnknownCommandError
                if code == UnknownCommandError.default_code
                else (UnknownDeviceError)
            )
            raise cls(message, code=code, details=details)
        if response.status_code == 409:
            raise ConflictError(message, code=code, details=details)
        if response.status_code == 422:
            raise InvalidInputError(message, code=code, details=details)
        raise HeadEndUnavailableError(
            f"head-end answered {response.status_code} to {method} {path}: {message}",
            permanent=False,
            details={"status": response.status_code},
        )

    def now_utc(self) -> dt.datetime:
        """The head-end's clock."""
        return dt.datetime.fromisoformat(self._call("GET", "/v1/now").json()["now_utc"])

    def poll(
        self, kind: str, *, since_utc: dt.datetime, until_utc: dt.datetime | None = None
    ) -> pl.DataFrame:
        """Fetch and parse what the head-end collected in the window."""
        if kind not in POLL_KINDS:
            msg = f"unknown poll kind {kind!r}; expected one of {list(POLL_KINDS)}"
            raise InvalidInputError(msg, code="headend.unknown_poll")
        params = {"since": since_utc.isoformat(), "format": "csv"}
        if until_utc is not None:
            params["until"] = until_utc.isoformat()
        body = self._call("GET", f"/v1/{kind.replace('_', '-')}", params=params).content
        if body.count(b"\n") <= 1:  # the header alone: nothing collected
            return KINDS[kind].empty()
        batch = parse_headend_csv(body, name=f"{kind}.csv", kind=kind, strict=True)
        frame = getattr(batch, kind)
        assert isinstance(frame, pl.DataFrame)
        return frame

    def submit(
        self,
        kind: CommandKind,
        serial_number: str,
        *,
        program_code: str | None = None,
        request_id: str | None = None,
    ) -> str:
        """Submit a command; returns the head-end's command id."""
        payload = {
            "kind": CommandKind(kind).value,
            "serial_number": serial_number,
            "program_code": program_code,
            "request_id": request_id,
        }
        return str(self._call("POST", "/v1/commands", json=payload).json()["command_id"])

    def install(
        self,
        new_serial: str,
        *,
        service_point: str,
        replaces: str | None = None,
        request_id: str | None = None,
    ) -> str:
        """Tell the head-end a meter was installed; returns the install command's id."""
        payload = {
            "new_serial": new_serial,
            "service_point": service_point,
            "replaces": replaces,
            "request_id": request_id,
        }
        return str(self._call("POST", "/v1/installs", json=payload).json()["command_id"])

    def command_status(self, command_id: str) -> CommandStatus:
        """The status of a command."""
        return CommandStatus.from_dict(self._call("GET", f"/v1/commands/{command_id}").json())
