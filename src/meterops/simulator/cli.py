"""``meterops simulate``: build a seeded utility and write the files it would have.

Mount with ``register(app)`` in ``cli/main.py``. Heavy imports happen inside the command.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register", "simulate"]

_STATS_DAYS = 7
_TEXT_LIMIT = 200_000
"""Above this many meters the text files are refused (use --frames)."""


def _rates(scale: float | None, overrides: list[str], no_faults: bool) -> object:
    from meterops.errors import InvalidInputError
    from meterops.simulator.params import FaultRates

    rates = FaultRates()
    if no_faults:
        rates = dataclasses.replace(rates.scaled(0.0), tou_misprogram=False)
    if scale is not None:
        rates = rates.scaled(scale)
    names = {f.name: f.type for f in dataclasses.fields(FaultRates)}
    for item in overrides:
        name, _, value = item.partition("=")
        if name not in names or not value:
            msg = f"--rate expects name=value with a name of {sorted(names)}; found {item!r}"
            raise InvalidInputError(msg, code="simulator.bad_rate")
        parsed: object = (
            value.lower() in ("1", "true", "yes") if name == "tou_misprogram" else float(value)
        )
        rates = dataclasses.replace(rates, **{name: parsed})  # type: ignore[arg-type]
    return rates


def simulate(
    *,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every random draw (required).")],
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario",
            help="small_town (about 2,000 meters), county (50,000) or metro (1,000,000).",
        ),
    ] = "small_town",
    days: Annotated[int, typer.Option("--days", min=1, help="Local days to simulate.")] = 30,
    start: Annotated[
        str | None,
        typer.Option(
            "--start", help="First local day, YYYY-MM-DD (default: the scenario's, 2026-07-01)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Folder to write fleet/, headend/, greenbutton/, ground_truth/ into."
        ),
    ] = None,
    stats: Annotated[
        bool,
        typer.Option(
            "--stats", help=f"Print the realism table (over the first {_STATS_DAYS} days)."
        ),
    ] = False,
    events_format: Annotated[
        str, typer.Option("--events-format", help="cim (EndDeviceEvents XML) or csv (event CSV).")
    ] = "cim",
    frames: Annotated[
        bool,
        typer.Option(
            "--frames",
            help="Write the PARSED_* frames as Parquet instead of the head-end files (for "
            "scale: interval reads chunk by chunk).",
        ),
    ] = False,
    service_points: Annotated[
        int | None,
        typer.Option("--service-points", min=10, help="Override the scenario's number of meters."),
    ] = None,
    fault_scale: Annotated[
        float | None, typer.Option("--fault-scale", min=0.0, help="Multiply every fault rate.")
    ] = None,
    rate: Annotated[
        list[str] | None,
        typer.Option(
            "--rate",
            help="Override one fault rate, e.g. --rate theft_per_meter_year=0.01 "
            "(repeatable; see FaultRates).",
        ),
    ] = None,
    no_faults: Annotated[
        bool, typer.Option("--no-faults", help="Turn every fault off (vacancies remain).")
    ] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Threads per day.")] = 1,
) -> None:
    """Simulate a utility's AMI fleet and write the files a head-end and back office export."""
    import polars as pl
    from rich.table import Table

    from meterops.cli.context import console, progress
    from meterops.errors import InvalidInputError
    from meterops.simulator.days import DayOutput
    from meterops.simulator.engine import simulate_days
    from meterops.simulator.output import write_simulation
    from meterops.simulator.scenarios import SCENARIOS
    from meterops.simulator.stats import (
        DaySummary,
        daily_usage,
        realism_table,
        summarize_day,
    )
    from meterops.simulator.world import World

    if scenario not in SCENARIOS:
        msg = f"unknown scenario {scenario!r}; choose one of {sorted(SCENARIOS)}"
        raise InvalidInputError(msg, code="simulator.unknown_scenario")
    options: dict[str, object] = {
        "seed": seed,
        "faults": _rates(fault_scale, rate or [], no_faults),
    }
    if start is not None:
        try:
            options["start"] = dt.date.fromisoformat(start)
        except ValueError as error:
            msg = f"--start expects YYYY-MM-DD; found {start!r}"
            raise InvalidInputError(msg, code="simulator.bad_start") from error
    if service_points is not None:
        options["service_points"] = service_points
    options["horizon_days"] = max(days, 365)
    chosen = SCENARIOS[scenario](**options)
    if out is not None and not frames and chosen.territory.service_points > _TEXT_LIMIT:
        msg = (
            f"{chosen.territory.service_points:,} meters are too many for the text files "
            "(a day would have to be held whole); use --frames"
        )
        raise InvalidInputError(msg, code="simulator.too_large_for_text")
    console.print(
        f"building [bold]{scenario}[/] (seed {seed}): "
        f"{chosen.territory.service_points:,} service points …"
    )
    world = World(chosen, keep_days=1)
    kept: list[DaySummary] = []
    usage: list[pl.DataFrame] = []

    def take(reads: pl.DataFrame) -> None:
        if stats and len(kept) < _STATS_DAYS:
            usage.append(daily_usage(reads))

    with progress() as bar:
        task = bar.add_task("simulating days", total=days)

        def tick(output: DayOutput) -> None:
            if stats and len(kept) < _STATS_DAYS:
                day_usage = pl.concat(usage) if usage else None
                kept.append(summarize_day(output, day_usage))
                usage.clear()
            bar.advance(task)

        if out is not None:
            summary = write_simulation(
                world,
                out,
                days=days,
                events_format=events_format,
                frames=frames,
                workers=workers,
                on_day=tick,
                on_chunk=take if frames else None,
            )
            reads, events, truth = summary.interval_reads, summary.events, summary.ground_truth_rows
        else:
            result = simulate_days(
                world, days=days, workers=workers, on_day=tick, keep=False, sink=take
            )
            reads, events, truth = 0, 0, result.ground_truth.height
    if out is not None:
        console.print(
            f"wrote {len(summary.files):,} files to {out}: {reads:,} interval reads, "
            f"{events:,} events, {truth:,} ground-truth faults"
        )
    else:
        console.print(
            f"simulated {days} days; {truth:,} ground-truth faults (use --out to write files)"
        )
    if stats:
        table = Table(title=f"realism: {scenario}, seed {seed}, first {len(kept)} days")
        for column in ("figure", "simulated", "public figure"):
            table.add_column(column)
        for figure, value, reference in realism_table(world, kept).iter_rows():
            table.add_row(figure, f"{value:,.3g}" if value < 100 else f"{value:,.0f}", reference)
        console.print(table)


def register(app: typer.Typer) -> None:
    """Add the top-level ``simulate`` command to the root CLI."""
    app.command("simulate")(simulate)
