"""A seeded malformed corpus by mutation, and the check every parser must pass on it."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from meterops.ingest.formats.base import ParsedBatch, ParseError

_JUNK = [
    b"NaN",
    b"inf",
    b"-1e400",
    b"1e999",
    b"-5",
    b"99999999999999999999999",
    b"\xff\xfe",
    b"\x00",
    b'"',
    b"<",
    b"&",
    b"\xc3\x28",
    b"x" * 5000,
    b"",
    b",",
    b";",
    b"\t",
    b"-",
]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One random damaging edit of ``data``."""
    kind = rng.randrange(10)
    n = len(data)
    at = rng.randrange(n + 1) if n else 0
    if kind == 0:  # truncation
        return data[:at]
    if kind == 1:  # bad encoding
        return data[:at] + bytes([rng.choice([0x80, 0xC3, 0xFF, 0xFE])]) + data[at:]
    if kind == 2:  # wrong column count: drop or add a delimiter
        pos = data.find(b",", at)
        if pos >= 0 and rng.random() < 0.5:
            return data[:pos] + data[pos + 1 :]
        return data[:at] + b"," + data[at:]
    if kind == 3:  # huge field
        return data[:at] + b"9" * rng.choice([50, 5000, 100_000]) + data[at:]
    if kind == 4:  # junk token
        end = min(n, at + rng.randrange(1, 12))
        return data[:at] + rng.choice(_JUNK) + data[end:]
    if kind == 5:  # BOMs
        return rng.choice([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]) + data
    if kind == 6:  # mixed line endings
        return data.replace(b"\n", rng.choice([b"\r\n", b"\r", b"\n\n"]), rng.randrange(1, 4))
    if kind == 7:  # swap two lines
        lines = data.split(b"\n")
        if len(lines) > 2:
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        return b"\n".join(lines)
    if kind == 8:  # digit flip
        digits = [i for i in range(max(0, at - 50), min(n, at + 50)) if 48 <= data[i] <= 57]
        if digits:
            i = rng.choice(digits)
            return data[:i] + bytes([rng.randrange(48, 58)]) + data[i + 1 :]
        return data
    return data[:at] + data[min(n, at + rng.randrange(1, 40)) :]  # deletion


def corpus(seeds: list[bytes], count: int, seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    for _ in range(count):
        data = rng.choice(seeds)
        for _ in range(rng.randrange(1, 4)):
            data = mutate(data, rng)
        yield data


def check_never_crashes(parse: Callable[..., ParsedBatch], data: bytes, name: str) -> None:
    """A parse either succeeds or raises ParseError; every issue names file, line and field."""
    try:
        batch = parse(data, name=name)
    except ParseError as error:
        issues = error.issues
        assert issues, "a ParseError must carry at least one issue"
    else:
        issues = batch.issues
        assert batch.rows_in_file >= batch.row_count
    for issue in issues:
        assert issue.file == name
        assert isinstance(issue.line, int)
        assert issue.line >= 1
        assert issue.field
