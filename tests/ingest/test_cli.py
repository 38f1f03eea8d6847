"""``meterops ingest`` through Typer, on the active backend."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from meterops.ingest import journal
from tests.reads.world import World, cli, world, yesterday_file

Run = Callable[..., tuple[int, str]]


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as created:
        created.add_meters(["A", "B"])
        yield created


@pytest.fixture
def run(w: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    with cli(w, monkeypatch) as invoke:
        yield invoke


def test_ingest_of_a_folder_prints_one_row_per_file_and_is_idempotent(w: World, run: Run) -> None:
    folder = w.folder / "drop"
    folder.mkdir()
    yesterday_file(w, "drop/a.csv", ["A"])
    yesterday_file(w, "drop/b.csv", ["B", "ZZ"])
    code, out = run("ingest", str(folder))
    assert code == 0, out
    assert "a.csv" in out
    assert "b.csv" in out
    assert out.count("committed") == 2
    code, out = run("ingest", str(folder))
    assert code == 0
    assert out.count("duplicate_file") == 2


def test_a_refused_file_exits_2_and_names_line_and_field(w: World, run: Run) -> None:
    path, _ = yesterday_file(w, "bad.csv", ["A"])
    lines = path.read_bytes().split(b"\n")
    fields = lines[2].split(b",")
    fields[4] = b"x"
    lines[2] = b",".join(fields)
    path.write_bytes(b"\n".join(lines))
    code, out = run("ingest", str(path))
    assert code == 2
    assert "refused" in out
    assert "line 3" in out
    assert "'value'" in out
    code, out = run("ingest", "--lenient", str(path))
    assert code == 0
    assert "committed" in out


def test_rehash_reads_a_file_the_journal_knows_by_its_identity(
    w: World, run: Run, hashed: list[Path]
) -> None:
    path, _ = yesterday_file(w, "a.csv", ["A"])
    time.sleep(journal.SETTLED_NS / 1e9 + 0.05)  # old enough for its identity to count
    assert run("ingest", str(path))[0] == 0
    code, out = run("ingest", str(path))
    assert (code, hashed) == (0, [path])
    assert "duplicate_file" in out
    code, out = run("ingest", "--rehash", str(path))
    assert (code, hashed) == (0, [path, path])
    assert "duplicate_file" in out
