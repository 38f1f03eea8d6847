from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from meterops.ingest.formats.base import ParseError
from meterops.ingest.formats.espi import (
    EspiReadingType,
    parse_espi,
    read_espi,
    sniff_espi,
    write_espi,
)

from .fuzz import check_never_crashes, corpus
from .golden import discover, run_case

_LINE = re.compile(
    r"^\s+(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\+00:00, (?:(\d+) days?, )?(\d+):(\d\d):(\d\d): "
    r"([-\d.e+]+) ?([A-Za-z]+)"
)
_TO_CHANNEL_UNIT = {"Wh": 0.001, "therm": 1.0}


@pytest.mark.parametrize("folder", discover("espi"))
def test_golden_case(folder: Path, update_golden: bool) -> None:
    run_case(folder, parse_espi, update_golden)


def read_expected(path: Path) -> list[tuple[datetime, int, float]]:
    """The per-interval (start UTC, duration s, value in our unit) lines of an expected file."""
    rows = []
    for line in path.read_text().splitlines():
        match = _LINE.match(line)
        if match:
            start, days, h, m, s, value, unit = match.groups()
            duration = int(days or 0) * 86400 + int(h) * 3600 + int(m) * 60 + int(s)
            rows.append(
                (
                    datetime.fromisoformat(start).replace(tzinfo=UTC),
                    duration,
                    float(value) * _TO_CHANNEL_UNIT[unit],
                )
            )
    return rows


def _feeds(shared: Path) -> list[Path]:
    return sorted((shared / "greenbutton" / "data").rglob("*.xml"))


def _parse(path: Path) -> pl.DataFrame:
    # The NGMA gas feeds ship an empty ReadingType: the reference reads them as therm × 10⁻³.
    fallback = EspiReadingType(169, -3) if "gas" in path.name else None
    return read_espi(path, strict=True, reading_type_fallback=fallback).interval_reads


def test_every_public_feed_parses_to_every_expected_interval(shared_data: Path) -> None:
    feeds = _feeds(shared_data)
    assert len(feeds) == 15
    for feed in feeds:
        relative = feed.relative_to(shared_data / "greenbutton" / "data").with_suffix(".txt")
        expected = read_expected(shared_data / "greenbutton" / "expected_results" / relative)
        frame = _parse(feed)
        got = sorted(
            (start.replace(microsecond=0), duration, value)
            for start, duration, value in frame.select(
                "interval_start_utc", "interval_s", "value"
            ).iter_rows()
        )
        want = sorted(expected)
        assert len(got) == len(want), feed.name
        for (gs, gd, gv), (ws, wd, wv) in zip(got, want, strict=True):
            assert (gs, gd) == (ws, wd), feed.name
            assert gv == pytest.approx(wv, rel=1e-12, abs=1e-12), feed.name


def test_one_electricity_year_has_8760_hours_summing_to_the_published_total(
    shared_data: Path,
) -> None:
    feed = (
        shared_data / "greenbutton/data/electricity/"
        "Coastal_Multi_Family_Jan_1_2011_to_Jan_1_2012_RetailCustomer_5.xml"
    )
    frame = _parse(feed)
    assert frame.height == 8760
    totals = {
        f.name: _parse(f)["value"].sum() for f in _feeds(shared_data) if "RetailCustomer" in f.name
    }
    assert any(abs(total - 4425.305) < 1e-6 for total in totals.values())


def test_dst_days_have_23_and_25_hourly_readings(shared_data: Path) -> None:
    feed = (
        shared_data / "greenbutton/data/electricity/"
        "Inland_Single_Family_Jan_1_2011_to_Jan_1_2012_RetailCustomer_9.xml"
    )
    frame = _parse(feed).with_columns(
        pl.col("interval_start_utc")
        .dt.convert_time_zone("America/Los_Angeles")
        .dt.date()
        .alias("day")
    )
    per_day = dict(frame.group_by("day").len().iter_rows())
    assert per_day[date(2011, 3, 13)] == 23
    assert per_day[date(2011, 11, 6)] == 25
    assert per_day[date(2011, 7, 1)] == 24
    assert frame["interval_start_utc"].n_unique() == frame.height


def test_quality_of_reading_is_kept_and_mapped(shared_data: Path) -> None:
    frame = _parse(shared_data / "greenbutton/data/abridged/gas_containerized.xml")
    assert frame["source_quality"].unique().to_list() == ["0"]
    assert frame["quality_flags"].unique().to_list() == [0]
    assert frame["channel"].unique().to_list() == ["gas_therm_delivered"]


def test_an_empty_reading_type_without_fallback_is_reported(shared_data: Path) -> None:
    path = shared_data / "greenbutton/data/natural_gas/ngma_gas_provider_2024-07-16.xml"
    with pytest.raises(ParseError) as caught:
        read_espi(path)
    assert caught.value.issues[0].code == "reading_type.missing_uom"
    assert caught.value.issues[0].line > 1


_XXE = b"""<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>&x;</title></feed>"""
_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<feed xmlns="http://www.w3.org/2005/Atom">&lol3;</feed>"""
_EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE feed SYSTEM "http://example.invalid/evil.dtd"><feed/>"""


