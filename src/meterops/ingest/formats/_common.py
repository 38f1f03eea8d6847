"""Helpers shared by the format modules: input bytes, issues, quality flags, channels.

Pure module: standard library, numpy, polars and pure meterops modules only.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, Final

import numpy as np
import polars as pl

from meterops.errors import Issue
from meterops.ingest.formats.base import ParseError
from meterops.kit.frames import FrameContract
from meterops.nomenclature import CHANNELS
from meterops.vee.flags import FLAGS

__all__ = [
    "EDITED",
    "ESTIMATED",
    "KNOWN_CHANNELS",
    "MAX_INPUT_BYTES",
    "MISSING",
    "SUSPECT",
    "IssueLog",
    "contract_frame",
    "normalise_newlines",
    "read_input",
    "strip_bom",
]

MAX_INPUT_BYTES: Final = 4 * 1024**3
"""Largest input a parser accepts in one call. [bytes]"""

ESTIMATED: Final = FLAGS["SOURCE_ESTIMATED"].mask
EDITED: Final = FLAGS["SOURCE_EDITED"].mask
SUSPECT: Final = FLAGS["SOURCE_SUSPECT"].mask
MISSING: Final = FLAGS["SOURCE_MISSING"].mask


KNOWN_CHANNELS: Final = frozenset(CHANNELS)
"""Channel names a parser may emit."""


class IssueLog:
    """Collects located issues for one file.

    Checks run over whole columns, so issues are collected first; :meth:`finish` then raises
    in strict mode with the issue on the earliest line (what a line-by-line reader would have
    stopped at).

    Args:
        name: File name the issues refer to.
        strict: Whether :meth:`finish` raises when there is any issue.
    """

    def __init__(self, name: str, *, strict: bool) -> None:
        self.name = name
        self.strict = strict
        self.items: list[Issue] = []

    def add(self, line: int, field: str, code: str, message: str) -> None:
        """Record one issue."""
        self.items.append(Issue(self.name, line, field, code, message))

    def add_frame(self, frame: pl.DataFrame) -> None:
        """Record issues from a frame with columns ``line``, ``field``, ``code``, ``message``."""
        if frame.is_empty():
            return
        rows: Iterable[tuple[int, str, str, str]] = frame.select(
            "line", "field", "code", "message"
        ).iter_rows()
        self.items.extend(Issue(self.name, int(a), str(b), str(c), str(d)) for a, b, c, d in rows)

    def finish(self) -> list[Issue]:
        """The issues in line order; in strict mode raise :class:`ParseError` at the first."""
        self.items.sort(key=lambda issue: issue.line or 0)
        if self.strict and self.items:
            raise ParseError(
                f"{self.name}: refused at the first problem (strict mode).", self.items[:1]
            )
        return self.items

    def is_empty_delivery(self, rows_in_file: int) -> bool:
        """True when a file holds no record at all and no issue: a valid empty delivery.

        A head-end sends a file with its header (or root element) and no record when it has
        nothing to report; parsers return empty frames for it instead of refusing it. A file
        whose records are all unusable is not empty (it is refused, naming the records).
        """
        return rows_in_file == 0 and not self.items

    def whole_file(self, code: str, message: str, *, field: str = "file") -> ParseError:
        """A :class:`ParseError` for a file with nothing usable (the issue is on line 1)."""
        issue = Issue(self.name, 1, field, code, message)
        return ParseError(f"{self.name}: {message}", [*self.finish(), issue])


def read_input(stream: bytes | bytearray | memoryview | BinaryIO | io.IOBase) -> bytes:
    """The whole input as bytes (a path is opened by the ``read_<fmt>`` functions).

    Raises:
        ValueError: The input is larger than :data:`MAX_INPUT_BYTES`.
    """
    if isinstance(stream, bytes | bytearray | memoryview):
        data = bytes(stream)
    else:
        data = stream.read(MAX_INPUT_BYTES + 1)
        if isinstance(data, str):
            data = data.encode("utf-8")
    if len(data) > MAX_INPUT_BYTES:
        msg = f"input larger than {MAX_INPUT_BYTES} bytes; split the file"
        raise ValueError(msg)
    return bytes(data)


def read_path(path: str | Path) -> tuple[bytes, str]:
    """The bytes of a file and the name issues should use."""
    p = Path(path)
    with p.open("rb") as handle:
        return read_input(handle), p.name


def strip_bom(data: bytes) -> bytes:
    r"""Drop a UTF-8 byte-order mark; transcode UTF-16 with a BOM to UTF-8.

    Examples:
        >>> strip_bom(b"\xef\xbb\xbfabc")
        b'abc'
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            return data
    return data


def normalise_newlines(data: bytes) -> bytes:
    r"""Turn ``\r\n`` and lone ``\r`` line ends into ``\n`` (line numbers stay physical).

    Examples:
        >>> normalise_newlines(b"a\r\nb\rc")
        b'a\nb\nc'
    """
    if b"\r" not in data:
        return data
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def first_bad_utf8(data: bytes) -> tuple[int, int] | None:
    r"""``(line, column)`` (1-based) of the first byte that is not UTF-8, or None.

    Examples:
        >>> first_bad_utf8(b"ok\nb\xffd")
        (2, 2)
    """
    if data.isascii():
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return line, column
    return None


def bad_utf8_lines(data: bytes) -> list[int]:
    """1-based numbers of every line holding bytes that are not UTF-8 (error path only)."""
    bad: list[int] = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(number)
    return bad


def contract_frame(frame: pl.DataFrame, contract: FrameContract) -> pl.DataFrame:
    """Select and cast ``frame`` to ``contract`` (columns in canonical order)."""
    return frame.select(pl.col(c.name).cast(c.dtype) for c in contract)


_EXACT_POW10: Final = np.array([float(10**i) for i in range(40)])


def scale_pow10(value: pl.Series, exponent: pl.Series) -> pl.Series:
    """``value × 10^exponent`` as the decimal text would give it.

    Uses exact powers of ten and divides for negative exponents, in numpy: Polars may turn a
    division by a constant into a multiplication by its reciprocal, which is off by one ulp
    (1234 × 10⁻⁴ would not equal 0.1234). Exponents beyond ±39 or null give null.

    Examples:
        >>> scale_pow10(pl.Series([1234.0, 5.0]), pl.Series([-4, 3])).to_list()
        [0.1234, 5000.0]
    """
    v = value.cast(pl.Float64).fill_null(np.nan).to_numpy()
    e = exponent.cast(pl.Int64).fill_null(999).to_numpy()
    ok = np.abs(e) < _EXACT_POW10.size
    power = _EXACT_POW10[np.where(ok, np.abs(e), 0)]
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.where(e >= 0, v * power, v / power)
    result = pl.Series(value.name, out, dtype=pl.Float64)
    missing = ~ok | value.is_null().to_numpy()
    return result.scatter(np.flatnonzero(missing), None) if missing.any() else result
