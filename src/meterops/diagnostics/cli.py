"""The ``meterops diagnostics`` commands: thin wrappers over the diagnostics services."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from meterops.cli import context
from meterops.diagnostics.kinds import Cause, ExceptionKind
from meterops.diagnostics.schemas import CauseFilter

__all__ = ["app", "cohorts", "evaluate", "explain", "list_", "run", "show"]

app = typer.Typer(
    help="Exceptions, root-cause verdicts and fleet cohort analysis.",
    no_args_is_help=True,
)


def _as_of(text: str | None) -> dt.datetime:
    from meterops.timeutil import localize, utc_now

    if text is None:
        return utc_now()
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as error:
        raise typer.BadParameter(
            f"{text!r} is not an ISO date-time such as 2026-07-20T06:00 or 2026-07-20T11:00Z"
        ) from error
    if moment.tzinfo is None:
        return localize(moment, context.settings().zone, ambiguous="earliest")
    return moment.astimezone(dt.UTC)


@app.command("run")
def run(
    *,
    as_of: Annotated[
        str | None,
        typer.Option(help="Judge as of this moment (ISO; local wall time without offset)."),
    ] = None,
    lookback_days: Annotated[int, typer.Option(min=7, max=60, help="Days of data read.")] = 21,
    non_comm_hours: Annotated[
        float, typer.Option(min=1, help="Hours without a read that make a non-comm.")
    ] = 24.0,
    work_orders: Annotated[
        bool,
        typer.Option(
            "--work-orders/--no-work-orders", help="Create work orders for field verdicts."
        ),
    ] = False,
) -> None:
    """Detect exceptions, give each a verdict and keep the exception store."""
    from meterops.diagnostics import service as diagnostics_service
    from meterops.diagnostics.params import DetectParams
    from meterops.dispatch import wiring as dispatch_wiring
    from meterops.reads.store import ReadStore
    from meterops.timeutil import utc_now

    settings = context.settings()
    moment = _as_of(as_of)
    options = diagnostics_service.RunOptions(
        zone=settings.utility_timezone,
        lookback_days=lookback_days,
        params=DetectParams(non_comm_hours=non_comm_hours),
        create_work_orders=work_orders,
        workorder_policy=dispatch_wiring.policy(settings),
    )
    steps = ["load", *[k.value for k in ExceptionKind], "verdicts", "store"]
    with context.progress() as bar, context.session() as session:
        task = bar.add_task("diagnosing", total=len(steps))
        summary = diagnostics_service.run(
            session,
            ReadStore(settings.reads_uri),
            as_of_utc=moment,
            options=options,
            actor="cli",
            now=utc_now(),
            on_step=lambda _: bar.advance(task),
        )
    table = Table(title=f"Diagnostics as of {summary.as_of_utc:%Y-%m-%d %H:%M} UTC")
    table.add_column("exception kind")
    table.add_column("found", justify="right")
    for kind in ExceptionKind:
        table.add_row(kind.value, str(summary.found.get(kind.value, 0)))
    context.console.print(table)
    context.console.print(
        f"{summary.meters:,} meters; {summary.opened} opened, {summary.refreshed} still open, "
        f"{summary.closed} closed as recovered"
    )
    causes = ", ".join(f"{k} {v}" for k, v in sorted(summary.causes.items()))
    context.console.print(f"verdicts: {causes or 'none'}")
    if work_orders:
        context.console.print(
            f"work orders: {summary.orders_created} created, {summary.orders_existing} already "
            f"active, refused {summary.orders_refused or 'none'}"
        )


@app.command("list")
def list_(
    *,
    kind: Annotated[ExceptionKind | None, typer.Option(help="Only this kind.")] = None,
    cause: Annotated[
        CauseFilter | None,
        typer.Option(help="Only verdicts naming this cause ('none': exceptions without one)."),
    ] = None,
    min_confidence: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Only verdicts at least this sure.")
    ] = None,
    territory: Annotated[str | None, typer.Option(help="Only meters of this territory.")] = None,
    min_age_days: Annotated[
        float | None, typer.Option(min=0.0, help="Only exceptions first seen this long ago.")
    ] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only open exceptions.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=5000, help="Rows to show.")] = 100,
) -> None:
    """List exceptions with their verdicts, newest first (every filter narrows)."""
    from meterops.diagnostics import service as diagnostics_service
    from meterops.diagnostics.schemas import cause_filter
    from meterops.timeutil import utc_now

    with context.session() as session:
        rows = diagnostics_service.list_exceptions(
            session,
            kind=kind,
            cause=cause_filter(cause.value if cause else None),
            min_confidence=min_confidence,
            territory=territory,
            min_age_days=min_age_days,
            open_only=open_only,
            limit=limit,
            as_of_utc=utc_now(),
        )
        table = Table()
        for column in ("id", "meter", "kind", "status", "since", "cause", "conf.", "action"):
            table.add_column(column)
        for row, serial in rows:
            action = str(row.action or "")
            if row.order_type:
                action += f": {row.order_type}"
            elif row.remote_command:
                action += f": {row.remote_command}"
            table.add_row(
                str(row.id),
                serial,
                str(row.kind),
                str(row.status),
                f"{row.first_seen_utc:%Y-%m-%d %H:%M}",
                str(row.cause or ""),
                f"{row.confidence:.2f}" if row.confidence is not None else "",
                action,
            )
    context.console.print(table)


@app.command("explain")
def explain(
    serial: Annotated[str, typer.Argument(help="Meter serial number.")],
    *,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A meter's verdicts in plain words: cause, confidence, evidence, action (open first)."""
    from dataclasses import asdict

    from meterops.diagnostics import service as diagnostics_service

    with context.session() as session:
        found = diagnostics_service.explain(session, serial)
    if as_json:
        context.console.print_json(
            json.dumps(
                {"serial_number": serial, "exceptions": [asdict(e) for e in found]}, default=str
            )
        )
        return
    if not found:
        context.console.print(f"meter {serial}: no exceptions")
    for item in found:
        context.console.rule(
            f"{item.kind} · {item.status} · since {item.first_seen_utc:%Y-%m-%d %H:%M} UTC, "
            f"latest evidence {item.last_seen_utc:%Y-%m-%d %H:%M} UTC"
        )
        if item.closed:
            context.console.print(item.closed)
        confidence = f"{item.confidence:.0%}" if item.confidence is not None else "-"
        context.console.print(f"cause: [bold]{item.cause or '-'}[/] (confidence {confidence})")
        context.console.print(item.summary, markup=False)
        context.console.print("evidence:")
        for fact in item.evidence:
            when = f" at {fact.time_utc:%Y-%m-%d %H:%M} UTC" if fact.time_utc else ""
            test = f" (rule: {fact.test})" if fact.test else ""
            context.console.print(f"  {fact.name} = {fact.value}{when}{test}", markup=False)
        if item.action == "field":
            action = (
                f"field visit: {item.order_type}, skill {item.skill}, "
                f"parts {', '.join(item.parts) or 'none'}"
            )
        elif item.action == "remote":
            action = f"remote: {item.remote_command}"
        else:
            action = str(item.action or "-").replace("_", " ")
        if item.work_order_number:
            action += f" · order {item.work_order_number}"
        context.console.print(f"action: {action}", markup=False)


