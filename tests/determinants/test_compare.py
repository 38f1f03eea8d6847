"""Register comparison on hand-built registers: agreement, a wrong program, rollover, gaps."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from meterops.assets.programs import TouSchedule, parse_tou_schedule
from meterops.determinants.compare import CompareParams, check_registers
from meterops.determinants.engine import DeterminantParams
from meterops.determinants.frames import REGISTER_SPECS
from meterops.reads.schema import UTC_DATETIME
from tests.determinants.frames import ZONE, local, reads, tou_of

_OFF = [["00:00", "off"]]


def _schedule(shoulder_end: str) -> TouSchedule:
    weekday = [
        ["00:00", "off"],
        ["07:00", "mid"],
        ["14:00", "on"],
        ["19:00", "mid"],
        [shoulder_end, "off"],
    ]
    if shoulder_end == "19:00":  # no evening shoulder: on-peak runs to 21:00
        weekday = [["00:00", "off"], ["07:00", "mid"], ["14:00", "on"], ["21:00", "off"]]
    return parse_tou_schedule(
        {
            "seasons": [{"name": "all", "start": "01-01", "end": "12-31"}],
            "periods": {"all": {"weekday": weekday, "weekend": _OFF, "holiday": _OFF}},
        }
    )


TARIFF = _schedule("21:00")
WRONG = _schedule("19:00")
SCHEDULES = {"TARIFF": TARIFF, "PROG-OK": TARIFF, "PROG-B": WRONG}
START, END = local(2024, 7, 1), local(2024, 7, 4)  # Monday to Thursday


def _registers(
    meter_id: int, frame: pl.DataFrame, schedule: TouSchedule, first: float, digits: int = 5
) -> pl.DataFrame:
    """Midnight TOU dial reads that accumulate ``frame`` under ``schedule`` (whole kWh)."""
    rows = []
    totals = {"off": first, "mid": first, "on": first}
    day = START
    while day <= END:
        for tier, value in totals.items():
            rows.append((meter_id, "kwh_delivered", day, float(int(value) % 10**digits), tier))
        nxt = day + dt.timedelta(days=1)
        for t, v in (
            frame.filter(pl.col("interval_start_utc").is_between(day, nxt, closed="left"))
            .select("interval_start_utc", "value")
            .iter_rows()
        ):
            totals[tou_of(t, schedule)] += v
        day = nxt
    return pl.DataFrame(
        rows,
        schema={
            "meter_id": pl.Int64,
            "channel": pl.String,
            "read_time_utc": UTC_DATETIME,
            "value": pl.Float64,
            "tou_period": pl.String,
        },
        orient="row",
    )


def _specs(*rows: tuple[int, str, str | None]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "meter_id": m,
                "tariff_schedule_key": t,
                "program_schedule_key": p,
                "register_digits": 5,
                "register_decimals": 0,
            }
            for m, t, p in rows
        ],
        schema=REGISTER_SPECS.schema,
    )


def test_a_wrong_program_is_an_allocation_shift_and_its_schedule_is_named() -> None:
    load = [0.3 + 0.2 * ((i // 4) % 24 in range(17, 22)) for i in range(3 * 96)]
    good, bad, rolled = (reads(m, START, load) for m in (1, 2, 3))
    registers = pl.concat(
        [
            _registers(1, good, TARIFF, 1000.0),
            _registers(2, bad, WRONG, 2000.0),
            _registers(3, rolled, TARIFF, 99_990.0),  # every dial rolls over 99999 -> 0
        ]
    )
    report = check_registers(
        pl.concat([good, bad, rolled]),
        registers,
        _specs((1, "TARIFF", "PROG-OK"), (2, "TARIFF", "PROG-B"), (3, "TARIFF", None)),
        schedules=SCHEDULES,
        params=DeterminantParams(zone=ZONE),
        start_utc=START,
        end_utc=END,
    )
    summary = {r["meter_id"]: r for r in report.summary.iter_rows(named=True)}
    assert summary[1]["status"] == "match"
    assert summary[1]["best_schedule_key"] == "TARIFF"  # ties prefer the tariff
    assert summary[3]["status"] == "match"  # rollover undone
    bad_row = summary[2]
    assert bad_row["status"] == "allocation_shift"
    assert bad_row["best_schedule_key"] == "PROG-B"
    assert bad_row["worst_tou_period"] in {"on", "mid"}
    assert report.reported["meter_id"].to_list() == [2]
    cmp = {
        r["tou_period"]: r
        for r in report.comparison.filter(pl.col("meter_id") == 2).iter_rows(named=True)
    }
    # 19:00-21:00 on three weekdays: 8 quarters x 0.5 kWh x 3 days = 12 kWh moved mid -> on
    assert cmp["on"]["status"] == "over_registered"
    assert cmp["mid"]["status"] == "under_registered"
    assert cmp["on"]["difference_kwh"] == pytest.approx(12.0, abs=1.0)
    assert cmp["mid"]["difference_kwh"] == pytest.approx(-12.0, abs=1.0)
    assert cmp["off"]["status"] == "match"


def test_gaps_and_missing_registers_are_not_judged() -> None:
    load = [0.5] * (3 * 96)
    full = reads(1, START, load)
    gappy = reads(2, START, load).filter(pl.int_range(pl.len()) % 10 != 0)
    registers = pl.concat([_registers(1, full, WRONG, 10.0), _registers(2, full, WRONG, 10.0)])
    report = check_registers(
        pl.concat([full, gappy]),
        registers,
        _specs((1, "TARIFF", None), (2, "TARIFF", None), (3, "TARIFF", None)),
        schedules=SCHEDULES,
        params=DeterminantParams(zone=ZONE),
        start_utc=START,
        end_utc=END,
        compare=CompareParams(min_completeness=0.99),
    )
    status = dict(report.summary.select("meter_id", "status").iter_rows())
    assert status == {1: "allocation_shift", 2: "incomplete", 3: "no_registers"}
