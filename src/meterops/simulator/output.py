"""The files a utility would have, written through the ``ingest/formats`` writers.

Layout of ``meterops simulate ... --out DIR``::

    DIR/simulation.json                 scenario, seed, days, fault rates (no run time)
    DIR/fleet/                          fleet CSVs + programs.yaml (fleet/spec.py kinds)
    DIR/headend/<yyyy-mm-dd>/
        intervals.cmep                  CMEP MEPMD01, kWh delivered per 15 minutes
        registers.cmep                  CMEP MEPMD01 register reads (kWh delivered dial)
        intervals_other.csv             head-end CSV: kWh received, hourly voltage min/max
        registers_other.csv             head-end CSV: kWh received and TOU registers
        events.xml | events.csv         IEC 61968-9 EndDeviceEvents, or the event CSV
        comm_stats.csv                  head-end CSV, per meter
        topology.csv                    head-end CSV, mesh at the day's end
        collector_status.csv            head-end CSV (topology kind), collectors hourly
    DIR/frames/<yyyy-mm-dd>/            with --frames, instead of headend/: the PARSED_*
        interval_reads/part-*.parquet   frames themselves, interval reads chunk by chunk
        <frame>.parquet                 (for scale: a million meters' day is never one frame)
    DIR/greenbutton/<serial>.xml        Green Button ESPI feeds of a few customers
    DIR/ground_truth/faults.jsonl       the faults; no diagnostic code reads this folder

A CSV or CIM file of a kind the day has nothing of (``registers_other.csv`` on a day without
received-energy or TOU register reads, ``events.xml`` on a quiet day) is still written, with
its header row or root element and no record, as a head-end delivers it: ingest journals it
as a valid empty delivery (committed, every count 0). CMEP files are always written from the
day's delivered-energy reads, which every simulated day has.

Every byte depends only on the scenario and its seed: file-creation stamps inside the
formats are set from the simulated day, never from the clock.

Pure module: standard library, polars and pure meterops modules (the format writers); must
not import ``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import polars as pl

from meterops.ingest.formats.cim import write_cim_end_device_events
from meterops.ingest.formats.cmep import write_cmep
from meterops.ingest.formats.espi import write_espi
from meterops.ingest.formats.headend_csv import write_headend_csv
from meterops.simulator.days import DayOutput
from meterops.simulator.engine import FRAME_NAMES, ground_truth_between, simulate_days
from meterops.simulator.fleetfiles import write_fleet_files
from meterops.simulator.territory import SiteClass
from meterops.simulator.world import World

__all__ = ["EVENT_FORMATS", "OutputSummary", "write_day", "write_ground_truth", "write_simulation"]

EVENT_FORMATS: Final = ("cim", "csv")
"""Event file formats: IEC 61968-9 EndDeviceEvents XML, or the head-end event CSV."""


@dataclass(slots=True)
class OutputSummary:
    """What was written.

    Attributes:
        files: Paths written.
        interval_reads: Interval reads written.
        events: Events written.
        ground_truth_rows: Ground-truth rows written.
        days: Local days written.
    """

    files: list[Path] = field(default_factory=list)
    interval_reads: int = 0
    events: int = 0
    ground_truth_rows: int = 0
    days: list[dt.date] = field(default_factory=list)


def _sender(world: World) -> str:
    words = world.scenario.territory.utility_name.replace("&", " ").split()
    return "".join(w[0] for w in words).upper()[:8]


def write_day(
    world: World,
    output: DayOutput,
    directory: Path,
    *,
    events_format: str = "cim",
    frames: bool = False,
) -> list[Path]:
    """Write one day's head-end exports (or, with ``frames``, its frames) into ``directory``.

    Args:
        world: The world (zone, sender id).
        output: The day.
        directory: Target folder (created).
        events_format: ``cim`` or ``csv``.
        frames: Write the ``PARSED_*`` frames as Parquet instead of the format files (the
            interval reads, when a sink took them, are already there as parts).

    Returns:
        Paths written.
    """
    if events_format not in EVENT_FORMATS:
        msg = f"unknown events format {events_format!r}; expected one of {list(EVENT_FORMATS)}"
        raise ValueError(msg)
    directory.mkdir(parents=True, exist_ok=True)
    if frames:
        written = []
        for name in FRAME_NAMES:
            frame = getattr(output, name)
            if name == "interval_reads" and frame.height == 0:
                continue
            written.append(directory / f"{name}.parquet")
            frame.write_parquet(written[-1], statistics=False)
        return written
    created = output.start_utc + dt.timedelta(days=1, hours=2)
    sender = _sender(world)
    reads = output.interval_reads
    delivered = reads.filter(pl.col("channel") == "kwh_delivered")
    other = reads.filter(pl.col("channel") != "kwh_delivered")
    registers = output.register_reads
    total = registers.filter(
        (pl.col("channel") == "kwh_delivered") & pl.col("tou_period").is_null()
    )
    rest = registers.filter(
        (pl.col("channel") != "kwh_delivered") | pl.col("tou_period").is_not_null()
    )
    written = [
        directory / "intervals.cmep",
        directory / "registers.cmep",
        directory / "intervals_other.csv",
        directory / "registers_other.csv",
    ]
    write_cmep(delivered, sender_id=sender, zone=world.zone, created_at=created, path=written[0])
    write_cmep(
        register_reads=total, sender_id=sender, zone=world.zone, created_at=created, path=written[1]
    )
    write_headend_csv(other, kind="interval_reads", path=written[2])
    write_headend_csv(rest, kind="register_reads", path=written[3])
    if events_format == "cim":
        written.append(directory / "events.xml")
        write_cim_end_device_events(output.events, path=written[-1])
    else:
        written.append(directory / "events.csv")
        write_headend_csv(output.events, kind="events", path=written[-1])
    for name, kind in (
        ("comm_stats", "comm_stats"),
        ("topology", "topology"),
        ("collector_status", "topology"),
    ):
        written.append(directory / f"{name}.csv")
        write_headend_csv(getattr(output, name), kind=kind, path=written[-1])
    return written


def write_ground_truth(frame: pl.DataFrame, path: Path) -> Path:
    """Write ground truth as JSON Lines (``parameters`` as an object, times ISO 8601 UTC)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for row in frame.sort("fault_id").iter_rows(named=True):
        record: dict[str, Any] = dict(row)
        for key in ("start_utc", "end_utc"):
            value = record[key]
            record[key] = None if value is None else value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        record["parameters"] = json.loads(record["parameters"])
        lines.append(json.dumps(record, sort_keys=True))
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _greenbutton_serials(world: World, count: int) -> list[str]:
    """A few customers with different stories: solar, EV, TOU, plain, small business."""
    sites = world.territory.sites
    cust = world.customers
    picks: list[int] = []
    for mask in (
        cust.solar_kw > 0,
        cust.ev_kw > 0,
        cust.rate_code == "RTOU",
        (sites.site_class == SiteClass.HOME) & (cust.rate_code == "RS"),
        sites.site_class == SiteClass.SMALL_COMMERCIAL,
    ):
        hits = [int(i) for i in mask.nonzero()[0] if int(i) not in picks]
        if hits:
            picks.append(hits[0])
    meters = [int(world.inst_meter[world.inst_site == s][0]) for s in picks[:count]]
    return [world.reported_serial[m] for m in meters]


