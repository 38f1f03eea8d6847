"""High bills on the simulated utility, through the real fleet import and ingest.

Two questions, scored against the simulator's ground truth (used only in the assertions):

* the meters of the ``tou_misprogram`` cohort (``RES-TOU-2024B``: the evening shoulder billed
  as on-peak) must be explained as a program error, not as a change in use, in at least 90 %
  of cases — and TOU meters without a fault must not be;
* a winter cold snap (ten days of January 12 °C colder than the drawn weather, the
  scenario's ``ColdSnap``) must be explained as weather for the customers whose bill rose
  against December.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import select

from meterops.billing import service as billing_service
from meterops.billing.compare import BillingPeriod
from meterops.billing.verdict import Cause
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.models.accounts import Account
from meterops.reads.store import ReadStore
from meterops.simulator.weather import ColdSnap
from tests.billing.utility import FIRST, ZONE, SimulatedUtility, build_utility
from tests.fixtures.web import create_web_user, signed_in

pytestmark = pytest.mark.slow  # a whole-territory scenario: CI runs it on SQLite only

PREVIOUS = BillingPeriod(dt.date(2026, 11, 9), dt.date(2026, 12, 8))
CURRENT = BillingPeriod(dt.date(2027, 1, 1), dt.date(2027, 1, 30))
DECEMBER = BillingPeriod(dt.date(2026, 12, 2), dt.date(2026, 12, 31))
SNAP = ColdSnap(dt.date(2027, 1, 10), days=10, colder_by_c=12.0)


@pytest.fixture(scope="module")
def utility(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> SimulatedUtility:
    return build_utility(
        module_database_url,
        tmp_path_factory.mktemp("highbill"),
        seed=5,
        service_points=700,
        cold_snaps=(SNAP,),
    )


@pytest.fixture
def sessions(utility: SimulatedUtility) -> Iterator[Any]:
    engine = make_engine(utility.database_url)
    yield make_session_factory(engine)
    engine.dispose()


def _accounts(sessions: Any, rate: str, limit: int | None = None) -> list[str]:
    """Open accounts on a rate that span the whole horizon (selection from the database)."""
    with session_scope(sessions) as session:
        return list(
            session.scalars(
                select(Account.account_number)
                .where(
                    Account.rate_code == rate,
                    Account.move_in_date <= FIRST,
                    Account.move_out_date.is_(None),
                )
                .order_by(Account.account_number)
                .limit(limit)
            )
        )


def _explain(
    utility: SimulatedUtility,
    sessions: Any,
    account: str,
    *,
    current: BillingPeriod = CURRENT,
    previous: BillingPeriod = PREVIOUS,
) -> Any:
    with session_scope(sessions) as session:
        return billing_service.explain_account(
            session,
            ReadStore(utility.reads_uri),
            account_number=account,
            current=current,
            previous=previous,
            zone=ZONE,
            weather_dir=utility.data_dir / "weather",
        )


def _faulted(truth: pl.DataFrame, kinds: set[str] | None = None) -> set[str]:
    rows = truth if kinds is None else truth.filter(pl.col("kind").is_in(sorted(kinds)))
    return set(rows["meter_serial"].drop_nulls().to_list())


def test_tou_misprogram_cohort_is_explained_as_a_program_error(
    utility: SimulatedUtility, sessions: Any
) -> None:
    verdicts: dict[str, Cause] = {}
    for account in _accounts(sessions, "RTOU"):
        result = _explain(utility, sessions, account)
        serial = result.meters["serial_number"][-1]
        verdicts[serial] = result.verdict.cause
    cohort = _faulted(utility.truth, {"tou_misprogram"}) & set(verdicts)
    healthy = set(verdicts) - _faulted(utility.truth)
    assert len(cohort) >= 10, "the scenario must hold enough misprogrammed TOU meters"
    assert len(healthy) >= 10
    explained = [s for s in cohort if verdicts[s] is Cause.PROGRAM_ERROR]
    assert len(explained) / len(cohort) >= 0.9, {s: verdicts[s] for s in cohort}
    wrongly = [s for s in healthy if verdicts[s] is Cause.PROGRAM_ERROR]
    assert len(wrongly) / len(healthy) <= 0.1, wrongly


def test_a_winter_cold_snap_is_explained_as_weather(
    utility: SimulatedUtility, sessions: Any
) -> None:
    faulted = _faulted(utility.truth)
    snap = BillingPeriod(SNAP.first_day, SNAP.first_day + dt.timedelta(days=SNAP.days - 1))
    means = {
        name: float(utility.weather.filter(p.contains())["temperature_c"].to_numpy().mean())
        for name, p in (("january", CURRENT), ("december", DECEMBER), ("snap", snap))
    }
    assert means["snap"] < means["january"] - 5, "the snap is in the weather file the test reads"
    assert means["january"] < means["december"] - 3, "the snap makes January's bill period colder"
    high_bills: dict[str, Any] = {}
    for account in _accounts(sessions, "RS", limit=150):
        result = _explain(utility, sessions, account, current=CURRENT, previous=DECEMBER)
        c = result.comparison
        if result.meters["serial_number"][-1] in faulted or c.previous.actual_kwh <= 0:
            continue
        if c.current.actual_kwh >= 1.2 * c.previous.actual_kwh:  # a high bill
            high_bills[account] = result
    assert len(high_bills) >= 20
    weather = [a for a, r in high_bills.items() if r.verdict.cause is Cause.WEATHER]
    assert len(weather) / len(high_bills) >= 0.9, {
        a: (r.verdict.cause, r.verdict.summary) for a, r in high_bills.items() if a not in weather
    }
    # the letter says it in plain words
    sentences = " ".join(high_bills[weather[0]].sentences())
    assert "Your heating used about" in sentences
    assert "degrees colder on average" in sentences


def test_the_letter_of_a_simulated_account_is_one_page(
    utility: SimulatedUtility, sessions: Any, tmp_path: Path
) -> None:
    import pypdfium2 as pdfium

    from meterops.billing.letter import render_pdf

    account = _accounts(sessions, "RS")[0]
    result = _explain(utility, sessions, account)
    content = result.letter(today=dt.date(2027, 2, 3))
    pdf = pdfium.PdfDocument(render_pdf(content))
    assert len(pdf) == 1
    text = pdf[0].get_textpage().get_text_range()
    pdf.close()
    assert "About your electricity bill" in text
    assert content.sentences[0].replace("–", "-")[:40] in text.replace("\r\n", " ").replace(
        "\n", " "
    )


def _cli(utility: SimulatedUtility, monkeypatch: pytest.MonkeyPatch) -> Any:
    import typer

    from meterops.billing import cli as billing_cli
    from meterops.cli import context

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test root."""

    app.add_typer(billing_cli.app, name="highbill")
    monkeypatch.setenv("METEROPS_DATABASE_URL", utility.database_url)
    monkeypatch.setenv("METEROPS_READS_URI", utility.reads_uri)
    monkeypatch.setenv("METEROPS_DATA_DIR", str(utility.data_dir))
    monkeypatch.setenv("METEROPS_UTILITY_TIMEZONE", "America/Chicago")
    monkeypatch.setenv("COLUMNS", "200")
    context.settings.cache_clear()
    context.engine.cache_clear()
    return app


