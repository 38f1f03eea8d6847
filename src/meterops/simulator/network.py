"""What the head-end knows about its network for a day: comm stats, topology, collectors.

Per meter and day: reads expected and received, the uplink RSSI (weakened by a degrading
path, with day-to-day fading), hops, parent node and collector (``PARSED_COMM_STATS``). A
topology snapshot at the day's end lists every meter, router and collector with its parent,
hops, link RSSI and status; collector status is the same for collectors only, every hour
(``PARSED_TOPOLOGY``).

Pure module: standard library, numpy, polars and pure meterops modules; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from meterops.reads.schema import PARSED_COMM_STATS, PARSED_TOPOLOGY
from meterops.simulator.chunk import ChunkOutput
from meterops.simulator.day import DayPlan, expand_pairs
from meterops.simulator.faults import FaultKind
from meterops.simulator.mesh import PARENT_METER
from meterops.simulator.params import Stream, stream
from meterops.simulator.state import DayInputs

__all__ = ["collector_status", "comm_stats", "topology"]

IntArray = npt.NDArray[np.int64]
_NETWORK_STREAM: Final = 1_000_001
_US_DAY: Final = 86_400_000_000


def _pick(names: pl.Series, index: IntArray, present: npt.NDArray[np.bool_]) -> pl.Series:
    """``names[index]`` where present, else null (no Python list in between)."""
    picked = names.gather(np.maximum(index, 0))
    return pl.select(pl.when(pl.Series(present)).then(picked).otherwise(None)).to_series()


def _node_names(inputs: DayInputs, site: IntArray, at_us: int) -> pl.Series:
    """Parent node id of each site: a collector/router code or the parent meter's serial."""
    mesh = inputs.mesh
    kind, parent = mesh.parent_kind[site], mesh.parent[site]
    poles = inputs.infra.count
    names = pl.concat(
        [pl.Series(list(inputs.infra.codes), dtype=pl.String), inputs.reported_serial]
    )
    index = np.where(kind == PARENT_METER, -1, parent)
    present = kind >= 0
    meter_parent = np.flatnonzero(kind == PARENT_METER)
    if meter_parent.size:
        pos, rows = expand_pairs(inputs.inst_site, parent[meter_parent])
        ok = (inputs.inst_from_us[rows] <= at_us) & (inputs.inst_to_us[rows] > at_us)
        present[meter_parent] = False
        index[meter_parent[pos[ok]]] = poles + inputs.inst_meter[rows[ok]]
        present[meter_parent[pos[ok]]] = True
    return _pick(names, index, present)


