"""Missing intervals inside a recorded outage incident are estimated as zero (issue 8).

The incident is recorded by the outage system from last gasps that never reached the read
store (so the meter's own events say nothing and the engine alone would estimate
consumption); the run reads it through ``outages.service.outage_periods``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from meterops.db.engine import session_scope
from meterops.nomenclature import EVENT_BY_NAME
from meterops.outages import service as outages_service
from meterops.outages.inference import OutageParams
from meterops.timeutil import local_day_bounds_utc
from meterops.vee import repository
from meterops.vee.engine import Engine
from meterops.vee.incidents import (
    INCIDENT_ACTOR,
    INCIDENT_METHOD,
    INCIDENT_REASON,
    zero_in_incidents,
)
from meterops.vee.service import VeeRunSummary, run_vee
from tests.vee.town import NOW, ZONE, build_town, write_reads

T0 = dt.datetime(2026, 3, 5, 10, tzinfo=dt.UTC)
Q = dt.timedelta(minutes=15)


def _estimates(starts: list[dt.datetime], methods: list[str], meter: int = 1) -> pl.DataFrame:
    n = len(starts)
    return pl.DataFrame(
        {
            "meter_id": [meter] * n,
            "interval_start_utc": starts,
            "interval_s": [900] * n,
            "value": [0.5] * n,
            "method": methods,
            "reason_code": ["missing_read"] * n,
            "actor": ["estimation.like_day@1"] * n,
        }
    )


def test_only_intervals_wholly_inside_a_period_of_their_meter_become_zero() -> None:
    starts = [T0 - Q, T0 - dt.timedelta(minutes=5), T0, T0 + 7 * Q, T0 + 8 * Q, T0 + Q]
    methods = ["like_day"] * 5 + ["zero_disconnected"]
    est = _estimates(starts, methods)
    periods = pl.DataFrame(
        {"meter_id": [1, 2], "outage_start_utc": [T0, T0 - Q], "outage_end_utc": [T0 + 8 * Q, None]}
    )
    out = zero_in_incidents(est, periods)
    assert out.schema == est.schema
    assert out["method"].to_list() == [
        "like_day",  # before the period
        "like_day",  # starts before the period (partly powered)
        INCIDENT_METHOD,
        INCIDENT_METHOD,  # ends exactly at the restoration
        "like_day",  # after
        "zero_disconnected",  # the engine's own zero stays
    ]
    assert out["value"].to_list() == [0.5, 0.5, 0.0, 0.0, 0.5, 0.5]
    hit = out.filter(pl.col("method") == INCIDENT_METHOD)
    assert set(hit["reason_code"]) == {INCIDENT_REASON}
    assert set(hit["actor"]) == {INCIDENT_ACTOR}
    # Another meter's ongoing outage (null end) covers everything of meter 2 after its start.
    other = zero_in_incidents(_estimates(starts, methods, meter=2), periods)
    assert other["method"].to_list()[2:5] == [INCIDENT_METHOD] * 3
    assert zero_in_incidents(est, periods.clear()).equals(est)


def test_a_recorded_outage_makes_its_missing_intervals_zero_on_both_paths(
    tmp_path: Path,
) -> None:
    with build_town(tmp_path, days=4, ingest=False) as town:
        for index in range(3):
            town.ingest(town.day_files(index))
        reads = town.interval_reads(3)
        kwh = reads.filter(pl.col("channel") == "kwh_delivered")
        serial = kwh["serial_number"][0]
        mine_reads = kwh.filter(pl.col("serial_number") == serial)
        in_outage = mine_reads.slice(40, 12)  # 3 h: like-day estimates without the outage
        elsewhere = mine_reads.slice(70, 4)  # 1 h: interpolated as usual
        held = pl.concat([in_outage, elsewhere])
        rest = reads.join(held, on=["serial_number", "channel", "interval_start_utc"], how="anti")
        others = [p for p in town.day_files(3) if p.name != "intervals.cmep"]
        town.ingest([*others, write_reads(tmp_path, "day3_rest.csv", rest)])

        start, last = in_outage["interval_start_utc"].min(), in_outage["interval_start_utc"].max()
        assert isinstance(start, dt.datetime)
        assert isinstance(last, dt.datetime)
        end = last + Q
        with session_scope(town.sessions) as session:
            (meter,) = repository.meters_by_serial(session, [serial])
            events = pl.DataFrame(
                {
                    "meter_id": [meter.meter_id, meter.meter_id],
                    "event_time_utc": [start, end],
                    "cim_event_type": [
                        EVENT_BY_NAME["last_gasp"].code,
                        EVENT_BY_NAME["power_restored"].code,
                    ],
                }
            )
            found = outages_service.detect_from_events(
                session, events, now=end, params=OutageParams()
            )
            assert len(found) == 1

        def run(engine: Engine, now: dt.datetime) -> VeeRunSummary:
            with session_scope(town.sessions) as session:
                return run_vee(
                    session,
                    town.store,
                    first_day=town.day(3),
                    last_day=town.day(3),
                    zone=ZONE,
                    now=now,
                    serials=[serial],
                    engine=engine,
                )

        first = run("fast", NOW)
        assert dict(first.report.estimates) == {
            INCIDENT_METHOD: 12,
            "linear_interpolation": 4,
        }
        day_start, day_end = local_day_bounds_utc(town.day(3), ZONE)
        current = town.store.current_interval_reads(
            start_utc=day_start,
            end_utc=day_end,
            meter_ids=[meter.meter_id],
            channels=["kwh_delivered"],
        )
        zeroed = current.filter(
            pl.col("interval_start_utc").is_in(in_outage["interval_start_utc"].to_list())
        )
        assert zeroed.height == 12
        assert zeroed["value"].to_list() == [0.0] * 12
        assert set(zeroed["method"]) == {INCIDENT_METHOD}
        assert set(zeroed["reason_code"]) == {INCIDENT_REASON}
        assert set(zeroed["actor"]) == {INCIDENT_ACTOR}
        assert set(zeroed["version_kind"]) == {"estimate"}
        other = current.filter(
            pl.col("interval_start_utc").is_in(elsewhere["interval_start_utc"].to_list())
        )
        assert set(other["method"]) == {"linear_interpolation"}
        assert (other["value"] > 0).any()
        # The reference path makes the same estimates, so nothing new is written; idempotent.
        again = run("reference", NOW + dt.timedelta(hours=1))
        assert again.versions_written == 0
        assert again.report.estimates == ()
        assert run("fast", NOW + dt.timedelta(hours=2)).versions_written == 0
