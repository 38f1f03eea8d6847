"""The ESPI numeric fast path (:mod:`._espi_numeric`) equals the reference path, or declines.

``espi._parse(..., fast=False)`` (lxml + XSLT) is the reference. Feeds written by
:func:`espi.write_espi` (several channels, usage points, multipliers, DST-length days,
quality codes) must take the numeric path and give the reference's frame to the bit; feeds
with texts outside the numeric subset and byte-mutated feeds must give the reference's
outcome (the numeric path declining where it cannot be exact).
"""

from __future__ import annotations

import datetime as dt
import random
import re

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterops.ingest.formats import _espi_fast, _espi_numeric, espi
from meterops.ingest.formats.base import ParsedBatch
from meterops.reads.schema import PARSED_INTERVAL_READS
from tests.ingest.formats.fuzz import mutate
from tests.ingest.formats.test_xml_fast import _outcome, _same_espi

_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Channels and whether their values may be negative.
_CHANNELS = {
    "kwh_delivered": False,
    "kwh_received": False,
    "kwh_net": True,
    "kw_demand": False,
    "voltage_v": False,
    "gas_therm_delivered": False,
}
# Local midnights (UTC) of a 23 h and a 25 h day in US Eastern time, and an ordinary day.
_DAYS = [
    dt.datetime(2024, 3, 10, 5, tzinfo=dt.UTC),
    dt.datetime(2024, 11, 3, 4, tzinfo=dt.UTC),
    dt.datetime(2024, 6, 1, 4, tzinfo=dt.UTC),
]


def _taken(feed: bytes, serial_number: str | None = None) -> bool:
    located = _espi_fast.locate(feed)
    assert located is not None
    return espi._numeric_reads(located, serial_number, None) is not None


@st.composite
def _meter(draw: st.DrawFn, serial: str) -> pl.DataFrame:
    """One meter's reads: one or two channels over a 23 h, 25 h or ordinary local day."""
    channels = draw(
        st.lists(st.sampled_from(sorted(_CHANNELS)), min_size=1, max_size=2, unique=True)
    )
    day = draw(st.sampled_from(_DAYS))
    hours = 23 if day.month == 3 else 25 if day.month == 11 else 24
    interval_s = draw(st.sampled_from([900, 3600]))
    count = draw(st.integers(1, hours * 3600 // interval_s))
    rows = []
    for channel in channels:
        for k in range(count):
            micro = draw(st.integers(0 if not _CHANNELS[channel] else -(10**9), 10**9))
            code = draw(st.sampled_from([None, "0", "7", "8", "10", "14", "19", "42"]))
            rows.append(
                {
                    "serial_number": serial,
                    "channel": channel,
                    "interval_start_utc": day + dt.timedelta(seconds=k * interval_s),
                    "interval_s": interval_s,
                    "value": micro / 1e6,
                    "quality_flags": 0,
                    "source_quality": code,
                    "source_line": 1,
                }
            )
    return pl.DataFrame(rows, schema=PARSED_INTERVAL_READS.schema)


@st.composite
def _feeds(draw: st.DrawFn) -> bytes:
    """A written feed, possibly with a second usage point and another multiplier."""
    feed = espi.write_espi(draw(_meter("M1"))).decode()
    if draw(st.booleans()):  # a second usage point: its entries before ``</feed>``
        other = espi.write_espi(draw(_meter("M2"))).decode()
        entries = other[other.index("<entry>") : other.rindex("</feed>")]
        feed = feed.replace("</feed>", entries + "</feed>")
    power = draw(st.integers(-12, 12))
    return re.sub(
        r"<powerOfTenMultiplier>-?\d+</powerOfTenMultiplier>",
        f"<powerOfTenMultiplier>{power}</powerOfTenMultiplier>",
        feed,
        count=draw(st.integers(0, 1)),
    ).encode()


@_SETTINGS
@given(_feeds(), st.sampled_from([None, "S9"]), st.booleans())
def test_written_feeds_take_the_numeric_path_and_equal_the_reference(
    feed: bytes, serial: str | None, strict: bool
) -> None:
    reference = _outcome(
        lambda: espi._parse(
            feed,
            name="g.xml",
            strict=False,
            serial_number=serial,
            reading_type_fallback=None,
            fast=False,
        )
    )
    # Clean in the reference ⇔ numeric path taken (a multiplier can push values out of range).
    clean = isinstance(reference, ParsedBatch) and not reference.issues
    assert _taken(feed, serial) is clean
    _same_espi(feed, serial_number=serial, strict=strict)


_TEXTS = {
    "value": ["007", "-0", "+5", " 5\n", "5.0", "1e3", "9999999999999999", "-12", "", "x"],
    "start": ["01709269200", "-5", " 1709269200 ", "1709269200.0", "", "99999999999"],
    "duration": ["0900", "0", "2147483648", "2147483647", " 900", "-900", ""],
    "quality": ["08", "8 ", "", "-1", "999999999", "x"],
}


@_SETTINGS
@given(_feeds(), st.sampled_from(sorted(_TEXTS)), st.data())
def test_texts_outside_the_subset_give_the_reference_result(
    feed: bytes, field: str, data: st.DataObject
) -> None:
    text = data.draw(st.sampled_from(_TEXTS[field]))
    tag = field.encode()
    spots = [m.span(1) for m in re.finditer(rb"<%s>([^<]*)</%s>" % (tag, tag), feed)]
    if field == "start":  # the reading starts, not the block's interval start
        spots = [
            s
            for s in spots
            if feed.rfind(b"<interval>", 0, s[0]) < feed.rfind(b"<IntervalReading>", 0, s[0])
        ]
    if spots:
        begin, end = data.draw(st.sampled_from(spots))
        feed = feed[:begin] + text.encode() + feed[end:]
    _same_espi(feed)


@_SETTINGS
@given(_feeds(), st.integers(0, 2**32), st.integers(1, 3))
def test_byte_mutated_feeds_give_the_reference_result(feed: bytes, seed: int, edits: int) -> None:
    rng = random.Random(seed)
    for _ in range(edits):
        feed = mutate(feed, rng)
    _same_espi(feed)


def test_numbers_refuse_what_a_cast_could_read_differently() -> None:
    for text, ok in [
        (b"12", True),
        (b" \t12\n", True),
        (b"0", True),
        (b"012", False),
        (b"-0", False),
        (b"+1", False),
        (b"1 2", False),
        (b"1.0", False),
        (b"", False),
        (b"1234567890123456", False),
    ]:
        data = text + b"|900"  # the duration (which must be positive) reads the "900"
        spans = {k: (np.array([0]), np.array([len(text)])) for k in _espi_numeric._FIELDS}
        spans["duration"] = (np.array([len(text) + 1]), np.array([len(data)]))
        assert (_espi_numeric.numbers(data, spans) is not None) is ok, text


def test_a_reading_in_an_unlinked_block_declines() -> None:
    feed = espi.write_espi(
        pl.DataFrame(
            {
                "serial_number": ["M1"],
                "channel": ["kwh_delivered"],
                "interval_start_utc": [dt.datetime(2024, 3, 10, 5, tzinfo=dt.UTC)],
                "interval_s": [900],
                "value": [0.5],
                "quality_flags": [0],
                "source_quality": [None],
                "source_line": [1],
            },
            schema=PARSED_INTERVAL_READS.schema,
        )
    )
    assert _taken(feed)
    unsupported = feed.replace(b"<uom>72</uom>", b"<uom>99</uom>")
    assert not _taken(unsupported)
    _same_espi(unsupported)
