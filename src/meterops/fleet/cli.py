"""``meterops fleet``: import fleet CSV files (and ``programs.yaml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from meterops.cli import context

app = typer.Typer(
    help="Fleet master data: bulk import of documented CSV files.", no_args_is_help=True
)

_PROGRAM_FILES = ("programs.yaml", "programs.yml")


def _collect(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(path.glob("*.csv"))
            files += [path / name for name in _PROGRAM_FILES if (path / name).exists()]
        elif path.exists():
            files.append(path)
        else:
            raise typer.BadParameter(f"{path} does not exist", param_hint="PATH")
    return files


def _kind(item: object) -> str:
    from meterops.fleet.parse import ParsedFleetFile

    return item.kind.name if isinstance(item, ParsedFleetFile) else "meter_programs"


@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(help="CSV files or folders of them.")],
    actor: Annotated[str, typer.Option(help="Who imports (journal and audit).")] = "cli",
) -> None:
    """Import fleet files in dependency order; each file whole or not at all.

    Every bad row is reported with file, line and field. Importing the same file again
    changes nothing.
    """
    from meterops.fleet import service as fleet_service
    from meterops.fleet.parse import ParsedFleetFile, parse_fleet_csv
    from meterops.fleet.programs import ProgramsFile, parse_programs_file
    from meterops.fleet.spec import HISTORY_KINDS, IMPORT_ORDER
    from meterops.timeutil import utc_now

    files = _collect(paths)
    settings = context.settings()
    parsed: list[ParsedFleetFile | ProgramsFile] = []
    with context.progress(transient=True) as bar:
        task = bar.add_task("reading", total=len(files))
        for file in files:
            data = file.read_bytes()
            if file.name in _PROGRAM_FILES:
                parsed.append(parse_programs_file(data, file=file.name))
            else:
                parsed.append(parse_fleet_csv(data, file=file.name))
            bar.advance(task)
    order = (*IMPORT_ORDER, *HISTORY_KINDS)
    parsed.sort(key=lambda item: order.index(_kind(item)))

    table = Table(title="fleet import")
    for column in ("file", "kind", "rows", "created", "updated", "unchanged"):
        table.add_column(column, justify="right" if column not in ("file", "kind") else "left")
    with context.progress() as bar:
        task = bar.add_task("importing", total=len(parsed))
        for item in parsed:
            bar.update(task, description=f"importing {item.file}")
            with context.session() as session:
                if isinstance(item, ProgramsFile):
                    report = fleet_service.import_programs(
                        session, item, actor=actor, now=utc_now()
                    )
                else:
                    report = fleet_service.import_file(
                        session,
                        item,
                        actor=actor,
                        default_timezone=settings.utility_timezone,
                        now=utc_now(),
                    )
            note = " (same file as before)" if report.duplicate_file else ""
            table.add_row(
                report.file + note,
                report.kind,
                str(report.rows),
                str(report.created),
                str(report.updated),
                str(report.unchanged),
            )
            bar.advance(task)
    context.console.print(table)
