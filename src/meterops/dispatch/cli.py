"""The ``meterops routes`` commands: thin wrappers over the dispatch services.

``plan`` pings the waiting non-comm orders' meters first when a head-end is configured
(``--headend-url`` or ``METEROPS_HEADEND_URL``), then optimises the day, prints each
technician's day with times and the KPIs, and writes the routes as GeoJSON with ``--out``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from meterops.cli import context

if TYPE_CHECKING:
    from meterops.dispatch.schemas import DayPlanRead, PingReport

__all__ = [
    "app",
    "day_off",
    "dispatch",
    "insert",
    "ping",
    "plan",
    "print_plan",
    "reassign",
    "send_home",
    "show",
    "stock",
    "technicians",
]

app = typer.Typer(
    help="Technicians' days: plan, dispatch and change routes.",
    no_args_is_help=True,
)

ACTOR = "cli"

DateOption = Annotated[str, typer.Option("--date", help="Plan date (YYYY-MM-DD, local).")]
TerritoryOption = Annotated[
    str | None, typer.Option("--territory", help="Territory code (default: all).")
]
HeadEndOption = Annotated[
    str | None,
    typer.Option(
        "--headend-url",
        envvar="METEROPS_HEADEND_URL",
        help="Head-end service to ping meters through (default: none, no pings).",
    ),
]


def _day(text: str) -> dt.date:
    from meterops.errors import InvalidInputError

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        msg = f"--date: expected YYYY-MM-DD, got {text!r}"
        raise InvalidInputError(msg, code="cli.bad_date") from None


def print_plan(read: DayPlanRead) -> None:
    """Print a territory's day: each technician's timeline, the KPIs, what is left out."""
    out = context.console
    k = read.kpis
    out.print(
        f"[bold]{read.territory} · {read.plan_date}[/] · {read.status.value} · revision "
        f"{read.revision} · solved in {read.solver_seconds:.2f} s"
    )
    out.print(
        f"KPIs: {k.work_orders_served}/{k.work_orders} orders served in {k.orders_served} "
        f"stop(s) · {k.orders_left_out} stop(s) left out · "
        f"{k.technicians_used}/{k.technicians} technicians · {k.stops_per_technician:.1f} stops "
        f"per technician (max {k.max_stops_per_technician}) · drive-time share "
        f"{k.drive_time_share:.1%} · on-time share {k.on_time_share:.1%} · {k.drive_h:.1f} h "
        f"driving · {k.distance_km:.1f} km",
        highlight=False,
    )
    for route in read.routes:
        if not route.visits:
            out.print(f"{route.technician} {route.name}: no stops (shift {route.shift_local})")
            continue
        table = Table(
            title=f"{route.technician} {route.name} · shift {route.shift_local} · leaves "
            f"{route.departure_local} · back {route.return_local} · {route.drive_min:.0f} min "
            f"driving · {route.distance_km:.1f} km",
            title_justify="left",
        )
        for column in ("#", "arrive", "work", "orders", "window", "drive min"):
            table.add_column(column)
        rows: list[tuple[str, tuple[str, ...]]] = [
            (
                v.start_local,
                (
                    str(v.sequence),
                    v.arrival_local,
                    f"{v.start_local}–{v.end_local}",
                    ", ".join(f"{o.order_number} {o.order_type}" for o in v.orders),
                    v.window_local or "",
                    f"{v.travel_min:.0f}",
                ),
            )
            for v in route.visits
        ]
        rows += [
            (b.start_local, ("", "", f"{b.start_local}–{b.end_local}", "break", "", ""))
            for b in route.breaks
        ]
        for _, cells in sorted(rows, key=lambda r: r[0]):
            table.add_row(*cells)
        out.print(table)
    if read.left_out:
        table = Table(title="left out", title_justify="left")
        for column in ("order", "reason", "detail"):
            table.add_column(column)
        for left in read.left_out:
            table.add_row(left.order_number, left.reason, left.detail)
        out.print(table)


def _print_pings(report: PingReport) -> None:
    context.console.print(
        f"pinged {report.pinged} meter(s) ({report.purpose.replace('_', ' ')}): "
        f"{len(report.recovered)} answered, their orders cancelled"
        + (f": {', '.join(report.recovered)}" if report.recovered else "")
    )


@app.command("plan")
def plan(
    *,
    date: DateOption,
    territory: TerritoryOption = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the routes as GeoJSON here.")
    ] = None,
    seconds: Annotated[
        float, typer.Option(help="Longest solve per territory, in seconds.", min=0.1)
    ] = 10.0,
    seed: Annotated[int, typer.Option(help="Random seed of the solver.")] = 0,
    headend_url: HeadEndOption = None,
) -> None:
    """Optimise a day: ping non-comm meters, plan the routes, print them and the KPIs."""
    from meterops.dispatch import flows, views, wiring
    from meterops.timeutil import utc_now

    day = _day(date)
    settings = context.settings()
    head_end = wiring.head_end(settings, headend_url)
    with context.session() as session:
        _, report = flows.plan_day_with_pings(
            session,
            head_end,
            day=day,
            territory_code=territory,
            planner=wiring.planner(settings, seconds=seconds, seed=seed),
            actor=ACTOR,
            now=utc_now(),
        )
        reads = views.day_plans(
            session, day=day, territory_code=territory, utility_timezone=settings.utility_timezone
        )
        geojson = views.plan_geojson(
            session, day=day, territory_code=territory, utility_timezone=settings.utility_timezone
        )
    if report is not None:
        _print_pings(report)
    for read in reads:
        print_plan(read)
    if out is not None:
        out.write_text(json.dumps(geojson, indent=1), encoding="utf-8")
        context.console.print(f"wrote {len(geojson['features'])} GeoJSON feature(s) to {out}")


@app.command("show")
def show(
    date: DateOption,
    territory: TerritoryOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a day's stored plan per technician, with the KPIs."""
    from meterops.dispatch import views

    day = _day(date)
    with context.session() as session:
        reads = views.day_plans(
            session,
            day=day,
            territory_code=territory,
            utility_timezone=context.settings().utility_timezone,
        )
    if as_json:
        context.console.print_json(json.dumps([r.model_dump(mode="json") for r in reads]))
        return
    if not reads:
        context.console.print(f"no plan for {day}; run `meterops routes plan --date {day}`")
    for read in reads:
        print_plan(read)