def _rssi(
    inputs: DayInputs, plan: DayPlan, site: IntArray, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    clock = inputs.clock
    rssi = inputs.mesh.rssi_dbm[site] + rng.normal(0.0, 1.5, site.size)
    weak = plan.by_site[FaultKind.WEAK_MESH_PATH]
    pos, rows = (
        expand_pairs(site, weak.key)
        if site.size and np.all(np.diff(site) >= 0)
        else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    )
    if rows.size:
        days = np.maximum(clock.end_us - weak.start_us[pos], 0) / _US_DAY
        rssi[rows] -= weak.value[pos] * days
    return np.round(rssi * 2.0) / 2.0


def comm_stats(inputs: DayInputs, plan: DayPlan, chunks: list[ChunkOutput]) -> pl.DataFrame:
    """Per-meter communication statistics of the day.

    Args:
        inputs: The day's inputs.
        plan: The day plan.
        chunks: The day's chunk outputs.

    Returns:
        A ``PARSED_COMM_STATS`` frame, one row per meter.
    """
    clock, mesh = inputs.clock, inputs.mesh
    rng = stream(inputs.seed, Stream.DAY, clock.day.toordinal(), _NETWORK_STREAM)
    meter = np.concatenate([c.meters for c in chunks])
    site = np.concatenate([c.sites for c in chunks])
    expected = np.concatenate([c.expected for c in chunks])
    received = np.concatenate([c.received for c in chunks])
    rssi = _rssi(inputs, plan, site, rng)
    heard = received > 0
    reachable = mesh.collector[site] >= 0
    frame = pl.DataFrame(
        {
            "serial_number": inputs.reported_serial.gather(meter),
            "period_start_utc": pl.repeat(
                clock.start_us, meter.size, dtype=pl.Int64, eager=True
            ).cast(pl.Datetime("us", "UTC")),
            "period_s": pl.repeat(
                (clock.end_us - clock.start_us) // 1_000_000, meter.size, dtype=pl.Int32, eager=True
            ),
            "reads_expected": expected.astype(np.int32),
            "reads_received": received.astype(np.int32),
            "rssi_dbm": pl.Series(np.where(heard & reachable, rssi, np.nan)).fill_nan(None),
            "hop_count": pl.Series(
                np.where(reachable, mesh.hops[site], -1).astype(np.int16)
            ).replace(-1, None),
            "parent_node": _node_names(inputs, site, clock.end_us - 1),
            "collector_code": _pick(
                pl.Series(list(inputs.infra.codes), dtype=pl.String),
                mesh.collector[site],
                reachable,
            ),
        }
    )
    return frame.with_columns(
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("source_line")
    ).select(PARSED_COMM_STATS.names)


def _collector_down(inputs: DayInputs, at_us: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Per (time, collector): down at that time (``times x collectors``)."""
    faults = inputs.faults
    n = inputs.infra.count
    down = np.zeros((at_us.size, n), dtype=bool)
    down[:, ~inputs.infra_active[:n]] = True
    for r in np.flatnonzero(
        np.array([k is FaultKind.COLLECTOR_DOWN for k in faults.kind], dtype=bool)
    ).tolist():
        c = int(faults.collector[r])
        down[:, c] |= (faults.start_us[r] <= at_us) & (faults.end_us[r] > at_us)
    return down


def topology(inputs: DayInputs, plan: DayPlan, chunks: list[ChunkOutput]) -> pl.DataFrame:
    """The mesh as the head-end sees it at the end of the day.

    Args:
        inputs: The day's inputs.
        plan: The day plan.
        chunks: The day's chunk outputs.

    Returns:
        A ``PARSED_TOPOLOGY`` frame: meters, then routers and collectors.
    """
    clock, mesh, infra = inputs.clock, inputs.mesh, inputs.infra
    rng = stream(inputs.seed, Stream.DAY, clock.day.toordinal(), _NETWORK_STREAM + 1)
    at = clock.end_us - 1
    meter = np.concatenate([c.meters for c in chunks])
    site = np.concatenate([c.sites for c in chunks])
    alive = np.concatenate([c.alive_at_end for c in chunks])
    current = np.concatenate([c.current for c in chunks])
    meter, site, alive = meter[current], site[current], alive[current]
    rssi = _rssi(inputs, plan, site, rng)
    down = _collector_down(inputs, np.array([at]))[0]
    pole_parent = _pick(
        pl.Series(list(infra.codes), dtype=pl.String), mesh.pole_parent, mesh.pole_parent >= 0
    )
    status_pole = np.where(
        down[np.maximum(mesh.pole_collector, 0)] | (mesh.pole_collector < 0), "down", "up"
    )
    status_pole[infra.is_collector] = np.where(down[infra.is_collector], "down", "up")
    reach = mesh.collector[site] >= 0
    frame = pl.DataFrame(
        {
            "node_id": pl.concat(
                [
                    inputs.reported_serial.gather(meter),
                    pl.Series(list(infra.codes), dtype=pl.String),
                ]
            ),
            "node_kind": pl.Series(
                np.concatenate(
                    [
                        np.full(meter.size, "meter"),
                        np.where(infra.is_collector, "collector", "router"),
                    ]
                )
            ).cast(pl.String),
            "parent_node": pl.concat([_node_names(inputs, site, at), pole_parent]),
            "hop_count": np.concatenate(
                [np.where(reach, mesh.hops[site], 0), mesh.pole_hops]
            ).astype(np.int16),
            "rssi_dbm": pl.Series(
                np.concatenate(
                    [np.where(alive & reach, rssi, np.nan), np.round(mesh.pole_rssi_dbm * 2) / 2]
                )
            ).fill_nan(None),
            "observed_at_utc": pl.repeat(
                at + 1, meter.size + infra.count, dtype=pl.Int64, eager=True
            ).cast(pl.Datetime("us", "UTC")),
            "status": pl.Series(np.concatenate([np.where(alive, "up", "down"), status_pole])).cast(
                pl.String
            ),
        }
    )
    return frame.with_columns(
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("source_line")
    ).select(PARSED_TOPOLOGY.names)


def collector_status(inputs: DayInputs) -> pl.DataFrame:
    """Collectors' status at the start of every hour of the day.

    Args:
        inputs: The day's inputs.

    Returns:
        A ``PARSED_TOPOLOGY`` frame of collector rows (``observed_at_utc`` hourly).
    """
    clock, infra = inputs.clock, inputs.infra
    hours = clock.starts_us[::4]
    collectors = np.flatnonzero(infra.is_collector)
    down = _collector_down(inputs, hours)[:, collectors]
    n = hours.size * collectors.size
    frame = pl.DataFrame(
        {
            "node_id": pl.Series(
                [infra.codes[c] for c in collectors] * hours.size, dtype=pl.String
            ),
            "node_kind": ["collector"] * n,
            "parent_node": pl.Series([None] * n, dtype=pl.String),
            "hop_count": np.zeros(n, dtype=np.int16),
            "rssi_dbm": pl.Series([None] * n, dtype=pl.Float64),
            "observed_at_utc": pl.Series(np.repeat(hours, collectors.size), dtype=pl.Int64).cast(
                pl.Datetime("us", "UTC")
            ),
            "status": np.where(down.ravel(), "down", "up").tolist(),
        }
    )
    return frame.with_columns(
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("source_line")
    ).select(PARSED_TOPOLOGY.names)
