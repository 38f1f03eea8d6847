"""Where things are: towns, street grids, lots along streets, rural roads, addresses.

Positions are kept in a local plane (``x_m`` east, ``y_m`` north of the main town's centre)
and converted to WGS 84 latitude/longitude with an equirectangular projection, which is exact
enough over a county. Towns are street grids (110 m blocks, 20 m lots on both sides of the
east-west streets); farms sit along the section-line roads (one mile apart) of the Midwest.

Pure module: standard library and numpy only; must not import ``meterops.db``, ``models``,
``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from meterops.simulator.catalog import STREET_NAMES, TOWN_NAMES

__all__ = ["Lots", "Projection", "Towns", "kmeans", "layout_lots", "nearest", "place_towns"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_M_PER_DEG = 111_320.0
_BLOCK_M = 110.0
_FRONTAGE_M = 20.0
_SECTION_M = 1609.344
_LOTS_PER_KM2 = 2 * 1e6 / (_BLOCK_M * _FRONTAGE_M)


@dataclass(frozen=True, slots=True)
class Projection:
    """Equirectangular projection around a centre.

    Attributes:
        latitude: Centre latitude. [°]
        longitude: Centre longitude. [°]
    """

    latitude: float
    longitude: float

    def to_lat_lon(self, x_m: FloatArray, y_m: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Local plane to latitude/longitude.

        Args:
            x_m: Metres east of the centre. [m]
            y_m: Metres north of the centre. [m]

        Returns:
            ``(latitude, longitude)`` rounded to 6 decimals (about 0.1 m). [°]
        """
        lat = self.latitude + y_m / _M_PER_DEG
        lon = self.longitude + x_m / (_M_PER_DEG * np.cos(np.radians(self.latitude)))
        return np.round(lat, 6), np.round(lon, 6)

    def to_plane(self, latitude: float, longitude: float) -> tuple[float, float]:
        """Latitude/longitude to the local plane ``(x_m, y_m)``, in metres."""
        y = (latitude - self.latitude) * _M_PER_DEG
        x = (longitude - self.longitude) * _M_PER_DEG * float(np.cos(np.radians(self.latitude)))
        return x, y


@dataclass(frozen=True, slots=True)
class Towns:
    """Towns of the territory.

    Attributes:
        names: Town names.
        x_m: Centre east coordinate. [m]
        y_m: Centre north coordinate. [m]
        radius_m: Radius of the built-up area. [m]
        lots: Lots (premises) in each town.
        postal_codes: Five-digit postal code per town.
    """

    names: tuple[str, ...]
    x_m: FloatArray
    y_m: FloatArray
    radius_m: FloatArray
    lots: IntArray
    postal_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Lots:
    """Lots (future premises) in street order.

    Attributes:
        x_m: East coordinate. [m]
        y_m: North coordinate. [m]
        town: Town index (for rural lots: the nearest town, whose name is the mail city).
        rural: True for farms along rural roads.
        street: Street index into ``street_names``.
        house_number: House number on the street.
        centrality: Distance from the town centre over the town radius (rural lots: 2).
        street_names: Names of the streets.
    """

    x_m: FloatArray
    y_m: FloatArray
    town: IntArray
    rural: npt.NDArray[np.bool_]
    street: IntArray
    house_number: IntArray
    centrality: FloatArray
    street_names: tuple[str, ...]


def place_towns(*, town_lots: int, towns: int, extent_m: float, rng: np.random.Generator) -> Towns:
    """Place towns in the territory with Zipf-like sizes, the largest at the centre.

    Args:
        town_lots: Lots in all towns together.
        towns: Number of towns.
        extent_m: Half-side of the territory. [m]
        rng: Random generator.

    Returns:
        The towns.
    """
    weights = 1.0 / np.arange(1, towns + 1) ** 1.1
    lots = np.floor(weights / weights.sum() * town_lots).astype(np.int64)
    lots[0] += town_lots - int(lots.sum())
    radius = np.sqrt(lots * 1.15 / _LOTS_PER_KM2 / np.pi) * 1000.0 + _BLOCK_M
    x = np.zeros(towns)
    y = np.zeros(towns)
    for k in range(1, towns):  # a few towns: rejection sampling keeps them apart
        for _ in range(200):
            cx, cy = rng.uniform(-0.85 * extent_m, 0.85 * extent_m, size=2)
            gap = np.hypot(x[:k] - cx, y[:k] - cy) - radius[:k] - radius[k]
            if gap.min() > 1500.0:
                break
        x[k], y[k] = cx, cy
    names = tuple(
        TOWN_NAMES[k % len(TOWN_NAMES)] + ("" if k < len(TOWN_NAMES) else f" {k}")
        for k in range(towns)
    )
    first = int(rng.integers(50_010, 52_600 - 10 * towns))
    postal = tuple(f"{first + 7 * k:05d}" for k in range(towns))
    return Towns(names, x, y, radius, lots, postal)