def test_cli_explain_writes_the_letter(
    utility: SimulatedUtility, sessions: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from meterops.cli import context

    account = _accounts(sessions, "RS")[0]
    app = _cli(utility, monkeypatch)
    out, html = tmp_path / "letter.pdf", tmp_path / "letter.html"
    args = [
        "highbill",
        "explain",
        account,
        "--from",
        "2027-01-01",
        "--to",
        "2027-01-30",
        "--compare-from",
        "2026-11-09",
        "--compare-to",
        "2026-12-08",
        "--out",
        str(out),
        "--html",
        str(html),
    ]
    try:
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "billing.tou_program" in result.output
        assert out.read_bytes().startswith(b"%PDF")
        page = html.read_text(encoding="utf-8")
        assert "<svg" in page
        assert "Your bill for Jan 1" in page
        as_json = CliRunner().invoke(app, [*args[:11], "--json"])
        assert as_json.exit_code == 0, as_json.output
        assert '"cause"' in as_json.output
        bad = CliRunner().invoke(app, [*args[:7], "--compare-from", "2026-11-09"])
        assert bad.exit_code != 0
    finally:
        context.settings.cache_clear()
        context.engine.cache_clear()


def test_api_and_pages(utility: SimulatedUtility, sessions: Any) -> None:
    from fastapi.testclient import TestClient

    from meterops.billing import api as billing_api
    from meterops.billing import pages as billing_pages
    from meterops.config import Settings
    from meterops.web.app import create_app

    settings = Settings(
        database_url=utility.database_url,
        reads_uri=utility.reads_uri,
        data_dir=utility.data_dir,
        cookie_secure=False,
    )
    app = create_app(settings)
    app.include_router(billing_api.router, prefix="/api/v1")
    app.include_router(billing_pages.router)
    account = _accounts(sessions, "RS")[0]
    period = "from=2027-01-01&to=2027-01-30&compare_from=2026-11-09&compare_to=2026-12-08"
    with TestClient(app) as client:
        signed_in(client, create_web_user(utility.database_url, "bill-supervisor"))
        body = client.get(f"/api/v1/accounts/{account}/high-bill?{period}").json()
        assert body["account_number"] == account
        assert {f["code"] for f in body["findings"]} >= {"billing.estimation", "billing.multiplier"}
        parts = body["comparison"]
        total = parts["days_kwh"] + parts["weather_kwh"] + parts["use_kwh"]
        assert total == pytest.approx(parts["change_kwh"], abs=0.01)
        assert not {"customer_name", "address"} & set(body)  # PII stays in the letter
        missing = client.get(f"/api/v1/accounts/NOPE/high-bill?{period}")
        assert missing.status_code == 403  # refused like another territory's (no probing)
        half = client.get(
            f"/api/v1/accounts/{account}/high-bill?from=2027-01-01&to=2027-01-30"
            "&compare_from=2026-11-09"
        )
        assert half.status_code == 422
        page = client.get(f"/high-bill?account={account}&{period}")
        assert page.status_code == 200
        assert "Verdict" in page.text
        letter = client.get(f"/high-bill/letter?account={account}&{period}")
        assert letter.status_code == 200
        assert "/static/billing/letter.css" in letter.text
        pdf = client.get(f"/api/v1/accounts/{account}/high-bill/letter.pdf?{period}")
        assert pdf.content.startswith(b"%PDF")
