"""Render the CLI reference (every command with its help) as Markdown from the Typer app.

``python -m meterops.cli.reference`` rewrites the block between the markers in README.md;
``tests/test_docs.py`` fails when the README is out of date.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import typer

BEGIN = "<!-- cli-reference:begin -->"
END = "<!-- cli-reference:end -->"


# Typer ships its own copy of click, so commands are inspected by duck typing.
Command = Any


def _walk(command: Command, path: list[str]) -> list[tuple[str, Command]]:
    found = [(" ".join(path), command)]
    for name in sorted(getattr(command, "commands", {}) or {}):
        if not getattr(command.commands[name], "hidden", False):  # aliases kept out of --help
            found += _walk(command.commands[name], [*path, name])
    return found


def commands(app: typer.Typer) -> list[tuple[str, Command]]:
    """Every visible command and group of the app, as (``meterops sub cmd``, command)."""
    return _walk(typer.main.get_command(app), ["meterops"])


def render(app: typer.Typer) -> str:
    """Markdown reference: one entry per command with its usage and options."""
    lines: list[str] = []
    for name, command in commands(app)[1:]:
        summary = (command.help or "").strip().splitlines()[0] if command.help else ""
        params = [p for p in command.params if p.name != "help"]
        args = " ".join(
            f"{p.name.upper()}{'...' if getattr(p, 'nargs', 1) == -1 else ''}"
            for p in params
            if p.param_type_name == "argument" and p.name
        )
        lines.append(f"- `{name}{' ' + args if args else ''}`: {summary}")
        lines.extend(
            f"  - `{' / '.join(p.opts)}`: {(p.help or '').strip()}"
            for p in params
            if p.param_type_name == "option"
        )
    return "\n".join(lines)


def update_readme(readme: Path, app: typer.Typer) -> bool:
    """Rewrite the reference block; return True when the file changed."""
    text = readme.read_text(encoding="utf-8")
    block = f"{BEGIN}\n{render(app)}\n{END}"
    new = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, text, flags=re.DOTALL)
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    from meterops.cli.main import app as root

    changed = update_readme(Path(sys.argv[1] if len(sys.argv) > 1 else "README.md"), root)
    print("README.md updated" if changed else "README.md already current")
