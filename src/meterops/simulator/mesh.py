"""The RF mesh: collectors and relays over the territory, links, parents, hops and RSSI.

Link budget (900 MHz ISM): received power at the parent
``P_tx + G_tx + G_rx - PL0 - 10 n log10(d / 1 m) - X_child - X_parent``, a log-distance
path-loss model with per-node log-normal shadowing ``X`` (a meter in a basement or behind
siding loses more). The exponent ``n`` is larger between two meters near the ground than
from a meter to a pole-mounted collector or relay. A link is usable above
``min_link_dbm``. Routing is a shortest-path tree towards the collectors where each hop
costs 1 plus an ETX-like penalty for weak links: poles and one relay meter per small cell
form the backbone (Bellman-Ford over their links); every other meter picks the best parent
among nearby relays and poles. Each meter's *path margin* (the weakest link on its way to the
collector, in dB above the usable level) sets how reliably its reads arrive.

Pure module: numpy only; must not import ``meterops.db``, ``models``, ``web``, ``cli`` or
``config``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from meterops.simulator.geo import kmeans, nearest

__all__ = [
    "Infrastructure",
    "Mesh",
    "MeshParams",
    "add_routers",
    "build_mesh",
    "grid_pairs",
    "place_infrastructure",
    "plan_mesh",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

PARENT_COLLECTOR = 0
PARENT_ROUTER = 1
PARENT_METER = 2


@dataclass(frozen=True, slots=True)
class MeshParams:
    """Radio constants.

    Attributes:
        meter_tx_dbm: Meter radio transmit power. [dBm]
        pole_tx_dbm: Collector / relay transmit power. [dBm]
        pole_gain_db: Antenna gain of a pole-mounted node. [dB]
        pl0_db: Path loss at 1 m (free space at 915 MHz). [dB]
        exponent_meter_meter: Path-loss exponent between two meters.
        exponent_meter_pole: Path-loss exponent between a meter and a pole.
        exponent_pole_pole: Path-loss exponent between two poles.
        open_terrain_factor: Exponents of links touching a meter in open farmland are this
            fraction of the town values.
        meter_shadow_db: Standard deviation of a meter site's shadowing. [dB]
        pole_shadow_db: Standard deviation of a pole's shadowing. [dB]
        min_link_dbm: Weakest usable link (sensitivity plus fade margin). [dBm]
        relay_cell_m: One relay meter per square cell of this side. [m]
        max_hops: Hops beyond which the planner adds a relay. [-]
    """

    meter_tx_dbm: float = 24.0
    pole_tx_dbm: float = 30.0
    pole_gain_db: float = 6.0
    pl0_db: float = 31.5
    exponent_meter_meter: float = 3.5
    exponent_meter_pole: float = 3.3
    exponent_pole_pole: float = 2.6
    open_terrain_factor: float = 0.86
    meter_shadow_db: float = 6.0
    pole_shadow_db: float = 2.0
    min_link_dbm: float = -94.0
    relay_cell_m: float = 150.0
    max_hops: int = 8

    def range_m(self, *, tx_dbm: float, gains_db: float, exponent: float) -> float:
        """Distance in metres at which an unshadowed link reaches ``min_link_dbm``, plus 30 %."""
        budget = tx_dbm + gains_db - self.pl0_db - self.min_link_dbm
        return float(1.3 * 10 ** (budget / (10 * exponent)))


@dataclass(frozen=True, slots=True)
class Infrastructure:
    """Collectors (with backhaul) and routers (relays on poles).

    Attributes:
        codes: ``COL-0001`` / ``RTR-0001`` codes.
        is_collector: True for collectors, False for routers.
        x_m: East coordinate. [m]
        y_m: North coordinate. [m]
        shadow_db: Shadowing of the node. [dB]
        backhaul: ``cellular``, ``fiber``, ``ethernet``, ``microwave`` (``none`` for routers).
        territory: Territory index.
    """

    codes: tuple[str, ...]
    is_collector: BoolArray
    x_m: FloatArray
    y_m: FloatArray
    shadow_db: FloatArray
    backhaul: tuple[str, ...]
    territory: IntArray

    @property
    def count(self) -> int:
        """Number of nodes."""
        return len(self.codes)


@dataclass(frozen=True, slots=True)
class Mesh:
    """The routing tree.

    Attributes:
        parent_kind: Per site: 0 collector, 1 router, 2 meter (site), -1 unreachable.
        parent: Per site: index of the parent (into infrastructure or sites).
        hops: Per site: hops to the collector (0 when unreachable).
        rssi_dbm: Per site: RSSI of its uplink at the parent. [dBm]
        margin_db: Per site: weakest link margin on the path to the collector. [dB]
        collector: Per site: index of the root collector (-1 when unreachable).
        relay: Per site: True when the meter relays others' traffic.
        pole_parent: Per infrastructure node: parent pole (-1 for collectors, unreachable).
        pole_hops: Per infrastructure node: hops to its collector.
        pole_rssi_dbm: Per infrastructure node: uplink RSSI (NaN for collectors). [dBm]
        pole_collector: Per infrastructure node: root collector (-1 when unreachable).
    """

    parent_kind: IntArray
    parent: IntArray
    hops: IntArray
    rssi_dbm: FloatArray
    margin_db: FloatArray
    collector: IntArray
    relay: BoolArray
    pole_parent: IntArray
    pole_hops: IntArray
    pole_rssi_dbm: FloatArray
    pole_collector: IntArray


def grid_pairs(
    qx: FloatArray, qy: FloatArray, cx: FloatArray, cy: FloatArray, radius: float
) -> tuple[IntArray, IntArray, FloatArray]:
    """All (query, candidate) pairs closer than ``radius``, by a uniform grid.

    Args:
        qx: Query east coordinates. [m]
        qy: Query north coordinates. [m]
        cx: Candidate east coordinates. [m]
        cy: Candidate north coordinates. [m]
        radius: Search radius. [m]

    Returns:
        ``(query_index, candidate_index, distance_m)``.

    Examples:
        >>> q, c, d = grid_pairs(np.array([0.0]), np.array([0.0]),
        ...                      np.array([3.0, 50.0]), np.array([4.0, 0.0]), 10.0)
        >>> q.tolist(), c.tolist(), d.tolist()
        ([0], [0], [5.0])
    """
    span = 1 << 21
    ckx = np.floor(cx / radius).astype(np.int64) + span // 2
    cky = np.floor(cy / radius).astype(np.int64) + span // 2
    keys = ckx * span + cky
    order = np.argsort(keys, kind="stable")
    unique, starts, counts = np.unique(keys[order], return_index=True, return_counts=True)
    qkx = np.floor(qx / radius).astype(np.int64) + span // 2
    qky = np.floor(qy / radius).astype(np.int64) + span // 2
    out_q: list[IntArray] = []
    out_c: list[IntArray] = []
    out_d: list[FloatArray] = []
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            k = (qkx + dx) * span + (qky + dy)
            pos = np.minimum(np.searchsorted(unique, k), unique.size - 1)
            found = np.flatnonzero(unique[pos] == k) if unique.size else np.zeros(0, np.int64)
            cnt = counts[pos[found]]
            total = int(cnt.sum())
            if total == 0:
                continue
            rep_q = np.repeat(found, cnt)
            offsets = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            cand = order[np.repeat(starts[pos[found]], cnt) + offsets]
            d = np.hypot(qx[rep_q] - cx[cand], qy[rep_q] - cy[cand])
            keep = d <= radius
            out_q.append(rep_q[keep])
            out_c.append(cand[keep])
            out_d.append(d[keep])
    if not out_q:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(out_q), np.concatenate(out_c), np.concatenate(out_d)


def _loss(d: FloatArray, exponent: FloatArray | float, params: MeshParams) -> FloatArray:
    # Antennas are never closer than about 15 m (pole height, walls): no gain below it.
    return params.pl0_db + 10.0 * exponent * np.log10(np.maximum(d, 15.0))


def _weight(rssi: FloatArray) -> FloatArray:
    """Routing cost of a hop: 1 plus a penalty that grows as the link weakens."""
    return 1.0 + np.maximum(0.0, (-78.0 - rssi) / 6.0)


def place_infrastructure(
    *,
    x_m: FloatArray,
    y_m: FloatArray,
    territory: IntArray,
    sites_per_collector: int,
    rng: np.random.Generator,
) -> Infrastructure:
    """Place collectors at load-weighted cluster centres (routers are added by the planner).

    Args:
        x_m: Site east coordinates. [m]
        y_m: Site north coordinates. [m]
        territory: Territory index per site.
        sites_per_collector: Sites per collector.
        rng: Random generator.

    Returns:
        Collectors only.
    """
    count = max(1, int(np.ceil(x_m.size / sites_per_collector)))
    cx, cy = kmeans(x_m, y_m, count, rng=rng)
    cx += rng.normal(0.0, 25.0, count)
    cy += rng.normal(0.0, 25.0, count)
    # Each collector serves the territory most of its nearest sites belong to.
    sample = rng.choice(x_m.size, size=min(x_m.size, 50_000), replace=False)
    home = nearest(x_m[sample], y_m[sample], cx, cy)
    votes = np.zeros((count, int(territory.max()) + 1), dtype=np.int64)
    np.add.at(votes, (home, territory[sample]), 1)
    collector_territory = np.argmax(votes, axis=1)
    backhaul = rng.choice(["cellular", "cellular", "fiber", "ethernet", "microwave"], size=count)
    return Infrastructure(
        codes=tuple(f"COL-{i + 1:04d}" for i in range(count)),
        is_collector=np.ones(count, dtype=bool),
        x_m=cx,
        y_m=cy,
        shadow_db=rng.normal(0.0, 2.0, count),
        backhaul=tuple(str(b) for b in backhaul),
        territory=collector_territory,
    )


def add_routers(
    infra: Infrastructure,
    *,
    x_m: FloatArray,
    y_m: FloatArray,
    territory: IntArray,
    needy: BoolArray,
    rng: np.random.Generator,
) -> Infrastructure:
    """Add a router at the centre of each 1 km cell holding sites that need one."""
    ix = np.flatnonzero(needy)
    if ix.size == 0:
        return infra
    cell = np.floor(x_m[ix] / 1000.0).astype(np.int64) * 100_003 + np.floor(
        y_m[ix] / 1000.0
    ).astype(np.int64)
    unique, inverse = np.unique(cell, return_inverse=True)
    count = np.bincount(inverse)
    rx = np.bincount(inverse, weights=x_m[ix]) / count + rng.normal(0.0, 15.0, unique.size)
    ry = np.bincount(inverse, weights=y_m[ix]) / count + rng.normal(0.0, 15.0, unique.size)
    first = np.zeros(unique.size, dtype=np.int64)
    first[inverse[::-1]] = ix[::-1]
    start = int((~infra.is_collector).sum())
    codes = tuple(f"RTR-{start + i + 1:04d}" for i in range(unique.size))
    return Infrastructure(
        codes=infra.codes + codes,
        is_collector=np.concatenate([infra.is_collector, np.zeros(unique.size, dtype=bool)]),
        x_m=np.concatenate([infra.x_m, rx]),
        y_m=np.concatenate([infra.y_m, ry]),
        shadow_db=np.concatenate([infra.shadow_db, rng.normal(0.0, 2.0, unique.size)]),
        backhaul=infra.backhaul + ("none",) * unique.size,
        territory=np.concatenate([infra.territory, territory[first]]),
    )


def _relax(n: int, u: IntArray, v: IntArray, w: FloatArray, cost: FloatArray) -> FloatArray:
    """Bellman-Ford: cost[u] = min(cost[u], cost[v] + w) until nothing changes."""
    order = np.argsort(u, kind="stable")
    u, v, w = u[order], v[order], w[order]
    heads, starts = np.unique(u, return_index=True)
    for _ in range(4 * n + 4):
        best = np.minimum.reduceat(cost[v] + w, starts) if u.size else np.zeros(0)
        new = cost.copy()
        new[heads] = np.minimum(cost[heads], best)
        if np.array_equal(new, cost):
            break
        cost = new
    return cost


def _choose(u: IntArray, score: FloatArray, n: int) -> IntArray:
    """Per query ``u``: the index of its lowest-score candidate (-1 when it has none)."""
    choice = np.full(n, -1, dtype=np.int64)
    ok = np.flatnonzero(np.isfinite(score))
    if ok.size == 0:
        return choice
    order = ok[np.argsort(u[ok], kind="stable")]
    heads, starts = np.unique(u[order], return_index=True)
    best = np.minimum.reduceat(score[order], starts)
    is_best = score[order] == np.repeat(best, np.diff(np.r_[starts, order.size]))
    # First best per group: positions where is_best, keep the first per head.
    pos = np.flatnonzero(is_best)
    group = np.searchsorted(starts, pos, side="right") - 1
    first = pos[np.r_[True, group[1:] != group[:-1]]]
    choice[heads] = order[first]
    return choice


def build_mesh(
    *,
    x_m: FloatArray,
    y_m: FloatArray,
    shadow_db: FloatArray,
    open_terrain: BoolArray,
    infra: Infrastructure,
    active: BoolArray,
    relay_allowed: BoolArray,
    params: MeshParams,
) -> Mesh:
    """Route every site to a collector.

    Args:
        x_m: Site east coordinates. [m]
        y_m: Site north coordinates. [m]
        shadow_db: Site shadowing. [dB]
        open_terrain: Per site: in open farmland (lower path-loss exponents).
        infra: Collectors and routers.
        active: Per infrastructure node: in service.
        relay_allowed: Per site: may relay (healthy meters).
        params: Radio constants.

    Returns:
        The routing tree.
    """
    p = params
    n_sites, n_poles = x_m.size, infra.count
    # Relay meters: the least shadowed allowed site of each small cell.
    cell = np.floor(x_m / p.relay_cell_m).astype(np.int64) * 1_000_003 + np.floor(
        y_m / p.relay_cell_m
    ).astype(np.int64)
    candidates = np.flatnonzero(relay_allowed)
    order = candidates[np.lexsort((shadow_db[candidates], cell[candidates]))]
    first = np.r_[True, cell[order][1:] != cell[order][:-1]] if order.size else order
    relays = order[first] if order.size else order
    relay = np.zeros(n_sites, dtype=bool)
    relay[relays] = True
    # Backbone graph: poles 0..P-1, relays P..P+R-1.
    bx = np.concatenate([infra.x_m, x_m[relays]])
    by = np.concatenate([infra.y_m, y_m[relays]])
    bshadow = np.concatenate([infra.shadow_db, shadow_db[relays]])
    bopen = np.concatenate([np.zeros(n_poles, dtype=bool), open_terrain[relays]])
    is_pole = np.arange(bx.size) < n_poles
    up = np.concatenate([active, np.ones(relays.size, dtype=bool)])
    f = p.open_terrain_factor
    pole_pole = p.range_m(
        tx_dbm=p.pole_tx_dbm, gains_db=2 * p.pole_gain_db, exponent=p.exponent_pole_pole
    )
    meter_pole = p.range_m(
        tx_dbm=p.meter_tx_dbm, gains_db=p.pole_gain_db, exponent=f * p.exponent_meter_pole
    )
    meter_meter = p.range_m(
        tx_dbm=p.meter_tx_dbm, gains_db=0.0, exponent=f * p.exponent_meter_meter
    )
    meter_pole_town = p.range_m(
        tx_dbm=p.meter_tx_dbm, gains_db=p.pole_gain_db, exponent=p.exponent_meter_pole
    )
    meter_meter_town = p.range_m(
        tx_dbm=p.meter_tx_dbm, gains_db=0.0, exponent=p.exponent_meter_meter
    )
    us, vs, rs = [], [], []
    for radius, u_pole, v_pole, u_open in (
        (pole_pole, True, True, False),
        (meter_pole_town, False, True, False),
        (meter_pole, False, True, True),
        (meter_pole, True, False, False),
        (meter_meter_town, False, False, False),
        (meter_meter, False, False, True),
    ):
        uq = np.flatnonzero((is_pole == u_pole) & up & (bopen == u_open))
        vc = np.flatnonzero((is_pole == v_pole) & up)
        qi, ci, d = grid_pairs(bx[uq], by[uq], bx[vc], by[vc], radius)
        u, v = uq[qi], vc[ci]
        keep = u != v
        u, v, d = u[keep], v[keep], d[keep]
        tx = p.pole_tx_dbm + p.pole_gain_db if u_pole else p.meter_tx_dbm
        gain_rx = p.pole_gain_db if v_pole else 0.0
        town = (
            p.exponent_pole_pole
            if u_pole and v_pole
            else p.exponent_meter_meter
            if not (u_pole or v_pole)
            else p.exponent_meter_pole
        )
        exponent = np.where(bopen[u] | bopen[v], f * town, town)
        rssi = tx + gain_rx - _loss(d, exponent, p) - bshadow[u] - bshadow[v]
        ok = rssi >= p.min_link_dbm
        us.append(u[ok])
        vs.append(v[ok])
        rs.append(rssi[ok])
    u, v, rssi = np.concatenate(us), np.concatenate(vs), np.concatenate(rs)
    # Collectors are roots: they never pick a parent.
    not_root = ~(is_pole[u] & infra.is_collector[np.minimum(u, n_poles - 1)] & (u < n_poles))
    u, v, rssi = u[not_root], v[not_root], rssi[not_root]
    cost = np.full(bx.size, np.inf)
    roots = np.flatnonzero(infra.is_collector & active)
    cost[roots] = 0.0
    w = _weight(rssi)
    cost = _relax(bx.size, u, v, w, cost)
    choice = _choose(u, cost[v] + w, bx.size)
    b_parent = np.where(choice >= 0, v[np.maximum(choice, 0)], -1)
    b_rssi = np.where(choice >= 0, rssi[np.maximum(choice, 0)], np.nan)
    b_parent[roots] = -1
    # Hops, root and path margin by walking the tree (depth bounded by the node count).
    hops = np.where(np.isfinite(cost), 0, -1)
    root = np.where(np.isin(np.arange(bx.size), roots), np.arange(bx.size), -1)
    margin = np.where(np.isin(np.arange(bx.size), roots), np.inf, -np.inf)
    link_margin = b_rssi - p.min_link_dbm
    has = b_parent >= 0
    for _ in range(bx.size):
        new_hops = hops.copy()
        new_hops[has] = np.where(hops[b_parent[has]] >= 0, hops[b_parent[has]] + 1, -1)
        new_root = root.copy()
        new_root[has] = root[b_parent[has]]
        new_margin = margin.copy()
        new_margin[has] = np.minimum(margin[b_parent[has]], link_margin[has])
        if (
            np.array_equal(new_hops, hops)
            and np.array_equal(new_root, root)
            and np.array_equal(new_margin, margin)
        ):
            break
        hops, root, margin = new_hops, new_root, new_margin
    # Leaves: every other site picks among relays and poles.
    site_parent = np.full(n_sites, -1, dtype=np.int64)
    site_kind = np.full(n_sites, -1, dtype=np.int64)
    site_rssi = np.full(n_sites, np.nan)
    site_margin = np.full(n_sites, -np.inf)
    site_hops = np.zeros(n_sites, dtype=np.int64)
    site_root = np.full(n_sites, -1, dtype=np.int64)
    reach = np.isfinite(cost)
    relay_nodes = np.flatnonzero(~is_pole & reach)
    pole_nodes = np.flatnonzero(is_pole & reach & up)
    leaves = np.flatnonzero(~relay)
    leaves = leaves[np.argsort(open_terrain[leaves], kind="stable")]
    for a in range(0, leaves.size, 100_000):
        chunk = leaves[a : a + 100_000]
        parts = []
        for nodes, radius, town_exponent, gain, on_open in (
            (relay_nodes, meter_meter_town, p.exponent_meter_meter, 0.0, False),
            (pole_nodes, meter_pole_town, p.exponent_meter_pole, p.pole_gain_db, False),
            (relay_nodes, meter_meter, p.exponent_meter_meter, 0.0, True),
            (pole_nodes, meter_pole, p.exponent_meter_pole, p.pole_gain_db, True),
        ):
            local = np.flatnonzero(open_terrain[chunk] == on_open)
            if local.size == 0:
                continue
            qi, ci, d = grid_pairs(
                x_m[chunk[local]], y_m[chunk[local]], bx[nodes], by[nodes], radius
            )
            qi = local[qi]
            cand = nodes[ci]
            exp = np.where(open_terrain[chunk[qi]] | bopen[cand], f * town_exponent, town_exponent)
            r = p.meter_tx_dbm + gain - _loss(d, exp, p) - shadow_db[chunk[qi]] - bshadow[cand]
            ok = r >= p.min_link_dbm
            parts.append((qi[ok], cand[ok], r[ok]))
        qi = np.concatenate([q for q, _, _ in parts])
        cand = np.concatenate([c for _, c, _ in parts])
        r = np.concatenate([x for _, _, x in parts])
        pick = _choose(qi, cost[cand] + _weight(r), chunk.size)
        got = pick >= 0
        chosen = cand[pick[got]]
        rows = chunk[got]
        site_parent[rows] = chosen
        site_rssi[rows] = r[pick[got]]
        site_hops[rows] = hops[chosen] + 1
        site_root[rows] = root[chosen]
        site_margin[rows] = np.minimum(margin[chosen], r[pick[got]] - p.min_link_dbm)
    # Relay sites take their backbone results.
    ridx = n_poles + np.arange(relays.size)
    site_parent[relays] = b_parent[ridx]
    site_rssi[relays] = b_rssi[ridx]
    site_hops[relays] = np.maximum(hops[ridx], 0)
    site_root[relays] = root[ridx]
    site_margin[relays] = margin[ridx]
    # Convert backbone parents into (kind, index).
    is_backbone_parent = np.zeros(n_sites, dtype=bool)
    is_backbone_parent[site_parent >= 0] = True
    parent_is_pole = is_backbone_parent & (site_parent < n_poles) & (site_parent >= 0)
    collector_parent = parent_is_pole & infra.is_collector[np.clip(site_parent, 0, n_poles - 1)]
    site_kind[is_backbone_parent] = PARENT_METER
    site_kind[parent_is_pole] = PARENT_ROUTER
    site_kind[collector_parent] = PARENT_COLLECTOR
    relay_parent = is_backbone_parent & ~parent_is_pole
    site_parent[relay_parent] = relays[site_parent[relay_parent] - n_poles]
    unreachable = site_root < 0
    site_kind[unreachable] = -1
    site_parent[unreachable] = -1
    site_hops[unreachable] = 0
    pole_root = root[:n_poles]
    return Mesh(
        parent_kind=site_kind,
        parent=site_parent,
        hops=site_hops,
        rssi_dbm=site_rssi,
        margin_db=np.where(unreachable, -np.inf, site_margin),
        collector=site_root,
        relay=relay & ~unreachable,
        pole_parent=np.where(b_parent[:n_poles] < n_poles, b_parent[:n_poles], -1),
        pole_hops=np.maximum(hops[:n_poles], 0),
        pole_rssi_dbm=b_rssi[:n_poles],
        pole_collector=pole_root,
    )


def plan_mesh(
    *,
    x_m: FloatArray,
    y_m: FloatArray,
    shadow_db: FloatArray,
    open_terrain: BoolArray,
    territory: IntArray,
    relay_allowed: BoolArray,
    collectors: Infrastructure,
    params: MeshParams,
    rng: np.random.Generator,
) -> tuple[Infrastructure, Mesh]:
    """Add routers to the collectors until every site is reachable within the hop limit.

    Args:
        x_m: Site east coordinates. [m]
        y_m: Site north coordinates. [m]
        shadow_db: Site shadowing. [dB]
        open_terrain: Per site: in open farmland.
        territory: Territory index per site.
        relay_allowed: Per site: may relay.
        collectors: The collectors (``place_infrastructure``).
        params: Radio constants.
        rng: Random generator.

    Returns:
        The infrastructure and its routing tree.
    """
    infra = collectors
    for attempt in range(3):
        active = np.ones(infra.count, dtype=bool)
        mesh = build_mesh(
            x_m=x_m,
            y_m=y_m,
            shadow_db=shadow_db,
            open_terrain=open_terrain,
            infra=infra,
            active=active,
            relay_allowed=relay_allowed,
            params=params,
        )
        needy = (mesh.collector < 0) | (mesh.hops > params.max_hops)
        if attempt == 0:  # a planner also covers weak corners once; deep shadow stays weak
            needy |= mesh.margin_db < 3.0
        if not needy.any() or attempt == 2:
            break
        infra = add_routers(infra, x_m=x_m, y_m=y_m, territory=territory, needy=needy, rng=rng)
    return infra, mesh
