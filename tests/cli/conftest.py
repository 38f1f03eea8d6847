"""Run the real ``meterops`` entry point against a fresh database."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from meterops.cli import context
from meterops.cli.main import main


@pytest.fixture
def run_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., tuple[int, str, str]]]:
    """``run_cli("fleet", "import", …) -> (exit code, stdout, stderr)`` on a private database."""
    monkeypatch.setenv("METEROPS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("METEROPS_DATABASE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    context.settings.cache_clear()
    context.engine.cache_clear()

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    yield run
    context.engine().dispose()
    context.settings.cache_clear()
    context.engine.cache_clear()
