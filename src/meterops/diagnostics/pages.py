"""HTML pages of the diagnostics capability: thin views over its services.

``/diagnostics`` is the exception queue: filter by kind, status, cause, minimum confidence,
territory (one of the user's) and age; HTMX swaps the table, no inline script or style. A bad
filter value is ignored with a visible note (the page still answers). Each row links to
``/diagnostics/exceptions/{id}``, the verdict page: the exception, the verdict and its action,
the evidence as a table, and the meter's charts over the 30 days ending on the exception's
last day (the meter page's panels, shared through :func:`meterops.web.ui.meter_panels.
chart_panels` and the ``meter/`` templates).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Annotated, Final, Literal

import polars as pl
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from meterops.diagnostics import schemas
from meterops.diagnostics import service as diagnostics_service
from meterops.diagnostics.kinds import Cause, ExceptionKind
from meterops.diagnostics.repository import NO_CAUSE
from meterops.timeutil import utc_now
from meterops.web.auth import UserDep
from meterops.web.deps import SessionDep, SettingsDep
from meterops.web.ui.meter_panels import ChartRangeDep

__all__ = [
    "QUEUE_LIMIT",
    "EvidenceRow",
    "QueueFilters",
    "cohorts_page",
    "evidence_rows",
    "exceptions_page",
    "fact_unit",
    "parse_queue_filters",
    "router",
    "verdict_page",
]

router = APIRouter(include_in_schema=False)

QUEUE_LIMIT: Final = 500
"""Rows the queue page shows at most."""

_UNITS: Final = (
    ("_db_per_day", "dB/d"),
    ("_dbm", "dBm"),
    ("_db", "dB"),
    ("_kwh_per_day", "kWh/d"),
    ("_kwh", "kWh"),
    ("_hours", "h"),
    ("_days_ago", "d"),
    ("_days", "d"),
    ("_volts", "V"),
    ("_v", "V"),
    ("_share", "share, 0-1"),
    ("_utc", "UTC"),
)
"""Unit of a fact by the end of its name (the facts' naming convention, docs/diagnostics.md)."""


def fact_unit(name: str) -> str:
    """The unit of a fact or detector field, from its name ('' when the name does not say).

    >>> fact_unit("rssi_dbm"), fact_unit("rssi_change_db"), fact_unit("silent_hours")
    ('dBm', 'dB', 'h')
    >>> fact_unit("rssi_trend_db_per_day"), fact_unit("mode")
    ('dB/d', '')
    """
    if name.startswith("kwh_"):
        return "kWh"
    for suffix, unit in _UNITS:
        if name.endswith(suffix):
            return unit
    return ""


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    """One line of the verdict page's evidence table.

    Attributes:
        source: ``rule`` (a fact the verdict's rule read) or ``detector`` (what the detector
            recorded when it opened or refreshed the exception).
        name: Fact or field name.
        value: Its value as shown.
        unit: Its unit ('' when unknown or none).
        test: The rule's test that held on it (``<= -6.0``), if the rule tested it.
        time_utc: When it held. [UTC]
    """

    source: Literal["rule", "detector"]
    name: str
    value: str
    unit: str
    test: str | None
    time_utc: dt.datetime | None


def evidence_rows(items: tuple[diagnostics_service.EvidenceItem, ...]) -> list[EvidenceRow]:
    """The evidence of an explanation as table rows: the rule's tested facts first."""
    rows = [
        EvidenceRow(
            "detector" if item.name.startswith("detector.") else "rule",
            item.name.removeprefix("detector."),
            item.value,
            fact_unit(item.name),
            item.test,
            item.time_utc,
        )
        for item in items
    ]
    return sorted(rows, key=lambda r: (r.source != "rule", r.test is None))


@dataclass(frozen=True, slots=True)
class QueueFilters:
    """The queue's filters as understood, with notes on the values ignored.

    Attributes:
        kind: Exception kind ('' for all).
        status: ``open`` or ``all``.
        cause: A cause, ``none`` (no cause), or '' for all.
        min_confidence: At least this sure (None: any). [0-1]
        territory: Code of one of the user's territories ('' for all of them).
        min_age_days: Open for at least this many days (None: any). [d]
        notes: One sentence per value ignored.
    """

    kind: str = ""
    status: str = "open"
    cause: str = ""
    min_confidence: float | None = None
    territory: str = ""
    min_age_days: int | None = None
    notes: tuple[str, ...] = ()

    def words(self, territory_names: dict[str, str]) -> list[str]:
        """The active filters in plain words (empty: none beyond the status)."""
        found = []
        if self.kind:
            found.append(f"kind {self.kind.replace('_', ' ')}")
        if self.cause == NO_CAUSE:
            found.append("no cause named")
        elif self.cause:
            found.append(f"cause {self.cause.replace('_', ' ')}")
        if self.min_confidence is not None:
            found.append(f"confidence at least {self.min_confidence * 100:.0f} %")
        if self.territory:
            name = territory_names.get(self.territory, "")
            found.append(f"territory {self.territory}" + (f" ({name})" if name else ""))
        if self.min_age_days is not None:
            days = self.min_age_days
            found.append(f"first seen at least {days} day{'' if days == 1 else 's'} ago")
        return found


def parse_queue_filters(
    *,
    kind: str,
    status: str,
    cause: str,
    confidence: str,
    territory: str,
    age: str,
    territories: set[str],
) -> QueueFilters:
    """The queue page's query values as filters; a bad value is dropped with a note.

    Args:
        kind: An exception kind, or ''.
        status: ``open``, or anything else for open and closed.
        cause: A cause, ``none``, or ''.
        confidence: Minimum confidence as a share (``0.8``) or a percent (``80``, ``80 %``;
            with the sign, ``1 %`` is 0.01).
        territory: A territory code among ``territories``, or ''.
        age: Minimum age in whole days, or ''.
        territories: Codes of the user's territories.

    >>> f = parse_queue_filters(kind="x", status="open", cause="none", confidence="80 %",
    ...     territory="", age="7", territories=set())
    >>> f.kind, f.cause, f.min_confidence, f.min_age_days, f.notes
    ('', 'none', 0.8, 7, ("Kind 'x' is not an exception kind: ignored.",))
    """
    notes: list[str] = []
    if kind and kind not in {k.value for k in ExceptionKind}:
        notes.append(f"Kind {kind!r} is not an exception kind: ignored.")
        kind = ""
    if cause and cause != NO_CAUSE and cause not in {c.value for c in Cause}:
        notes.append(f"Cause {cause!r} is not a cause of the taxonomy: ignored.")
        cause = ""
    share: float | None = None
    text = confidence.strip().removesuffix("%").strip()
    if text:
        try:
            share = float(text)
        except ValueError:
            share = None
        if share is not None and (share > 1 or confidence.strip().endswith("%")):
            share /= 100  # a percent
        if share is None or not 0 <= share <= 1:
            notes.append(
                f"Confidence {confidence!r} is neither a share (0-1) nor a percent: ignored."
            )
            share = None
    if territory and territory not in territories:
        notes.append(f"Territory {territory!r} is not one of yours: ignored.")
        territory = ""
    days: int | None = None
    if age.strip():
        days = int(age) if age.strip().isdigit() else None
        if days is None:
            notes.append(f"Age {age!r} is not a whole number of days: ignored.")
    return QueueFilters(
        kind=kind,
        status="open" if status == "open" else "all",
        cause=cause,
        min_confidence=share,
        territory=territory,
        min_age_days=days,
        notes=tuple(notes),
    )


def _render(request: Request, template: str, **context: object) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, template, context
    )


