"""The high-bill letter in a real browser and as a rendered PDF page.

A small simulated utility (fleet import, ingest, weather file) is served by the app with the
billing routers; the PDF letter is rendered to PNG with pypdfium2 and checked (one page, not
blank, the expected sentences in its text), and the HTML letter and the technician view are
loaded in Chromium (the ``page`` fixture fails on any console error or CSP violation).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from meterops.billing import api as billing_api
from meterops.billing import pages as billing_pages
from meterops.config import Settings
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.models.accounts import Account
from meterops.web.app import create_app
from tests.billing.utility import FIRST, build_utility
from tests.browser.conftest import serve
from tests.browser.test_dispatcher import sign_in_as
from tests.fixtures.web import PASSWORD, create_web_user, signed_in_httpx

pytestmark = pytest.mark.browser

PERIOD = "from=2027-01-01&to=2027-01-30&compare_from=2026-11-09&compare_to=2026-12-08"


@pytest.fixture(scope="module")
def account(module_database_url: str) -> str:
    engine = make_engine(module_database_url)
    with session_scope(make_session_factory(engine)) as session:
        number = session.scalars(
            select(Account.account_number)
            .where(Account.rate_code == "RS", Account.move_in_date <= FIRST)
            .where(Account.move_out_date.is_(None))
            .order_by(Account.account_number)
        ).first()
    engine.dispose()
    assert number is not None
    return number


@pytest.fixture(scope="module")
def base_url(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("highbill_browser")
    utility = build_utility(module_database_url, folder, seed=3, service_points=150)
    settings = Settings(
        database_url=module_database_url,
        data_dir=utility.data_dir,
        reads_uri=utility.reads_uri,
        cookie_secure=False,
    )
    create_web_user(module_database_url, "highbill-super")
    app = create_app(settings)
    app.include_router(billing_api.router, prefix="/api/v1")
    app.include_router(billing_pages.router)
    with serve(app) as url:
        yield url


def test_the_pdf_letter_renders_to_a_page_with_the_sentences(
    base_url: str, account: str, tmp_path: Path
) -> None:
    import pypdfium2 as pdfium

    pdf_url = f"{base_url}/api/v1/accounts/{account}/high-bill/letter.pdf?{PERIOD}"
    client = signed_in_httpx(base_url, "highbill-super")
    response = client.get(pdf_url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    document = pdfium.PdfDocument(response.content)
    assert len(document) == 1
    page = document[0]
    image = page.render(scale=1.5).to_pil()
    image.save(tmp_path / "letter.png")
    grey = image.convert("L")
    histogram = grey.histogram()
    dark = sum(histogram[:128]) / sum(histogram)
    assert 0.005 < dark < 0.5, "the page is blank or black"
    # the chart's red dots of the current period are drawn
    rgb = np.asarray(image.convert("RGB")).astype(int)
    red = int(((rgb[..., 0] > 150) & (rgb[..., 1] < 90) & (rgb[..., 2] < 90)).sum())
    assert red > 50
    text = " ".join(page.get_textpage().get_text_range().split())
    assert "About your electricity bill" in text
    assert "Your bill for Jan 1 - Jan 30, 2027 is for about" in text
    assert "than in November" in text
    evidence = client.get(f"{base_url}/api/v1/accounts/{account}/high-bill?{PERIOD}")
    for sentence in evidence.json()["letter_sentences"]:
        assert " ".join(sentence.replace("–", "-").split()) in text


def test_the_html_letter_loads_without_console_or_csp_errors(
    page: Any, base_url: str, account: str
) -> None:
    sign_in_as(page, base_url, "highbill-super", PASSWORD, f"/high-bill?account={account}&{PERIOD}")
    page.goto(f"{base_url}/high-bill?account={account}&{PERIOD}")
    assert "Verdict" in page.locator("#verdict h2").inner_text()
    assert page.locator("#checks tbody tr").count() == 5
    page.locator("#letter-link").click()
    page.wait_for_url("**/high-bill/letter?**")
    assert page.locator("h1").inner_text() == "About your electricity bill"
    assert page.locator("svg circle").count() > 50
    assert page.locator("p.sentence").first.inner_text().startswith("Your bill for")
    # the stylesheet applied (no inline style needed)
    width = page.locator("main.letter").evaluate("e => getComputedStyle(e).maxWidth")
    assert width != "none"
