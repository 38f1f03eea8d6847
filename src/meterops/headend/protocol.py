"""The head-end as the platform sees it: polls, asynchronous commands, their status.

A head-end (the AMI vendor's system that talks to the meters) gives the platform what it
collected - interval and register reads, events, comm stats, topology - since a moment, and
executes commands: ping, on-demand read, disconnect, reconnect (closing the switch at once, or
arming it so that the customer's press on the meter's button closes it), program push, time
sync, demand reset, and learns of
meters installed in the field (``install``: confirmed once the new meter has registered and
answered its first read). Commands are asynchronous: submitting one returns a command id at
once; its status moves from ``pending`` to ``confirmed`` or ``failed`` when the meter answers
(or does not).

:class:`HeadEnd` is the protocol every implementation follows: the simulated head-end
(``simulated.py``), the HTTP client of a head-end service (``client.py``) and, later, real
vendors' adapters. Frames follow the ``PARSED_*`` contracts of ``reads/schema.py``.

Pure module: standard library and polars; must not import the simulator, ``meterops.db``,
``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import polars as pl

from meterops.errors import IntegrationError, NotFoundError

__all__ = [
    "FAILURE_REASONS",
    "POLL_KINDS",
    "CommandKind",
    "CommandState",
    "CommandStatus",
    "HeadEnd",
    "HeadEndMixin",
    "HeadEndUnavailableError",
    "UnknownCommandError",
    "UnknownDeviceError",
]

POLL_KINDS = ("interval_reads", "register_reads", "events", "comm_stats", "topology")
"""What can be polled; each is a ``PARSED_*`` frame of the same name."""

FAILURE_REASONS: dict[str, str] = {
    "no_response": "The meter did not answer before the head-end's timeout.",
    "collector_unreachable": "The collector the meter reports through is down.",
    "not_supported": (
        "The meter cannot do this (no service switch; no demand register for a demand reset)."
    ),
    "load_side_voltage": "Voltage on the load side: closing the switch is refused.",
    "not_installed": "The meter is not installed in a socket.",
    "not_registered": (
        "A newly installed meter did not join the mesh and register with the head-end in time "
        "(dead radio, no neighbour in reach, no power)."
    ),
}
"""Stable reason codes of failed commands."""


class CommandKind(StrEnum):
    """What a command asks of a meter."""

    PING = "ping"
    ON_DEMAND_READ = "on_demand_read"
    DISCONNECT = "disconnect"
    RECONNECT = "reconnect"
    PROGRAM_PUSH = "program_push"
    INSTALL = "install"
    TIME_SYNC = "time_sync"
    DEMAND_RESET = "demand_reset"
    ARM_RECONNECT = "arm_reconnect"


class CommandState(StrEnum):
    """Where a command is."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class CommandStatus:
    """The status of one command.

    Attributes:
        command_id: The head-end's id of the command.
        kind: What was asked.
        serial_number: Meter serial.
        state: Pending, confirmed or failed.
        submitted_at_utc: When the head-end accepted it.
        completed_at_utc: When it was confirmed or failed (None while pending).
        reason: Failure reason code from :data:`FAILURE_REASONS` (None unless failed).
        result: What the meter answered (ping RSSI, a register read …); JSON-able.
        request_id: The caller's idempotency key, if it gave one.
    """

    command_id: str
    kind: CommandKind
    serial_number: str
    state: CommandState
    submitted_at_utc: dt.datetime
    completed_at_utc: dt.datetime | None = None
    reason: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    request_id: str | None = None

    @property
    def done(self) -> bool:
        """True once confirmed or failed."""
        return self.state is not CommandState.PENDING

    def to_dict(self) -> dict[str, Any]:
        """JSON form (times ISO 8601 UTC)."""
        return {
            "command_id": self.command_id,
            "kind": self.kind.value,
            "serial_number": self.serial_number,
            "state": self.state.value,
            "submitted_at_utc": self.submitted_at_utc.isoformat(),
            "completed_at_utc": None
            if self.completed_at_utc is None
            else self.completed_at_utc.isoformat(),
            "reason": self.reason,
            "result": self.result,
            "request_id": self.request_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CommandStatus:
        """Inverse of :meth:`to_dict`."""
        completed = data.get("completed_at_utc")
        return cls(
            command_id=str(data["command_id"]),
            kind=CommandKind(data["kind"]),
            serial_number=str(data["serial_number"]),
            state=CommandState(data["state"]),
            submitted_at_utc=dt.datetime.fromisoformat(data["submitted_at_utc"]),
            completed_at_utc=None if completed is None else dt.datetime.fromisoformat(completed),
            reason=data.get("reason"),
            result=dict(data.get("result") or {}),
            request_id=data.get("request_id"),
        )


class UnknownDeviceError(NotFoundError):
    """The head-end knows no meter by that serial."""

    default_code = "headend.unknown_device"


class UnknownCommandError(NotFoundError):
    """The head-end knows no command by that id."""

    default_code = "headend.unknown_command"


class HeadEndUnavailableError(IntegrationError):
    """The head-end could not be reached or answered with an error."""

    default_code = "headend.unavailable"


@runtime_checkable
class HeadEnd(Protocol):
    """What the platform needs from a head-end."""

    def now_utc(self) -> dt.datetime:
        """The head-end's clock (aware UTC)."""
        ...

    def poll(
        self, kind: str, *, since_utc: dt.datetime, until_utc: dt.datetime | None = None
    ) -> pl.DataFrame:
        """What the head-end collected in ``[since_utc, until_utc)``.

        Args:
            kind: One of :data:`POLL_KINDS`.
            since_utc: Start (aware).
            until_utc: End (aware); default the head-end's now.

        Returns:
            A frame of the matching ``PARSED_*`` contract.
        """
        ...

    def submit(
        self,
        kind: CommandKind,
        serial_number: str,
        *,
        program_code: str | None = None,
        request_id: str | None = None,
    ) -> str:
        """Submit a command; returns its command id at once.

        Args:
            kind: What to do.
            serial_number: The meter.
            program_code: The program to push (program pushes only).
            request_id: Idempotency key: the same key returns the same command.

        Raises:
            UnknownDeviceError: No meter by that serial.
        """
        ...

    def command_status(self, command_id: str) -> CommandStatus:
        """The status of a command.

        Raises:
            UnknownCommandError: No command by that id.
        """
        ...

    def ping(self, serial_number: str, *, request_id: str | None = None) -> str:
        """Ping a meter (result: RSSI, hops, round trip)."""
        ...

    def read_on_demand(self, serial_number: str, *, request_id: str | None = None) -> str:
        """Read a meter's registers now (result: the read)."""
        ...

    def disconnect(self, serial_number: str, *, request_id: str | None = None) -> str:
        """Open a meter's service switch."""
        ...

    def reconnect(self, serial_number: str, *, request_id: str | None = None) -> str:
        """Close a meter's service switch (refused with load-side voltage)."""
        ...

    def push_program(
        self, serial_number: str, *, program_code: str, request_id: str | None = None
    ) -> str:
        """Push a meter program (TOU schedule, demand settings)."""
        ...

    def arm_reconnect(self, serial_number: str, *, request_id: str | None = None) -> str:
        """Arm a meter's open switch: it closes when the customer presses the meter's button.

        Confirmed once armed (result ``{"switch": "armed", "armed_until_utc"}``); refused with
        load-side voltage like a reconnect. An arm the customer does not use lapses.
        """
        ...

    def time_sync(self, serial_number: str, *, request_id: str | None = None) -> str:
        """Set a meter's clock to the head-end's (result: ``offset_before_s``, the error fixed)."""
        ...

    def demand_reset(self, serial_number: str, *, request_id: str | None = None) -> str:
        """Reset a demand meter's maximum-demand register (``not_supported`` without one)."""
        ...

    def install(
        self,
        new_serial: str,
        *,
        service_point: str,
        replaces: str | None = None,
        request_id: str | None = None,
    ) -> str:
        """Tell the head-end a meter was installed at a service point (after an exchange).

        The command (kind ``install``, serial ``new_serial``) confirms once the new meter has
        joined the mesh, registered and answered its first read; its result then holds
        ``registered_at_utc``, ``register_kwh`` (the first read's kWh register),
        ``read_time_utc``, ``rssi_dbm``, ``hop_count``, ``parent_node``, ``collector_code``,
        ``service_point`` and ``replaces``. It fails with ``not_registered`` when the meter
        never registers within the head-end's window, or ``no_response`` when it registered
        but did not answer its first read.

        Args:
            new_serial: Serial of the meter now in the socket.
            service_point: Service point number of the socket.
            replaces: Serial of the meter taken out (None for a first installation).
            request_id: Idempotency key: the same key returns the same command.

        Returns:
            The command id.

        Raises:
            UnknownDeviceError: No service point by that number.
            ConflictError: ``replaces`` is not the meter at that service point, or the new
                meter is installed elsewhere.
        """
        ...


class HeadEndMixin:
    """The named commands and polls of :class:`HeadEnd` in terms of ``submit`` and ``poll``.

    Implementations define ``submit`` and ``poll`` and inherit the rest.
    """

    def submit(
        self,
        kind: CommandKind,
        serial_number: str,
        *,
        program_code: str | None = None,
        request_id: str | None = None,
    ) -> str:
        """Submit a command (implemented by the head-end)."""
        raise NotImplementedError

    def poll(
        self, kind: str, *, since_utc: dt.datetime, until_utc: dt.datetime | None = None
    ) -> pl.DataFrame:
        """Poll collected data (implemented by the head-end)."""
        raise NotImplementedError

    def ping(self, serial_number: str, *, request_id: str | None = None) -> str:
        """Ping a meter."""
        return self.submit(CommandKind.PING, serial_number, request_id=request_id)

    def read_on_demand(self, serial_number: str, *, request_id: str | None = None) -> str:
        """Read a meter's registers now."""
        return self.submit(CommandKind.ON_DEMAND_READ, serial_number, request_id=request_id)

    def disconnect(self, serial_number: str, *, request_id: str | None = None) -> str:
        """Open a meter's service switch."""
        return self.submit(CommandKind.DISCONNECT, serial_number, request_id=request_id)

    def reconnect(self, serial_number: str, *, request_id: str | None = None) -> str:
        """Close a meter's service switch."""
        return self.submit(CommandKind.RECONNECT, serial_number, request_id=request_id)

    def push_program(
        self, serial_number: str, *, program_code: str, request_id: str | None = None
    ) -> str:
        """Push a meter program."""
        return self.submit(
            CommandKind.PROGRAM_PUSH,
            serial_number,
            program_code=program_code,
            request_id=request_id,
        )

    def arm_reconnect(self, serial_number: str, *, request_id: str | None = None) -> str:
        """Arm a meter's switch for the customer's press."""
        return self.submit(CommandKind.ARM_RECONNECT, serial_number, request_id=request_id)

    def time_sync(self, serial_number: str, *, request_id: str | None = None) -> str:
        """Set a meter's clock."""
        return self.submit(CommandKind.TIME_SYNC, serial_number, request_id=request_id)

    def demand_reset(self, serial_number: str, *, request_id: str | None = None) -> str:
        """Reset a meter's maximum-demand register."""
        return self.submit(CommandKind.DEMAND_RESET, serial_number, request_id=request_id)

    def install(
        self,
        new_serial: str,
        *,
        service_point: str,
        replaces: str | None = None,
        request_id: str | None = None,
    ) -> str:
        """Tell the head-end a meter was installed (implemented by the head-end)."""
        raise NotImplementedError

    def poll_interval_reads(
        self, *, since_utc: dt.datetime, until_utc: dt.datetime | None = None
    ) -> pl.DataFrame:
        """Interval reads collected in the window."""
        return self.poll("interval_reads", since_utc=since_utc, until_utc=until_utc)

    def poll_register_reads(
        self, *, since_utc: dt.datetime, until_utc: dt.datetime | None = None
    ) -> pl.DataFrame:
        """Register reads collected in the window."""
        return self.poll("register_reads", since_utc=since_utc, until_utc=until_utc)

    def poll_events(
        self, *, since_utc: dt.datetime, until_utc: dt.datetime | None = None
    ) -> pl.DataFrame:
        """Events logged in the window."""
        return self.poll("events", since_utc=since_utc, until_utc=until_utc)

    def poll_comm_stats(
        self, *, since_utc: dt.datetime, until_utc: dt.datetime | None = None
    ) -> pl.DataFrame:
        """Comm stats of the periods that ended in the window."""
        return self.poll("comm_stats", since_utc=since_utc, until_utc=until_utc)

    def poll_topology(
        self, *, since_utc: dt.datetime, until_utc: dt.datetime | None = None
    ) -> pl.DataFrame:
        """Topology snapshots observed in the window."""
        return self.poll("topology", since_utc=since_utc, until_utc=until_utc)
