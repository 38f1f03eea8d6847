"""Scenario parameters: frozen value objects, and the seeded random streams.

A :class:`Scenario` says everything the simulator needs: the territory to build
(:class:`TerritoryParams`), how often each fault happens (:class:`FaultRates`), the first
simulated day and the horizon over which faults are scheduled, and the required ``seed``.

Randomness: one seed per scenario. :func:`stream` derives an explicit
``numpy.random.Generator`` for each purpose (territory, mesh, weather, faults, one per
simulated day and meter chunk, one per head-end command) from a ``numpy.random.SeedSequence``
rooted at that seed, so every draw comes from the scenario's seed and a day's values do not
depend on how many days were simulated before it or on how meters were chunked. Day streams
are keyed by the calendar date, so a January week and a July week differ even from one seed.

Pure module: standard library and numpy only; must not import ``meterops.db``, ``models``,
``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np

from meterops.simulator.weather import ColdSnap

__all__ = ["FaultRates", "Scenario", "Stream", "TerritoryParams", "stream"]


class Stream(IntEnum):
    """Top-level keys of the random streams derived from a scenario's seed."""

    TERRITORY = 1
    CUSTOMERS = 2
    MESH = 3
    WEATHER = 4
    FAULTS = 5
    ACCOUNTS = 6
    DAY = 7
    COMMANDS = 8


def stream(seed: int, key: Stream, *subkeys: int) -> np.random.Generator:
    """The random generator of one purpose of a scenario.

    Args:
        seed: The scenario's seed.
        key: The purpose.
        subkeys: Further non-negative integers (day ordinal, chunk index, command number).

    Returns:
        A generator that yields the same draws for the same arguments, on any machine.

    Examples:
        >>> a = stream(7, Stream.DAY, 3, 0).random()
        >>> a == stream(7, Stream.DAY, 3, 0).random()
        True
    """
    sequence = np.random.SeedSequence(seed, spawn_key=(int(key), *subkeys))
    return np.random.Generator(np.random.PCG64(sequence))


@dataclass(frozen=True, slots=True)
class TerritoryParams:
    """What the territory looks like.

    Attributes:
        utility_name: Name of the utility, for file headers.
        territory_names: Names of the territories (districts); at least one.
        state: Two-letter state code of addresses.
        timezone: IANA zone of the territory; days are its local calendar days.
        center_latitude: Latitude of the main town's centre. [°]
        center_longitude: Longitude of the main town's centre. [°]
        extent_km: Half the side of the square the territory fits in. [km]
        service_points: Number of service points (one meter each) to build.
        towns: Number of towns (the first one is the largest).
        rural_share: Share of service points on rural roads outside the towns.
        network_share: Share of service points that are apartments on 120/208 V network
            services (12S meters).
        small_commercial_share: Share of small commercial services (self-contained meters).
        large_ci_share: Share of large C&I services (transformer-rated 9S meters with CTs).
        solar_share: Share of residential premises with rooftop solar (net-metered).
        ev_share: Share of residential premises with an electric vehicle charger.
        electric_heat_share: Share of residential premises heated electrically.
        tou_share: Share of residential accounts on the time-of-use rate.
        vacancy_share: Share of premises vacant on the first day.
        moves_per_year: Account turnover: move-outs per premise per year.
        medical_share: Share of residential accounts flagged medical / life support.
        disconnect_switch_share: Share of self-contained meters with a service switch.
        sites_per_collector: Service points per collector (sets how many collectors).
        spare_share: Spare meters and radios in stock, as a share of installed ones.
        technicians: Field technicians (over all territories).
    """

    utility_name: str
    territory_names: tuple[str, ...]
    state: str
    timezone: str
    center_latitude: float
    center_longitude: float
    extent_km: float
    service_points: int
    towns: int = 1
    rural_share: float = 0.05
    network_share: float = 0.04
    small_commercial_share: float = 0.07
    large_ci_share: float = 0.015
    solar_share: float = 0.06
    ev_share: float = 0.07
    electric_heat_share: float = 0.25
    tou_share: float = 0.3
    vacancy_share: float = 0.03
    moves_per_year: float = 0.12
    medical_share: float = 0.004
    disconnect_switch_share: float = 0.6
    sites_per_collector: int = 1500
    spare_share: float = 0.02
    technicians: int = 4