def _town_lots(
    k: int, towns: Towns, street_offset: int, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, IntArray, IntArray, FloatArray, list[str]]:
    wanted = int(towns.lots[k])
    radius = float(towns.radius_m[k])
    while True:
        rows = int(np.ceil(radius / _BLOCK_M))
        street_y = np.arange(-rows, rows + 1) * _BLOCK_M
        xs = np.arange(-radius + _FRONTAGE_M / 2, radius, _FRONTAGE_M)
        sx, side = np.meshgrid(xs, np.array([-1.0, 1.0]))
        gx = np.tile(sx.ravel(), street_y.size)
        side_all = np.tile(side.ravel(), street_y.size)
        street_local = np.repeat(np.arange(street_y.size), sx.size)
        gy = street_y[street_local] + 14.0 * side_all
        jitter = rng.normal(0.0, 0.06, size=gx.size)
        keep = np.hypot(gx, gy) <= radius * (1.0 + jitter)
        if int(keep.sum()) >= wanted:
            break
        radius *= 1.08
    candidates = np.flatnonzero(keep)
    chosen = np.sort(rng.choice(candidates, size=wanted, replace=False))
    x = gx[chosen] + rng.normal(0.0, 1.5, wanted)
    y = gy[chosen] + rng.normal(0.0, 1.5, wanted)
    block = np.floor((gx[chosen] + radius) / _BLOCK_M).astype(np.int64)
    in_block = np.floor(((gx[chosen] + radius) % _BLOCK_M) / _FRONTAGE_M).astype(np.int64)
    house = 100 + 100 * block + 4 * in_block + (side_all[chosen] > 0).astype(np.int64)
    suffixes = ("St", "Ave", "Dr", "St", "Ave")
    names = [
        f"{STREET_NAMES[(street_offset + j) % len(STREET_NAMES)]} "
        f"{suffixes[(street_offset + j) % len(suffixes)]}"
        for j in range(street_y.size)
    ]
    centrality = np.hypot(gx[chosen], gy[chosen]) / radius
    return (x + towns.x_m[k], y + towns.y_m[k], street_local[chosen], house, centrality, names)


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def layout_lots(
    *, towns: Towns, rural_lots: int, extent_m: float, rng: np.random.Generator
) -> Lots:
    """Lay out every lot: town grids first (town by town, street by street), then farms.

    Args:
        towns: The towns (with their lot counts).
        rural_lots: Farms along the rural roads.
        extent_m: Half-side of the territory. [m]
        rng: Random generator.

    Returns:
        Lots in street order, so neighbours on a street have neighbouring indices.
    """
    xs, ys, town_ix, streets, houses, central = [], [], [], [], [], []
    street_names: list[str] = []
    for k in range(len(towns.names)):
        x, y, street, house, centrality, names = _town_lots(k, towns, 7 * k, rng)
        xs.append(x)
        ys.append(y)
        town_ix.append(np.full(x.size, k, dtype=np.int64))
        streets.append(street + len(street_names))
        houses.append(house)
        central.append(centrality)
        street_names += names
    # Farms: along east-west or north-south section roads, outside the towns.
    roads = int(np.floor(extent_m / _SECTION_M))
    picked_x: list[FloatArray] = []
    picked_y: list[FloatArray] = []
    picked_road: list[IntArray] = []
    remaining = rural_lots
    while remaining > 0:
        n = remaining * 2 + 16
        east_west = rng.random(n) < 0.5
        road = rng.integers(-roads, roads + 1, size=n)
        along = rng.uniform(-extent_m, extent_m, size=n)
        off = rng.uniform(30.0, 90.0, size=n) * rng.choice([-1.0, 1.0], size=n)
        x = np.where(east_west, along, road * _SECTION_M + off)
        y = np.where(east_west, road * _SECTION_M + off, along)
        clear = np.ones(n, dtype=bool)
        for k in range(len(towns.names)):
            clear &= np.hypot(x - towns.x_m[k], y - towns.y_m[k]) > towns.radius_m[k] + 400.0
        ix = np.flatnonzero(clear)[:remaining]
        picked_x.append(x[ix])
        picked_y.append(y[ix])
        picked_road.append(np.where(east_west[ix], road[ix] + roads, road[ix] + 3 * roads + 1))
        remaining -= ix.size
    rx = np.concatenate(picked_x) if picked_x else np.zeros(0)
    ry = np.concatenate(picked_y) if picked_y else np.zeros(0)
    rroad = np.concatenate(picked_road) if picked_road else np.zeros(0, dtype=np.int64)
    order = np.lexsort((rx + ry, rroad))
    rx, ry, rroad = rx[order], ry[order], rroad[order]
    rural_names = [f"{_ordinal(100 + 10 * (j + 1))} St" for j in range(2 * roads + 1)]
    rural_names += [f"{STREET_NAMES[j % len(STREET_NAMES)]} Rd" for j in range(2 * roads + 1)]
    along_road = np.where(rroad <= 2 * roads, rx, ry)
    rural_house = (1000 + np.floor((along_road + extent_m) / 16.09) * 2).astype(np.int64)
    nearest = (
        np.argmin(
            np.hypot(rx[:, None] - towns.x_m[None, :], ry[:, None] - towns.y_m[None, :]), axis=1
        )
        if rx.size
        else np.zeros(0, dtype=np.int64)
    )
    return Lots(
        x_m=np.concatenate([*xs, rx]),
        y_m=np.concatenate([*ys, ry]),
        town=np.concatenate([*town_ix, nearest.astype(np.int64)]),
        rural=np.concatenate(
            [np.zeros(sum(a.size for a in xs), dtype=bool), np.ones(rx.size, dtype=bool)]
        ),
        street=np.concatenate([*streets, rroad + len(street_names)]),
        house_number=np.concatenate([*houses, rural_house]),
        centrality=np.concatenate([*central, np.full(rx.size, 2.0)]),
        street_names=tuple(street_names + rural_names),
    )


