"""``meterops meter``: look at a meter and move it through its lifecycle."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from meterops.cli import context

app = typer.Typer(help="Meters: details, lifecycle.", no_args_is_help=True)


@app.command("show")
def show(
    serial: Annotated[str, typer.Argument(help="Meter serial number.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a meter, its service point, communication module and installation history."""
    from meterops.assets import service as assets_service

    with context.session() as session:
        detail = assets_service.meter_detail(session, serial)
    if as_json:
        context.console.print_json(detail.model_dump_json())
        return
    meter = detail.meter
    context.console.print(
        f"[bold]Meter {meter.serial_number}[/] · {meter.vendor} {meter.model} · form "
        f"{meter.form} {meter.meter_class} · accuracy {meter.accuracy_class} · "
        f"[bold]{meter.lifecycle_status.value}[/]"
    )
    context.console.print(
        f"firmware {meter.firmware_revision or '-'} · program {detail.program_code or '-'} · "
        f"multiplier {meter.multiplier:g} (CT {meter.ct_ratio:g} × PT {meter.pt_ratio:g}) · "
        f"{meter.register_digits} register digits · "
        f"{'bidirectional' if meter.bidirectional else 'delivered only'} · "
        f"{'disconnect switch' if meter.has_disconnect_switch else 'no switch'}"
    )
    sp = detail.service_point
    if sp is not None:
        context.console.print(
            f"service point {sp.service_point_number} · {sp.address_line}, {sp.city} · "
            f"{sp.service_type} {sp.voltage_v} V · transformer {sp.transformer_code or '-'} · "
            f"feeder {sp.feeder_code or '-'} · ({sp.latitude:.5f}, {sp.longitude:.5f})"
        )
    module = detail.comm_module
    if module is not None:
        context.console.print(
            f"comm module {module.module_serial} · {module.vendor} {module.model} · "
            f"{module.technology} since {module.linked_at_utc:%Y-%m-%d}"
        )
    table = Table(title="installation history")
    for column in (
        "service point",
        "installed (UTC)",
        "by",
        "install read",
        "removed (UTC)",
        "removal read",
        "reason",
    ):
        table.add_column(column)
    for i in detail.installations:
        table.add_row(
            i.service_point_number,
            f"{i.installed_at_utc:%Y-%m-%d %H:%M}",
            i.installed_by,
            "" if i.install_read_kwh is None else f"{i.install_read_kwh:g}",
            "" if i.removed_at_utc is None else f"{i.removed_at_utc:%Y-%m-%d %H:%M}",
            "" if i.removal_read_kwh is None else f"{i.removal_read_kwh:g}",
            i.removal_reason or "",
        )
    context.console.print(table)
