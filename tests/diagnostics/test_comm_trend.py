"""A weak mesh path is a steady RSSI fade; day-to-day scatter and thinned reads are not.

The simulator's weak path lowers a meter's RSSI by 0.4 to 1.6 dB every day while its daily
reports scatter about 1.5 dB around the level (``simulator.network``); a healthy meter's
reports scatter the same way around a steady level, so two single reports are often 3 to
4 dB apart. These tests hold the fault and its look-alikes apart: through the trend helper,
the ``degrading`` detector and the verdict rules.
"""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterops.diagnostics import detect
from meterops.diagnostics.detect.comm import RSSI_RESOLUTION_DB, rssi_trend
from meterops.diagnostics.kinds import Cause, ExceptionKind
from meterops.diagnostics.params import DetectParams
from meterops.diagnostics.rules import evaluate
from tests.diagnostics import frames as f

P = DetectParams()
D = dt.timedelta(days=1)
AS_OF = f.T0 + 20 * D
# Day-to-day scatter of a steady meter, about 1.5 dB (fixed, so the tests are exact).
SCATTER = (1.5, -2.0, 0.5, 2.5, -1.0, -2.5, 1.0, 0.0, -1.5, 2.0, -0.5, 1.5, -2.0, 0.5, -1.0,
           2.0, -1.5, 0.0, 1.0, -3.0)  # fmt: skip


def _stats(meter_id: int, levels: list[float], *, received: int = 96) -> pl.DataFrame:
    return f.comm_stats(
        [(meter_id, day, received, level, "C1") for day, level in enumerate(levels, start=1)]
    )


def test_a_straight_fall_gives_its_slope_and_fall() -> None:
    out = rssi_trend(_stats(1, [-50.0 - day for day in range(14)]))
    row = out.row(0, named=True)
    assert row["rssi_reports"] == 14
    assert row["rssi_trend_db_per_day"] == -1.0
    assert row["rssi_fade_db"] == 13.0
    # a perfect line: the error is taken from the report resolution, not zero
    assert row["rssi_trend_t"] < -20


def test_scatter_around_a_steady_level_is_no_trend_though_two_reports_differ_by_4_5_db() -> None:
    levels = [-85.0 + s for s in SCATTER]
    assert levels[0] - levels[-1] == 4.5
    row = rssi_trend(_stats(1, levels)).row(0, named=True)
    assert abs(row["rssi_trend_db_per_day"]) < 0.15
    assert row["rssi_trend_t"] > -2.0
    assert row["rssi_fade_db"] < 2.0


def test_fewer_than_three_reports_give_no_trend() -> None:
    row = rssi_trend(_stats(1, [-70.0, -75.0])).row(0, named=True)
    assert row["rssi_reports"] == 2
    assert row["rssi_trend_db_per_day"] is None
    assert row["rssi_trend_t"] is None


@given(
    slope=st.floats(-2.0, 2.0).map(lambda v: round(v, 2)),
    level=st.floats(-110.0, -30.0).map(lambda v: round(v, 1)),
    days=st.integers(3, 20),
    offset=st.floats(-20.0, 20.0).map(lambda v: round(v, 1)),
)
def test_the_trend_recovers_any_line_and_ignores_the_level(
    slope: float, level: float, days: int, offset: float
) -> None:
    line = [level + slope * day for day in range(days)]
    out = rssi_trend(_stats(1, line)).row(0, named=True)
    shifted = rssi_trend(_stats(1, [v + offset for v in line])).row(0, named=True)
    assert out["rssi_trend_db_per_day"] == pytest.approx(slope, abs=0.011)
    assert out["rssi_fade_db"] == pytest.approx(-slope * (days - 1), abs=0.06)
    assert shifted["rssi_trend_db_per_day"] == pytest.approx(out["rssi_trend_db_per_day"])
    # a perfect line: the residual spread is the report resolution, so t is finite
    sxx = days * (days * days - 1) / 12.0
    assert out["rssi_trend_t"] == pytest.approx(slope * sxx**0.5 / RSSI_RESOLUTION_DB, abs=0.06)


def _noncomm(stats: pl.DataFrame, meters: int) -> pl.DataFrame:
    return detect.detect_non_communicating(
        meters=f.meters(meters),
        last_reads=pl.DataFrame(
            {"meter_id": list(range(1, meters + 1)), "last_read_utc": [AS_OF] * meters},
            schema={"meter_id": pl.Int64, "last_read_utc": pl.Datetime("us", "UTC")},
        ),
        comm_stats=stats,
        events=f.events([]),
        window_start_utc=f.T0,
        as_of_utc=AS_OF,
        params=P,
    )


