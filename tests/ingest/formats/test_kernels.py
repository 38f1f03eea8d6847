"""The compiled byte loops against Python's own parsers (Hypothesis)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from meterops.ingest.formats import _kernels, _text, _time

_FIELD = st.text(alphabet="0123456789.-+eE x", max_size=20)


def _python_float(text: str) -> float | None:
    if text != text.strip() or not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _buffer(fields: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = ",".join(fields).encode()
    lengths = np.array([len(f.encode()) for f in fields], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1])).astype(np.int64)
    return np.frombuffer(data, dtype=np.uint8), starts, starts + lengths


@settings(deadline=None)  # the first call compiles (numba)
@given(st.lists(st.one_of(_FIELD, st.floats(allow_nan=False).map(repr)), min_size=1))
def test_parse_decimal_agrees_with_python_float(fields: list[str]) -> None:
    buffer, starts, ends = _buffer(fields)
    values, ok = _text.parse_decimal(buffer, starts, ends)
    for field, value, good in zip(fields, values.tolist(), ok.tolist(), strict=True):
        expected = _python_float(field)
        if expected is None:
            assert not good or field.lower() in ("inf", "-inf", "+inf"), field
        else:
            assert good, field
            assert value == expected or (np.isnan(value) and np.isnan(expected)), field


@settings(deadline=None)  # the first call compiles (numba)
@given(st.lists(st.text(alphabet="0123456789x", min_size=0, max_size=14), min_size=1))
def test_parse_digits_agrees_with_int(fields: list[str]) -> None:
    buffer, starts, ends = _buffer(fields)
    values, ok = _text.parse_digits(buffer, starts, ends, width=12)
    for field, value, good in zip(fields, values.tolist(), ok.tolist(), strict=True):
        expected = len(field) == 12 and field.isdigit()
        assert good == expected, field
        if expected:
            assert value == int(field)


@settings(deadline=None)  # the first call compiles (numba)
@given(st.integers(min_value=1899_01_01_0000, max_value=2201_12_31_2459))
def test_civil_to_wall_agrees_with_datetime(stamp: int) -> None:
    wall, ok = _time.civil_to_wall_us(np.array([stamp], dtype=np.int64), digits=12)
    text = f"{stamp:012d}"
    year, month, day = int(text[:4]), int(text[4:6]), int(text[6:8])
    hour, minute = int(text[8:10]), int(text[10:12])
    try:
        base = dt.datetime(year, month, day)
    except ValueError:
        base = None
    valid = (
        base is not None
        and 1900 <= year <= 2200
        and minute <= 59
        and (hour <= 23 or (hour == 24 and minute == 0))
    )
    assert bool(ok[0]) == valid, stamp
    if valid:
        assert base is not None
        moment = base + dt.timedelta(hours=hour, minutes=minute)
        epoch = dt.datetime(1970, 1, 1)
        assert int(wall[0]) == (moment - epoch) // dt.timedelta(microseconds=1)


_SPACES = st.sampled_from(["", " ", "\n  ", "\t"])


@st.composite
def _stamp(draw: st.DrawFn) -> str:
    """ISO 8601-like stamps: mostly valid, some with an impossible part or another shape."""
    year = draw(st.integers(1890, 2210))
    month, day = draw(st.integers(0, 13)), draw(st.integers(0, 32))
    hour, minute, second = (
        draw(st.integers(0, 25)),
        draw(st.integers(0, 61)),
        draw(st.integers(0, 61)),
    )
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    digits = draw(st.integers(-1, 8))
    if digits >= 0:
        text += "." + "".join(
            draw(st.lists(st.sampled_from("0123456789"), min_size=digits, max_size=digits))
        )
    offset = draw(
        st.one_of(
            st.sampled_from(["Z", "", "z", "+0200", "+02", "-00:00"]),
            st.builds(
                lambda sign, h, m: f"{sign}{h:02d}:{m:02d}",
                st.sampled_from("+-"),
                st.integers(0, 25),
                st.integers(0, 61),
            ),
        )
    )
    return draw(_SPACES) + text + offset + draw(_SPACES)


@settings(deadline=None)  # the first call compiles (numba)
@given(
    st.lists(st.one_of(_stamp(), st.text(alphabet="0123456789-:T.Z+ ", max_size=30)), min_size=1)
)
def test_iso_utc_spans_agree_with_the_reference_parser(texts: list[str]) -> None:
    texts = [t.replace(",", ";") for t in texts]
    buffer, starts, ends = _buffer(texts)
    values, state = _kernels.iso_utc_spans(buffer, starts, ends)
    reference = _time.parse_iso_utc(pl.Series([" ".join(t.split()) for t in texts]))
    for text, value, kind, expected in zip(
        texts, values.tolist(), state.tolist(), reference.to_list(), strict=True
    ):
        if kind == _kernels.SPAN_NULL:
            assert not text.strip(), text
        elif kind == _kernels.SPAN_VALUE:
            assert expected is not None, text
            assert value == (expected - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(
                microseconds=1
            ), text


@settings(deadline=None)  # the first call compiles (numba)
@given(
    st.lists(
        st.one_of(
            _FIELD,
            st.floats(allow_nan=False, allow_infinity=False).map(repr),
            st.builds(lambda a, b: f"{a}.{b}", st.integers(-(10**9), 10**9), st.integers(0, 10**8)),
        ),
        min_size=1,
    )
)
def test_number_spans_agree_with_the_reference_cast(texts: list[str]) -> None:
    buffer, starts, ends = _buffer(texts)
    pow10 = 10.0 ** np.arange(_kernels.MAX_FAST_DIGITS + 1)
    values, state = _kernels.number_spans(buffer, starts, ends, pow10)
    reference = pl.Series([" ".join(t.split()) for t in texts]).cast(pl.Float64, strict=False)
    for text, value, kind, expected in zip(
        texts, values.tolist(), state.tolist(), reference.to_list(), strict=True
    ):
        if kind == _kernels.SPAN_NULL:
            assert not text.strip(), text
        elif kind == _kernels.SPAN_VALUE:
            assert value == expected, text


def test_absent_spans_are_null() -> None:
    buffer = np.frombuffer(b"12", dtype=np.uint8)
    starts, ends = np.array([-1]), np.array([0])
    assert _kernels.iso_utc_spans(buffer, starts, ends)[1].tolist() == [_kernels.SPAN_NULL]
    pow10 = 10.0 ** np.arange(_kernels.MAX_FAST_DIGITS + 1)
    assert _kernels.number_spans(buffer, starts, ends, pow10)[1].tolist() == [_kernels.SPAN_NULL]
