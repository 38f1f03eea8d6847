"""The detection pass: every detector over one window of a utility's data.

:class:`DiagnosticInputs` bundles the frames a utility has (meter context, current interval
reads summarised per day, voltage reads, register reads, events, comm stats, collector
status); :func:`detect_exceptions` runs every detector and returns the open exceptions as of
``as_of_utc``.

Pure module: polars and pure meterops modules only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from meterops.diagnostics import detect
from meterops.diagnostics.detect.multiplier import detect_wrong_multiplier
from meterops.diagnostics.frames import DAILY_USAGE, EXCEPTIONS, METER_CONTEXT
from meterops.diagnostics.params import DetectParams
from meterops.kit.frames import check_frame
from meterops.reads.schema import COMM_STATS, EVENTS, REGISTER_READS

__all__ = ["DiagnosticInputs", "detect_exceptions"]


@dataclass(frozen=True, slots=True)
class DiagnosticInputs:
    """What diagnostics read for one window ``[window_start_utc, as_of_utc)``.

    Attributes:
        meters: :data:`METER_CONTEXT` of the installed meters.
        daily: :data:`DAILY_USAGE` of the window's local days.
        last_reads: ``meter_id``, ``last_read_utc`` (end of the latest interval read).
        voltage_reads: Current ``voltage_min_v``/``voltage_max_v`` interval reads.
        registers: Stored register reads (``REGISTER_READS``).
        events: Stored events (``EVENTS``).
        comm_stats: Stored comm stats (``COMM_STATS``).
        collectors: Collector status snapshots: ``node_id``, ``observed_at_utc``,
            ``status`` (topology rows of kind collector).
        window_start_utc: First instant of the data window. [UTC]
        as_of_utc: The moment judged. [UTC]
        zone: IANA zone of the utility.
        event_history: Events over a longer history than the window (None: ``events``);
            verdicts read it for what explains a silence that began before the window
            (a removal, a last gasp, temperature alarms).
        program_mismatches: ``programs.MISMATCHES`` of the fleet's programs (None: not
            checked).
        outages: Outage periods the outage system recorded for the window
            (``detect.comm.OUTAGE_PERIODS``; None: none known).
        exchanges: Meter exchanges the back office recorded (``detect.multiplier.EXCHANGES``;
            None: the wrong-multiplier check is not run).
        exchange_reads: Current ``kwh_delivered`` interval reads of the exchanged meters over
            the window (``detect.multiplier.EXCHANGE_READS``; None: the wrong-multiplier
            check is not run).
    """

    meters: pl.DataFrame
    daily: pl.DataFrame
    last_reads: pl.DataFrame
    voltage_reads: pl.DataFrame
    registers: pl.DataFrame
    events: pl.DataFrame
    comm_stats: pl.DataFrame
    collectors: pl.DataFrame
    window_start_utc: dt.datetime
    as_of_utc: dt.datetime
    zone: str
    event_history: pl.DataFrame | None = None
    program_mismatches: pl.DataFrame | None = None
    outages: pl.DataFrame | None = None
    exchanges: pl.DataFrame | None = None
    exchange_reads: pl.DataFrame | None = None

    @property
    def last_day(self) -> dt.date:
        """The last complete local day before ``as_of_utc``."""
        local = pl.Series([self.as_of_utc]).dt.convert_time_zone(self.zone)[0]
        day: dt.date = local.date()
        return day - dt.timedelta(days=1)

    def check(self) -> None:
        """Check the frames against their contracts.

        Raises:
            MissingColumnsError: A frame lacks columns.
            DataContractError: A column has the wrong dtype.
        """
        check_frame(self.meters, METER_CONTEXT)
        check_frame(self.daily, DAILY_USAGE)
        check_frame(self.registers, REGISTER_READS)
        check_frame(self.events, EVENTS)
        check_frame(self.comm_stats, COMM_STATS)


def detect_exceptions(
    inputs: DiagnosticInputs,
    *,
    params: DetectParams,
    on_step: Callable[[str], None] | None = None,
) -> pl.DataFrame:
    """Run every detector.

    Args:
        inputs: The window's frames.
        params: Thresholds.
        on_step: Called with each detector's kind after it ran (progress).

    Returns:
        :data:`EXCEPTIONS`, sorted by kind and meter; meters not in ``inputs.meters`` (not
        installed) are left out.
    """
    inputs.check()
    last_day = inputs.last_day
    zone = inputs.zone
    steps: list[tuple[str, Callable[[], pl.DataFrame]]] = [
        (
            "non_communicating",
            lambda: detect.detect_non_communicating(
                meters=inputs.meters,
                last_reads=inputs.last_reads,
                comm_stats=inputs.comm_stats,
                events=inputs.events,
                window_start_utc=inputs.window_start_utc,
                as_of_utc=inputs.as_of_utc,
                params=params,
                outages=inputs.outages,
            ),
        ),
        (
            "zero_consumption",
            lambda: detect.detect_zero_consumption(
                daily=inputs.daily,
                meters=inputs.meters,
                last_day=last_day,
                zone=zone,
                params=params,
            ),
        ),
        (
            "inactive_usage",
            lambda: detect.detect_inactive_usage(
                daily=inputs.daily,
                meters=inputs.meters,
                last_day=last_day,
                zone=zone,
                params=params,
            ),
        ),
        ("tamper", lambda: detect.detect_tamper(events=inputs.events, params=params)),
        (
            "reverse_energy",
            lambda: detect.detect_reverse_energy(
                events=inputs.events, meters=inputs.meters, params=params
            ),
        ),
        ("hot_socket", lambda: detect.detect_hot_socket(events=inputs.events, params=params)),
        (
            "voltage_out_of_range",
            lambda: detect.detect_voltage_out_of_range(
                voltage_reads=inputs.voltage_reads, events=inputs.events, params=params
            ),
        ),
        (
            "suspect_reads",
            lambda: detect.detect_suspect_reads(
                daily=inputs.daily, events=inputs.events, zone=zone, params=params
            ),
        ),
        (
            "register_mismatch",
            lambda: detect.detect_register_mismatch(
                registers=inputs.registers,
                daily=inputs.daily,
                meters=inputs.meters,
                zone=zone,
                params=params,
            ),
        ),
        (
            "high_bill",
            lambda: detect.detect_high_bill(
                daily=inputs.daily,
                meters=inputs.meters,
                registers=inputs.registers,
                last_day=last_day,
                zone=zone,
                params=params,
            ),
        ),
    ]
    steps.append(
        (
            "consumption_drop",
            lambda: detect.detect_consumption_drop(
                daily=inputs.daily,
                meters=inputs.meters,
                last_day=last_day,
                zone=zone,
                params=params,
            ),
        )
    )
    steps.append(
        (
            "crossed_meters",
            lambda: detect.detect_crossed_meters(
                daily=inputs.daily,
                meters=inputs.meters,
                last_day=last_day,
                zone=zone,
                params=params,
            ),
        )
    )
    if inputs.program_mismatches is not None:
        mismatches = inputs.program_mismatches
        steps.append(
            (
                "program_mismatch",
                lambda: detect.detect_program_mismatch(
                    meters=inputs.meters,
                    mismatches=mismatches,
                    window_start_utc=inputs.window_start_utc,
                    as_of_utc=inputs.as_of_utc,
                ),
            )
        )
    if inputs.exchanges is not None and inputs.exchange_reads is not None:
        swaps = inputs.exchanges
        swap_reads = inputs.exchange_reads
        steps.append(
            (
                "wrong_multiplier",
                lambda: detect_wrong_multiplier(
                    daily=inputs.daily,
                    reads=swap_reads,
                    meters=inputs.meters,
                    exchanges=swaps,
                    last_day=last_day,
                    zone=zone,
                ),
            )
        )
    parts = []
    for name, step in steps:
        parts.append(step())
        if on_step is not None:
            on_step(name)
    installed = inputs.meters["meter_id"].implode()
    return (
        pl.concat([EXCEPTIONS.empty(), *parts])
        .filter(pl.col("meter_id").is_in(installed))
        .sort("kind", "meter_id")
    )