def test_a_steady_fade_at_a_strong_level_is_degrading_and_scatter_at_a_weak_level_is_not() -> None:
    # meter 1: a weak path behind a strong last hop, -50 dBm falling 0.8 dB a day, reads fine
    # meter 2: a healthy meter at the edge of reception, scatter only, first and last 4.5 dB
    #          apart (the old two-report test called a 3 dB change a fade)
    # meter 3: healthy and strong
    stats = pl.concat(
        [
            _stats(1, [-50.0 - 0.8 * day + s for day, s in enumerate(SCATTER)]),
            _stats(2, [-90.0 + s for s in SCATTER]),
            _stats(3, [-60.0 + s for s in SCATTER]),
        ]
    )
    out = _noncomm(stats, 3)
    assert out["meter_id"].to_list() == [1]
    evidence = json.loads(out["evidence"][0])
    assert evidence["mode"] == "degrading"
    assert evidence["rssi_fade_db"] >= P.rssi_fall_db
    assert evidence["rssi_trend_t"] <= -P.rssi_trend_t
    assert evidence["rssi_reports"] == 20


def test_a_short_fade_over_few_reports_is_not_yet_degrading() -> None:
    # six reports falling 1 dB a day: below rssi_min_reports, not judged yet
    stats = _stats(1, [-70.0 - day for day in range(6)])
    assert _noncomm(stats, 1).is_empty()


# -- verdicts -------------------------------------------------------------------------------

SILENT = {"mode": "silent", "silent_hours": 200.0, "never_reported": False}


@pytest.mark.parametrize(
    ("facts", "cause"),
    [
        # Faded steadily before the silence: the path, not the radio.
        (
            {
                **SILENT,
                "rssi_fade_db": 11.0,
                "rssi_trend_t": -9.0,
                "comm_failure_events": 8,
                "collector_fading_share": 0.01,
            },
            Cause.WEAK_MESH_PATH,
        ),
        # Its look-alike: a failed radio stops at a steady signal (scatter, no fitted fall),
        # and the head-end logs it as failing.
        (
            {
                **SILENT,
                "rssi_change_db": -4.0,
                "rssi_fade_db": 0.5,
                "rssi_trend_t": -0.4,
                "comm_failure_events": 8,
            },
            Cause.RADIO_MODULE_FAILURE,
        ),
        # A fitted fall that is not significant (a few scattered reports) is not a fade.
        (
            {
                **SILENT,
                "rssi_change_db": -2.0,
                "rssi_fade_db": 5.4,
                "rssi_trend_t": -1.4,
                "comm_failure_events": 8,
            },
            Cause.RADIO_MODULE_FAILURE,
        ),
        # Too few reads while fading: a weak path.
        (
            {"mode": "intermittent", "rssi_dbm": -84.0, "rssi_fade_db": 7.0, "rssi_trend_t": -6.0},
            Cause.WEAK_MESH_PATH,
        ),
        # Its look-alike: reads thinned by a collector outage or a long path at a low but
        # steady level; two reports 4 dB apart. Read it on demand, no truck.
        (
            {
                "mode": "intermittent",
                "rssi_dbm": -83.0,
                "rssi_change_db": -4.0,
                "rssi_fade_db": 0.6,
                "rssi_trend_t": -0.7,
            },
            Cause.UNDETERMINED,
        ),
        # At the edge of reception a low level alone is not a weak path; a fall with it is.
        (
            {"mode": "intermittent", "rssi_dbm": -92.0, "rssi_fade_db": 1.0, "rssi_trend_t": -1.0},
            Cause.UNDETERMINED,
        ),
        (
            {"mode": "intermittent", "rssi_dbm": -92.0, "rssi_fade_db": 3.5, "rssi_trend_t": -4.5},
            Cause.WEAK_MESH_PATH,
        ),
        ({"mode": "degrading", "rssi_fade_db": 9.0, "rssi_trend_t": -8.0}, Cause.WEAK_MESH_PATH),
    ],
)
def test_a_fade_names_a_weak_path_and_scatter_does_not(
    facts: dict[str, object], cause: Cause
) -> None:
    rule, why = evaluate(ExceptionKind.NON_COMMUNICATING, facts)
    assert rule.cause is cause, (rule.rule_id, why)
    if cause is Cause.WEAK_MESH_PATH:
        assert rule.subject == "collector"
        assert any(reason.startswith("rssi_trend_t") for reason in why) or (
            facts["mode"] == "degrading"
        )


