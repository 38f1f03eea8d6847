"""Customers behind the meters: load-model weights, solar, EVs, rates, accounts and moves.

:func:`draw_customers` gives each service point its load-model weights (see ``load.py``):
base load, a mix of activity archetypes, cooling and (for electrically heated homes) heating
slopes, commercial opening hours or industrial shifts, an EV charger for some homes and
rooftop solar (net-metered, with a bidirectional meter) for others, plus the rate the account
is on, medical / life-support and critical-facility flags. :func:`draw_occupancy` schedules
move-outs and move-ins over the horizon (vacant premises use nothing: the legitimate zero)
and writes the account history a CIS would hold. :func:`draw_payment_plans` gives a small
share of residential accounts a payment arrangement (most still open, some completed or
defaulted before the simulation starts) and :func:`payment_plans_as_of` is the CIS's view of
them on a day (``payment_plans.csv``).

Pure module: standard library, numpy and polars; must not import ``meterops.db``,
``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from meterops.simulator import load
from meterops.simulator.catalog import (
    BUSINESS_WORDS,
    CRITICAL_WORDS,
    FIRST_NAMES,
    INDUSTRY_WORDS,
    LAST_NAMES,
)
from meterops.simulator.params import TerritoryParams
from meterops.simulator.territory import SiteClass, Sites

__all__ = [
    "PAYMENT_PLAN_SHARES",
    "Customers",
    "Occupancy",
    "draw_customers",
    "draw_occupancy",
    "draw_payment_plans",
    "payment_plans_as_of",
]

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_US_PER_DAY = 86_400_000_000


@dataclass(frozen=True, slots=True)
class Customers:
    """Load-model parameters per service point.

    Attributes:
        weights: Basis weights, ``sites x BASIS_SIZE`` (EV columns zero). [kW per unit]
        noise_sd: Standard deviation of the log-normal interval noise. [-]
        day_sd: Standard deviation of the log-normal day-to-day scale. [-]
        solar_kw: Panel capacity (0 without solar). [kW]
        ev_kw: Charger power (0 without an EV). [kW]
        ev_start: Preferred EV start-hour index into ``load.EV_START_H``.
        ev_probability: Chance of charging on a given day. [-]
        rate_code: Rate of the account (``RS``, ``RTOU``, ``RNEM``, ``GS``, ``LGS``).
        medical: Medical / life-support flag.
        critical: Critical-facility flag.
        business_name: Name of the business (empty for homes).
    """

    weights: Float32Array
    noise_sd: Float32Array
    day_sd: FloatArray
    solar_kw: FloatArray
    ev_kw: FloatArray
    ev_start: IntArray
    ev_probability: FloatArray
    rate_code: npt.NDArray[np.str_]
    medical: BoolArray
    critical: BoolArray
    business_name: npt.NDArray[np.str_]


def draw_customers(sites: Sites, params: TerritoryParams, rng: np.random.Generator) -> Customers:
    """Draw every service point's customer.

    Args:
        sites: Service points.
        params: Territory parameters (shares of solar, EV, electric heat, TOU, ...).
        rng: Random generator.

    Returns:
        The customers.
    """
    n = sites.count
    cls = sites.site_class
    home = (cls == SiteClass.HOME) | (cls == SiteClass.FARM)
    apartment = cls == SiteClass.APARTMENT
    residential = home | apartment
    small = cls == SiteClass.SMALL_COMMERCIAL
    large = cls == SiteClass.LARGE_CI
    w = np.zeros((n, load.BASIS_SIZE))
    size = np.where(apartment, 0.55, np.where(cls == SiteClass.FARM, 1.3, 1.0))
    size = size * rng.lognormal(0.0, 0.35, n)
    w[:, load.COL_BASE] = np.where(residential, 0.28 * size, 0.0)
    w[cls == SiteClass.FARM, load.COL_BASE] += 0.35
    mix = rng.dirichlet(np.full(load.ARCHETYPES, 0.6), n)
    w[:, load.COL_ARCHETYPE : load.COL_ARCHETYPE + load.ARCHETYPES] = (0.36 * size * residential)[
        :, None
    ] * mix
    cooling = residential & (rng.random(n) < np.where(apartment, 0.8, 0.92))
    cool_col = load.COL_COOL + rng.integers(0, len(load.COOL_BALANCE_C), n)
    cool_slope = np.where(apartment, 0.08, 0.17) * rng.lognormal(0.0, 0.35, n)
    w[np.flatnonzero(cooling), cool_col[cooling]] = cool_slope[cooling] * size[cooling]
    electric_heat = residential & (
        rng.random(n) < np.where(apartment, 0.45, params.electric_heat_share)
    )
    heat_col = load.COL_HEAT + rng.integers(0, len(load.HEAT_BALANCE_C), n)
    heat_slope = np.where(electric_heat, np.where(apartment, 0.08, 0.15), 0.012)
    heat_slope = heat_slope * rng.lognormal(0.0, 0.3, n) * residential
    w[np.arange(n), heat_col] = heat_slope * size
    # Businesses: base load plus an opening-hours or shift profile, cooling with the size.
    peak = np.where(
        small,
        rng.lognormal(np.log(11.0), 0.6, n),
        np.where(large, rng.lognormal(np.log(140.0), 0.7, n), 0.0),
    )
    base_fraction = np.where(small, rng.uniform(0.2, 0.45, n), rng.uniform(0.35, 0.7, n))
    w[:, load.COL_BASE] += peak * base_fraction
    schedule = rng.integers(0, 3, n)
    busy = peak * (1.0 - base_fraction)
    rows = np.flatnonzero(small)
    w[rows, load.COL_COMMERCIAL + schedule[rows]] = busy[rows]
    rows = np.flatnonzero(large)
    w[rows, load.COL_INDUSTRIAL + schedule[rows]] = busy[rows]
    w[small | large, load.COL_COOL + 1] = 0.025 * peak[small | large]
    # Solar (homes only), EV chargers (homes only).
    solar = home & (rng.random(n) < params.solar_share)
    solar_kw = np.where(solar, np.round(rng.uniform(3.5, 11.0, n) * 4) / 4, 0.0)
    ev = home & (rng.random(n) < params.ev_share)
    ev_kw = np.where(ev, rng.choice([7.2, 7.2, 9.6, 11.5], n), 0.0)
    # Rates: net metering for solar; TOU for a share of the other residential accounts.
    tou = residential & ~solar & (rng.random(n) < params.tou_share)
    rate = np.where(solar, "RNEM", np.where(tou, "RTOU", "RS"))
    rate = np.where(small, "GS", np.where(large, "LGS", rate))
    # TOU customers start charging after the evening shoulder.
    ev_start = np.where(tou, rng.integers(5, 8, n), rng.integers(0, 8, n))
    ev_probability = rng.uniform(0.35, 0.75, n) * ev
    medical = residential & (rng.random(n) < params.medical_share)
    names = np.array(BUSINESS_WORDS)[rng.integers(0, len(BUSINESS_WORDS), n)]
    industry = np.array(INDUSTRY_WORDS)[rng.integers(0, len(INDUSTRY_WORDS), n)]
    business = np.where(small, names, np.where(large, industry, ""))
    critical = large & np.isin(industry, CRITICAL_WORDS)
    noise = np.where(residential, 0.32, np.where(small, 0.12, 0.06)).astype(np.float32)
    day_sd = np.where(residential, 0.12, 0.05)
    return Customers(
        weights=w.astype(np.float32),
        noise_sd=noise,
        day_sd=day_sd,
        solar_kw=solar_kw,
        ev_kw=ev_kw,
        ev_start=ev_start.astype(np.int64),
        ev_probability=ev_probability,
        rate_code=rate,
        medical=medical,
        critical=critical,
        business_name=business,
    )


@dataclass(frozen=True, slots=True)
class Occupancy:
    """Vacancies and the account history.

    Attributes:
        vacancy_site: Service point of each vacancy.
        vacancy_start_us: Start of each vacancy (UTC epoch microseconds).
        vacancy_end_us: End of each vacancy (UTC epoch microseconds; may lie past the
            horizon).
        accounts: Account rows (``accounts.csv`` columns) ordered by service point and
            move-in, with a helper column ``site``.
    """

    vacancy_site: IntArray
    vacancy_start_us: IntArray
    vacancy_end_us: IntArray
    accounts: pl.DataFrame


def _names(n: int, rng: np.random.Generator) -> list[str]:
    first = np.array(FIRST_NAMES)[rng.integers(0, len(FIRST_NAMES), n)]
    last = np.array(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), n)]
    return [f"{a} {b}" for a, b in zip(first.tolist(), last.tolist(), strict=True)]


def draw_occupancy(
    *,
    customers: Customers,
    site_class: IntArray,
    service_points: pl.Series,
    params: TerritoryParams,
    start: dt.date,
    horizon_days: int,
    day_start_us: IntArray,
    rng: np.random.Generator,
) -> Occupancy:
    """Schedule vacancies (initial ones and move-outs over the horizon) and the accounts.

    Args:
        customers: Customers (rates and flags carried to the accounts).
        site_class: Class per service point.
        service_points: Service point numbers.
        params: Territory parameters (vacancy share, moves per year).
        start: First simulated day.
        horizon_days: Days of the horizon.
        day_start_us: UTC start of each local day of the horizon plus one (epoch µs).
        rng: Random generator.

    Returns:
        The vacancies and accounts.
    """
    n = site_class.size
    homes = site_class != SiteClass.LARGE_CI
    # Initial vacancies began up to 90 days ago and last 10-120 days in all.
    initially = homes & (rng.random(n) < params.vacancy_share)
    sites = [np.flatnonzero(initially)]
    begun = rng.integers(1, 90, initially.sum())
    starts = [-begun]
    ends = [np.maximum(rng.integers(10, 120, initially.sum()) - begun, 1)]
    # Move-outs over the horizon: count rounded stochastically, days spread evenly.
    expected = params.moves_per_year * homes.sum() * horizon_days / 365.0
    moves = int(np.floor(expected + rng.random()))
    if moves:
        day = np.floor((np.arange(moves) + rng.random(moves)) * horizon_days / moves)
        site = rng.choice(np.flatnonzero(homes & ~initially), moves, replace=False)
        length = np.where(rng.random(moves) < 0.35, 0, rng.geometric(1 / 25.0, moves))
        sites.append(site)
        starts.append(day.astype(np.int64))
        ends.append(day.astype(np.int64) + length)
    site_all = np.concatenate(sites)
    start_day = np.concatenate(starts)
    end_day = np.concatenate(ends)
    real = end_day > start_day

    def to_us(days: IntArray) -> IntArray:
        inside = np.clip(days, 0, day_start_us.size - 1)
        return day_start_us[inside] + (days - inside) * _US_PER_DAY

    # Accounts: everyone has the customer of the first day (who moves out when a vacancy
    # starts); a service point with a vacancy gets a second account at the move-in.
    epoch = np.datetime64(start, "D")
    first_in = epoch - rng.integers(30, 365 * 15, n).astype("timedelta64[D]")
    first_in[site_all] = np.minimum(
        first_in[site_all], epoch + (start_day - 30).astype("timedelta64[D]")
    )
    first_out = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    first_out[site_all] = epoch + start_day.astype("timedelta64[D]")
    acc_site = np.concatenate([np.arange(n), site_all])
    acc_in = np.concatenate([first_in, epoch + end_day.astype("timedelta64[D]")])
    acc_out = np.concatenate(
        [first_out, np.full(site_all.size, np.datetime64("NaT"), dtype="datetime64[D]")]
    )
    arrange = np.lexsort((acc_in, acc_site))
    acc_site, acc_in, acc_out = acc_site[arrange], acc_in[arrange], acc_out[arrange]
    count = acc_site.size
    business = customers.business_name[acc_site]
    people = np.array(_names(count, rng))
    label = np.where(
        business != "",
        np.char.add(
            np.array(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), count)],
            np.char.add(" ", business),
        ),
        people,
    )
    phone = np.char.add("555-01", np.char.zfill(rng.integers(0, 100, count).astype(str), 2))
    email = np.char.add(np.char.replace(np.char.lower(people), " ", "."), "@example.com")
    accounts = pl.DataFrame(
        {
            "account_number": [f"A{i + 100_000_001}" for i in range(count)],
            "customer_number": [f"C{i + 50_000_001}" for i in range(count)],
            "customer_name": label.tolist(),
            "phone": phone.tolist(),
            "email": np.where(business != "", "", email).tolist(),
            "service_point_number": service_points.gather(acc_site),
            "move_in_date": acc_in,
            "move_out_date": acc_out,
            "rate_code": customers.rate_code[acc_site].tolist(),
            "medical_life_support": customers.medical[acc_site],
            "critical_facility": customers.critical[acc_site],
            "net_metering": customers.rate_code[acc_site] == "RNEM",
            "site": acc_site,
        }
    ).with_columns(pl.col("email").replace("", None))
    return Occupancy(
        vacancy_site=site_all[real],
        vacancy_start_us=to_us(start_day[real]),
        vacancy_end_us=to_us(end_day[real]),
        accounts=accounts,
    )


PAYMENT_PLAN_SHARES: dict[str, float] = {"open": 0.04, "completed": 0.03, "defaulted": 0.01}
"""Share of residential accounts open on the first simulated day with a payment plan of each
final status: ``open`` plans still run on every day of the horizon (a third without end
date), ``completed`` and ``defaulted`` ones were closed before the first day."""

_RESIDENTIAL_RATES = ("RS", "RTOU", "RNEM")


def draw_payment_plans(
    accounts: pl.DataFrame, *, start: dt.date, horizon_days: int, rng: np.random.Generator
) -> pl.DataFrame:
    """Give a seeded share of residential accounts a payment arrangement.

    Only accounts open on ``start`` (moved in by then, not moved out) are drawn, each at most
    once, with the shares of :data:`PAYMENT_PLAN_SHARES`. Plan numbers derive from the account
    number, so every export names the same plan the same way.

    Args:
        accounts: Account rows (:attr:`Occupancy.accounts`).
        start: First simulated day.
        horizon_days: Days of the horizon (open plans outlast it). [d]
        rng: Random generator (its own stream: the other draws do not move).

    Returns:
        ``plan_number``, ``account_number``, ``start_date``, ``end_date`` (null:
        open-ended), ``status`` (the final one) and ``closed_on`` (the day the CIS records
        that status; null while open), one row per plan.
    """
    day0 = np.datetime64(start, "D")
    move_in = accounts["move_in_date"].to_numpy().astype("datetime64[D]")
    move_out = accounts["move_out_date"].to_numpy().astype("datetime64[D]")
    residential = accounts["rate_code"].is_in(_RESIDENTIAL_RATES).to_numpy()
    n = accounts.height
    u = rng.random(n)
    eligible = residential & (move_in <= day0) & (np.isnat(move_out) | (move_out > day0))
    edges = np.cumsum([PAYMENT_PLAN_SHARES[k] for k in ("open", "completed", "defaulted")])
    kind = np.where(u < edges[0], 0, np.where(u < edges[1], 1, np.where(u < edges[2], 2, -1)))
    kind = np.where(eligible, kind, -1)
    began = rng.integers(1, 150, n)  # open plans began this many days before the start
    length = rng.integers(90, 366, n)  # planned length of completed / defaulted plans
    past = rng.integers(30, 400, n)  # … which ended this many days before the start
    open_ended = rng.random(n) < 1 / 3
    beyond = rng.integers(30, 366, n)  # open plans with an end run past the horizon
    kept = rng.random(n)  # share of its length a defaulted plan was kept
    rows = np.flatnonzero(kind >= 0)
    starts: list[dt.date] = []
    ends: list[dt.date | None] = []
    closed: list[dt.date | None] = []
    statuses: list[str] = []
    for i in rows.tolist():
        if kind[i] == 0:
            begin = start - dt.timedelta(days=int(began[i]))
            end = (
                None if open_ended[i] else start + dt.timedelta(days=horizon_days + int(beyond[i]))
            )
            status, closed_on = "open", None
        else:
            end = start - dt.timedelta(days=int(past[i]))
            begin = end - dt.timedelta(days=int(length[i]))
            if kind[i] == 1:
                status, closed_on = "completed", end + dt.timedelta(days=1)
            else:
                status = "defaulted"
                closed_on = begin + dt.timedelta(days=1 + int(kept[i] * (length[i] - 1)))
        first = move_in[i].astype(dt.date)
        begin = max(begin, first)
        if end is not None and end < begin:
            end = begin
        if closed_on is not None:
            closed_on = max(closed_on, begin + dt.timedelta(days=1))
        starts.append(begin)
        ends.append(end)
        closed.append(closed_on)
        statuses.append(status)
    numbers = accounts["account_number"].gather(rows)
    return pl.DataFrame(
        {
            "plan_number": numbers.str.replace(r"^A", "PP"),
            "account_number": numbers,
            "start_date": pl.Series(starts, dtype=pl.Date),
            "end_date": pl.Series(ends, dtype=pl.Date),
            "status": statuses,
            "closed_on": pl.Series(closed, dtype=pl.Date),
        }
    )


def payment_plans_as_of(plans: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """The CIS's view of the plans on ``as_of``: begun plans, still ``open`` until closed.

    Args:
        plans: Plans from :func:`draw_payment_plans`.
        as_of: The export day.

    Returns:
        The ``payment_plans.csv`` columns for plans begun by ``as_of``.
    """
    return plans.filter(pl.col("start_date") <= as_of).select(
        "plan_number",
        "account_number",
        "start_date",
        "end_date",
        pl.when(pl.col("closed_on").is_not_null() & (pl.col("closed_on") <= as_of))
        .then(pl.col("status"))
        .otherwise(pl.lit("open"))
        .alias("status"),
    )
