"""High-bill investigation of one account: load, compare, check, decide, write the letter.

Reads the account and its meters from the database (``repository``), the interval reads from
the read store, the territory's weather file, and runs the pure core. The TOU check calls the
determinants service (register comparison over the current period). Never commits.

Must not import ``meterops.web``, ``cli`` or ``config``: settings arrive as arguments.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy.orm import Session

from meterops.billing.checks import (
    CheckParams,
    Finding,
    Status,
    check_accuracy_test,
    check_crossed_meters,
    check_estimation,
    check_multiplier,
    check_tou_program,
)
from meterops.billing.compare import BillingPeriod, PeriodComparison, compare_periods
from meterops.billing.letter import LetterContent, Unit, chart_points, letter_sentences
from meterops.billing.normalize import NormalizeParams, fit_weather_model
from meterops.billing.repository import AccountFacts, BillingRepository
from meterops.billing.usage import OUTAGE_MASK, EvParams, daily_usage
from meterops.billing.verdict import Verdict, decide
from meterops.billing.weather import c_to_f, parse_weather_csv
from meterops.errors import InvalidInputError, MeterOpsError, NotFoundError
from meterops.reads.store import ReadStore, Table
from meterops.timeutil import local_day_bounds_utc

__all__ = [
    "POWER_LOSS_EVENTS",
    "Investigation",
    "InvestigationOptions",
    "default_previous",
    "explain_account",
    "investigate",
    "load_weather",
    "weather_path",
]

_CHANNELS = ("kwh_delivered", "kwh_received")
POWER_LOSS_EVENTS = frozenset({"3.26.0.47", "3.26.0.85", "3.26.136.47"})
"""CIM end-device events of a power loss: power loss, power failed, last gasp."""


@dataclass(frozen=True, slots=True)
class InvestigationOptions:
    """Parameters of an investigation.

    Attributes:
        history_days: Days before the current period used to fit the weather model. [d]
        min_day_completeness: A day joins the model fit with at least this share of its
            intervals. [-]
        tou_check: Compare the TOU registers with the intervals (determinants).
        normalize: Weather-model parameters.
        checks: Check thresholds.
        ev: EV detection parameters.
    """

    history_days: int = 365
    min_day_completeness: float = 0.9
    tou_check: bool = True
    normalize: NormalizeParams = field(default_factory=NormalizeParams)
    checks: CheckParams = field(default_factory=CheckParams)
    ev: EvParams = field(default_factory=EvParams)


@dataclass(frozen=True, slots=True)
class Investigation:
    """The result of an investigation.

    Attributes:
        account: The account's facts.
        meters: Its meters over the window (``ACCOUNT_METERS`` + ``pt_ratio``,
            ``program_code``).
        daily: Daily use (``DAILY_USE``) with ``temperature_c`` over the window.
        comparison: The two periods compared.
        findings: The checks.
        verdict: The verdict.
    """

    account: AccountFacts
    meters: pl.DataFrame
    daily: pl.DataFrame
    comparison: PeriodComparison
    findings: tuple[Finding, ...]
    verdict: Verdict

    def as_dict(self) -> dict[str, Any]:
        """The technician's evidence as JSON (ids and figures; no name or address)."""
        return {
            "account_number": self.account.account_number,
            "rate_code": self.account.rate_code,
            "territory_code": self.account.territory_code,
            "meters": [
                {
                    "serial_number": r["serial_number"],
                    "multiplier": r["multiplier"],
                    "program_code": r["program_code"],
                    "installed_from_utc": r["installed_from_utc"].isoformat(),
                    "installed_to_utc": r["installed_to_utc"].isoformat()
                    if r["installed_to_utc"]
                    else None,
                }
                for r in self.meters.iter_rows(named=True)
            ],
            "verdict": self.verdict.as_dict(),
            "comparison": self.comparison.as_dict(),
            "findings": [f.as_dict() for f in self.findings],
        }

    def sentences(self, *, unit: Unit = "F") -> list[str]:
        """The letter's sentences."""
        return letter_sentences(self.comparison, self.verdict, unit=unit)

    def letter(self, *, today: dt.date, unit: Unit = "F") -> LetterContent:
        """What the customer letter shows.

        Args:
            today: Date of the letter.
            unit: Temperature unit.
        """
        c = self.comparison
        points, temperature_range, top = chart_points(self.daily, c, unit=unit)

        def temp(value_c: float) -> str:
            shown = c_to_f(value_c) if unit == "F" else value_c
            return f"{shown:.0f} °{unit}"

        p_sum, c_sum = c.previous, c.current
        rows: list[tuple[str, str, str]] = [
            ("Days", str(p_sum.period.days), str(c_sum.period.days)),
            ("Energy used", f"{p_sum.actual_kwh:,.0f} kWh", f"{c_sum.actual_kwh:,.0f} kWh"),
            (
                "Average per day",
                f"{p_sum.actual_kwh / p_sum.period.days:.1f} kWh",
                f"{c_sum.actual_kwh / c_sum.period.days:.1f} kWh",
            ),
            ("Average temperature", temp(p_sum.mean_temperature_c), temp(c_sum.mean_temperature_c)),
            (
                "Expected for the weather",
                f"{p_sum.expected_kwh:,.0f} kWh",
                f"{c_sum.expected_kwh:,.0f} kWh",
            ),
        ]
        if p_sum.ev_kwh or c_sum.ev_kwh:
            rows.append(("EV charging", f"{p_sum.ev_kwh:,.0f} kWh", f"{c_sum.ev_kwh:,.0f} kWh"))
        if p_sum.received_kwh or c_sum.received_kwh:
            rows.append(
                (
                    "Sent to the grid",
                    f"{p_sum.received_kwh:,.0f} kWh",
                    f"{c_sum.received_kwh:,.0f} kWh",
                )
            )
        return LetterContent(
            title="About your electricity bill",
            greeting=f"Dear {self.account.customer_name},",
            address=self.account.address,
            account_number=self.account.account_number,
            date_line=f"{today:%B} {today.day}, {today.year}",
            sentences=tuple(self.sentences(unit=unit)),
            points=points,
            temperature_range=temperature_range,
            energy_max_kwh=top,
            unit=unit,
            previous_label=p_sum.period.label(),
            current_label=c_sum.period.label(),
            table=tuple(rows),
        )


