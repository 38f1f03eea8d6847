"""Writers for IEC 61968-9 CIM ``MeterReadings`` and ``EndDeviceEvents`` (see ``cim.py``).

Documents are assembled with Polars string expressions and group-bys (no Python loop per
reading); only ``EndDeviceEventDetails`` are expanded from each event's JSON in Python.

Pure module: standard library, polars and pure meterops modules only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

import polars as pl

from meterops.ingest.formats._xml import escape_expr, utc_text
from meterops.vee.flags import FLAGS

__all__ = ["write_cim_end_device_events", "write_cim_meter_readings"]

MR_NS: Final = "http://iec.ch/TC57/2011/MeterReadings#"
EV_NS: Final = "http://iec.ch/TC57/2011/EndDeviceEvents#"

# channel → (aggregate, accumulation, flowDirection, measurementKind, multiplier, unit)
_TYPE_FIELDS: Final = {
    "kwh_delivered": (0, 4, 1, 12, 3, 72),
    "kwh_received": (0, 4, 19, 12, 3, 72),
    "kwh_net": (0, 4, 4, 12, 3, 72),
    "kvarh_delivered": (0, 4, 1, 12, 3, 73),
    "kw_demand": (0, 0, 1, 8, 3, 38),
    "voltage_v": (2, 0, 0, 54, 0, 29),
    "voltage_max_v": (8, 0, 0, 54, 0, 29),
    "voltage_min_v": (9, 0, 0, 54, 0, 29),
    "temperature_c": (0, 0, 0, 46, 0, 23),
}
_PERIOD_CODES: Final = {
    600: 1,
    900: 2,
    60: 3,
    86400: 4,
    1800: 5,
    300: 6,
    3600: 7,
    120: 10,
    180: 14,
    1200: 31,
}
_SOURCE_FLAGS: Final = tuple((f.mask, f.cim_quality) for f in FLAGS.values() if f.bit < 8)


def _reading_type(channel: pl.Expr, period: pl.Expr, tou: pl.Expr, *, register: bool) -> pl.Expr:
    def field(i: int) -> pl.Expr:
        return channel.replace_strict(
            {c: str(v[i]) for c, v in _TYPE_FIELDS.items()}, return_dtype=pl.String
        )

    accumulation = pl.lit("1") if register else field(1)
    return pl.concat_str(
        [
            pl.lit("0"),
            field(0),
            period,
            accumulation,
            field(2),
            pl.lit("1"),
            field(3),
            pl.lit("0"),
            pl.lit("0"),
            pl.lit("0"),
            pl.lit("0"),
            tou,
            pl.lit("0"),
            pl.lit("0"),
            pl.lit("0"),
            field(4),
            field(5),
            pl.lit("0"),
        ],
        separator=".",
    )


def _qualities() -> pl.Expr:
    derived = pl.concat_str(
        [
            pl.when((pl.col("quality_flags") & mask) != 0).then(pl.lit(code))
            for mask, code in _SOURCE_FLAGS
        ],
        separator=" ",
        ignore_nulls=True,
    )
    codes = pl.coalesce(pl.col("source_quality"), derived).str.strip_chars()
    items = codes.str.split(" ").list.eval(
        pl.when(pl.element() == "")
        .then(None)
        .otherwise(
            pl.concat_str(
                [
                    pl.lit('<ReadingQualities><ReadingQualityType ref="'),
                    escape_expr(pl.element()),
                    pl.lit('"/></ReadingQualities>'),
                ]
            )
        )
    )
    return items.list.join("", ignore_nulls=True).fill_null("")


def _check(frame: pl.DataFrame) -> None:
    unknown = set(frame["channel"].unique()) - set(_TYPE_FIELDS)
    if unknown:
        msg = f"CIM writer has no ReadingType for channel(s) {sorted(unknown)}"
        raise ValueError(msg)


def write_cim_meter_readings(
    interval_reads: pl.DataFrame | None = None,
    *,
    register_reads: pl.DataFrame | None = None,
    path: str | Path | None = None,
) -> bytes:
    """Write interval and register reads as a CIM ``MeterReadings`` document.

    One ``MeterReading`` per serial number (``Meter/serialNumber``); one ``IntervalBlock``
    per channel and interval length with ``timeStamp`` = interval *end* in UTC; register
    reads as ``Readings`` (bulkQuantity, ``tou`` from ``tou_period``). Values are written in
    the channel's unit with the ReadingType multiplier set to match (k for kWh, kW, kVArh).

    Args:
        interval_reads: ``PARSED_INTERVAL_READS`` columns (``source_line`` optional).
        register_reads: ``PARSED_REGISTER_READS`` columns.
        path: Also write the bytes to this file.

    Returns:
        UTF-8 XML bytes.

    Raises:
        ValueError: A channel without ReadingType, an interval with no measuringPeriod code,
            or a TOU period that is not an integer.
    """
    parts: list[pl.DataFrame] = []
    if interval_reads is not None and interval_reads.height:
        _check(interval_reads)
        bad = set(interval_reads["interval_s"].unique()) - set(_PERIOD_CODES)
        if bad:
            msg = f"no CIM measuringPeriod for interval(s) {sorted(bad)} s"
            raise ValueError(msg)
        period = pl.col("interval_s").replace_strict(
            {k: str(v) for k, v in _PERIOD_CODES.items()}, return_dtype=pl.String
        )
        end = pl.col("interval_start_utc") + pl.duration(seconds=pl.col("interval_s"))
        readings = interval_reads.sort(
            "serial_number", "channel", "interval_s", "interval_start_utc"
        ).with_columns(
            _reading_type(pl.col("channel"), period, pl.lit("0"), register=False).alias("rt"),
            pl.concat_str(
                [
                    pl.lit("<IntervalReadings>"),
                    _qualities(),
                    pl.lit("<timeStamp>"),
                    utc_text(end),
                    pl.lit("</timeStamp><value>"),
                    pl.col("value").cast(pl.String),
                    pl.lit("</value></IntervalReadings>"),
                ]
            ).alias("xml"),
        )
        blocks = (
            readings.group_by("serial_number", "rt", maintain_order=True)
            .agg(pl.col("xml").str.join(""))
            .select(
                "serial_number",
                pl.lit(0).alias("order"),
                pl.concat_str(
                    [
                        pl.lit('<IntervalBlocks><ReadingType ref="'),
                        pl.col("rt"),
                        pl.lit('"/>'),
                        pl.col("xml"),
                        pl.lit("</IntervalBlocks>"),
                    ]
                ).alias("xml"),
            )
        )
        parts.append(blocks)
    if register_reads is not None and register_reads.height:
        _check(register_reads)
        tou = register_reads["tou_period"].drop_nulls()
        if tou.len() and tou.str.contains(r"^\d{1,3}$").not_().any():
            msg = "CIM ReadingType tou must be an integer: tou_period must be digits or null"
            raise ValueError(msg)
        parts.append(
            register_reads.sort("serial_number", "channel", "read_time_utc").select(
                "serial_number",
                pl.lit(1).alias("order"),
                pl.concat_str(
                    [
                        pl.lit("<Readings>"),
                        _qualities(),
                        pl.lit('<ReadingType ref="'),
                        _reading_type(
                            pl.col("channel"),
                            pl.lit("0"),
                            pl.col("tou_period").fill_null("0"),
                            register=True,
                        ),
                        pl.lit('"/><timeStamp>'),
                        utc_text(pl.col("read_time_utc")),
                        pl.lit("</timeStamp><value>"),
                        pl.col("value").cast(pl.String),
                        pl.lit("</value></Readings>"),
                    ]
                ).alias("xml"),
            )
        )
    body = ""
    if parts:
        meters = (
            pl.concat(parts)
            .sort("serial_number", "order", maintain_order=True)
            .group_by("serial_number", maintain_order=True)
            .agg(
                pl.col("xml").filter(pl.col("order") == 0).str.join("").alias("blocks"),
                pl.col("xml").filter(pl.col("order") == 1).str.join("").alias("readings"),
            )
        )
        body = "\n".join(
            meters.select(
                pl.concat_str(
                    [
                        pl.lit("<MeterReading>"),
                        pl.col("blocks"),
                        pl.lit("<Meter><serialNumber>"),
                        escape_expr(pl.col("serial_number")),
                        pl.lit("</serialNumber></Meter>"),
                        pl.col("readings"),
                        pl.lit("</MeterReading>"),
                    ]
                )
            )
            .to_series()
            .to_list()
        )
    out = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<MeterReadings xmlns="{MR_NS}">\n'
        f"{body}\n</MeterReadings>\n"
    ).encode()
    if path is not None:
        Path(path).write_bytes(out)
    return out


def _details_xml(details: str | None) -> str:
    if details is None:
        return ""
    pairs = json.loads(details)
    items = []
    for name, value in pairs.items():
        text = value if isinstance(value, str) else json.dumps(value)
        items.append(
            f"<EndDeviceEventDetails><name>{_escape(str(name))}</name>"
            f"<value>{_escape(text)}</value></EndDeviceEventDetails>"
        )
    return "".join(items)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_cim_end_device_events(events: pl.DataFrame, *, path: str | Path | None = None) -> bytes:
    """Write events as a CIM ``EndDeviceEvents`` document.

    ``Assets/mRID`` carries the serial number, ``reason`` the vendor code; ``details`` (a JSON
    object) becomes ``EndDeviceEventDetails`` name/value pairs.

    Args:
        events: ``PARSED_EVENTS`` columns (``source_line`` optional).
        path: Also write the bytes to this file.

    Returns:
        UTF-8 XML bytes.
    """
    details = pl.Series(
        "d", [_details_xml(d) for d in events["details"].to_list()], dtype=pl.String
    )
    rows = events.with_columns(details.alias("detail_xml")).select(
        pl.concat_str(
            [
                pl.lit("<EndDeviceEvent><createdDateTime>"),
                utc_text(pl.col("event_time_utc")),
                pl.lit("</createdDateTime>"),
                pl.when(pl.col("vendor_code").is_null())
                .then(pl.lit(""))
                .otherwise(
                    pl.concat_str(
                        [
                            pl.lit("<reason>"),
                            escape_expr(pl.col("vendor_code")),
                            pl.lit("</reason>"),
                        ]
                    )
                ),
                pl.lit("<severity>"),
                escape_expr(pl.col("severity")),
                pl.lit("</severity>"),
                pl.lit("<Assets><mRID>"),
                escape_expr(pl.col("serial_number")),
                pl.lit("</mRID></Assets>"),
                pl.col("detail_xml"),
                pl.lit('<EndDeviceEventType ref="'),
                escape_expr(pl.col("cim_event_type")),
                pl.lit('"/></EndDeviceEvent>'),
            ]
        )
    )
    body = "\n".join(rows.to_series().to_list())
    out = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<EndDeviceEvents xmlns="{EV_NS}">\n'
        f"{body}\n</EndDeviceEvents>\n"
    ).encode()
    if path is not None:
        Path(path).write_bytes(out)
    return out
