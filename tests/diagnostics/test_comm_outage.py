"""A recorded outage explains a silence that began with it, not one that was there before.

The outage system keeps a meter's outage open until the meter reports a restore; a meter
that never reports (a serial the head-end does not know, a dead radio, a pulled meter) keeps
an outage that its neighbours' restore closed weeks ago open for the whole window. That record
must not hide the meter from the non-comm detector.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from meterops.diagnostics import detect
from meterops.diagnostics.detect.comm import OUTAGE_PERIODS
from meterops.diagnostics.params import DetectParams
from tests.diagnostics import frames as f

P = DetectParams()
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
AS_OF = f.T0 + 21 * D


def _run(last: list[dt.datetime | None], outages: pl.DataFrame) -> list[int]:
    out = detect.detect_non_communicating(
        meters=f.meters(len(last)),
        last_reads=pl.DataFrame(
            {"meter_id": list(range(1, len(last) + 1)), "last_read_utc": last},
            schema={"meter_id": pl.Int64, "last_read_utc": pl.Datetime("us", "UTC")},
        ),
        comm_stats=f.comm_stats([]),
        events=f.events([]),
        window_start_utc=f.T0,
        as_of_utc=AS_OF,
        params=P,
        outages=outages,
    )
    return list(out["meter_id"].to_list())


def test_a_meter_that_sent_nothing_all_window_is_judged_despite_an_open_outage_record() -> None:
    # meter 1 never reported in the window; its outage record opened a week before the window
    # and closed 17 h ago (the feeder was restored within the hour, it never sent a restore)
    # meter 2 read until a real outage 30 h ago that was restored 17 h ago: give it time
    outages = pl.DataFrame(
        {
            "meter_id": [1, 2],
            "outage_start_utc": [f.T0 - 7 * D, AS_OF - 30 * H],
            "outage_end_utc": [AS_OF - 17 * H, AS_OF - 17 * H],
        },
        schema=OUTAGE_PERIODS,
    )
    assert _run([None, AS_OF - 30 * H], outages) == [1]


def test_without_a_record_both_are_non_communicating() -> None:
    assert _run([None, AS_OF - 30 * H], pl.DataFrame(schema=OUTAGE_PERIODS)) == [1, 2]
