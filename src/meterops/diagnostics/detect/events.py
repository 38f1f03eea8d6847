"""Event exceptions: tamper, reverse energy, hot socket (IEC 61968-9 event codes).

Pure module: polars and pure meterops modules only.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from meterops.diagnostics.detect._common import as_exceptions, event_name_expr
from meterops.diagnostics.kinds import ExceptionKind
from meterops.diagnostics.params import DetectParams

__all__ = [
    "HOT_SOCKET_EVENTS",
    "REVERSE_EVENTS",
    "TAMPER_EVENTS",
    "detect_hot_socket",
    "detect_reverse_energy",
    "detect_tamper",
]

TAMPER_EVENTS = ("tamper", "cover_removed", "tilt_tamper", "magnetic_tamper")
"""Event names that count as tamper."""
REVERSE_EVENTS = ("reverse_energy", "reverse_rotation")
"""Event names that count as reverse energy."""
HOT_SOCKET_EVENTS = ("high_temperature",)
"""Event names that count as a hot socket."""


def _from_events(
    events: pl.DataFrame, names: Sequence[str], minimum: int, kind: ExceptionKind
) -> pl.DataFrame:
    frame = (
        events.lazy()
        .with_columns(event_name_expr().alias("event_name"))
        .filter(pl.col("event_name").is_in(list(names)))
        .group_by("meter_id")
        .agg(
            pl.len().alias("events"),
            pl.col("event_name").unique().sort().alias("event_names"),
            pl.col("event_time_utc").min().alias("first_seen_utc"),
            pl.col("event_time_utc").max().alias("last_seen_utc"),
        )
        .filter(pl.col("events") >= minimum)
        .collect()
    )
    return as_exceptions(frame, kind, ("events", "event_names"))


def detect_tamper(*, events: pl.DataFrame, params: DetectParams) -> pl.DataFrame:
    """Meters with cover-removed, tilt, magnetic or generic tamper events.

    Args:
        events: Stored events (``EVENTS``) of the window.
        params: Thresholds (``tamper_events``).

    Returns:
        ``EXCEPTIONS`` rows; evidence: ``events`` (count), ``event_names``.
    """
    return _from_events(events, TAMPER_EVENTS, params.tamper_events, ExceptionKind.TAMPER)


def detect_hot_socket(*, events: pl.DataFrame, params: DetectParams) -> pl.DataFrame:
    """Meters with high-temperature alarms.

    Args:
        events: Stored events (``EVENTS``) of the window.
        params: Thresholds (``hot_socket_events``).

    Returns:
        ``EXCEPTIONS`` rows; evidence: ``events`` (count), ``event_names``.
    """
    return _from_events(
        events, HOT_SOCKET_EVENTS, params.hot_socket_events, ExceptionKind.HOT_SOCKET
    )


def detect_reverse_energy(
    *, events: pl.DataFrame, meters: pl.DataFrame, params: DetectParams
) -> pl.DataFrame:
    """Reverse-energy events where no export is expected.

    A bidirectional meter on a net-metered account exports legitimately and is left out.

    Args:
        events: Stored events (``EVENTS``) of the window.
        meters: ``METER_CONTEXT`` (``bidirectional``, ``net_metering``).
        params: Thresholds (``reverse_events``).

    Returns:
        ``EXCEPTIONS`` rows; evidence: ``events`` (count), ``event_names``.
    """
    exporting = meters.filter(pl.col("bidirectional") & pl.col("net_metering"))["meter_id"]
    found = _from_events(
        events, REVERSE_EVENTS, params.reverse_events, ExceptionKind.REVERSE_ENERGY
    )
    return found.filter(~pl.col("meter_id").is_in(exporting.implode()))
