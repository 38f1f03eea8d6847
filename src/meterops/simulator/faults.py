"""Faults with ground truth: what goes wrong, where, when, and the parameters of each.

:func:`draw_faults` schedules every fault of a scenario's horizon from its
:class:`~meterops.simulator.params.FaultRates`. Incidents (radio failures, outages, thefts …)
are counted as ``rate x units x horizon / 365`` rounded stochastically and their onsets are
spread evenly over the horizon with jitter, so the counts in any window follow the configured
rates closely; standing conditions (wrong multipliers, crossed meters, the misprogrammed TOU
cohort …) exist before the first day. The resulting :class:`Faults` table is the one truth
the day generator applies (each fault leaves the traces it leaves in reality) and the world
edits (a technician's repair ends a fault). :func:`ground_truth_frame` renders it for the
separate ground-truth file that no diagnostic code reads.

Pure module: standard library, numpy and polars; must not import ``meterops.db``,
``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from meterops.simulator.params import FaultRates

__all__ = ["NO_END", "FaultKind", "Faults", "FleetFacts", "draw_faults", "ground_truth_frame"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

NO_END: Final = np.iinfo(np.int64).max
"""End time of a fault that has not ended (epoch µs)."""
US_PER_DAY: Final = 86_400_000_000
US_PER_HOUR: Final = 3_600_000_000
CHUNK_SITES: Final = 8192
"""Service points per generation chunk (crossed pairs never straddle two chunks)."""
CROSSED_RADIUS_M: Final = 150.0
"""Farthest apart two crossed meters' premises are: an installer mixes up two meters on one
street, in one building or next door, on the same distribution transformer. [m]"""


class FaultKind(StrEnum):
    """Kinds of ground-truth conditions."""

    RADIO_FAILURE = "radio_failure"
    WEAK_MESH_PATH = "weak_mesh_path"
    COLLECTOR_DOWN = "collector_down"
    TRANSFORMER_OUTAGE = "transformer_outage"
    FEEDER_OUTAGE = "feeder_outage"
    METER_REMOVED = "meter_removed"
    THEFT_BYPASS = "theft_bypass"
    TAMPER_WITHOUT_THEFT = "tamper_without_theft"
    HOT_SOCKET = "hot_socket"
    STOPPED_REGISTER = "stopped_register"
    VACANT_PREMISE = "vacant_premise"
    CLOCK_DRIFT = "clock_drift"
    TOU_MISPROGRAM = "tou_misprogram"
    WRONG_MULTIPLIER = "wrong_multiplier"
    CT_POLARITY_REVERSED = "ct_polarity_reversed"
    CROSSED_METERS = "crossed_meters"
    UNKNOWN_SERIAL = "unknown_serial"


@dataclass(frozen=True, slots=True)
class FleetFacts:
    """What fault scheduling needs to know about the fleet (arrays per installed meter).

    Meter ``i`` is installed at service point ``i`` before any fault moves it.

    Attributes:
        start_us: UTC start of the first simulated day (epoch µs).
        horizon_us: Length of the horizon. [µs]
        site_class: Class of each service point (``territory.SiteClass``).
        ct_rated: Per meter: transformer-rated.
        swappable: Per meter: a self-contained 2S meter (can be crossed with a neighbour).
        cohort: Per meter: in the firmware cohort of the misprogrammed TOU push.
        occupied_throughout: Per service point: no vacancy over the horizon.
        ct_ratio: Per meter: true CT ratio.
        transformers: Number of transformers.
        feeders: Number of feeders.
        collectors: Number of collectors.
        push_us: When the misprogrammed program was pushed (epoch µs).
        install_us: Per meter: installation time (epoch µs).
        site_x_m: Per service point: east coordinate (None: no geometry, crossed pairs are
            neighbours in the numbering). [m]
        site_y_m: Per service point: north coordinate. [m]
    """

    start_us: int
    horizon_us: int
    site_class: IntArray
    ct_rated: BoolArray
    swappable: BoolArray
    cohort: BoolArray
    occupied_throughout: BoolArray
    ct_ratio: FloatArray
    transformers: int
    feeders: int
    collectors: int
    push_us: int
    install_us: IntArray
    site_x_m: FloatArray | None = None
    site_y_m: FloatArray | None = None


@dataclass(slots=True)
class Faults:
    """The fault table (mutable: repairs end faults).

    Attributes:
        kind: Fault kind per row.
        meter: Meter index (-1 when not a meter fault).
        site: Service point index (-1 when not a site fault).
        partner: Other meter of a crossed pair (-1 otherwise).
        collector: Collector index (-1 otherwise).
        transformer: Transformer index (-1 otherwise).
        feeder: Feeder index (-1 otherwise).
        start_us: Onset (epoch µs).
        end_us: End (epoch µs; ``NO_END`` while it lasts).
        value: Main parameter (theft: share still registered; drift: s/day; weak path:
            dB/day; hot socket: failure time in epoch µs; wrong multiplier: recorded CT ratio;
            CT polarity: share of load on the reversed phase).
        flag: Secondary switch (theft: leaves tamper events).
        detail: Text parameter (tamper event name, unknown serial, reversed phase).
    """

    kind: list[FaultKind] = field(default_factory=list)
    meter: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    site: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    partner: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    collector: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    transformer: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    feeder: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    start_us: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    end_us: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    value: FloatArray = field(default_factory=lambda: np.zeros(0))
    flag: BoolArray = field(default_factory=lambda: np.zeros(0, bool))
    detail: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.kind)

    def append(self, kind: FaultKind, count: int, **columns: Any) -> None:
        """Append ``count`` rows of one kind; missing columns get their defaults."""
        if count == 0:
            return
        defaults: dict[str, Any] = {
            "meter": -1,
            "site": -1,
            "partner": -1,
            "collector": -1,
            "transformer": -1,
            "feeder": -1,
            "end_us": NO_END,
            "value": np.nan,
            "flag": False,
        }
        for name, default in defaults.items():
            array = getattr(self, name)
            given = np.broadcast_to(np.asarray(columns.get(name, default)), (count,))
            setattr(self, name, np.concatenate([array, given.astype(array.dtype)]))
        self.start_us = np.concatenate(
            [self.start_us, np.broadcast_to(np.asarray(columns["start_us"], np.int64), (count,))]
        )
        self.kind += [kind] * count
        detail = columns.get("detail", "")
        self.detail += list(detail) if not isinstance(detail, str) else [detail] * count

    def rows(self, kind: FaultKind) -> IntArray:
        """Row indices of one kind."""
        return (
            np.flatnonzero(np.array(self.kind, dtype=object) == kind)
            if self.kind
            else (np.zeros(0, np.int64))
        )

    def copy(self) -> Faults:
        """An independent copy (the world edits its own)."""
        return Faults(
            list(self.kind),
            self.meter.copy(),
            self.site.copy(),
            self.partner.copy(),
            self.collector.copy(),
            self.transformer.copy(),
            self.feeder.copy(),
            self.start_us.copy(),
            self.end_us.copy(),
            self.value.copy(),
            self.flag.copy(),
            list(self.detail),
        )


def _count(rate: float, units: int, horizon_days: float, rng: np.random.Generator) -> int:
    """Expected count rounded stochastically (the result is within one of the rate)."""
    expected = rate * units * horizon_days / 365.0
    return int(np.floor(expected + rng.random()))


def _onsets(count: int, facts: FleetFacts, rng: np.random.Generator) -> IntArray:
    """Onsets spread evenly over the horizon with jitter, in random order."""
    slots = (np.arange(count) + rng.random(count)) / max(count, 1)
    offsets = (rng.permutation(slots) * facts.horizon_us).astype(np.int64)
    return facts.start_us + offsets // 1_000_000 * 1_000_000  # whole seconds


def _pick(pool: IntArray, count: int, used: set[int], rng: np.random.Generator) -> IntArray:
    free = np.array([i for i in pool.tolist() if i not in used], dtype=np.int64)
    chosen = rng.choice(free, size=min(count, free.size), replace=False)
    used.update(chosen.tolist())
    return np.sort(chosen)


def _crossable_pairs(facts: FleetFacts, meters: int) -> tuple[IntArray, IntArray]:
    """Pairs ``(i, j)``, ``i < j``, of self-contained meters an installer could mix up.

    With geometry: premises at most :data:`CROSSED_RADIUS_M` apart (in the same generation
    chunk), on the same transformer or not: an installer mixes up meters of neighbouring
    houses, which a street's transformer boundary does not stop. Without: neighbours in the
    numbering.
    """
    swappable = facts.swappable[:meters]
    if facts.site_x_m is None or facts.site_y_m is None:
        ok = (
            swappable[:-1]
            & swappable[1:]
            & ((np.arange(max(meters - 1, 0)) % CHUNK_SITES) != CHUNK_SITES - 1)
        )
        first = np.flatnonzero(ok).astype(np.int64)
        return first, first + 1
    x, y = facts.site_x_m[:meters], facts.site_y_m[:meters]
    candidates = np.flatnonzero(swappable)
    chunk = candidates // CHUNK_SITES  # a crossed pair never straddles two chunks
    order = np.lexsort((x[candidates], chunk))
    c, ch = candidates[order], chunk[order]
    cx, cy = x[c], y[c]
    firsts: list[IntArray] = []
    seconds: list[IntArray] = []
    # Sweep along x: sorted by (chunk, x), the k-th next site is further in x as k grows, so
    # once no pair k apart is within reach in x, none further apart is.
    for k in range(1, c.size):
        dx = cx[k:] - cx[:-k]
        reach = (ch[k:] == ch[:-k]) & (dx <= CROSSED_RADIUS_M)
        if not reach.any():
            break
        near = reach & (np.hypot(dx, cy[k:] - cy[:-k]) <= CROSSED_RADIUS_M)
        a, b = c[:-k][near], c[k:][near]
        firsts.append(np.minimum(a, b))
        seconds.append(np.maximum(a, b))
    if not firsts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    first, second = np.concatenate(firsts), np.concatenate(seconds)
    order = np.lexsort((second, first))
    return first[order].astype(np.int64), second[order].astype(np.int64)


def draw_faults(facts: FleetFacts, rates: FaultRates, rng: np.random.Generator) -> Faults:
    """Schedule every fault of the horizon.

    Args:
        facts: The fleet.
        rates: Fault rates.
        rng: Random generator.

    Returns:
        The fault table (meters and service points by index).
    """
    faults = Faults()
    meters = facts.site_class.size
    days = facts.horizon_us / US_PER_DAY
    everyone = np.arange(meters)
    used: set[int] = set()  # meters already carrying a meter-level incident
    f = FaultKind

    def incidents(kind: FaultKind, rate: float, pool: IntArray, **extra: Any) -> IntArray:
        n = _count(rate, meters, days, rng)
        who = _pick(pool, n, used, rng)
        starts = _onsets(who.size, facts, rng)
        faults.append(
            kind,
            who.size,
            meter=who,
            site=who,
            start_us=starts,
            **{k: (v(who.size) if callable(v) else v) for k, v in extra.items()},
        )
        return who

    incidents(f.RADIO_FAILURE, rates.radio_failure_per_meter_year, everyone)
    incidents(
        f.WEAK_MESH_PATH,
        rates.weak_path_per_meter_year,
        everyone,
        value=lambda k: rng.uniform(0.4, 1.6, k),
    )
    incidents(f.METER_REMOVED, rates.meter_removed_per_meter_year, everyone)
    occupied = np.flatnonzero(facts.occupied_throughout[:meters] & (facts.site_class[:meters] != 3))
    incidents(f.STOPPED_REGISTER, rates.stopped_register_per_meter_year, occupied)
    thieves = np.flatnonzero(
        facts.occupied_throughout[:meters] & np.isin(facts.site_class[:meters], [0, 2, 4])
    )
    n_theft = _count(rates.theft_per_meter_year, meters, days, rng)
    who = _pick(thieves, n_theft, used, rng)
    tamper = rng.random(who.size) < rates.theft_tamper_event_share
    events = rng.choice(["cover_removed", "magnetic_tamper", "tilt_tamper"], who.size)
    faults.append(
        f.THEFT_BYPASS,
        who.size,
        meter=who,
        site=who,
        start_us=_onsets(who.size, facts, rng),
        value=rng.uniform(0.1, 0.6, who.size),
        flag=tamper,
        detail=np.where(tamper, events, "").tolist(),
    )
    n_tamper = _count(rates.tamper_without_theft_per_meter_year, meters, days, rng)
    who = _pick(everyone, n_tamper, used, rng)
    starts = _onsets(who.size, facts, rng)
    faults.append(
        f.TAMPER_WITHOUT_THEFT,
        who.size,
        meter=who,
        site=who,
        start_us=starts,
        end_us=starts + rng.integers(3_600, 3 * 86_400, who.size) * 1_000_000,
        detail=rng.choice(["cover_removed", "magnetic_tamper"], who.size).tolist(),
    )
    n_hot = _count(rates.hot_socket_per_meter_year, meters, days, rng)
    who = _pick(everyone, n_hot, used, rng)
    starts = _onsets(who.size, facts, rng)
    faults.append(
        f.HOT_SOCKET,
        who.size,
        meter=who,
        site=who,
        start_us=starts,
        value=(
            starts
            + rng.integers(3, 22, who.size) * US_PER_DAY
            + rng.integers(0, 86_400, who.size) * 1_000_000
        ).astype(float),
    )
    # Network incidents.
    n = _count(rates.collector_down_per_collector_year, facts.collectors, days, rng)
    starts = _onsets(n, facts, rng)
    faults.append(
        f.COLLECTOR_DOWN,
        n,
        collector=rng.integers(0, facts.collectors, n),
        start_us=starts,
        end_us=starts + (rng.lognormal(np.log(6.0), 0.9, n) * 3_600).astype(np.int64) * 1_000_000,
    )
    n = _count(rates.transformer_outage_per_transformer_year, facts.transformers, days, rng)
    starts = _onsets(n, facts, rng)
    faults.append(
        f.TRANSFORMER_OUTAGE,
        n,
        transformer=rng.integers(0, facts.transformers, n),
        start_us=starts,
        end_us=starts + (rng.lognormal(np.log(2.5), 0.8, n) * 3_600).astype(np.int64) * 1_000_000,
    )
    n = _count(rates.feeder_outage_per_feeder_year, facts.feeders, days, rng)
    starts = _onsets(n, facts, rng)
    faults.append(
        f.FEEDER_OUTAGE,
        n,
        feeder=rng.integers(0, facts.feeders, n),
        start_us=starts,
        end_us=starts + (rng.lognormal(np.log(1.5), 0.7, n) * 3_600).astype(np.int64) * 1_000_000,
    )
    # Standing conditions.
    drift_n = int(np.floor(rates.clock_drift_share * meters + rng.random()))
    who = _pick(everyone, drift_n, set(), rng)
    faults.append(
        f.CLOCK_DRIFT,
        who.size,
        meter=who,
        site=who,
        start_us=facts.start_us - rng.integers(1, 60, who.size) * US_PER_DAY,
        value=rng.uniform(6.0, 50.0, who.size) * rng.choice([-1.0, 1.0], who.size),
    )
    if rates.tou_misprogram:
        cohort = np.flatnonzero(facts.cohort[:meters])
        faults.append(
            f.TOU_MISPROGRAM, cohort.size, meter=cohort, site=cohort, start_us=facts.push_us
        )
    ct = np.flatnonzero(facts.ct_rated[:meters])
    for kind, share in (
        (f.WRONG_MULTIPLIER, rates.wrong_multiplier_share),
        (f.CT_POLARITY_REVERSED, rates.ct_polarity_share),
    ):
        who = _pick(ct, int(np.floor(share * ct.size + rng.random())), set(), rng)
        if kind is f.WRONG_MULTIPLIER:
            factor = rng.choice([0.5, 2.0, 1.5, 1 / 1.5], who.size)
            value = facts.ct_ratio[who] * factor
            detail: Any = ""
        else:
            value = rng.uniform(0.28, 0.38, who.size)
            detail = rng.choice(["A", "B", "C"], who.size).tolist()
        faults.append(
            kind,
            who.size,
            meter=who,
            site=who,
            start_us=facts.install_us[who],
            value=value,
            detail=detail,
        )
    pairs = int(np.floor(rates.crossed_pairs_per_1000 * meters / 1000 + rng.random()))
    first, second = _crossable_pairs(facts, meters)
    chosen: list[int] = []
    taken: set[int] = set()
    for k in rng.permutation(first.size).tolist():
        if len(chosen) == pairs:
            break
        i, j = int(first[k]), int(second[k])
        if i in taken or j in taken:
            continue
        chosen.append(k)
        taken.update((i, j))
    picked = np.array(sorted(chosen, key=lambda k: int(first[k])), dtype=np.int64)
    a, b = first[picked], second[picked]
    start = np.minimum(facts.install_us[a], facts.install_us[b]) if a.size else a
    faults.append(f.CROSSED_METERS, a.size, meter=a, site=b, partner=b, start_us=start)
    faults.append(f.CROSSED_METERS, a.size, meter=b, site=a, partner=a, start_us=start)
    unknown = int(np.floor(rates.unknown_serial_per_1000 * meters / 1000 + rng.random()))
    who = _pick(
        np.setdiff1d(everyone, np.array(sorted(taken), dtype=np.int64)), unknown, set(), rng
    )
    faults.append(
        f.UNKNOWN_SERIAL,
        who.size,
        meter=who,
        site=who,
        start_us=facts.start_us - rng.integers(5, 300, who.size) * US_PER_DAY,
        detail=[f"{90_000_000 + int(k):08d}" for k in rng.permutation(who.size)],
    )
    return faults


def ground_truth_frame(
    faults: Faults,
    *,
    meter_serial: pl.Series,
    site_numbers: pl.Series,
    collector_codes: pl.Series,
    transformer_codes: pl.Series,
    feeder_codes: pl.Series,
    site_transformer: IntArray,
    site_feeder: IntArray,
    reported_serial: pl.Series,
) -> pl.DataFrame:
    """The fault table as ground-truth rows, one per fault (two per crossed pair).

    Args:
        faults: The fault table.
        meter_serial: Back-office serial per meter index.
        site_numbers: Service point number per site index.
        collector_codes: Collector code per collector index.
        transformer_codes: Transformer code per transformer index.
        feeder_codes: Feeder code per feeder index.
        site_transformer: Transformer index per site.
        site_feeder: Feeder index per site.
        reported_serial: Serial each meter reports under (differs for unknown serials).

    Returns:
        Columns ``fault_id, kind, meter_serial, service_point_number, collector_code,
        transformer_code, feeder_code, start_utc, end_utc, parameters`` (JSON text).
    """
    n = len(faults)

    def pick(codes: pl.Series, index: IntArray) -> list[str | None]:
        values = codes.gather(np.maximum(index, 0)).to_list()
        return [v if i >= 0 else None for v, i in zip(values, index.tolist(), strict=True)]

    site = faults.site
    transformer = np.where(
        faults.transformer >= 0,
        faults.transformer,
        np.where(site >= 0, site_transformer[np.maximum(site, 0)], -1),
    )
    feeder = np.where(
        faults.feeder >= 0, faults.feeder, np.where(site >= 0, site_feeder[np.maximum(site, 0)], -1)
    )
    params: list[str] = []
    serials = meter_serial.to_list()
    reported = reported_serial.to_list()
    for i in range(n):
        kind, value, detail = faults.kind[i], float(faults.value[i]), faults.detail[i]
        p: dict[str, Any] = {}
        if kind is FaultKind.THEFT_BYPASS:
            p = {"registered_share": round(value, 3), "tamper_event": detail or None}
        elif kind is FaultKind.TAMPER_WITHOUT_THEFT:
            p = {"tamper_event": detail}
        elif kind is FaultKind.WEAK_MESH_PATH:
            p = {"degradation_db_per_day": round(value, 3)}
        elif kind is FaultKind.HOT_SOCKET:
            p = {"failure_utc": _iso(int(value))}
        elif kind is FaultKind.CLOCK_DRIFT:
            p = {"drift_s_per_day": round(value, 2)}
        elif kind is FaultKind.WRONG_MULTIPLIER:
            p = {"recorded_ct_ratio": round(value, 3)}
            if detail:  # entered at a meter exchange inside the horizon
                p["recorded_at"] = detail
        elif kind is FaultKind.CT_POLARITY_REVERSED:
            p = {"reversed_phase": detail, "phase_share": round(value, 3)}
        elif kind is FaultKind.CROSSED_METERS:
            m, partner = int(faults.meter[i]), int(faults.partner[i])
            p = {
                "partner_meter_serial": serials[partner],
                "installed_at_service_point": site_numbers[int(faults.site[i])],
                "back_office_service_point": site_numbers[m],
            }
        elif kind is FaultKind.UNKNOWN_SERIAL:
            m = int(faults.meter[i])
            p = {"reported_serial": reported[m], "back_office_serial": serials[m]}
        params.append(json.dumps(p, sort_keys=True))
    frame = pl.DataFrame(
        {
            "fault_id": np.arange(1, n + 1, dtype=np.int64),
            "kind": [str(k) for k in faults.kind],
            "meter_serial": pick(meter_serial, faults.meter),
            "service_point_number": pick(site_numbers, site),
            "collector_code": pick(collector_codes, faults.collector),
            "transformer_code": pick(transformer_codes, transformer),
            "feeder_code": pick(feeder_codes, feeder),
            "start_utc": faults.start_us,
            "end_utc": np.where(faults.end_us == NO_END, 0, faults.end_us),
            "parameters": params,
        },
        schema_overrides={
            "meter_serial": pl.String,
            "service_point_number": pl.String,
            "collector_code": pl.String,
            "transformer_code": pl.String,
            "feeder_code": pl.String,
        },
    )
    return frame.with_columns(
        pl.col("start_utc").cast(pl.Datetime("us", "UTC")),
        pl.when(pl.Series(faults.end_us == NO_END))
        .then(None)
        .otherwise(pl.col("end_utc"))
        .cast(pl.Datetime("us", "UTC"))
        .alias("end_utc"),
    )


def _iso(us: int) -> str:
    return np.datetime_as_string(np.datetime64(us, "us"), unit="s") + "Z"
