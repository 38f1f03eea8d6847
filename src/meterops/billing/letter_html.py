"""The customer letter as HTML (Jinja2 template ``billing/letter.html``).

Served by the web app with the stylesheet ``/static/billing/letter.css``; written to a file by
``meterops highbill explain --html`` with the same stylesheet embedded, so the file stands
alone. Must not import ``meterops.db``, ``web`` or ``config``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from jinja2 import Environment, FileSystemLoader, select_autoescape

from meterops.billing.letter import LetterContent, chart_svg

__all__ = ["STYLESHEET", "TEMPLATES", "letter_context", "render_letter_html"]

_UI: Final = Path(__file__).resolve().parent.parent / "web" / "ui"
TEMPLATES: Final = _UI / "templates"
"""Folder of the app's templates."""
STYLESHEET: Final = _UI / "static" / "billing" / "letter.css"
"""The letter's stylesheet."""


def letter_context(content: LetterContent) -> dict[str, object]:
    """Template variables of ``billing/letter.html``."""
    return {"letter": content, "chart": chart_svg(content)}


def render_letter_html(content: LetterContent, *, standalone: bool = True) -> str:
    """The letter as a complete HTML document.

    Args:
        content: What the letter shows.
        standalone: Embed the stylesheet (for a file); otherwise link ``/static``.
    """
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    css = STYLESHEET.read_text(encoding="utf-8") if standalone else None
    return env.get_template("billing/letter.html").render(inline_css=css, **letter_context(content))
