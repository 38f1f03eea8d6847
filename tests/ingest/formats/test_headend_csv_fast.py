"""The compiled head-end CSV fast path equals the reference path exactly, or declines the file.

Generated interval-read files (valid and mutated byte by byte) go through
``parse_headend_csv`` twice, with and without the fast path: frames, issues and row counts
must be identical, and so must a refusal. Separate tests check that the fast path really
takes the common files and declines each kind of file outside its subset.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from meterops.ingest.formats import _csv_fast
from meterops.ingest.formats._common import KNOWN_CHANNELS
from meterops.ingest.formats.base import ParsedBatch, ParseError
from meterops.ingest.formats.headend_csv import KINDS, parse_headend_csv

HEADER = _csv_fast.HEADER.decode()
REORDERED = "channel,serial_number,interval_start_utc,interval_s,value,quality_flags,source_quality"
CHANNELS = ("kwh_delivered", "kwh_net", "voltage_v", "kw_demand", "volts")
NON_NEGATIVE = frozenset({"kwh_delivered", "kvarh_delivered", "kw_demand", "water_ft3_delivered"})

clean_stamps = st.builds(
    lambda y, mo, d, h, mi, s, frac: f"{y}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}Z",
    st.sampled_from([1970, 2000, 2024, 2100]),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
    st.sampled_from(["", ".000000", ".500", ".123456"]),
)
stamps = st.one_of(
    clean_stamps,
    st.sampled_from(
        [
            "2024-02-30T00:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00+02:00",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00.1Z",
            "2024-01-01T00:00:00.123456789Z",
            "2024-01-01 00:00:00Z",
            "",
        ]
    ),
)
clean_values = st.one_of(
    st.decimals(min_value=0, max_value=10_000, places=3, allow_nan=False).map(str),
    st.integers(min_value=0, max_value=10**6).map(str),
)
values = st.one_of(
    clean_values,
    st.sampled_from(["-1.5", "-0", "1e3", ".5", "5.", "+1", "", "12345678901234567", "1e13"]),
)
intervals = st.sampled_from(["900", "900", "300", "3600", "0", "0900", "-900", "", "1e3"])
flags = st.sampled_from(["0", "0", "1", "128", "01", "", "-1"])
qualities = st.sampled_from(["", "", "R0", "E", "A B"])


@st.composite
def rows(draw: st.DrawFn) -> str:
    """One data row, usually valid."""
    clean = draw(st.booleans())
    fields = [
        draw(st.sampled_from(["M1", "M1", "M2", "0042", ""])),
        draw(st.sampled_from(CHANNELS[:2] if clean else CHANNELS)),
        draw(clean_stamps if clean else stamps),
        "900" if clean else draw(intervals),
        draw(clean_values if clean else values),
        "0" if clean else draw(flags),
        draw(qualities),
    ]
    extra = draw(st.sampled_from([0, 0, 0, 0, -1, 1]))
    if extra < 0:
        fields = fields[:-1]
    elif extra > 0:
        fields.append("x")
    return ",".join(fields)


def _both(data: bytes, *, strict: bool = False) -> None:
    def run(*, fast: bool) -> ParsedBatch | list[object]:
        try:
            return parse_headend_csv(data, name="g.csv", strict=strict, fast=fast)
        except ParseError as exc:
            return list(exc.issues)

    quick, reference = run(fast=True), run(fast=False)
    if isinstance(reference, list) or isinstance(quick, list):
        assert quick == reference
        return
    for kind in KINDS:
        assert_frame_equal(getattr(quick, kind), getattr(reference, kind), check_exact=True)
    assert quick.issues == reference.issues
    assert quick.rows_in_file == reference.rows_in_file


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(rows(), min_size=0, max_size=8),
    st.sampled_from([HEADER, HEADER, REORDERED]),
    st.sampled_from(["\n", "\r\n"]),
    st.sampled_from(["", "\n", "\n\n"]),
)
def test_generated_files_parse_the_same_on_both_paths(
    body: list[str], header: str, newline: str, tail: str
) -> None:
    text = newline.join([header, *body]) + tail
    _both(text.encode())


def _mutate(text: bytes, position: int, kind: int, byte: int) -> bytes:
    p = position % len(text)
    if kind == 0:
        return text[:p] + text[p + 1 :]
    if kind == 1:
        return text[:p] + bytes([byte]) + text[p:]
    return text[:p] + bytes([byte]) + text[p + 1 :]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(rows(), min_size=1, max_size=5),
    st.lists(
        st.tuples(
            st.integers(0, 10_000),
            st.integers(0, 2),
            st.sampled_from(list(b', \n"09.-+:TZx\xff\xc3')),
        ),
        min_size=1,
        max_size=3,
    ),
    st.booleans(),
)
def test_mutated_files_parse_or_fail_the_same_on_both_paths(
    body: list[str], mutations: list[tuple[int, int, int]], strict: bool
) -> None:
    data = "\n".join([HEADER, *body]).encode()
    for position, kind, byte in mutations:
        data = _mutate(data, position, kind, byte)
    _both(data, strict=strict)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(clean_stamps, clean_values, qualities), min_size=1, max_size=20))
def test_the_fast_path_takes_plain_interval_files(
    data: list[tuple[str, str, str]],
) -> None:
    body = [f"M{k % 3},kwh_delivered,{s},900,{v},0,{q}" for k, (s, v, q) in enumerate(data)]
    text = "\n".join([HEADER, *body]).encode() + b"\n"
    quick = _csv_fast.parse(text, channels=KNOWN_CHANNELS, non_negative=NON_NEGATIVE)
    assert quick is not None
    assert quick[1] == len(data)
    _both(text)


def _file(row: str, header: str = HEADER) -> bytes:
    return f"{header}\n{row}\n".encode()


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (_file("M1,kwh_delivered,2024-01-01T00:00:00Z,900,1,0,", REORDERED), "other order"),
        (_file('"M1",kwh_delivered,2024-01-01T00:00:00Z,900,1,0,'), "quotes"),
        (_file("M1,volts,2024-01-01T00:00:00Z,900,1,0,"), "unknown channel"),
        (_file("M1,kwh_delivered,2024-01-01T00:00:00+01:00,900,1,0,"), "offset other than Z"),
        (_file("M1,kwh_delivered,2024-02-30T00:00:00Z,900,1,0,"), "impossible date"),
        (_file("M1,kwh_delivered,2024-01-01T00:00:00Z,0,1,0,"), "zero interval"),
        (_file("M1,kwh_delivered,2024-01-01T00:00:00Z,900,-1,0,"), "negative energy"),
        (_file("M1,kwh_delivered,2024-01-01T00:00:00Z,900,1e3,0,"), "exponent"),
        (_file("M1,kwh_delivered,2024-01-01T00:00:00Z,900,1,0"), "short row"),
        (_file("M1,kwh_delivered,2024-01-01T00:00:00Z,900,1,0,,x"), "extra field"),
        (_file("M1,kwh_delivered,2024-01-01T00:00:00Z,900,1,0,\n\nM1,x"), "blank line inside"),
        (_file("\xe9,kwh_delivered,2024-01-01T00:00:00Z,900,1,0,"), "non-ASCII"),
    ],
)
def test_the_fast_path_declines_files_outside_its_subset(data: bytes, why: str) -> None:
    assert _csv_fast.parse(data, channels=KNOWN_CHANNELS, non_negative=NON_NEGATIVE) is None, why
    _both(data)


_VALID_ROW = ("M1", ",", "kwh_delivered", ",", "2024-03-05T06:00:00Z")
separators = st.sampled_from([",", ",", ",", ",", ",", "x", ";"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["M1", "M1", "M1", "M1", "M12", "M", "M1 ", 'M1"', "M1\u00e9", ""]),
            separators,
            st.sampled_from(
                [
                    "kwh_delivered",
                    "kwh_delivered",
                    "kwh_delivered",
                    "kwh_delivered",
                    "kwh_deliveredx",
                    "kwh_delivere",
                    "kwh_net",
                    "",
                    'kwh_delivered"',
                ]
            ),
            separators,
            st.sampled_from(
                [
                    "2024-03-05T06:00:00Z",
                    "2024-03-05T06:00:00Z",
                    "2024-03-05T23:45:00.000Z",
                    "2024-03-06T00:00:00Z",
                    "2024-03-05T24:00:00Z",
                    "2024-02-30T00:00:00Z",
                    "2024-03-05X06:00:00Z",
                    "2024-03-0",
                ]
            ),
        ),
        min_size=1,
        max_size=6,
    )
)
@example([_VALID_ROW, ("M1", "x", "kwh_delivered", ",", "2024-03-05T06:15:00Z")])
@example([_VALID_ROW, ("M1", ",", "kwh_delivered", "x", "2024-03-05T06:15:00Z")])
@example([_VALID_ROW, ("M1", ",", "kwh_delivered", ",", "2024-03-05T25:00:00Z")])
def test_rows_repeating_the_previous_serial_channel_or_date_parse_the_same(
    fields: list[tuple[str, str, str, str, str]],
) -> None:
    """The scanner compares a row's serial, channel and date with the previous row's in place.

    Neighbours that extend, shorten or break the previous value, or lose the comma after
    it, must take the full checks (and the fast path then declines the file).
    """
    body = [f"{a}{s1}{b}{s2}{c},900,1.5,0," for a, s1, b, s2, c in fields]
    _both(("\n".join([HEADER, *body]) + "\n").encode())
