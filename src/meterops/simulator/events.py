"""A day's end-device events with IEC 61968-9 codes, from faults and ordinary operation.

Faults leave the events they leave in reality: an outage sends last gasps (not all arrive),
the meter logs the power loss and reports the restore; a pulled meter reports its removal; a
bypass may (or may not) trip a cover, tilt or magnetic tamper; a hot socket raises high
temperature alarms more and more often until the meter fails; a drifting clock raises clock
errors; a reversed CT shows reverse energy; the head-end flags meters it heard nothing from.
Ordinary operation adds demand resets on billing-cycle days, momentary outages, voltage sags
and swells, low batteries and clock adjustments at published-looking rates. A meter whose
radio is dead (or that is no longer in its socket) sends nothing. Codes come from
``nomenclature.EVENT_BY_NAME``; vendor codes are the head-end's own texts.

Pure module: standard library, numpy, polars and pure meterops modules; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import json
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from meterops.nomenclature import EVENT_BY_NAME
from meterops.reads.schema import PARSED_EVENTS
from meterops.simulator.chunk import ChunkOutput
from meterops.simulator.day import DayPlan, Windows, expand_pairs
from meterops.simulator.faults import FaultKind
from meterops.simulator.params import Stream, stream
from meterops.simulator.state import DayInputs

__all__ = ["BACKGROUND_RATES_PER_1000_DAY", "VENDOR_CODES", "generate_events"]

IntArray = npt.NDArray[np.int64]

_EVENT_STREAM: Final = 1_000_000
_US_S: Final = 1_000_000
_US_DAY: Final = 86_400 * _US_S

VENDOR_CODES: Final[dict[str, str]] = {
    "power_loss": "Primary Power Down",
    "power_restored": "Primary Power Up",
    "last_gasp": "Last Gasp - NIC power lost",
    "power_failed": "Power Failure",
    "meter_removed": "Meter Removal Detected",
    "cover_removed": "Meter Cover Removed",
    "magnetic_tamper": "Magnetic Tamper Detected",
    "tilt_tamper": "Tilt Tamper Detected",
    "high_temperature": "High Temperature Threshold Exceeded",
    "temperature_cleared": "Temperature Normal",
    "clock_error": "Clock Error",
    "time_changed": "Time Adjusted",
    "reverse_energy": "Reverse Energy Flow Detected",
    "demand_reset": "Demand Reset",
    "comm_failure": "Meter Not Communicating",
    "voltage_sag": "Sag Ended",
    "voltage_swell": "Swell Ended",
    "under_voltage": "Low Voltage Threshold",
    "voltage_normal": "Voltage Normal",
    "low_battery": "Low Battery",
    "switch_disconnected": "Remote Disconnect Complete",
    "switch_connected": "Remote Connect Complete",
    "switch_connect_failed": "Remote Connect Failed",
    "switch_disconnect_failed": "Remote Disconnect Failed",
    "load_side_voltage": "Load Side Voltage Detected",
    "program_changed": "Program Changed",
    "firmware_changed": "Firmware Upgraded",
    "tamper": "Tamper Detected",
}
"""The head-end's own event texts (the ``vendor_code`` column)."""

BACKGROUND_RATES_PER_1000_DAY: Final[dict[str, float]] = {
    "voltage_sag": 0.8,
    "voltage_swell": 0.2,
    "under_voltage": 0.15,
    "low_battery": 0.03,
    "time_changed": 0.4,
    "high_temperature": 0.01,
    "cover_removed": 0.01,
}
"""Events of ordinary operation per 1,000 meters per day (no fault behind them)."""

MOMENTARY_PER_TRANSFORMER_YEAR: Final = 0.5
"""Momentary interruptions (recloser operations) seen by all meters of a transformer."""


class _Sink:
    """Collects events as arrays."""

    def __init__(self) -> None:
        self.meter: list[IntArray] = []
        self.time: list[IntArray] = []
        self.name: list[list[str]] = []
        self.details: list[list[str | None]] = []

    def add(
        self,
        meter: IntArray,
        time_us: IntArray,
        name: str | list[str],
        details: list[str | None] | str | None = None,
    ) -> None:
        n = meter.size
        if n == 0:
            return
        self.meter.append(meter.astype(np.int64))
        self.time.append(np.broadcast_to(time_us, (n,)).astype(np.int64))
        self.name.append([name] * n if isinstance(name, str) else list(name))
        self.details.append(list(details) if isinstance(details, list) else [details] * n)