@app.command("dispatch")
def dispatch(date: DateOption, territory: TerritoryOption = None) -> None:
    """Give the technicians their routes: the day's scheduled orders become assigned."""
    from meterops.dispatch import service as dispatch_service
    from meterops.timeutil import utc_now

    with context.session() as session:
        rows = dispatch_service.dispatch_day(
            session, day=_day(date), territory_code=territory, actor=ACTOR, now=utc_now()
        )
    context.console.print(f"dispatched {len(rows)} plan(s) of {date}")


@app.command("reassign")
def reassign(
    order_number: Annotated[str, typer.Argument(help="Order number.")],
    to: Annotated[str, typer.Option("--to", help="Employee number of the technician.")],
    date: Annotated[
        str | None, typer.Option("--date", help="Plan date, when the order is not scheduled.")
    ] = None,
) -> None:
    """Give an order to a technician by hand; re-plans that technician's day."""
    from meterops.dispatch import changes, views, wiring
    from meterops.timeutil import utc_now

    settings = context.settings()
    with context.session() as session:
        row = changes.reassign_order(
            session,
            order_number,
            technician=to,
            planner=wiring.planner(settings),
            actor=ACTOR,
            now=utc_now(),
            day=None if date is None else _day(date),
        )
        read = views.plan_view(session, row, utility_timezone=settings.utility_timezone)
    context.console.print(f"{order_number} is now with {to}")
    print_plan(read)


@app.command("insert")
def insert(
    order_number: Annotated[str, typer.Argument(help="A waiting order, e.g. a reconnect.")],
    date: DateOption,
) -> None:
    """Insert a waiting order (an emergency) into a day under way."""
    from meterops.dispatch import changes, wiring
    from meterops.timeutil import utc_now

    with context.session() as session:
        _, placed = changes.insert_order(
            session,
            order_number,
            day=_day(date),
            planner=wiring.planner(context.settings()),
            actor=ACTOR,
            now=utc_now(),
        )
    verdict = "placed on a route" if placed else "left out (see `routes show`)"
    context.console.print(f"{order_number}: {verdict}")


