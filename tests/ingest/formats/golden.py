"""Golden case folders: ``cases/<format>/<case>/input.*``, ``params.json``, ``expected.csv``.

One helper discovers and runs them. ``expected.csv`` holds every frame row and every issue
as text (one ``frame`` column names the frame); ``--update-golden`` rewrites it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from meterops.ingest.formats.base import ParsedBatch, ParseError

CASES = Path(__file__).parent / "cases"
FRAMES = ("interval_reads", "register_reads", "events", "comm_stats", "topology")


def discover(fmt: str) -> list[Any]:
    folder = CASES / fmt
    return [pytest.param(p, id=p.name) for p in sorted(folder.iterdir()) if p.is_dir()]


def batch_table(batch: ParsedBatch | ParseError) -> pl.DataFrame:
    """Every frame row and issue as strings, in a stable order."""
    parts: list[pl.DataFrame] = []
    if isinstance(batch, ParsedBatch):
        for frame_name in FRAMES:
            frame: pl.DataFrame = getattr(batch, frame_name)
            if frame.height:
                parts.append(
                    frame.select(pl.all().cast(pl.String)).with_columns(
                        pl.lit(frame_name).alias("frame")
                    )
                )
        issues = batch.issues
        parts.append(pl.DataFrame({"frame": ["rows_in_file"], "value": [str(batch.rows_in_file)]}))
    else:
        issues = batch.issues
        parts.append(pl.DataFrame({"frame": ["error"], "value": ["ParseError"]}))
    if issues:
        parts.append(
            pl.DataFrame(
                {
                    "frame": ["issue"] * len(issues),
                    "source_line": [str(i.line) for i in issues],
                    "field": [i.field for i in issues],
                    "code": [i.code for i in issues],
                }
            )
        )
    table = pl.concat(parts, how="diagonal")
    first = ["frame"]
    return table.select(first + [c for c in table.columns if c not in first])


def run_case(folder: Path, parse: Callable[..., ParsedBatch], update: bool) -> None:
    params: dict[str, Any] = json.loads((folder / "params.json").read_text())
    if "zone" in params:
        params["zone"] = ZoneInfo(params["zone"])
    source = next(folder.glob("input.*"))
    try:
        result: ParsedBatch | ParseError = parse(source.read_bytes(), name=source.name, **params)
    except ParseError as error:
        result = error
    actual = batch_table(result)
    expected_path = folder / "expected.csv"
    if update or not expected_path.exists():
        actual.write_csv(expected_path)
    expected = pl.read_csv(expected_path, infer_schema=False)
    assert actual.columns == expected.columns
    for column in actual.columns:
        got = actual[column].to_list()
        want = expected[column].to_list()
        assert got == want, f"{folder.name}: column {column} differs"
