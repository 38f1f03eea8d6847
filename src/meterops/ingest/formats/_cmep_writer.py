"""Line builders for :func:`meterops.ingest.formats.cmep.write_cmep` (vectorised with Polars).

Pure module: polars and pure meterops modules only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Protocol

import numpy as np
import polars as pl

from meterops.ingest.formats import _time
from meterops.ingest.formats._common import EDITED, ESTIMATED, MISSING

__all__ = ["interval_lines", "register_lines"]

_DEFAULT_TEXT_BY_FLAG: Final = ((MISSING, "N"), (ESTIMATED, "E"), (EDITED, "A"))
_REGISTER_INTERVAL: Final = "00000000"


class _Unit(Protocol):
    @property
    def channel(self) -> str: ...
    @property
    def scale(self) -> float: ...
    @property
    def register(self) -> bool: ...


def _unit_frame(table: Mapping[tuple[str, str], _Unit], *, register: bool) -> pl.DataFrame:
    rows: dict[str, tuple[str, str, float]] = {}
    for (commodity, unit), spec in table.items():
        if spec.register == register and spec.channel not in rows and spec.scale == 1.0:
            rows[spec.channel] = (commodity, unit, spec.scale)
    return pl.DataFrame(
        [(c, *v) for c, v in rows.items()],
        schema=["channel", "commodity", "units", "scale"],
        orient="row",
    )


def _check_channels(frame: pl.DataFrame, units: pl.DataFrame, kind: str) -> None:
    unknown = set(frame["channel"].unique().to_list()) - set(units["channel"].to_list())
    if unknown:
        msg = (
            f"no CMEP {kind} unit for channel(s) {sorted(unknown)}; "
            f"known: {sorted(units['channel'].to_list())} (pass units=… to add one)"
        )
        raise ValueError(msg)


_DAY_US: Final = 86_400_000_000


def _stamp(utc_us: np.ndarray, zone: str) -> pl.Series:
    """Local ``CCYYMMDDHHMM`` text of UTC µs (integer arithmetic after one tz pass)."""
    wall = _time.utc_to_wall_us(utc_us, zone)
    return pl.Series("stamp", _time.wall_to_stamp(wall)).cast(pl.String)


def _quality_text() -> pl.Expr:
    derived = pl.lit("")
    for mask, text in reversed(_DEFAULT_TEXT_BY_FLAG):
        derived = (
            pl.when((pl.col("quality_flags") & mask) != 0).then(pl.lit(text)).otherwise(derived)
        )
    return pl.coalesce(pl.col("source_quality"), derived)


def _quality_column(frame: pl.DataFrame) -> pl.Expr:
    """Protocol text per row; a constant empty text when no row has a quality to say."""
    plain = frame.select(
        pl.col("source_quality").is_null().all() & (pl.col("quality_flags") == 0).all()
    ).item()
    return pl.lit("") if plain else _quality_text()


def _value_column(frame: pl.DataFrame) -> pl.Expr:
    """Value text; the NaN check (no data) only when a NaN is present."""
    has_nan = frame.select(pl.col("value").is_nan().any()).item()
    return _value_text() if has_nan else pl.col("value").cast(pl.String)


def _value_text() -> pl.Expr:
    return (
        pl.when(pl.col("value").is_nan())
        .then(pl.lit(""))
        .otherwise(pl.col("value").cast(pl.String))
    )


def _grouped_in_time_order(frame: pl.DataFrame) -> bool:
    """Whether each (meter, channel) is one contiguous run in time order (no sort needed).

    Lines only need each meter's channel together and in time order; which meter comes first
    does not matter, so a frame generated meter by meter is written as it comes.
    """
    if frame.height < 2:
        return True
    key_changes = (pl.col("serial_number") != pl.col("serial_number").shift(1)) | (
        pl.col("channel") != pl.col("channel").shift(1)
    )
    changes = key_changes.fill_null(value=True)
    backwards = frame.select(
        (~changes & (pl.col("interval_start_utc") <= pl.col("interval_start_utc").shift(1))).any()
    ).item()
    # A key seen in two runs is split: compare the run heads only (few rows).
    heads = frame.filter(changes).select("serial_number", "channel")
    checks = {"runs": heads.height, "keys": heads.n_unique(), "backwards": backwards}
    return bool(checks["runs"] == checks["keys"] and not checks["backwards"])


def interval_lines(
    frame: pl.DataFrame, table: Mapping[tuple[str, str], _Unit], zone: str, *, every: bool
) -> pl.DataFrame:
    """One CMEP line (header tail, count, triplets) per meter, channel, local day and run."""
    units = _unit_frame(table, register=False)
    _check_channels(frame, units, "interval")
    if (frame["interval_s"] % 60 != 0).any() or (frame["interval_s"] <= 0).any():
        msg = "CMEP intervals must be positive whole minutes"
        raise ValueError(msg)
    start = pl.col("interval_start_utc")
    keys = ["serial_number", "channel", "interval_s", "local_day"]
    df = (
        frame
        if _grouped_in_time_order(frame)
        else frame.sort("serial_number", "channel", "interval_start_utc")
    )
    start_us = df["interval_start_utc"].cast(pl.Int64).to_numpy()
    end_us = start_us + df["interval_s"].cast(pl.Int64).to_numpy() * 1_000_000
    df = df.with_columns(
        pl.Series("local_day", _time.utc_to_wall_us(start_us, zone) // _DAY_US),
        pl.Series("end", end_us).cast(pl.Datetime("us", "UTC")),
    )
    new_line = pl.any_horizontal(
        *[pl.col(c) != pl.col(c).shift(1) for c in keys], start != pl.col("end").shift(1)
    ).fill_null(value=True)
    df = df.with_columns(new_line.alias("first"), new_line.cum_sum().alias("line_no"))
    # Stamps cost a time-zone pass and a civil-date computation per row: format them only
    # where they are written (every row, or only the first of each line).
    rows = np.arange(df.height) if every else np.flatnonzero(df["first"].to_numpy())
    stamps = pl.repeat(None, df.height, dtype=pl.Int64, eager=True).scatter(
        rows, _time.wall_to_stamp(_time.utc_to_wall_us(end_us[rows], zone))
    )
    df = df.with_columns(
        pl.concat_str(
            [stamps.cast(pl.String).fill_null(""), _quality_column(df), _value_column(df)],
            separator=",",
        ).alias("triplet")
    )
    minutes = pl.col("interval_s") // 60
    code = pl.format(
        "00{}{}{}",
        (minutes // 1440).cast(pl.String).str.zfill(2),
        (minutes % 1440 // 60).cast(pl.String).str.zfill(2),
        (minutes % 60).cast(pl.String).str.zfill(2),
    )
    lines = df.group_by("line_no", maintain_order=True).agg(
        pl.col("serial_number").first(),
        pl.col("channel").first(),
        pl.col("interval_s").first(),
        pl.len().alias("count"),
        pl.col("triplet").str.join(",").alias("body"),
    )
    return lines.join(units, on="channel", how="left", maintain_order="left").select(
        "serial_number",
        "count",
        "body",
        pl.concat_str(
            [pl.col("commodity"), pl.col("units"), pl.lit("1"), code, pl.lit("")], separator=","
        ).alias("head"),
    )


def register_lines(
    frame: pl.DataFrame, table: Mapping[tuple[str, str], _Unit], zone: str
) -> pl.DataFrame:
    """One CMEP register line (all reads) per meter and channel."""
    units = _unit_frame(table, register=True)
    _check_channels(frame, units, "register")
    if frame["tou_period"].is_not_null().any():
        msg = "CMEP MEPMD01 cannot carry TOU registers (tou_period must be null)"
        raise ValueError(msg)
    df = frame.sort("serial_number", "channel", "read_time_utc")
    df = df.with_columns(_stamp(df["read_time_utc"].cast(pl.Int64).to_numpy(), zone)).with_columns(
        pl.concat_str([pl.col("stamp"), _quality_text(), _value_text()], separator=",").alias(
            "triplet"
        )
    )
    lines = df.group_by("serial_number", "channel", maintain_order=True).agg(
        pl.len().alias("count"), pl.col("triplet").str.join(",").alias("body")
    )
    return lines.join(units, on="channel", how="left", maintain_order="left").select(
        "serial_number",
        "count",
        "body",
        pl.concat_str(
            [
                pl.col("commodity"),
                pl.col("units"),
                pl.lit("1"),
                pl.lit(_REGISTER_INTERVAL),
                pl.lit(""),
            ],
            separator=",",
        ).alias("head"),
    )
