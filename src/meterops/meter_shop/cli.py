"""The ``meterops shop`` commands: thin wrappers over the meter_shop services."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from meterops.cli import context

app = typer.Typer(
    help="Meter accuracy tests (ANSI C12.20) and in-service testing programmes.",
    no_args_is_help=True,
)
lots_app = typer.Typer(
    help="In-service testing programme: lots, samples and decisions.", no_args_is_help=True
)
app.add_typer(lots_app, name="lots")

_FORMULA = typer.Option(
    help="Average formula: a name (weighted, mean_fl_ll, full_load, polyphase, "
    "north_dakota_polyphase) or a sum such as '4*FL + LL'."
)
_LOW = typer.Option(help="Lowest acceptable average registration (in-service tolerance). [%]")
_HIGH = typer.Option(help="Highest acceptable average registration (in-service tolerance). [%]")
_YEAR = typer.Option(help="Programme year (default: the newest planned).")


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


@app.command("import")
def import_(
    files: Annotated[list[Path], typer.Argument(help="Test-set result files (CSV).")],
    actor: Annotated[str, typer.Option(help="Who imports (journal and audit).")] = "cli",
    formula: Annotated[str, _FORMULA] = "weighted",
    low: Annotated[float, _LOW] = 98.0,
    high: Annotated[float, _HIGH] = 102.0,
) -> None:
    """Import test-set result files; each file whole or not at all.

    Reads the meterops test CSV and the WECO-style board export (docs/meter-shop.md). Every
    bad row is reported with file, line and field; the same file twice is stored once.
    """
    from meterops.meter_shop import service as shop_service
    from meterops.meter_shop.accuracy import AccuracyParams, InServiceTolerance, parse_formula
    from meterops.timeutil import utc_now

    params = AccuracyParams(formula=parse_formula(formula), tolerance=InServiceTolerance(low, high))
    settings = context.settings()
    table = Table(title="meter shop import")
    for column in ("file", "layout", "tests", "stored", "already stored", "verdicts"):
        table.add_column(column)
    for path in files:
        if not path.is_file():
            raise typer.BadParameter(f"{path} is not a file", param_hint="FILES")
        with context.session() as session:
            report = shop_service.import_test_file(
                session,
                path.read_bytes(),
                file=path.name,
                actor=actor,
                now=utc_now(),
                params=params,
                default_timezone=settings.utility_timezone,
            )
        note = " (same file as before)" if report.duplicate_file else ""
        verdicts = ", ".join(f"{k} {v}" for k, v in sorted(report.verdicts.items()))
        table.add_row(
            report.file + note,
            report.layout,
            str(report.tests),
            str(report.created),
            str(report.already_stored),
            verdicts,
        )
    context.console.print(table)


@app.command("tests")
def show_tests(
    serial: Annotated[str, typer.Argument(help="Meter serial number.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A meter's accuracy tests, newest first, with each test point."""
    from meterops.meter_shop import service as shop_service

    with context.session() as session:
        found = shop_service.list_tests(session, serial)
    if as_json:
        typer.echo(json.dumps([t.model_dump(mode="json") for t in found], indent=2))
        return
    if not found:
        context.console.print(f"meter {serial} has no accuracy tests")
        return
    for test in found:
        table = Table(
            title=(
                f"{serial} {test.tested_at_utc:%Y-%m-%d %H:%M} UTC, {test.location.value}, "
                f"{test.technician}: {test.verdict.value}"
            ),
            caption=(
                f"class {test.accuracy_class}, form {test.form} {test.current_class}; test set "
                f"{test.test_set_serial} (due {test.test_set_calibration_due_on}); "
                f"average {test.formula}: as found {_pct(test.as_found_average_pct)} %, "
                f"as left {_pct(test.as_left_average_pct)} %"
            ),
        )
        for column in ("stage", "point", "element", "registration %", "error %", "limit %", "ok"):
            table.add_column(column)
        for p in test.points:
            table.add_row(
                p.stage.value,
                p.point.value,
                p.element,
                f"{p.registration_pct:.3f}",
                f"{p.error_pct:+.3f}",
                f"±{p.limit_pct:g}",
                "yes" if p.passed else "NO",
            )
        context.console.print(table)


