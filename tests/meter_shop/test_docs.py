"""docs/meter-shop.md stays true: the generated file-layout and plan tables match the code."""

from __future__ import annotations

import re
from pathlib import Path

from meterops.meter_shop.sampling import render_plan_table
from meterops.meter_shop.testfiles import DOC_BEGIN, DOC_END, render_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "meter-shop.md"


def _block(text: str, begin: str, end: str) -> str:
    match = re.search(re.escape(begin) + r"\n(.*?)\n" + re.escape(end), text, flags=re.DOTALL)
    assert match, f"markers {begin} … {end} not found"
    return match.group(1)


def test_the_file_layout_tables_are_current() -> None:
    assert _block(DOC.read_text(encoding="utf-8"), DOC_BEGIN, DOC_END) == render_markdown(), (
        "docs/meter-shop.md is stale: regenerate the block from testfiles.render_markdown()"
    )


def test_the_plan_table_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    block = _block(text, "<!-- meter-shop-plans:begin -->", "<!-- meter-shop-plans:end -->")
    assert block == render_plan_table(), (
        "docs/meter-shop.md is stale: regenerate the block from sampling.render_plan_table()"
    )


def test_every_shop_command_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for command in (
        "shop import",
        "shop tests",
        "lots plan",
        "lots samples",
        "lots status",
        "lots replacements",
    ):
        assert f"`meterops {command}" in text or f"meterops shop {command}" in text, command
