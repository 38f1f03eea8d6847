"""Format parsers and writers: throughput in reads/s against naive baselines in the same run.

Baselines are what a straightforward implementation would do: the ``csv`` module with a
Python loop per value (CMEP, NEM12), pandas (head-end CSV), lxml ``iterparse`` with a Python
loop per element (ESPI, CIM), and f-strings per value (writers). Goals come from issue 4:
ingest ≥ 5 M reads/s for CMEP and CSV, ≥ 1 M reads/s for CIM and ESPI (so parsing alone
must be above that), ≥ 3 M reads/s for ``write_cmep``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import polars as pl
from lxml import etree

from benchmarks.harness import BenchContext, Figure, timed
from meterops.ingest.formats.cim import parse_cim, write_cim_meter_readings
from meterops.ingest.formats.cmep import parse_cmep, write_cmep
from meterops.ingest.formats.espi import parse_espi, write_espi
from meterops.ingest.formats.headend_csv import parse_headend_csv, write_headend_csv
from meterops.ingest.formats.nem12 import parse_nem12

ZONE = ZoneInfo("America/New_York")
AREA = "ingest formats"


def _reads(meters: int, days: int, *, interval_s: int = 900, seed: int = 4) -> pl.DataFrame:
    per_day = 86400 // interval_s
    n = meters * days * per_day
    rng = np.random.default_rng(seed)
    start = datetime(2024, 3, 1, 5, tzinfo=UTC)
    offsets = np.tile(np.arange(days * per_day, dtype=np.int64) * interval_s * 1_000_000, meters)
    serial = np.repeat(np.array([f"M{i:07d}" for i in range(meters)]), days * per_day)
    return pl.DataFrame(
        {
            "serial_number": serial,
            "channel": "kwh_delivered",
            "interval_start_utc": pl.Series(offsets + int(start.timestamp() * 1e6)).cast(
                pl.Datetime("us", "UTC")
            ),
            "interval_s": pl.Series(np.full(n, interval_s), dtype=pl.Int32),
            "value": np.round(rng.gamma(2.0, 0.2, n), 3),
            "quality_flags": pl.Series(np.zeros(n, dtype=np.uint32)),
            "source_quality": pl.Series([None] * n, dtype=pl.String),
        }
    )


def _best(fn: Callable[[], Any], repeat: int = 2) -> float:
    best = float("inf")
    for _ in range(repeat):
        with timed() as elapsed:
            fn()
        best = min(best, elapsed())
    return best


def _figure(
    name: str,
    reads: int,
    seconds: float,
    baseline_reads: int,
    baseline_s: float,
    baseline_name: str,
    goal: float | None,
    note: str,
) -> Figure:
    value = reads / seconds
    return Figure(
        area=AREA,
        name=name,
        value=value,
        unit="reads/s",
        baseline=baseline_reads / baseline_s,
        baseline_name=baseline_name,
        goal=None if goal is None else f">= {goal / 1e6:g} M reads/s",
        met=None if goal is None else value >= goal,
        note=note,
    )


# -- baselines ---------------------------------------------------------------------------------


def _cmep_baseline(data: bytes) -> int:
    count = 0
    for row in csv.reader(io.StringIO(data.decode())):
        first = datetime.strptime(row[14], "%Y%m%d%H%M").replace(tzinfo=ZONE)
        for k in range(int(row[13])):
            stamp, _, value = row[14 + 3 * k : 17 + 3 * k]
            _ = (first + timedelta(minutes=15 * k), float(value), stamp)
            count += 1
    return count


def _cmep_write_baseline(frame: pl.DataFrame) -> int:
    out = io.StringIO()
    rows = frame.select("serial_number", "interval_start_utc", "value").iter_rows()
    for serial, start, value in rows:
        end = (start + timedelta(minutes=15)).astimezone(ZONE)
        out.write(
            f"MEPMD01,19970819,S,,,,202401010000,{serial},OK,E,KWH,1,00000015,1,"
            f"{end:%Y%m%d%H%M},,{value}\n"
        )
    return frame.height


def _xml_baseline(data: bytes, tag: str, value_tag: str) -> int:
    count = 0
    for _, element in etree.iterparse(
        io.BytesIO(data), events=("end",), tag=tag, resolve_entities=False, no_network=True
    ):
        text = element.findtext(value_tag)
        _ = float(text) if text is not None else None
        count += 1
        element.clear()
    return count


def _nem12(meters: int, days: int) -> bytes:
    rng = np.random.default_rng(1)
    lines = ["100,NEM12,202401010000,MDP,RET"]
    values = np.round(rng.gamma(2.0, 0.2, (meters, days, 48)), 3).astype(str)
    for m in range(meters):
        lines.append(f"200,NMI{m:07d},E1,1,E1,N1,M{m:07d},kWh,30,")
        for d in range(days):
            day = (datetime(2024, 1, 1) + timedelta(days=d)).strftime("%Y%m%d")
            lines.append(f"300,{day},{','.join(values[m, d])},A,,,20240102000000,")
    lines.append("900")
    return ("\n".join(lines) + "\n").encode()


def _nem12_baseline(data: bytes) -> int:
    count = 0
    for row in csv.reader(io.StringIO(data.decode())):
        if row[0] == "300":
            day = datetime.strptime(row[1], "%Y%m%d")
            for i, value in enumerate(row[2:50]):
                _ = (day + timedelta(minutes=30 * i), float(value))
                count += 1
    return count


# -- run ---------------------------------------------------------------------------------------


def run(ctx: BenchContext) -> list[Figure]:
    figures: list[Figure] = []
    meters = ctx.scale(20_000, 2_000)
    frame = _reads(meters, 1)
    n = frame.height
    created = datetime(2024, 3, 2, tzinfo=UTC)

    cmep = write_cmep(frame, sender_id="SIM", zone=ZONE, created_at=created)
    write_s = _best(lambda: write_cmep(frame, sender_id="SIM", zone=ZONE, created_at=created))
    sample = frame.head(min(n, 200_000))
    base_s = _best(lambda: _cmep_write_baseline(sample), 1)
    figures.append(
        _figure(
            "write_cmep",
            n,
            write_s,
            sample.height,
            base_s,
            "f-string per value",
            3e6,
            f"{meters:,} meters × 96 reads",
        )
    )
    parse_s = _best(lambda: parse_cmep(cmep, name="b.cmep", zone=ZONE))
    small = write_cmep(sample, sender_id="SIM", zone=ZONE, created_at=created)
    base_s = _best(lambda: _cmep_baseline(small), 1)
    figures.append(
        _figure(
            "parse_cmep",
            n,
            parse_s,
            sample.height,
            base_s,
            "csv module, loop per value",
            5e6,
            f"{len(cmep) / 1e6:.0f} MB, explicit stamps, DST zone",
        )
    )

    csv_bytes = write_headend_csv(frame, kind="interval_reads")
    write_s = _best(lambda: write_headend_csv(frame, kind="interval_reads"))
    pandas_frame = frame.to_pandas()
    base_s = _best(lambda: pandas_frame.to_csv(index=False), 1)
    figures.append(
        _figure(
            "write_headend_csv (interval reads)",
            n,
            write_s,
            n,
            base_s,
            "pandas to_csv",
            None,
            f"{len(csv_bytes) / 1e6:.0f} MB",
        )
    )
    parse_s = _best(lambda: parse_headend_csv(csv_bytes, name="r.csv"))

    def pandas_read() -> None:
        df = pd.read_csv(io.BytesIO(csv_bytes))
        df["interval_start_utc"] = pd.to_datetime(
            df["interval_start_utc"], utc=True, format="ISO8601"
        )

    base_s = _best(pandas_read, 1)
    figures.append(
        _figure(
            "parse_headend_csv (interval reads)",
            n,
            parse_s,
            n,
            base_s,
            "pandas read_csv + to_datetime",
            5e6,
            "all columns validated",
        )
    )

    xml_meters = ctx.scale(2_000, 300)
    xml_frame = _reads(xml_meters, 1)
    cim = write_cim_meter_readings(xml_frame)
    write_s = _best(lambda: write_cim_meter_readings(xml_frame))
    figures.append(
        Figure(
            AREA,
            "write_cim_meter_readings",
            xml_frame.height / write_s,
            "reads/s",
            note=f"{xml_meters:,} meters × 96 reads",
        )
    )
    parse_s = _best(lambda: parse_cim(cim, name="c.xml"))
    ns = "{http://iec.ch/TC57/2011/MeterReadings#}"
    base_s = _best(lambda: _xml_baseline(cim, f"{ns}IntervalReadings", f"{ns}value"), 1)
    figures.append(
        _figure(
            "parse_cim (MeterReadings)",
            xml_frame.height,
            parse_s,
            xml_frame.height,
            base_s,
            "lxml iterparse, loop per element",
            1e6,
            f"{len(cim) / 1e6:.0f} MB compact XML",
        )
    )

    days = ctx.scale(365, 60)
    espi_frame = _reads(1, days).with_columns(pl.col("interval_s"))
    espi = write_espi(espi_frame)
    write_s = _best(lambda: write_espi(espi_frame))
    figures.append(
        Figure(
            AREA,
            "write_espi (one customer)",
            espi_frame.height / write_s,
            "reads/s",
            note=f"{days} days of 15-min reads",
        )
    )
    parse_s = _best(lambda: parse_espi(espi, name="g.xml"))
    espi_ns = "{http://naesb.org/espi}"
    base_s = _best(lambda: _xml_baseline(espi, f"{espi_ns}IntervalReading", f"{espi_ns}value"), 1)
    figures.append(
        _figure(
            "parse_espi (compact feed)",
            espi_frame.height,
            parse_s,
            espi_frame.height,
            base_s,
            "lxml iterparse, loop per element",
            1e6,
            f"{len(espi) / 1e6:.1f} MB written by write_espi",
        )
    )
    if ctx.shared_data is not None:
        real = (
            ctx.shared_data / "greenbutton/data/electricity/"
            "Coastal_Multi_Family_Jan_1_2011_to_Jan_1_2012_RetailCustomer_5.xml"
        ).read_bytes()
        batch = parse_espi(real, name="real.xml")
        parse_s = _best(lambda: parse_espi(real, name="real.xml"), 3)
        base_s = _best(
            lambda: _xml_baseline(real, f"{espi_ns}IntervalReading", f"{espi_ns}value"), 1
        )
        figures.append(
            _figure(
                "parse_espi (real pretty-printed feed)",
                batch.row_count,
                parse_s,
                batch.row_count,
                base_s,
                "lxml iterparse, loop per element",
                1e6,
                "Green Button sample, 8,760 hourly reads, 1.8 MB",
            )
        )

    nem_meters = ctx.scale(2_000, 200)
    nem = _nem12(nem_meters, 30)
    reads = nem_meters * 30 * 48
    parse_s = _best(lambda: parse_nem12(nem, name="n.csv"))
    base_s = _best(lambda: _nem12_baseline(nem), 1)
    figures.append(
        _figure(
            "parse_nem12",
            reads,
            parse_s,
            reads,
            base_s,
            "csv module, loop per value",
            None,
            f"{nem_meters:,} NMIs × 30 days",
        )
    )
    return figures
