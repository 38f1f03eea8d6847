"""One chunk of a simulated day: interval reads, registers and comm counts, vectorised.

Service points are processed in fixed chunks of ``CHUNK_SITES``; each chunk draws from its
own generator (``stream(seed, DAY, day, chunk)``), so values do not depend on chunking or
worker count. Per chunk: the load model gives every customer's demand (``load.py``, one
matrix product, in watt-hours per interval); vacancy, outages and an open service switch take
it away; rooftop solar nets against it (delivered and received channels); the meter then
measures it as the faults dictate (theft bypass, reversed CT, stopped register, drifting
clock, transformer-rated meters on the secondary side) and the mesh decides which reads reach
the head-end (dead radio, collector down, weak path, ordinary misses). Values are whole
watt-hours, so each register advances by exactly the sum of its intervals. Hourly minimum and
maximum voltage come with them. Faults touch few rows, so they are kept sparse
(``blocks.Holes``) and the full matrices see only a handful of passes.

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
from meterops.simulator.blocks import Holes, reads_block
from meterops.simulator.day import DayPlan, Windows, expand_pairs, overlap
from meterops.simulator.faults import CHUNK_SITES, FaultKind
from meterops.simulator.params import Stream, stream
from meterops.simulator.state import DayInputs
from meterops.vee.flags import FLAGS

__all__ = ["ChunkOutput", "blocked_matmul", "generate_chunk"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
FlagRows = dict[int, npt.NDArray[np.uint32]]

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


def blocked_matmul(
    a: npt.NDArray[np.floating[Any]], b: npt.NDArray[np.floating[Any]]
) -> npt.NDArray[np.floating[Any]]:
    """``a @ b`` in blocks of 128 rows.

    A block is small enough for the BLAS library to compute it on the calling thread; one
    large product would wake a thread per core, which spin and wait on a busy machine and turn
    a millisecond into tens of them (and our own worker threads already use the cores).
    """
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))
    for start in range(0, a.shape[0], 128):
        np.matmul(a[start : start + 128], b, out=out[start : start + 128])
    return out


def _demand(
    inputs: DayInputs, plan: DayPlan, a: int, b: int, rng: np.random.Generator
) -> Float32Array:
    """Energy in watt-hours drawn by the customers of sites ``a..b`` in each interval."""
    cust, clock = inputs.customers, inputs.clock
    day_sd = cust.day_sd[a:b]
    # Interval noise is log-logistic: exp(c * logit(u)) with u uniform, which has the shape of
    # a log-normal of standard deviation sd (c = sd * sqrt(3) / pi) at a fraction of the cost
    # of normal draws; pi c / sin(pi c) is its mean, divided out below.
    c = cust.noise_sd[a:b].astype(np.float64) * np.sqrt(3.0) / np.pi
    mean_noise = np.pi * c / np.sin(np.pi * c)
    to_wh = 1000.0 * clock.interval_us / 3.6e9
    row_scale = (np.exp(rng.normal(0.0, day_sd) - 0.5 * day_sd**2) * to_wh / mean_noise).astype(
        np.float32
    )
    w = cust.weights[a:b] * row_scale[:, None]
    ev = np.flatnonzero(cust.ev_kw[a:b] > 0)
    charging = rng.random(ev.size) < cust.ev_probability[a + ev]
    start = np.clip(
        cust.ev_start[a + ev] + rng.integers(-1, 2, ev.size), 0, len(load.EV_START_H) - 1
    )
    column = load.ev_column(start, rng.random(ev.size) < 0.3)
    on = ev[charging]
    w[on, column[charging]] = cust.ev_kw[a + on] * row_scale[on]
    demand = blocked_matmul(w, plan.basis.basis)
    u = rng.random((b - a, clock.intervals), dtype=np.float32)
    noise = np.subtract(np.float32(1.0), u)
    np.divide(u, noise, out=noise)
    with np.errstate(divide="ignore"):  # u = 0 gives log 0 = -inf and a noise factor of 0
        np.log(noise, out=noise)
    noise *= c.astype(np.float32)[:, None]
    np.exp(noise, out=noise)
    demand *= noise
    return np.asarray(demand, dtype=np.float32)


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
    rng = stream(inputs.seed, Stream.DAY, clock.day.toordinal(), chunk)  # by calendar date
    lo, hi = np.searchsorted(inputs.inst_site, [a, b])
    inst = np.arange(lo, hi)
    inst = inst[
        (inputs.inst_from_us[inst] < clock.end_us) & (inputs.inst_to_us[inst] > clock.start_us)
    ]
    meter, site = inputs.inst_meter[inst], inputs.inst_site[inst]
    k = inst.size
    demand = _demand(inputs, plan, a, b, rng)
    if not (k == b - a and np.array_equal(site, np.arange(a, b))):
        demand = demand[site - a]
    solar_rows = np.flatnonzero(cust.solar_kw[site] > 0)
    cloud = float(inputs.weather.cloudiness[clock.ordinal])
    flicker = rng.standard_normal((solar_rows.size, n_t), dtype=np.float32)
    flicker *= 0.12 * cloud
    flicker += 1.0
    np.maximum(flicker, 0.0, out=flicker)
    to_wh = np.float32(1000.0 * step / 3.6e9)
    solar = (
        cust.solar_kw[site[solar_rows]].astype(np.float32)[:, None]
        * (plan.basis.solar.astype(np.float32) * to_wh)[None, :]
    ) * flicker
    order_m = np.argsort(meter, kind="stable")
    sort_meter = meter[order_m]

    def site_rows(windows: Windows) -> tuple[Windows, IntArray, IntArray]:
        sub = windows.in_range(a, b)
        pos, rows = expand_pairs(site, sub.key)
        return sub, pos, rows

    def meter_rows(windows: Windows) -> tuple[IntArray, IntArray]:
        pos, rows = expand_pairs(sort_meter, windows.key)
        return pos, order_m[rows]

    def cover(windows: Windows, pos: IntArray) -> Float32Array:
        return overlap(clock.starts_us, step, windows.start_us[pos], windows.end_us[pos])

    solar_of = np.full(k, -1, dtype=np.int64)
    solar_of[solar_rows] = np.arange(solar_rows.size)
    flags: dict[int, npt.NDArray[np.uint32]] = {}
    # Vacant premises use nothing (solar keeps producing); outages and open switches cut both.
    sub, pos, rows = site_rows(plan.vacancy)
    _scale(demand, rows, 1.0 - cover(sub, pos))
    for by_site in (True, False):
        if by_site:
            sub, pos, rows = site_rows(plan.outage)
        else:
            sub = plan.switch_open
            pos, rows = meter_rows(sub)
        if rows.size == 0:
            continue
        frac = cover(sub, pos)
        _scale(demand, rows, 1.0 - frac)
        has = solar_of[rows] >= 0
        _scale(solar, solar_of[rows[has]], 1.0 - frac[has])
        if by_site:
            for row, part in zip(rows.tolist(), frac, strict=True):
                mark = np.where(part > 0, _OUTAGE_FLAG, np.uint32(0))
                flags[row] = flags[row] | mark if row in flags else mark
    received_e = None
    if solar_rows.size:
        net = demand[solar_rows] - solar
        demand[solar_rows] = np.maximum(net, 0.0)
        received_e = np.maximum(-net, 0.0)
    # What the meter registers: secondary side of CTs, then the faults.
    ratio = sites.ct_ratio[site] * sites.pt_ratio[site]
    rated = np.flatnonzero(ratio != 1.0)
    if rated.size:
        demand[rated] /= ratio[rated, None].astype(np.float32)
    for kind in (FaultKind.THEFT_BYPASS, FaultKind.CT_POLARITY_REVERSED):
        sub, pos, rows = site_rows(plan.by_site[kind])
        if rows.size:
            loss = (
                (1.0 - sub.value[pos]) if kind is FaultKind.THEFT_BYPASS else (2.0 * sub.value[pos])
            )
            _scale(demand, rows, 1.0 - cover(sub, pos) * loss[:, None].astype(np.float32))
    pos, rows = meter_rows(plan.by_meter[FaultKind.STOPPED_REGISTER])
    if rows.size:
        stopped = cover(plan.by_meter[FaultKind.STOPPED_REGISTER], pos) > 0
        _scale(demand, rows, (~stopped).astype(np.float32))
        has = solar_of[rows] >= 0
        if received_e is not None and has.any():
            _scale(received_e, solar_of[rows[has]], (~stopped[has]).astype(np.float32))
    drift = plan.by_meter[FaultKind.CLOCK_DRIFT]
    pos, rows = meter_rows(drift)
    for p, r in zip(pos.tolist(), rows.tolist(), strict=True):
        offset_s = (
            drift.value[p] * (clock.start_us + _US_PER_DAY / 2 - drift.start_us[p]) / (_US_PER_DAY)
        )
        shift = offset_s * 1e6 / step
        whole, part = int(np.floor(shift)), float(shift - np.floor(shift))
        src = np.clip(np.arange(n_t) - whole, 0, n_t - 1)
        demand[r] = (1 - part) * demand[r, src] + part * demand[r, np.clip(src - 1, 0, n_t - 1)]
    # Dead meters (pulled, burnt by a hot socket) and installation windows: nothing measured.
    measured = Holes(n_t)
    for kind in (FaultKind.METER_REMOVED, FaultKind.HOT_SOCKET):
        pos, rows = meter_rows(plan.by_meter[kind])
        if rows.size:
            measured.punch(rows, cover(plan.by_meter[kind], pos) < 1e-9)
    window = Holes(n_t)
    partial = np.flatnonzero(
        (inputs.inst_from_us[inst] > clock.start_us) | (inputs.inst_to_us[inst] < clock.end_us)
    )
    if partial.size:
        inside = (
            overlap(
                clock.starts_us,
                step,
                inputs.inst_from_us[inst[partial]],
                inputs.inst_to_us[inst[partial]],
            )
            >= 0.5
        )
        measured.punch(partial, inside)
        window.punch(partial, inside)
    np.rint(demand, out=demand)
    if measured.rows.size:
        demand[measured.rows] *= measured.mask
    if received_e is not None:
        np.rint(received_e, out=received_e)
        received_e *= measured.matrix(solar_rows)
    regs, unique_meter, inverse = _registers(
        inputs, plan, meter, demand, solar_rows=solar_rows, received_e=received_e
    )
    received = _reception(
        inputs,
        plan,
        site,
        measured=measured,
        meter_rows=meter_rows,
        site_rows=site_rows,
        cover=cover,
        rng=rng,
    )
    frames = _reads(
        inputs,
        plan,
        meter,
        site,
        demand=demand,
        solar_rows=solar_rows,
        received_e=received_e,
        measured=measured,
        received=received,
        flags=flags,
        rng=rng,
    )
    alive = measured.last(k) & received.last(k)
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
        expected=window.counts(k),
        received=received.counts(k),
        alive_at_end=alive,
        current=active_end,
        consumption_wh=demand.sum(axis=1, dtype=np.float64).astype(np.int64),
    )


def _registers(
    inputs: DayInputs,
    plan: DayPlan,
    meter: IntArray,
    demand: Float32Array,
    *,
    solar_rows: IntArray,
    received_e: Float32Array | None,
) -> tuple[npt.NDArray[np.int64], IntArray, IntArray]:
    """Registers at the day's end: delivered, received, the TOU buckets of its own program.

    A meter that moved sockets during the day has two rows; their increments add up.
    """
    k = meter.size
    increment = np.zeros((k, inputs.registers_wh.shape[1]), dtype=np.int64)
    increment[:, 0] = demand.sum(axis=1, dtype=np.float64).astype(np.int64)
    if received_e is not None:
        keep = inputs.bidirectional[meter[solar_rows]]
        increment[solar_rows[keep], 1] = (
            received_e[keep].sum(axis=1, dtype=np.float64).astype(np.int64)
        )
    program = plan.program[meter]
    for p_index, onehot in enumerate(plan.tou_onehot):
        if onehot is None:
            continue
        rows = np.flatnonzero(program == p_index)
        if rows.size:
            buckets = blocked_matmul(demand[rows].astype(np.float64), onehot)
            increment[rows, 2 : 2 + onehot.shape[1]] = np.rint(buckets).astype(np.int64)
    unique_meter, inverse = np.unique(meter, return_inverse=True)
    regs = inputs.registers_wh[unique_meter].copy()
    np.add.at(regs, inverse, increment)
    return regs, unique_meter, inverse


def _reception(
    inputs: DayInputs,
    plan: DayPlan,
    site: IntArray,
    *,
    measured: Holes,
    meter_rows: Any,
    site_rows: Any,
    cover: Any,
    rng: np.random.Generator,
) -> Holes:
    """Which intervals reach the head-end (a copy of ``measured`` with more holes)."""
    clock = inputs.clock
    n_t = clock.intervals
    received = measured.copy()
    pos, rows = meter_rows(plan.by_meter[FaultKind.RADIO_FAILURE])
    if rows.size:
        received.punch(rows, cover(plan.by_meter[FaultKind.RADIO_FAILURE], pos) < 1e-9)
    sub, pos, rows = site_rows(plan.no_backhaul)
    if rows.size:
        received.punch(rows, cover(sub, pos) < 1e-9)
    margin = inputs.mesh.margin_db[site].copy()
    weak, pos, rows = site_rows(plan.by_site[FaultKind.WEAK_MESH_PATH])
    if rows.size:
        days = np.maximum(clock.end_us - weak.start_us[pos], 0) / _US_PER_DAY
        np.subtract.at(margin, rows, weak.value[pos] * days)
    k = site.size
    p_bad = 0.0012 + 0.0006 * inputs.mesh.hops[site] + 0.95 / (1.0 + np.exp((margin - 2.0) / 1.5))
    bad = rng.random(k) < p_bad
    gap_len = np.where(rng.random(k) < 0.25, n_t, rng.integers(4, n_t + 1, k))
    gap_start = rng.integers(0, n_t, k)
    t_index = np.arange(n_t)
    rows = np.flatnonzero(bad | (margin < -3.0))
    gaps = (t_index[None, :] >= gap_start[rows, None]) & (
        t_index[None, :] < (gap_start + gap_len)[rows, None]
    )
    gaps[margin[rows] < -3.0] = True  # no usable path at all
    received.punch(rows, ~gaps)
    return received


def _nominal(inputs: DayInputs, site: IntArray) -> FloatArray:
    sites = inputs.territory.sites
    secondary = np.where(sites.pt_ratio[site] > 1.0, 120.0, sites.voltage_v[site])
    return np.select([secondary == 480.0, secondary == 208.0], [277.0, 120.0], secondary)


def _reads(
    inputs: DayInputs,
    plan: DayPlan,
    meter: IntArray,
    site: IntArray,
    *,
    demand: Float32Array,
    solar_rows: IntArray,
    received_e: Float32Array | None,
    measured: Holes,
    received: Holes,
    flags: FlagRows,
    rng: np.random.Generator,
) -> list[pl.DataFrame]:
    """Frames of the chunk: kWh delivered and received, hourly voltage minimum and maximum."""
    clock = inputs.clock
    n_t = clock.intervals
    k = meter.size
    interval_s = clock.interval_us // 1_000_000
    views = inputs.serial_views[meter]
    data = inputs.serial_data
    hours = n_t // 4
    # Spread of the hour's minimum and maximum around its mean: exponential draws.
    noise = rng.random((2, k, hours), dtype=np.float32)
    np.subtract(np.float32(1.0), noise, out=noise)
    np.log(noise, out=noise)
    noise *= np.float32(-0.8)
    frames = reads_block(
        views,
        data,
        clock.starts_us,
        demand,
        divide=1000.0,
        decimals=None,
        holes=received,
        flags=flags,
        channel="kwh_delivered",
        interval_s=interval_s,
    )
    if received_e is not None:
        bidir = np.flatnonzero(inputs.bidirectional[meter[solar_rows]])
        rows = solar_rows[bidir]
        frames += reads_block(
            views[rows],
            data,
            clock.starts_us,
            received_e[bidir],
            divide=1000.0,
            decimals=None,
            holes=received.subset(rows),
            flags={i: flags[r] for i, r in enumerate(rows.tolist()) if r in flags},
            channel="kwh_received",
            interval_s=interval_s,
        )
    # Voltage: the service's nominal, the feeder's regulation, the drop across the service.
    sites = inputs.territory.sites
    nominal = _nominal(inputs, site).astype(np.float32)
    hourly_kwh = demand[:, : hours * 4].reshape(k, hours, 4).sum(axis=2) / np.float32(1000.0)
    ratio = sites.ct_ratio[site] * sites.pt_ratio[site]
    rated = np.flatnonzero(ratio != 1.0)
    hourly_kwh[rated] *= ratio[rated, None].astype(np.float32)
    level = (1.0 + inputs.voltage_offset[site]).astype(np.float32)[:, None] + plan.regulation_pu[
        None, :hours
    ].astype(np.float32)
    mean = nominal[:, None] * level
    mean -= inputs.voltage_drop[site].astype(np.float32)[:, None] * hourly_kwh
    spread = np.float32(0.004) * nominal[:, None]
    low = mean - spread * (0.5 + noise[0])
    high = mean + spread * (0.5 + noise[1])
    hot = plan.by_site[FaultKind.HOT_SOCKET].in_range(
        int(site.min(initial=0)), int(site.max(initial=0)) + 1
    )
    _, rows = expand_pairs(site, hot.key)
    if rows.size:  # a loose jaw: deep, erratic dips
        low[rows] -= 0.06 * nominal[rows, None] * noise[0, rows]
    hour_flags: FlagRows = {}
    for row, marks in flags.items():
        out = (marks[: hours * 4].reshape(hours, 4) & _OUTAGE_FLAG) > 0
        low[row, out.any(axis=1)] = 0.0
        high[row, out.all(axis=1)] = 0.0
        hour_flags[row] = np.where(out.any(axis=1), _OUTAGE_FLAG, np.uint32(0))
    voltage_holes = Holes(hours)
    holed = np.union1d(measured.rows, received.rows)
    keep = measured.matrix(holed) & received.matrix(holed)
    voltage_holes.punch(holed, keep[:, : hours * 4 : 4])
    starts = clock.starts_us[: hours * 4 : 4]
    for channel, values in (("voltage_min_v", low), ("voltage_max_v", high)):
        frames += reads_block(
            views,
            data,
            starts,
            values,
            divide=1.0,
            decimals=1,
            holes=voltage_holes,
            flags=hour_flags,
            channel=channel,
            interval_s=3600,
        )
    return frames
