"""The ``meterops diagnose`` commands: thin wrappers over the diagnostics services."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer
from rich.table import Table

from meterops.cli import context
from meterops.diagnostics.kinds import ExceptionKind

__all__ = ["app", "cohorts", "list_", "run", "show"]

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
    open_only: Annotated[bool, typer.Option("--open", help="Only open exceptions.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=5000, help="Rows to show.")] = 100,
) -> None:
    """List exceptions with their verdicts, newest first."""
    from meterops.diagnostics import service as diagnostics_service

    with context.session() as session:
        rows = diagnostics_service.list_exceptions(
            session, kind=kind, open_only=open_only, limit=limit
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


@app.command("show")
def show(serial: Annotated[str, typer.Argument(help="Meter serial number.")]) -> None:
    """A meter's exceptions, open and closed, with verdicts and evidence."""
    from meterops.diagnostics import service as diagnostics_service

    with context.session() as session:
        rows = diagnostics_service.meter_exceptions(session, serial)
        if not rows:
            context.console.print(f"meter {serial}: no exceptions")
        for row in rows:
            context.console.rule(
                f"{row.kind} · {row.status} · since {row.first_seen_utc:%Y-%m-%d %H:%M} UTC"
            )
            if row.closed_at_utc:
                context.console.print(
                    f"closed {row.closed_at_utc:%Y-%m-%d %H:%M}: {row.close_reason}"
                )
            context.console.print(
                f"[bold]{row.cause}[/] ({row.confidence}) → {row.action}"
                + (f" {row.order_type}" if row.order_type else "")
                + (f" {row.remote_command}" if row.remote_command else "")
                + (f" · order {row.work_order_number}" if row.work_order_number else "")
            )
            context.console.print(row.summary or "")
            context.console.print_json(
                json.dumps({"detector": row.evidence, "verdict": row.verdict_evidence}, default=str)
            )


@app.command("cohorts")
def cohorts(
    *,
    kind: Annotated[ExceptionKind | None, typer.Option(help="Only this kind.")] = None,
    min_size: Annotated[int, typer.Option(min=2, help="Smallest cohort tested.")] = 10,
    alpha: Annotated[float, typer.Option(min=0.0001, max=0.5, help="False-discovery rate.")] = 0.05,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also cohorts that do not stand out.")
    ] = False,
) -> None:
    """Meter cohorts over-represented among the open exceptions."""
    import polars as pl

    from meterops.diagnostics import service as diagnostics_service
    from meterops.timeutil import utc_now

    settings = context.settings()
    with context.session() as session:
        frame = diagnostics_service.run_cohorts(
            session,
            kind=kind,
            as_of_day=utc_now().astimezone(settings.zone).date(),
            min_size=min_size,
            alpha=alpha,
        )
    if not show_all:
        frame = frame.filter(pl.col("significant"))
    table = Table(title="Cohorts (exact binomial test, Benjamini-Hochberg)")
    for column in ("kind", "attribute", "value", "exceptions", "meters", "rate", "lift", "q"):
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
