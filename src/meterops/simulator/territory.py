"""The territory's inventory: premises, service points, transformers, feeders and meters.

:func:`build_territory` lays out towns and farms (``geo.py``), decides what each premise is
(single-family home, apartment building on a network service, small commercial, large C&I,
farm), groups neighbouring service points under distribution transformers (5-12 in towns;
1-4 for farms and large C&I), clusters transformers into feeders, and installs a meter at
every service point: mostly 2S CL200, 12S on network services, 16S self-contained and 9S
transformer-rated C&I with CT ratios (a few primary-metered services with PTs), from several
vendors, models and firmware revisions. Everything is arrays (one row per service point /
meter), so a million-meter metro builds in seconds.

Pure module: standard library, numpy and polars; must not import ``meterops.db``, ``models``,
``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from meterops.nomenclature import METER_FORMS, compatible_forms
from meterops.simulator.catalog import METER_MODELS, MODULE_MODELS, MeterModel
from meterops.simulator.geo import (
    Lots,
    Projection,
    Towns,
    kmeans,
    layout_lots,
    nearest,
    place_towns,
)
from meterops.simulator.params import Scenario, Stream, stream

__all__ = ["SiteClass", "Sites", "Territory", "build_territory"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class SiteClass(IntEnum):
    """What is behind a service point."""

    HOME = 0
    APARTMENT = 1
    SMALL_COMMERCIAL = 2
    LARGE_CI = 3
    FARM = 4


CUSTOMER_CLASS: Final = ("residential", "residential", "commercial", "industrial", "residential")
"""Customer class (for statistics and premise type) of each :class:`SiteClass`."""

SITES_PER_FEEDER: Final = 500


@dataclass(frozen=True, slots=True)
class Sites:
    """Service points as arrays (index = service point index).

    Attributes:
        x_m: East coordinate of the meter socket. [m]
        y_m: North coordinate of the meter socket. [m]
        site_class: :class:`SiteClass` value.
        premise: Premise index.
        transformer: Transformer index.
        feeder: Feeder index (of the transformer).
        territory: Territory index.
        voltage_v: Nominal service voltage. [V]
        ct_ratio: True CT ratio (1 for self-contained). [-]
        pt_ratio: True PT ratio (1 unless primary-metered). [-]
        transformer_order: Site indices sorted by transformer.
        transformer_start: Per transformer (plus one): first position in ``transformer_order``.
    """

    x_m: FloatArray
    y_m: FloatArray
    site_class: IntArray
    premise: IntArray
    transformer: IntArray
    feeder: IntArray
    territory: IntArray
    voltage_v: FloatArray
    ct_ratio: FloatArray
    pt_ratio: FloatArray
    transformer_order: IntArray
    transformer_start: IntArray

    @property
    def count(self) -> int:
        """Number of service points."""
        return int(self.x_m.size)

    def of_transformer(self, transformer: int) -> IntArray:
        """Service points fed by a transformer."""
        a, b = self.transformer_start[transformer], self.transformer_start[transformer + 1]
        return self.transformer_order[a:b]


@dataclass(frozen=True, slots=True)
class Territory:
    """The built territory (truth; the back office's view is written from it).

    Attributes:
        scenario: The scenario it was built from.
        projection: Local plane to WGS 84.
        towns: The towns.
        territory_codes: Code of each territory.
        sites: Service points as arrays.
        feeders: ``feeder_code, name, substation, territory_code``.
        transformers: ``transformer_code, feeder_code, kva, phases, latitude, longitude``.
        premises: Premise rows (``fleet/spec.py`` columns of ``premises.csv``).
        service_points: Service point rows (columns of ``service_points.csv``).
        meters: One row per meter, installed ones first in service point order, then spares:
            the ``meters.csv`` columns (truth) plus ``module_serial``.
    """

    scenario: Scenario
    projection: Projection
    towns: Towns
    territory_codes: tuple[str, ...]
    sites: Sites
    feeders: pl.DataFrame
    transformers: pl.DataFrame
    premises: pl.DataFrame
    service_points: pl.DataFrame
    meters: pl.DataFrame


def _pick(n: int, score: FloatArray, free: BoolArray, count: int) -> IntArray:
    """Indices of the ``count`` free lots with the lowest score, marking them taken."""
    candidates = np.flatnonzero(free)
    chosen = candidates[np.argsort(score[candidates], kind="stable")[:count]]
    free[chosen] = False
    return chosen


def _classify_premises(
    lots: Lots, *, buildings: int, small: int, large: int, rng: np.random.Generator
) -> IntArray:
    n = lots.x_m.size
    kind = np.full(n, SiteClass.HOME, dtype=np.int64)
    kind[lots.rural] = SiteClass.FARM
    free = ~lots.rural.copy()
    noise = rng.normal(0.0, 0.12, n)
    kind[_pick(n, lots.centrality + noise, free, buildings)] = SiteClass.APARTMENT
    kind[_pick(n, lots.centrality + 1.5 * noise, free, small)] = SiteClass.SMALL_COMMERCIAL
    # Industrial parks: the far edge of each town, on its east side.
    angle = np.arctan2(lots.y_m, lots.x_m)
    kind[_pick(n, -lots.centrality + 0.3 * np.abs(angle) + noise, free, large)] = SiteClass.LARGE_CI
    return kind


def _group_sizes(count: int, low: int, high: int, rng: np.random.Generator) -> IntArray:
    """Split ``count`` neighbours into groups of ``low``-``high`` (fewer only if count < low)."""
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    sizes = rng.integers(low, high + 1, size=count // low + 1)
    ends = np.cumsum(sizes)
    whole = int(np.searchsorted(ends, count, side="right"))
    sizes = sizes[:whole].copy()
    rest = count - int(sizes.sum())
    if rest >= low or sizes.size == 0:
        return np.append(sizes, rest) if rest else sizes
    room = np.flatnonzero(sizes < high)
    # Spread the remainder over groups with room (one more site each), else a small group.
    if rest and room.size >= rest:
        sizes[rng.choice(room, rest, replace=False)] += 1
    elif rest:
        sizes = np.append(sizes, rest)
    return sizes


def _transformers(site_class: IntArray, premise: IntArray, rng: np.random.Generator) -> IntArray:
    """Group neighbouring service points of the same kind under transformers.

    Sites are in street order; within each kind, consecutive sites (so, neighbours along the
    streets) share a transformer: 5-12 homes, 3-8 small businesses, 1-4 farms, one apartment
    building (its network vault), one large C&I service each. Ids follow street order.
    """
    n = site_class.size
    order = np.lexsort((np.arange(n), site_class))
    group = np.empty(n, dtype=np.int64)
    next_id = 0
    sizes_by_class = {
        SiteClass.HOME: (5, 12),
        SiteClass.SMALL_COMMERCIAL: (3, 8),
        SiteClass.LARGE_CI: (1, 1),
        SiteClass.FARM: (1, 4),
    }
    for cls in np.unique(site_class).tolist():
        rows = order[site_class[order] == cls]
        if cls == SiteClass.APARTMENT:
            _, ids = np.unique(premise[rows], return_inverse=True)
            group[rows] = next_id + ids
            next_id += int(ids.max()) + 1
            continue
        low, high = sizes_by_class[SiteClass(cls)]
        sizes = _group_sizes(rows.size, low, high, rng)
        group[rows] = np.repeat(np.arange(next_id, next_id + sizes.size), sizes)
        next_id += sizes.size
    # Renumber by first appearance in street order.
    _, first = np.unique(group, return_index=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first)] = np.arange(first.size)
    return rank[np.searchsorted(np.unique(group), group)]


def _feeders(
    tx_x: FloatArray,
    tx_y: FloatArray,
    sites_per_tx: IntArray,
    n_feeders: int,
    rng: np.random.Generator,
) -> IntArray:
    """Cluster transformers into feeders (k-means weighted by the sites they feed)."""
    cx, cy = kmeans(tx_x, tx_y, n_feeders, rng=rng, weights=sites_per_tx.astype(np.float64))
    assign = nearest(tx_x, tx_y, cx, cy)
    # Renumber feeders by first appearance so codes follow the street order.
    used, first = np.unique(assign, return_index=True)
    rank = np.empty(used.size, dtype=np.int64)
    rank[np.argsort(first)] = np.arange(used.size)
    return rank[np.searchsorted(used, assign)]


def _codes(prefix: str, count: int, width: int, start: int = 1) -> pl.Series:
    """``prefix`` + zero-padded sequence numbers, e.g. ``TX-000001``."""
    return pl.select(
        (
            pl.lit(prefix) + pl.int_range(start, start + count).cast(pl.String).str.zfill(width)
        ).alias("code")
    ).to_series()


def _meter_models(form: npt.NDArray[np.str_], rng: np.random.Generator) -> IntArray:
    """Pick a model (index into METER_MODELS) for each meter by its form."""
    model = np.empty(form.size, dtype=np.int64)
    for form_name in np.unique(form):
        rows = np.flatnonzero(form == form_name)
        options = [i for i, m in enumerate(METER_MODELS) if form_name in m.forms]
        weights = np.array([METER_MODELS[i].weight for i in options])
        model[rows] = rng.choice(options, size=rows.size, p=weights / weights.sum())
    return model


def _firmware(model: IntArray, rng: np.random.Generator) -> list[str]:
    """Firmware per meter: newer revisions more common (upgrades roll out over time)."""
    out = np.empty(model.size, dtype=object)
    for index, spec in enumerate(METER_MODELS):
        rows = np.flatnonzero(model == index)
        weights = np.arange(1, len(spec.firmware) + 1, dtype=float) ** 1.5
        picks = rng.choice(len(spec.firmware), size=rows.size, p=weights / weights.sum())
        out[rows] = np.array([rev for rev, _ in spec.firmware], dtype=object)[picks]
    return [str(v) for v in out]


def _serials(model: IntArray, rng: np.random.Generator) -> pl.Series:
    """Badge numbers: the vendor prefix and a lot-sequential number, unique per prefix."""
    prefixes = np.array([METER_MODELS[int(i)].serial_prefix for i in model])
    number = np.zeros(model.size, dtype=np.int64)
    for prefix in np.unique(prefixes):
        rows = np.flatnonzero(prefixes == prefix)
        base = int(rng.integers(10_000_000, 60_000_000))
        number[rows] = base + rng.permutation(rows.size)
    return pl.select(
        (pl.Series(prefixes) + pl.Series(number).cast(pl.String).str.zfill(8)).alias(
            "serial_number"
        )
    ).to_series()


def _site_services(
    site_class: IntArray, large_ci: int, rng: np.random.Generator
) -> tuple[list[str], list[str], FloatArray, BoolArray, FloatArray, FloatArray]:
    n = site_class.size
    service = np.full(n, "1ph_3w", dtype=object)
    form = np.full(n, "2S", dtype=object)
    voltage = np.full(n, 240.0)
    rated = np.zeros(n, dtype=bool)
    ct = np.ones(n)
    pt = np.ones(n)
    apt = site_class == SiteClass.APARTMENT
    service[apt], form[apt], voltage[apt] = "network_3w", "12S", 208.0
    small = np.flatnonzero(site_class == SiteClass.SMALL_COMMERCIAL)
    draw = rng.random(small.size)
    net = small[(draw >= 0.4) & (draw < 0.7)]
    poly = small[draw >= 0.7]
    service[net], form[net], voltage[net] = "network_3w", "12S", 208.0
    service[poly], form[poly], voltage[poly] = "3ph_4w_wye", "16S", 208.0
    large = np.flatnonzero(site_class == SiteClass.LARGE_CI)
    service[large], form[large], rated[large] = "3ph_4w_wye", "9S", True
    voltage[large] = np.where(rng.random(large.size) < 0.8, 480.0, 208.0)
    ct[large] = rng.choice(
        [40.0, 80.0, 160.0, 240.0, 320.0, 400.0],
        size=large.size,
        p=[0.15, 0.3, 0.25, 0.15, 0.1, 0.05],
    )
    if large_ci >= 40:  # a few primary-metered plants: 12.47 kV with PTs
        primary = large[rng.random(large.size) < 0.03]
        voltage[primary], pt[primary] = 12_470.0, 60.0
        ct[primary] = rng.choice([10.0, 20.0, 40.0], size=primary.size)
    return ([str(s) for s in service], [str(f) for f in form], voltage, rated, ct, pt)


def _meter_frame(
    sites: Sites,
    service: list[str],
    form: list[str],
    *,
    rated: BoolArray,
    spares: int,
    start: dt.date,
    rng: np.random.Generator,
) -> pl.DataFrame:
    installed = sites.count
    spare_forms = rng.choice(["2S", "2S", "2S", "2S", "12S", "16S", "9S"], size=spares)
    all_forms = np.array(form + [str(f) for f in spare_forms])
    model = _meter_models(all_forms, rng)
    specs: list[MeterModel] = [METER_MODELS[int(i)] for i in model]
    n = all_forms.size
    self_contained = np.array([METER_FORMS[f].self_contained for f in all_forms])
    meter_class = np.array([s.meter_class for s in specs], dtype=object)
    meter_class[self_contained & (meter_class == "CL20")] = "CL200"
    kh = np.array([s.kh for s in specs])
    kh[self_contained & (all_forms == "16S")] = 21.6
    kh[all_forms == "12S"] = 14.4
    ct = np.concatenate([sites.ct_ratio, np.ones(spares)])
    pt = np.concatenate([sites.pt_ratio, np.ones(spares)])
    is_rated = np.concatenate([rated, ~self_contained[installed:]])
    digits = np.full(n, 5)
    decimals = np.where(is_rated, 1, 0)
    days_ago = rng.integers(200, 365 * 9, size=n)
    installed_on = np.datetime64(start) - days_ago.astype("timedelta64[D]")
    manufactured = installed_on - rng.integers(40, 200, size=n).astype("timedelta64[D]")
    received = manufactured + rng.integers(10, 30, size=n).astype("timedelta64[D]")
    hour = rng.integers(8, 16, size=n).astype("timedelta64[h]")
    minute = rng.integers(0, 60, size=n).astype("timedelta64[m]")
    install_at = (installed_on.astype("datetime64[m]") + hour + minute).astype("datetime64[us]")
    install_read = np.floor(rng.uniform(0.0, 60.0, size=n))
    # The register on the first simulated day: the install read plus what the meter has
    # registered since (typical daily use of its class), on a dial that may have rolled over.
    cls = np.concatenate([sites.site_class, np.full(spares, SiteClass.HOME)])
    typical_kwh = np.array([30.0, 18.0, 120.0, 3000.0, 40.0])[cls] / (ct * pt)
    register_start = np.mod(
        install_read + days_ago * typical_kwh * rng.uniform(0.6, 1.4, size=n), 10.0**digits
    )
    register_start[installed:] = install_read[installed:]
    switch = self_contained & (all_forms == "2S") & (rng.random(n) < 0.6)
    family = np.where(self_contained & (all_forms != "16S"), "single_phase", "polyphase")
    module_model = [MODULE_MODELS[str(f)][0] for f in family]
    module_fw = [MODULE_MODELS[str(f)][1] for f in family]
    module_number = rng.permutation(n) + int(rng.integers(0x100000, 0x700000))
    lot = np.char.add(
        "L", (manufactured.astype("datetime64[M]").astype(np.int64) % 1000).astype(str)
    )
    sp_index = np.concatenate([np.arange(installed), np.full(spares, -1)])
    frame = pl.DataFrame(
        {
            "serial_number": _serials(model, rng),
            "vendor": [s.vendor for s in specs],
            "model": [s.model for s in specs],
            "form": all_forms.tolist(),
            "meter_class": meter_class.tolist(),
            "accuracy_class": np.where(is_rated, "0.2", "0.5").tolist(),
            "firmware_revision": _firmware(model, rng),
            "ct_ratio": ct,
            "pt_ratio": pt,
            "register_digits": digits.astype(np.int64),
            "register_decimals": decimals.astype(np.int64),
            "kh": kh,
            "disconnect_switch": switch,
            "manufactured_on": manufactured,
            "received_on": received,
            "lot_number": lot.tolist(),
            "site": sp_index.astype(np.int64),
            "installed_at_utc": install_at,
            "install_read_kwh": install_read,
            "register_start_kwh": register_start,
            "module_serial": [f"0013500{v:07X}" for v in module_number.tolist()],
            "module_model": module_model,
            "module_firmware": module_fw,
            "service_type": service + [""] * spares,
        }
    )
    return frame.with_columns(
        pl.when(pl.col("site") < 0)
        .then(None)
        .otherwise(pl.col("installed_at_utc").dt.replace_time_zone("UTC"))
        .alias("installed_at_utc"),
    )


def build_territory(scenario: Scenario) -> Territory:
    """Build the territory of a scenario (deterministic for its seed).

    Args:
        scenario: The scenario.

    Returns:
        The territory.
    """
    p = scenario.territory
    rng = stream(scenario.seed, Stream.TERRITORY)
    n = p.service_points
    units = round(p.network_share * n)
    unit_sizes = _group_sizes(units, 6, 12, rng) if units else np.zeros(0, dtype=np.int64)
    large = max(1, round(p.large_ci_share * n))
    small = round(p.small_commercial_share * n)
    rural = round(p.rural_share * n)
    premises_total = n - units + unit_sizes.size
    towns = place_towns(
        town_lots=premises_total - rural, towns=p.towns, extent_m=p.extent_km * 1000.0, rng=rng
    )
    lots = layout_lots(towns=towns, rural_lots=rural, extent_m=p.extent_km * 1000.0, rng=rng)
    kind = _classify_premises(lots, buildings=unit_sizes.size, small=small, large=large, rng=rng)
    per_premise = np.ones(kind.size, dtype=np.int64)
    per_premise[kind == SiteClass.APARTMENT] = unit_sizes
    premise = np.repeat(np.arange(kind.size), per_premise)
    site_class = kind[premise]
    unit_no = np.arange(premise.size) - np.repeat(np.cumsum(per_premise) - per_premise, per_premise)
    x = lots.x_m[premise] + np.where(per_premise[premise] > 1, unit_no * 0.8, 0.0)
    y = lots.y_m[premise] + rng.normal(0.0, 0.5, premise.size)
    transformer = _transformers(site_class, premise, rng)
    n_tx = int(transformer.max()) + 1
    per_tx = np.bincount(transformer, minlength=n_tx)
    tx_x = np.bincount(transformer, weights=x, minlength=n_tx) / per_tx + rng.normal(0, 8, n_tx)
    tx_y = np.bincount(transformer, weights=y, minlength=n_tx) / per_tx + rng.normal(0, 8, n_tx)
    n_feeders = max(2, round(n / SITES_PER_FEEDER))
    tx_feeder = _feeders(tx_x, tx_y, per_tx, n_feeders, rng)
    n_territories = len(p.territory_names)
    # Territories split the feeders into contiguous ranges (districts).
    feeder_territory = np.minimum(
        np.arange(n_feeders) * n_territories // n_feeders, n_territories - 1
    )
    service, form, voltage, rated, ct, pt = _site_services(site_class, large, rng)
    sites = Sites(
        x_m=x,
        y_m=y,
        site_class=site_class,
        premise=premise,
        transformer=transformer,
        feeder=tx_feeder[transformer],
        territory=feeder_territory[tx_feeder[transformer]],
        voltage_v=voltage,
        ct_ratio=ct,
        pt_ratio=pt,
        transformer_order=np.argsort(transformer, kind="stable"),
        transformer_start=np.searchsorted(np.sort(transformer), np.arange(n_tx + 1)),
    )
    projection = Projection(p.center_latitude, p.center_longitude)
    codes = tuple(
        name.upper().replace(" ", "")[:4] + f"{i + 1}" for i, name in enumerate(p.territory_names)
    )
    # Frames ---------------------------------------------------------------------------------
    substation_of = np.arange(n_feeders) // 6
    feeders = pl.DataFrame(
        {
            "feeder_code": [f"FDR-{i + 1:04d}" for i in range(n_feeders)],
            "name": [f"Circuit {i + 1}" for i in range(n_feeders)],
            "substation": [
                f"SUB-{chr(65 + int(s) % 26)}{int(s) // 26 or ''}" for s in substation_of
            ],
            "territory_code": [codes[int(t)] for t in feeder_territory],
        }
    )
    tx_lat, tx_lon = projection.to_lat_lon(tx_x, tx_y)
    load_kw = np.bincount(
        transformer,
        weights=np.select(
            [site_class == SiteClass.LARGE_CI, site_class == SiteClass.SMALL_COMMERCIAL],
            [400.0, 25.0],
            6.0,
        ),
        minlength=n_tx,
    )
    ratings = np.array(
        [25.0, 37.5, 50.0, 75.0, 100.0, 150.0, 300.0, 500.0, 750.0, 1000.0, 1500.0, 2500.0]
    )
    kva = ratings[np.minimum(np.searchsorted(ratings, load_kw * 0.9), ratings.size - 1)]
    three_phase = (
        np.bincount(
            transformer,
            weights=(site_class >= SiteClass.APARTMENT) & (site_class <= SiteClass.LARGE_CI),
            minlength=n_tx,
        )
        > 0
    )
    transformers = pl.DataFrame(
        {
            "transformer_code": _codes("TX-", n_tx, 6),
            "feeder_code": feeders["feeder_code"].gather(tx_feeder),
            "kva": kva,
            "phases": np.where(three_phase, 3, 1).astype(np.int64),
            "latitude": tx_lat,
            "longitude": tx_lon,
        }
    )
    lat, lon = projection.to_lat_lon(lots.x_m, lots.y_m)
    street_names = pl.Series(lots.street_names).gather(lots.street)
    premise_territory = np.zeros(kind.size, dtype=np.int64)
    premise_territory[premise] = sites.territory
    premise_type = np.array(
        ["residential", "residential", "commercial", "industrial", "residential"]
    )[kind]
    premises = pl.DataFrame(
        {
            "premise_number": _codes("P", kind.size, 8),
            "address_line": pl.select(
                pl.Series(lots.house_number).cast(pl.String) + " " + street_names
            ).to_series(),
            "city": pl.Series(towns.names).gather(lots.town),
            "state": [p.state] * kind.size,
            "postal_code": pl.Series(towns.postal_codes).gather(lots.town),
            "latitude": lat,
            "longitude": lon,
            "premise_type": premise_type.tolist(),
            "territory_code": pl.Series(codes).gather(premise_territory),
        }
    )
    forms_text = {
        (s, r): ";".join(compatible_forms(s, transformer_rated=r))
        for s in set(service)
        for r in (False, True)
    }
    service_points = pl.DataFrame(
        {
            "service_point_number": _codes("SP", premise.size, 8),
            "premise_number": premises["premise_number"].gather(premise),
            "transformer_code": transformers["transformer_code"].gather(transformer),
            "service_type": service,
            "voltage_v": voltage.astype(np.int64),
            "transformer_rated": rated,
            "compatible_forms": [
                forms_text[(s, bool(r))] for s, r in zip(service, rated, strict=True)
            ],
        }
    )
    spares = max(5, round(p.spare_share * n))
    meters = _meter_frame(
        sites, service, form, rated=rated, spares=spares, start=scenario.start, rng=rng
    )
    return Territory(
        scenario=scenario,
        projection=projection,
        towns=towns,
        territory_codes=codes,
        sites=sites,
        feeders=feeders,
        transformers=transformers,
        premises=premises,
        service_points=service_points,
        meters=meters,
    )
