"""docs/vee.md stays true: its generated tables equal what the code renders."""

from __future__ import annotations

import re
from pathlib import Path

from meterops.vee.flags import FLAGS
from meterops.vee.reference import BEGIN, END, render
from meterops.vee.rules import RULES

DOC = Path(__file__).resolve().parents[2] / "docs" / "vee.md"


def test_the_generated_tables_are_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), text, flags=re.DOTALL)
    assert match, "markers not found in docs/vee.md"
    assert match.group(1) == render(), (
        "docs/vee.md is stale: run `python -m meterops.vee.reference docs/vee.md`"
    )


def test_every_rule_and_flag_is_in_the_tables() -> None:
    block = render()
    for rule_id in RULES:
        assert f"| `{rule_id}` |" in block
    for name, flag in FLAGS.items():
        assert f"| {flag.bit} | `{name}`" in block
