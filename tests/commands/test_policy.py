"""Pure guard, threshold, stagger and rollout rules; the documented defaults stay current."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterops.commands.policy import (
    ALLOWED_ROLES,
    COMMON_GUARDS,
    KIND_GUARDS,
    KINDS_BEGIN,
    KINDS_END,
    POLICY_BEGIN,
    POLICY_END,
    Actor,
    CommandPolicy,
    MeterFacts,
    WindowCounts,
    check_meter,
    check_thresholds,
    render_kinds_table,
    render_policy_table,
    rollout_stage_sizes,
    stagger_offsets_s,
)
from meterops.errors import InvalidInputError
from meterops.headend.protocol import CommandKind
from meterops.models.commands import CommandType

DOC = Path(__file__).resolve().parents[2] / "docs" / "remote-operations.md"
POLICY = CommandPolicy()
MONDAY_10 = dt.datetime(2026, 11, 23, 16, tzinfo=dt.UTC)
ANN = Actor("ann", "dispatcher", frozenset({"T1"}))


def test_the_documented_defaults_are_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    pattern = re.escape(POLICY_BEGIN) + r"\n(.*?)\n" + re.escape(POLICY_END)
    match = re.search(pattern, text, re.DOTALL)
    assert match, "markers not found in docs/remote-operations.md"
    assert match.group(1) == render_policy_table()


def test_a_clean_meter_passes_every_guard() -> None:
    facts = MeterFacts("M1", territory_code="T1", temperature_c=12.0)
    assert all(
        r.passed for r in check_meter("disconnect", facts, actor=ANN, now=MONDAY_10, policy=POLICY)
    )


def test_temperature_limits_are_exclusive() -> None:
    for temperature, ok in ((0.0, False), (0.1, True), (34.9, True), (35.0, False)):
        facts = MeterFacts("M1", territory_code="T1", temperature_c=temperature)
        results = {
            r.code: r.passed
            for r in check_meter("disconnect", facts, actor=ANN, now=MONDAY_10, policy=POLICY)
        }
        assert results["guard.weather"] is ok


def test_reads_and_pings_ignore_the_disconnect_rules() -> None:
    facts = MeterFacts("M1", territory_code="T1", medical_life_support=True, temperature_c=-30)
    saturday = dt.datetime(2026, 11, 28, 16, tzinfo=dt.UTC)
    assert all(r.passed for r in check_meter("ping", facts, actor=ANN, now=saturday, policy=POLICY))


@given(
    n=st.integers(1, 60),
    user=st.integers(0, 40),
    territory=st.integers(0, 150),
    system=st.integers(0, 300),
)
def test_no_window_passes_its_limit_without_an_approval_reason(
    n: int, user: int, territory: int, system: int
) -> None:
    verdict = check_thresholds(
        "disconnect",
        {"T1": n},
        WindowCounts(
            user_unapproved=user,
            territory_unapproved={"T1": territory},
            system_unapproved=system,
            system_total=system,
        ),
        policy=POLICY,
    )
    if not verdict.needs_approval:
        assert n <= POLICY.request_meter_limit
        assert user + n <= POLICY.user_limit
        assert territory + n <= POLICY.territory_limit
        assert system + n <= POLICY.system_limit


@given(st.lists(st.sampled_from(["F1", "F2", "F3", None]), max_size=200))
def test_stagger_never_puts_more_than_the_cap_in_one_window(feeders: list[str | None]) -> None:
    offsets = stagger_offsets_s(feeders, already={}, policy=POLICY)
    for feeder in ("F1", "F2", "F3"):
        starts = [o for f, o in zip(feeders, offsets, strict=True) if f == feeder]
        for slot in set(starts):
            assert starts.count(slot) <= POLICY.reconnects_per_feeder


@given(st.integers(1, 100_000))
def test_rollout_stages_cover_every_meter_once(count: int) -> None:
    sizes = rollout_stage_sizes(count, policy=POLICY)
    assert sum(sizes) == count
    assert all(s > 0 for s in sizes)
    assert sizes[0] <= POLICY.rollout_first_stage


def test_no_disconnects_on_or_before_a_public_holiday() -> None:
    facts = MeterFacts("M1", territory_code="T1", temperature_c=12.0)
    wednesday_before_thanksgiving = dt.datetime(2026, 11, 25, 16, tzinfo=dt.UTC)
    results = check_meter(
        "disconnect", facts, actor=ANN, now=wednesday_before_thanksgiving, policy=POLICY
    )
    assert [r.code for r in results if not r.passed] == ["guard.calendar"]
    no_calendar = CommandPolicy(holiday_calendar="")
    results = check_meter(
        "disconnect", facts, actor=ANN, now=wednesday_before_thanksgiving, policy=no_calendar
    )
    assert all(r.passed for r in results)


def test_every_kind_has_its_roles_and_guards_as_data() -> None:
    kinds = {kind.value for kind in CommandType}
    assert set(KIND_GUARDS) == kinds
    assert set(ALLOWED_ROLES) == kinds
    # The head-end protocol knows every kind the platform can request.
    assert kinds <= {kind.value for kind in CommandKind}


@given(
    kind=st.sampled_from(sorted(KIND_GUARDS)),
    known=st.booleans(),
    flagged=st.booleans(),
    voltage=st.booleans(),
    direct=st.booleans(),
)
def test_a_kind_is_checked_by_exactly_its_guards_in_order(
    kind: str, *, known: bool, flagged: bool, voltage: bool, direct: bool
) -> None:
    facts = MeterFacts(
        "M1",
        known=known,
        territory_code="T1",
        medical_life_support=flagged,
        load_side_voltage=voltage,
    )
    policy = CommandPolicy(direct_reconnect=direct)
    codes = [r.code for r in check_meter(kind, facts, actor=ANN, now=MONDAY_10, policy=policy)]
    expected = (
        [*COMMON_GUARDS, *KIND_GUARDS[kind]] if known else ["guard.role", "guard.meter_known"]
    )
    assert codes == expected
    blocked = {
        r.code
        for r in check_meter(kind, facts, actor=ANN, now=MONDAY_10, policy=policy)
        if not r.passed
    }
    # A flag or load-side voltage blocks exactly the kinds whose guards look at it.
    assert ("guard.medical_life_support" in blocked) == (
        known and flagged and "guard.medical_life_support" in KIND_GUARDS[kind]
    )
    assert ("guard.load_side_voltage" in blocked) == (
        known and voltage and "guard.load_side_voltage" in KIND_GUARDS[kind]
    )
    assert ("guard.reconnect_mode" in blocked) == (known and not direct and kind == "reconnect")


def test_an_unknown_kind_is_refused_by_name() -> None:
    with pytest.raises(InvalidInputError, match="unknown command kind 'blink'"):
        check_meter("blink", MeterFacts("M1"), actor=ANN, now=MONDAY_10, policy=POLICY)


def test_the_documented_kinds_table_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    pattern = re.escape(KINDS_BEGIN) + r"\n(.*?)\n" + re.escape(KINDS_END)
    match = re.search(pattern, text, re.DOTALL)
    assert match, "markers not found in docs/remote-operations.md"
    assert match.group(1) == render_kinds_table()
