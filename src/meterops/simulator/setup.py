"""The world's first state: day boundaries, programs, fleet facts, switches, registers.

Small pure functions the :class:`~meterops.simulator.world.World` calls while it builds a
scenario; each takes what it needs and returns arrays.

Pure module: standard library, numpy, polars and pure meterops modules; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import polars as pl

from meterops.assets.programs import TouSchedule
from meterops.simulator import catalog
from meterops.simulator.customers import Occupancy
from meterops.simulator.faults import FleetFacts
from meterops.simulator.territory import Territory

__all__ = ["day_starts", "fleet_facts", "initial_registers", "rate_programs", "vacancy_switching"]

IntArray = npt.NDArray[np.int64]
_US = 1_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def day_starts(first: dt.date, days: int, zone: ZoneInfo) -> IntArray:
    """UTC start (epoch µs) of each local day from ``first``, plus the end of the last."""
    return np.array(
        [
            (dt.datetime.combine(first + dt.timedelta(days=i), dt.time(0), tzinfo=zone) - _EPOCH)
            // dt.timedelta(microseconds=1)
            for i in range(days + 1)
        ],
        dtype=np.int64,
    )


def rate_programs(
    rate_code: npt.NDArray[np.str_], meters: int, program_codes: tuple[str, ...]
) -> IntArray:
    """Program index per meter from its account's rate (spares: the standard program)."""
    rates = np.concatenate([rate_code, np.full(meters - rate_code.size, "RS")])
    lookup = {rate: program_codes.index(code) for rate, code in catalog.RATE_PROGRAM.items()}
    unique, inverse = np.unique(rates, return_inverse=True)
    return np.array([lookup[str(r)] for r in unique], dtype=np.int64)[inverse]


def fleet_facts(
    territory: Territory,
    *,
    occupancy: Occupancy,
    program: IntArray,
    program_codes: tuple[str, ...],
    day_start_us: IntArray,
    collectors: int,
) -> FleetFacts:
    """What fault scheduling needs to know about the fleet."""
    meters = territory.meters
    installed = territory.sites.count
    vendor, model = meters["vendor"].to_numpy(), meters["model"].to_numpy()
    firmware = meters["firmware_revision"].to_numpy()
    vendor_c, model_c, firmware_c = catalog.TOU_COHORT
    cohort = (
        (vendor == vendor_c)
        & (model == model_c)
        & (firmware == firmware_c)
        & (program == program_codes.index(catalog.CORRECT_TOU_PROGRAM))
    )
    vacant = np.zeros(installed, dtype=bool)
    vacant[occupancy.vacancy_site] = True
    install_us = meters["installed_at_utc"].dt.epoch("us").fill_null(0).to_numpy()
    push_us = int(day_start_us[0]) - catalog.TOU_PUSH_DAYS_BEFORE_START * 86_400 * _US
    return FleetFacts(
        start_us=int(day_start_us[0]),
        horizon_us=int(day_start_us[-1] - day_start_us[0]),
        site_class=territory.sites.site_class,
        ct_rated=(meters["form"] == "9S").to_numpy()[:installed],
        swappable=(meters["form"] == "2S").to_numpy()[:installed],
        cohort=cohort[:installed],
        occupied_throughout=~vacant,
        ct_ratio=territory.sites.ct_ratio,
        site_x_m=territory.sites.x_m,
        site_y_m=territory.sites.y_m,
        transformers=territory.transformers.height,
        feeders=territory.feeders.height,
        collectors=collectors,
        push_us=push_us,
        install_us=install_us[:installed],
    )


def vacancy_switching(
    occupancy: Occupancy,
    has_switch: npt.NDArray[np.bool_],
    day_start_us: IntArray,
) -> tuple[list[IntArray], list[tuple[int, int, str, str | None]]]:
    """Switches that open when a premise empties and close at the move-in, and their events.

    Returns:
        ``[meter, time_us, open]`` arrays of the switch timeline, and the switch events
        inside the horizon as ``(meter, time_us, event, details)``.
    """
    on_switch = has_switch[occupancy.vacancy_site]
    sites = occupancy.vacancy_site[on_switch]
    meter = np.concatenate([sites, sites])
    time_us = np.concatenate(
        [occupancy.vacancy_start_us[on_switch], occupancy.vacancy_end_us[on_switch]]
    )
    value = np.concatenate([np.ones(sites.size, np.int64), np.zeros(sites.size, np.int64)])
    events: list[tuple[int, int, str, str | None]] = [
        (
            int(m),
            int(t0) + 90 * _US,
            "switch_disconnected" if v else "switch_connected",
            json.dumps({"reason": "move_out" if v else "move_in"}),
        )
        for m, t0, v in zip(meter.tolist(), time_us.tolist(), value.tolist(), strict=True)
        if day_start_us[0] <= t0 < day_start_us[-1]
    ]
    return [meter, time_us, value], events


def initial_registers(
    meters: pl.DataFrame,
    *,
    bidirectional: npt.NDArray[np.bool_],
    program: IntArray,
    schedules: tuple[TouSchedule, ...],
) -> npt.NDArray[np.int64]:
    """Registers on the first day: delivered, received, and TOU buckets split from the total.

    TOU registers have been accumulating since install as well, so the total is split by
    typical shares of the periods.
    """
    registers = np.zeros((meters.height, 5), dtype=np.int64)
    registers[:, 0] = np.rint(meters["register_start_kwh"].to_numpy() * 1000.0)
    registers[:, 1] = np.where(bidirectional, registers[:, 0] // 7, 0)
    shares = {"off_peak": 0.55, "mid_peak": 0.3, "on_peak": 0.15}
    for index, schedule in enumerate(schedules):
        names = schedule.period_names
        if len(names) < 2:
            continue
        rows = np.flatnonzero(program == index)
        for j, name in enumerate(names):
            registers[rows, 2 + j] = (registers[rows, 0] * shares.get(name, 0.0)).astype(np.int64)
    return registers