def weather_path(weather_dir: Path, territory_code: str) -> Path:
    """Where a territory's weather file lives: ``<weather_dir>/<territory code>.csv``."""
    return weather_dir / f"{territory_code}.csv"


def load_weather(path: Path) -> pl.DataFrame:
    """Read a weather file (``DAILY_TEMPERATURE``).

    Raises:
        NotFoundError: No such file.
        ValidationReportError: Bad rows.
    """
    if not path.is_file():
        msg = (
            f"no weather file at {path}; import one with "
            "'meterops highbill weather-import FILE --territory CODE' or pass --weather"
        )
        raise NotFoundError(msg, code="billing.weather_not_found", details={"path": str(path)})
    return parse_weather_csv(path.read_bytes(), file=path.name)


def default_previous(current: BillingPeriod) -> BillingPeriod:
    """The same days one year earlier (29 February falls back to the 28th)."""

    def back(day: dt.date) -> dt.date:
        try:
            return day.replace(year=day.year - 1)
        except ValueError:
            return day.replace(year=day.year - 1, day=28)

    return BillingPeriod(back(current.first_day), back(current.last_day))


def _tou_finding(
    session: Session, store: ReadStore, *, serial: str, period: BillingPeriod, zone: ZoneInfo
) -> Finding:
    from meterops.determinants import service as determinants_service

    try:
        report = determinants_service.register_check(
            session,
            store,
            first_day=period.first_day,
            last_day=period.last_day,
            zone=zone,
            serial=serial,
        )
    except MeterOpsError as error:
        return Finding("billing.tou_program", Status.NOT_CHECKED, f"not compared: {error.message}")
    rows = report.summary.filter(pl.col("serial_number") == serial)
    if rows.is_empty():
        return check_tou_program(None)
    row = rows.row(0, named=True)
    return check_tou_program(row, sentence=row.get("summary"))


