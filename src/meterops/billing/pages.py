"""HTML pages of high-bill investigations: the technician view and the customer letter."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from meterops.billing import service as billing_service
from meterops.billing.api import periods
from meterops.billing.letter_html import letter_context
from meterops.reads.store import ReadStore
from meterops.timeutil import utc_now
from meterops.web.deps import SessionDep, SettingsDep

router = APIRouter(include_in_schema=False)

DateQuery = Annotated[dt.date | None, Query()]


@router.get("/high-bill", response_class=HTMLResponse)
def high_bill(  # noqa: PLR0917 - FastAPI passes parameters by keyword
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    account: Annotated[str, Query(max_length=32)] = "",
    first: Annotated[dt.date | None, Query(alias="from")] = None,
    last: Annotated[dt.date | None, Query(alias="to")] = None,
    compare_from: DateQuery = None,
    compare_to: DateQuery = None,
) -> HTMLResponse:
    """The technician view: the form, then the verdict and its evidence."""
    result = None
    dates = {"from": first, "to": last, "compare_from": compare_from, "compare_to": compare_to}
    period_query = urlencode({k: v.isoformat() for k, v in dates.items() if v is not None})
    if account.strip() and first and last:
        current, previous = periods(first, last, compare_from, compare_to)
        result = billing_service.explain_account(
            session,
            ReadStore(settings.reads_uri),
            account_number=account.strip(),
            current=current,
            previous=previous,
            zone=settings.zone,
            weather_dir=settings.data_dir / "weather",
        )
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request,
        "billing/index.html",
        {
            "result": result,
            "account": account.strip(),
            "first": first,
            "last": last,
            "compare_from": compare_from,
            "compare_to": compare_to,
            "period_query": period_query,
            "letter_query": urlencode({"account": account.strip()}) + "&" + period_query,
        },
    )


@router.get("/high-bill/letter", response_class=HTMLResponse)
def high_bill_letter(  # noqa: PLR0917 - FastAPI passes parameters by keyword
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    account: Annotated[str, Query(min_length=1, max_length=32)],
    first: Annotated[dt.date, Query(alias="from")],
    last: Annotated[dt.date, Query(alias="to")],
    compare_from: DateQuery = None,
    compare_to: DateQuery = None,
) -> HTMLResponse:
    """The customer letter as a page (print it, or fetch the PDF from the API)."""
    current, previous = periods(first, last, compare_from, compare_to)
    result = billing_service.explain_account(
        session,
        ReadStore(settings.reads_uri),
        account_number=account.strip(),
        current=current,
        previous=previous,
        zone=settings.zone,
        weather_dir=settings.data_dir / "weather",
    )
    content = result.letter(today=utc_now().astimezone(settings.zone).date())
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, "billing/letter.html", {"inline_css": None, **letter_context(content)}
    )
