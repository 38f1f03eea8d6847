"""Render the data tables of ``docs/nomenclature.md`` from the definitions in code.

The glossary's tables (frame columns, channels, event codes, meter forms, quality flags) are
generated here so they cannot drift from ``reads/schema.py``, ``nomenclature.py`` and
``vee/flags.py``; ``tests/test_docs.py`` checks the file is current.
``python -m meterops.glossary docs/nomenclature.md`` rewrites it.

Pure module: imports only other pure meterops modules.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from meterops.nomenclature import CHANNELS, CIM_EVENTS, CURRENT_CLASSES, METER_FORMS
from meterops.reads import schema
from meterops.vee.flags import FLAGS

__all__ = ["BEGIN", "END", "render", "update"]

BEGIN = "<!-- glossary-tables:begin -->"
END = "<!-- glossary-tables:end -->"


def _contracts() -> list[str]:
    lines: list[str] = []
    for name in sorted(schema.__all__):
        contract = getattr(schema, name)
        if not hasattr(contract, "columns"):
            continue
        lines += [f"#### `{contract.name}`", "", "| column | dtype | meaning |", "|---|---|---|"]
        lines += [
            f"| `{c.name}` | {c.dtype} | {c.description}{' (nullable)' if c.nullable else ''} |"
            for c in contract.columns
        ]
        lines.append("")
    return lines


def render() -> str:
    """All generated glossary tables as Markdown."""
    lines = ["### Frames", "", *_contracts()]
    lines += [
        "### Channels",
        "",
        "| channel | kind | unit | flow | meaning |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| `{c.name}` | {c.kind.value} | {c.unit} | {c.flow.value} | {c.description} |"
        for c in CHANNELS.values()
    ]
    lines += [
        "",
        "### Quality flags",
        "",
        "| bit | flag | set by | meaning | CIM quality |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {f.bit} | `{f.name}` | {f.group.value} | {f.description} | `{f.cim_quality}` |"
        for f in sorted(FLAGS.values(), key=lambda f: f.bit)
    ]
    lines += [
        "",
        "### IEC 61968-9 event types",
        "",
        "| code | name | severity | meaning |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{e.code}` | `{e.name}` | {e.severity.value} | {e.description}"
        f"{'' if e.verified else ' *(composed; confirm with the head-end)*'} |"
        for e in CIM_EVENTS.values()
    ]
    lines += [
        "",
        "### Meter forms",
        "",
        "| form | elements | type | services | classes | notes |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {f.name} | {f.elements:g} | "
        f"{'self-contained' if f.self_contained else 'transformer-rated'} | "
        f"{', '.join(s.value for s in f.services)} | {', '.join(f.typical_classes)} | "
        f"{f.notes} |"
        for f in METER_FORMS.values()
    ]
    lines += [
        "",
        "### Current classes",
        "",
        "| class | max current [A] | test amperes [A] |",
        "|---|---|---|",
    ]
    lines += [
        f"| {c.name} | {c.max_current_a:g} | {c.test_amperes_a:g} |"
        for c in CURRENT_CLASSES.values()
    ]
    return "\n".join(lines)


def update(path: Path) -> bool:
    """Rewrite the generated block of ``path``; True when it changed."""
    text = path.read_text(encoding="utf-8")
    new = re.sub(
        re.escape(BEGIN) + r".*?" + re.escape(END),
        lambda _: f"{BEGIN}\n{render()}\n{END}",
        text,
        flags=re.DOTALL,
    )
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    update(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/nomenclature.md"))
