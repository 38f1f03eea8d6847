"""The queue page's filter parser: any query string gives usable filters, never an error.

Pure (no database): :func:`meterops.diagnostics.pages.parse_queue_filters` and
:func:`meterops.diagnostics.pages.fact_unit`.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from meterops.diagnostics.kinds import Cause, ExceptionKind
from meterops.diagnostics.pages import fact_unit, parse_queue_filters

TERRITORIES = {"PRAI1", "FAR"}
KINDS = {k.value for k in ExceptionKind}
CAUSES = {c.value for c in Cause} | {"none"}

texts = st.one_of(st.text(max_size=12), st.sampled_from(sorted(KINDS | CAUSES | TERRITORIES)))
numbers = st.one_of(
    st.text(max_size=8),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers(-200, 20_000).map(str),
    st.integers(0, 100).map(lambda n: f"{n} %"),
)


@given(kind=texts, status=texts, cause=texts, confidence=numbers, territory=texts, age=numbers)
def test_any_query_gives_valid_filters_and_a_note_per_value_dropped(
    kind: str, status: str, cause: str, confidence: str, territory: str, age: str
) -> None:
    f = parse_queue_filters(
        kind=kind, status=status, cause=cause, confidence=confidence,
        territory=territory, age=age, territories=TERRITORIES,
    )  # fmt: skip
    assert f.kind in KINDS | {""}
    assert f.cause in CAUSES | {""}
    assert f.territory in TERRITORIES | {""}
    assert f.status in {"open", "all"}
    assert f.min_confidence is None or 0 <= f.min_confidence <= 1
    assert f.min_age_days is None or f.min_age_days >= 0
    dropped = [
        bool(kind) and f.kind != kind,
        bool(cause) and f.cause != cause,
        bool(territory) and f.territory != territory,
        bool(confidence.strip().removesuffix("%").strip()) and f.min_confidence is None,
        bool(age.strip()) and f.min_age_days is None,
    ]
    assert len(f.notes) == sum(dropped)


@given(st.integers(0, 100))
def test_a_percent_and_a_share_mean_the_same(percent: int) -> None:
    def share(text: str) -> float | None:
        return parse_queue_filters(
            kind="", status="open", cause="", confidence=text, territory="", age="",
            territories=set(),
        ).min_confidence  # fmt: skip

    by_percent = share(f"{percent} %")
    assert by_percent == percent / 100
    if percent > 1:
        assert share(str(percent)) == by_percent
        assert share(str(percent / 100)) == by_percent


def test_units_follow_the_fact_names() -> None:
    assert fact_unit("rssi_dbm") == "dBm"
    assert fact_unit("rssi_change_db") == "dB"
    assert fact_unit("rssi_trend_db_per_day") == "dB/d"
    assert fact_unit("prior_kwh_per_day") == "kWh/d"
    assert fact_unit("kwh_received") == "kWh"
    assert fact_unit("silent_hours") == "h"
    assert fact_unit("installed_days_ago") == "d"
    assert fact_unit("collector_silent_share") == "share, 0-1"
    assert fact_unit("mode") == ""
