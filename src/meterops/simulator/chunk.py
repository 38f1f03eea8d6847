"""One chunk of a simulated day: interval reads, registers and comm counts, vectorised.

Service points are processed in fixed chunks of ``CHUNK_SITES``; each chunk draws from its
own generator (``stream(seed, DAY, day, chunk)``), so values do not depend on chunking or
worker count. Per chunk: the load model gives every customer's demand (``load.py``); vacancy,
outages and an open service switch take it away; rooftop solar nets against it (delivered
and received channels); the meter then measures it as the faults dictate (theft bypass,
reversed CT, stopped register, drifting clock, transformer-rated meters on the secondary
side) and the mesh decides which reads reach the head-end (dead radio, collector down, weak
path, ordinary misses). Values are whole watt-hours, so each register advances by exactly
the sum of its intervals. Hourly minimum and maximum voltage come with them. Frames are
built over numpy buffers without copies (``columns.py``).

Pure module: standard library, numpy, polars and pure meterops modules; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from meterops.simulator import load
from meterops.simulator.columns import (
    StringTable,
    datetime_column,
    null_strings,
    string_column,
)
from meterops.simulator.day import DayPlan, Windows, expand_pairs, overlap
from meterops.simulator.faults import CHUNK_SITES, FaultKind
from meterops.simulator.params import Stream, stream
from meterops.simulator.state import DayInputs
from meterops.vee.flags import FLAGS

__all__ = ["CHANNEL_NAMES", "ChunkOutput", "generate_chunk"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

_OUTAGE_FLAG: Final = np.uint32(FLAGS["POWER_OUTAGE"].mask)
_US_PER_DAY: Final = 86_400_000_000


@dataclass(frozen=True, slots=True)
class ChunkOutput:
    """What a chunk produced.

    Attributes:
        interval_reads: Blocks of ``PARSED_INTERVAL_READS`` rows without ``source_line``.
        register_meter: Meters with a register read at the day's end.
        register_wh: Their registers at the day's end (rows of ``registers_wh``). [Wh]
        register_received: Whether the head-end got the register read.
        meters: Installation meters of the chunk.
        sites: Their service points.
        expected: Interval reads expected per installation.
        received: Interval reads received per installation.
        alive_at_end: Per installation: the meter measures and talks at the day's end.
        current: Per installation: still installed at the day's end.
        consumption_wh: Per installation: delivered energy measured in the day. [Wh]
    """

    interval_reads: list[pl.DataFrame]
    register_meter: IntArray
    register_wh: npt.NDArray[np.int64]
    register_received: BoolArray
    meters: IntArray
    sites: IntArray
    expected: IntArray
    received: IntArray
    alive_at_end: BoolArray
    current: BoolArray
    consumption_wh: IntArray


CHANNEL_NAMES: Final = StringTable(
    ["kwh_delivered", "kwh_received", "voltage_min_v", "voltage_max_v"]
)
"""The interval channels the simulator writes, as a shared string table."""


def _frame(
    inputs: DayInputs,
    serial_views: npt.NDArray[np.uint64],
    t_us: IntArray,
    value: FloatArray,
    *,
    flags: npt.NDArray[np.uint32],
    channel: str,
    interval_s: int,
) -> pl.DataFrame:
    """One block of interval reads as a frame sharing the numpy buffers."""
    n = t_us.size
    return pl.DataFrame(
        [
            string_column("serial_number", serial_views, inputs.serial_data),
            string_column(
                "channel", CHANNEL_NAMES.repeat(CHANNEL_NAMES.index(channel), n), CHANNEL_NAMES.data
            ),
            datetime_column("interval_start_utc", t_us),
            pl.Series("interval_s", np.full(n, interval_s, dtype=np.int32)),
            pl.Series("value", value),
            pl.Series("quality_flags", flags),
            null_strings("source_quality", n),
        ]
    )


def _scale(
    matrix: npt.NDArray[np.floating[Any]], rows: IntArray, factors: npt.NDArray[np.floating[Any]]
) -> None:
    """``matrix[rows] *= factors`` where a row may appear more than once (windows multiply)."""
    if rows.size == 0:
        return
    unique, inverse = np.unique(rows, return_inverse=True)
    combined = np.ones((unique.size, matrix.shape[1]), dtype=matrix.dtype)
    np.multiply.at(combined, inverse, factors.astype(matrix.dtype))
    matrix[unique] *= combined


def generate_chunk(inputs: DayInputs, plan: DayPlan, chunk: int) -> ChunkOutput:
    """Interval reads, registers and comm counts of one chunk of service points.

    Args:
        inputs: The day's inputs.
        plan: The day plan.
        chunk: Chunk index (service points ``chunk * CHUNK_SITES`` onwards).

    Returns:
        The chunk's output.
    """
    clock, cust, sites = inputs.clock, inputs.customers, inputs.territory.sites
    n_t, step = clock.intervals, clock.interval_us
    a = chunk * CHUNK_SITES
    b = min(a + CHUNK_SITES, sites.count)
    n = b - a
    rng = stream(inputs.seed, Stream.DAY, clock.ordinal, chunk)
    # Installations of the chunk that overlap the day, by site.
    lo, hi = np.searchsorted(inputs.inst_site, [a, b])
    inst = np.arange(lo, hi)
    inst = inst[
        (inputs.inst_from_us[inst] < clock.end_us) & (inputs.inst_to_us[inst] > clock.start_us)
    ]
    meter = inputs.inst_meter[inst]
    site = inputs.inst_site[inst]
    k = inst.size
    # Demand [kW] of every customer of the chunk: weights x basis, day scale, EV, noise.
    day_sd = cust.day_sd[a:b]
    w = (
        cust.weights[a:b]
        * np.exp(rng.normal(0.0, day_sd) - 0.5 * day_sd**2).astype(np.float32)[:, None]
    )
    ev = np.flatnonzero(cust.ev_kw[a:b] > 0)
    charging = rng.random(ev.size) < cust.ev_probability[a + ev]
    start = np.clip(
        cust.ev_start[a + ev] + rng.integers(-1, 2, ev.size), 0, len(load.EV_START_H) - 1
    )
    column = load.ev_column(start, rng.random(ev.size) < 0.3)
    w[ev[charging], column[charging]] = cust.ev_kw[a + ev[charging]]
    demand = w @ plan.basis.basis
    sd = cust.noise_sd[a:b][:, None]
    noise = rng.standard_normal((n, n_t), dtype=np.float32)
    noise *= sd
    noise -= 0.5 * sd * sd
    np.exp(noise, out=noise)
    demand *= noise
    del noise
    if not (k == n and np.array_equal(site, np.arange(a, b))):
        demand = demand[site - a]
    solar_rows = np.flatnonzero(cust.solar_kw[site] > 0)
    flicker = 1.0 + 0.12 * float(inputs.weather.cloudiness[clock.ordinal]) * rng.standard_normal(
        (solar_rows.size, n_t)
    )
    solar = (
        cust.solar_kw[site[solar_rows]][:, None]
        * plan.basis.solar[None, :]
        * np.clip(flicker, 0.0, None)
    ).astype(np.float32)
    sort_site = site  # installations are ordered by site already
    order_m = np.argsort(meter, kind="stable")
    sort_meter = meter[order_m]

    def site_rows(windows: Windows) -> tuple[IntArray, IntArray]:
        sub = windows.in_range(a, b)
        pos, rows = expand_pairs(sort_site, sub.key)
        return pos, rows

    def meter_rows(windows: Windows) -> tuple[IntArray, IntArray]:
        pos, rows = expand_pairs(sort_meter, windows.key)
        return pos, order_m[rows]

    def cover(windows: Windows, pos: IntArray) -> Float32Array:
        return overlap(clock.starts_us, step, windows.start_us[pos], windows.end_us[pos])

    flags = np.zeros((k, n_t), dtype=np.uint32)
    solar_of = np.full(k, -1, dtype=np.int64)
    solar_of[solar_rows] = np.arange(solar_rows.size)
    # Vacant premises use nothing (solar keeps producing); outages and open switches cut both.
    sub = plan.vacancy.in_range(a, b)
    pos, rows = expand_pairs(sort_site, sub.key)
    if rows.size:
        _scale(demand, rows, 1.0 - cover(sub, pos))
    for windows, by_site in ((plan.outage, True), (plan.switch_open, False)):
        if by_site:
            sub = windows.in_range(a, b)
            pos, rows = expand_pairs(sort_site, sub.key)
        else:
            sub = windows
            pos, rows = meter_rows(windows)
        if rows.size == 0:
            continue
        frac = cover(sub, pos)
        _scale(demand, rows, 1.0 - frac)
        has = solar_of[rows] >= 0
        _scale(solar, solar_of[rows[has]], 1.0 - frac[has])
        if by_site:
            np.bitwise_or.at(flags, rows, np.where(frac > 0, _OUTAGE_FLAG, np.uint32(0)))
    received_e = None
    if solar_rows.size:
        net = demand[solar_rows] - solar
        demand[solar_rows] = np.maximum(net, 0.0)
        received_e = np.maximum(-net, 0.0)
    # What the meter registers: kW -> Wh, secondary side of CTs, then the faults.
    scale = np.float32(1000.0 * step / 3.6e9)
    demand *= scale
    if received_e is not None:
        received_e *= scale
    ratio = sites.ct_ratio[site] * sites.pt_ratio[site]
    rated = np.flatnonzero(ratio != 1.0)
    if rated.size:
        demand[rated] /= ratio[rated, None].astype(np.float32)
    for kind in (FaultKind.THEFT_BYPASS, FaultKind.CT_POLARITY_REVERSED):
        sub = plan.by_site[kind].in_range(a, b)
        pos, rows = expand_pairs(sort_site, sub.key)
        if rows.size:
            loss = (
                (1.0 - sub.value[pos]) if kind is FaultKind.THEFT_BYPASS else (2.0 * sub.value[pos])
            )
            _scale(demand, rows, 1.0 - cover(sub, pos) * loss[:, None].astype(np.float32))
    measured = np.ones((k, n_t), dtype=bool)
    pos, rows = meter_rows(plan.by_meter[FaultKind.STOPPED_REGISTER])
    if rows.size:
        stopped = cover(plan.by_meter[FaultKind.STOPPED_REGISTER], pos) > 0
        demand[rows] = np.where(stopped, 0.0, demand[rows])
        has = solar_of[rows] >= 0
        if received_e is not None and has.any():
            received_e[solar_of[rows[has]]] = np.where(
                stopped[has], 0.0, received_e[solar_of[rows[has]]]
            )
    drift = plan.by_meter[FaultKind.CLOCK_DRIFT]
    pos, rows = meter_rows(drift)
    for p, r in zip(pos.tolist(), rows.tolist(), strict=True):
        offset_s = (
            drift.value[p] * (clock.start_us + _US_PER_DAY / 2 - drift.start_us[p]) / (_US_PER_DAY)
        )
        shift = offset_s * 1e6 / step
        whole, part = int(np.floor(shift)), float(shift - np.floor(shift))
        src = np.clip(np.arange(n_t) - whole, 0, n_t - 1)
        src2 = np.clip(src - 1, 0, n_t - 1)
        demand[r] = (1 - part) * demand[r, src] + part * demand[r, src2]
    # Dead meters (removed, burnt by a hot socket) and installation windows: nothing measured.
    for kind in (FaultKind.METER_REMOVED, FaultKind.HOT_SOCKET):
        pos, rows = meter_rows(plan.by_meter[kind])
        if rows.size:
            np.logical_and.at(measured, rows, cover(plan.by_meter[kind], pos) < 1e-9)
    partial = np.flatnonzero(
        (inputs.inst_from_us[inst] > clock.start_us) | (inputs.inst_to_us[inst] < clock.end_us)
    )
    if partial.size:
        window = overlap(
            clock.starts_us,
            step,
            inputs.inst_from_us[inst[partial]],
            inputs.inst_to_us[inst[partial]],
        )
        measured[partial] &= window >= 0.5
    wh = np.rint(demand).astype(np.int64)
    wh[~measured] = 0
    wh_r = None
    bidir = inputs.bidirectional[meter]
    if received_e is not None:
        wh_r = np.rint(received_e).astype(np.int64)
        wh_r[~measured[solar_rows]] = 0
    # Registers: delivered, received, TOU buckets of the program the meter carries. A meter
    # that moved sockets during the day has two rows; its increments add up.
    increment = np.zeros((k, inputs.registers_wh.shape[1]), dtype=np.int64)
    increment[:, 0] = wh.sum(axis=1)
    if wh_r is not None:
        keep = bidir[solar_rows]
        increment[solar_rows[keep], 1] = wh_r[keep].sum(axis=1)
    program = plan.program[meter]
    for p_index, onehot in enumerate(plan.tou_onehot):
        if onehot is None:
            continue
        rows = np.flatnonzero(program == p_index)
        if rows.size:
            buckets = np.rint(wh[rows].astype(np.float64) @ onehot).astype(np.int64)
            increment[rows, 2 : 2 + onehot.shape[1]] = buckets
    unique_meter, inverse = np.unique(meter, return_inverse=True)
    regs = inputs.registers_wh[unique_meter].copy()
    np.add.at(regs, inverse, increment)
    # Which reads reach the head-end.
    received = measured.copy()
    pos, rows = meter_rows(plan.by_meter[FaultKind.RADIO_FAILURE])
    if rows.size:
        np.logical_and.at(received, rows, cover(plan.by_meter[FaultKind.RADIO_FAILURE], pos) < 1e-9)
    sub = plan.no_backhaul.in_range(a, b)
    pos, rows = expand_pairs(sort_site, sub.key)
    if rows.size:
        np.logical_and.at(received, rows, cover(sub, pos) < 1e-9)
    margin = inputs.mesh.margin_db[site].copy()
    weak = plan.by_site[FaultKind.WEAK_MESH_PATH].in_range(a, b)
    pos, rows = expand_pairs(sort_site, weak.key)
    if rows.size:
        days = np.maximum(clock.end_us - weak.start_us[pos], 0) / _US_PER_DAY
        np.subtract.at(margin, rows, weak.value[pos] * days)
    hops = inputs.mesh.hops[site]
    p_bad = 0.0012 + 0.0006 * hops + 0.95 / (1.0 + np.exp((margin - 2.0) / 1.5))
    bad = rng.random(k) < p_bad
    gap_len = np.where(rng.random(k) < 0.25, n_t, rng.integers(4, n_t + 1, k))
    gap_start = rng.integers(0, n_t, k)
    t_index = np.arange(n_t)
    for r in np.flatnonzero(bad | (margin < -3.0)).tolist():
        if margin[r] < -3.0:
            received[r] = False
        else:
            received[r] &= ~((t_index >= gap_start[r]) & (t_index < gap_start[r] + gap_len[r]))
    # Voltage: hourly min / max (random draws first, so they do not depend on the reads).
    hours = n_t // 4
    v_noise = np.abs(rng.standard_normal((2, k, hours), dtype=np.float32))
    interval_s = clock.interval_us // 1_000_000
    frames = [
        _block(
            inputs,
            meter,
            wh,
            starts=clock.starts_us,
            flags=flags,
            received=received,
            channel="kwh_delivered",
            interval_s=interval_s,
        )
    ]
    if wh_r is not None:
        bidir_rows = np.flatnonzero(bidir[solar_rows])
        rows = solar_rows[bidir_rows]
        frames.append(
            _block(
                inputs,
                meter[rows],
                wh_r[bidir_rows],
                starts=clock.starts_us,
                flags=flags[rows],
                received=received[rows],
                channel="kwh_received",
                interval_s=interval_s,
            )
        )
    frames += _voltage(
        inputs,
        plan,
        meter,
        site,
        wh=wh,
        flags=flags,
        measured=measured,
        received=received,
        noise=v_noise,
    )
    alive = measured[:, -1] & received[:, -1]
    window = np.ones((k, n_t), dtype=bool)
    if partial.size:
        window[partial] = (
            overlap(
                clock.starts_us,
                step,
                inputs.inst_from_us[inst[partial]],
                inputs.inst_to_us[inst[partial]],
            )
            >= 0.5
        )
    active_end = inputs.inst_to_us[inst] >= clock.end_us
    at_end = np.zeros(unique_meter.size, dtype=bool)
    at_end[inverse[active_end]] = True
    talks = np.zeros(unique_meter.size, dtype=bool)
    talks[inverse[active_end & alive]] = True
    return ChunkOutput(
        interval_reads=frames,
        register_meter=unique_meter[at_end],
        register_wh=regs[at_end],
        register_received=talks[at_end],
        meters=meter,
        sites=site,
        expected=window.sum(axis=1),
        received=received.sum(axis=1),
        alive_at_end=alive,
        current=active_end,
        consumption_wh=wh.sum(axis=1),
    )


def _block(
    inputs: DayInputs,
    meter: IntArray,
    wh: npt.NDArray[np.int64],
    *,
    starts: IntArray,
    flags: npt.NDArray[np.uint32],
    received: BoolArray,
    channel: str,
    interval_s: int,
) -> pl.DataFrame:
    k, n_t = wh.shape
    views = inputs.serial_views[meter]
    if received.all():
        return _frame(
            inputs,
            np.repeat(views, n_t, axis=0),
            np.tile(starts, k),
            wh.ravel() / 1000.0,
            flags=flags.ravel(),
            channel=channel,
            interval_s=interval_s,
        )
    r, c = np.nonzero(received)
    return _frame(
        inputs,
        views[r],
        starts[c],
        wh[r, c] / 1000.0,
        flags=flags[r, c],
        channel=channel,
        interval_s=interval_s,
    )


def _nominal(inputs: DayInputs, site: IntArray) -> FloatArray:
    sites = inputs.territory.sites
    v = sites.voltage_v[site]
    secondary = np.where(sites.pt_ratio[site] > 1.0, 120.0, v)
    return np.select([secondary == 480.0, secondary == 208.0], [277.0, 120.0], secondary)


def _voltage(
    inputs: DayInputs,
    plan: DayPlan,
    meter: IntArray,
    site: IntArray,
    *,
    wh: npt.NDArray[np.int64],
    flags: npt.NDArray[np.uint32],
    measured: BoolArray,
    received: BoolArray,
    noise: Float32Array,
) -> list[pl.DataFrame]:
    clock = inputs.clock
    k, n_t = wh.shape
    hours = n_t // 4
    nominal = _nominal(inputs, site)
    ratio = inputs.territory.sites.ct_ratio[site] * inputs.territory.sites.pt_ratio[site]
    kw = wh[:, : hours * 4].reshape(k, hours, 4).sum(axis=2) * ratio[:, None] / 1000.0
    mean = (
        nominal[:, None]
        * (1.0 + inputs.voltage_offset[site][:, None] + plan.regulation_pu[None, :hours])
        - inputs.voltage_drop[site][:, None] * kw
    )
    spread = 0.004 * nominal[:, None]
    low = mean - spread * (0.5 + noise[0])
    high = mean + spread * (0.5 + noise[1])
    hot = plan.by_site[FaultKind.HOT_SOCKET].in_range(
        int(site.min(initial=0)), int(site.max(initial=0)) + 1
    )
    _, rows = expand_pairs(site, hot.key)
    if rows.size:  # a loose jaw: deep, erratic dips
        low[rows] -= 0.06 * nominal[rows, None] * noise[0, rows]
    out = (flags[:, : hours * 4].reshape(k, hours, 4) & np.uint32(_OUTAGE_FLAG)) > 0
    any_out = out.any(axis=2)
    all_out = out.all(axis=2)
    low = np.where(any_out, 0.0, low)
    high = np.where(all_out, 0.0, high)
    ok = measured[:, : hours * 4 : 4] & received[:, : hours * 4 : 4]
    starts = clock.starts_us[: hours * 4 : 4]
    zero = np.zeros((k, hours), dtype=np.uint32)
    hour_flags = np.where(any_out, np.uint32(_OUTAGE_FLAG), zero)
    blocks = []
    r, c = np.nonzero(ok)
    views = inputs.serial_views[meter[r]]
    for channel, values in (("voltage_min_v", low), ("voltage_max_v", high)):
        blocks.append(
            _frame(
                inputs,
                views,
                starts[c],
                np.asarray(np.round(values[r, c].astype(np.float64), 1), dtype=np.float64),
                flags=hour_flags[r, c],
                channel=channel,
                interval_s=3600,
            )
        )
    return blocks