def _crossed_finding(
    store: ReadStore,
    repo: BillingRepository,
    facts: AccountFacts,
    *,
    meter_ids: list[int],
    start_utc: dt.datetime,
    end_utc: dt.datetime,
    params: CheckParams,
) -> Finding:
    if facts.transformer_id is None:
        return Finding("billing.crossed_meters", Status.NOT_CHECKED, "no transformer on record")
    neighbours = repo.neighbour_meter_ids(
        facts.transformer_id,
        service_point_id=facts.service_point_id,
        start_utc=start_utc,
        end_utc=end_utc,
    )
    ids = [*meter_ids, *neighbours]
    reads = store.current_interval_reads(
        start_utc=start_utc, end_utc=end_utc, meter_ids=ids, channels=["kwh_delivered"]
    )
    hour = pl.col("interval_start_utc").dt.truncate("1h")
    flagged = reads.filter((pl.col("quality_flags") & OUTAGE_MASK) != 0).select("meter_id", hour)
    events = store.records(Table.EVENTS, start_utc=start_utc, end_utc=end_utc, ids=ids)
    lost = events.filter(pl.col("cim_event_type").is_in(sorted(POWER_LOSS_EVENTS))).select(
        "meter_id", interval_start_utc=pl.col("event_time_utc").dt.truncate("1h")
    )
    outages = pl.concat([flagged, lost]).unique()
    mine = outages.filter(pl.col("meter_id").is_in(meter_ids)).select("interval_start_utc")
    theirs = outages.filter(pl.col("meter_id").is_in(neighbours)).select(
        "meter_id", "interval_start_utc"
    )
    reporting = reads.filter(pl.col("meter_id").is_in(neighbours))["meter_id"].n_unique()
    return check_crossed_meters(
        meter_outages=mine, neighbour_outages=theirs, neighbours=reporting, params=params
    )


