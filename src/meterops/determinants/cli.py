"""The ``meterops determinants`` commands: thin wrappers over the determinants services."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import polars as pl
import typer
from rich.table import Table

from meterops.cli import context

if TYPE_CHECKING:
    from meterops.determinants.service import DeterminantsRun

__all__ = ["app", "compare", "run"]

app = typer.Typer(
    help="Billing determinants: TOU energy, demand, net metering; TOU register comparison.",
    no_args_is_help=True,
)

_FROM = typer.Option("--from", formats=["%Y-%m-%d"], help="First local day (YYYY-MM-DD).")
_TO = typer.Option("--to", formats=["%Y-%m-%d"], help="Last local day, included.")
_SHOWN = 20


def _num(value: object, digits: int = 1) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _write(frame: pl.DataFrame, out: Path) -> None:
    if out.suffix == ".parquet":
        frame.write_parquet(out)
    elif out.suffix == ".csv":
        frame.write_csv(out)
    else:
        msg = f"--out {out}: the file name must end with .parquet or .csv"
        raise typer.BadParameter(msg)


@app.command()
def run(  # noqa: PLR0917
    from_date: Annotated[dt.datetime, _FROM],
    to_date: Annotated[dt.datetime, _TO],
    serial: Annotated[str | None, typer.Option("--meter", help="Only this meter serial.")] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Write the determinants per billing period to FILE.parquet or .csv."),
    ] = None,
    tou_out: Annotated[
        Path | None,
        typer.Option(help="Write the determinants per TOU period to FILE.parquet or .csv."),
    ] = None,
    window: Annotated[int, typer.Option(help="Demand window, in minutes.")] = 15,
    subinterval: Annotated[
        int, typer.Option(help="Rolling-demand sub-interval, in minutes; 0: block demand only.")
    ] = 5,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Compute billing determinants (TOU energy, demand, net metering) per billing period."""
    from functools import partial

    from meterops.determinants import service
    from meterops.determinants.engine import DeterminantParams
    from meterops.determinants.runner import StreamParams
    from meterops.reads.store import ReadStore

    settings = context.settings()
    params = DeterminantParams(
        zone=settings.zone.key,
        demand_window_min=window,
        demand_subinterval_min=subinterval or None,
    )
    for name, target in (("--out", out), ("--tou-out", tou_out)):
        if target is not None and target.suffix not in (".parquet", ".csv"):
            msg = f"{name} {target}: the file name must end with .parquet or .csv"
            raise typer.BadParameter(msg)
    with context.session() as session, context.progress() as bar:
        task = bar.add_task("meters", total=None)
        result = service.run_determinants(
            session,
            partial(ReadStore, settings.reads_uri),
            first_day=from_date.date(),
            last_day=to_date.date(),
            zone=settings.zone,
            serial=serial,
            params=params,
            stream=StreamParams(workers=workers),
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if out is not None:
        _write(result.by_period, out)
    if tou_out is not None:
        _write(result.by_tou, tou_out)
    context.console.print(_summary(result, f"{from_date:%Y-%m-%d} to {to_date:%Y-%m-%d}"))
    if serial is not None:
        context.console.print(_tou_table(result.by_tou))
    if out is not None:
        context.console.print(f"{result.by_period.height:,} billing periods written to {out}")


def _summary(result: DeterminantsRun, label: str) -> Table:
    p = result.by_period
    table = Table(title=f"billing determinants · {label}")
    for name in ("", "value"):
        table.add_column(name, justify="right" if name else "left")
    nem = p.filter(pl.col("net_metering"))
    rows = [
        ("meters", f"{result.meters:,}"),
        ("billing periods", f"{p.height:,}"),
        ("intervals used", f"{result.reads_used:,}"),
        ("missing intervals", f"{int(p['missing_intervals'].sum()):,}"),
        ("estimated intervals", f"{int(p['estimated_intervals'].sum()):,}"),
        ("delivered (billed)", f"{_num(p['delivered_kwh'].sum())} kWh"),
        ("received (billed)", f"{_num(p['received_kwh'].sum())} kWh"),
        ("net-metered periods", f"{nem.height:,}, net {_num(nem['net_kwh'].sum())} kWh"),
        ("largest block demand", f"{_num(p['block_demand_kw'].max())} kW"),
        ("largest rolling demand", f"{_num(p['rolling_demand_kw'].max())} kW"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _tou_table(by_tou: pl.DataFrame) -> Table:
    table = Table(title="by TOU period")
    columns = (
        "period start",
        "schedule",
        "TOU period",
        "delivered kWh",
        "received kWh",
        "net kWh",
        "block kW",
        "rolling kW",
    )
    for name in columns:
        table.add_column(name)
    for r in by_tou.iter_rows(named=True):
        table.add_row(
            f"{r['period_start_utc']:%Y-%m-%d %H:%M}Z",
            r["schedule_key"] or "",
            r["tou_period"],
            _num(r["delivered_kwh"], 2),
            _num(r["received_kwh"], 2),
            _num(r["net_kwh"], 2),
            _num(r["block_demand_kw"], 2),
            _num(r["rolling_demand_kw"], 2),
        )
    return table


@app.command()
def compare(
    from_date: Annotated[dt.datetime, _FROM],
    to_date: Annotated[dt.datetime, _TO],
    serial: Annotated[str | None, typer.Option("--meter", help="Only this meter serial.")] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="List every meter, not only those that disagree.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Write the per-meter summary to FILE.parquet or .csv.")
    ] = None,
) -> None:
    """List meters whose TOU registers disagree with the tariff's buckets (wrong program)."""
    from meterops.determinants import service
    from meterops.reads.store import ReadStore

    settings = context.settings()
    with context.session() as session, context.progress() as bar:
        task = bar.add_task("meters", total=None)
        report = service.register_check(
            session,
            ReadStore(settings.reads_uri),
            first_day=from_date.date(),
            last_day=to_date.date(),
            zone=settings.zone,
            serial=serial,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if out is not None:
        _write(report.summary, out)
    shown = report.summary if show_all else report.reported
    counts = dict(report.summary.group_by("status").len().iter_rows())
    table = Table(
        title=f"TOU registers against the tariff · {from_date:%Y-%m-%d} to {to_date:%Y-%m-%d}"
    )
    for name in ("meter", "status", "worst period", "difference", "best schedule", "summary"):
        table.add_column(name)
    for r in shown.head(_SHOWN if serial is None and not show_all else shown.height).iter_rows(
        named=True
    ):
        table.add_row(
            r["serial_number"],
            r["status"],
            r["worst_tou_period"] or "",
            "" if r["worst_difference_pct"] is None else f"{r['worst_difference_pct']:+.1f} %",
            r["best_schedule_key"] or "",
            r["summary"],
        )
    context.console.print(table)
    if shown.height > _SHOWN and serial is None and not show_all:
        context.console.print(f"… and {shown.height - _SHOWN:,} more (--out to get them all)")
    context.console.print(
        f"{report.summary.height:,} TOU meters checked: "
        + ", ".join(f"{counts[k]:,} {k}" for k in sorted(counts))
    )
