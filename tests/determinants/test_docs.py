"""docs/determinants.md: the frame tables mirror determinants.frames."""

from __future__ import annotations

from pathlib import Path

from meterops.determinants.frames import render_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "determinants.md"
BEGIN, END = "<!-- BEGIN determinants-frames -->", "<!-- END determinants-frames -->"


def block(text: str) -> str:
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def test_the_frame_tables_are_current() -> None:
    assert block(DOC.read_text()) == render_markdown().strip(), (
        "docs/determinants.md is stale: python -m tests.determinants.test_docs"
    )


if __name__ == "__main__":
    text = DOC.read_text()
    head, rest = text.split(BEGIN, 1)
    DOC.write_text(f"{head}{BEGIN}\n{render_markdown().strip()}\n{END}{rest.split(END, 1)[1]}")
