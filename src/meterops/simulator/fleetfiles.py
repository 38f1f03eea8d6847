"""The back office's fleet files: the CSV kinds of ``fleet/spec.py`` and ``programs.yaml``.

:func:`fleet_frames` renders the world as the back office knows it - which is not always the
truth: a wrong CT ratio recorded for a transformer-rated meter, crossed meters recorded at
the service points they should be at, a swapped meter that was never recorded (its serial is
not here), the program the vendor pushed to one firmware cohort. Accounts are as of a date
(move-outs and move-ins up to it). Meters are the snapshot before the first day; the meter
exchanges of the horizon up to that date are in the installation history file
``meter_exchanges.csv`` (``simulator.exchanges``; header only without any).
:func:`write_fleet_files` writes exactly the columns of each kind, in the documented order,
plus ``meter_exchanges.csv`` and ``programs.yaml``.

Pure module: standard library, numpy, polars and pure meterops modules
(``fleet.spec``, ``fleet.programs``); must not import ``meterops.db``, ``models``, ``web``,
``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from meterops.fleet.programs import render_programs_yaml
from meterops.fleet.spec import KINDS
from meterops.simulator import catalog
from meterops.simulator.catalog import FIRST_NAMES, LAST_NAMES, METER_MODELS
from meterops.simulator.customers import draw_payment_plans, payment_plans_as_of
from meterops.simulator.exchanges import exchange_rows
from meterops.simulator.faults import FaultKind
from meterops.simulator.params import Stream, stream

if TYPE_CHECKING:
    from meterops.simulator.world import World

__all__ = ["FLEET_FILE_ORDER", "fleet_frames", "write_fleet_files"]

FLEET_FILE_ORDER = (
    "territories",
    "feeders",
    "transformers",
    "premises",
    "service_points",
    "collectors",
    "firmware",
    "meters",
    "comm_modules",
    "accounts",
    "payment_plans",
    "technicians",
)
"""The CSV kinds written, in import order."""

_ISO = "%Y-%m-%dT%H:%M:%SZ"


def _technicians(world: World) -> pl.DataFrame:
    p = world.scenario.territory
    rng = stream(world.scenario.seed, Stream.ACCOUNTS, 1)
    n = max(p.technicians, len(world.territory.territory_codes))
    codes = world.territory.territory_codes
    towns = world.territory.towns
    territory = np.arange(n) % len(codes)
    # A depot per territory, in its largest town (towns are ordered by size).
    depot_town = territory % len(towns.names)
    lat, lon = world.territory.projection.to_lat_lon(towns.x_m[depot_town], towns.y_m[depot_town])
    skills = []
    for i in range(n):
        mine = ["residential"]
        if i % 4 == 1:
            mine.append("ct_rated")
        if i % 6 == 2:
            mine.append("network_collector")
        if i % 9 == 5 or i == n - 1:
            mine = ["meter_shop", "ct_rated"]
        skills.append(";".join(mine))
    certs = ["osha10;nfpa70e;cpr" if i % 3 else "osha30;nfpa70e;cpr" for i in range(n)]
    first = np.array(FIRST_NAMES)[rng.integers(0, len(FIRST_NAMES), n)]
    last = np.array(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), n)]
    early = rng.random(n) < 0.5
    return pl.DataFrame(
        {
            "employee_number": [f"T{i + 1:04d}" for i in range(n)],
            "name": [f"{a} {b}" for a, b in zip(first.tolist(), last.tolist(), strict=True)],
            "skills": skills,
            "certifications": certs,
            "territory_code": [codes[int(t)] for t in territory],
            "depot_latitude": lat,
            "depot_longitude": lon,
            "shift_start": np.where(early, "07:00", "08:00").tolist(),
            "shift_end": np.where(early, "15:30", "16:30").tolist(),
            "break_minutes": np.full(n, 30),
            "max_stops": rng.integers(20, 31, n),
            "active": np.ones(n, dtype=bool),
        }
    )


def _payment_plans(world: World, as_of: dt.date) -> pl.DataFrame:
    """The CIS's payment arrangements on ``as_of`` (``simulator.customers``)."""
    plans = draw_payment_plans(
        world.occupancy.accounts,
        start=world.scenario.start,
        horizon_days=world.scenario.horizon_days,
        rng=stream(world.scenario.seed, Stream.ACCOUNTS, 2),
    )
    return payment_plans_as_of(plans, as_of)