@pytest.mark.parametrize("attack", [_XXE, _LAUGHS, _EXTERNAL_DTD], ids=["xxe", "laughs", "dtd"])
def test_xml_attacks_are_rejected_fast_naming_the_line(attack: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(ParseError) as caught:
        parse_espi(attack, name="evil.xml")
    assert time.perf_counter() - started < 1.0
    assert (caught.value.issues[0].line, caught.value.issues[0].field) == (2, "xml")


def test_deep_nesting_and_malformed_xml_are_rejected() -> None:
    deep = b"<a>" * 300 + b"</a>" * 300
    started = time.perf_counter()
    with pytest.raises(ParseError, match="depth"):
        parse_espi(deep, name="deep.xml")
    assert time.perf_counter() - started < 1.0
    with pytest.raises(ParseError) as caught:
        parse_espi(b"<feed>\n<entry>\n</feed>", name="bad.xml")
    assert caught.value.issues[0].line == 3


def test_sniff_recognises_espi() -> None:
    assert sniff_espi(b'<feed xmlns:espi="http://naesb.org/espi">')
    assert not sniff_espi(b"MEPMD01")


# ------------------------------------------------------------------------------------------
# Writer and round trips

_QUALITY = st.sampled_from([(None, 0), ("0", 0), ("8", 1), ("7", 2), ("10", 4), ("14", 0)])


@st.composite
def one_meter(draw: st.DrawFn) -> pl.DataFrame:
    rows = []
    start = draw(st.datetimes(datetime(2000, 1, 1), datetime(2035, 1, 1))).replace(
        microsecond=0, tzinfo=UTC
    )
    for channel in draw(
        st.sets(
            st.sampled_from(
                ["kwh_delivered", "kwh_received", "kw_demand", "voltage_v", "kvarh_delivered"]
            ),
            min_size=1,
        )
    ):
        interval = draw(st.sampled_from([300, 900, 3600, 86400]))
        for k in range(draw(st.integers(1, 40))):
            quality, flags = draw(_QUALITY)
            value = draw(st.integers(0, 10**12)) / 1e6
            rows.append(
                (
                    "MTR-1",
                    channel,
                    start + timedelta(seconds=interval * k),
                    interval,
                    value,
                    flags,
                    quality,
                )
            )
    return pl.DataFrame(
        rows,
        schema={
            "serial_number": pl.String,
            "channel": pl.String,
            "interval_start_utc": pl.Datetime("us", "UTC"),
            "interval_s": pl.Int32,
            "value": pl.Float64,
            "quality_flags": pl.UInt32,
            "source_quality": pl.String,
        },
        orient="row",
    )


@settings(max_examples=50, deadline=None)
@given(one_meter())
def test_parse_of_write_gives_the_frame_back(frame: pl.DataFrame) -> None:
    back = parse_espi(write_espi(frame), name="rt.xml", strict=True).interval_reads
    expected = frame.with_columns(
        pl.when(pl.col("source_quality").is_null() & (pl.col("quality_flags") != 0))
        .then(
            pl.col("quality_flags").replace_strict(
                {1: "8", 2: "7", 4: "10"}, return_dtype=pl.String
            )
        )
        .otherwise(pl.col("source_quality"))
        .alias("source_quality")
    )
    key = ["channel", "interval_start_utc"]
    assert_frame_equal(back.drop("source_line").sort(key), expected.sort(key))


def test_writer_refuses_several_meters_and_unknown_channels(tmp_path: Path) -> None:
    row = {
        "serial_number": ["A", "B"],
        "channel": "kwh_delivered",
        "interval_start_utc": [datetime(2024, 1, 1, tzinfo=UTC)] * 2,
        "interval_s": 900,
        "value": 1.0,
        "quality_flags": 0,
        "source_quality": None,
    }
    with pytest.raises(ValueError, match="one meter"):
        write_espi(pl.DataFrame(row))
    single = pl.DataFrame(row).head(1).with_columns(channel=pl.lit("temperature_c"))
    with pytest.raises(ValueError, match="temperature_c"):
        write_espi(single)
    target = tmp_path / "gb.xml"
    write_espi(single.with_columns(channel=pl.lit("kwh_delivered")), path=target)
    assert read_espi(target, serial_number="X").interval_reads["serial_number"][0] == "X"


def test_a_malformed_corpus_never_crashes_the_parser(shared_data: Path) -> None:
    seeds = [
        (shared_data / "greenbutton/data/abridged" / n).read_bytes()
        for n in ("electric_containerized.xml", "gas_direct.xml")
    ]
    for i, data in enumerate(corpus(seeds, 1000, seed=21)):
        check_never_crashes(parse_espi, data, f"m{i}.xml")


def test_a_feed_without_interval_readings_is_an_empty_delivery() -> None:
    feed = b"""<feed xmlns="http://www.w3.org/2005/Atom"><entry>
<link rel="self" href="/RetailCustomer/1/UsagePoint/1"/><content>
<UsagePoint xmlns="http://naesb.org/espi"/></content></entry></feed>"""
    batch = parse_espi(feed, name="gb.xml", strict=True)
    assert (batch.row_count, batch.rows_in_file, batch.issues) == (0, 0, [])
    with pytest.raises(ParseError):  # another vocabulary is not an empty feed
        parse_espi(b"<html/>", name="page.xml")
