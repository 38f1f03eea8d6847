"""Feed builder for :func:`meterops.ingest.formats.espi.write_espi` (Polars string building).

Pure module: standard library, polars and pure meterops modules only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final
from xml.sax.saxutils import escape

import polars as pl

from meterops.ingest.formats._common import EDITED, ESTIMATED, SUSPECT
from meterops.ingest.formats.espi import _CHANNEL_TYPES, ATOM, ESPI, READING_TYPES

__all__ = ["build_feed"]

_DERIVED_QUALITY: Final = ((ESTIMATED, "8"), (EDITED, "7"), (SUSPECT, "10"))
_VALUE_EXPONENT: Final = -6  # values are written as integers of 10⁻⁶ of the channel unit


def build_feed(
    interval_reads: pl.DataFrame,
    *,
    customer_id: str,
    base_url: str,
    updated_at: str,
    path: str | Path | None,
) -> bytes:
    """See :func:`meterops.ingest.formats.espi.write_espi`."""
    serials = interval_reads["serial_number"].unique().to_list()
    if len(serials) != 1:
        msg = f"write_espi writes one meter per feed; got serial numbers {sorted(serials)[:5]}"
        raise ValueError(msg)
    unknown = set(interval_reads["channel"].unique()) - set(_CHANNEL_TYPES)
    if unknown:
        msg = f"ESPI cannot carry channel(s) {sorted(unknown)}; supported: {sorted(_CHANNEL_TYPES)}"
        raise ValueError(msg)
    serial = escape(str(serials[0]))
    point = f"{base_url}/RetailCustomer/{escape(customer_id)}/UsagePoint/{serial}"
    quality = pl.lit("")
    for mask, code in reversed(_DERIVED_QUALITY):
        quality = (
            pl.when((pl.col("quality_flags") & mask) != 0).then(pl.lit(code)).otherwise(quality)
        )
    unit_exp = pl.col("channel").replace_strict(
        {c: READING_TYPES[t][1] for c, t in _CHANNEL_TYPES.items()}, return_dtype=pl.Int64
    )
    power = _VALUE_EXPONENT - unit_exp
    df = interval_reads.sort("channel", "interval_s", "interval_start_utc").with_columns(
        (pl.col("interval_start_utc").dt.epoch("s")).alias("start_s"),
        (pl.col("value") * 10.0**-_VALUE_EXPONENT).round(0).cast(pl.Int64).alias("raw"),
        pl.coalesce(pl.col("source_quality"), quality).alias("q"),
        pl.col("interval_start_utc").dt.date().alias("day"),
        power.alias("power"),
    )
    reading = pl.concat_str(
        [
            pl.lit("<IntervalReading>"),
            pl.when(pl.col("q") == "")
            .then(pl.lit(""))
            .otherwise(
                pl.concat_str(
                    [
                        pl.lit("<ReadingQuality><quality>"),
                        _escaped(pl.col("q")),
                        pl.lit("</quality></ReadingQuality>"),
                    ]
                )
            ),
            pl.lit("<timePeriod><duration>"),
            pl.col("interval_s").cast(pl.String),
            pl.lit("</duration><start>"),
            pl.col("start_s").cast(pl.String),
            pl.lit("</start></timePeriod><value>"),
            pl.col("raw").cast(pl.String),
            pl.lit("</value></IntervalReading>"),
        ]
    )
    blocks = (
        df.with_columns(reading.alias("xml"))
        .group_by("channel", "interval_s", "day", maintain_order=True)
        .agg(
            pl.col("start_s").min().alias("first"),
            pl.col("start_s").max().alias("last"),
            pl.col("power").first(),
            pl.col("xml").str.join(""),
        )
    )
    parts = [
        (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="{ATOM}">'
            f"<id>urn:meterops:{serial}</id><title>meterops export</title>"
            f"<updated>{updated_at}</updated>"
        ),
        _entry(
            point,
            f"{point}/MeterReading",
            "UsagePoint",
            '<UsagePoint xmlns="http://naesb.org/espi"><ServiceCategory><kind>0</kind>'
            "</ServiceCategory></UsagePoint>",
            updated_at,
        ),
    ]
    for index, ((channel, interval_s), group) in enumerate(
        blocks.group_by("channel", "interval_s", maintain_order=True)
    ):
        uom, flow = _CHANNEL_TYPES[str(channel)]
        reading_url = f"{point}/MeterReading/{index + 1}"
        type_url = f"{base_url}/ReadingType/{serial}-{index + 1}"
        parts.append(
            _entry(
                reading_url,
                f"{reading_url}/IntervalBlock",
                "MeterReading",
                f'<MeterReading xmlns="{ESPI}"/>',
                updated_at,
                extra=type_url,
            )
        )
        parts.append(
            _entry(
                type_url,
                None,
                "ReadingType",
                f'<ReadingType xmlns="{ESPI}"><flowDirection>{flow}</flowDirection>'
                f"<intervalLength>{interval_s}</intervalLength>"
                f"<powerOfTenMultiplier>{group['power'][0]}</powerOfTenMultiplier>"
                f"<uom>{uom}</uom></ReadingType>",
                updated_at,
            )
        )
        for number, (first, last, xml) in enumerate(
            group.select("first", "last", "xml").iter_rows(), start=1
        ):
            block = (
                f'<IntervalBlock xmlns="{ESPI}"><interval><duration>'
                f"{int(last) - int(first) + int(interval_s)}</duration><start>{first}"
                f"</start></interval>{xml}</IntervalBlock>"
            )
            parts.append(
                _entry(
                    f"{reading_url}/IntervalBlock/{number}",
                    None,
                    "IntervalBlock",
                    block,
                    updated_at,
                    up=f"{reading_url}/IntervalBlock",
                )
            )
    parts.append("</feed>\n")
    out = "\n".join(parts).encode("utf-8")
    if path is not None:
        Path(path).write_bytes(out)
    return out


def _escaped(text: pl.Expr) -> pl.Expr:
    return (
        text.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
    )


def _entry(
    self_url: str,
    related: str | None,
    title: str,
    content: str,
    updated: str,
    *,
    extra: str | None = None,
    up: str | None = None,
) -> str:
    links = [f'<link rel="self" href="{self_url}"/>']
    if up:
        links.append(f'<link rel="up" href="{up}"/>')
    links.extend(f'<link rel="related" href="{h}"/>' for h in (related, extra) if h)
    return (
        f"<entry><id>urn:meterops:{escape(self_url)}</id>{''.join(links)}"
        f"<title>{title}</title><content>{content}</content>"
        f"<published>{updated}</published><updated>{updated}</updated></entry>"
    )
