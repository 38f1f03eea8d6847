"""The compiled byte loops against Python's own parsers (Hypothesis)."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from meterops.ingest.formats import _text, _time

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