@lots_app.command("plan")
def lots_plan(  # noqa: PLR0917 - Typer passes options by keyword
    year: Annotated[int, typer.Option(help="Programme year to plan.")],
    plan: Annotated[
        str, typer.Option(help="Sampling plan: 'variables' (Z1.9-style) or 'fixed'.")
    ] = "variables",
    aql: Annotated[float, typer.Option(help="AQL of the variables plan. [%]")] = 2.5,
    sample_pct: Annotated[float, typer.Option(help="Share of each lot (fixed plan). [%]")] = 2.0,
    min_sample: Annotated[int, typer.Option(help="Smallest sample (fixed plan).")] = 10,
    max_failing_pct: Annotated[
        float, typer.Option(help="Largest failing share of a sample (fixed plan). [%]")
    ] = 5.0,
    low: Annotated[float, _LOW] = 98.0,
    high: Annotated[float, _HIGH] = 102.0,
    seed: Annotated[int | None, typer.Option(help="Seed of the draw (default: the year).")] = None,
    actor: Annotated[str, typer.Option(help="Who plans (audit).")] = "cli",
) -> None:
    """Group meters in service into lots and draw each lot's sample (seeded)."""
    from meterops.meter_shop import sampling
    from meterops.meter_shop import service as shop_service
    from meterops.meter_shop.accuracy import InServiceTolerance
    from meterops.timeutil import utc_now

    tolerance = InServiceTolerance(low, high)
    chosen: sampling.VariablesPlan | sampling.FixedPercentagePlan
    if plan == "variables":
        chosen = sampling.VariablesPlan(aql_pct=aql, tolerance=tolerance)
    elif plan == "fixed":
        chosen = sampling.FixedPercentagePlan(
            sample_pct=sample_pct,
            min_sample=min_sample,
            max_failing_pct=max_failing_pct,
            tolerance=tolerance,
        )
    else:
        raise typer.BadParameter("use 'variables' or 'fixed'", param_hint="--plan")
    with context.session() as session:
        report = shop_service.plan_lots(
            session,
            year=year,
            plan=chosen,
            seed=year if seed is None else seed,
            actor=actor,
            now=utc_now(),
        )
    context.console.print(
        f"programme {report.programme_year}: {report.lots} lots of {report.meters} meters, "
        f"{report.sampled} meters to test ({report.plan}, seed {report.seed})"
    )


@lots_app.command("status")
def lots_status(year: Annotated[int | None, _YEAR] = None) -> None:
    """Judge every lot of a programme year from the tests made so far."""
    from meterops.meter_shop import service as shop_service

    with context.session() as session:
        lots = shop_service.update_lot_status(session, year=year)
    table = Table(title=f"in-service testing {lots[0].programme_year}")
    for column in ("lot", "size", "n", "k", "tested", "mean %", "s %", "outside", "decision"):
        table.add_column(column)
    for lot in lots:
        table.add_row(
            lot.lot_key,
            str(lot.lot_size),
            str(lot.sample_size),
            "" if lot.k is None else f"{lot.k:g}",
            str(lot.tested),
            _pct(lot.mean_registration_pct),
            _pct(lot.std_registration_pct),
            str(lot.outside_tolerance),
            lot.decision,
        )
    context.console.print(table)


@lots_app.command("samples")
def lots_samples(year: Annotated[int | None, _YEAR] = None) -> None:
    """The meters to test, per lot in test order, and which are tested."""
    from meterops.meter_shop import service as shop_service

    with context.session() as session:
        rows = shop_service.sample_list(session, year=year)
    table = Table(title="sampled meters")
    for column in ("lot", "order", "serial", "tested"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.lot_key, str(row.sample_order), row.serial_number, "yes" if row.tested else ""
        )
    context.console.print(table)


@lots_app.command("replacements")
def lots_replacements(year: Annotated[int | None, _YEAR] = None) -> None:
    """Meters of rejected lots, one serial number per line (lot key after a tab)."""
    from meterops.meter_shop import service as shop_service

    with context.session() as session:
        rows = shop_service.replacements(session, year=year)
    for row in rows:
        typer.echo(f"{row.serial_number}\t{row.lot_key}")
