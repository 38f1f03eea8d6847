"""Background meter exchanges at CT-rated sites: the wrong-multiplier fault and its look-alike.

A wrong multiplier usually enters the back office at a meter exchange: the new meter of a
transformer-rated site is recorded with a ratio that is not the site's (the old CT ratio
after a CT change, 1 instead of 80). :func:`schedule_ct_exchanges` exchanges meters of
CT-rated sites inside the horizon (through ``actions.exchange_meter``, so the old meter
reads up to the exchange and the new one from it, through the same CTs) and

* for the **fault** (``FaultRates.exchange_wrong_multiplier_per_ct_site_year``) records the
  new meter with a wrong multiplier (half, double or 1): a ``wrong_multiplier`` ground-truth
  row on the new meter from the exchange, whose ``value`` is the recorded CT ratio, so the
  fleet files carry it (``meters.csv`` and ``meter_exchanges.csv``);
* for the **look-alike** (``exchange_genuine_per_ct_site_year``) records the right
  multiplier at a site whose customer leaves on the exchange day without a recorded
  move-out (a vacancy from the exchange on, ground truth ``vacant_premise``): the use really
  changes at the exchange, the multiplier does not.

Both draw from their own random stream and nothing is drawn when both rates are 0, so the
other faults, seeds and figures of a scenario that does not enable them are unchanged.
:func:`exchange_rows` renders the exchanges as the ``meter_exchanges.csv`` rows the utility
receives. Diagnostics never read this module.

Pure module: standard library, numpy, polars and pure meterops modules; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import polars as pl

from meterops.fleet.spec import KINDS
from meterops.simulator.faults import NO_END, US_PER_DAY, FaultKind
from meterops.simulator.params import Stream, stream

if TYPE_CHECKING:
    from meterops.simulator.world import World

__all__ = [
    "EXCHANGE_FAULT_DETAIL",
    "exchange_ct_sites",
    "exchange_rows",
    "schedule_ct_exchanges",
]

EXCHANGE_FAULT_DETAIL = "exchange"
"""``detail`` of a wrong-multiplier fault row that entered at an exchange (ground truth)."""

_WRONG_FACTORS = (0.5, 2.0, 0.0)
"""Recorded over true CT ratio of the fault (0 stands for a recorded multiplier of 1)."""
_ISO = "%Y-%m-%dT%H:%M:%SZ"

IntArray = npt.NDArray[np.int64]


def _count(rate: float, sites: int, days: float, rng: np.random.Generator) -> int:
    return int(np.floor(rate * sites * days / 365.0 + rng.random()))


def schedule_ct_exchanges(world: World) -> None:
    """Exchange meters of CT-rated sites inside the horizon (see the module docstring).

    Sites are occupied throughout, carry no other site or meter fault and have a spare of
    their form in stock; exchanges fall on a weekday between 35 % and 65 % of the horizon,
    during working hours, so both meters have days of reads around them.

    Args:
        world: A world just built (no day generated yet); changed in place.
    """
    rates = world.scenario.faults
    if rates.exchange_wrong_multiplier_per_ct_site_year <= 0 and (
        rates.exchange_genuine_per_ct_site_year <= 0
    ):
        return
    rng = stream(world.scenario.seed, Stream.FAULTS, 101)
    days = world.facts.horizon_us / US_PER_DAY
    pool = _clean_ct_sites(world)
    wanted = [
        (True, _count(rates.exchange_wrong_multiplier_per_ct_site_year, pool.size, days, rng)),
        (False, _count(rates.exchange_genuine_per_ct_site_year, pool.size, days, rng)),
    ]

    def draw_day() -> int:
        day = int(rng.integers(int(0.35 * days), max(int(0.65 * days), int(0.35 * days) + 1)))
        while world.date_of(day).weekday() >= 5:
            day += 1
        return day

    _exchange(world, pool, wanted, draw_day, rng)


def exchange_ct_sites(
    world: World, *, wrong: int, genuine: int, first_day: int, last_day: int
) -> list[str]:
    """Exchange meters of ``wrong`` + ``genuine`` CT-rated sites on days of a chosen span.

    The same exchanges as :func:`schedule_ct_exchanges` (the fault recorded with a wrong
    multiplier, the look-alike recorded right where the customer leaves that day), but a
    number of each, on weekdays between two local days of the horizon, so that a
    diagnostics run's window can be made to hold them (a run judges an exchange with a week
    of its window on each side). For benchmarks and tests; the scenario's own rates and
    draws are untouched (this draws from a random stream of its own), so calling it on a
    world whose rates are 0 adds exactly these exchanges and changes nothing else.

    Sites are chosen as :func:`schedule_ct_exchanges` chooses them (occupied throughout, no
    other fault, a spare of the form in stock, not exchanged yet); fewer are exchanged when
    fewer qualify (at high fault rates most CT-rated sites carry a standing CT fault).

    Args:
        world: A world just built (no day generated yet); changed in place.
        wrong: Exchanges whose new meter is recorded with a wrong multiplier.
        genuine: Look-alike exchanges (right multiplier, the customer leaves that day).
        first_day: First local day of the span, as an ordinal from the scenario's start
            (0 is its first day). [d]
        last_day: Last local day of the span (inclusive). [d]

    Returns:
        The serials of the meters installed, in the order exchanged (wrong ones first).

    Raises:
        ValueError: A negative count, or a span outside the horizon or without a weekday.
    """
    if wrong < 0 or genuine < 0:
        raise ValueError(f"exchange counts must be >= 0, got wrong={wrong}, genuine={genuine}")
    horizon = world.scenario.horizon_days
    weekdays = [
        day
        for day in range(max(first_day, 0), min(last_day, horizon - 1) + 1)
        if world.date_of(day).weekday() < 5
    ]
    if first_day < 0 or last_day >= horizon or not weekdays:
        raise ValueError(
            f"exchange span days {first_day}..{last_day} must hold a weekday inside the "
            f"horizon (days 0..{horizon - 1})"
        )
    rng = stream(world.scenario.seed, Stream.FAULTS, 102)
    fitted = _exchange(
        world,
        _clean_ct_sites(world),
        [(True, wrong), (False, genuine)],
        lambda: weekdays[int(rng.integers(len(weekdays)))],
        rng,
    )
    return [str(world.reported_serial[new]) for new in fitted]


def _clean_ct_sites(world: World) -> IntArray:
    """CT-rated sites occupied throughout, without any fault, not exchanged yet."""
    facts = world.facts
    sites = world.territory.sites.count
    faulty = np.zeros(sites, dtype=bool)
    faulty[world.faults.site[(world.faults.site >= 0) & (world.faults.site < sites)]] = True
    faulty[world.faults.meter[(world.faults.meter >= 0) & (world.faults.meter < sites)]] = True
    faulty[world.inst_site[world.inst_from > -(2**62)]] = True
    return np.flatnonzero(
        facts.ct_rated[:sites] & facts.occupied_throughout[:sites] & ~faulty[:sites]
    )


def _exchange(
    world: World,
    pool: IntArray,
    wanted: list[tuple[bool, int]],
    draw_day: Callable[[], int],
    rng: np.random.Generator,
) -> list[int]:
    """Exchange the wanted numbers of sites of ``pool`` (fault or look-alike); new meters."""
    facts = world.facts
    sites = world.territory.sites.count
    forms = world.territory.meters["form"].to_list()
    spares = {
        form: [
            i for i in range(sites, len(forms)) if forms[i] == form and i not in world.spares_used
        ]
        for form in set(forms[sites:])
    }
    order = rng.permutation(pool)
    plan: list[tuple[bool, int]] = []
    for wrong, count in wanted:
        left = count
        for site in order.tolist():
            if left == 0:
                break
            stock = spares.get(forms[site], [])
            if site in {s for _, s in plan} or not stock:
                continue
            stock.pop(0)
            plan.append((wrong, site))
            left -= 1
    fitted: list[int] = []
    for wrong, site in plan:
        day = draw_day()
        moment = int(world.day_start_us[day]) + int(rng.integers(9 * 3600, 15 * 3600)) * 1_000_000
        at = dt.datetime.fromtimestamp(moment / 1e6, dt.UTC)
        old = int(world.inst_meter[(world.inst_site == site) & (world.inst_to == NO_END)][0])
        new = world.meter_index(world.exchange_meter(world.reported_serial[old], at=at))
        fitted.append(new)
        true_ct = float(facts.ct_ratio[site])
        if wrong:
            factor = float(rng.choice(_WRONG_FACTORS))
            recorded = true_ct * factor if factor > 0 else 1.0 / float(_pt(world, new))
            world.faults.append(
                FaultKind.WRONG_MULTIPLIER,
                1,
                meter=new,
                site=site,
                start_us=moment,
                value=recorded,
                detail=EXCHANGE_FAULT_DETAIL,
            )
        else:
            occ = world.occupancy
            world.occupancy = dataclasses.replace(
                occ,
                vacancy_site=np.append(occ.vacancy_site, site),
                vacancy_start_us=np.append(occ.vacancy_start_us, moment),
                vacancy_end_us=np.append(occ.vacancy_end_us, NO_END),
            )
            world.faults.append(FaultKind.VACANT_PREMISE, 1, meter=new, site=site, start_us=moment)
    # The exchanges generated days to place the new registers; start the world afresh from
    # its first day (a new meter's dial is its install read until it goes in).
    world.forget_after(int(world.day_start_us[0]))
    for new in fitted:
        install = float(world.territory.meters["install_read_kwh"][int(world.meter_row[new])])
        world.set_registers(new, delivered_wh=round(install * 1000), from_day=0)
    return fitted


def _pt(world: World, meter: int) -> float:
    return float(world.territory.meters["pt_ratio"][int(world.meter_row[meter])])


def exchange_rows(world: World, *, as_of: dt.date) -> pl.DataFrame:
    """The exchanges of the horizon up to ``as_of`` as ``meter_exchanges.csv`` rows.

    Only exchanges between meters the fleet files list (``meters.csv``) are written; the
    installed meter's multiplier is what the back office recorded (wrong for the fault).

    Args:
        world: The world.
        as_of: Last local day exported.

    Returns:
        Exactly the columns of the ``meter_exchanges`` kind, in time order.
    """
    listed = world.territory.meters.height
    ordinal = min((as_of - world.scenario.start).days + 1, world.day_start_us.size - 1)
    end_us = int(world.day_start_us[ordinal])
    rows = world.faults.rows(FaultKind.WRONG_MULTIPLIER).tolist()
    recorded = {
        int(world.faults.meter[r]): float(world.faults.value[r])
        for r in rows
        if world.faults.detail[r] == EXCHANGE_FAULT_DETAIL
    }
    numbers = world.territory.service_points["service_point_number"]
    out: list[dict[str, object]] = []
    for k in np.flatnonzero((world.inst_from > -(2**62)) & (world.inst_from < end_us)).tolist():
        site, new, moment = (
            int(world.inst_site[k]),
            int(world.inst_meter[k]),
            int(world.inst_from[k]),
        )
        before = np.flatnonzero((world.inst_site == site) & (world.inst_to == moment))
        if before.size == 0:
            continue
        old = int(world.inst_meter[before[0]])
        if old >= listed or new >= listed:
            continue
        # the dial as the technician reads it: truncated to its decimals, rolled over past
        # its digits (as the register reads are)
        decimals = int(world.register_decimals[old])
        digits = int(world.register_digits[old])
        dial = np.floor(world.registers_at(old, moment)[0] / 10.0 ** (3 - decimals))
        final = float(np.mod(dial, 10.0 ** (digits + decimals))) / 10.0**decimals
        initial = float(world.territory.meters["install_read_kwh"][int(world.meter_row[new])])
        out.append(
            {
                "service_point_number": numbers[site],
                "removed_serial": world.backoffice_serial[old],
                "installed_serial": world.backoffice_serial[new],
                "exchanged_at": dt.datetime.fromtimestamp(moment / 1e6, dt.UTC).strftime(_ISO),
                "removed_final_read_kwh": round(float(final), 3),
                "installed_initial_read_kwh": initial,
                "installed_multiplier": round(
                    recorded.get(new, float(world.facts.ct_ratio[site])) * _pt(world, new), 3
                ),
                "work_order_id": None,
            }
        )
    if out:  # the final reads generated days: let the next run start from the first day
        world.forget_after(int(world.day_start_us[0]))
    columns = [c.name for c in KINDS["meter_exchanges"].columns]
    schema = {
        "service_point_number": pl.String,
        "removed_serial": pl.String,
        "installed_serial": pl.String,
        "exchanged_at": pl.String,
        "removed_final_read_kwh": pl.Float64,
        "installed_initial_read_kwh": pl.Float64,
        "installed_multiplier": pl.Float64,
        "work_order_id": pl.String,
    }
    return pl.DataFrame(out, schema=schema, orient="row").select(columns).sort("exchanged_at")
