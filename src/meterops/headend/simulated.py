"""The simulated head-end: the :class:`HeadEnd` protocol over the simulator's world.

Polls return what the world's meters produced up to the head-end's clock. Commands are
answered as the mesh and the faults allow at the moment they are submitted: a meter whose
radio is dead, that is pulled or burnt, or whose transformer is out never answers (the
command fails at the head-end's timeout); a collector that is down fails it at once; a weak
path answers only sometimes (three tries); a healthy meter answers after a latency that grows
with its hops. A confirmed disconnect opens the switch from the moment of confirmation (the
reads drop to zero), a reconnect closes it unless there is voltage on the load side (then it
is refused and the meter says so), a program push changes the program the meter carries.
Every random draw comes from the scenario's seed and the command's sequence number.

Must not import ``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import numpy as np
import polars as pl

from meterops.errors import ConflictError, InvalidInputError, NotFoundError
from meterops.headend.protocol import (
    POLL_KINDS,
    CommandKind,
    CommandState,
    CommandStatus,
    HeadEndMixin,
    UnknownCommandError,
    UnknownDeviceError,
)
from meterops.simulator.faults import FaultKind
from meterops.simulator.params import Stream, stream
from meterops.simulator.world import World, from_us, to_us

__all__ = ["Clock", "LinkState", "SimClock", "SimulatedHeadEnd", "WallClock"]

_TIME_COLUMN: Final = {
    "interval_reads": "interval_start_utc",
    "register_reads": "read_time_utc",
    "events": "event_time_utc",
    "comm_stats": "period_start_utc",
    "topology": "observed_at_utc",
}
_TIMEOUT_S: Final = {
    CommandKind.PING: 60.0,
    CommandKind.ON_DEMAND_READ: 120.0,
    CommandKind.DISCONNECT: 300.0,
    CommandKind.RECONNECT: 300.0,
    CommandKind.PROGRAM_PUSH: 1800.0,
}
_BASE_S: Final = {
    CommandKind.PING: 0.8,
    CommandKind.ON_DEMAND_READ: 6.0,
    CommandKind.DISCONNECT: 25.0,
    CommandKind.RECONNECT: 25.0,
    CommandKind.PROGRAM_PUSH: 420.0,
}
_US: Final = 1_000_000


class Clock(Protocol):
    """Where the head-end gets "now" from."""

    def now(self) -> dt.datetime:
        """The current simulated time (aware UTC)."""
        ...


class SimClock:
    """A simulated clock that moves only when told to (tests, scripted demos).

    Args:
        start: The initial time (aware).
    """

    def __init__(self, start: dt.datetime) -> None:
        self._now = start.astimezone(dt.UTC)

    def now(self) -> dt.datetime:
        """The current simulated time."""
        return self._now

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        """Move forward by ``delta``; returns the new time."""
        if delta < dt.timedelta(0):
            raise InvalidInputError("the clock only moves forward", code="headend.clock_back")
        self._now += delta
        return self._now


class WallClock:
    """Simulated time that runs with the wall clock, optionally faster.

    Args:
        start: Simulated time at creation (aware).
        speed: Simulated seconds per real second.
        monotonic: Source of real seconds (injectable for tests).
    """

    def __init__(
        self,
        start: dt.datetime,
        *,
        speed: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._start = start.astimezone(dt.UTC)
        self._speed = speed
        self._monotonic = monotonic
        self._origin = monotonic()

    def now(self) -> dt.datetime:
        """Simulated now."""
        elapsed = (self._monotonic() - self._origin) * self._speed
        return self._start + dt.timedelta(seconds=elapsed)


@dataclass(frozen=True, slots=True)
class LinkState:
    """How a meter can be reached at a moment.

    Attributes:
        installed: In a socket.
        site: Service point index (-1 when not installed).
        powered: Its transformer and feeder are energised.
        alive: Not pulled from its socket, not burnt by a hot socket.
        radio_ok: Its communication module works.
        collector_up: The collector it reports through is up.
        margin_db: Weakest link margin on its path. [dB]
        rssi_dbm: RSSI of its link at its parent. [dBm]
        hops: Hops to the collector.
        parent_node: Parent node id.
        collector_code: Collector it reports through.
    """

    installed: bool
    site: int
    powered: bool
    alive: bool
    radio_ok: bool
    collector_up: bool
    margin_db: float
    rssi_dbm: float
    hops: int
    parent_node: str | None
    collector_code: str | None


@dataclass(slots=True)
class _Command:
    status: CommandStatus
    due: dt.datetime
    final: CommandStatus
    signature: tuple[str, str, str | None] = field(default=("", "", None))


class SimulatedHeadEnd(HeadEndMixin):
    """A head-end over a simulated world.

    Args:
        world: The world (its state changes with confirmed commands).
        clock: Source of "now" (default: a manual clock at the end of the first day).
    """

    def __init__(self, world: World, *, clock: Clock | None = None) -> None:
        self.world = world
        self.clock = clock or SimClock(world.day(0).start_utc + dt.timedelta(days=1))
        self._commands: dict[str, _Command] = {}
        self._requests: dict[str, str] = {}

    # -- clock and polls ------------------------------------------------------------------------

    def now_utc(self) -> dt.datetime:
        """The head-end's clock."""
        return self.clock.now()

    def poll(
        self, kind: str, *, since_utc: dt.datetime, until_utc: dt.datetime | None = None
    ) -> pl.DataFrame:
        """What the head-end collected in ``[since_utc, until_utc)`` (see :class:`HeadEnd`)."""
        if kind not in POLL_KINDS:
            msg = f"unknown poll kind {kind!r}; expected one of {list(POLL_KINDS)}"
            raise InvalidInputError(msg, code="headend.unknown_poll")
        until = min(until_utc or self.now_utc(), self.now_utc())
        world = self.world
        first = max(world.day_ordinal(to_us(since_utc)) - 1, 0)
        last = min(world.day_ordinal(to_us(until) - 1), world.scenario.horizon_days - 1)
        frames: list[pl.DataFrame] = [getattr(world.day(d), kind) for d in range(first, last + 1)]
        if not frames:
            frames = [getattr(world.day(0), kind).clear()]
        frame = pl.concat(frames, rechunk=False)
        column = pl.col(_TIME_COLUMN[kind])
        if kind == "interval_reads":
            end = column + pl.duration(seconds=pl.col("interval_s"))
            keep = (column >= since_utc) & (end <= until)
        elif kind == "comm_stats":
            keep = (column >= since_utc) & (
                column + pl.duration(seconds=pl.col("period_s")) <= until
            )
        else:
            keep = (
                (column >= since_utc) & (column < until)
                if kind != "topology"
                else ((column >= since_utc) & (column <= until))
            )
        result: pl.DataFrame = frame.filter(keep)
        return result.with_columns(
            pl.int_range(1, result.height + 1, dtype=pl.Int64).alias("source_line")
        )

    # -- the mesh and the meter at a moment -------------------------------------------------

    def link(self, serial_number: str, at: dt.datetime) -> LinkState:
        """How a meter can be reached at a moment (what the head-end's routing knows).

        Raises:
            UnknownDeviceError: No meter reports under that serial.
        """
        world = self.world
        meter = self._meter(serial_number)
        moment = to_us(at)
        row = world.installation_of(meter, moment)
        if row is None:
            return LinkState(
                False, -1, False, False, False, False, -math.inf, math.nan, 0, None, None
            )
        site = int(world.inst_site[row])
        faults = world.faults
        live = (faults.start_us <= moment) & (faults.end_us > moment)
        kinds = np.array([str(k) for k in faults.kind], dtype=object)

        def any_of(kind: FaultKind, mask: np.ndarray[Any, Any]) -> bool:
            return bool(np.any(live & (kinds == str(kind)) & mask))

        sites = world.territory.sites
        powered = not (
            any_of(FaultKind.TRANSFORMER_OUTAGE, faults.transformer == sites.transformer[site])
            or any_of(FaultKind.FEEDER_OUTAGE, faults.feeder == sites.feeder[site])
        )
        burnt = bool(
            np.any(
                live
                & (kinds == str(FaultKind.HOT_SOCKET))
                & (faults.meter == meter)
                & (faults.value <= moment)
            )
        )
        alive = not (any_of(FaultKind.METER_REMOVED, faults.meter == meter) or burnt)
        radio_ok = not any_of(FaultKind.RADIO_FAILURE, faults.meter == meter)
        epoch = world.epoch_at(moment)
        mesh = epoch.mesh
        collector = int(mesh.collector[site])
        collector_up = (
            collector >= 0
            and bool(epoch.active[collector])
            and not any_of(FaultKind.COLLECTOR_DOWN, faults.collector == collector)
        )
        margin = float(mesh.margin_db[site])
        rssi = float(mesh.rssi_dbm[site])
        weak = live & (kinds == str(FaultKind.WEAK_MESH_PATH)) & (faults.site == site)
        for r in np.flatnonzero(weak).tolist():
            loss = float(faults.value[r]) * (moment - int(faults.start_us[r])) / (86_400 * _US)
            margin -= loss
            rssi -= loss
        kind, parent = int(mesh.parent_kind[site]), int(mesh.parent[site])
        if kind < 0:
            parent_node = None
        elif kind == 2:
            at_parent = world.inst_meter[
                (world.inst_site == parent) & (world.inst_from <= moment) & (world.inst_to > moment)
            ]
            parent_node = world.reported_serial[int(at_parent[0])] if at_parent.size else None
        else:
            parent_node = epoch.infra.codes[parent]
        return LinkState(
            True,
            site,
            powered,
            alive,
            radio_ok,
            collector_up,
            margin,
            rssi,
            int(mesh.hops[site]),
            parent_node,
            epoch.infra.codes[collector] if collector >= 0 else None,
        )

    def _meter(self, serial_number: str) -> int:
        try:
            return self.world.meter_index(serial_number)
        except NotFoundError:
            msg = f"the head-end knows no meter {serial_number!r}"
            raise UnknownDeviceError(msg, details={"serial_number": serial_number}) from None

    # -- commands -----------------------------------------------------------------------------

    def submit(
        self,
        kind: CommandKind,
        serial_number: str,
        *,
        program_code: str | None = None,
        request_id: str | None = None,
    ) -> str:
        """Accept a command; its outcome is settled by the world's state now."""
        kind = CommandKind(kind)
        signature = (kind.value, serial_number, program_code)
        if request_id is not None and request_id in self._requests:
            existing = self._requests[request_id]
            if self._commands[existing].signature != signature:
                msg = (
                    f"request id {request_id!r} was used for another command "
                    f"({self._commands[existing].signature}); use a new id"
                )
                raise ConflictError(msg, code="headend.request_id_reused")
            return existing
        meter = self._meter(serial_number)
        if kind is CommandKind.PROGRAM_PUSH and program_code not in self.world.program_codes:
            msg = (
                f"program push needs a known program_code; found {program_code!r}, known: "
                f"{list(self.world.program_codes)}"
            )
            raise InvalidInputError(msg, code="headend.unknown_program")
        number = len(self._commands) + 1
        command_id = f"CMD-{number:08d}"
        now = self.now_utc()
        rng = stream(self.world.scenario.seed, Stream.COMMANDS, number)
        final = self._settle(
            command_id, kind, meter, serial_number, now=now, rng=rng, program_code=program_code
        )
        final = _with_request(final, request_id)
        pending = CommandStatus(
            command_id, kind, serial_number, CommandState.PENDING, now, request_id=request_id
        )
        assert final.completed_at_utc is not None
        self._commands[command_id] = _Command(pending, final.completed_at_utc, final, signature)
        if request_id is not None:
            self._requests[request_id] = command_id
        return command_id

    def command_status(self, command_id: str) -> CommandStatus:
        """Pending until the simulated latency has passed, then the settled outcome."""
        command = self._commands.get(command_id)
        if command is None:
            raise UnknownCommandError(
                f"no command {command_id!r}", details={"command_id": command_id}
            )
        return command.final if self.now_utc() >= command.due else command.status

    def _settle(
        self,
        command_id: str,
        kind: CommandKind,
        meter: int,
        serial: str,
        *,
        now: dt.datetime,
        rng: np.random.Generator,
        program_code: str | None,
    ) -> CommandStatus:
        world = self.world
        state = self.link(serial, now)
        hops = max(state.hops, 1)
        latency = dt.timedelta(
            seconds=float(_BASE_S[kind] * rng.lognormal(0.0, 0.35) + hops * rng.uniform(0.4, 1.2))
        )
        timeout = dt.timedelta(seconds=_TIMEOUT_S[kind])

        def fail(reason: str, after: dt.timedelta) -> CommandStatus:
            return CommandStatus(
                command_id, kind, serial, CommandState.FAILED, now, now + after, reason
            )

        def confirm(result: dict[str, Any]) -> CommandStatus:
            return CommandStatus(
                command_id, kind, serial, CommandState.CONFIRMED, now, now + latency, None, result
            )

        if not state.installed:
            return fail("not_installed", dt.timedelta(seconds=2))
        switch_command = kind in (CommandKind.DISCONNECT, CommandKind.RECONNECT)
        if switch_command and not bool(world.has_switch[meter]):
            return fail("not_supported", dt.timedelta(seconds=2))
        if not state.collector_up:
            return fail("collector_unreachable", dt.timedelta(seconds=30))
        if not (state.alive and state.radio_ok and state.powered):
            return fail("no_response", timeout)
        # Three tries over the mesh; each gets through with a chance set by the path margin.
        p_try = 1.0 / (1.0 + math.exp(-(state.margin_db - 1.0) / 1.5))
        if rng.random() > 1.0 - (1.0 - p_try) ** 3:
            return fail("no_response", timeout)
        done = to_us(now + latency)
        if kind is CommandKind.PING:
            return confirm(
                {
                    "rssi_dbm": round(state.rssi_dbm + float(rng.normal(0, 1.5)), 1),
                    "hop_count": state.hops,
                    "parent_node": state.parent_node,
                    "collector_code": state.collector_code,
                    "round_trip_ms": round(latency.total_seconds() * 1000),
                }
            )
        if kind is CommandKind.ON_DEMAND_READ:
            return confirm(self._read(meter, state.site, done, rng))
        if kind is CommandKind.DISCONNECT:
            if not world.switch_open(meter, done):
                world.set_switch(meter, open_=True, moment_us=done)
                world.log_event(meter, done, "switch_disconnected", {"command_id": command_id})
            return confirm({"switch": "open"})
        if kind is CommandKind.RECONNECT:
            if world.load_side_voltage(state.site, done):
                world.log_event(meter, done, "load_side_voltage", {"command_id": command_id})
                world.log_event(
                    meter,
                    done + _US,
                    "switch_connect_failed",
                    {"command_id": command_id, "reason": "load_side_voltage"},
                )
                return fail("load_side_voltage", latency)
            if world.switch_open(meter, done):
                world.set_switch(meter, open_=False, moment_us=done)
                world.log_event(meter, done, "switch_connected", {"command_id": command_id})
            return confirm({"switch": "closed"})
        assert program_code is not None
        world.set_program(meter, program_code, moment_us=done)
        return confirm({"program_code": program_code})

    def _read(self, meter: int, site: int, moment: int, rng: np.random.Generator) -> dict[str, Any]:
        """A register read at ``moment``: the day's registers interpolated, on the dial."""
        world = self.world
        wh = world.registers_at(meter, moment)
        decimals = int(world.register_decimals[meter])
        dial = 10.0 ** int(world.register_digits[meter])
        value = math.floor(float(wh[0]) / 10 ** (3 - decimals)) / 10**decimals % dial
        nominal = float(world.territory.sites.voltage_v[site])
        nominal = {480.0: 277.0, 208.0: 120.0}.get(nominal, nominal)
        return {
            "read_time_utc": from_us(moment).isoformat(),
            "kwh_delivered": value,
            "voltage_v": round(
                nominal * (1 + float(world.voltage_offset[site])) + float(rng.normal(0, 0.6)), 1
            ),
            "switch": "open" if world.switch_open(meter, moment) else "closed",
        }


def _with_request(status: CommandStatus, request_id: str | None) -> CommandStatus:
    return CommandStatus(
        status.command_id,
        status.kind,
        status.serial_number,
        status.state,
        status.submitted_at_utc,
        status.completed_at_utc,
        status.reason,
        status.result,
        request_id,
    )
