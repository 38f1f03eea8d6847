"""Row helpers for :mod:`meterops.ingest.formats.cim`: meter identity, issue reporting, events.

Pure module: numpy, polars and pure meterops modules only.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import polars as pl

from meterops.ingest.formats import _time
from meterops.ingest.formats._common import IssueLog, contract_frame
from meterops.nomenclature import CIM_EVENTS, Severity
from meterops.reads.schema import PARSED_EVENTS

__all__ = ["RS", "US_SEP", "parse_events", "report", "serial_expr"]

RS: Final = "\u241e"
"""Separates detail pairs in the XSLT text output."""
US_SEP: Final = "\u241f"
"""Separates a detail's name from its value in the XSLT text output."""
_SEVERITIES: Final = frozenset(s.value for s in Severity)


def serial_expr() -> pl.Expr:
    """The meter: serialNumber, else Names/name, else mRID (null when all are empty)."""
    blank = pl.lit("")
    return (
        pl.when(pl.col("serial") != blank)
        .then(pl.col("serial"))
        .when(pl.col("name") != blank)
        .then(pl.col("name"))
        .when(pl.col("mrid") != blank)
        .then(pl.col("mrid"))
        .otherwise(None)
        .alias("serial_number")
    )


def report(
    frame: pl.DataFrame, rules: list[tuple[pl.Expr, str, str, str]], issues: IssueLog
) -> pl.DataFrame:
    """Apply ``(condition, field, code, message)`` rules; report each bad row's first; keep good."""
    matrix = frame.select(
        c.fill_null(value=True).alias(f"r{i}") for i, (c, *_) in enumerate(rules)
    ).to_numpy()
    first = (
        np.where(matrix.any(axis=1), matrix.argmax(axis=1), -1)
        if matrix.size
        else np.zeros(0, dtype=np.int64)
    )
    bad = np.flatnonzero(first >= 0)
    if bad.size:
        issues.add_frame(
            pl.DataFrame(
                {
                    "line": frame["line"].gather(bad),
                    "field": [rules[r][1] for r in first[bad]],
                    "code": [rules[r][2] for r in first[bad]],
                    "message": [rules[r][3] for r in first[bad]],
                }
            )
        )
    return frame.filter(pl.Series(first < 0, dtype=pl.Boolean))


def _json_string(text: pl.Expr) -> pl.Expr:
    escaped = text.str.replace_all("\\", "\\\\", literal=True).str.replace_all(
        '"', '\\"', literal=True
    )
    return pl.concat_str([pl.lit('"'), escaped, pl.lit('"')])


def parse_events(table: pl.DataFrame, issues: IssueLog) -> pl.DataFrame:
    """EndDeviceEvent rows (from the events XSLT) → ``PARSED_EVENTS`` with located issues."""
    if table.is_empty():
        return PARSED_EVENTS.empty()
    known = {code: event.severity.value for code, event in CIM_EVENTS.items()}
    frame = table.with_columns(serial_expr(), pl.int_range(pl.len()).alias("row")).with_columns(
        pl.col("time")
        .map_batches(_time.parse_iso_utc, return_dtype=pl.Datetime("us", "UTC"))
        .alias("event_time_utc"),
        pl.col("event_type").alias("cim_event_type"),
        pl.when(pl.col("reason") == "").then(None).otherwise(pl.col("reason")).alias("vendor_code"),
        pl.coalesce(
            pl.col("event_type").replace_strict(known, default=None, return_dtype=pl.String),
            pl.when(pl.col("severity").str.to_lowercase().is_in(sorted(_SEVERITIES))).then(
                pl.col("severity").str.to_lowercase()
            ),
            pl.lit("info"),
        ).alias("severity"),
    )
    pairs = (
        frame.select("row", pl.col("details").str.strip_suffix(RS).str.split(RS).alias("pair"))
        .explode("pair")
        .filter(pl.col("pair") != "")
    )
    pairs = (
        pairs.with_columns(pl.col("pair").str.split_exact(US_SEP, 1).alias("kv"))
        .unnest("kv")
        .group_by("row", maintain_order=True)
        .agg(
            pl.concat_str(
                [
                    _json_string(pl.col("field_0")),
                    pl.lit(": "),
                    _json_string(pl.col("field_1").fill_null("")),
                ]
            )
            .str.join(", ")
            .alias("body")
        )
    )
    frame = frame.join(pairs, on="row", how="left", maintain_order="left").with_columns(
        pl.when(pl.col("body").is_null())
        .then(None)
        .otherwise(pl.concat_str([pl.lit("{"), pl.col("body"), pl.lit("}")]))
        .alias("details")
    )
    rules = [
        (
            pl.col("serial_number").is_null(),
            "Assets",
            "asset.missing",
            "no Assets serialNumber, Names/name or mRID",
        ),
        (
            pl.col("event_time_utc").is_null(),
            "createdDateTime",
            "time.invalid",
            "createdDateTime must be an xs:dateTime with an offset",
        ),
        (
            ~pl.col("cim_event_type").str.contains(r"^\d{1,5}\.\d{1,5}\.\d{1,5}\.\d{1,5}$"),
            "EndDeviceEventType",
            "event_type.invalid",
            "EndDeviceEventType ref must be type.domain.subDomain.eventOrAction integers",
        ),
    ]
    good = report(frame, rules, issues).with_columns(pl.col("line").alias("source_line"))
    return contract_frame(good, PARSED_EVENTS)
