"""Program mismatch: meters whose program's TOU periods differ from their tariff's.

Pure module: polars and pure meterops modules only.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from meterops.diagnostics.detect._common import as_exceptions, utc_literal
from meterops.diagnostics.kinds import ExceptionKind

__all__ = ["detect_program_mismatch"]


def detect_program_mismatch(
    *,
    meters: pl.DataFrame,
    mismatches: pl.DataFrame,
    window_start_utc: dt.datetime,
    as_of_utc: dt.datetime,
) -> pl.DataFrame:
    """Installed meters carrying a program that :func:`programs.validate_programs` rejects.

    Args:
        meters: ``METER_CONTEXT``.
        mismatches: ``programs.MISMATCHES`` rows.
        window_start_utc: First seen (the condition is standing). [UTC]
        as_of_utc: Last seen. [UTC]

    Returns:
        ``EXCEPTIONS`` rows; evidence: ``program_code``, ``tariff_code``, ``differences``.
    """
    frame = (
        meters.select("meter_id", "program_code")
        .join(mismatches, on="program_code")
        .with_columns(
            utc_literal(window_start_utc).alias("first_seen_utc"),
            utc_literal(as_of_utc).alias("last_seen_utc"),
        )
    )
    return as_exceptions(
        frame, ExceptionKind.PROGRAM_MISMATCH, ("program_code", "tariff_code", "differences")
    )