def investigate(
    session: Session,
    store: ReadStore,
    *,
    account_number: str,
    current: BillingPeriod,
    previous: BillingPeriod | None = None,
    zone: ZoneInfo,
    weather: pl.DataFrame,
    options: InvestigationOptions | None = None,
) -> Investigation:
    """Investigate a high bill: what changed between two periods, and why.

    Args:
        session: Database session.
        store: The read store.
        account_number: The account.
        current: The period complained about.
        previous: The period to compare with (default: the same days a year earlier).
        zone: The utility's zone (local days).
        weather: Daily temperature of the territory (``DAILY_TEMPERATURE``).
        options: Parameters.

    Returns:
        The investigation.

    Raises:
        NotFoundError: Unknown account, or no meter at its service point.
        InvalidInputError: Periods overlap or the previous one is not before the current one;
            too little data for the weather model.
    """
    options = options or InvestigationOptions()
    previous = previous or default_previous(current)
    if previous.last_day >= current.first_day:
        msg = (
            f"the comparison period ({previous.label()}) must end before the current period "
            f"({current.label()}) starts"
        )
        raise InvalidInputError(msg, code="billing.periods_overlap")
    repo = BillingRepository(session)
    facts = repo.account(account_number)
    first = max(
        min(previous.first_day, current.first_day - dt.timedelta(days=options.history_days)),
        facts.move_in_date,
    )
    start_utc = local_day_bounds_utc(first, zone)[0]
    end_utc = local_day_bounds_utc(current.last_day, zone)[1]
    meters = repo.meters(facts.service_point_id, start_utc=start_utc, end_utc=end_utc)
    if meters.is_empty():
        msg = (
            f"account {account_number} has no meter installed between {first} "
            f"and {current.last_day}"
        )
        raise NotFoundError(msg, code="billing.no_meter")
    meter_ids = meters["meter_id"].to_list()
    reads = store.current_interval_reads(
        start_utc=start_utc, end_utc=end_utc, meter_ids=meter_ids, channels=list(_CHANNELS)
    )
    daily = daily_usage(
        reads.select(
            "meter_id", "channel", "interval_start_utc", "interval_s", "value", "quality_flags"
        ),
        meters=meters.select(
            "meter_id", "serial_number", "multiplier", "installed_from_utc", "installed_to_utc"
        ),
        zone=zone.key,
        first_day=first,
        last_day=current.last_day,
        ev=options.ev,
    ).join(weather.select("day", "temperature_c"), on="day", how="left")
    complete = pl.col("intervals") >= options.min_day_completeness * pl.col("expected_intervals")
    daily = daily.with_columns(
        energy_kwh=pl.when(complete).then(pl.col("delivered_kwh")),
        delivered_kwh=pl.when(pl.col("intervals") > 0).then(pl.col("delivered_kwh")),
    )
    reference = daily.filter(pl.col("day") < current.first_day)
    model = fit_weather_model(reference, params=options.normalize)
    comparison = compare_periods(daily, current=current, previous=previous, model=model)

    cur_start, cur_end = local_day_bounds_utc(current.first_day, zone)[0], end_utc
    prev_start = local_day_bounds_utc(previous.first_day, zone)[0]
    prev_end = local_day_bounds_utc(previous.last_day, zone)[1]

    def in_window(a: dt.datetime, b: dt.datetime) -> pl.DataFrame:
        return meters.filter(
            (pl.col("installed_from_utc") < b)
            & (pl.col("installed_to_utc").is_null() | (pl.col("installed_to_utc") > a))
        )

    now_meters, then_meters = in_window(cur_start, cur_end), in_window(prev_start, prev_end)
    c_sum = comparison.current
    findings: list[Finding] = [
        check_estimation(
            estimated_intervals=c_sum.estimated_intervals,
            missing_intervals=max(c_sum.expected_intervals - c_sum.intervals, 0),
            expected_intervals=c_sum.expected_intervals,
            params=options.checks,
        )
    ]
    if options.tou_check and now_meters.height:
        findings.append(
            _tou_finding(
                session, store, serial=now_meters["serial_number"][-1], period=current, zone=zone
            )
        )
    if now_meters.height:
        last = now_meters.row(now_meters.height - 1, named=True)
        findings.append(
            check_multiplier(
                current_multiplier=last["multiplier"],
                previous_multiplier=then_meters["multiplier"][-1] if then_meters.height else None,
                pt_ratio=last["pt_ratio"],
                peak_kw=c_sum.peak_kw,
                transformer_kva=facts.transformer_kva,
                params=options.checks,
            )
        )
    findings.append(
        _crossed_finding(
            store,
            repo,
            facts,
            meter_ids=meter_ids,
            start_utc=prev_start,
            end_utc=end_utc,
            params=options.checks,
        )
    )
    findings.append(
        check_accuracy_test(
            repo.accuracy_tests(now_meters["meter_id"].to_list()), params=options.checks
        )
    )
    return Investigation(
        account=facts,
        meters=meters,
        daily=daily,
        comparison=comparison,
        findings=tuple(findings),
        verdict=decide(comparison, findings),
    )


def explain_account(
    session: Session,
    store: ReadStore,
    *,
    account_number: str,
    current: BillingPeriod,
    previous: BillingPeriod | None = None,
    zone: ZoneInfo,
    weather_dir: Path,
    weather_file: Path | None = None,
    options: InvestigationOptions | None = None,
) -> Investigation:
    """:func:`investigate` with the territory's weather file from ``weather_dir``.

    Args:
        session: Database session.
        store: The read store.
        account_number: The account.
        current: The period complained about.
        previous: The period to compare with (default: a year earlier).
        zone: The utility's zone.
        weather_dir: Folder of ``<territory code>.csv`` weather files.
        weather_file: A weather file to use instead.
        options: Parameters.

    Raises:
        NotFoundError: Unknown account or no weather file.
    """
    facts = BillingRepository(session).account(account_number)
    path = weather_file or weather_path(weather_dir, facts.territory_code)
    return investigate(
        session,
        store,
        account_number=account_number,
        current=current,
        previous=previous,
        zone=zone,
        weather=load_weather(path),
        options=options,
    )
