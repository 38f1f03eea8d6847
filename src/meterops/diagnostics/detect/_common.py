"""Helpers shared by the detectors: event codes by name, the exception frame's last step.

Pure module: polars and pure meterops modules only.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from meterops.diagnostics.frames import EXCEPTIONS
from meterops.diagnostics.kinds import ExceptionKind
from meterops.nomenclature import EVENT_BY_NAME
from meterops.reads.schema import UTC_DATETIME

__all__ = ["as_exceptions", "event_codes", "event_name_expr", "utc_literal"]


def event_codes(*names: str) -> list[str]:
    """CIM event codes of our event names (``nomenclature.EVENT_BY_NAME``)."""
    return [EVENT_BY_NAME[name].code for name in names]


def event_name_expr() -> pl.Expr:
    """Our event name for the ``cim_event_type`` column (null for codes we do not know)."""
    mapping = {event.code: name for name, event in EVENT_BY_NAME.items()}
    return pl.col("cim_event_type").replace_strict(mapping, default=None, return_dtype=pl.String)


def utc_literal(moment: object) -> pl.Expr:
    """A UTC timestamp literal of the stored dtype."""
    return pl.lit(moment).cast(UTC_DATETIME)


def as_exceptions(
    frame: pl.DataFrame, kind: ExceptionKind, evidence: Sequence[str]
) -> pl.DataFrame:
    """Shape detector output as :data:`EXCEPTIONS` rows.

    Args:
        frame: Rows with ``meter_id``, ``first_seen_utc``, ``last_seen_utc`` and the evidence
            columns.
        kind: The exception kind.
        evidence: Columns to put in the JSON evidence object.

    Returns:
        The exceptions, one per meter, in meter order.
    """
    if frame.is_empty():
        return EXCEPTIONS.empty()
    return (
        frame.select(
            pl.col("meter_id").cast(pl.Int64),
            pl.lit(kind.value).alias("kind"),
            pl.col("first_seen_utc").cast(UTC_DATETIME),
            pl.col("last_seen_utc").cast(UTC_DATETIME),
            pl.struct([pl.col(c) for c in evidence]).struct.json_encode().alias("evidence"),
        )
        .unique("meter_id", keep="first")
        .sort("meter_id")
    )