def nearest(x_m: FloatArray, y_m: FloatArray, cx: FloatArray, cy: FloatArray) -> IntArray:
    """Index of the nearest centre of each point (chunked, float32).

    Examples:
        >>> nearest(np.array([0.0, 9.0]), np.array([0.0, 0.0]), np.array([1.0, 10.0]),
        ...         np.array([0.0, 0.0])).tolist()
        [0, 1]
    """
    out = np.empty(x_m.size, dtype=np.int64)
    fx, fy = cx.astype(np.float32), cy.astype(np.float32)
    step = max(1, 4_000_000 // max(cx.size, 1))
    for a in range(0, x_m.size, step):
        dx = x_m[a : a + step, None].astype(np.float32) - fx
        dy = y_m[a : a + step, None].astype(np.float32) - fy
        out[a : a + step] = np.argmin(dx * dx + dy * dy, axis=1)
    return out


def kmeans(
    x_m: FloatArray,
    y_m: FloatArray,
    count: int,
    *,
    rng: np.random.Generator,
    weights: FloatArray | None = None,
    sample: int = 20_000,
    iterations: int = 6,
) -> tuple[FloatArray, FloatArray]:
    """Cluster centres of points by Lloyd's algorithm on a (weighted) sample of them.

    Args:
        x_m: East coordinates. [m]
        y_m: North coordinates. [m]
        count: Number of centres.
        rng: Random generator.
        weights: Relative weight of each point (default equal).
        sample: Points used (the centres of a million points need only some).
        iterations: Lloyd iterations.

    Returns:
        Centre coordinates ``(cx, cy)``. [m]
    """
    p = None if weights is None else weights / weights.sum()
    size = min(x_m.size, max(sample, 8 * count))
    pick = rng.choice(x_m.size, size=size, replace=size > x_m.size, p=p)
    sx, sy = x_m[pick], y_m[pick]
    seeds = rng.choice(size, size=count, replace=False)
    cx, cy = sx[seeds].copy(), sy[seeds].copy()
    for _ in range(iterations):
        assign = nearest(sx, sy, cx, cy)
        counts = np.bincount(assign, minlength=count)
        has = counts > 0
        cx[has] = np.bincount(assign, weights=sx, minlength=count)[has] / counts[has]
        cy[has] = np.bincount(assign, weights=sy, minlength=count)[has] / counts[has]
    return cx, cy