def _meter_at(inputs: DayInputs, site: IntArray, time_us: IntArray) -> tuple[IntArray, IntArray]:
    """(position, meter) of the meter installed at each site at each time."""
    pos, rows = expand_pairs(inputs.inst_site, site)
    t = time_us[pos]
    ok = (inputs.inst_from_us[rows] <= t) & (inputs.inst_to_us[rows] > t)
    return pos[ok], inputs.inst_meter[rows[ok]]


def _silenced(
    plan: DayPlan,
    meter: IntArray,
    time_us: IntArray,
    kinds: tuple[FaultKind, ...],
) -> npt.NDArray[np.bool_]:
    """True where the meter cannot send at the time (dead radio, not in its socket)."""
    out = np.zeros(meter.size, dtype=bool)
    for kind in kinds:
        w: Windows = plan.by_meter[kind]
        pos, rows = expand_pairs(w.key, meter)
        hit = (w.start_us[rows] < time_us[pos]) & (w.end_us[rows] > time_us[pos])
        out[pos[hit]] = True
    return out


def generate_events(inputs: DayInputs, plan: DayPlan, chunks: list[ChunkOutput]) -> pl.DataFrame:
    """Every event the head-end received for the day.

    Args:
        inputs: The day's inputs.
        plan: The day plan.
        chunks: The day's chunk outputs (for the head-end's comm-failure events).

    Returns:
        A ``PARSED_EVENTS`` frame ordered by time, then serial number.
    """
    clock, faults, sites = inputs.clock, inputs.faults, inputs.territory.sites
    rng = stream(inputs.seed, Stream.DAY, clock.day.toordinal(), _EVENT_STREAM)
    day0, day1 = clock.start_us, clock.end_us
    sink = _Sink()
    kinds = np.array([str(k) for k in faults.kind], dtype=object)

    def starting(kind: FaultKind) -> IntArray:
        return np.flatnonzero(
            (kinds == str(kind)) & (faults.start_us >= day0) & (faults.start_us < day1)
        )

    def ending(kind: FaultKind) -> IntArray:
        return np.flatnonzero(
            (kinds == str(kind)) & (faults.end_us >= day0) & (faults.end_us < day1)
        )

    # Sustained outages: last gasp (not all arrive), logged power loss, restore.
    for kind, gasp in ((FaultKind.TRANSFORMER_OUTAGE, 0.85), (FaultKind.FEEDER_OUTAGE, 0.6)):
        for r in np.flatnonzero(
            (kinds == str(kind)) & (faults.start_us < day1) & (faults.end_us > day0)
        ).tolist():
            s = (
                sites.of_transformer(int(faults.transformer[r]))
                if kind is FaultKind.TRANSFORMER_OUTAGE
                else np.flatnonzero(sites.feeder == faults.feeder[r])
            )
            t0, t1 = int(faults.start_us[r]), int(faults.end_us[r])
            if day0 <= t0 < day1:
                _, m = _meter_at(inputs, s, np.full(s.size, t0))
                lucky = m[rng.random(m.size) < gasp]
                sink.add(lucky, t0 + rng.integers(0, 3, lucky.size) * _US_S, "last_gasp")
                sink.add(m, np.full(m.size, t0), "power_loss")
            if day0 <= t1 < day1:
                _, m = _meter_at(inputs, s, np.full(s.size, t1))
                detail = json.dumps({"outage_duration_s": (t1 - t0) // _US_S})
                sink.add(m, t1 + rng.integers(0, 30, m.size) * _US_S, "power_restored", detail)
    n_tx = int(sites.transformer.max()) + 1 if sites.count else 0
    momentary = rng.poisson(MOMENTARY_PER_TRANSFORMER_YEAR * n_tx / 365.0)
    for tx in rng.integers(0, max(n_tx, 1), momentary).tolist():
        s = sites.of_transformer(tx)
        t0 = day0 + int(rng.integers(0, (day1 - day0) // _US_S - 120)) * _US_S
        _, m = _meter_at(inputs, s, np.full(s.size, t0))
        sink.add(m, np.full(m.size, t0), "power_loss")
        sink.add(
            m,
            np.full(m.size, t0 + int(rng.integers(1, 60)) * _US_S),
            "power_restored",
            json.dumps({"outage_duration_s": 0, "momentary": True}),
        )
    # Pulled meters, bypasses, tampering, hot sockets.
    for r in starting(FaultKind.METER_REMOVED).tolist():
        m, t = np.array([faults.meter[r]]), int(faults.start_us[r])
        sink.add(m, np.array([t]), "meter_removed")
        sink.add(m, np.array([t + _US_S]), "last_gasp")
    for r in ending(FaultKind.METER_REMOVED).tolist():
        sink.add(np.array([faults.meter[r]]), np.array([faults.end_us[r]]), "power_restored")
    for r in starting(FaultKind.THEFT_BYPASS).tolist():
        if not faults.flag[r]:
            continue
        m, t = np.array([faults.meter[r]]), int(faults.start_us[r])
        sink.add(m, np.array([t]), faults.detail[r])
        if faults.detail[r] == "cover_removed":
            sink.add(m, np.array([t - 30 * _US_S]), "power_loss")
            sink.add(
                m,
                np.array([t + 300 * _US_S]),
                "power_restored",
                json.dumps({"outage_duration_s": 330}),
            )
    for r in np.flatnonzero(
        (kinds == str(FaultKind.TAMPER_WITHOUT_THEFT))
        & (faults.start_us < day1)
        & (faults.end_us > day0)
    ).tolist():
        lo, hi = max(int(faults.start_us[r]), day0), min(int(faults.end_us[r]), day1)
        count = 1 + int(rng.integers(0, 2))
        times = np.sort(rng.integers(lo // _US_S, max(hi // _US_S, lo // _US_S + 1), count)) * _US_S
        sink.add(np.full(count, faults.meter[r]), times, faults.detail[r])
    for r in np.flatnonzero(
        (kinds == str(FaultKind.HOT_SOCKET)) & (faults.start_us < day1) & (faults.end_us > day0)
    ).tolist():
        t0, fail = int(faults.start_us[r]), int(faults.value[r])
        hot = int(faults.meter[r])
        if t0 < day1 and fail > day0:
            progress = min(1.0, max(0.0, (day0 - t0) / max(fail - t0, 1)))
            count = int(rng.poisson(0.4 + 3.0 * progress**2))
            lo, hi = max(t0, day0), min(fail, day1)
            if hi > lo and count:
                times = np.sort(rng.integers(lo // _US_S, hi // _US_S, count)) * _US_S
                temps = rng.uniform(75.0, 110.0, count).round(1)
                sink.add(
                    np.full(count, hot),
                    times,
                    "high_temperature",
                    [json.dumps({"temperature_c": float(c)}) for c in temps],
                )
                cleared = times + rng.integers(1, 4, count) * 3_600 * _US_S
                keep = cleared < min(hi, day1)
                sink.add(np.full(int(keep.sum()), hot), cleared[keep], "temperature_cleared")
        if day0 <= fail < day1 and faults.end_us[r] > fail:
            sink.add(
                np.array([hot]),
                np.array([fail]),
                "power_failed",
                json.dumps({"temperature_c": 131.0}),
            )
            sink.add(np.array([hot]), np.array([fail + _US_S]), "last_gasp")
    for r in np.flatnonzero(
        (kinds == str(FaultKind.CT_POLARITY_REVERSED))
        & (faults.start_us < day1)
        & (faults.end_us > day0)
    ).tolist():
        if rng.random() < 0.5:
            t = day0 + int(rng.integers(9, 17)) * 3_600 * _US_S
            sink.add(
                np.array([faults.meter[r]]),
                np.array([t]),
                "reverse_energy",
                json.dumps({"phase": faults.detail[r]}),
            )
    drift = plan.by_meter[FaultKind.CLOCK_DRIFT]
    offsets = drift.value * (day0 - drift.start_us) / _US_DAY
    loud = np.flatnonzero(np.abs(offsets) > 60.0)
    sink.add(
        drift.key[loud],
        day0 + rng.integers(0, 86_400, loud.size) * _US_S,
        "clock_error",
        [json.dumps({"offset_s": round(float(o), 1)}) for o in offsets[loud]],
    )
    # Ordinary operation: demand resets on the billing-cycle day, background events.
    all_meters = np.concatenate([c.meters for c in chunks]) if chunks else np.zeros(0, np.int64)
    all_sites = np.concatenate([c.sites for c in chunks]) if chunks else np.zeros(0, np.int64)
    codes = inputs.program_codes
    demand = np.array([c.startswith(("GS-", "LGS-")) for c in codes], dtype=bool)
    cycle_day = all_sites % 20 + 1
    resets = all_meters[demand[plan.program[all_meters]] & (cycle_day == clock.day.day)]
    sink.add(resets, day0 + rng.integers(0, 120, resets.size) * _US_S, "demand_reset")
    for name, rate in BACKGROUND_RATES_PER_1000_DAY.items():
        count = int(rng.poisson(rate * all_meters.size / 1000.0))
        who = (
            all_meters[rng.integers(0, max(all_meters.size, 1), count)]
            if count
            else (np.zeros(0, np.int64))
        )
        times = day0 + rng.integers(0, 86_400, who.size) * _US_S
        sink.add(who, times, name)
        if name == "under_voltage":
            sink.add(who, times + rng.integers(60, 3_600, who.size) * _US_S, "voltage_normal")
    # Events the world logged (switch operations, program pushes …).
    extra = inputs.extra_events.filter((pl.col("time_us") >= day0) & (pl.col("time_us") < day1))
    if extra.height:
        sink.add(
            extra["meter"].to_numpy(),
            extra["time_us"].to_numpy(),
            extra["event"].to_list(),
            extra["details"].to_list(),
        )
    # Drop what silenced meters cannot send; the head-end adds its own comm failures.
    meter = np.concatenate(sink.meter) if sink.meter else np.zeros(0, np.int64)
    time_us = np.concatenate(sink.time) if sink.time else np.zeros(0, np.int64)
    names = [x for part in sink.name for x in part]
    details = [x for part in sink.details for x in part]
    exempt = np.array(
        [n in ("last_gasp", "power_failed", "meter_removed") for n in names], dtype=bool
    )
    silent = _silenced(
        plan,
        meter,
        time_us,
        (FaultKind.RADIO_FAILURE, FaultKind.METER_REMOVED, FaultKind.HOT_SOCKET),
    )
    keep = ~silent | (exempt & ~_silenced(plan, meter, time_us, (FaultKind.RADIO_FAILURE,)))
    # Clocks that drift stamp their events with their own time.
    pos, rows = expand_pairs(drift.key, meter)
    stamp = time_us.copy()
    stamp[pos] += np.round(offsets[rows]).astype(np.int64) * _US_S
    silent_meters = (
        np.concatenate([c.meters[(c.received == 0) & (c.expected > 0)] for c in chunks])
        if chunks
        else np.zeros(0, np.int64)
    )
    missed = (
        np.concatenate([c.expected[(c.received == 0) & (c.expected > 0)] for c in chunks])
        if chunks
        else np.zeros(0, np.int64)
    )
    idx = np.flatnonzero(keep)
    meter_all = np.concatenate([meter[idx], silent_meters])
    stamp_all = np.concatenate([stamp[idx], np.full(silent_meters.size, day1 - _US_S)])
    names_all = [names[i] for i in idx.tolist()] + ["comm_failure"] * silent_meters.size
    details_all = [details[i] for i in idx.tolist()] + [
        json.dumps({"source": "headend", "missed_reads": int(x)}) for x in missed.tolist()
    ]
    return _frame(inputs, meter_all, stamp_all, names_all, details_all)


def _frame(
    inputs: DayInputs,
    meter: IntArray,
    time_us: IntArray,
    names: list[str],
    details: list[str | None],
) -> pl.DataFrame:
    codes = {n: EVENT_BY_NAME[n] for n in set(names)}
    frame = pl.DataFrame(
        {
            "serial_number": inputs.reported_serial.gather(meter),
            "event_time_utc": pl.Series(time_us, dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
            "cim_event_type": [codes[n].code for n in names],
            "vendor_code": [VENDOR_CODES.get(n, n) for n in names],
            "severity": [str(codes[n].severity) for n in names],
            "details": pl.Series(details, dtype=pl.String),
        },
        schema_overrides={
            "cim_event_type": pl.String,
            "vendor_code": pl.String,
            "severity": pl.String,
        },
    )
    frame = frame.sort(["event_time_utc", "serial_number", "cim_event_type"], maintain_order=True)
    return frame.with_columns(
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("source_line")
    ).select(PARSED_EVENTS.names)
