"""Property tests: the programme CSV parser and the lifecycle, over generated inputs."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterops.errors import IllegalTransitionError
from meterops.workorders.importers import parse_programme_csv
from meterops.workorders.lifecycle import (
    OPEN_STATES,
    TRANSITIONS,
    WorkOrderStatus,
    check_transition,
)
from meterops.workorders.types import ORDER_TYPES, Subject, WorkOrderType

_TEXT = (
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
        min_size=1,
        max_size=40,
    )
    .map(str.strip)
    .filter(bool)
)
_CODE = st.from_regex(r"[A-Z0-9][A-Z0-9-]{0,11}", fullmatch=True)
_WHEN = st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 12, 31)).map(
    lambda d: d.replace(microsecond=0, tzinfo=dt.UTC)
)


@st.composite
def rows(draw: st.DrawFn) -> dict[str, object]:
    order_type = draw(st.sampled_from(list(WorkOrderType)))
    subject = ORDER_TYPES[order_type].subject
    column = {
        Subject.METER: "meter_serial",
        Subject.SERVICE_POINT: "service_point_number",
        Subject.COLLECTOR: "collector_code",
    }[subject]
    row: dict[str, object] = {"order_type": order_type.value, column: draw(_CODE)}
    if draw(st.booleans()):
        row["priority"] = draw(st.integers(1, 5))
    if draw(st.booleans()):
        row["duration_min"] = draw(st.integers(1, 720))
    if draw(st.booleans()):
        start = draw(_WHEN)
        row["appointment_start"] = start
        row["appointment_end"] = start + dt.timedelta(minutes=draw(st.integers(30, 480)))
    if draw(st.booleans()):
        row["parts"] = draw(st.lists(_TEXT.filter(lambda t: ";" not in t), min_size=1, max_size=3))
    if draw(st.booleans()):
        row["notes"] = draw(_TEXT)
    if draw(st.booleans()):
        row["campaign"] = draw(_CODE)
    return row


def _csv(batch: list[dict[str, object]]) -> bytes:
    columns = sorted({key for row in batch for key in row} | {"order_type"})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in batch:
        writer.writerow(
            {
                key: ";".join(value)
                if isinstance(value, list)
                else value.isoformat()
                if isinstance(value, dt.datetime)
                else value
                for key, value in row.items()
            }
        )
    return out.getvalue().encode("utf-8")


@settings(max_examples=60, deadline=None)
@given(st.lists(rows(), min_size=1, max_size=8))
def test_every_valid_row_comes_back_as_the_request_it_describes(
    batch: list[dict[str, object]],
) -> None:
    parsed = parse_programme_csv(_csv(batch), file="p.csv")
    assert parsed.issues == []
    assert [line for line, _ in parsed.requests] == list(range(2, len(batch) + 2))
    for row, (_, request) in zip(batch, parsed.requests, strict=True):
        assert request.order_type.value == row["order_type"]
        assert request.priority == row.get("priority")
        assert request.duration_min == row.get("duration_min")
        assert request.appointment_start_utc == row.get("appointment_start")
        assert request.appointment_end_utc == row.get("appointment_end")
        assert request.parts == row.get("parts")
        assert request.notes == row.get("notes")
        assert request.campaign == row.get("campaign")
        subject = next(
            k for k in ("meter_serial", "service_point_number", "collector_code") if k in row
        )
        assert getattr(request, subject) == row[subject]


@settings(max_examples=60, deadline=None)
@given(st.lists(rows(), min_size=1, max_size=6), st.data())
def test_a_bad_priority_is_reported_on_its_line_and_column(
    batch: list[dict[str, object]], data: st.DataObject
) -> None:
    broken = data.draw(st.integers(0, len(batch) - 1))
    batch[broken] = {**batch[broken], "priority": data.draw(st.sampled_from([0, 6, 9, -1]))}
    parsed = parse_programme_csv(_csv(batch), file="p.csv")
    assert {(i.file, i.line, i.field) for i in parsed.issues} == {("p.csv", broken + 2, "priority")}


@given(st.lists(st.sampled_from(list(WorkOrderStatus)), min_size=1, max_size=12))
def test_a_walk_accepts_exactly_the_legal_moves(walk: list[WorkOrderStatus]) -> None:
    state = WorkOrderStatus.CREATED
    for target in walk:
        if target in TRANSITIONS[state]:
            check_transition("work order WO-1", state, target)
            state = target
        else:
            with pytest.raises(IllegalTransitionError):
                check_transition("work order WO-1", state, target)


def test_cancelled_is_reachable_from_every_open_state_and_nothing_leaves_the_end() -> None:
    for state in OPEN_STATES:
        assert WorkOrderStatus.CANCELLED in TRANSITIONS[state]
    assert TRANSITIONS[WorkOrderStatus.CLOSED] == frozenset()
    assert TRANSITIONS[WorkOrderStatus.CANCELLED] == frozenset()