@router.get("/diagnostics", response_class=HTMLResponse)
def exceptions_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: UserDep,
    *,
    kind: Annotated[str, Query(max_length=32)] = "",
    status: Annotated[str, Query(max_length=8)] = "open",
    cause: Annotated[str, Query(max_length=32)] = "",
    confidence: Annotated[str, Query(max_length=16)] = "",
    territory: Annotated[str, Query(max_length=32)] = "",
    age: Annotated[str, Query(max_length=8)] = "",
) -> HTMLResponse:
    """The exception queue of the user's territories with verdicts, filtered."""
    territories = diagnostics_service.queue_territories(session, user.territory_ids)
    names = dict(territories)
    filters = parse_queue_filters(
        kind=kind,
        status=status,
        cause=cause,
        confidence=confidence,
        territory=territory,
        age=age,
        territories=set(names),
    )
    rows = diagnostics_service.list_exceptions(
        session,
        kind=ExceptionKind(filters.kind) if filters.kind else None,
        open_only=filters.status == "open",
        cause=schemas.cause_filter(filters.cause or None),
        min_confidence=filters.min_confidence,
        min_age_days=filters.min_age_days,
        territory=filters.territory or None,
        limit=QUEUE_LIMIT,
        territory_ids=user.territory_ids,
        as_of_utc=utc_now(),
    )
    exceptions = [schemas.exception_read(row, serial) for row, serial in rows]
    template = (
        "diagnostics/_exceptions.html"
        if request.headers.get("HX-Request")
        else "diagnostics/exceptions.html"
    )
    return _render(
        request,
        template,
        exceptions=exceptions,
        limit=QUEUE_LIMIT,
        kinds=[k.value for k in ExceptionKind],
        causes=[c.value for c in Cause],
        territories=territories,
        filters=filters,
        filter_words=filters.words(names),
        zone=settings.zone,
    )


