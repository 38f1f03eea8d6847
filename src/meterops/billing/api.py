"""JSON API of high-bill investigations (mounted under ``/api/v1``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from meterops.billing import service as billing_service
from meterops.billing.compare import BillingPeriod
from meterops.billing.letter import render_pdf
from meterops.errors import InvalidInputError
from meterops.reads.store import ReadStore
from meterops.timeutil import utc_now
from meterops.web.deps import SessionDep, SettingsDep
from meterops.web.errors import ERROR_RESPONSES

__all__ = ["explain_high_bill", "high_bill_letter_pdf", "periods", "router"]

router = APIRouter(tags=["high bill"], responses=ERROR_RESPONSES)

FromQuery = Annotated[dt.date, Query(alias="from", description="First day of the bill.")]
ToQuery = Annotated[dt.date, Query(alias="to", description="Last day of the bill (included).")]
CompareQuery = Annotated[
    dt.date | None, Query(description="Period to compare with (default: a year before).")
]


def periods(
    first: dt.date, last: dt.date, compare_from: dt.date | None, compare_to: dt.date | None
) -> tuple[BillingPeriod, BillingPeriod | None]:
    """The current and the comparison period from query values.

    Raises:
        InvalidInputError: Only one end of the comparison period given.
    """
    if (compare_from is None) != (compare_to is None):
        msg = "give both compare_from and compare_to, or neither"
        raise InvalidInputError(msg, code="billing.half_period")
    previous = (
        BillingPeriod(compare_from, compare_to)
        if compare_from is not None and compare_to is not None
        else None
    )
    return BillingPeriod(first, last), previous


def _explain(
    session: SessionDep,
    settings: SettingsDep,
    account: str,
    current: BillingPeriod,
    previous: BillingPeriod | None,
) -> billing_service.Investigation:
    return billing_service.explain_account(
        session,
        ReadStore(settings.reads_uri),
        account_number=account,
        current=current,
        previous=previous,
        zone=settings.zone,
        weather_dir=settings.data_dir / "weather",
    )


@router.get("/accounts/{account}/high-bill")
def explain_high_bill(  # noqa: PLR0917 - FastAPI passes parameters by keyword
    session: SessionDep,
    settings: SettingsDep,
    account: str,
    first: FromQuery,
    last: ToQuery,
    compare_from: CompareQuery = None,
    compare_to: CompareQuery = None,
) -> dict[str, Any]:
    """Why an account's bill changed: verdict, checks, comparison and the letter's sentences."""
    current, previous = periods(first, last, compare_from, compare_to)
    result = _explain(session, settings, account, current, previous)
    return {**result.as_dict(), "letter_sentences": result.sentences()}


@router.get("/accounts/{account}/high-bill/letter.pdf", response_class=Response)
def high_bill_letter_pdf(  # noqa: PLR0917 - FastAPI passes parameters by keyword
    session: SessionDep,
    settings: SettingsDep,
    account: str,
    first: FromQuery,
    last: ToQuery,
    compare_from: CompareQuery = None,
    compare_to: CompareQuery = None,
) -> Response:
    """The customer letter as a one-page PDF."""
    current, previous = periods(first, last, compare_from, compare_to)
    result = _explain(session, settings, account, current, previous)
    today = utc_now().astimezone(settings.zone).date()
    return Response(
        render_pdf(result.letter(today=today)),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="high-bill-{account}.pdf"'},
    )
