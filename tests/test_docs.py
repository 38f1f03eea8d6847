"""Documentation stays true: CLI reference, settings table, fleet file reference."""

import re
from pathlib import Path

from meterops.cli.main import app
from meterops.cli.reference import BEGIN, END, commands, render
from meterops.config import Settings
from meterops.fleet.spec import DOC_BEGIN, DOC_END, render_markdown

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _block(text: str, begin: str, end: str) -> str:
    match = re.search(re.escape(begin) + r"\n(.*?)\n" + re.escape(end), text, flags=re.DOTALL)
    assert match, f"markers {begin} … {end} not found"
    return match.group(1)


def test_the_readme_cli_reference_is_current() -> None:
    assert _block(README, BEGIN, END) == render(app), (
        "README CLI reference is stale: run `python -m meterops.cli.reference README.md`"
    )


def test_every_command_has_help_text() -> None:
    missing = [name for name, command in commands(app) if not (command.help or "").strip()]
    assert missing == []


def test_every_setting_is_documented_in_the_readme() -> None:
    for name in Settings.model_fields:
        assert f"`METEROPS_{name.upper()}`" in README, f"METEROPS_{name.upper()} undocumented"


def test_the_fleet_file_reference_is_current() -> None:
    doc = (ROOT / "docs" / "fleet-import.md").read_text(encoding="utf-8")
    assert _block(doc, DOC_BEGIN, DOC_END) == render_markdown(), (
        "docs/fleet-import.md is stale: regenerate the block from fleet.spec.render_markdown()"
    )


def test_the_glossary_tables_are_current() -> None:
    from meterops.glossary import BEGIN as G_BEGIN
    from meterops.glossary import END as G_END
    from meterops.glossary import render as render_glossary

    doc = (ROOT / "docs" / "nomenclature.md").read_text(encoding="utf-8")
    assert _block(doc, G_BEGIN, G_END) == render_glossary(), (
        "docs/nomenclature.md is stale: run `python -m meterops.glossary docs/nomenclature.md`"
    )
