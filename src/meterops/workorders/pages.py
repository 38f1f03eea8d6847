"""HTML pages of the work-order capability: the board by status and an order's page.

Thin views over :mod:`meterops.workorders.service` (the same functions as the JSON API).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from meterops.web.deps import SessionDep, SettingsDep
from meterops.workorders import schemas
from meterops.workorders import service as workorders_service

__all__ = ["board_page", "order_page", "router"]

router = APIRouter(include_in_schema=False)


def _render(request: Request, template: str, **context: object) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, template, context
    )


@router.get("/orders", response_class=HTMLResponse)
def board_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    territory: Annotated[str | None, Query(max_length=32)] = None,
    date: Annotated[dt.date | None, Query()] = None,
) -> HTMLResponse:
    """The dispatcher's board: orders by status, most urgent first in each column."""
    filters = schemas.OrderFilter(territory_code=territory or None, scheduled_date=date, limit=2000)
    return _render(
        request,
        "workorders/board.html",
        board=workorders_service.board(session, filters),
        territory=territory or "",
        date=date,
        zone=settings.zone,
    )


@router.get("/orders/{order_number}", response_class=HTMLResponse)
def order_page(
    request: Request, order_number: str, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """An order: what, where, when, why (evidence, last ping) and its history."""
    return _render(
        request,
        "workorders/order.html",
        order=workorders_service.read_order(session, order_number),
        history=workorders_service.history(session, order_number),
        zone=settings.zone,
    )
