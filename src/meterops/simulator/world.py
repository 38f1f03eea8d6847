"""The simulated world: mutable state, a technician's physical actions, the days it produces.

:class:`World` builds a scenario (territory, customers, weather, faults, mesh) and holds what
changes: which meter sits in which socket (installations), switch positions, programs, the
end of each fault, collector positions (with the mesh recomputed when one moves) and the
registers. A technician's visit changes it through time-stamped actions - replace a radio,
exchange or re-seat a meter, relocate or repair a collector, repair a hot socket, correct CT
wiring, fix crossed meters - and the simulated head-end's commands through switch and
program changes. Every change is stamped at or after "now", so days that ended before it
are unchanged; a day is generated from the registers at its start plus the state, and
cached. The generators it calls are pure (``day.py``, ``events.py``, ``network.py``); the
state lives only here.

Pure module: standard library, numpy, polars and pure meterops modules; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import polars as pl

from meterops.assets.programs import TouSchedule, parse_tou_schedule
from meterops.errors import InvalidInputError, NotFoundError
from meterops.simulator import actions, catalog, setup
from meterops.simulator.columns import StringTable, inline_views, string_column
from meterops.simulator.customers import draw_customers, draw_occupancy
from meterops.simulator.days import DayOutput, generate_day
from meterops.simulator.exchanges import schedule_ct_exchanges
from meterops.simulator.faults import (
    NO_END,
    FaultKind,
    draw_faults,
    ground_truth_frame,
)
from meterops.simulator.mesh import (
    Infrastructure,
    Mesh,
    MeshParams,
    place_infrastructure,
    plan_mesh,
)
from meterops.simulator.params import Scenario, Stream, stream
from meterops.simulator.state import DayInputs, Timeline, day_clock
from meterops.simulator.territory import SiteClass, build_territory
from meterops.simulator.weather import draw_weather

__all__ = ["NetworkEpoch", "World", "from_us", "to_us"]

IntArray = npt.NDArray[np.int64]
_US = 1_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_METER_FAULTS = (
    FaultKind.RADIO_FAILURE,
    FaultKind.STOPPED_REGISTER,
    FaultKind.CLOCK_DRIFT,
    FaultKind.METER_REMOVED,
    FaultKind.TOU_MISPROGRAM,
    FaultKind.UNKNOWN_SERIAL,
    FaultKind.CROSSED_METERS,
    FaultKind.HOT_SOCKET,
    FaultKind.THEFT_BYPASS,
)


def to_us(moment: dt.datetime) -> int:
    """An aware date-time as epoch microseconds."""
    if moment.tzinfo is None:
        msg = f"expected an aware date-time (UTC), found naive {moment.isoformat()}"
        raise InvalidInputError(msg, code="simulator.naive_time")
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


def from_us(us: int) -> dt.datetime:
    """Epoch microseconds as an aware UTC date-time."""
    return _EPOCH + dt.timedelta(microseconds=int(us))


@dataclass(frozen=True, slots=True)
class NetworkEpoch:
    """The mesh from a moment on (a relocated collector starts a new epoch).

    Attributes:
        from_us: When it took effect (epoch µs).
        infra: Collectors and routers.
        active: Per node: in service.
        mesh: The routing tree.
    """

    from_us: int
    infra: Infrastructure
    active: npt.NDArray[np.bool_]
    mesh: Mesh


class World(actions.TechnicianActions):
    """A scenario's utility, built and running.

    Args:
        scenario: The scenario (its ``seed`` drives every random draw).
        keep_days: Days of output kept in memory (older ones are regenerated on demand).
    """

    def __init__(self, scenario: Scenario, *, keep_days: int = 7) -> None:
        self.scenario = scenario
        self.keep_days = keep_days
        p = scenario.territory
        self.zone = ZoneInfo(p.timezone)
        self.territory = build_territory(scenario)
        t = self.territory
        sites = t.sites
        self.customers = draw_customers(sites, p, stream(scenario.seed, Stream.CUSTOMERS))
        horizon = scenario.horizon_days
        self.day_start_us = setup.day_starts(scenario.start, horizon, self.zone)
        self.occupancy = draw_occupancy(
            customers=self.customers,
            site_class=sites.site_class,
            service_points=t.service_points["service_point_number"],
            params=p,
            start=scenario.start,
            horizon_days=horizon,
            day_start_us=self.day_start_us,
            rng=stream(scenario.seed, Stream.ACCOUNTS),
        )
        self.weather = draw_weather(
            first_day=scenario.start,
            days=horizon + 1,
            latitude=p.center_latitude,
            longitude=p.center_longitude,
            cold_snaps=scenario.cold_snaps,
            rng=stream(scenario.seed, Stream.WEATHER),
        )
        self.program_codes = tuple(str(d["program_code"]) for d in catalog.PROGRAMS)
        self.schedules: tuple[TouSchedule, ...] = tuple(
            parse_tou_schedule(d["tou_schedule"], label=str(d["program_code"]))
            for d in catalog.PROGRAMS
        )
        meters = t.meters
        n_sites, n_meters = sites.count, meters.height
        installed = n_sites
        program = setup.rate_programs(self.customers.rate_code, n_meters, self.program_codes)
        # Collectors first (fault counts need them), then faults, then the mesh around them.
        mesh_rng = stream(scenario.seed, Stream.MESH)
        self.site_shadow_db = mesh_rng.normal(0.0, MeshParams().meter_shadow_db, n_sites)
        self.mesh_params = MeshParams()
        collectors = place_infrastructure(
            x_m=sites.x_m,
            y_m=sites.y_m,
            territory=sites.territory,
            sites_per_collector=p.sites_per_collector,
            rng=stream(scenario.seed, Stream.MESH, 1),
        )
        self.facts = setup.fleet_facts(
            t,
            occupancy=self.occupancy,
            program=program,
            program_codes=self.program_codes,
            day_start_us=self.day_start_us,
            collectors=collectors.count,
        )
        self.faults = draw_faults(self.facts, scenario.faults, stream(scenario.seed, Stream.FAULTS))
        occ = self.occupancy
        self.faults.append(
            FaultKind.VACANT_PREMISE,
            occ.vacancy_site.size,
            meter=occ.vacancy_site,
            site=occ.vacancy_site,
            start_us=occ.vacancy_start_us,
            end_us=occ.vacancy_end_us,
        )
        fragile = np.zeros(n_sites, dtype=bool)
        for kind in (
            FaultKind.RADIO_FAILURE,
            FaultKind.WEAK_MESH_PATH,
            FaultKind.METER_REMOVED,
            FaultKind.HOT_SOCKET,
            FaultKind.UNKNOWN_SERIAL,
            FaultKind.CROSSED_METERS,
        ):
            fragile[self.faults.site[self.faults.rows(kind)]] = True
        infra, mesh = plan_mesh(
            x_m=sites.x_m,
            y_m=sites.y_m,
            shadow_db=self.site_shadow_db,
            open_terrain=sites.site_class == SiteClass.FARM,
            territory=sites.territory,
            relay_allowed=~fragile,
            collectors=collectors,
            params=self.mesh_params,
            rng=stream(scenario.seed, Stream.MESH, 2),
        )
        self.relay_allowed = ~fragile
        self.epochs: list[NetworkEpoch] = [
            NetworkEpoch(-(2**62), infra, np.ones(infra.count, dtype=bool), mesh)
        ]
        volt = stream(scenario.seed, Stream.CUSTOMERS, 1)
        tx_offset = volt.normal(0.0, 0.01, t.transformers.height)
        self.voltage_offset = tx_offset[sites.transformer] + volt.normal(0.0, 0.003, n_sites)
        self.voltage_drop = np.where(sites.ct_ratio > 1, 0.02, volt.uniform(0.15, 0.5, n_sites))
        # Meters: territory rows; reported serials differ where a field swap went unrecorded.
        serial = meters["serial_number"].to_list()
        self.backoffice_serial = list(serial)
        reported = list(serial)
        for r in self.faults.rows(FaultKind.UNKNOWN_SERIAL).tolist():
            m = int(self.faults.meter[r])
            reported[m] = serial[m][:2] + self.faults.detail[r]
        self.reported_serial = reported
        self.meter_row = np.arange(n_meters, dtype=np.int64)
        self.bidirectional = np.concatenate(
            [self.customers.solar_kw > 0, np.zeros(n_meters - installed, dtype=bool)]
        )
        self.has_switch = meters["disconnect_switch"].to_numpy().copy()
        self.register_digits = meters["register_digits"].to_numpy().astype(np.int64)
        self.register_decimals = meters["register_decimals"].to_numpy().astype(np.int64)
        self.program_initial = program.copy()
        wrong = self.program_codes.index(catalog.MISPROGRAMMED_TOU_PROGRAM)
        self.program_initial[self.faults.meter[self.faults.rows(FaultKind.TOU_MISPROGRAM)]] = wrong
        self.module_serial = meters["module_serial"].to_list()
        # Installations: meter i at site i, except crossed pairs (each at the other's site).
        inst_site = np.arange(installed, dtype=np.int64)
        crossed = self.faults.rows(FaultKind.CROSSED_METERS)
        inst_site[self.faults.meter[crossed]] = self.faults.site[crossed]
        order = np.argsort(inst_site, kind="stable")
        self.inst_meter = order.astype(np.int64)
        self.inst_site = inst_site[order]
        self.inst_from = np.full(installed, -(2**62), dtype=np.int64)
        self.inst_to = np.full(installed, NO_END, dtype=np.int64)
        self.spares_used: set[int] = set()
        self._switch, self._events = setup.vacancy_switching(
            self.occupancy, self.has_switch, self.day_start_us
        )
        self._backfeed: list[IntArray] = [np.zeros(0, np.int64)] * 3
        self._programs: list[IntArray] = [np.zeros(0, np.int64)] * 3
        registers = setup.initial_registers(
            meters,
            bidirectional=self.bidirectional,
            program=self.program_initial,
            schedules=self.schedules,
        )
        self._register_start: dict[int, npt.NDArray[np.int64]] = {0: registers}
        self._days: dict[int, DayOutput] = {}
        schedule_ct_exchanges(self)  # background exchanges (off unless their rates are set)

    # -- time ----------------------------------------------------------------------------------

    @property
    def meter_count(self) -> int:
        """Meters known to the world (installed, spares, exchanged-in)."""
        return self.meter_row.size

    def day_ordinal(self, moment_us: int) -> int:
        """Index of the local day holding an instant (may be outside the horizon)."""
        return int(np.searchsorted(self.day_start_us, moment_us, side="right")) - 1

    def date_of(self, ordinal: int) -> dt.date:
        """Local date of a day index."""
        return self.scenario.start + dt.timedelta(days=ordinal)

    # -- days ----------------------------------------------------------------------------------

    def epoch_at(self, moment_us: int) -> NetworkEpoch:
        """The network (collector positions, mesh) in effect at a moment."""
        current = self.epochs[0]
        for epoch in self.epochs:
            if epoch.from_us <= moment_us:
                current = epoch
        return current

    def inputs(self, ordinal: int) -> DayInputs:
        """The inputs of a day (registers must be known at its start)."""
        if not 0 <= ordinal < self.scenario.horizon_days:
            msg = (
                f"day {ordinal} ({self.date_of(ordinal)}) is outside the scenario's horizon "
                f"of {self.scenario.horizon_days} days from {self.scenario.start}"
            )
            raise InvalidInputError(msg, code="simulator.outside_horizon")
        clock = day_clock(
            self.date_of(ordinal),
            first_day=self.scenario.start,
            zone=self.zone,
            interval_s=self.scenario.interval_s,
        )
        epoch = self.epoch_at(clock.end_us - 1)
        views, data, serials = self._serial_views()
        events = pl.DataFrame(
            self._events,
            schema={
                "meter": pl.Int64,
                "time_us": pl.Int64,
                "event": pl.String,
                "details": pl.String,
            },
            orient="row",
        )
        return DayInputs(
            seed=self.scenario.seed,
            territory=self.territory,
            customers=self.customers,
            weather=self.weather,
            clock=clock,
            faults=self.faults,
            infra=epoch.infra,
            mesh=epoch.mesh,
            infra_active=epoch.active,
            meter_row=self.meter_row,
            reported_serial=serials,
            serial_views=views,
            serial_data=data,
            bidirectional=self.bidirectional,
            has_switch=self.has_switch,
            register_digits=self.register_digits,
            register_decimals=self.register_decimals,
            inst_meter=self.inst_meter,
            inst_site=self.inst_site,
            inst_from_us=self.inst_from,
            inst_to_us=self.inst_to,
            vacancy_site=self.occupancy.vacancy_site,
            vacancy_start_us=self.occupancy.vacancy_start_us,
            vacancy_end_us=self.occupancy.vacancy_end_us,
            switch=Timeline(*self._switch),
            backfeed=Timeline(*self._backfeed),
            programs=Timeline(*self._programs),
            program_initial=self.program_initial,
            program_codes=self.program_codes,
            schedules=self.schedules,
            registers_wh=self._register_start[ordinal],
            site_numbers=self.territory.service_points["service_point_number"],
            voltage_offset=self.voltage_offset,
            voltage_drop=self.voltage_drop,
            extra_events=events,
        )

    def _serial_views(self) -> tuple[npt.NDArray[np.uint64], bytes, pl.Series]:
        """The reported serials as string views and as a Series (cached until one is added)."""
        key = len(self.reported_serial), id(self.reported_serial)
        if getattr(self, "_views_key", None) != key:
            try:
                views, data = inline_views(self.reported_serial), b""
            except ValueError:
                table = StringTable(self.reported_serial)
                views, data = table.views, table.data
            self._views = (views, data, string_column("serial_number", views, data))
            self._views_key = key
        return self._views

    def day(self, ordinal: int, *, workers: int = 1) -> DayOutput:
        """The output of a day (generated, with the days before it, when not cached)."""
        cached = self._days.get(ordinal)
        if cached is not None:
            return cached
        known = max(d for d in self._register_start if d <= ordinal)
        output: DayOutput | None = None
        for d in range(known, ordinal + 1):
            output = generate_day(self.inputs(d), workers=workers)
            self._register_start[d + 1] = output.registers_end_wh
            self._remember(d, output)
        assert output is not None
        return output

    def _remember(self, ordinal: int, output: DayOutput) -> None:
        self._days[ordinal] = output
        for old in sorted(self._days)[: max(0, len(self._days) - self.keep_days)]:
            del self._days[old]
        self._trim(ordinal + 1)

    def _trim(self, newest: int) -> None:
        """Keep register snapshots of day 0 and the days just before ``newest`` (inclusive)."""
        keep = max(self.keep_days, 1) + 1
        for old in [d for d in self._register_start if d != 0 and not newest - keep < d <= newest]:
            del self._register_start[old]

    def iter_days(
        self,
        first: int,
        count: int,
        *,
        workers: int = 1,
        sink: Callable[[pl.DataFrame], None] | None = None,
    ) -> Iterator[DayOutput]:
        """Generate days in order without keeping them (for large runs).

        Args:
            first: First day index.
            count: Number of days.
            workers: Threads per day.
            sink: Takes the interval reads chunk by chunk (see ``days.generate_day``).
        """
        if first > 0 and first not in self._register_start:
            self.day(first - 1, workers=workers)
        for d in range(first, first + count):
            if d in self._days:
                yield self._days[d]
                continue
            output = generate_day(self.inputs(d), workers=workers, sink=sink)
            self._register_start[d + 1] = output.registers_end_wh
            self._trim(d + 1)
            yield output

    def forget_after(self, moment_us: int) -> None:
        """Forget generated days that end after a change at ``moment_us`` (call after one)."""
        first = self.day_ordinal(moment_us)
        for d in [d for d in self._days if d >= first]:
            del self._days[d]
        for d in [d for d in self._register_start if d > first]:
            del self._register_start[d]
        if first >= 0 and first not in self._register_start and first > 0:
            self.day(first - 1)

    # -- lookups -------------------------------------------------------------------------------

    def meter_index(self, serial: str) -> int:
        """Index of the meter the head-end knows by ``serial`` (reported serial).

        Raises:
            NotFoundError: No meter reports under that serial.
        """
        try:
            return self.reported_serial.index(serial)
        except ValueError:
            msg = f"no meter reports under serial {serial!r}"
            raise NotFoundError(msg, code="simulator.unknown_meter") from None

    def site_index(self, service_point_number: str) -> int:
        """Index of a service point by number."""
        numbers = self.territory.service_points["service_point_number"]
        hits = np.flatnonzero((numbers == service_point_number).to_numpy())
        if hits.size == 0:
            msg = f"no service point {service_point_number!r}"
            raise NotFoundError(msg, code="simulator.unknown_service_point")
        return int(hits[0])

    def installation_of(self, meter: int, moment_us: int) -> int | None:
        """Installation row of a meter at a moment (None when not installed)."""
        rows = np.flatnonzero(
            (self.inst_meter == meter) & (self.inst_from <= moment_us) & (self.inst_to > moment_us)
        )
        return int(rows[0]) if rows.size else None

    def active_faults(
        self, moment_us: int, *, meter: int | None = None, site: int | None = None
    ) -> list[int]:
        """Fault rows active at a moment for a meter and/or service point."""
        f = self.faults
        live = (f.start_us <= moment_us) & (f.end_us > moment_us)
        match = np.zeros(len(f), dtype=bool)
        if meter is not None:
            match |= f.meter == meter
        if site is not None:
            match |= f.site == site
        return np.flatnonzero(live & match).tolist()

    def add_register_row(self) -> None:
        """Registers for one more meter (zero) in every kept snapshot."""
        for day, registers in list(self._register_start.items()):
            extra = np.zeros((1, registers.shape[1]), dtype=np.int64)
            self._register_start[day] = np.vstack([registers, extra])

    def set_registers(self, meter: int, *, delivered_wh: int, from_day: int) -> None:
        """A freshly installed meter's dial (other registers zero) from a day on."""
        for day, registers in self._register_start.items():
            if day >= from_day:
                registers[meter] = 0
                registers[meter, 0] = delivered_wh

    def registers_at(self, meter: int, moment_us: int) -> npt.NDArray[np.int64]:
        """A meter's registers in watt-hours at a moment, interpolated over its day."""
        day = self.day_ordinal(moment_us)
        start = self.day(day - 1).registers_end_wh if day > 0 else self._register_start[0]
        end = self.day(day).registers_end_wh
        fraction = (moment_us - int(self.day_start_us[day])) / float(
            self.day_start_us[day + 1] - self.day_start_us[day]
        )
        return np.asarray(start[meter] + (end[meter] - start[meter]) * fraction, dtype=np.int64)

    def ground_truth(self) -> pl.DataFrame:
        """Every fault of the horizon with its current end (repairs included)."""
        t = self.territory
        epoch = self.epochs[0]
        return ground_truth_frame(
            self.faults,
            meter_serial=pl.Series(self.backoffice_serial, dtype=pl.String),
            site_numbers=t.service_points["service_point_number"],
            collector_codes=pl.Series(list(epoch.infra.codes), dtype=pl.String),
            transformer_codes=t.transformers["transformer_code"],
            feeder_codes=t.feeders["feeder_code"],
            site_transformer=t.sites.transformer,
            site_feeder=t.sites.feeder,
            reported_serial=pl.Series(self.reported_serial, dtype=pl.String),
        )

    # -- state changes -------------------------------------------------------------------------

    def end_faults(self, rows: list[int], moment_us: int) -> None:
        """End faults (a repair): their end becomes ``moment_us`` unless it is earlier."""
        for r in rows:
            self.faults.end_us[r] = min(int(self.faults.end_us[r]), moment_us)

    def live_faults(self, kind: FaultKind, moment_us: int, **match: int) -> list[int]:
        """Fault rows of a kind active at a moment, matching column values (``meter=3``)."""
        rows = self.faults.rows(kind)
        f = self.faults
        keep = (f.start_us[rows] <= moment_us) & (f.end_us[rows] > moment_us)
        for name, value in match.items():
            keep &= getattr(f, name)[rows] == value
        return [int(r) for r in rows[keep]]

    def log_event(
        self, meter: int, moment_us: int, event: str, details: dict[str, object] | None = None
    ) -> None:
        """Record an event the meter sends (switch operations, program changes …)."""
        self._events.append(
            (
                meter,
                moment_us,
                event,
                None if details is None else json.dumps(details, sort_keys=True),
            )
        )
        self.forget_after(moment_us)

    def set_switch(self, meter: int, *, open_: bool, moment_us: int) -> None:
        """Open or close a meter's service switch."""
        self._switch = [
            np.append(self._switch[0], meter),
            np.append(self._switch[1], moment_us),
            np.append(self._switch[2], int(open_)),
        ]
        self.forget_after(moment_us)

    def switch_open(self, meter: int, moment_us: int) -> bool:
        """Whether the switch is open at a moment."""
        timeline = Timeline(*self._switch)
        return bool(timeline.state_at(np.array([meter]), moment_us, np.zeros(1, np.int64))[0])

    def set_backfeed(self, site: int, *, present: bool, moment_us: int) -> None:
        """A generator or jumper feeding the load side of a socket appears or goes."""
        self._backfeed = [
            np.append(self._backfeed[0], site),
            np.append(self._backfeed[1], moment_us),
            np.append(self._backfeed[2], int(present)),
        ]
        self.forget_after(moment_us)

    def load_side_voltage(self, site: int, moment_us: int) -> bool:
        """Voltage on the load side of the socket (backfeed or a bypass jumper)."""
        timeline = Timeline(*self._backfeed)
        fed = bool(timeline.state_at(np.array([site]), moment_us, np.zeros(1, np.int64))[0])
        return fed or bool(self.live_faults(FaultKind.THEFT_BYPASS, moment_us, site=site))

    def set_program(self, meter: int, program_code: str, *, moment_us: int) -> None:
        """A program push took effect."""
        if program_code not in self.program_codes:
            msg = f"unknown program {program_code!r}; known: {list(self.program_codes)}"
            raise InvalidInputError(msg, code="simulator.unknown_program")
        index = self.program_codes.index(program_code)
        self._programs = [
            np.append(self._programs[0], meter),
            np.append(self._programs[1], moment_us),
            np.append(self._programs[2], index),
        ]
        if program_code != catalog.MISPROGRAMMED_TOU_PROGRAM:
            self.end_faults(
                self.live_faults(FaultKind.TOU_MISPROGRAM, moment_us, meter=meter), moment_us
            )
        self.log_event(meter, moment_us, "program_changed", {"program_code": program_code})

    def program_of(self, meter: int, moment_us: int) -> str:
        """Program code a meter carries at a moment."""
        state = Timeline(*self._programs).state_at(
            np.array([meter]), moment_us, self.program_initial[[meter]]
        )
        return self.program_codes[int(state[0])]
