"""The letter's sentences, chart and PDF from a hand-made comparison."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from meterops.billing.checks import CheckParams, check_estimation
from meterops.billing.compare import BillingPeriod, PeriodComparison, PeriodSummary
from meterops.billing.letter import (
    LetterContent,
    chart_points,
    chart_svg,
    letter_sentences,
    render_pdf,
)
from meterops.billing.normalize import FALLBACK, WeatherModel
from meterops.billing.verdict import Cause, decide

LAST_JAN = BillingPeriod(dt.date(2026, 1, 1), dt.date(2026, 1, 31))
THIS_JAN = BillingPeriod(dt.date(2027, 1, 1), dt.date(2027, 1, 31))
MODEL = WeatherModel(
    FALLBACK, 300, dt.date(2026, 1, 1), dt.date(2026, 12, 31), 20.0, 16.0, 3.0, None, 0.0, 0.9, 0.1
)


def _summary(
    period: BillingPeriod, *, actual: float, heating: float, temp_c: float, ev: float = 0.0
) -> PeriodSummary:
    base = 20.0 * period.days
    return PeriodSummary(
        period,
        actual,
        base + heating,
        base,
        heating,
        0.0,
        temp_c,
        0.0,
        0.0,
        15.0 * period.days,
        ev,
        0.0,
        9.0,
        2976,
        2976,
        0,
        0,
    )


def _comparison(*, ev: float = 0.0, use: float = 0.0) -> PeriodComparison:
    # 6 °F colder = 3.33 °C; heating up 310 kWh
    p = _summary(LAST_JAN, actual=1600.0, heating=980.0, temp_c=-3.0)
    c = _summary(THIS_JAN, actual=1910.0 + ev + use, heating=1290.0, temp_c=-3.0 - 6 * 5 / 9, ev=ev)
    change = c.actual_kwh - p.actual_kwh
    return PeriodComparison(
        p, c, MODEL, change, 0.0, 310.0, 0.0, change - 310.0, 100 * (c.ratio - p.ratio)
    )


def test_the_heating_sentence_of_the_issue() -> None:
    comparison = _comparison()
    verdict = decide(comparison, [])
    assert verdict.cause is Cause.WEATHER
    sentences = letter_sentences(comparison, verdict)
    assert sentences[0] == (
        "Your bill for Jan 1 – Jan 31, 2027 is for about 1,910 kWh, 310 kWh more than last January."
    )
    assert (
        "Your heating used about 310 kWh more than last January; it was 6 degrees colder on "
        "average."
    ) in sentences
    celsius = letter_sentences(comparison, verdict, unit="C")
    assert any("it was 3 degrees colder" in s for s in celsius)


def test_an_ev_and_a_problem_are_named() -> None:
    comparison = _comparison(ev=250.0)
    sentences = letter_sentences(comparison, decide(comparison, []))
    assert any(s.startswith("Charging an electric vehicle used about 250 kWh") for s in sentences)
    est = check_estimation(
        estimated_intervals=900, missing_intervals=0, expected_intervals=2976, params=CheckParams()
    )
    verdict = decide(comparison, [est])
    assert verdict.cause is Cause.ESTIMATED_READS
    assert any("estimated" in s for s in letter_sentences(comparison, verdict))


def _content() -> LetterContent:
    comparison = _comparison()
    days = [THIS_JAN.first_day + dt.timedelta(days=i) for i in range(31)]
    days_p = [LAST_JAN.first_day + dt.timedelta(days=i) for i in range(31)]
    daily = pl.DataFrame(
        {
            "day": days_p + days,
            "temperature_c": [-3.0 + (i % 7) for i in range(31)]
            + [-6.0 + (i % 7) for i in range(31)],
            "delivered_kwh": [50.0 + (i % 5) for i in range(31)]
            + [60.0 + (i % 5) for i in range(31)],
        }
    )
    points, temperature_range, top = chart_points(daily, comparison)
    assert len(points) == 62
    assert all(0 <= p.x <= 1 and 0 <= p.y <= 1 for p in points)
    return LetterContent(
        "About your electricity bill",
        "Dear Pat Doe,",
        ("1 Main St", "Town, IA 50000"),
        "A1",
        "February 3, 2027",
        tuple(letter_sentences(comparison, decide(comparison, []))),
        points,
        temperature_range,
        top,
        "F",
        LAST_JAN.label(),
        THIS_JAN.label(),
        (("Days", "31", "31"),),
    )


def test_the_chart_is_svg_without_inline_style() -> None:
    svg = chart_svg(_content())
    assert svg.startswith("<svg")
    assert svg.count("<circle") == 62 + 2
    assert "style=" not in svg


def test_the_pdf_is_one_page_with_the_sentences() -> None:
    import pypdfium2 as pdfium

    content = _content()
    document = pdfium.PdfDocument(render_pdf(content))
    assert len(document) == 1
    text = " ".join(document[0].get_textpage().get_text_range().split())
    assert "Your heating used about 310 kWh more than last January" in text
    assert "Dear Pat Doe," in text
    assert pytest.approx(document[0].get_size()[0], abs=1) == 612  # US Letter, points
    document.close()