@app.command("ping")
def ping(
    date: DateOption,
    territory: TerritoryOption = None,
    morning: Annotated[
        bool,
        typer.Option(
            "--morning/--before-planning",
            help="Ping the day's planned orders (morning of the visit) or the waiting ones.",
        ),
    ] = True,
    headend_url: HeadEndOption = None,
) -> None:
    """Ping the meters of non-comm orders; cancel the orders whose meter answers."""
    from meterops.dispatch import flows, wiring
    from meterops.timeutil import utc_now

    settings = context.settings()
    head_end = flows.require_head_end(wiring.head_end(settings, headend_url))
    purpose = flows.PingPurpose.MORNING_OF_VISIT if morning else flows.PingPurpose.BEFORE_PLANNING
    with context.session() as session:
        report = flows.ping_before_visits(
            session,
            head_end,
            day=_day(date),
            purpose=purpose,
            territory_code=territory,
            planner=wiring.planner(settings),
            actor=ACTOR,
            now=utc_now(),
        )
    _print_pings(report)
    for outcome in report.outcomes:
        context.console.print(
            f"  {outcome.order_number} meter {outcome.meter_serial}: {outcome.state}"
            f"{' (' + outcome.reason + ')' if outcome.reason else ''}"
            f"{' → cancelled' if outcome.cancelled else ''}",
            highlight=False,
        )


@app.command("technicians")
def technicians(territory: TerritoryOption = None) -> None:
    """List active technicians: skills, certifications, shift, stop limit, truck stock."""
    from meterops.dispatch import crews

    with context.session() as session:
        people = crews.list_technicians(session, territory_code=territory)
    table = Table(title=f"{len(people)} technician(s)")
    for column in ("employee", "name", "territory", "skills", "certifications", "shift", "stops"):
        table.add_column(column)
    table.add_column("truck stock")
    for t in people:
        stock = (
            "not tracked" if t.stock is None else ", ".join(f"{k} {v}" for k, v in t.stock.items())
        )
        table.add_row(
            t.employee_number,
            t.name,
            t.territory,
            ", ".join(t.skills),
            ", ".join(t.certifications),
            t.shift_local,
            str(t.max_stops),
            stock,
        )
    context.console.print(table)


@app.command("stock")
def stock(
    employee_number: Annotated[str, typer.Argument(help="Employee number.")],
    item: Annotated[str, typer.Argument(help="meter:<form> (e.g. meter:2S) or radio_module.")],
    quantity: Annotated[int, typer.Argument(help="How many the truck carries.", min=0)],
) -> None:
    """Set how many of an item a technician's truck carries (tracked from the first line)."""
    from meterops.dispatch import crews
    from meterops.dispatch.schemas import StockUpdate
    from meterops.timeutil import utc_now

    with context.session() as session:
        read = crews.set_stock(
            session,
            employee_number,
            StockUpdate(item=item, quantity=quantity),
            actor=ACTOR,
            now=utc_now(),
        )
    context.console.print(f"{read.employee_number}: {read.stock}")


@app.command("day-off")
def day_off(
    employee_number: Annotated[str, typer.Argument(help="Employee number.")],
    date: DateOption,
    note: Annotated[str | None, typer.Option(help="Why (leave, training …).")] = None,
) -> None:
    """Mark a technician as not working on a date (planning leaves them out)."""
    from meterops.dispatch import crews
    from meterops.dispatch.schemas import AvailabilityUpdate
    from meterops.timeutil import utc_now

    with context.session() as session:
        crews.set_availability(
            session,
            employee_number,
            _day(date),
            AvailabilityUpdate(available=False, note=note),
            actor=ACTOR,
            now=utc_now(),
        )
    context.console.print(f"{employee_number} is off on {date}")


@app.command("send-home")
def send_home(
    employee_number: Annotated[str, typer.Argument(help="Employee number.")],
    date: DateOption,
    reason: Annotated[str, typer.Option(help="Why (sick, truck broke down …).")],
) -> None:
    """A technician goes home early: their stops not started go to the others."""
    from meterops.dispatch import changes, views, wiring
    from meterops.timeutil import utc_now

    settings = context.settings()
    with context.session() as session:
        row = changes.send_home(
            session,
            employee_number,
            day=_day(date),
            reason=reason,
            planner=wiring.planner(settings),
            actor=ACTOR,
            now=utc_now(),
        )
        read = views.plan_view(session, row, utility_timezone=settings.utility_timezone)
    context.console.print(f"{employee_number} went home; the day is re-planned")
    print_plan(read)
