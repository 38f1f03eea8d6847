"""HTML pages of the meter_shop capability: thin views over its services."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from meterops.errors import NotFoundError
from meterops.meter_shop import service as shop_service
from meterops.meter_shop.schemas import LotRead
from meterops.web.deps import SessionDep

router = APIRouter(include_in_schema=False)

BADGES = {
    "pass": "status-installed",
    "accept": "status-installed",
    "incomplete": "status-in_shop",
    "fail_class": "status-in_shop",
}
"""CSS class of a verdict or decision badge (failures and rejections: ``status-retired``)."""


def _render(request: Request, template: str, **context: object) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, template, {"badges": BADGES, **context}
    )


@router.get("/meter-shop", response_class=HTMLResponse)
def meter_shop(
    request: Request,
    session: SessionDep,
    year: Annotated[int | None, Query(ge=1990, le=2200)] = None,
) -> HTMLResponse:
    """In-service testing lots of a programme year and a meter's tests."""
    lots: list[LotRead] = []
    try:
        lots = shop_service.list_lots(session, year=year)
    except NotFoundError:
        lots = []
    shown_year = lots[0].programme_year if lots else year
    return _render(request, "meter_shop/index.html", lots=lots, year=shown_year)


@router.get("/meter-shop/tests", response_class=HTMLResponse)
def meter_tests(
    request: Request,
    session: SessionDep,
    serial: Annotated[str, Query(max_length=32)] = "",
) -> HTMLResponse:
    """A meter's accuracy tests (a fragment when HTMX asks for it)."""
    tests = shop_service.list_tests(session, serial.strip()) if serial.strip() else []
    template = (
        "meter_shop/_tests.html" if request.headers.get("HX-Request") else "meter_shop/tests.html"
    )
    return _render(request, template, tests=tests, serial=serial.strip())
