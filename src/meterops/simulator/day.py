"""The plan of a simulated day: which windows of which faults and states touch it.

Service points are processed in fixed chunks of ``CHUNK_SITES``; each chunk draws from its
own generator (``stream(seed, DAY, day, chunk)``), so values do not depend on chunking or
worker count. Per chunk: the load model gives every customer's demand (``load.py``); vacancy,
outages and an open service switch take it away; rooftop solar nets against it (delivered
and received channels); the meter then measures it as the faults dictate (theft bypass,
reversed CT, stopped register, drifting clock, transformer-rated meters on the secondary
side) and the mesh decides which reads reach the head-end (dead radio, collector down, weak
path, ordinary misses). Values are whole watt-hours, so each register advances by exactly
the sum of its intervals. Hourly minimum and maximum voltage come with them.

Pure module: standard library, numpy, polars and pure meterops modules; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from meterops.simulator import load
from meterops.simulator.faults import NO_END, FaultKind
from meterops.simulator.state import DayInputs
from meterops.vee.flags import FLAGS

__all__ = ["DayPlan", "Windows", "expand_pairs", "overlap", "plan_day"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

_OUTAGE_FLAG: Final = np.uint32(FLAGS["POWER_OUTAGE"].mask)
_US_PER_DAY: Final = 86_400_000_000


@dataclass(frozen=True, slots=True)
class Windows:
    """Time windows attached to sites or meters (``key`` sorted ascending).

    Attributes:
        key: Site or meter index.
        start_us: Window start (epoch µs).
        end_us: Window end (epoch µs).
        value: A parameter per window.
    """

    key: IntArray
    start_us: IntArray
    end_us: IntArray
    value: FloatArray

    @staticmethod
    def of(
        key: IntArray, start: IntArray, end: IntArray, value: FloatArray | None = None
    ) -> Windows:
        """Build sorted windows."""
        order = np.argsort(key, kind="stable")
        v = np.zeros(key.size) if value is None else value
        return Windows(key[order], start[order], end[order], v[order])

    def in_range(self, lo: int, hi: int) -> Windows:
        """Windows whose key lies in ``[lo, hi)``."""
        a, b = np.searchsorted(self.key, [lo, hi])
        return Windows(self.key[a:b], self.start_us[a:b], self.end_us[a:b], self.value[a:b])


@dataclass(frozen=True, slots=True)
class DayPlan:
    """What the whole day shares across chunks.

    Attributes:
        basis: The load model's profiles for the day.
        vacancy: Vacancy windows by site.
        outage: Power outage windows by site (transformer and feeder outages expanded).
        no_backhaul: Collector-down windows by site (every site under the collector).
        by_site: Site-level fault windows per kind (theft, CT polarity, weak path, hot
            socket).
        by_meter: Meter-level fault windows per kind (radio, removal, stopped register,
            clock drift, hot-socket failure).
        switch_open: Open-switch windows by meter.
        program: Per meter: program index for the day.
        tou_onehot: Per program index: ``intervals x periods`` one-hot TOU matrix (None for
            flat programs).
        regulation_pu: Per hour: feeder voltage regulation (same for every feeder). [pu]
    """

    basis: load.DayBasis
    vacancy: Windows
    outage: Windows
    no_backhaul: Windows
    by_site: dict[FaultKind, Windows]
    by_meter: dict[FaultKind, Windows]
    switch_open: Windows
    program: IntArray
    tou_onehot: tuple[FloatArray | None, ...]
    regulation_pu: FloatArray


def _windows_of(
    inputs: DayInputs,
    rows: IntArray,
    key: IntArray,
    *,
    start: IntArray | None = None,
    end: IntArray | None = None,
    value: FloatArray | None = None,
) -> Windows:
    f = inputs.faults
    return Windows.of(
        key,
        f.start_us[rows] if start is None else start,
        f.end_us[rows] if end is None else end,
        f.value[rows] if value is None else value,
    )


def plan_day(inputs: DayInputs) -> DayPlan:
    """Prepare what every chunk of the day needs.

    Args:
        inputs: The day's inputs.

    Returns:
        The day plan.
    """
    clock, faults, sites = inputs.clock, inputs.faults, inputs.territory.sites
    kinds = np.array([str(k) for k in faults.kind], dtype=object)
    live = (faults.start_us < clock.end_us) & (faults.end_us > clock.start_us)

    def rows(kind: FaultKind) -> IntArray:
        return np.flatnonzero(live & (kinds == str(kind)))

    out_site: list[IntArray] = []
    out_start: list[IntArray] = []
    out_end: list[IntArray] = []
    out_site.extend(
        sites.of_transformer(int(faults.transformer[r])) for r in rows(FaultKind.TRANSFORMER_OUTAGE)
    )
    out_site.extend(
        np.flatnonzero(sites.feeder == faults.feeder[r]) for r in rows(FaultKind.FEEDER_OUTAGE)
    )
    outage_rows = np.concatenate(
        [rows(FaultKind.TRANSFORMER_OUTAGE), rows(FaultKind.FEEDER_OUTAGE)]
    )
    for r, s in zip(outage_rows.tolist(), out_site, strict=True):
        out_start.append(np.full(s.size, faults.start_us[r]))
        out_end.append(np.full(s.size, faults.end_us[r]))
    empty = np.zeros(0, np.int64)
    outage = Windows.of(
        np.concatenate([empty, *out_site]),
        np.concatenate([empty, *out_start]),
        np.concatenate([empty, *out_end]),
    )
    nb_site, nb_start, nb_end = [empty], [empty], [empty]
    for r in rows(FaultKind.COLLECTOR_DOWN):
        s = np.flatnonzero(inputs.mesh.collector == faults.collector[r])
        nb_site.append(s)
        nb_start.append(np.full(s.size, faults.start_us[r]))
        nb_end.append(np.full(s.size, faults.end_us[r]))
    for c in np.flatnonzero(~inputs.infra_active[: inputs.infra.count]).tolist():
        s = np.flatnonzero(inputs.mesh.collector == c)
        nb_site.append(s)
        nb_start.append(np.full(s.size, clock.start_us))
        nb_end.append(np.full(s.size, NO_END))
    no_backhaul = Windows.of(
        np.concatenate(nb_site), np.concatenate(nb_start), np.concatenate(nb_end)
    )
    by_site = {
        k: _windows_of(inputs, rows(k), faults.site[rows(k)])
        for k in (
            FaultKind.THEFT_BYPASS,
            FaultKind.CT_POLARITY_REVERSED,
            FaultKind.WEAK_MESH_PATH,
            FaultKind.HOT_SOCKET,
        )
    }
    by_meter = {
        k: _windows_of(inputs, rows(k), faults.meter[rows(k)])
        for k in (
            FaultKind.RADIO_FAILURE,
            FaultKind.METER_REMOVED,
            FaultKind.STOPPED_REGISTER,
            FaultKind.CLOCK_DRIFT,
        )
    }
    hot = rows(FaultKind.HOT_SOCKET)
    failed_at = faults.value[hot].astype(np.int64)
    by_meter[FaultKind.HOT_SOCKET] = _windows_of(inputs, hot, faults.meter[hot], start=failed_at)
    # Open switches: from the switch timeline (state at the day start, changes in the day).
    sw = inputs.switch
    meters = np.unique(sw.entity) if sw.entity.size else empty
    sw_key, sw_start, sw_end = [empty], [empty], [empty]
    for m in meters.tolist():
        mine = np.flatnonzero(sw.entity == m)
        times, states = sw.time_us[mine], sw.value[mine]
        for i in range(times.size):
            if states[i] == 1:
                stop = times[i + 1] if i + 1 < times.size else NO_END
                if stop > clock.start_us and times[i] < clock.end_us:
                    sw_key.append(np.array([m]))
                    sw_start.append(np.array([times[i]]))
                    sw_end.append(np.array([stop]))
    switch_open = Windows.of(
        np.concatenate(sw_key), np.concatenate(sw_start), np.concatenate(sw_end)
    )
    n_meters = inputs.meter_row.size
    program = inputs.programs.state_at(
        np.arange(n_meters), clock.end_us - 1, inputs.program_initial
    )
    onehots: list[FloatArray | None] = []
    for schedule in inputs.schedules:
        names = schedule.period_names
        if len(names) < 2:
            onehots.append(None)
            continue
        matrix = np.zeros((clock.intervals, len(names)))
        for t, wall in enumerate(clock.local_wall):
            day_type = (
                "holiday"
                if wall.date() in schedule.extra_holidays
                else "weekend"
                if wall.weekday() >= 5
                else "weekday"
            )
            matrix[t, names.index(schedule.period_at(wall, day_type=day_type))] = 1.0
        onehots.append(matrix)
    holiday = clock.day in inputs.schedules[0].extra_holidays if inputs.schedules else False
    basis = load.day_basis(
        day=clock.day,
        holiday=holiday,
        local_slot=clock.local_slot,
        utc_hour=clock.utc_hour,
        weather=inputs.weather,
    )
    hours = clock.local_slot[::4] / 4.0
    feeder_load = 0.55 + 0.45 * np.exp(-0.5 * ((hours - 18.5) / 3.0) ** 2)
    regulation = 0.025 - 0.035 * feeder_load
    vacancy = Windows.of(inputs.vacancy_site, inputs.vacancy_start_us, inputs.vacancy_end_us)
    return DayPlan(
        basis,
        vacancy,
        outage,
        no_backhaul,
        by_site,
        by_meter,
        switch_open,
        program,
        tuple(onehots),
        regulation,
    )


def overlap(starts: IntArray, step: int, a: IntArray, b: IntArray) -> Float32Array:
    """Fraction of each interval covered by each window ``[a, b)`` (windows x intervals)."""
    lo = np.maximum(starts[None, :], a[:, None])
    hi = np.minimum(starts[None, :] + step, b[:, None])
    return np.clip((hi - lo) / step, 0.0, 1.0).astype(np.float32)


def expand_pairs(sorted_keys: IntArray, targets: IntArray) -> tuple[IntArray, IntArray]:
    """Pairs (target position, row) for every row whose key equals a target."""
    lo = np.searchsorted(sorted_keys, targets, "left")
    hi = np.searchsorted(sorted_keys, targets, "right")
    count = hi - lo
    total = int(count.sum())
    pos = np.repeat(np.arange(targets.size), count)
    rows = np.repeat(lo, count) + np.arange(total) - np.repeat(np.cumsum(count) - count, count)
    return pos, rows
