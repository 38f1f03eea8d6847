"""Program validation: a program's TOU periods against its tariff's filed definition."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl

from meterops.assets.programs import parse_tou_schedule
from meterops.diagnostics import detect
from meterops.diagnostics.engine import DiagnosticInputs, detect_exceptions
from meterops.diagnostics.facts import meter_facts
from meterops.diagnostics.kinds import ActionKind, Cause, ExceptionKind
from meterops.diagnostics.params import DetectParams
from meterops.diagnostics.programs import compare_schedules, validate_programs
from meterops.diagnostics.rules import diagnose
from tests.diagnostics import frames as f


def _schedule(evening: str) -> object:
    weekday = [
        ["00:00", "off_peak"],
        ["14:00", "on_peak"],
        ["19:00", evening],
        ["21:00", "off_peak"],
    ]
    return parse_tou_schedule(
        {
            "seasons": [{"name": "all", "start": "01-01", "end": "12-31"}],
            "periods": {
                "all": {
                    "weekday": weekday,
                    "weekend": [["00:00", "off_peak"]],
                    "holiday": [["00:00", "off_peak"]],
                }
            },
            "holidays": {"calendar": None, "subdivision": None, "extra_dates": []},
        }
    )


def test_a_program_missing_the_evening_shoulder_is_listed_with_the_hours() -> None:
    tariff, wrong = _schedule("mid_peak"), _schedule("on_peak")
    assert compare_schedules(wrong, tariff, year=2026) == [  # type: ignore[arg-type]
        "all weekday 19:00-21:00: program on_peak, tariff mid_peak"
    ]
    out = validate_programs(
        {
            "RTOU-TARIFF": ("RTOU", tariff),
            "RES-TOU": ("RTOU", tariff),
            "RES-TOU-B": ("RTOU", wrong),
            "RES-STD": (None, wrong),
        },  # type: ignore[dict-item]
        year=2026,
    )
    assert out["program_code"].to_list() == ["RES-TOU-B"]


def test_meters_on_a_mismatching_program_are_exceptions() -> None:
    meters = f.meters(3, program_code=["RES-TOU", "RES-TOU-B", "RES-TOU-B"])
    mismatches = pl.DataFrame(
        {"program_code": ["RES-TOU-B"], "tariff_code": ["RTOU"], "differences": ["x"]}
    )
    out = detect.detect_program_mismatch(
        meters=meters,
        mismatches=mismatches,
        window_start_utc=f.T0,
        as_of_utc=f.T0 + dt.timedelta(days=1),
    )
    assert out["meter_id"].to_list() == [2, 3]
    assert set(out["kind"]) == {"program_mismatch"}


# -- a high on-peak share: the program or the customer -------------------------------------------

RIGHT, WRONG, OWN = "RES-TOU", "RES-TOU-B", "RES-TOU-X"
HEAVY = 1
"""Meter 1 is on the program that bins right, its customer uses more at on-peak hours."""


def _tou_inputs(mismatched: list[str] | None) -> DiagnosticInputs:
    """20 meters on the right program (meter 1 a heavy on-peak user), 6 on a wrong one
    (their on-peak register gets the evening's energy too), 1 alone on another wrong one."""
    programs = [RIGHT] * 20 + [WRONG] * 6 + [OWN]
    count = len(programs)
    shares = {HEAVY: 0.35} | dict.fromkeys(range(21, count + 1), 0.3)
    rows: list[tuple[int, int, float, str | None]] = []
    for meter in range(1, count + 1):
        on_peak = 100.0 * shares.get(meter, 0.2)
        for day, factor in ((1, 0.0), (8, 1.0)):
            rows += [
                (meter, day, 1000.0 + on_peak * factor, "on_peak"),
                (meter, day, 1000.0 + (100.0 - on_peak) * factor, "off_peak"),
            ]
    meters = f.meters(count, rate_code=["RTOU"] * count, program_code=programs)
    as_of = f.T0 + dt.timedelta(days=8, hours=6)
    return DiagnosticInputs(
        meters=meters,
        daily=f.daily([]),
        last_reads=pl.DataFrame(
            {"meter_id": list(range(1, count + 1)), "last_read_utc": [as_of] * count}
        ),
        voltage_reads=f.interval_reads(2, "voltage_min_v", f.T0, []),
        registers=f.registers(rows),
        events=f.events([]),
        comm_stats=f.comm_stats([]),
        collectors=f.no_collectors(),
        window_start_utc=f.T0,
        as_of_utc=as_of,
        zone=f.ZONE,
        program_mismatches=None
        if mismatched is None
        else pl.DataFrame(
            {
                "program_code": mismatched,
                "tariff_code": ["RTOU"] * len(mismatched),
                "differences": ["all weekday 19:00-21:00: program on_peak, tariff mid_peak"]
                * len(mismatched),
            }
        ),
    )


def _high_bill_verdicts(inputs: DiagnosticInputs) -> dict[int, dict[str, object]]:
    params = DetectParams()
    found = detect_exceptions(inputs, params=params)
    high = found.filter(pl.col("kind") == ExceptionKind.HIGH_BILL.value)
    verdicts = diagnose(high, meter_facts(inputs, found, params=params))
    return {row["meter_id"]: row for row in verdicts.iter_rows(named=True)}


def test_a_program_most_of_whose_meters_bin_more_on_peak_is_a_tou_misprogram() -> None:
    # the programs were not checked against the tariffs: the cohort tells
    verdicts = _high_bill_verdicts(_tou_inputs(None))
    assert set(verdicts) == {HEAVY, *range(21, 28)}  # the on-peak share test fired on these
    for meter in range(21, 27):
        assert verdicts[meter]["cause"] == Cause.TOU_MISPROGRAM.value
        assert verdicts[meter]["rule_id"] == "high_bill.tou_misprogram.cohort"
        assert verdicts[meter]["action"] == ActionKind.REMOTE.value
        facts = json.loads(str(verdicts[meter]["verdict_evidence"]))["facts"]
        assert facts["program_tou_flagged"] == 6
        assert facts["program_tou_share"] == 1.0


def test_look_alike_a_heavy_on_peak_customer_on_a_program_that_bins_right_is_usage() -> None:
    for mismatched in (None, [WRONG, OWN]):
        verdict = _high_bill_verdicts(_tou_inputs(mismatched))[HEAVY]
        assert verdict["cause"] == Cause.CUSTOMER_USAGE.value
        assert verdict["rule_id"] == "high_bill.tou_share.customer_usage"
        assert verdict["action"] == ActionKind.ANALYST.value
        facts = json.loads(str(verdict["verdict_evidence"]))["facts"]
        assert facts["program_tou_flagged"] == 1
        assert facts["program_tou_share"] == 0.05  # 1 of the 20 meters on the program
        assert facts["program_mismatch"] is (None if mismatched is None else False)


def test_a_program_that_differs_from_its_tariff_names_the_misprogram_on_each_meter() -> None:
    verdicts = _high_bill_verdicts(_tou_inputs([WRONG, OWN]))
    for meter in [*range(21, 27), 27]:
        assert verdicts[meter]["cause"] == Cause.TOU_MISPROGRAM.value
        assert verdicts[meter]["rule_id"] == "high_bill.tou_misprogram.program_mismatch"
    # not checked, and alone on its program: too few meters to clear the program
    alone = _high_bill_verdicts(_tou_inputs(None))[27]
    assert alone["cause"] == Cause.TOU_MISPROGRAM.value
    assert alone["rule_id"] == "high_bill.tou_misprogram"