@router.get("/diagnostics/exceptions/{exception_id}", response_class=HTMLResponse)
def verdict_page(
    request: Request,
    exception_id: int,
    *,
    session: SessionDep,
    settings: SettingsDep,
    charts: ChartRangeDep,
) -> HTMLResponse:
    """One exception: its verdict, action, evidence and the meter's charts.

    The charts cover the ``TREND_DAYS`` local days ending on the exception's last-seen day
    (``from``/``to``/``channel``/``at`` move the interval chart as on the meter page).
    """
    from meterops.web.ui.meter_panels import TREND_DAYS, page_panels
    from meterops.web.ui.neighbours import HIDDEN_REASON

    row, serial = diagnostics_service.get_exception(session, exception_id)
    exception = schemas.exception_read(row, serial)
    explanation = next(
        e for e in diagnostics_service.explain(session, serial) if e.exception_id == row.id
    )
    zone = settings.zone
    last = charts.last_day or row.last_seen_utc.astimezone(zone).date()
    first = charts.first_day or last - dt.timedelta(days=TREND_DAYS - 1)
    reads, panels = page_panels(
        session,
        settings,
        serial=serial,
        charts=replace(charts, first_day=first, last_day=last),
        user=getattr(request.state, "user", None),
        every_panel=False,
    )
    return _render(
        request,
        "diagnostics/verdict.html",
        exception=exception,
        explanation=explanation,
        evidence=evidence_rows(explanation.evidence),
        reads=reads,
        panels=panels,
        neighbours_hidden_reason=HIDDEN_REASON,
        zone=zone,
    )


@router.get("/diagnostics/cohorts", response_class=HTMLResponse)
def cohorts_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    *,
    kind: Annotated[str, Query(max_length=32)] = "",
    cause: Annotated[str, Query(max_length=32)] = "",
) -> HTMLResponse:
    """Cohorts over-represented among the open exceptions (of a kind, of a cause), with bars."""
    from meterops.reads.store import ReadStore
    from meterops.web.ui.cohort_chart import cohort_bars

    chosen_kind = ExceptionKind(kind) if kind in {k.value for k in ExceptionKind} else None
    chosen_cause = Cause(cause) if cause in {c.value for c in Cause} else None
    frame = diagnostics_service.run_cohorts(
        session,
        kind=chosen_kind,
        cause=chosen_cause,
        as_of_day=utc_now().astimezone(settings.zone).date(),
        zone=settings.zone,
        store=ReadStore(settings.reads_uri),
    )
    rows = [schemas.CohortRead(**row) for row in frame.head(200).iter_rows(named=True)]
    return _render(
        request,
        "diagnostics/cohorts.html",
        cohorts=rows,
        chart=cohort_bars(frame.filter(pl.col("significant"))),
        kinds=[k.value for k in ExceptionKind],
        causes=[c.value for c in Cause],
        kind=chosen_kind.value if chosen_kind else "",
        cause=chosen_cause.value if chosen_cause else "",
    )
