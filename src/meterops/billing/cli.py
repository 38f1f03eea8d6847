"""The ``meterops highbill`` commands: thin wrappers over the billing service."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from meterops.cli import context

app = typer.Typer(
    help="High-bill investigations: what changed between two bills, and why; the letter.",
    no_args_is_help=True,
)

_DATE = "%Y-%m-%d"


def _day(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value is not None else None


@app.command("explain")
def explain(  # noqa: PLR0917
    account: Annotated[str, typer.Argument(help="Account number.")],
    from_: Annotated[
        dt.datetime, typer.Option("--from", formats=[_DATE], help="First day of the bill.")
    ],
    to: Annotated[
        dt.datetime, typer.Option("--to", formats=[_DATE], help="Last day of the bill (included).")
    ],
    compare_from: Annotated[
        dt.datetime | None,
        typer.Option(formats=[_DATE], help="First day to compare with (default: a year before)."),
    ] = None,
    compare_to: Annotated[
        dt.datetime | None, typer.Option(formats=[_DATE], help="Last day to compare with.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the letter as PDF here.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write the letter as HTML here.")] = None,
    weather: Annotated[
        Path | None,
        typer.Option(help="Weather file (date,temperature_c|f); default: the territory's."),
    ] = None,
    unit: Annotated[str, typer.Option(help="Temperature unit of the letter: F or C.")] = "F",
    as_json: Annotated[bool, typer.Option("--json", help="Print the evidence as JSON.")] = False,
) -> None:
    """Explain an account's bill against an earlier period; write the customer letter.

    Prints the verdict and the technician's evidence (checks, weather model, the split of the
    change into days, weather and use); --out writes the one-page PDF letter, --html the
    same letter as a web page.
    """
    from meterops.billing import service as billing_service
    from meterops.billing.compare import BillingPeriod
    from meterops.billing.letter_html import render_letter_html
    from meterops.reads.store import ReadStore
    from meterops.timeutil import utc_now

    if unit not in {"F", "C"}:
        raise typer.BadParameter("use F or C", param_hint="--unit")
    if (compare_from is None) != (compare_to is None):
        raise typer.BadParameter("give both --compare-from and --compare-to, or neither")
    settings = context.settings()
    current = BillingPeriod(from_.date(), to.date())
    previous = (
        BillingPeriod(compare_from.date(), compare_to.date())
        if compare_from is not None and compare_to is not None
        else None
    )
    with context.session() as session:
        result = billing_service.explain_account(
            session,
            ReadStore(settings.reads_uri),
            account_number=account,
            current=current,
            previous=previous,
            zone=settings.zone,
            weather_dir=settings.data_dir / "weather",
            weather_file=weather,
        )
    today = utc_now().astimezone(settings.zone).date()
    letter = result.letter(today=today, unit="F" if unit == "F" else "C")
    if out is not None:
        from meterops.billing.letter import render_pdf

        out.write_bytes(render_pdf(letter))
    if html is not None:
        html.write_text(render_letter_html(letter), encoding="utf-8")
    if as_json:
        context.console.print_json(json.dumps(result.as_dict()))
        return
    verdict = result.verdict
    context.console.print(f"[bold]{verdict.cause.value}[/]: {verdict.summary}")
    table = Table(title=f"checks for account {account}")
    for column in ("check", "status", "finding"):
        table.add_column(column)
    for finding in result.findings:
        table.add_row(finding.code, finding.status.value, finding.message)
    context.console.print(table)
    c = result.comparison
    context.console.print(
        f"change {c.change_kwh:+.0f} kWh = days {c.days_kwh:+.0f} + weather "
        f"{c.weather_kwh:+.0f} + use {c.use_kwh:+.0f}; normalised change "
        f"{c.normalized_change_pct:+.1f} % (model {c.model.method}, R² {c.model.r_squared:.2f})"
    )
    for sentence in letter.sentences:
        context.console.print(f"  {sentence}")
    for written in (out, html):
        if written is not None:
            context.console.print(f"letter written to {written}")


@app.command("weather-import")
def weather_import(
    file: Annotated[Path, typer.Argument(help="Weather file: date,temperature_c (or _f).")],
    territory: Annotated[str, typer.Option(help="Territory code the weather is for.")],
) -> None:
    """Check a territory's daily weather file and keep it for investigations.

    Every bad row is reported with file, line and field; the file is kept only when whole.
    """
    from meterops.billing import service as billing_service
    from meterops.billing.weather import parse_weather_csv, write_weather_csv

    if not file.is_file():
        raise typer.BadParameter(f"{file} is not a file", param_hint="FILE")
    frame = parse_weather_csv(file.read_bytes(), file=file.name)
    target = billing_service.weather_path(context.settings().data_dir / "weather", territory)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(write_weather_csv(frame))
    days = frame["day"].to_list()
    context.console.print(f"{frame.height} days ({days[0]} to {days[-1]}) kept in {target}")
