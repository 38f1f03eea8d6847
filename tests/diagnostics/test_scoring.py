"""When a simulated fault counts for recall: the visibility rules of ``diagnostics.scoring``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from meterops.diagnostics.scoring import truth_pairs

START = dt.datetime(2026, 7, 1, 5, tzinfo=dt.UTC)
AS_OF = START + dt.timedelta(days=21, hours=6)


def _at(days: float) -> str:
    return (START + dt.timedelta(days=days)).isoformat()


def _pairs(*faults: dict[str, Any], detectable_only: bool = True) -> set[tuple[str, str]]:
    frame = truth_pairs(
        faults, window_start_utc=START, as_of_utc=AS_OF, detectable_only=detectable_only
    )
    return set(frame.iter_rows())


def _theft(serial: str, start_days: float, tamper: str | None) -> dict[str, Any]:
    return {
        "kind": "theft_bypass",
        "meter_serial": serial,
        "start_utc": _at(start_days),
        "end_utc": None,
        "parameters": {"registered_share": 0.3, "tamper_event": tamper},
    }


def test_a_bare_bypass_counts_once_it_has_a_baseline_before_it_and_held() -> None:
    found = _pairs(
        _theft("early", 3.0, None),  # no 7-day baseline inside the window
        _theft("ok", 10.0, None),
        _theft("young", 19.0, None),  # under 4 days old at the run
        _theft("tampered", 19.0, "cover_removed"),  # its events show it at once
    )
    assert found == {("ok", "bypass_theft"), ("tampered", "bypass_theft")}
    everything = _pairs(_theft("early", 3.0, None), detectable_only=False)
    assert everything == {("early", "bypass_theft")}  # present: a verdict on it is right


def test_a_crossed_pair_counts_once_one_of_its_premises_went_vacant() -> None:
    def crossed(serial: str, here: str, there: str) -> dict[str, Any]:
        return {
            "kind": "crossed_meters",
            "meter_serial": serial,
            "start_utc": _at(-400),
            "end_utc": None,
            "parameters": {
                "installed_at_service_point": here,
                "back_office_service_point": there,
            },
        }

    def vacant(point: str, start_days: float) -> dict[str, Any]:
        return {
            "kind": "vacant_premise",
            "meter_serial": "x",
            "service_point_number": point,
            "start_utc": _at(start_days),
            "end_utc": None,
        }

    pair = (crossed("a", "SP2", "SP1"), crossed("b", "SP1", "SP2"))
    assert _pairs(*pair) == set()
    assert _pairs(*pair, vacant("SP1", 12.0)) == {("a", "crossed_meters"), ("b", "crossed_meters")}
    assert _pairs(*pair, vacant("SP1", 20.5)) == set()  # too recent to show
    assert _pairs(*pair, vacant("SP9", 12.0)) == set()  # another premise
