"""NEM13 accumulation (``250``) records for :mod:`meterops.ingest.formats.nem12`.

Pure module: numpy, polars and pure meterops modules only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Protocol

import numpy as np
import polars as pl

from meterops.ingest.formats import _text, _time
from meterops.ingest.formats._common import IssueLog, contract_frame, scale_pow10
from meterops.reads.schema import PARSED_REGISTER_READS

__all__ = ["ParserView", "register_reads"]


class ParserView(Protocol):
    """What the NEM12 parser shares with this module."""

    f: _text.Fields
    issues: IssueLog
    lines: np.ndarray
    record: np.ndarray
    rows_in_file: int

    def _issue(
        self, lines: np.ndarray, field: str, code: str, message: str | list[str]
    ) -> None: ...

    def _text(self, lines: np.ndarray, position: int) -> pl.Series: ...


_REGISTER_TEXT_COLUMNS: Final = (
    "nmi",
    "serial",
    "direction",
    "value_text",
    "time_text",
    "source_quality",
    "uom",
    "which",
)
_REGISTER_DIRECTIONS: Final = {"E": "kwh_delivered", "I": "kwh_received"}


def register_reads(
    self: ParserView,
    *,
    units: Mapping[str, tuple[str, float]],
    quality_flags: Mapping[str, int],
    utc_offset_s: int,
) -> pl.DataFrame:
    """NEM13 ``250`` records → register reads (previous and current read of each)."""
    lines, f = self.lines, self.f
    rec = lines[self.record == 250]
    self.rows_in_file += 2 * rec.size
    short = f.line_count[rec] < 20
    self._issue(rec[short], "record", "record.field_count", "a 250 record needs at least 20 fields")
    rec = rec[~short]
    if rec.size == 0:
        return PARSED_REGISTER_READS.empty()
    parts = []
    for value_at, time_at, quality_at in ((8, 9, 10), (13, 14, 15)):
        parts.append(
            pl.DataFrame(
                {
                    "line_index": rec,
                    "nmi": self._text(rec, 1),
                    "serial": self._text(rec, 6),
                    "direction": self._text(rec, 7).str.to_uppercase(),
                    "value_text": self._text(rec, value_at),
                    "time_text": self._text(rec, time_at),
                    "source_quality": self._text(rec, quality_at),
                    "uom": self._text(rec, 19).str.to_uppercase(),
                    "which": "previous" if value_at == 8 else "current",
                }
            )
        )
    frame = pl.concat(parts).cast(dict.fromkeys(_REGISTER_TEXT_COLUMNS, pl.String))
    stamp = frame["time_text"].cast(pl.Int64, strict=False).fill_null(0).to_numpy()
    wall, ok = _time.civil_to_wall_us(stamp, digits=14)
    ok &= (frame["time_text"].str.len_bytes() == 14).to_numpy()
    frame = frame.with_columns(
        pl.Series("time_ok", ok),
        (pl.Series(wall) - utc_offset_s * 1_000_000)
        .cast(pl.Datetime("us", "UTC"))
        .alias("read_time_utc"),
        pl.col("value_text").cast(pl.Float64, strict=False).alias("raw"),
        pl.col("direction").replace_strict(_REGISTER_DIRECTIONS, default=None).alias("channel"),
        pl.col("uom")
        .replace_strict({k: v[1] for k, v in units.items() if v[0] == "energy"}, default=None)
        .alias("factor"),
        pl.Series("source_line", f.line_number[frame["line_index"].to_numpy()]),
    )
    rules = [
        (
            pl.col("channel").is_null(),
            "direction_indicator",
            "direction.invalid",
            "direction indicator must be E or I",
        ),
        (pl.col("factor").is_null(), "uom", "uom.invalid", "unit must be Wh, kWh or MWh"),
        (
            ~pl.col("time_ok"),
            "register_read_datetime",
            "datetime.invalid",
            "not a real CCYYMMDDhhmmss date-time",
        ),
        (
            pl.col("raw").is_null() | ~pl.col("raw").is_finite() | (pl.col("raw") < 0),
            "register_read",
            "register_read.invalid",
            "not a non-negative number",
        ),
    ]
    bad = pl.Series([False] * frame.height, dtype=pl.Boolean)
    found = []
    for condition, field, code, message in rules:
        hit = frame.select(condition.fill_null(value=True)).to_series()
        found.append(
            frame.filter(hit & ~bad).select(
                pl.col("source_line").alias("line"),
                pl.format("{}_" + field, pl.col("which")).alias("field"),
                pl.lit(code).alias("code"),
                pl.lit(message).alias("message"),
            )
        )
        bad = bad | hit
    self.issues.add_frame(pl.concat(found))
    frame = frame.filter(~bad).with_columns(
        pl.when(pl.col("serial") == "")
        .then(pl.col("nmi"))
        .otherwise(pl.col("serial"))
        .alias("serial_number"),
        pl.col("raw").alias("value"),
        pl.lit(None, dtype=pl.String).alias("tou_period"),
        pl.col("source_quality")
        .str.slice(0, 1)
        .replace_strict(dict(quality_flags), default=0, return_dtype=pl.UInt32)
        .alias("quality_flags"),
    )
    exponent = pl.Series(
        np.rint(np.log10(frame["factor"].fill_null(1.0).to_numpy())).astype(np.int64)
    )
    frame = frame.with_columns(scale_pow10(frame["raw"], exponent).alias("value"))
    return contract_frame(frame, PARSED_REGISTER_READS)
