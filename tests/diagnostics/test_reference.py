"""docs/diagnostics.md stays true to the code: the verdict-rule table and every fact."""

from __future__ import annotations

import re
from pathlib import Path

from meterops.diagnostics.facts import FACT_NAMES
from meterops.diagnostics.kinds import Cause, ExceptionKind
from meterops.diagnostics.reference import BEGIN, END, render

DOC = (Path(__file__).resolve().parents[2] / "docs" / "diagnostics.md").read_text(encoding="utf-8")


def test_the_verdict_rule_table_is_current() -> None:
    match = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), DOC, flags=re.DOTALL)
    assert match, "markers not found in docs/diagnostics.md"
    assert match.group(1) == render(), (
        "docs/diagnostics.md is stale: run `python -m meterops.diagnostics.reference`"
    )


def test_every_kind_cause_and_fact_is_documented() -> None:
    for name in [*(k.value for k in ExceptionKind), *(c.value for c in Cause), *FACT_NAMES]:
        assert f"`{name}`" in DOC, name