@dataclass(frozen=True, slots=True)
class FaultRates:
    """How often each fault happens.

    Incident rates are per unit and year over the scenario's horizon: the simulator schedules
    ``rate x units x horizon / 365`` incidents (rounded stochastically, so the count is within
    one of it) with onsets spread evenly over the horizon with jitter; which unit, exactly
    when and for how long are random. Standing conditions (``*_share``, ``*_per_1000``) exist
    before the first day. A rate of 0 turns a fault off.

    Attributes:
        radio_failure_per_meter_year: Radio modules that fail (meter goes silent).
        weak_path_per_meter_year: Meters whose mesh link degrades (RSSI falls dB by dB).
        collector_down_per_collector_year: Collector outages (all children silent).
        transformer_outage_per_transformer_year: Power outages of one transformer.
        feeder_outage_per_feeder_year: Power outages of a whole feeder.
        meter_removed_per_meter_year: Meters pulled from their socket.
        theft_per_meter_year: Bypass / theft (registered consumption drops).
        theft_tamper_event_share: Share of thefts that leave tamper events.
        tamper_without_theft_per_meter_year: Tamper events with no change in consumption.
        hot_socket_per_meter_year: Hot sockets (temperature events, then meter failure).
        stopped_register_per_meter_year: Registers that stop (zero on an occupied premise).
        clock_drift_share: Meters whose clock drifts.
        tou_misprogram: Whether one firmware cohort carries a TOU program with a wrong
            shoulder period.
        wrong_multiplier_share: Share of CT-rated meters whose back-office CT ratio is wrong.
        ct_polarity_share: Share of CT-rated meters with one CT reversed.
        crossed_pairs_per_1000: Pairs of meters installed at each other's service point.
        unknown_serial_per_1000: Meters reading under a serial the back office does not know.
        exchange_wrong_multiplier_per_ct_site_year: Meter exchanges at CT-rated sites whose new
            meter the back office records with a wrong multiplier (``simulator.exchanges``;
            0 by default: nothing is drawn, other faults are unchanged).
        exchange_genuine_per_ct_site_year: Look-alike: exchanges at CT-rated sites recorded
            with the right multiplier where the customer leaves on the exchange day.
    """

    radio_failure_per_meter_year: float = 0.01
    weak_path_per_meter_year: float = 0.006
    collector_down_per_collector_year: float = 3.0
    transformer_outage_per_transformer_year: float = 0.15
    feeder_outage_per_feeder_year: float = 1.5
    meter_removed_per_meter_year: float = 0.001
    theft_per_meter_year: float = 0.003
    theft_tamper_event_share: float = 0.5
    tamper_without_theft_per_meter_year: float = 0.004
    hot_socket_per_meter_year: float = 0.001
    stopped_register_per_meter_year: float = 0.002
    clock_drift_share: float = 0.002
    tou_misprogram: bool = True
    wrong_multiplier_share: float = 0.03
    ct_polarity_share: float = 0.02
    crossed_pairs_per_1000: float = 0.5
    unknown_serial_per_1000: float = 0.5
    exchange_wrong_multiplier_per_ct_site_year: float = 0.0
    exchange_genuine_per_ct_site_year: float = 0.0

    def scaled(self, factor: float) -> FaultRates:
        """Every numeric rate multiplied by ``factor`` (the misprogram switch is kept)."""
        changes: dict[str, Any] = {
            f.name: getattr(self, f.name) * factor
            for f in dataclasses.fields(self)
            if f.name not in ("tou_misprogram", "theft_tamper_event_share")
        }
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named, seeded simulation set-up.

    Attributes:
        name: Scenario name, e.g. ``"small_town"``.
        seed: Seed of every random draw.
        territory: The territory to build.
        faults: Fault rates.
        start: First simulated local day.
        horizon_days: Days over which faults are scheduled (simulate at most this many).
        interval_s: Interval length of load-profile reads. [s]
        cold_snaps: Cold spells laid over the drawn weather (none by default).
    """

    name: str
    seed: int
    territory: TerritoryParams
    faults: FaultRates = FaultRates()
    start: dt.date = dt.date(2026, 7, 1)
    horizon_days: int = 365
    interval_s: int = 900
    cold_snaps: tuple[ColdSnap, ...] = ()

    def replace(self, **changes: Any) -> Scenario:
        """A copy with some fields changed (e.g. ``start``, ``faults``, ``horizon_days``)."""
        return dataclasses.replace(self, **changes)
