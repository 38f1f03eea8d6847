"""The customer letter: plain sentences, a chart of daily use against temperature, HTML and PDF.

:func:`letter_sentences` turns a comparison and its verdict into short sentences a customer
reads ("Your heating used about 310 kWh more than last January; it was 6 degrees colder on
average"). Figures are rounded (kWh to 10, degrees to whole numbers) because a letter promises
no more precision than the model has. :func:`chart_points` scales each day's use and mean
temperature into the chart box; :func:`chart_svg` draws it for the HTML letter (SVG with
presentation attributes only, so the page's CSP needs no inline style) and :func:`render_pdf`
draws the one-page PDF with fpdf2.

Pure module: standard library, polars, fpdf2 and pure meterops modules; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape
from typing import Final, Literal

import polars as pl

from meterops.billing.compare import BillingPeriod, PeriodComparison
from meterops.billing.verdict import Cause, Verdict
from meterops.billing.weather import c_to_f

__all__ = [
    "PERIOD_COLOURS",
    "ChartPoint",
    "LetterContent",
    "chart_points",
    "chart_svg",
    "letter_sentences",
    "render_pdf",
]

Unit = Literal["F", "C"]

PERIOD_COLOURS: Final = {"previous": "#7a8ca3", "current": "#c0392b"}
"""Chart colour of each period (previous grey-blue, current red)."""

_PROBLEM_SENTENCES: Final = {
    Cause.PROGRAM_ERROR: (
        "We found that your meter's time-of-use settings do not match your rate, so some of "
        "your use was billed at the on-peak price. We are correcting the meter and will "
        "recalculate this bill."
    ),
    Cause.WRONG_MULTIPLIER: (
        "We are checking the multiplier used to bill your meter; if it is wrong we will "
        "correct this bill."
    ),
    Cause.CROSSED_METERS: (
        "Your meter's readings do not behave like those of your neighbours' meters. A "
        "technician will check that the meter at your address is the one on your account."
    ),
    Cause.METER_ACCURACY: (
        "Your meter did not pass its accuracy test. We will replace it and review this bill."
    ),
    Cause.ESTIMATED_READS: (
        "Part of this bill was estimated because we did not receive all readings from your "
        "meter. We will read it again and correct the bill if needed."
    ),
}


@dataclass(frozen=True, slots=True)
class ChartPoint:
    """One day in the chart.

    Attributes:
        period: ``previous`` or ``current``.
        day: The day.
        temperature: Mean temperature in the letter's unit. [°F or °C]
        energy_kwh: Use of the day. [kWh]
        x: Horizontal position in the box, 0 (left) to 1. [-]
        y: Vertical position, 0 (bottom) to 1. [-]
    """

    period: str
    day: dt.date
    temperature: float
    energy_kwh: float
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class LetterContent:
    """Everything the letter shows.

    Attributes:
        title: Heading.
        greeting: First line (customer name or "Dear customer").
        address: Service address lines.
        account_number: The account.
        date_line: Date of the letter.
        sentences: The explanation, one sentence per paragraph.
        points: Chart points of both periods.
        temperature_range: Axis range of the temperature. [°F or °C]
        energy_max_kwh: Axis top of the daily use. [kWh]
        unit: Temperature unit.
        previous_label: Label of the previous period.
        current_label: Label of the current period.
        table: Rows (label, previous, current) of the figures table.
    """

    title: str
    greeting: str
    address: tuple[str, ...]
    account_number: str
    date_line: str
    sentences: tuple[str, ...]
    points: tuple[ChartPoint, ...]
    temperature_range: tuple[float, float]
    energy_max_kwh: float
    unit: Unit
    previous_label: str
    current_label: str
    table: tuple[tuple[str, str, str], ...]


def _degrees(delta_c: float, unit: Unit) -> float:
    return delta_c * 9.0 / 5.0 if unit == "F" else delta_c


def _temp(value_c: float, unit: Unit) -> float:
    return c_to_f(value_c) if unit == "F" else value_c


def _round10(value: float) -> int:
    return round(value / 10.0) * 10


def _middle_month(period: BillingPeriod) -> dt.date:
    return period.first_day + (period.last_day - period.first_day) / 2


def _than(previous: BillingPeriod, current: BillingPeriod) -> str:
    """``than last January`` / ``than in November`` / ``than in Nov 5 – Dec 4, 2026``."""
    p, c = _middle_month(previous), _middle_month(current)
    if p.month == c.month and c.year - p.year == 1:
        return f"than last {p:%B}"
    if abs(previous.days - 30.5) <= 3.5:
        return f"than in {p:%B}" + (f" {p.year}" if (c - p).days > 300 else "")
    return f"than in {previous.label()}"


def _plural(n: float, word: str) -> str:
    return f"{n:g} {word}" + ("" if abs(n) == 1 else "s")


def letter_sentences(
    comparison: PeriodComparison, verdict: Verdict, *, unit: Unit = "F"
) -> list[str]:
    """Plain sentences that explain the bill.

    Args:
        comparison: The two periods compared.
        verdict: The verdict.
        unit: Temperature unit of the sentences.

    Returns:
        Sentences in reading order: the bill, a problem found (if any), heating, cooling,
        days, use beyond the weather, EV charging, always-on use, solar.
    """
    p, c = comparison.previous, comparison.current
    than = _than(p.period, c.period)
    change = comparison.change_kwh
    out = []
    direction = "more" if change >= 0 else "less"
    out.append(
        f"Your bill for {c.period.label()} is for about {_round10(c.actual_kwh):,} kWh, "
        f"{_round10(abs(change)):,} kWh {direction} {than}."
    )
    if verdict.cause.is_meter_or_billing_problem:
        out.append(_PROBLEM_SENTENCES[verdict.cause])
    colder = _degrees(p.mean_temperature_c - c.mean_temperature_c, unit)
    if abs(comparison.heating_kwh) >= 10:
        more = "more" if comparison.heating_kwh > 0 else "less"
        weather = (
            f"; it was {_plural(round(abs(colder)), 'degree')} "
            f"{'colder' if colder > 0 else 'warmer'} on average"
            if round(abs(colder)) >= 1
            else ""
        )
        out.append(
            f"Your heating used about {_round10(abs(comparison.heating_kwh)):,} kWh {more} "
            f"{than}{weather}."
        )
    if abs(comparison.cooling_kwh) >= 10:
        more = "more" if comparison.cooling_kwh > 0 else "less"
        weather = (
            f"; it was {_plural(round(abs(colder)), 'degree')} "
            f"{'warmer' if colder < 0 else 'cooler'} on average"
            if round(abs(colder)) >= 1
            else ""
        )
        out.append(
            f"Your air conditioning used about {_round10(abs(comparison.cooling_kwh)):,} kWh "
            f"{more} {than}{weather}."
        )
    extra_days = c.period.days - p.period.days
    if extra_days:
        out.append(
            f"This bill covers {_plural(abs(extra_days), 'day')} "
            f"{'more' if extra_days > 0 else 'fewer'} {than}"
            f" (about {_round10(abs(comparison.days_kwh)):,} kWh)."
        )
    if abs(comparison.use_kwh) >= max(30.0, 0.05 * max(c.expected_kwh, 1.0)):
        more = "more" if comparison.use_kwh > 0 else "less"
        out.append(
            f"Apart from the weather and the number of days, you used about "
            f"{_round10(abs(comparison.use_kwh)):,} kWh {more} {than}."
        )
    ev_change = c.ev_kwh - p.ev_kwh
    if c.ev_kwh >= 30 and abs(ev_change) >= 30:
        out.append(
            f"Charging an electric vehicle used about {_round10(c.ev_kwh):,} kWh this period, "
            f"{_round10(abs(ev_change)):,} kWh {'more' if ev_change > 0 else 'less'} {than}."
        )
    base_p, base_c = p.baseload_kwh / p.period.days, c.baseload_kwh / c.period.days
    if base_p > 0 and abs(base_c - base_p) >= max(1.0, 0.15 * base_p):
        out.append(
            f"Your always-on use (appliances that run day and night) went from about "
            f"{base_p:.0f} to {base_c:.0f} kWh a day."
        )
    if c.received_kwh >= 10 or p.received_kwh >= 10:
        out.append(
            f"Your solar panels sent about {_round10(c.received_kwh):,} kWh to the grid "
            f"this period ({_round10(p.received_kwh):,} kWh {than.removeprefix('than ')})."
        )
    return out


def chart_points(
    daily: pl.DataFrame, comparison: PeriodComparison, *, unit: Unit = "F"
) -> tuple[tuple[ChartPoint, ...], tuple[float, float], float]:
    """Each day of both periods as a point of use against temperature.

    Args:
        daily: Days with ``day``, ``delivered_kwh`` [kWh] and ``temperature_c`` [°C].
        comparison: The comparison (its periods).
        unit: Temperature unit of the axis.

    Returns:
        The points, the temperature axis range and the use axis top.
    """
    rows: list[tuple[str, dt.date, float, float]] = []
    for name, summary in (("previous", comparison.previous), ("current", comparison.current)):
        days = daily.filter(
            summary.period.contains()
            & pl.col("delivered_kwh").is_not_null()
            & pl.col("temperature_c").is_not_null()
        )
        rows += [
            (name, d, _temp(t, unit), e)
            for d, t, e in days.select("day", "temperature_c", "delivered_kwh").iter_rows()
        ]
    if not rows:
        return (), (0.0, 1.0), 1.0
    temps = [r[2] for r in rows]
    low, high = 10 * (min(temps) // 10), 10 * (max(temps) // 10 + 1)
    top = max(r[3] for r in rows)
    top = max(10.0, 10 * (top // 10 + 1))
    points = tuple(ChartPoint(n, d, t, e, (t - low) / (high - low), e / top) for n, d, t, e in rows)
    return points, (float(low), float(high)), float(top)


def chart_svg(content: LetterContent, *, width: int = 560, height: int = 260) -> str:
    """The chart as SVG markup (presentation attributes only; safe under a strict CSP)."""
    left, right, top, bottom = 48, 12, 12, 36
    w, h = width - left - right, height - top - bottom
    unit = "°" + content.unit
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" '
            f'aria-label="Daily use against temperature, both periods">'
        ),
        f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="#ffffff" stroke="#999999"/>',
    ]
    low, high = content.temperature_range
    for i in range(int((high - low) // 10) + 1):
        x = left + w * i * 10 / (high - low)
        parts.append(
            f'<text x="{x:.1f}" y="{top + h + 14}" font-size="10" text-anchor="middle" '
            f'fill="#333333">{low + 10 * i:g}</text>'
        )
    for i in range(5):
        y = top + h - h * i / 4
        parts.append(
            f'<text x="{left - 6}" y="{y + 3:.1f}" font-size="10" text-anchor="end" '
            f'fill="#333333">{content.energy_max_kwh * i / 4:g}</text>'
        )
    parts.append(
        f'<text x="{left + w / 2}" y="{height - 4}" font-size="11" text-anchor="middle" '
        f'fill="#333333">Average temperature of the day ({unit})</text>'
    )
    parts.append(
        f'<text x="12" y="{top + h / 2}" font-size="11" text-anchor="middle" fill="#333333" '
        f'transform="rotate(-90 12 {top + h / 2})">kWh per day</text>'
    )
    for point in content.points:
        colour = PERIOD_COLOURS[point.period]
        parts.append(
            f'<circle cx="{left + w * point.x:.1f}" cy="{top + h - h * point.y:.1f}" r="3.2" '
            f'fill="{colour}" fill-opacity="0.8"><title>{point.day}: '
            f"{point.energy_kwh:.1f} kWh, {point.temperature:.0f} {unit}</title></circle>"
        )
    legend = ((content.previous_label, "previous"), (content.current_label, "current"))
    for i, (label, period) in enumerate(legend):
        y = top + 14 + 16 * i
        parts.append(
            f'<circle cx="{left + w - 170}" cy="{y - 4}" r="4" fill="{PERIOD_COLOURS[period]}"/>'
        )
        parts.append(
            f'<text x="{left + w - 160}" y="{y}" font-size="11" fill="#333333">'
            f"{escape(label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _latin1(text: str) -> str:
    """Core PDF fonts are Latin-1: replace the few typographic characters we use."""
    return (
        text.replace("–", "-")
        .replace("—", "-")
        .replace("’", "'")
        .replace("…", "...")
        .encode("latin-1", "replace")
        .decode("latin-1")
    )


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def render_pdf(content: LetterContent) -> bytes:
    """The one-page letter as PDF (US Letter, core fonts, vector chart).

    Args:
        content: What the letter shows.

    Returns:
        The PDF bytes.
    """
    from fpdf import FPDF

    pdf = FPDF(orientation="portrait", unit="mm", format="Letter")
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(20, 16, 20)
    pdf.add_page()
    pdf.set_title(_latin1(content.title))
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 8, _latin1(content.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9.5)
    pdf.cell(
        0,
        5,
        _latin1(f"Account {content.account_number} - {content.date_line}"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    for line in content.address:
        pdf.cell(0, 4.5, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", "", 10.5)
    pdf.cell(0, 6, _latin1(content.greeting), new_x="LMARGIN", new_y="NEXT")
    for sentence in content.sentences:
        pdf.multi_cell(0, 5.2, _latin1(sentence), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.2)
    # chart
    x0, y0, w, h = 36.0, pdf.get_y() + 3, 150.0, 72.0
    pdf.set_draw_color(150, 150, 150)
    pdf.rect(x0, y0, w, h)
    pdf.set_font("Helvetica", "", 7.5)
    low, high = content.temperature_range
    steps = int((high - low) // 10)
    for i in range(steps + 1):
        x = x0 + w * i / max(steps, 1)
        pdf.text(x - 2, y0 + h + 4, f"{low + 10 * i:g}")
    for i in range(5):
        y = y0 + h - h * i / 4
        pdf.text(x0 - 9, y + 1, f"{content.energy_max_kwh * i / 4:g}")
    pdf.set_font("Helvetica", "", 8.5)
    pdf.text(
        x0 + w / 2 - 30, y0 + h + 9, _latin1(f"Average temperature of the day (°{content.unit})")
    )
    with pdf.rotation(90, x0 - 12, y0 + h / 2 + 12):
        pdf.text(x0 - 12, y0 + h / 2 + 12, "kWh per day")
    for point in content.points:
        pdf.set_fill_color(*_rgb(PERIOD_COLOURS[point.period]))
        pdf.circle(x=x0 + w * point.x, y=y0 + h - h * point.y, radius=0.9, style="F")
    legend = ((content.previous_label, "previous"), (content.current_label, "current"))
    for i, (label, period) in enumerate(legend):
        pdf.set_fill_color(*_rgb(PERIOD_COLOURS[period]))
        pdf.circle(x=x0 + 4, y=y0 + 5 + 5 * i, radius=1.2, style="F")
        pdf.text(x0 + 7, y0 + 6 + 5 * i, _latin1(label))
    pdf.set_y(y0 + h + 13)
    # figures table
    pdf.set_font("Helvetica", "B", 9)
    widths = (70.0, 45.0, 45.0)
    for text, width in zip(
        ("", content.previous_label, content.current_label), widths, strict=True
    ):
        pdf.cell(width, 5, _latin1(text), border="B")
    pdf.ln(5)
    pdf.set_font("Helvetica", "", 9)
    for row in content.table:
        for text, width in zip(row, widths, strict=True):
            pdf.cell(width, 4.8, _latin1(text))
        pdf.ln(4.8)
    return bytes(pdf.output())
