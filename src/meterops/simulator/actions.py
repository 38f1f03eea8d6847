"""What a technician's visit physically does to the world.

Each action takes the world, the device as the technician finds it and the moment (an aware
UTC date-time), changes the world's state from that moment on and ends the faults the work
cures: a new radio cures a failed radio (not a weak path); an exchange cures what was wrong
with the meter itself (and the technician removes a bypass or repairs the socket jaws they
find); a relocated collector re-routes the mesh and cures weak paths it now covers well; a
repaired collector comes back; corrected CT wiring cures reversed polarity; putting crossed
meters back cures both. Nothing here knows the ground truth beyond the world's own state.

Pure module: standard library, numpy and pure meterops modules; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, cast

import numpy as np

from meterops.errors import ConflictError, NotFoundError
from meterops.simulator import catalog
from meterops.simulator.faults import NO_END, FaultKind
from meterops.simulator.mesh import Infrastructure, build_mesh
from meterops.simulator.territory import SiteClass

if TYPE_CHECKING:
    from meterops.simulator.world import World

__all__ = [
    "TechnicianActions",
    "correct_ct_wiring",
    "exchange_meter",
    "fix_crossed_meters",
    "relocate_collector",
    "repair_collector",
    "repair_hot_socket",
    "replace_radio_module",
    "reseat_meter",
]

_MEASURE = (
    FaultKind.RADIO_FAILURE,
    FaultKind.STOPPED_REGISTER,
    FaultKind.CLOCK_DRIFT,
    FaultKind.METER_REMOVED,
    FaultKind.TOU_MISPROGRAM,
    FaultKind.UNKNOWN_SERIAL,
    FaultKind.CROSSED_METERS,
)


def _us(moment: dt.datetime) -> int:
    from meterops.simulator.world import to_us

    return to_us(moment)


def _installed(world: World, serial: str, moment_us: int) -> tuple[int, int]:
    meter = world.meter_index(serial)
    row = world.installation_of(meter, moment_us)
    if row is None:
        when = dt.datetime.fromtimestamp(moment_us / 1e6, dt.UTC).isoformat()
        msg = f"meter {serial} is not installed at {when}"
        raise ConflictError(msg, code="simulator.not_installed")
    return meter, row


def replace_radio_module(
    world: World, serial: str, *, at: dt.datetime, module_serial: str | None = None
) -> str:
    """Fit a new communication module to a meter.

    Args:
        world: The world.
        serial: Serial the meter reports under.
        at: When the new module is fitted.
        module_serial: Serial of the new module (default: a new one).

    Returns:
        The new module's serial.
    """
    moment = _us(at)
    meter, _ = _installed(world, serial, moment)
    world.end_faults(world.live_faults(FaultKind.RADIO_FAILURE, moment, meter=meter), moment)
    new = module_serial or f"0013501{meter:07X}"
    world.module_serial[meter] = new
    world.log_event(meter, moment, "firmware_changed", {"module_serial": new})
    return new


def reseat_meter(world: World, serial: str, *, at: dt.datetime) -> None:
    """Put a pulled meter back in its socket.

    Args:
        world: The world.
        serial: Serial the meter reports under.
        at: When it is back.
    """
    moment = _us(at)
    meter, _ = _installed(world, serial, moment)
    world.end_faults(world.live_faults(FaultKind.METER_REMOVED, moment, meter=meter), moment)
    world.forget_after(moment)


def _add_meter(world: World, like: int, serial: str | None) -> int:
    """A meter to install: an unused spare of the same form, or a new one like ``like``."""
    meters = world.territory.meters
    installed = world.territory.sites.count
    forms = meters["form"].to_list()
    backoffice = world.backoffice_serial
    if serial is not None and serial in backoffice:
        index = backoffice.index(serial)
        if index < installed or index in world.spares_used:
            msg = f"meter {serial} is not a spare in stock"
            raise ConflictError(msg, code="simulator.not_in_stock")
        world.spares_used.add(index)
        return index
    if serial is None:
        for index in range(installed, meters.height):
            if index not in world.spares_used and forms[index] == forms[int(world.meter_row[like])]:
                world.spares_used.add(index)
                return index
        serial = f"{backoffice[like][:2]}9{world.meter_count:07d}"
    index = world.meter_count
    world.meter_row = np.append(world.meter_row, world.meter_row[like])
    world.reported_serial.append(serial)
    world.backoffice_serial.append(serial)
    world.bidirectional = np.append(world.bidirectional, world.bidirectional[like])
    world.has_switch = np.append(world.has_switch, world.has_switch[like])
    world.register_digits = np.append(world.register_digits, world.register_digits[like])
    world.register_decimals = np.append(world.register_decimals, world.register_decimals[like])
    world.program_initial = np.append(world.program_initial, world.program_initial[like])
    world.module_serial.append(f"0013502{index:07X}")
    world.add_register_row()
    return index


def exchange_meter(
    world: World, serial: str, *, at: dt.datetime, new_serial: str | None = None
) -> str:
    """Remove a meter and install another in the same socket.

    Args:
        world: The world.
        serial: Serial the old meter reports under.
        at: When the new meter is in.
        new_serial: A spare's serial (default: the first spare of the same form in stock).

    Returns:
        The serial of the meter now installed.
    """
    moment = _us(at)
    old, row = _installed(world, serial, moment)
    site = int(world.inst_site[row])
    new = _add_meter(world, old, new_serial)
    world.inst_to[row] = moment
    world.inst_meter = np.append(world.inst_meter, new)
    world.inst_site = np.append(world.inst_site, site)
    world.inst_from = np.append(world.inst_from, moment)
    world.inst_to = np.append(world.inst_to, NO_END)
    order = np.lexsort((world.inst_from, world.inst_site))
    world.inst_meter, world.inst_site = world.inst_meter[order], world.inst_site[order]
    world.inst_from, world.inst_to = world.inst_from[order], world.inst_to[order]
    world.bidirectional[new] = world.customers.solar_kw[site] > 0
    rate = str(world.customers.rate_code[site])
    world.program_initial[new] = world.program_codes.index(catalog.RATE_PROGRAM[rate])
    for kind in _MEASURE:
        world.end_faults(world.live_faults(kind, moment, meter=old), moment)
    # The technician at the socket removes a bypass and repairs burnt jaws.
    for kind in (FaultKind.THEFT_BYPASS, FaultKind.HOT_SOCKET):
        world.end_faults(world.live_faults(kind, moment, site=site), moment)
    install_read = float(world.territory.meters["install_read_kwh"][int(world.meter_row[new])])
    day = world.day_ordinal(moment)
    world.forget_after(moment)
    world.set_registers(new, delivered_wh=round(install_read * 1000), from_day=day)
    return str(world.reported_serial[new])


def repair_hot_socket(world: World, service_point_number: str, *, at: dt.datetime) -> str | None:
    """Repair the jaws of a socket; a meter that already burnt out is exchanged.

    Args:
        world: The world.
        service_point_number: Where.
        at: When the socket is repaired.

    Returns:
        The serial of a replacement meter, or None when the meter survived.
    """
    moment = _us(at)
    site = world.site_index(service_point_number)
    rows = world.live_faults(FaultKind.HOT_SOCKET, moment, site=site)
    failed = any(world.faults.value[r] <= moment for r in rows)
    world.end_faults(rows, moment)
    if failed:
        at_site = np.flatnonzero(
            (world.inst_site == site) & (world.inst_from <= moment) & (world.inst_to > moment)
        )
        meter = int(world.inst_meter[at_site[0]])
        return exchange_meter(world, world.reported_serial[meter], at=at)
    world.forget_after(moment)
    return None


def correct_ct_wiring(world: World, serial: str, *, at: dt.datetime) -> None:
    """Turn a reversed current transformer the right way round.

    Args:
        world: The world.
        serial: Serial of the CT-rated meter.
        at: When the wiring is corrected.
    """
    moment = _us(at)
    _, row = _installed(world, serial, moment)
    site = int(world.inst_site[row])
    world.end_faults(world.live_faults(FaultKind.CT_POLARITY_REVERSED, moment, site=site), moment)
    world.forget_after(moment)


def fix_crossed_meters(world: World, serial_a: str, serial_b: str, *, at: dt.datetime) -> None:
    """Swap two meters back into the sockets the back office has them in.

    Args:
        world: The world.
        serial_a: One meter.
        serial_b: The other.
        at: When both are back.
    """
    moment = _us(at)
    a, row_a = _installed(world, serial_a, moment)
    b, row_b = _installed(world, serial_b, moment)
    site_a, site_b = int(world.inst_site[row_a]), int(world.inst_site[row_b])
    world.inst_to[[row_a, row_b]] = moment
    world.inst_meter = np.append(world.inst_meter, [a, b])
    world.inst_site = np.append(world.inst_site, [site_b, site_a])
    world.inst_from = np.append(world.inst_from, [moment, moment])
    world.inst_to = np.append(world.inst_to, [NO_END, NO_END])
    order = np.lexsort((world.inst_from, world.inst_site))
    world.inst_meter, world.inst_site = world.inst_meter[order], world.inst_site[order]
    world.inst_from, world.inst_to = world.inst_from[order], world.inst_to[order]
    for meter in (a, b):
        world.end_faults(world.live_faults(FaultKind.CROSSED_METERS, moment, meter=meter), moment)
    world.forget_after(moment)


def repair_collector(world: World, code: str, *, at: dt.datetime) -> None:
    """Bring a collector back (power, backhaul or hardware fixed).

    Args:
        world: The world.
        code: Collector code.
        at: When it is back.
    """
    moment = _us(at)
    epoch = world.epoch_at(moment)
    if code not in epoch.infra.codes:
        raise NotFoundError(f"no collector {code!r}", code="simulator.unknown_collector")
    index = epoch.infra.codes.index(code)
    world.end_faults(world.live_faults(FaultKind.COLLECTOR_DOWN, moment, collector=index), moment)
    world.forget_after(moment)


def relocate_collector(
    world: World, code: str, *, latitude: float, longitude: float, at: dt.datetime
) -> None:
    """Move a collector or router to a new pole; the mesh re-forms around it.

    Args:
        world: The world.
        code: Collector or router code.
        latitude: New latitude. [°]
        longitude: New longitude. [°]
        at: When it is up at the new place.
    """
    from meterops.simulator.world import NetworkEpoch

    moment = _us(at)
    epoch = world.epoch_at(moment)
    infra = epoch.infra
    if code not in infra.codes:
        raise NotFoundError(f"no collector or router {code!r}", code="simulator.unknown_collector")
    index = infra.codes.index(code)
    x, y = world.territory.projection.to_plane(latitude, longitude)
    xs, ys = infra.x_m.copy(), infra.y_m.copy()
    xs[index], ys[index] = x, y
    moved = Infrastructure(
        infra.codes, infra.is_collector, xs, ys, infra.shadow_db, infra.backhaul, infra.territory
    )
    sites = world.territory.sites
    mesh = build_mesh(
        x_m=sites.x_m,
        y_m=sites.y_m,
        shadow_db=world.site_shadow_db,
        open_terrain=sites.site_class == SiteClass.FARM,
        infra=moved,
        active=epoch.active,
        relay_allowed=world.relay_allowed,
        params=world.mesh_params,
    )
    world.epochs.append(NetworkEpoch(moment, moved, epoch.active, mesh))
    world.epochs.sort(key=lambda e: e.from_us)
    for r in world.live_faults(FaultKind.WEAK_MESH_PATH, moment):
        site = int(world.faults.site[r])
        days = (moment - world.faults.start_us[r]) / 86_400e6
        if mesh.margin_db[site] - world.faults.value[r] * days >= 6.0:
            world.end_faults([r], moment)
    world.forget_after(moment)


class TechnicianActions:
    """The actions as methods of the world (``World`` inherits them)."""

    def replace_radio_module(
        self, serial: str, *, at: dt.datetime, module_serial: str | None = None
    ) -> str:
        """Fit a new radio module; returns its serial (``replace_radio_module``)."""
        return replace_radio_module(cast("World", self), serial, at=at, module_serial=module_serial)

    def exchange_meter(self, serial: str, *, at: dt.datetime, new_serial: str | None = None) -> str:
        """Exchange a meter; returns the new meter's serial (``exchange_meter``)."""
        return exchange_meter(cast("World", self), serial, at=at, new_serial=new_serial)

    def reseat_meter(self, serial: str, *, at: dt.datetime) -> None:
        """Put a pulled meter back (``reseat_meter``)."""
        reseat_meter(cast("World", self), serial, at=at)

    def relocate_collector(
        self, code: str, *, latitude: float, longitude: float, at: dt.datetime
    ) -> None:
        """Move a collector or router (``relocate_collector``)."""
        relocate_collector(cast("World", self), code, latitude=latitude, longitude=longitude, at=at)

    def repair_collector(self, code: str, *, at: dt.datetime) -> None:
        """Bring a collector back (``repair_collector``)."""
        repair_collector(cast("World", self), code, at=at)

    def repair_hot_socket(self, service_point_number: str, *, at: dt.datetime) -> str | None:
        """Repair socket jaws (``repair_hot_socket``)."""
        return repair_hot_socket(cast("World", self), service_point_number, at=at)

    def correct_ct_wiring(self, serial: str, *, at: dt.datetime) -> None:
        """Correct reversed CT wiring (``correct_ct_wiring``)."""
        correct_ct_wiring(cast("World", self), serial, at=at)

    def fix_crossed_meters(self, serial_a: str, serial_b: str, *, at: dt.datetime) -> None:
        """Swap crossed meters back (``fix_crossed_meters``)."""
        fix_crossed_meters(cast("World", self), serial_a, serial_b, at=at)
