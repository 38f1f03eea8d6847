"""Meter-data commands: ``meterops ingest PATH...`` and ``meterops export greenbutton ACCOUNT``.

``ingest`` loads files into the read store, each file whole; ``export greenbutton`` writes one
customer's usage as a Green Button feed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from meterops.cli import context

if TYPE_CHECKING:
    from meterops.ingest.service import FileReport

_SHOWN_ISSUES = 10
_COUNT_COLUMNS = ("rows_in_file", "accepted", "late", "duplicate", "conflicting", "quarantined")


def _collect(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
            )
        elif path.is_file():
            files.append(path)
        else:
            raise typer.BadParameter(f"{path} does not exist", param_hint="PATH")
    return files


def _summary(reports: list[FileReport]) -> Table:
    table = Table(title="meter-data ingest")
    for column in ("file", "format", "status", *_COUNT_COLUMNS, "rejected"):
        table.add_column(
            column.replace("_in_file", ""),
            justify="left" if column in ("file", "format", "status") else "right",
        )
    for report in reports:
        counts = report.counts.as_dict()
        status = report.status.value
        if report.refused:
            status = f"[red]{status}[/]"
        table.add_row(
            report.file_name,
            report.format or "-",
            status,
            *(f"{counts[name]:,}" for name in (*_COUNT_COLUMNS, "rejected")),
        )
    return table


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (searched recursively).")],
    format_id: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="Format of every file (cmep, headend_csv, cim, espi, nem12); default: sniffed.",
        ),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict/--lenient",
            help="--strict (default) refuses a file with any parse issue; --lenient stores its "
            "good rows and counts the bad ones as rejected (kept in the quarantine).",
        ),
    ] = True,
    actor: Annotated[str, typer.Option(help="Who ingests (import journal).")] = "cli",
    rehash: Annotated[
        bool,
        typer.Option(
            "--rehash",
            help="Read and hash every file, also one whose inode, size and times are unchanged "
            "since it was journalled (by default such a file is known without reading it).",
        ),
    ] = False,
) -> None:
    """Ingest meter-data files: interval and register reads, events, comm stats, topology.

    Each file is stored whole or not at all; the same file or the same reads again add
    nothing; a different value for a stored read is kept as a conflict. Exit code 2 when a
    file was refused.
    """
    from meterops.db.engine import make_session_factory
    from meterops.ingest import service as ingest_service
    from meterops.reads.store import ReadStore
    from meterops.timeutil import utc_now

    files = _collect(paths)
    settings = context.settings()
    options = ingest_service.IngestOptions(
        format_id=format_id,
        strict=strict,
        zone=settings.zone,
        late_data_horizon_days=settings.late_data_horizon_days,
        future_tolerance_s=settings.future_tolerance_s,
        actor=actor,
        reuse_hashes=not rehash,
    )
    with context.progress() as bar:
        task = bar.add_task("ingesting", total=len(files))
        reports = ingest_service.ingest_files(
            make_session_factory(context.engine()),
            ReadStore(settings.reads_uri),
            files,
            options=options,
            clock=utc_now,
            on_file=lambda _: bar.advance(task),
        )
    context.console.print(_summary(reports))
    for report in reports:
        if report.message and report.refused:
            context.err_console.print(f"[red]{report.file_name}[/]: {report.message}")
        for issue in report.issues[:_SHOWN_ISSUES]:
            context.err_console.print(f"  {issue}", highlight=False)
        if len(report.issues) > _SHOWN_ISSUES:
            context.err_console.print(f"  … and {len(report.issues) - _SHOWN_ISSUES} more")
    if any(report.refused for report in reports):
        raise typer.Exit(code=2)


def register(app: typer.Typer) -> None:
    """Add the top-level ``ingest`` command."""
    app.command("ingest")(ingest)


export_app = typer.Typer(help="Export meter data in exchange formats.", no_args_is_help=True)


@export_app.command("greenbutton")
def export_greenbutton(
    account: Annotated[str, typer.Argument(help="Account number.")],
    *,
    from_date: Annotated[
        dt.datetime,
        typer.Option("--from", formats=["%Y-%m-%d"], help="First local day (YYYY-MM-DD)."),
    ],
    to_date: Annotated[
        dt.datetime,
        typer.Option("--to", formats=["%Y-%m-%d"], help="Last local day, included."),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the feed to this file (default: standard output)."),
    ] = None,
) -> None:
    """Export one account's interval usage as a Green Button (ESPI) Atom feed.

    Current values (estimates and edits marked with ESPI quality codes) of every meter
    installed at the account's service point, clipped to the account's move-in and move-out
    days. Local days are in the utility's time zone.
    """
    from meterops.ingest import export
    from meterops.reads.store import ReadStore
    from meterops.timeutil import utc_now

    settings = context.settings()
    with context.session() as session:
        result = export.export_greenbutton(
            session,
            ReadStore(settings.reads_uri),
            account,
            first_day=from_date.date(),
            last_day=to_date.date(),
            zone=settings.zone,
            now=utc_now(),
        )
    summary = (
        f"account {result.account_number}: {result.reads:,} interval reads of "
        f"{', '.join(result.meters)} at usage point {result.usage_point}"
    )
    if out is None:
        typer.echo(result.xml.decode("utf-8"), nl=False)
        context.err_console.print(summary, highlight=False)
    else:
        out.write_bytes(result.xml)
        context.console.print(f"{summary} → {out}", highlight=False)


def register_export(app: typer.Typer) -> None:
    """Add the ``export`` command group (``export greenbutton``)."""
    app.add_typer(export_app, name="export")
