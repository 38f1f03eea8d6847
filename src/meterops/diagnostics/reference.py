"""The verdict-rule reference of ``docs/diagnostics.md``, rendered from :data:`rules.RULES`.

``python -m meterops.diagnostics.reference docs/diagnostics.md`` rewrites the block between
the markers; ``tests/diagnostics/test_reference.py`` fails when the document is stale.

Pure module: standard library and pure meterops modules only.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from meterops.diagnostics.kinds import ActionKind
from meterops.diagnostics.rules import RULES

__all__ = ["BEGIN", "END", "render", "update"]

BEGIN = "<!-- verdict-rules:begin -->"
END = "<!-- verdict-rules:end -->"


def render() -> str:
    """One Markdown table row per rule, in the order they are tried."""
    lines = [
        "| rule | when (all hold) | cause | confidence | action |",
        "|---|---|---|---:|---|",
    ]
    for rule in RULES:
        when = "; ".join(f"`{c.fact} {c.op} {c.value}`" for c in rule.when) or "otherwise"
        if rule.action is ActionKind.FIELD:
            action = f"visit: `{rule.order_type}`" + (
                " on the collector" if rule.subject == "collector" else ""
            )
        elif rule.action is ActionKind.REMOTE:
            action = f"remote: `{rule.remote_command}`"
        else:
            action = rule.action.value.replace("_", "-")
        lines.append(
            f"| `{rule.rule_id}` | {when} | `{rule.cause.value}` | {rule.confidence:.2f} | "
            f"{action} |"
        )
    return "\n".join(lines)


def update(path: Path) -> bool:
    """Rewrite the block in ``path``; True when it changed."""
    text = path.read_text(encoding="utf-8")
    block = f"{BEGIN}\n{render()}\n{END}"
    new = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, text, flags=re.DOTALL)
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    changed = update(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/diagnostics.md"))
    print("updated" if changed else "already current")
