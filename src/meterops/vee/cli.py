"""The ``meterops vee`` commands: thin wrappers over the vee services."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from meterops.cli import context

if TYPE_CHECKING:
    from meterops.reads.store import ReadStore

__all__ = ["app", "edit", "rules", "run"]

app = typer.Typer(
    help="Validate, estimate and edit interval reads (VEE).",
    no_args_is_help=True,
)


@app.command("run")
def run(
    *,
    from_date: Annotated[
        dt.datetime,
        typer.Option("--from", formats=["%Y-%m-%d"], help="First local day (YYYY-MM-DD)."),
    ],
    to_date: Annotated[
        dt.datetime,
        typer.Option("--to", formats=["%Y-%m-%d"], help="Last local day, included."),
    ],
    meter: Annotated[
        list[str] | None,
        typer.Option("--meter", help="Only this meter serial number (repeatable)."),
    ] = None,
    rules_file: Annotated[
        Path | None,
        typer.Option("--rules", help="Rule set YAML (default: the packaged rule set)."),
    ] = None,
    group_meters: Annotated[
        int, typer.Option(min=1, help="Meters validated together (bounds memory).")
    ] = 5_000,
    executor: Annotated[
        str,
        typer.Option(
            help="Where groups run: here (one after another, least memory), inprocess, "
            "local (a process pool) or spark (local[N] or the configured cluster).",
        ),
    ] = "here",
    workers: Annotated[int, typer.Option(min=1, help="Processes of the local executor.")] = 2,
) -> None:
    """Validate and estimate the interval reads of local days; write flags and estimates.

    Flags and estimate versions are written only where they change, so running the same
    window again writes nothing new. Prints what each rule found and what was estimated.
    """
    from meterops.errors import InvalidInputError
    from meterops.scale.run import EXECUTORS
    from meterops.timeutil import utc_now
    from meterops.vee.ruleset import load_rule_set
    from meterops.vee.service import run_vee

    if executor != "here" and executor not in EXECUTORS:
        choices = ", ".join(["here", *EXECUTORS])
        raise InvalidInputError(
            f"--executor {executor!r} is not one of {choices}", details={"field": "executor"}
        )
    settings = context.settings()
    rule_set = load_rule_set(rules_file)
    store = _store()
    with context.session() as session, context.progress() as bar:
        task = bar.add_task("validating meters", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        summary = run_vee(
            session,
            store,
            first_day=from_date.date(),
            last_day=to_date.date(),
            zone=settings.zone,
            now=utc_now(),
            serials=meter or None,
            rule_set=rule_set,
            actor="cli",
            group_meters=group_meters,
            on_group=advance,
            executor=next((e for e in EXECUTORS if e == executor), None),
            workers=workers,
        )
    table = Table(
        title=(
            f"VEE {summary.first_day} to {summary.last_day} · rule set {summary.rule_set_version}"
            f" · {summary.meters:,} meters · {summary.reads_validated:,} reads validated"
        )
    )
    table.add_column("rule")
    table.add_column("version", justify="right")
    table.add_column("flag")
    table.add_column("intervals", justify="right")
    table.add_column("meters", justify="right")
    for result in summary.report.rules:
        table.add_row(
            result.rule_id,
            str(result.version),
            result.flag,
            f"{result.intervals:,}",
            f"{len(result.meter_ids):,}",
        )
    context.console.print(table)
    estimates = ", ".join(f"{m} {n:,}" for m, n in summary.report.estimates) or "none"
    context.console.print(f"estimated: {estimates}")
    context.console.print(
        f"written: {summary.flag_rows_written:,} flag rows, "
        f"{summary.versions_written:,} estimate versions"
    )


@app.command("edit")
def edit(
    serial: Annotated[str, typer.Argument(help="Meter serial number.")],
    *,
    channel: Annotated[str, typer.Option(help="Channel, e.g. kwh_delivered.")],
    at: Annotated[
        str,
        typer.Option(help="Interval start (ISO; without an offset it is utility time)."),
    ],
    value: Annotated[float, typer.Option(help="New value in the channel's unit.")],
    reason: Annotated[
        str | None, typer.Option(help="Reason code (see `meterops vee edit --help`).")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Who edits (default: the login name).")] = None,
    note: Annotated[str | None, typer.Option(help="Free text kept in the audit log.")] = None,
) -> None:
    """Store a manual edit of one interval as a new version (reason code required).

    Reason codes: meter_exchange, multiplier_correction, customer_read, field_read,
    test_mode_data, clock_correction, outage_adjustment, crossed_meter, rebill,
    manual_estimate, accepted_as_actual.
    """
    import getpass

    from meterops.timeutil import localize, utc_now
    from meterops.vee.service import edit_interval

    settings = context.settings()
    try:
        moment = dt.datetime.fromisoformat(at)
    except ValueError as error:
        raise typer.BadParameter(
            f"{at!r} is not an ISO date-time such as 2024-03-05T14:00", param_hint="--at"
        ) from error
    if moment.tzinfo is None:
        moment = localize(moment, settings.zone, ambiguous="earliest")
    who = actor if actor is not None else getpass.getuser()
    with context.session() as session:
        result = edit_interval(
            session,
            _store(),
            serial=serial,
            channel=channel,
            at_utc=moment,
            value=value,
            reason_code=reason,
            actor=who,
            now=utc_now(),
            note=note,
        )
    local = result.interval_start_utc.astimezone(settings.zone)
    previous = "none" if result.previous_value is None else f"{result.previous_value:g}"
    context.console.print(
        f"meter {serial} {channel} {local:%Y-%m-%d %H:%M %Z}: {previous} -> {result.value:g} "
        f"(version {result.version}, replaces {result.parent_version}, reason {reason}, "
        f"by {who})"
    )


@app.command("rules")
def rules(
    rules_file: Annotated[
        Path | None,
        typer.Option("--rules", help="Rule set YAML (default: the packaged rule set)."),
    ] = None,
) -> None:
    """Print the active rule set as YAML (every rule, enabled or not, with its thresholds)."""
    from meterops.vee.ruleset import dump_rule_set, load_rule_set

    rule_set = load_rule_set(rules_file)
    context.console.print(f"# rule set {rule_set.version} from {rule_set.source}")
    context.console.print(dump_rule_set(rule_set), end="", markup=False, highlight=False)


def _store() -> ReadStore:
    from meterops.reads.store import ReadStore

    return ReadStore(context.settings().reads_uri)