def fleet_frames(world: World, *, as_of: dt.date) -> dict[str, pl.DataFrame]:
    """The fleet files as frames, as the back office has them.

    Args:
        world: The world.
        as_of: Accounts are exported as of this date.

    Returns:
        A frame per kind with exactly the kind's columns.
    """
    t = world.territory
    installed = t.sites.count
    meters = t.meters.head(world.territory.meters.height)
    faults = world.faults
    recorded_ct = meters["ct_ratio"].to_numpy().copy()
    rows = faults.rows(FaultKind.WRONG_MULTIPLIER)
    recorded_ct[faults.meter[rows]] = np.round(faults.value[rows], 3)
    program = [world.program_codes[int(i)] for i in world.program_initial[: meters.height]]
    site = meters["site"].to_numpy()
    has_site = site >= 0
    sp = t.service_points["service_point_number"].gather(np.maximum(site, 0))
    n_tech = max(world.scenario.territory.technicians, 1)
    installed_by = [f"T{(i % n_tech) + 1:04d}" for i in range(meters.height)]
    meter_frame = pl.DataFrame(
        {
            "serial_number": world.backoffice_serial[: meters.height],
            "vendor": meters["vendor"],
            "model": meters["model"],
            "form": meters["form"],
            "meter_class": meters["meter_class"],
            "accuracy_class": meters["accuracy_class"],
            "firmware_revision": meters["firmware_revision"],
            "program_code": pl.Series(program, dtype=pl.String).zip_with(
                pl.Series(has_site), pl.Series([None] * meters.height, dtype=pl.String)
            ),
            "ct_ratio": recorded_ct,
            "pt_ratio": meters["pt_ratio"],
            "multiplier": recorded_ct * meters["pt_ratio"].to_numpy(),
            "bidirectional": world.bidirectional[: meters.height],
            "disconnect_switch": meters["disconnect_switch"],
            "register_digits": meters["register_digits"],
            "register_decimals": meters["register_decimals"],
            "kh": meters["kh"],
            "manufactured_on": meters["manufactured_on"],
            "received_on": meters["received_on"],
            "lot_number": meters["lot_number"],
            "lifecycle_status": np.where(has_site, "installed", "in_stock").tolist(),
            "service_point_number": sp.zip_with(
                pl.Series(has_site), pl.Series([None] * meters.height, dtype=pl.String)
            ),
            "installed_at": meters["installed_at_utc"].dt.strftime(_ISO),
            "install_read_kwh": pl.Series(meters["install_read_kwh"]).zip_with(
                pl.Series(has_site), pl.Series([None] * meters.height, dtype=pl.Float64)
            ),
            "installed_by": pl.Series(installed_by).zip_with(
                pl.Series(has_site), pl.Series([None] * meters.height, dtype=pl.String)
            ),
        }
    )
    spare_modules = max(3, round(world.scenario.territory.spare_share * installed))
    modules = pl.DataFrame(
        {
            "module_serial": meters["module_serial"].to_list()
            + [f"0013503{i:07X}" for i in range(spare_modules)],
            "vendor": [catalog.NETWORK_VENDOR] * (meters.height + spare_modules),
            "model": meters["module_model"].to_list()
            + [catalog.MODULE_MODELS["single_phase"][0]] * spare_modules,
            "technology": ["rf_mesh"] * (meters.height + spare_modules),
            "firmware_revision": meters["module_firmware"].to_list()
            + [catalog.MODULE_MODELS["single_phase"][1]] * spare_modules,
            "meter_serial": world.backoffice_serial[: meters.height] + [None] * spare_modules,
            "linked_at": meters["installed_at_utc"].dt.strftime(_ISO).to_list()
            + [None] * spare_modules,
        }
    ).with_columns(
        pl.when(pl.col("linked_at").is_null())
        .then(None)
        .otherwise(pl.col("meter_serial"))
        .alias("meter_serial")
    )
    epoch = world.epochs[0]
    lat, lon = t.projection.to_lat_lon(epoch.infra.x_m, epoch.infra.y_m)
    collectors = pl.DataFrame(
        {
            "collector_code": list(epoch.infra.codes),
            "kind": np.where(epoch.infra.is_collector, "collector", "router").tolist(),
            "vendor": [catalog.NETWORK_VENDOR] * epoch.infra.count,
            "model": [
                catalog.COLLECTOR_MODELS["collector" if c else "router"]
                for c in epoch.infra.is_collector.tolist()
            ],
            "latitude": lat,
            "longitude": lon,
            "backhaul": list(epoch.infra.backhaul),
            "territory_code": [t.territory_codes[int(i)] for i in epoch.infra.territory],
            "active": np.ones(epoch.infra.count, dtype=bool),
        }
    )
    firmware = pl.DataFrame(
        [
            (m.vendor, m.model, rev, day, "approved")
            for m in METER_MODELS
            for rev, day in m.firmware
        ],
        schema=["vendor", "model", "revision", "released_on", "status"],
        orient="row",
    ).unique(["vendor", "model", "revision"], maintain_order=True)
    accounts = world.occupancy.accounts.filter(pl.col("move_in_date") <= as_of).with_columns(
        pl.when(pl.col("move_out_date") > as_of)
        .then(None)
        .otherwise(pl.col("move_out_date"))
        .alias("move_out_date")
    )
    frames = {
        "territories": pl.DataFrame(
            {
                "territory_code": list(t.territory_codes),
                "name": list(world.scenario.territory.territory_names),
                "timezone": [world.scenario.territory.timezone] * len(t.territory_codes),
            }
        ),
        "feeders": t.feeders,
        "transformers": t.transformers,
        "premises": t.premises,
        "service_points": t.service_points,
        "collectors": collectors,
        "firmware": firmware,
        "meters": meter_frame,
        "comm_modules": modules,
        "accounts": accounts,
        "payment_plans": _payment_plans(world, as_of),
        "technicians": _technicians(world),
    }
    return {
        name: frames[name].select(c.name for c in KINDS[name].columns) for name in FLEET_FILE_ORDER
    }


def write_fleet_files(world: World, directory: Path, *, as_of: dt.date) -> list[Path]:
    """Write every fleet CSV and ``programs.yaml`` into ``directory``.

    Args:
        world: The world.
        directory: Target folder (created if needed).
        as_of: Accounts are exported as of this date.

    Returns:
        The files written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in fleet_frames(world, as_of=as_of).items():
        path = directory / f"{name}.csv"
        frame.write_csv(path, date_format="%Y-%m-%d", float_precision=None)
        written.append(path)
    exchanges = directory / "meter_exchanges.csv"  # installation history (header only: none)
    exchange_rows(world, as_of=as_of).write_csv(exchanges, float_precision=None)
    written.append(exchanges)
    programs = directory / "programs.yaml"
    programs.write_text(render_programs_yaml(catalog.program_documents()), encoding="utf-8")
    written.append(programs)
    return written
