"""Program validation: a program's TOU periods against its tariff's filed definition."""

from __future__ import annotations

import datetime as dt

import polars as pl

from meterops.assets.programs import parse_tou_schedule
from meterops.diagnostics import detect
from meterops.diagnostics.programs import compare_schedules, validate_programs
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