@app.command("show", hidden=True)
def show(serial: Annotated[str, typer.Argument(help="Meter serial number.")]) -> None:
    """Alias of ``explain`` (kept for scripts)."""
    explain(serial, as_json=False)


@app.command("evaluate")
def evaluate(
    *,
    truth: Annotated[
        Path,
        typer.Option(
            exists=True,
            dir_okay=False,
            readable=True,
            help="The simulator's ground-truth file (ground_truth/faults.jsonl).",
        ),
    ],
    as_of: Annotated[
        str | None,
        typer.Option(help="The run judged (ISO; default: the latest run that changed the store)."),
    ] = None,
    lookback_days: Annotated[
        int, typer.Option(min=7, max=60, help="Days of data the run read.")
    ] = 21,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Score the open verdicts against a simulator's ground truth (for test territories)."""
    from meterops.diagnostics import service as diagnostics_service
    from meterops.diagnostics.scoring import read_truth

    try:
        text = truth.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise typer.BadParameter(f"{truth} is not UTF-8 text: {error}") from error
    faults = read_truth(text, file=str(truth))
    with context.session() as session:
        result, moment = diagnostics_service.evaluate(
            session,
            faults,
            as_of_utc=_as_of(as_of) if as_of is not None else None,
            lookback_days=lookback_days,
        )
    if as_json:
        context.console.print_json(
            json.dumps({"as_of_utc": moment.isoformat(), **result.to_dict()}, default=str)
        )
        return

    def share(value: float | None) -> str:
        return f"{value:.1%}" if value is not None else "n/a"

    def number(value: float | None) -> str:
        return f"{value:.2f}" if value is not None else "n/a"

    table = Table(title=f"Verdicts as of {moment:%Y-%m-%d %H:%M} UTC against {truth.name}")
    for column in ("cause", "TP", "FP", "FN", "precision", "recall", "F1"):
        table.add_column(column, justify="left" if column == "cause" else "right")
    for row in result.scores.iter_rows(named=True):
        table.add_row(
            row["cause"],
            str(row["true_positives"]),
            str(row["false_positives"]),
            str(row["false_negatives"]),
            number(row["precision"]),
            number(row["recall"]),
            number(row["f1"]),
        )
    context.console.print(table)
    confusion = result.confusion
    predicted = sorted(set(confusion["predicted_cause"].to_list()))
    matrix = Table(title="Confusion matrix (meters; rows: true cause, columns: verdict)")
    matrix.add_column("true \\ verdict")
    for cause in predicted:
        matrix.add_column(cause, justify="right")
    cells = {(t, p): n for t, p, n in confusion.iter_rows()}
    for true_cause in sorted(set(confusion["true_cause"].to_list())):
        matrix.add_row(true_cause, *[str(cells.get((true_cause, p), "")) for p in predicted])
    context.console.print(matrix)
    context.console.print(f"macro-F1: {number(result.macro_f1)}")
    context.console.print(
        f"exceptions resolved without a visit: {share(result.without_visit)} of {result.exceptions}"
    )
    right = int(result.visits["right"].sum()) if result.visits.height else 0
    context.console.print(
        f"visits with the right skill and parts: {share(result.right_visits)} "
        f"({right} of {result.visits.height} visits; {result.field_verdicts} field verdicts, "
        "collector work counted once per collector)"
    )


@app.command("cohorts")
def cohorts(
    *,
    kind: Annotated[ExceptionKind | None, typer.Option(help="Only this kind.")] = None,
    cause: Annotated[
        Cause | None, typer.Option(help="Only exceptions whose verdict names this cause.")
    ] = None,
    meters: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="Instead of the open exceptions: the meters listed in this file (one serial "
            "per line, or a CSV with a serial_number column), e.g. the meters of complaints.",
        ),
    ] = None,
    label: Annotated[str, typer.Option(help="Name of the --meters set in the table.")] = "listed",
    min_size: Annotated[int, typer.Option(min=2, help="Smallest cohort tested.")] = 10,
    alpha: Annotated[float, typer.Option(min=0.0001, max=0.5, help="False-discovery rate.")] = 0.05,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also cohorts that do not stand out.")
    ] = False,
) -> None:
    """Meter cohorts over-represented among the open exceptions (or a list of meters).

    Attributes: vendor, model, firmware, program, collector, transformer, feeder, install
    batch (lot), install month, installer, rate, firmware × program.
    """
    import polars as pl

    from meterops.diagnostics import service as diagnostics_service
    from meterops.diagnostics.cohorts import read_meter_list
    from meterops.reads.store import ReadStore
    from meterops.timeutil import utc_now

    settings = context.settings()
    listed = (
        read_meter_list(meters.read_text(encoding="utf-8"), name=meters.name)
        if meters is not None
        else None
    )
    with context.session() as session:
        frame = diagnostics_service.run_cohorts(
            session,
            kind=kind,
            cause=cause,
            listed=listed,
            label=label,
            as_of_day=utc_now().astimezone(settings.zone).date(),
            zone=settings.zone,
            store=ReadStore(settings.reads_uri),
            min_size=min_size,
            alpha=alpha,
        )
    if not show_all:
        frame = frame.filter(pl.col("significant"))
    table = Table(title="Cohorts (exact binomial test, Benjamini-Hochberg)")
    for column in ("set", "attribute", "value", "flagged", "meters", "rate", "lift", "q"):
        table.add_column(column)
    for row in frame.head(50).iter_rows(named=True):
        table.add_row(
            row["kind"],
            row["attribute"],
            row["value"],
            str(row["cohort_exceptions"]),
            str(row["cohort_meters"]),
            f"{row['cohort_rate']:.1%}",
            f"{row['lift']:.1f}×",
            f"{row['q_value']:.2g}",
        )
    context.console.print(table)
    if frame.is_empty():
        context.console.print("no cohort stands out")