def _periods(*rows: tuple[int, dt.datetime, dt.datetime]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "meter_id": [r[0] for r in rows],
            "outage_start_utc": [r[1] for r in rows],
            "outage_end_utc": [r[2] for r in rows],
        },
        schema=detect.comm.OUTAGE_PERIODS,
    )


def test_a_recorded_outage_explains_thin_reads_but_not_a_fade_over_days() -> None:
    # both meters lost reads in a recorded outage yesterday; meter 1's signal has also been
    # falling 0.8 dB a day for 20 days, meter 2's is steady
    fading = [-70.0 - 0.8 * day + s for day, s in enumerate(SCATTER)]
    stats = pl.concat(
        [
            _stats(1, fading[:17]),
            _stats(1, fading[17:], received=40).with_columns(pl.col("period_start_utc") + 17 * D),
            _stats(2, [-70.0 + s for s in SCATTER[:17]]),
            _stats(2, [-70.0 + s for s in SCATTER[17:]], received=40).with_columns(
                pl.col("period_start_utc") + 17 * D
            ),
        ]
    )
    out = detect.detect_non_communicating(
        meters=f.meters(2),
        last_reads=pl.DataFrame(
            {"meter_id": [1, 2], "last_read_utc": [AS_OF, AS_OF]},
            schema={"meter_id": pl.Int64, "last_read_utc": pl.Datetime("us", "UTC")},
        ),
        comm_stats=stats,
        events=f.events([]),
        window_start_utc=f.T0,
        as_of_utc=AS_OF,
        params=P,
        outages=_periods(
            (1, AS_OF - 40 * dt.timedelta(hours=1), AS_OF - 10 * dt.timedelta(hours=1)),
            (2, AS_OF - 40 * dt.timedelta(hours=1), AS_OF - 10 * dt.timedelta(hours=1)),
        ),
    )
    assert out["meter_id"].to_list() == [1]
    evidence = json.loads(out["evidence"][0])
    assert evidence["rssi_trend_t"] <= -P.rssi_trend_t
    rule, _ = evaluate(
        ExceptionKind.NON_COMMUNICATING,
        {**evidence, "rssi_dbm": -85.0, "collector_fading_share": 0.02},
    )
    assert rule.cause is Cause.WEAK_MESH_PATH


DOWN = {
    **SILENT,
    "silent_hours": 39.0,
    "collector_down": True,
    "silent_before_collector_down": False,
    "comm_failure_events": 1,
}


@pytest.mark.parametrize(
    ("facts", "rule_id"),
    [
        # Its collector is down now, but its own signal had been fading for days before
        # while the collector's other meters held theirs: its path is weak too.
        (
            {
                **DOWN,
                "rssi_fade_db": 14.0,
                "rssi_trend_t": -11.0,
                "collector_fading_share": 0.03,
            },
            "non_communicating.weak_mesh_path.faded_before_silence",
        ),
        # The look-alike: the meter's signal was steady; the down collector explains it.
        (
            {**DOWN, "rssi_fade_db": 1.0, "rssi_trend_t": -0.8, "collector_fading_share": 0.03},
            "non_communicating.collector_down",
        ),
        # Most meters on the collector faded together: the collector, not each meter's path.
        (
            {
                **DOWN,
                "rssi_fade_db": 14.0,
                "rssi_trend_t": -11.0,
                "collector_fading_share": 0.8,
            },
            "non_communicating.collector_down",
        ),
        # A few reports that fell to the edge of reception before a long silence.
        (
            {
                **SILENT,
                "rssi_dbm": -94.5,
                "rssi_reports": 6,
                "rssi_fade_db": 4.8,
                "rssi_trend_t": -3.5,
                "comm_failure_events": 14,
                "collector_fading_share": 0.02,
            },
            "non_communicating.weak_mesh_path.faded_out",
        ),
        # The look-alike: the same few scattered reports at a healthy level are a radio.
        (
            {
                **SILENT,
                "rssi_dbm": -74.0,
                "rssi_reports": 6,
                "rssi_fade_db": 4.8,
                "rssi_trend_t": -3.5,
                "comm_failure_events": 14,
                "collector_fading_share": 0.02,
            },
            "non_communicating.radio_module_failure.comm_failure",
        ),
    ],
)
def test_a_silence_after_a_fade_is_the_path_and_a_shared_fade_is_the_collector(
    facts: dict[str, object], rule_id: str
) -> None:
    rule, why = evaluate(ExceptionKind.NON_COMMUNICATING, facts)
    assert rule.rule_id == rule_id, why
