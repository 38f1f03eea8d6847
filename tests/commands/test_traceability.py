"""The CMD-01 … CMD-14 table of ``docs/remote-operations.md`` names tests that exist.

The table maps every row of section E of ``reliability-tests.md`` to the tests that show it.
This test reads the table, finds each named file and test function with ``ast`` (no pytest
internals) and fails when a row is missing, doubled or names nothing, or when a named test
file or function does not exist.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "remote-operations.md"
BEGIN = "<!-- cmd-traceability:begin -->"
END = "<!-- cmd-traceability:end -->"
ROWS = [f"CMD-{n:02d}" for n in range(1, 15)]
_REF = re.compile(r"`(tests/[^`:]+\.py)::([A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)?)`")


@dataclass(frozen=True)
class Row:
    """One table row: the id, the line in the document and the test references."""

    row_id: str
    line: int
    refs: tuple[tuple[str, str], ...]


def parse_table(text: str, *, source: str = "docs/remote-operations.md") -> list[Row]:
    """Rows of the traceability table between the markers.

    Raises:
        ValueError: No markers, or a row without four cells, naming the source and line.
    """
    if BEGIN not in text or END not in text:
        raise ValueError(f"{source}: the markers {BEGIN} … {END} are missing")
    start = text.index(BEGIN)
    first_line = text[:start].count("\n") + 1
    body = text[start : text.index(END)].splitlines()
    rows: list[Row] = []
    for offset, line in enumerate(body):
        if not line.startswith("| CMD-"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        number = first_line + offset
        if len(cells) != 4:
            raise ValueError(
                f"{source}, line {number}: expected 4 cells (id, checks, tests, not covered), "
                f"found {len(cells)}"
            )
        refs = tuple((m.group(1), m.group(2)) for m in _REF.finditer(cells[2]))
        rows.append(Row(cells[0], number, refs))
    return rows


def _defined_tests(path: Path) -> set[str]:
    """Test functions of a file: ``name`` at module level, ``Class::name`` in classes."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(f"{node.name}::{item.name}")
    return {n for n in names if n.rsplit("::", 1)[-1].startswith("test_")}


def problems(
    rows: list[Row], root: Path, *, source: str = "docs/remote-operations.md"
) -> list[str]:
    """Everything wrong with the table: missing or doubled rows, empty rows, unknown tests."""
    found: list[str] = []
    ids = [r.row_id for r in rows]
    for row_id in ROWS:
        if ids.count(row_id) == 0:
            found.append(f"{source}: {row_id} is missing from the table")
        elif ids.count(row_id) > 1:
            found.append(f"{source}: {row_id} appears {ids.count(row_id)} times")
    for row in rows:
        if row.row_id not in ROWS:
            found.append(f"{source}, line {row.line}: unknown row id {row.row_id!r}")
        if not row.refs:
            found.append(f"{source}, line {row.line}: {row.row_id} names no test")
        for file, name in row.refs:
            path = root / file
            if not path.is_file():
                found.append(f"{source}, line {row.line}: {row.row_id}: no file {file}")
            elif name not in _defined_tests(path):
                found.append(
                    f"{source}, line {row.line}: {row.row_id}: no test function {name} in {file}"
                )
    return found


def test_every_cmd_row_names_tests_that_exist() -> None:
    rows = parse_table(DOC.read_text(encoding="utf-8"))
    assert problems(rows, ROOT) == []
    assert [r.row_id for r in rows] == ROWS


_GOOD = "`tests/commands/test_traceability.py::test_every_cmd_row_names_tests_that_exist`"


def _table(lines: list[str]) -> str:
    head = "| id | what it checks | tests | not covered |\n|---|---|---|---|\n"
    return f"intro\n{BEGIN}\n{head}" + "\n".join(lines) + f"\n{END}\n"


def _full(**replace: str) -> list[str]:
    return [replace.get(r, f"| {r} | x | {_GOOD} | — |") for r in ROWS]


def test_the_checker_accepts_a_complete_table() -> None:
    assert problems(parse_table(_table(_full())), ROOT) == []


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (_full()[1:], "CMD-01 is missing"),
        ([*_full(), _full()[3]], "CMD-04 appears 2 times"),
        (_full(**{"CMD-05": "| CMD-05 | x | (none) | — |"}), "CMD-05 names no test"),
        (
            _full(**{"CMD-06": "| CMD-06 | x | `tests/commands/test_nowhere.py::test_a` | — |"}),
            "no file tests/commands/test_nowhere.py",
        ),
        (
            _full(
                **{"CMD-07": "| CMD-07 | x | `tests/commands/test_traceability.py::test_gone` | |"}
            ),
            "no test function test_gone",
        ),
        (
            _full(**{"CMD-08": "| CMD-08 | x | `tests/commands/test_traceability.py::_table` | |"}),
            "no test function _table",
        ),
    ],
)
def test_the_checker_finds_each_kind_of_problem(lines: list[str], expected: str) -> None:
    found = problems(parse_table(_table(lines)), ROOT)
    assert any(expected in p for p in found), found


def test_a_row_with_a_wrong_number_of_cells_names_its_line() -> None:
    text = _table([*_full()[:-1], "| CMD-14 | x | y |"])
    with pytest.raises(ValueError, match=r"line 18: expected 4 cells"):
        parse_table(text)


def test_a_document_without_the_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="markers"):
        parse_table("| CMD-01 | x | y | z |\n")