def write_simulation(
    world: World,
    out: Path,
    *,
    days: int,
    first_day: int = 0,
    events_format: str = "cim",
    frames: bool = False,
    greenbutton: int = 5,
    workers: int = 1,
    on_day: Callable[[DayOutput], None] | None = None,
    on_chunk: Callable[[pl.DataFrame], None] | None = None,
) -> OutputSummary:
    """Simulate days and write every file of the layout.

    Args:
        world: The world.
        out: Target folder.
        days: Days to simulate.
        first_day: Index of the first day.
        events_format: ``cim`` or ``csv``.
        frames: Write the ``PARSED_*`` frames as Parquet instead of the head-end files
            (interval reads chunk by chunk, never a whole day in memory).
        greenbutton: Customers to write Green Button feeds for.
        workers: Threads per day.
        on_day: Called after each day is written (progress).
        on_chunk: With ``frames``, called with each chunk of interval reads as written.

    Returns:
        A summary.
    """
    summary = OutputSummary()
    out.mkdir(parents=True, exist_ok=True)
    scenario = world.scenario
    last = world.date_of(first_day + days - 1)
    meta = {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "first_day": world.date_of(first_day).isoformat(),
        "days": days,
        "timezone": scenario.territory.timezone,
        "service_points": scenario.territory.service_points,
        "fault_rates": dataclasses.asdict(scenario.faults),
        "cold_snaps": [
            {
                "first_day": snap.first_day.isoformat(),
                "days": snap.days,
                "colder_by_c": snap.colder_by_c,
            }
            for snap in scenario.cold_snaps
        ],
    }
    (out / "simulation.json").write_text(
        json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    summary.files.append(out / "simulation.json")
    summary.files += write_fleet_files(world, out / "fleet", as_of=last)
    chosen = _greenbutton_serials(world, greenbutton)
    collected: list[pl.DataFrame] = []
    parts = out / "frames" / "_day" / "interval_reads"
    shutil.rmtree(parts.parent, ignore_errors=True)  # left by an interrupted run

    def keep_feeds(reads: pl.DataFrame) -> None:
        collected.append(
            reads.filter(
                pl.col("serial_number").is_in(chosen)
                & pl.col("channel").is_in(["kwh_delivered", "kwh_received"])
            )
        )

    def part(reads: pl.DataFrame) -> None:
        parts.mkdir(parents=True, exist_ok=True)
        path = parts / f"part-{len(list(parts.iterdir())):05d}.parquet"
        reads.write_parquet(path, statistics=False)
        summary.interval_reads += reads.height
        keep_feeds(reads)
        if on_chunk is not None:
            on_chunk(reads)

    def handle(output: DayOutput) -> None:
        if frames:
            folder = out / "frames" / output.day.isoformat()
            if parts.parent.exists():
                shutil.rmtree(folder, ignore_errors=True)  # an earlier run's day
                parts.parent.rename(folder)
                summary.files.extend(sorted((folder / "interval_reads").iterdir()))
        else:
            folder = out / "headend" / output.day.isoformat()
            summary.interval_reads += output.interval_reads.height
            keep_feeds(output.interval_reads)
        summary.files.extend(
            write_day(world, output, folder, events_format=events_format, frames=frames)
        )
        summary.events += output.events.height
        summary.days.append(output.day)
        if on_day is not None:
            on_day(output)

    result = simulate_days(
        world,
        days=days,
        first_day=first_day,
        workers=workers,
        on_day=handle,
        keep=False,
        sink=part if frames else None,
    )
    feeds = pl.concat(collected) if collected else pl.DataFrame()
    accounts = world.occupancy.accounts
    updated = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(6), tzinfo=dt.UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    for serial in chosen:
        mine = feeds.filter(pl.col("serial_number") == serial)
        if mine.height == 0:
            continue
        meter = world.meter_index(serial)
        site = int(world.inst_site[world.inst_meter == meter][0])
        account = accounts.filter(pl.col("site") == site)["account_number"][-1]
        path = out / "greenbutton" / f"{serial}.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_espi(mine, customer_id=account, updated_at=updated, path=path)
        summary.files.append(path)
    zone = world.zone
    start = dt.datetime.combine(world.date_of(first_day), dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    truth = ground_truth_between(
        world.ground_truth(), start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    )
    summary.files.append(write_ground_truth(truth, out / "ground_truth" / "faults.jsonl"))
    summary.ground_truth_rows = truth.height
    del result
    return summary
