"""Diagnostics: verdict quality against the simulator's ground truth, and run time.

Figures (each against a baseline measured in the same run):

* **Quality** (``county``, seed 67 and fault rates × 30 with the standing CT shares × 4 —
  a seed and rates not used while developing — 20,000 service points (``--quick``: 5,000), CT-rated
  exchanges with a wrong multiplier and look-alikes placed inside the judged window, 28
  days, through the real fleet import and ingest, judged at 06:00 the morning after):
  macro-F1 of the verdicts over the scored causes
  (``diagnostics.scoring``), against a *kind-only triage* baseline that gives every exception
  of a kind the same cause (its most frequent one: what a queue without root-cause rules
  would send); the share of non-comm verdicts on faulty meters that name the right cause;
  the share of verdicts acted on without a visit (remote or back-office); the share of
  visits sent with the skill and parts the true cause needs (``scoring.visits_judged``, the
  figure ``meterops diagnose evaluate`` prints: a first-visit-resolution proxy); the
  ``wrong_multiplier`` row (look-alikes count as negatives) and crossed meters on the same
  territory.
* **Run time** (``county``, 50,000 meters, 14 days; ``--quick``: 5,000 meters, 7 days): the
  pure core — daily summaries, all ten detectors, facts and verdicts — over frames built
  from the simulator's head-end output (serials as meter ids, the fleet as the back office
  exports it), against a straightforward per-meter Python loop over the raw interval reads
  that implements four of the ten detectors (non-comm, zero consumption, tamper, high bill),
  timed on a sample of meters and scaled to the fleet. The baseline does less work, so the
  ratio understates the speed-up.
* **Metro day** (``metro``, seed 23, 1,000,000 meters, one day; ``--quick``: 50,000): from
  stored inputs to verdicts written — ``service.run`` and its commit over a SQLite fleet
  database and a read store, twice (all opened, then all refreshed; the second against the
  first), with CPU seconds, load average and peak memory. The inputs are built once and
  cached under ``var/bench/diagnostics/`` (see ``_metro_folder``); the goal is <= 60 s.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import resource
import shutil
import subprocess
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import select

from benchmarks.harness import BenchContext, Figure, peak_rss_mb, timed
from meterops.db import migrate
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.diagnostics import scoring
from meterops.diagnostics import service as diagnostics_service
from meterops.diagnostics.detect import last_read_times, summarise_intervals
from meterops.diagnostics.engine import DiagnosticInputs, detect_exceptions
from meterops.diagnostics.facts import meter_facts
from meterops.diagnostics.frames import METER_CONTEXT
from meterops.diagnostics.kinds import ActionKind
from meterops.diagnostics.params import DetectParams
from meterops.diagnostics.repository import ExceptionRepository
from meterops.diagnostics.rules import diagnose
from meterops.fleet import service as fleet_service
from meterops.fleet.parse import parse_fleet_csv
from meterops.fleet.programs import parse_programs_file
from meterops.fleet.spec import HISTORY_KINDS, IMPORT_ORDER
from meterops.ingest.service import IngestOptions, ingest_files
from meterops.models import Meter
from meterops.outages import service as outages_service
from meterops.outages.inference import OutageParams
from meterops.reads import schema
from meterops.reads.schema import UTC_DATETIME
from meterops.reads.store import FileCommit, ReadStore, Table
from meterops.simulator import FaultRates, World, county, metro, small_town, write_simulation
from meterops.simulator.exchanges import EXCHANGE_FAULT_DETAIL, exchange_ct_sites
from meterops.simulator.fleetfiles import fleet_frames, write_fleet_files

AREA = "diagnostics"
ZONE = "America/Chicago"
START = dt.date(2026, 7, 6)
NON_COMM_CAUSES = frozenset(
    {
        "radio_module_failure",
        "weak_mesh_path",
        "meter_removed",
        "unprovisioned_meter",
        "hot_socket",
        "collector_down",
    }
)


# -- quality --------------------------------------------------------------------------------


def _build_territory(
    folder: Path,
    *,
    seed: int,
    service_points: int,
    days: int,
    rates: FaultRates,
    place: str = "small_town",
    exchanges: tuple[int, int, int, int] | None = None,
) -> tuple[Path, frozenset[str]]:
    """Simulate ``days`` of a territory into head-end and fleet files.

    ``exchanges``: (wrong, look-alike, first day, last day) CT-rated exchanges placed with
    ``simulator.exchanges.exchange_ct_sites`` (the scenario's own draws unchanged).

    Returns:
        The files' folder and the serials of the meters the exchanges installed.
    """
    files = folder / "files"
    build = county if place == "county" else small_town
    scenario = build(
        seed=seed, start=START, faults=rates, service_points=service_points, horizon_days=days
    )
    world = World(scenario, keep_days=1)
    installed: list[str] = []
    if exchanges is not None:
        wrong, genuine, first_day, last_day = exchanges
        installed = exchange_ct_sites(
            world, wrong=wrong, genuine=genuine, first_day=first_day, last_day=last_day
        )
    write_simulation(world, files, days=days, events_format="csv", greenbutton=0)
    return files, frozenset(installed)


@dataclass(frozen=True, slots=True)
class _Judged:
    """One territory simulated, imported, ingested and judged, with its ground truth."""

    verdicts: pl.DataFrame
    truth: pl.DataFrame
    present: pl.DataFrame
    faults: list[dict[str, Any]]
    summary: diagnostics_service.RunSummary
    run_s: float
    incidents: int
    lookalikes: frozenset[str] = frozenset()
    """Serials of the meters installed at look-alike exchanges (right multiplier)."""


def _judge(
    ctx: BenchContext,
    name: str,
    *,
    seed: int,
    rates: FaultRates,
    place: str = "small_town",
    service_points: int | None = None,
    exchanges: tuple[int, int, int, int] | None = None,
) -> _Judged:
    """Simulate 28 days of a territory, import and ingest it, record outages, diagnose."""
    days = 28
    service_points = service_points or ctx.scale(500, 250)
    folder = ctx.workdir / name
    files, installed = _build_territory(
        folder,
        seed=seed,
        service_points=service_points,
        days=days,
        rates=rates,
        place=place,
        exchanges=exchanges,
    )
    as_of = dt.datetime.combine(START + dt.timedelta(days=days), dt.time(11), tzinfo=dt.UTC)
    arrived = as_of - dt.timedelta(hours=1)
    engine = make_engine(f"sqlite:///{folder / 'quality.db'}")
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    for kind in (*IMPORT_ORDER, *HISTORY_KINDS):
        if kind != "meter_programs" and not (files / "fleet" / f"{kind}.csv").exists():
            continue  # a kind the simulator does not write
        with session_scope(sessions) as session:
            if kind == "meter_programs":
                data = (files / "fleet" / "programs.yaml").read_bytes()
                fleet_service.import_programs(
                    session,
                    parse_programs_file(data, file="programs.yaml"),
                    actor="bench",
                    now=arrived,
                )
            else:
                path = files / "fleet" / f"{kind}.csv"
                fleet_service.import_file(
                    session,
                    parse_fleet_csv(path.read_bytes(), file=path.name),
                    actor="bench",
                    default_timezone=ZONE,
                    now=arrived,
                )
    store = ReadStore(str(folder / "reads"))
    ingest_files(
        sessions,
        store,
        sorted(p for p in (files / "headend").rglob("*") if p.is_file()),
        options=IngestOptions(zone=ZoneInfo(ZONE), actor="bench"),
        clock=lambda: arrived,
    )
    options = diagnostics_service.RunOptions(zone=ZONE)
    with session_scope(sessions) as session:  # the outage system records its incidents first
        incidents = outages_service.detect(
            session,
            store,
            start_utc=as_of - dt.timedelta(days=options.history_days),
            end_utc=as_of,
            now=as_of,
            params=OutageParams(),
        )
    with session_scope(sessions) as session, timed() as elapsed:
        summary = diagnostics_service.run(
            session, store, as_of_utc=as_of, options=options, actor="bench", now=as_of
        )
        verdicts = ExceptionRepository(session).open_verdicts()
        run_s = elapsed()
    engine.dispose()
    faults = [
        json.loads(line)
        for line in (files / "ground_truth" / "faults.jsonl").read_text().splitlines()
    ]
    window_start = as_of - dt.timedelta(days=options.lookback_days)
    recorded_wrong = {
        str(f.get("meter_serial"))
        for f in faults
        if f["kind"] == "wrong_multiplier"
        and (f.get("parameters") or {}).get("recorded_at") == EXCHANGE_FAULT_DETAIL
    }
    return _Judged(
        verdicts=verdicts,
        truth=scoring.truth_pairs(faults, window_start_utc=window_start, as_of_utc=as_of),
        present=scoring.truth_pairs(
            faults, window_start_utc=window_start, as_of_utc=as_of, detectable_only=False
        ),
        faults=faults,
        summary=summary,
        run_s=run_s,
        incidents=len(incidents),
        lookalikes=installed - recorded_wrong,
    )


QUALITY_SEED = 67
"""Seed of the county quality territory: not used while developing (the rules were developed
on counties of seeds 41 and 43 at × 40; seed 37, the previous evaluation seed, was analysed
while developing, so it is retired)."""
QUALITY_SCALE = 30
"""Fault-rate multiplier of the quality territory: not used while developing (× 40 was)."""
QUALITY_CT_SCALE = 4
"""Multiplier of the two standing CT-site shares (see :func:`_quality_rates`)."""
EXCHANGE_SPAN = (16, 18)
"""Local days (from the start) of the quality territory's CT-rated exchanges: the run at
06:00 on day 28 with a 21-day window (complete days 8-27) sees each with more than
``scoring.EXCHANGE_SIDE_DAYS`` (8) of the window on each side; the middle of the days that
qualify (15-19), so outage days on either side leave the detector its seven complete days
as often as they can."""


def _quality_rates() -> FaultRates:
    """Fault rates × :data:`QUALITY_SCALE`, the standing CT-site shares × :data:`QUALITY_CT_SCALE`.

    At × 30 the wrong-ratio share (3 % → 90 %) and the CT-polarity share (2 % → 60 %) would
    give nearly every CT-rated site a standing CT fault, and the simulator exchanges only
    clean sites: × 4 (12 % and 8 %) leaves about four fifths of them clean for the exchanges.
    """
    base = FaultRates()
    return replace(
        base.scaled(QUALITY_SCALE),
        wrong_multiplier_share=base.wrong_multiplier_share * QUALITY_CT_SCALE,
        ct_polarity_share=base.ct_polarity_share * QUALITY_CT_SCALE,
    )


def _cause_figure(judged: _Judged, cause: str, kind: str, label: str, where: str) -> Figure:
    """Recall of the visible faults of one cause, with the precision in the note."""
    verdicts, truth, present = judged.verdicts, judged.truth, judged.present
    said = verdicts.filter(pl.col("cause") == cause).select("serial_number", "cause").unique()
    right = said.join(present, on=["serial_number", "cause"]).height
    visible = truth.filter(pl.col("cause") == cause)
    found = visible.join(said, on=["serial_number", "cause"]).height
    everyone = present.filter(pl.col("cause") == cause).height
    recall = 100.0 * found / max(1, visible.height)
    precision = 100.0 * right / max(1, said.height)
    by_kind = verdicts.filter(pl.col("kind") == kind).height
    return Figure(
        AREA,
        f"{label}: recall of the visible",
        recall,
        "%",
        note=f"{found} of {visible.height} visible ({everyone} present at the run); "
        f"precision {precision:.0f} % ({right} of {said.height} verdicts naming "
        f"{cause}); {by_kind} {kind} exceptions; {where}",
    )


QUALITY_SERVICE_POINTS_ENV = "METEROPS_BENCH_DIAGNOSTICS_SPS"
"""Environment variable overriding the county quality territory's size (default 20,000;
quick 5,000). 50,000 was killed for memory at 22.5 GB after its ingest on a 23 GB machine."""


def _quality(ctx: BenchContext) -> list[Figure]:
    service_points = int(os.environ.get(QUALITY_SERVICE_POINTS_ENV) or ctx.scale(20_000, 5_000))
    days = 28
    n_exchanges = ctx.scale(12, 4)
    judged = _judge(
        ctx,
        "quality",
        seed=QUALITY_SEED,
        rates=_quality_rates(),
        place="county",
        service_points=service_points,
        exchanges=(n_exchanges, n_exchanges, *EXCHANGE_SPAN),
    )
    verdicts, truth, present = judged.verdicts, judged.truth, judged.present
    summary, run_s = judged.summary, judged.run_s
    scores = scoring.score_verdicts(verdicts, truth, present=present)
    commonest = {
        kind: Counter(group["cause"].to_list()).most_common(1)[0][0]
        for (kind,), group in verdicts.group_by("kind")
    }
    naive = verdicts.with_columns(pl.col("kind").replace_strict(commonest).alias("cause"))
    naive_scores = scoring.score_verdicts(naive, truth, present=present)

    def macro(frame: pl.DataFrame) -> float:
        mean = frame.select(pl.col("f1").fill_null(0.0).mean()).item()
        return float(mean or 0.0)

    faulty = (
        verdicts.filter(pl.col("kind") == "non_communicating")
        .join(truth.rename({"cause": "true_cause"}), on="serial_number")
        .filter(pl.col("true_cause").is_in(list(NON_COMM_CAUSES)))
    )
    right = faulty.filter(pl.col("cause") == pl.col("true_cause"))["serial_number"].n_unique()
    noncomm_share = 100.0 * right / max(1, faulty["serial_number"].n_unique())
    no_visit = verdicts.filter(
        pl.col("action").is_in([ActionKind.REMOTE.value, ActionKind.BACK_OFFICE.value])
    ).height
    visits = scoring.visits_judged(verdicts, present)
    right_visits = 100.0 * visits.select(pl.col("right").cast(pl.Float64).sum()).item()
    right_visits /= max(1, visits.height)
    wrong = ", ".join(
        f"{cause} for {true or 'no fault'} {n}"
        for cause, true, n in visits.filter(~pl.col("right"))
        .group_by("cause", "true_causes")
        .len()
        .sort("len", descending=True)
        .head(4)
        .iter_rows()
    )
    per_cause = ", ".join(
        f"{r['cause']} {r['f1']:.2f}" if r["f1"] is not None else f"{r['cause']} n/a"
        for r in scores.iter_rows(named=True)
    )
    where = (
        f"county seed {QUALITY_SEED}, {service_points:,} SPs, faults ×{QUALITY_SCALE} "
        f"(CT shares ×{QUALITY_CT_SCALE}), {days} d"
    )
    note = f"{where}; {verdicts.height} exceptions; F1 per cause: {per_cause}"
    multiplier = scores.filter(pl.col("cause") == "wrong_multiplier")
    mult = multiplier.row(0, named=True) if multiplier.height else None
    lookalike_flagged = verdicts.filter(
        pl.col("serial_number").is_in(sorted(judged.lookalikes))
        & (pl.col("cause") == "wrong_multiplier")
    )["serial_number"].n_unique()

    def num(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}"

    multiplier_note = (
        "no wrong_multiplier fault visible and no verdict naming it"
        if mult is None
        else f"precision {num(mult['precision'])}, recall {num(mult['recall'])} "
        f"({mult['true_positives']} found, {mult['false_positives']} false, "
        f"{mult['false_negatives']} missed)"
    )
    return [
        Figure(
            AREA,
            "verdict macro-F1 (scored causes)",
            macro(scores),
            "",
            baseline=macro(naive_scores),
            baseline_name="kind-only triage",
            goal=">= 0.90",
            met=macro(scores) >= 0.90,
            note=note,
        ),
        Figure(
            AREA,
            "non-comm verdicts naming the true cause",
            noncomm_share,
            "%",
            goal=">= 95 %",
            met=noncomm_share >= 95.0,
            note=f"{faulty['serial_number'].n_unique()} non-comm meters with a known fault",
        ),
        Figure(
            AREA,
            "verdicts acted on without a visit",
            100.0 * no_visit / max(1, verdicts.height),
            "%",
            note=f"remote or back-office; run took {run_s:.1f} s incl. store reads; "
            f"found {summary.found}; {judged.incidents} outage incidents recorded before",
        ),
        Figure(
            AREA,
            "visits sent with the right skill and parts",
            right_visits,
            "%",
            goal=">= 90 %",
            met=right_visits >= 90.0,
            note=f"{visits.height} field verdicts; the skill and parts of the order type "
            "the true cause needs (scoring.VISIT_NEEDS) at that service; wrong: "
            f"{wrong or 'none'}",
        ),
        Figure(
            AREA,
            "wrong multiplier at an exchange: F1",
            float(mult["f1"]) if mult is not None and mult["f1"] is not None else float("nan"),
            "",
            note=f"{multiplier_note}; {n_exchanges} exchanges recorded with a wrong "
            f"multiplier and {n_exchanges} look-alikes (right multiplier, the customer leaves "
            f"that day) placed on days {EXCHANGE_SPAN[0]}-{EXCHANGE_SPAN[1]}; look-alikes "
            f"called wrong_multiplier: {lookalike_flagged} of {len(judged.lookalikes)}; "
            f"standing wrong ratios count for precision only; {where}",
        ),
        _cause_figure(
            judged, "crossed_meters", "crossed_meters", "crossed meters (pair signature)", where
        ),
    ]


def _rare(ctx: BenchContext) -> list[Figure]:
    """Bypasses without tamper events and crossed meters, each on a town where it is common.

    On the quality territory too few of them are visible for a figure. Bypasses: seed 17
    (not used while developing), fault rates × 40 with 5 times the thefts, none leaving a
    tamper event. Swaps: seed 19 (not used while developing), fault rates × 40 with up to
    400 crossed pairs per 1,000 meters (a swap shows only when one of its premises goes
    vacant inside the window). Apart, because a bypass at a swapped premise registers on the
    partner meter, which the ground truth does not name.
    """
    base = FaultRates().scaled(40)
    scenarios = (
        (
            "bare-bypass",
            17,
            replace(
                base,
                theft_per_meter_year=FaultRates().theft_per_meter_year * 200,
                theft_tamper_event_share=0.0,
            ),
            "bypass_theft",
            "consumption_drop",
            "bypasses without a tamper event (consumption drop)",
        ),
        (
            "swaps",
            19,
            replace(base, crossed_pairs_per_1000=400.0),
            "crossed_meters",
            "crossed_meters",
            "crossed meters (pair signature)",
        ),
    )
    figures = []
    for name, seed, rates, cause, kind, label in scenarios:
        judged = _judge(ctx, name, seed=seed, rates=rates)
        figures.append(_cause_figure(judged, cause, kind, label, f"small_town seed {seed}"))
    return figures


# -- run time -------------------------------------------------------------------------------


def _meter_context(world: World, as_of: dt.date) -> pl.DataFrame:
    frames = fleet_frames(world, as_of=as_of)
    meters = frames["meters"]
    points = frames["service_points"].select(
        "service_point_number", "transformer_code", pl.col("transformer_rated").cast(pl.Boolean)
    )
    transformers = frames["transformers"].select("transformer_code", "feeder_code")
    accounts = (
        frames["accounts"]
        .with_columns(pl.col("move_out_date").cast(pl.String))
        .filter(pl.col("move_out_date").is_null() | (pl.col("move_out_date") > as_of.isoformat()))
        .select(
            "service_point_number",
            "rate_code",
            pl.col("net_metering").cast(pl.Boolean),
            pl.col("move_in_date").cast(pl.String).str.to_date().alias("account_opened_on"),
        )
        .unique("service_point_number")
    )
    closed = (
        frames["accounts"]
        .with_columns(pl.col("move_out_date").cast(pl.String))
        .filter(pl.col("move_out_date") <= as_of.isoformat())
        .group_by("service_point_number")
        .agg(pl.col("move_out_date").max().str.to_date().alias("account_closed_on"))
    )
    located = (
        frames["service_points"]
        .select("service_point_number", "premise_number")
        .join(
            frames["premises"].select(
                "premise_number",
                pl.col("latitude").cast(pl.Float64),
                pl.col("longitude").cast(pl.Float64),
            ),
            on="premise_number",
        )
    )
    return (
        meters.join(points, on="service_point_number", how="left")
        .join(transformers, on="transformer_code", how="left")
        .join(accounts, on="service_point_number", how="left")
        .join(closed, on="service_point_number", how="left")
        .join(located, on="service_point_number", how="left")
        .select(
            pl.col("serial_number").cast(pl.Int64).alias("meter_id"),
            "serial_number",
            "vendor",
            "model",
            "firmware_revision",
            "program_code",
            pl.col("ct_ratio").cast(pl.Float64),
            pl.col("transformer_rated").fill_null(value=False),
            pl.col("bidirectional").cast(pl.Boolean),
            pl.col("register_digits").cast(pl.Int32),
            "service_point_number",
            "transformer_code",
            "feeder_code",
            pl.col("rate_code").is_not_null().alias("account_active"),
            pl.col("net_metering").fill_null(value=False),
            "rate_code",
            pl.col("installed_at")
            .cast(pl.String)
            .str.slice(0, 4)
            .cast(pl.Int32, strict=False)
            .alias("install_year"),
            "account_closed_on",
            "latitude",
            "longitude",
            "account_opened_on",
        )
        .filter(pl.col("service_point_number").is_not_null())
        .select(METER_CONTEXT.names)
    )


def _stored(frame: pl.DataFrame) -> pl.DataFrame:
    """A parsed head-end frame as the store returns it (serials as meter ids)."""
    return frame.with_columns(
        pl.col("serial_number").cast(pl.Int64).alias("meter_id"),
        pl.lit(0, pl.Int64).alias("source_file_id"),
        pl.lit(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)).cast(UTC_DATETIME).alias("received_at_utc"),
    ).drop("serial_number", "source_line", strict=False)


def _county_inputs(
    ctx: BenchContext, sample: int
) -> tuple[DiagnosticInputs, float, list[tuple[int, dt.datetime, float, int]]]:
    days = ctx.scale(14, 7)
    scenario = county(
        seed=7,
        service_points=ctx.scale(50_000, 5_000),
        start=START,
        faults=FaultRates().scaled(5),
        horizon_days=days,
    )
    world = World(scenario, keep_days=1)
    daily, last, voltage = [], [], []
    events, comm, registers, collectors = [], [], [], []
    summarise_s = 0.0
    raw: list[pl.DataFrame] = []
    serials = world.territory.meters["serial_number"].to_list()[:sample]
    sampled = [int(serial) for serial in serials]

    def sink(chunk: pl.DataFrame) -> None:
        nonlocal summarise_s
        reads = _stored(
            chunk.select(
                "serial_number",
                "channel",
                "interval_start_utc",
                "interval_s",
                "value",
                "quality_flags",
            )
        )
        with timed() as elapsed:
            daily.append(summarise_intervals(reads, zone=ZONE))
            last.append(last_read_times(reads.filter(pl.col("channel") == "kwh_delivered")))
            summarise_s += elapsed()
        voltage.append(reads.filter(pl.col("channel").is_in(["voltage_min_v", "voltage_max_v"])))
        raw.append(
            reads.filter(
                (pl.col("channel") == "kwh_delivered") & pl.col("meter_id").is_in(sampled)
            ).select("meter_id", "interval_start_utc", "value", "quality_flags")
        )

    for day in world.iter_days(0, days, sink=sink):
        events.append(_stored(day.events))
        comm.append(_stored(day.comm_stats))
        registers.append(_stored(day.register_reads))
        collectors.append(day.collector_status.select("node_id", "observed_at_utc", "status"))
    as_of = dt.datetime.combine(START + dt.timedelta(days=days), dt.time(11), tzinfo=dt.UTC)
    last_frame = pl.concat(last).group_by("meter_id").agg(pl.col("last_read_utc").max())
    inputs = DiagnosticInputs(
        meters=_meter_context(world, START + dt.timedelta(days=days - 1)),
        daily=pl.concat(daily)
        .group_by("meter_id", "day")
        .agg(pl.all().sum())
        .sort("meter_id", "day"),
        last_reads=last_frame,
        voltage_reads=pl.concat(voltage, rechunk=True),
        registers=pl.concat(registers, rechunk=True),
        events=pl.concat(events, rechunk=True),
        comm_stats=pl.concat(comm, rechunk=True),
        collectors=pl.concat(collectors),
        window_start_utc=as_of - dt.timedelta(days=days),
        as_of_utc=as_of,
        zone=ZONE,
    )
    return inputs, summarise_s, list(pl.concat(raw).iter_rows())


def _naive(
    reads: list[tuple[int, dt.datetime, float, int]],
    inputs: DiagnosticInputs,
    meters: list[int],
    params: DetectParams,
) -> int:
    """Four detectors, one meter at a time in plain Python, from the raw interval reads."""
    zone = ZoneInfo(ZONE)
    by_meter: dict[int, list[tuple[dt.datetime, float, int]]] = defaultdict(list)
    for meter, start, value, flags in reads:
        by_meter[meter].append((start, value, flags))
    tamper_codes = {"3.12.0.257", "3.12.17.257", "3.12.29.212", "3.12.66.257"}
    tampers: dict[int, int] = Counter(
        m
        for m, code in inputs.events.select("meter_id", "cim_event_type").iter_rows()
        if code in tamper_codes
    )
    active = dict(inputs.meters.select("meter_id", "account_active").iter_rows())
    last_day = inputs.last_day
    found = 0
    for meter in meters:
        days: dict[dt.date, list[float]] = defaultdict(lambda: [0.0, 0])
        last: dt.datetime | None = None
        for start, value, flags in by_meter.get(meter, []):
            day = start.astimezone(zone).date()
            if not flags & 8:  # POWER_OUTAGE
                days[day][0] += value
            days[day][1] += 1
            end = start + dt.timedelta(minutes=15)
            last = end if last is None or end > last else last
        if (
            last is None
            or (inputs.as_of_utc - last).total_seconds() / 3600 >= params.non_comm_hours
        ):
            found += 1
        rows = sorted((d, kwh, n) for d, (kwh, n) in days.items())
        recent = [r for r in rows if (last_day - r[0]).days < params.zero_days]
        if (
            active.get(meter)
            and len(recent) == params.zero_days
            and all(r[2] >= 48 for r in recent)
            and sum(r[1] for r in recent) <= params.zero_kwh
        ):
            found += 1
        if tampers.get(meter, 0) >= params.tamper_events:
            found += 1
        new = [r[1] for r in rows if (last_day - r[0]).days < params.recent_days]
        old = [r[1] for r in rows if (last_day - r[0]).days >= params.recent_days]
        if len(old) >= params.baseline_days and sum(old) / len(old) > 0.5 and new:
            ratio = (sum(new) / len(new)) / (sum(old) / len(old))
            if ratio >= params.high_bill_ratio:
                found += 1
    return found


def _run_time(ctx: BenchContext) -> list[Figure]:
    sample_size = ctx.scale(2_000, 500)
    inputs, summarise_s, raw = _county_inputs(ctx, sample_size)
    params = DetectParams()
    steps: list[tuple[str, float]] = []
    clock = [time.perf_counter()]

    def step(name: str) -> None:
        now = time.perf_counter()
        steps.append((name, now - clock[0]))
        clock[0] = now

    with timed() as elapsed:
        exceptions = detect_exceptions(inputs, params=params, on_step=step)
        facts = meter_facts(inputs, exceptions, params=params)
        step("facts")
        verdicts = diagnose(exceptions, facts)
        step("verdicts")
        core_s = elapsed()
    slowest = ", ".join(f"{name} {s:.1f} s" for name, s in sorted(steps, key=lambda x: -x[1])[:5])
    meters = inputs.meters["meter_id"].to_list()
    sample = sorted({row[0] for row in raw})
    with timed() as elapsed:
        _naive(raw, inputs, sample, params)
        naive_s = elapsed() * len(meters) / max(1, len(sample))
    n = len(meters)
    total = core_s + summarise_s
    days = (inputs.as_of_utc - inputs.window_start_utc).days
    return [
        Figure(
            AREA,
            f"diagnose {n:,} meters × {days} d (summaries, 13 detectors, verdicts)",
            n / total,
            "meters/s",
            baseline=n / naive_s,
            baseline_name="per-meter Python loop over raw reads, 4 detectors (sampled)",
            note=f"{total:.1f} s ({summarise_s:.1f} s daily summaries of the interval reads, "
            f"{core_s:.1f} s detectors, facts and {verdicts.height:,} verdicts); "
            f"{inputs.voltage_reads.height:,} voltage reads; slowest steps: {slowest}",
        ),
    ]


SECTIONS_ENV = "METEROPS_BENCH_DIAGNOSTICS"
"""Environment variable naming the sections to run, comma-separated (``quality``, ``rare``,
``run_time``, ``metro_day``; unset: all), e.g. ``METEROPS_BENCH_DIAGNOSTICS=quality,rare
make bench AREAS=diagnostics`` to re-measure the evaluation without the metro day."""


def run(ctx: BenchContext) -> list[Figure]:
    """Quality against the ground truth, the rarer faults, the county run time, a metro day."""
    sections = {
        "quality": _quality,
        "rare": _rare,
        "run_time": _run_time,
        "metro_day": _metro_day,
    }
    chosen = [s.strip() for s in os.environ.get(SECTIONS_ENV, "").split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(sections))
    if unknown:
        raise ValueError(f"{SECTIONS_ENV}: unknown section(s) {unknown}; known: {list(sections)}")
    figures: list[Figure] = []
    for name, section in sections.items():
        if not chosen or name in chosen:
            figures += section(ctx)
    return figures


# -- metro day: stored inputs to verdicts written ---------------------------------------------

_METRO_BUILDER = 1
"""Bump when the way the cached metro inputs are built changes."""


def _metro_key(seed: int, meters: int, days: int) -> str:
    """Cache key: seed, size, the builder's version and the simulator's committed tree.

    The simulator's code decides the data; the git tree id of ``src/meterops/simulator`` at
    ``HEAD`` names it (a digest of the files when git is not at hand). The database schema
    is brought up to date on each use (``migrate.upgrade`` of the copy), so migrations added
    since do not invalidate the cache.
    """
    repo = Path(__file__).resolve().parents[1]
    try:
        tree = subprocess.run(
            ["git", "rev-parse", "HEAD:src/meterops/simulator"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        digest = hashlib.sha256()
        for path in sorted((repo / "src" / "meterops" / "simulator").rglob("*.py")):
            digest.update(path.read_bytes())
        tree = digest.hexdigest()
    return f"metro-s{seed}-{meters}-{days}d-b{_METRO_BUILDER}-{tree[:12]}"


def _metro_folder(ctx: BenchContext, *, seed: int, meters: int, days: int) -> Path:
    """A metro territory's day(s) as a utility holds them, built once and cached.

    The fleet is imported through ``fleet.service`` into a SQLite database (``fleet.db``); the
    head-end's interval reads, register reads, events, comm stats and topology go straight
    into a read store (``reads/``, meter ids from the database, one committed source file per
    day and table), chunk by chunk so a day of a million meters never sits in memory. Cached
    under ``var/bench/diagnostics/`` (the harness's workdir is deleted after each run).
    """
    cache = Path(__file__).resolve().parents[1] / "var" / "bench" / "diagnostics"
    folder = cache / _metro_key(seed, meters, days)
    if (folder / "done").exists():
        return folder
    building = cache / f"{folder.name}.building"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    scenario = metro(
        seed=seed,
        service_points=meters,
        start=START,
        faults=FaultRates().scaled(5),
        horizon_days=days,
    )
    world = World(scenario, keep_days=1)
    arrived = dt.datetime.combine(START, dt.time(5), tzinfo=dt.UTC)
    fleet_dir = building / "fleet"
    write_fleet_files(world, fleet_dir, as_of=START)
    engine = make_engine(f"sqlite:///{building / 'fleet.db'}")
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    for kind in IMPORT_ORDER:
        if kind != "meter_programs" and not (fleet_dir / f"{kind}.csv").exists():
            continue  # a kind the simulator does not write
        with session_scope(sessions) as session:
            if kind == "meter_programs":
                data = (fleet_dir / "programs.yaml").read_bytes()
                fleet_service.import_programs(
                    session,
                    parse_programs_file(data, file="programs.yaml"),
                    actor="bench",
                    now=arrived,
                )
            else:
                path = fleet_dir / f"{kind}.csv"
                fleet_service.import_file(
                    session,
                    parse_fleet_csv(path.read_bytes(), file=path.name),
                    actor="bench",
                    default_timezone=ZONE,
                    now=arrived,
                )
    with session_scope(sessions) as session:
        ids = pl.DataFrame(
            session.execute(select(Meter.serial_number, Meter.id)).all(),
            schema={"serial_number": pl.String, "meter_id": pl.Int64},
            orient="row",
        )
    engine.dispose()
    shutil.rmtree(fleet_dir)
    store = ReadStore(str(building / "reads"))

    contracts = {
        Table.INTERVAL_READS: schema.INTERVAL_READS,
        Table.REGISTER_READS: schema.REGISTER_READS,
        Table.EVENTS: schema.EVENTS,
        Table.COMM_STATS: schema.COMM_STATS,
        Table.TOPOLOGY: schema.TOPOLOGY,
    }

    def stored(frame: pl.DataFrame, table: Table, file_id: int, received: dt.datetime) -> int:
        columns = contracts[table].schema
        rows = (
            frame.join(ids, on="serial_number")
            .with_columns(
                pl.lit(file_id, pl.Int64).alias("source_file_id"),
                pl.lit(received).cast(UTC_DATETIME).alias("received_at_utc"),
            )
            .with_columns(
                *(
                    pl.lit(None, dtype).alias(name)
                    for name, dtype in columns.items()
                    if name not in frame.columns
                    and name not in {"meter_id", "source_file_id", "received_at_utc"}
                )
            )
            .select(columns.names())
            .cast(columns)
        )
        return store.append_rows(table, rows, source_file_id=file_id)

    commits: list[FileCommit] = []
    tables = (Table.INTERVAL_READS, Table.REGISTER_READS, Table.EVENTS, Table.COMM_STATS)
    for index in range(days):
        received = dt.datetime.combine(START + dt.timedelta(days=index + 1), dt.time(7))
        received = received.replace(tzinfo=dt.UTC)
        file_ids = {table: 10 * (index + 1) + n for n, table in enumerate(tables)}
        file_ids[Table.TOPOLOGY] = 10 * (index + 1) + len(tables)
        counts = dict.fromkeys(file_ids, 0)

        def sink(
            chunk: pl.DataFrame,
            counts: dict[Table, int] = counts,
            file_ids: dict[Table, int] = file_ids,
            received: dt.datetime = received,
        ) -> None:
            table = Table.INTERVAL_READS
            counts[table] += stored(chunk, table, file_ids[table], received)

        for day in world.iter_days(index, 1, sink=sink):
            for table, frame in (
                (Table.REGISTER_READS, day.register_reads),
                (Table.EVENTS, day.events),
                (Table.COMM_STATS, day.comm_stats),
            ):
                counts[table] += stored(frame, table, file_ids[table], received)
            topology = pl.concat([day.topology, day.collector_status], how="diagonal_relaxed")
            columns = contracts[Table.TOPOLOGY].schema
            counts[Table.TOPOLOGY] += store.append_rows(
                Table.TOPOLOGY,
                topology.with_columns(
                    pl.lit(file_ids[Table.TOPOLOGY], pl.Int64).alias("source_file_id"),
                    pl.lit(received).cast(UTC_DATETIME).alias("received_at_utc"),
                )
                .select(columns.names())
                .cast(columns),
                source_file_id=file_ids[Table.TOPOLOGY],
            )
        commits += [
            FileCommit(
                file_ids[table],
                "bench",
                f"{table.value}-{index}",
                "headend_csv",
                received,
                {"accepted": counts[table]},
            )
            for table in file_ids
        ]
    store.commit_files(commits)
    (building / "done").write_text(json.dumps({"meters": meters, "days": days, "seed": seed}))
    shutil.rmtree(folder, ignore_errors=True)
    building.rename(folder)
    return folder


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _metro_day(ctx: BenchContext) -> list[Figure]:
    """The daily pass over a metro territory: stored inputs to verdicts written, twice.

    Timed: ``diagnostics.service.run`` and the commit — reading the fleet and account model
    and the recorded outages from the database, the window's interval reads (daily summaries,
    last reads, voltage), register reads, events, comm stats and topology from the read
    store, all detectors, facts and verdicts, and writing every exception with its verdict
    (first run: all opened; second run, same moment: all refreshed, none closed). Not timed:
    simulating the day and loading the store and the fleet (cached under ``var/``).
    """
    seed = 23
    meters = int(ctx.extras.get("metro_meters", ctx.scale(1_000_000, 50_000)))
    days = 1
    source = _metro_folder(ctx, seed=seed, meters=meters, days=days)
    folder = ctx.workdir / "metro"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "fleet.db", folder / "fleet.db")
    store = ReadStore(str(source / "reads"))
    engine = make_engine(f"sqlite:///{folder / 'fleet.db'}")
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    as_of = dt.datetime.combine(START + dt.timedelta(days=days), dt.time(11), tzinfo=dt.UTC)
    options = diagnostics_service.RunOptions(zone=ZONE)
    runs: list[tuple[float, float, float, diagnostics_service.RunSummary, str]] = []
    for _ in range(2):
        steps: list[tuple[str, float]] = []
        clock = [time.perf_counter()]

        def step(
            name: str, steps: list[tuple[str, float]] = steps, clock: list[float] = clock
        ) -> None:
            now = time.perf_counter()
            steps.append((name, now - clock[0]))
            clock[0] = now

        cpu = _cpu_s()
        with timed() as elapsed:
            clock[0] = time.perf_counter()
            with session_scope(sessions) as session:
                summary = diagnostics_service.run(
                    session,
                    store,
                    as_of_utc=as_of,
                    options=options,
                    actor="bench",
                    now=as_of,
                    on_step=step,
                )
            wall = elapsed()
        slowest = ", ".join(
            f"{name} {s:.1f} s" for name, s in sorted(steps, key=lambda x: -x[1])[:5]
        )
        runs.append((wall, _cpu_s() - cpu, os.getloadavg()[0], summary, slowest))
    engine.dispose()
    figures = []
    for label, (wall, cpu, load, summary, slowest) in zip(
        ("first run: all opened", "second run: all refreshed"), runs, strict=True
    ):
        found = sum(summary.found.values())
        figures.append(
            Figure(
                AREA,
                f"metro day, {summary.meters:,} meters × {days} d stored → verdicts written "
                f"({label})",
                wall,
                "s",
                baseline=runs[0][0] if label.startswith("second") else None,
                baseline_name="first run" if label.startswith("second") else None,
                goal="<= 60 s for 1,000,000 meters",
                met=wall <= 60.0 if summary.meters >= 1_000_000 else None,
                note=f"{cpu:.1f} CPU s, load average {load:.2f} after; {found:,} exceptions "
                f"({summary.opened:,} opened, {summary.refreshed:,} refreshed, "
                f"{summary.closed:,} closed); peak RSS {peak_rss_mb():,.0f} MB; "
                f"slowest steps: {slowest}",
            )
        )
    return figures
