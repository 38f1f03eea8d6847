"""The read-only snapshot of the simulated world that a day's generation works from.

The world (``world.py``) owns the mutable state: installations, switch positions, programs,
faults whose end a repair sets, the mesh after a collector moves, and the registers. For
each day it hands the pure generators (``day.py``, ``events.py``, ``network.py``) one
:class:`DayInputs`: arrays and tables by reference, never changed by them.

Pure module: standard library, numpy and polars; must not import ``meterops.db``,
``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import polars as pl

from meterops.assets.programs import TouSchedule
from meterops.simulator.customers import Customers
from meterops.simulator.faults import Faults
from meterops.simulator.mesh import Infrastructure, Mesh
from meterops.simulator.territory import Territory
from meterops.simulator.weather import Weather

__all__ = ["DayClock", "DayInputs", "Timeline", "day_clock"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

US_PER_S: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class DayClock:
    """Time facts of one local day.

    Attributes:
        day: Local date.
        ordinal: Days since the scenario's first day.
        start_us: UTC start (epoch µs).
        end_us: UTC end (epoch µs).
        interval_us: Interval length. [µs]
        starts_us: UTC start of each interval (epoch µs).
        local_slot: Local quarter-hour slot (0-95) of each interval's start.
        local_wall: Local wall time of each interval's start (naive).
        utc_hour: Hours from the day's UTC midnight to each interval's middle. [h]
    """

    day: dt.date
    ordinal: int
    start_us: int
    end_us: int
    interval_us: int
    starts_us: IntArray
    local_slot: IntArray
    local_wall: tuple[dt.datetime, ...]
    utc_hour: FloatArray

    @property
    def intervals(self) -> int:
        """Number of intervals (92, 96 or 100 for 15 minutes)."""
        return int(self.starts_us.size)


def day_clock(day: dt.date, *, first_day: dt.date, zone: ZoneInfo, interval_s: int) -> DayClock:
    """The clock of a local day.

    Args:
        day: Local date.
        first_day: The scenario's first day.
        zone: The territory's zone.
        interval_s: Interval length. [s]

    Returns:
        The day's clock.
    """
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone).astimezone(
        dt.UTC
    )
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    start_us = (start - epoch) // dt.timedelta(microseconds=1)
    end_us = (end - epoch) // dt.timedelta(microseconds=1)
    step = interval_s * US_PER_S
    starts = np.arange(start_us, end_us, step, dtype=np.int64)
    walls = tuple(
        (epoch + dt.timedelta(microseconds=int(t))).astimezone(zone).replace(tzinfo=None)
        for t in starts
    )
    slot = np.array([(w.hour * 60 + w.minute) * 60 // 900 for w in walls], dtype=np.int64)
    utc_midnight = dt.datetime.combine(start.date(), dt.time(0), tzinfo=dt.UTC)
    utc_hour = (
        starts - (utc_midnight - epoch) // dt.timedelta(microseconds=1)
    ) / 3.6e9 + interval_s / 7200.0
    return DayClock(
        day, (day - first_day).days, start_us, end_us, step, starts, slot, walls, utc_hour
    )


@dataclass(frozen=True, slots=True)
class Timeline:
    """Time-stamped state changes of meters or sites, in time order.

    Attributes:
        entity: Meter or site index.
        time_us: When (epoch µs).
        value: New state (switch: 1 open / 0 closed; backfeed: 1 present / 0 absent;
            program: program index).
    """

    entity: IntArray
    time_us: IntArray
    value: IntArray

    def state_at(self, entity: IntArray, time_us: int, initial: IntArray) -> IntArray:
        """State of each entity at a time (``initial`` where nothing changed before it)."""
        out = initial.copy()
        if self.entity.size == 0:
            return out
        before = self.time_us <= time_us
        position = {int(e): i for i, e in enumerate(entity.tolist())}
        for e, v in zip(self.entity[before].tolist(), self.value[before].tolist(), strict=True):
            i = position.get(e)
            if i is not None:
                out[i] = v
        return out

    def between(self, start_us: int, end_us: int) -> IntArray:
        """Indices of changes in ``[start_us, end_us)``."""
        return np.flatnonzero((self.time_us >= start_us) & (self.time_us < end_us))


@dataclass(frozen=True, slots=True)
class DayInputs:
    """Everything a day's generation reads.

    Attributes:
        seed: The scenario's seed.
        territory: The territory.
        customers: Customers per site.
        weather: Weather of the horizon.
        clock: The day's clock.
        faults: The fault table (as the world has it now).
        infra: Collectors and routers (positions as they are now).
        mesh: The routing tree.
        infra_active: Per infrastructure node: in service.
        meter_row: Per meter: row in ``territory.meters`` (attributes).
        reported_serial: Per meter: the serial the head-end knows it by.
        serial_views: Reported serials as string views (``columns.py``).
        serial_data: Data buffer of the views (empty when every serial is inline).
        bidirectional: Per meter: records received energy.
        has_switch: Per meter: has a service switch.
        register_digits: Per meter: integer register digits.
        register_decimals: Per meter: register decimals.
        inst_meter: Per installation: meter.
        inst_site: Per installation: service point.
        inst_from_us: Per installation: from (epoch µs).
        inst_to_us: Per installation: until (epoch µs).
        vacancy_site: Per vacancy: service point.
        vacancy_start_us: Per vacancy: start.
        vacancy_end_us: Per vacancy: end.
        switch: Switch changes per meter (1 open).
        backfeed: Load-side voltage changes per site (1 present).
        programs: Program changes per meter (value = program index).
        program_initial: Per meter: program index on the first day.
        program_codes: Program codes by index.
        schedules: TOU schedule by program index.
        registers_wh: Per meter: delivered, received and up to three TOU registers at the
            day's start. [Wh]
        site_numbers: Service point number per site.
        voltage_offset: Per site: steady offset from nominal voltage (feeder position,
            transformer tap). [pu]
        voltage_drop: Per site: voltage drop per kW of load on the service drop. [V/kW]
        extra_events: Events the world logged (switch operations …) as a frame with
            ``meter, time_us, event, details``.
    """

    seed: int
    territory: Territory
    customers: Customers
    weather: Weather
    clock: DayClock
    faults: Faults
    infra: Infrastructure
    mesh: Mesh
    infra_active: BoolArray
    meter_row: IntArray
    reported_serial: pl.Series
    serial_views: npt.NDArray[np.uint64]
    serial_data: bytes
    bidirectional: BoolArray
    has_switch: BoolArray
    register_digits: IntArray
    register_decimals: IntArray
    inst_meter: IntArray
    inst_site: IntArray
    inst_from_us: IntArray
    inst_to_us: IntArray
    vacancy_site: IntArray
    vacancy_start_us: IntArray
    vacancy_end_us: IntArray
    switch: Timeline
    backfeed: Timeline
    programs: Timeline
    program_initial: IntArray
    program_codes: tuple[str, ...]
    schedules: tuple[TouSchedule, ...]
    registers_wh: npt.NDArray[np.int64]
    site_numbers: pl.Series
    voltage_offset: FloatArray
    voltage_drop: FloatArray
    extra_events: pl.DataFrame
