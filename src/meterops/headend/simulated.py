"""The simulated head-end: the :class:`HeadEnd` protocol over the simulator's world.

Polls return what the world's meters produced up to the head-end's clock. Commands are
answered as the mesh and the faults allow at the moment they are submitted: a meter whose
radio is dead, that is pulled or burnt, or whose transformer is out never answers (the
command fails at the head-end's timeout); a collector that is down fails it at once; a weak
path answers only sometimes (three tries); a healthy meter answers after a latency that grows
with its hops. A confirmed disconnect opens the switch from the moment of confirmation (the
reads drop to zero), a reconnect closes it unless there is voltage on the load side (then it
is refused and the meter says so); an arm-for-customer-press leaves the switch open but armed,
and the simulated customer presses the meter's button after a while (most within an hour, some
never: the arm lapses after a day), which closes it; a time sync ends a drifting clock's error;
a demand reset is refused by meters without a demand register; a program push changes the
program the meter carries. An
install (a meter exchanged in the field) puts the new meter in the world's socket if the world
does not have it there yet; the new meter joins the mesh after simulated minutes (more with
hops, retries on a poor path) and answers its first read, or never registers: a dead radio (a
few per cent of new meters), no neighbour in reach, no power or no collector within the
head-end's window.
Every random draw comes from the scenario's seed and the command's sequence number.

Must not import ``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt
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
    CommandKind.INSTALL: 4 * 3600.0,
    CommandKind.TIME_SYNC: 120.0,
    CommandKind.DEMAND_RESET: 120.0,
    CommandKind.ARM_RECONNECT: 300.0,
}
_BASE_S: Final = {
    CommandKind.PING: 0.8,
    CommandKind.ON_DEMAND_READ: 6.0,
    CommandKind.DISCONNECT: 25.0,
    CommandKind.RECONNECT: 25.0,
    CommandKind.PROGRAM_PUSH: 420.0,
    CommandKind.INSTALL: 6.0,
    CommandKind.TIME_SYNC: 5.0,
    CommandKind.DEMAND_RESET: 6.0,
    CommandKind.ARM_RECONNECT: 25.0,
}
_US: Final = 1_000_000
_JOIN_MEDIAN_S: Final = 300.0
"""Median time for a new meter to hear the mesh and be admitted (before retries). [s]"""
_JOIN_RETRY_S: Final = 600.0
"""Wait between registration attempts of a new meter that was not heard. [s]"""
_ARM_WINDOW_S: Final = 86_400.0
"""An armed switch the customer does not close within this lapses (stays open). [s]"""
_PRESS_MEDIAN_S: Final = 1200.0
"""Median time from arming to the customer's press. [s]"""
_NO_PRESS: Final = 0.1
"""Share of customers who do not press the button while the arm lasts."""
_DEMAND_PROGRAMS: Final = ("GS-", "LGS-")
"""Program code prefixes of meters with a maximum-demand register."""


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
class _Arm:
    """A switch armed for the customer's press."""

    command_id: str
    armed_us: int
    until_us: int
    press_us: int | None


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
        dead_on_arrival: Share of newly installed meters whose radio never works (0 to 1).
    """

    def __init__(
        self, world: World, *, clock: Clock | None = None, dead_on_arrival: float = 0.03
    ) -> None:
        if not 0.0 <= dead_on_arrival <= 1.0:
            msg = f"dead_on_arrival is a share between 0 and 1; found {dead_on_arrival}"
            raise InvalidInputError(msg, code="headend.bad_share")
        self.dead_on_arrival = dead_on_arrival
        # One caller at a time: a web app's worker threads and a dispatcher share one world.
        self._lock = threading.RLock()
        self._armed: dict[int, _Arm] = {}
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
        with self._lock:
            self._customer_presses()
            if kind not in POLL_KINDS:
                msg = f"unknown poll kind {kind!r}; expected one of {list(POLL_KINDS)}"
                raise InvalidInputError(msg, code="headend.unknown_poll")
            until = min(until_utc or self.now_utc(), self.now_utc())
            world = self.world
            first = max(world.day_ordinal(to_us(since_utc)) - 1, 0)
            last = min(world.day_ordinal(to_us(until) - 1), world.scenario.horizon_days - 1)
            frames: list[pl.DataFrame] = [
                getattr(world.day(d), kind) for d in range(first, last + 1)
            ]
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

    def _known(self, request_id: str | None, signature: tuple[str, str, str | None]) -> str | None:
        if request_id is None or request_id not in self._requests:
            return None
        existing = self._requests[request_id]
        if self._commands[existing].signature != signature:
            msg = (
                f"request id {request_id!r} was used for another command "
                f"({self._commands[existing].signature}); use a new id"
            )
            raise ConflictError(msg, code="headend.request_id_reused")
        return existing

    def _record(
        self,
        command_id: str,
        *,
        kind: CommandKind,
        serial_number: str,
        now: dt.datetime,
        final: CommandStatus,
        signature: tuple[str, str, str | None],
        request_id: str | None,
    ) -> str:
        final = _with_request(final, request_id)
        pending = CommandStatus(
            command_id, kind, serial_number, CommandState.PENDING, now, request_id=request_id
        )
        assert final.completed_at_utc is not None
        self._commands[command_id] = _Command(pending, final.completed_at_utc, final, signature)
        if request_id is not None:
            self._requests[request_id] = command_id
        return command_id

    def install(
        self,
        new_serial: str,
        *,
        service_point: str,
        replaces: str | None = None,
        request_id: str | None = None,
    ) -> str:
        """Learn of a meter installed in the field; see :meth:`HeadEnd.install`.

        If the world does not yet have ``new_serial`` in the socket of ``service_point``, the
        exchange is made in the world now (a spare from stock, or a new meter like the old one),
        so the simulated field and the head-end agree.

        Raises:
            UnknownDeviceError: No service point by that number.
            ConflictError: ``replaces`` is not the meter in that socket, the new meter is in
                another socket or is not a spare in stock, or the request id was used for
                another command.
        """
        with self._lock:
            signature = (CommandKind.INSTALL.value, new_serial, f"{service_point}|{replaces or ''}")
            existing = self._known(request_id, signature)
            if existing is not None:
                return existing
            world = self.world
            try:
                site = world.site_index(service_point)
            except NotFoundError:
                msg = f"the head-end knows no service point {service_point!r}"
                raise UnknownDeviceError(
                    msg,
                    code="headend.unknown_service_point",
                    details={"service_point": service_point},
                ) from None
            now = self.now_utc()
            moment = to_us(now)
            there = self._meter_at(site, moment)
            names = (
                set()
                if there is None
                else {world.reported_serial[there], world.backoffice_serial[there]}
            )
            if new_serial not in names:
                if replaces is not None and replaces not in names:
                    msg = (
                        f"meter {replaces} is not in the socket of service point {service_point} "
                        f"(the head-end has {sorted(names) or 'none'} there)"
                    )
                    raise ConflictError(
                        msg,
                        code="headend.replaces_mismatch",
                        details={"service_point": service_point, "replaces": replaces},
                    )
                if new_serial in world.reported_serial:
                    elsewhere = world.reported_serial.index(new_serial)
                    if world.installation_of(elsewhere, moment) is not None:
                        msg = f"meter {new_serial} is installed at another service point"
                        raise ConflictError(
                            msg, code="headend.installed_elsewhere", details={"serial": new_serial}
                        )
                if there is None:
                    msg = f"service point {service_point} has no socket the head-end can exchange"
                    raise ConflictError(msg, code="headend.empty_socket")
                world.exchange_meter(world.reported_serial[there], at=now, new_serial=new_serial)
            meter = self._meter(new_serial)
            number = len(self._commands) + 1
            command_id = f"CMD-{number:08d}"
            rng = stream(world.scenario.seed, Stream.COMMANDS, number)
            final = self._register(
                command_id,
                meter,
                new_serial,
                now=now,
                rng=rng,
                service_point=service_point,
                replaces=replaces,
            )
            return self._record(
                command_id,
                kind=CommandKind.INSTALL,
                serial_number=new_serial,
                now=now,
                final=final,
                signature=signature,
                request_id=request_id,
            )

    def _meter_at(self, site: int, moment: int) -> int | None:
        world = self.world
        rows = np.flatnonzero(
            (world.inst_site == site) & (world.inst_from <= moment) & (world.inst_to > moment)
        )
        return int(world.inst_meter[rows[0]]) if rows.size else None

    def _register(
        self,
        command_id: str,
        meter: int,
        serial: str,
        *,
        now: dt.datetime,
        rng: np.random.Generator,
        service_point: str,
        replaces: str | None,
    ) -> CommandStatus:
        """Settle an install: registration after a join delay, then the first read."""
        world = self.world
        kind = CommandKind.INSTALL
        window = dt.timedelta(seconds=_TIMEOUT_S[kind])
        moment = to_us(now)
        dead = bool(rng.random() < self.dead_on_arrival)
        if dead:
            # The module never works: the world knows it (no reads, pings fail) until replaced.
            row = world.installation_of(meter, moment)
            assert row is not None  # install() put it in the socket
            site = int(world.inst_site[row])
            world.faults.append(
                FaultKind.RADIO_FAILURE,
                1,
                meter=meter,
                site=site,
                start_us=moment,
                detail="dead_on_arrival",
            )
            world.forget_after(moment)
        state = self.link(serial, now)
        not_registered = CommandStatus(
            command_id,
            kind,
            serial,
            CommandState.FAILED,
            now,
            now + window,
            "not_registered",
            {"service_point": service_point, "replaces": replaces},
        )
        usable = state.installed and state.alive and state.radio_ok and state.powered
        if not (usable and state.collector_up) or state.margin_db < 0.0:
            return not_registered
        # Joining: hear a neighbour, be admitted, get a route; poor paths need retries.
        p_try = 1.0 / (1.0 + math.exp(-(state.margin_db - 1.0) / 1.5))
        attempts = int(rng.geometric(max(p_try, 1e-6)))
        join_s = float(
            _JOIN_MEDIAN_S * rng.lognormal(0.0, 0.5)
            + state.hops * rng.uniform(20.0, 60.0)
            + (attempts - 1) * _JOIN_RETRY_S
        )
        registered = now + dt.timedelta(seconds=join_s)
        if registered - now >= window:
            return not_registered
        # The first read: three tries over the path, like an on-demand read.
        read_latency = dt.timedelta(
            seconds=float(
                _BASE_S[CommandKind.ON_DEMAND_READ] * rng.lognormal(0.0, 0.35)
                + max(state.hops, 1) * rng.uniform(0.4, 1.2)
            )
        )
        registered_at = registered.isoformat()
        if rng.random() > 1.0 - (1.0 - p_try) ** 3:
            return CommandStatus(
                command_id,
                kind,
                serial,
                CommandState.FAILED,
                now,
                registered + dt.timedelta(seconds=_TIMEOUT_S[CommandKind.ON_DEMAND_READ]),
                "no_response",
                {
                    "registered_at_utc": registered_at,
                    "service_point": service_point,
                    "replaces": replaces,
                },
            )
        done = registered + read_latency
        read = self._read(meter, state.site, to_us(done), rng)
        result: dict[str, Any] = {
            "registered_at_utc": registered_at,
            "register_kwh": read["kwh_delivered"],
            "read_time_utc": read["read_time_utc"],
            "voltage_v": read["voltage_v"],
            "rssi_dbm": round(state.rssi_dbm + float(rng.normal(0, 1.5)), 1),
            "hop_count": state.hops,
            "parent_node": state.parent_node,
            "collector_code": state.collector_code,
            "service_point": service_point,
            "replaces": replaces,
        }
        return CommandStatus(
            command_id, kind, serial, CommandState.CONFIRMED, now, done, None, result
        )

    def submit(
        self,
        kind: CommandKind,
        serial_number: str,
        *,
        program_code: str | None = None,
        request_id: str | None = None,
    ) -> str:
        """Accept a command; its outcome is settled by the world's state now."""
        with self._lock:
            kind = CommandKind(kind)
            if kind is CommandKind.INSTALL:
                msg = "an install needs a service point: call install(), not submit()"
                raise InvalidInputError(msg, code="headend.install_needs_service_point")
            signature = (kind.value, serial_number, program_code)
            existing = self._known(request_id, signature)
            if existing is not None:
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
            return self._record(
                command_id,
                kind=kind,
                serial_number=serial_number,
                now=now,
                final=final,
                signature=signature,
                request_id=request_id,
            )

    def command_status(self, command_id: str) -> CommandStatus:
        """Pending until the simulated latency has passed, then the settled outcome."""
        with self._lock:
            self._customer_presses()
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
        switch_command = kind in (
            CommandKind.DISCONNECT,
            CommandKind.RECONNECT,
            CommandKind.ARM_RECONNECT,
        )
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
        if switch_command:
            self._customer_presses()
            self._armed.pop(meter, None)  # a new switch operation replaces an arm
        if kind is CommandKind.DISCONNECT:
            if not world.switch_open(meter, done):
                world.set_switch(meter, open_=True, moment_us=done)
                world.log_event(meter, done, "switch_disconnected", {"command_id": command_id})
            return confirm({"switch": "open"})
        if kind in (CommandKind.RECONNECT, CommandKind.ARM_RECONNECT):
            if world.load_side_voltage(state.site, done):
                world.log_event(meter, done, "load_side_voltage", {"command_id": command_id})
                world.log_event(
                    meter,
                    done + _US,
                    "switch_connect_failed",
                    {"command_id": command_id, "reason": "load_side_voltage"},
                )
                return fail("load_side_voltage", latency)
            if kind is CommandKind.ARM_RECONNECT and world.switch_open(meter, done):
                return confirm(self._arm(command_id, meter, done, rng))
            if world.switch_open(meter, done):
                world.set_switch(meter, open_=False, moment_us=done)
                world.log_event(meter, done, "switch_connected", {"command_id": command_id})
            return confirm({"switch": "closed"})
        if kind is CommandKind.TIME_SYNC:
            return confirm(self._time_sync(command_id, meter, done))
        if kind is CommandKind.DEMAND_RESET:
            program = world.program_of(meter, done)
            if not program.startswith(_DEMAND_PROGRAMS):
                return fail("not_supported", latency)
            world.log_event(meter, done, "demand_reset", {"command_id": command_id})
            return confirm({"reset_at_utc": from_us(done).isoformat(), "program_code": program})
        assert program_code is not None
        world.set_program(meter, program_code, moment_us=done)
        return confirm({"program_code": program_code})

    # -- time sync, arming and the customer's press -----------------------------------------

    def _time_sync(self, command_id: str, meter: int, done: int) -> dict[str, Any]:
        """Set the meter's clock at ``done``: its drift ends; the error it had is reported."""
        world = self.world
        rows = world.live_faults(FaultKind.CLOCK_DRIFT, done, meter=meter)
        faults = world.faults
        offset = sum(
            float(faults.value[r]) * (done - int(faults.start_us[r])) / (86_400 * _US) for r in rows
        )
        world.end_faults(rows, done)
        world.log_event(
            meter, done, "time_changed", {"command_id": command_id, "offset_s": round(-offset, 1)}
        )
        return {"offset_before_s": round(offset, 1), "offset_after_s": 0.0}

    def _arm(
        self, command_id: str, meter: int, done: int, rng: np.random.Generator
    ) -> dict[str, Any]:
        """Arm an open switch; draw when (if at all) the customer presses the button."""
        until = done + round(_ARM_WINDOW_S * _US)
        press: int | None = None
        if rng.random() >= _NO_PRESS:
            delay = _PRESS_MEDIAN_S * float(rng.lognormal(0.0, 1.0))
            if delay < _ARM_WINDOW_S:
                press = done + round(delay * _US)
        self._armed[meter] = _Arm(command_id, done, until, press)
        return {"switch": "armed", "armed_until_utc": from_us(until).isoformat()}

    def _customer_presses(self) -> None:
        """Apply the presses (and lapses) of armed switches that are now in the past.

        The world learns of a press when the head-end is next consulted (any poll, command or
        status), so read the world through the head-end after arming.
        """
        now = to_us(self.now_utc())
        for meter, arm in list(self._armed.items()):
            if arm.press_us is not None and arm.press_us <= now:
                self._close_armed(meter, arm, arm.press_us)
            elif arm.until_us <= now:
                del self._armed[meter]

    def _close_armed(self, meter: int, arm: _Arm, moment: int) -> None:
        world = self.world
        del self._armed[meter]
        if world.switch_open(meter, moment):
            world.set_switch(meter, open_=False, moment_us=moment)
            world.log_event(
                meter,
                moment,
                "switch_connected",
                {"command_id": arm.command_id, "customer_press": True},
            )

    def armed(self, serial_number: str) -> bool:
        """Whether the meter's switch is armed now (open, waiting for the customer's press)."""
        with self._lock:
            self._customer_presses()
            arm = self._armed.get(self._meter(serial_number))
            return arm is not None and arm.armed_us <= to_us(self.now_utc())

    def press_button(self, serial_number: str) -> bool:
        """The customer presses the meter's button now (a scripted press, e.g. in a demo).

        Returns:
            True when an armed switch closed; False when the switch was not armed (a press
            then does nothing, as on a real meter).
        """
        with self._lock:
            self._customer_presses()
            meter = self._meter(serial_number)
            arm = self._armed.get(meter)
            now = to_us(self.now_utc())
            if arm is None or arm.armed_us > now:
                return False
            self._close_armed(meter, arm, now)
            return True

    def _switch_state(self, meter: int, moment: int) -> str:
        if not self.world.switch_open(meter, moment):
            return "closed"
        arm = self._armed.get(meter)
        if arm is None or not arm.armed_us <= moment < arm.until_us:
            return "open"
        # A press not yet applied (it lies between now and ``moment``) has closed it by then.
        pressed = arm.press_us is not None and arm.press_us <= moment
        return "closed" if pressed else "armed"

    def _delivered_wh(self, meter: int, moment: int) -> npt.NDArray[np.int64]:
        """A meter's registers at a moment; on the day it was installed, from its install read.

        The day's interpolation runs from the day's start, when a meter installed that day was
        not yet in its socket, so on that day the read runs from the install read instead.
        """
        world = self.world
        fresh = _day_of_install(world, meter, moment)
        if fresh is None:
            return world.registers_at(meter, moment)
        since, day = fresh
        install_wh = round(
            float(world.territory.meters["install_read_kwh"][int(world.meter_row[meter])]) * 1000
        )
        end = world.day(day).registers_end_wh[meter]
        share = (moment - since) / float(int(world.day_start_us[day + 1]) - since)
        start = np.zeros_like(end)
        start[0] = install_wh
        return np.asarray(start + (end - start) * share, dtype=np.int64)

    def _read(self, meter: int, site: int, moment: int, rng: np.random.Generator) -> dict[str, Any]:
        """A register read at ``moment``: the day's registers interpolated, on the dial."""
        world = self.world
        wh = self._delivered_wh(meter, moment)
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
            "switch": self._switch_state(meter, moment),
        }


def _day_of_install(world: World, meter: int, moment: int) -> tuple[int, int] | None:
    """(install moment, day ordinal) when ``meter`` went into its socket on ``moment``'s day."""
    row = world.installation_of(meter, moment)
    if row is None:
        return None
    since = int(world.inst_from[row])
    day = world.day_ordinal(moment)
    return (since, day) if since > int(world.day_start_us[day]) else None


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
