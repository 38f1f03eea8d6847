"""A scenario per cause, and its look-alike: small simulated towns with exactly one fault.

Each town (``SCENARIOS``: 200 service points, 21 days, 24 for the bare bypass) is simulated
with every fault rate 0 except the one under test (:func:`only`), imported (with the
installation history), ingested and diagnosed through the real paths
(``tests/diagnostics/town.py``) at 06:00 local the morning after its last day. The ground
truth is read through ``meterops.diagnostics.scoring`` (``truth_pairs``, ``collectors_down``;
never re-implemented here):

* **cause cases** (``CAUSE_CASES``): the faulted meters the scoring says a run should find get
  a verdict naming that cause (recall), and the verdicts naming that cause in the town are on
  meters the truth has that fault on (precision; a verdict on a fault too young for the
  scoring to expect it found counts as right, as in ``score_verdicts``). A collector down at
  the run is its own test (the scoring does not score ``collector_down``: it is judged against
  ``scoring.collectors_down`` and the collector's size as the run counts it).
* **look-alike cases** (``LOOK_ALIKE_CASES`` and the tests after them): a town whose faults or
  territory look like a cause gets no verdict naming it (a collector outage is not radio
  failures; a vacant premise is not a stopped register; transformer outages are not meter
  faults; tamper without theft is not a bypass; a genuine exchange is not a wrong multiplier;
  a TOU rate is not a misprogram; net-metered solar is not CT polarity; a clean town sends no
  truck), each checked to hold its look-alike condition (so that it cannot pass empty).

Thresholds: measured on these towns (the seeds, sizes and rates below; ``CauseCase.measured``
holds the figures: expected, found, called, called right) and set a little below them: 0.95
where everything was found, else the measured share rounded down (bypass with tamper events
0.75 → 0.7; crossed meters 0.5; bare bypass precision 9/17 → 0.5), so that a rule or detector
that regresses fails. Cases the diagnostics get wrong are strict xfails naming the seed,
meters and verdict (three: meters intermittent after a collector outage, a vacancy at a
recent exchange, two vacancies a day apart called crossed meters). The whole module (23
towns) takes about 4 minutes on SQLite and 5.5 on PostgreSQL on a 2-core machine.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pytest

from meterops.db.engine import session_scope
from meterops.diagnostics import scoring
from meterops.diagnostics import service as diagnostics_service
from meterops.simulator import FaultRates
from tests.conftest import fresh_database
from tests.diagnostics.town import Town, build_town

pytestmark = pytest.mark.slow  # one simulated town per scenario: CI runs them on SQLite only

LOOKBACK_DAYS = diagnostics_service.RunOptions().lookback_days


def only(**rates: float | bool) -> FaultRates:
    """Fault rates with every fault off except the ones given.

    Every numeric field is 0 and ``tou_misprogram`` False; then the given fields are set.

    Examples:
        >>> only(radio_failure_per_meter_year=0.5).radio_failure_per_meter_year
        0.5
        >>> only().tou_misprogram, only().collector_down_per_collector_year
        (False, 0.0)
    """
    zero: dict[str, Any] = {
        f.name: (False if f.name == "tou_misprogram" else 0.0)
        for f in dataclasses.fields(FaultRates)
    }
    unknown = set(rates) - set(zero)
    if unknown:
        raise TypeError(f"unknown fault rates: {sorted(unknown)}")
    return FaultRates(**{**zero, **rates})


def test_only_turns_every_other_fault_off() -> None:
    rates = only(theft_per_meter_year=0.8, theft_tamper_event_share=1.0)
    on = {
        f.name: getattr(rates, f.name)
        for f in dataclasses.fields(rates)
        if getattr(rates, f.name) not in (0.0, False)
    }
    assert on == {"theft_per_meter_year": 0.8, "theft_tamper_event_share": 1.0}
    assert only(tou_misprogram=True).tou_misprogram is True
    with pytest.raises(TypeError, match="radio_failures"):
        only(radio_failures=1.0)


@dataclass(frozen=True)
class Scenario:
    """One small town: its seed, size, fault rates and territory changes."""

    seed: int
    rates: FaultRates
    territory: Mapping[str, Any] = field(default_factory=dict)
    service_points: int = 200
    days: int = 21


CT_SITES = {"large_ci_share": 0.3, "spare_share": 0.5}
"""Enough transformer-rated sites (about 60 of 200) for the CT faults, and spare meters in
stock for the exchanges (an exchange needs a spare of the site's form)."""

SCENARIOS: dict[str, Scenario] = {
    "radio": Scenario(101, only(radio_failure_per_meter_year=0.6)),
    "weak_path": Scenario(102, only(weak_path_per_meter_year=1.5)),
    # a collector with most of the town down 120 h at the run (outages last hours, median
    # 6 h: one of the few seeds of 200 at this rate with one down past the non-comm limit)
    "collector": Scenario(
        706, only(collector_down_per_collector_year=120.0), {"sites_per_collector": 100}
    ),
    # four collectors, each down for hours several times in the three weeks
    "collectors_repeated": Scenario(
        407, only(collector_down_per_collector_year=60.0), {"sites_per_collector": 50}
    ),
    "transformer": Scenario(
        104,
        only(transformer_outage_per_transformer_year=12.0, feeder_outage_per_feeder_year=30.0),
    ),
    "removed": Scenario(105, only(meter_removed_per_meter_year=0.6)),
    "tamper": Scenario(106, only(tamper_without_theft_per_meter_year=0.8)),
    "theft_tamper": Scenario(107, only(theft_per_meter_year=0.8, theft_tamper_event_share=1.0)),
    "theft_bare": Scenario(
        108, only(theft_per_meter_year=1.5, theft_tamper_event_share=0.0), days=24
    ),
    "unprovisioned": Scenario(109, only(unknown_serial_per_1000=30.0)),
    "stopped": Scenario(110, only(stopped_register_per_meter_year=0.8)),
    "exchange_wrong": Scenario(111, only(exchange_wrong_multiplier_per_ct_site_year=3.0), CT_SITES),
    "exchange_genuine": Scenario(112, only(exchange_genuine_per_ct_site_year=3.0), CT_SITES),
    "ct_polarity": Scenario(113, only(ct_polarity_share=0.25), CT_SITES),
    "crossed": Scenario(114, only(crossed_pairs_per_1000=25.0), {"moves_per_year": 6.0}),
    "tou": Scenario(115, only(tou_misprogram=True)),
    "tou_look_alike": Scenario(116, only(), {"tou_share": 0.9}),
    "clock": Scenario(117, only(clock_drift_share=0.04)),
    "hot_socket": Scenario(118, only(hot_socket_per_meter_year=0.6)),
    "vacant": Scenario(119, only(), {"vacancy_share": 0.3, "moves_per_year": 6.0}),
    "solar": Scenario(120, only(), {"solar_share": 0.6}),
    "clean": Scenario(121, only()),
}


@dataclass
class Diagnosed:
    """A diagnosed town with its open verdicts and the truth read through scoring."""

    town: Town
    verdicts: pl.DataFrame
    truth: pl.DataFrame
    present: pl.DataFrame
    faults: list[dict[str, Any]]


def _fact(evidence: Mapping[str, Any] | None, name: str) -> Any:
    """A fact of a verdict's evidence (the rule's facts, else the detector's), or None."""
    for part in ("facts", "detector"):
        value = ((evidence or {}).get(part) or {}).get(name)
        if value is not None:
            return value
    return None


def _diagnosed(town: Town) -> Diagnosed:
    with session_scope(town.sessions) as session:
        rows = diagnostics_service.list_exceptions(session, open_only=True, limit=10_000)
        verdicts = pl.DataFrame(
            [
                {
                    "serial_number": serial,
                    "cause": str(row.cause),
                    "kind": str(row.kind),
                    "action": str(row.action),
                    "rule": str(row.rule_id),
                    "collector": _fact(row.verdict_evidence, "collector_code"),
                    "mode": _fact(row.verdict_evidence, "mode"),
                    "collector_meters": _fact(row.verdict_evidence, "collector_meters"),
                }
                for row, serial in rows
            ],
            schema={
                "serial_number": pl.String,
                "cause": pl.String,
                "kind": pl.String,
                "action": pl.String,
                "rule": pl.String,
                "collector": pl.String,
                "mode": pl.String,
                "collector_meters": pl.Int64,
            },
        )
    faults = scoring.read_truth(town.truth_file.read_text(), file="faults.jsonl")
    window = town.as_of - dt.timedelta(days=LOOKBACK_DAYS)
    truth = scoring.truth_pairs(faults, window_start_utc=window, as_of_utc=town.as_of)
    present = scoring.truth_pairs(
        faults, window_start_utc=window, as_of_utc=town.as_of, detectable_only=False
    )
    return Diagnosed(town, verdicts, truth, present, faults)


@pytest.fixture(scope="module")
def towns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Diagnosed]]:
    """Build each scenario's town once (on first use), each in a fresh database."""
    built: dict[str, Diagnosed] = {}
    with ExitStack() as stack:

        def get(name: str) -> Diagnosed:
            if name not in built:
                scenario = SCENARIOS[name]
                folder = tmp_path_factory.mktemp(f"scenario-{name}")
                url = stack.enter_context(fresh_database(folder))
                town = build_town(
                    folder,
                    url,
                    seed=scenario.seed,
                    service_points=scenario.service_points,
                    days=scenario.days,
                    rates=scenario.rates,
                    territory=scenario.territory,
                )
                stack.callback(town.engine.dispose)
                built[name] = _diagnosed(town)
            return built[name]

        yield get


def _serials(frame: pl.DataFrame, cause: str) -> set[str]:
    return set(frame.filter(pl.col("cause") == cause)["serial_number"])


# -- a scenario per cause ----------------------------------------------------------------------


@dataclass(frozen=True)
class CauseCase:
    """A town with one fault, the cause its verdicts must name and the measured floor.

    ``measured`` is (faulted meters the scoring expects found, found, verdicts naming the
    cause, of them on a meter with that fault) on the town as built here.
    """

    scenario: str
    cause: str
    min_truth: int
    min_recall: float
    min_precision: float
    measured: tuple[int, int, int, int]


CAUSE_CASES: dict[str, CauseCase] = {
    "radio_module_failure": CauseCase("radio", "radio_module_failure", 3, 0.95, 1.0, (6, 6, 6, 6)),
    "weak_mesh_path": CauseCase("weak_path", "weak_mesh_path", 3, 0.95, 1.0, (6, 6, 12, 12)),
    "meter_removed": CauseCase("removed", "meter_removed", 3, 0.95, 1.0, (7, 7, 7, 7)),
    "tamper": CauseCase("tamper", "tamper", 3, 0.95, 1.0, (9, 9, 9, 9)),
    # two thefts called tamper only: one began on the first day of the data (no baseline to
    # see the drop against), one kept 53 % of its use and began 3.7 days before the run
    "bypass_theft_with_tamper_events": CauseCase(
        "theft_tamper", "bypass_theft", 3, 0.7, 1.0, (8, 6, 7, 7)
    ),
    # eight meters without any fault whose use fell by about half on 25-26 July (the weather)
    # are called a bypass: measured precision 9 of 17 (see the report in docs/diagnostics.md)
    "bypass_theft_without_tamper_events": CauseCase(
        "theft_bare", "bypass_theft", 3, 0.8, 0.5, (8, 7, 17, 9)
    ),
    "unprovisioned_meter": CauseCase(
        "unprovisioned", "unprovisioned_meter", 3, 0.95, 1.0, (6, 6, 6, 6)
    ),
    "stopped_register": CauseCase("stopped", "stopped_register", 3, 0.95, 1.0, (8, 8, 8, 8)),
    "wrong_multiplier_at_exchange": CauseCase(
        "exchange_wrong", "wrong_multiplier", 3, 0.95, 1.0, (9, 9, 9, 9)
    ),
    "ct_polarity": CauseCase("ct_polarity", "ct_polarity", 3, 0.95, 1.0, (15, 15, 15, 15)),
    # one of the two visible swaps has both premises vacant at once: nothing to see
    "crossed_meters": CauseCase("crossed", "crossed_meters", 2, 0.5, 1.0, (4, 2, 2, 2)),
    "tou_misprogram": CauseCase("tou", "tou_misprogram", 3, 0.95, 1.0, (8, 8, 8, 8)),
    "clock_error": CauseCase("clock", "clock_error", 3, 0.95, 1.0, (8, 8, 8, 8)),
    "hot_socket": CauseCase("hot_socket", "hot_socket", 3, 0.95, 1.0, (7, 7, 7, 7)),
}


@pytest.mark.parametrize("case", list(CAUSE_CASES))
def test_a_town_with_only_that_fault_gets_that_verdict(
    case: str, towns: Callable[[str], Diagnosed]
) -> None:
    spec = CAUSE_CASES[case]
    diagnosed = towns(spec.scenario)
    expected = _serials(diagnosed.truth, spec.cause)
    allowed = _serials(diagnosed.present, spec.cause)
    called = _serials(diagnosed.verdicts, spec.cause)
    measured = (len(expected), len(expected & called), len(called), len(called & allowed))
    print(case, "measured", measured)
    assert len(expected) >= spec.min_truth, (case, sorted(expected))
    recall = len(expected & called) / len(expected)
    assert recall >= spec.min_recall, (case, measured, sorted(expected - called))
    # precision: nothing else in the town is called that cause (a verdict on a fault too
    # young for the scoring to expect it found is right too)
    precision = len(called & allowed) / len(called)
    assert precision >= spec.min_precision, (case, measured, sorted(called - allowed))


def _down_collectors(diagnosed: Diagnosed) -> set[str]:
    return scoring.collectors_down(diagnosed.faults, as_of_utc=diagnosed.town.as_of)


def test_a_collector_down_at_the_run_is_called_collector_down(
    towns: Callable[[str], Diagnosed],
) -> None:
    """Seed 706: COL-0002 (124 meters) went down 120 h before the run."""
    diagnosed = towns("collector")
    down = _down_collectors(diagnosed)
    assert down, "the scenario must have a collector down at the run"
    called = diagnosed.verdicts.filter(pl.col("cause") == "collector_down")
    assert not called.is_empty()
    # precision: only meters of a collector the truth has down
    assert set(called["collector"]) <= down, called
    # recall: every meter of the down collector (its size as the run counts it)
    for collector, group in called.group_by("collector"):
        sizes: list[int] = group["collector_meters"].to_list()
        assert group.height >= max(sizes), (collector, group)


@pytest.mark.parametrize("scenario", ["collector", "collectors_repeated"])
def test_a_collector_outage_is_not_radio_failures(
    scenario: str, towns: Callable[[str], Diagnosed]
) -> None:
    diagnosed = towns(scenario)
    verdicts = diagnosed.verdicts
    assert not _serials(verdicts, "radio_module_failure")
    assert not _serials(verdicts, "weak_mesh_path")
    silent = verdicts.filter((pl.col("kind") == "non_communicating") & (pl.col("mode") == "silent"))
    assert not silent.is_empty()
    assert set(silent["cause"]) == {"collector_down"}, silent


@pytest.mark.xfail(
    strict=True,
    reason="diagnostics limit: meters that read intermittently only because their collector "
    "was down for hours in the last two days (seed 407: 93 meters of COL-0001/2/4) open "
    "non-communicating exceptions judged 'undetermined' (non_communicating.intermittent), "
    "not the collector",
)
def test_meters_intermittent_after_a_collector_outage_are_not_meter_exceptions(
    towns: Callable[[str], Diagnosed],
) -> None:
    diagnosed = towns("collectors_repeated")
    noncomm = diagnosed.verdicts.filter(pl.col("kind") == "non_communicating")
    assert set(noncomm["cause"]) <= {"collector_down"}, noncomm.group_by("cause", "rule").len()


# -- look-alikes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LookAlike:
    """A town that looks like a cause, the causes no verdict may name in it, and what makes it
    a look-alike: at least ``minimum`` ground-truth records of ``kind`` (None: a territory
    share the truth does not record, such as the TOU rate or rooftop solar)."""

    scenario: str
    forbidden: frozenset[str]
    kind: str | None = None
    minimum: int = 0


LOOK_ALIKE_CASES: dict[str, LookAlike] = {
    "vacant_premise_is_not_stopped_register": LookAlike(
        "vacant", frozenset({"stopped_register"}), "vacant_premise", 40
    ),
    "transformer_outage_is_not_radio_or_mesh": LookAlike(
        "transformer",
        frozenset({"radio_module_failure", "weak_mesh_path", "collector_down"}),
        "transformer_outage",
        10,
    ),
    "tamper_without_theft_is_not_bypass": LookAlike(
        "tamper", frozenset({"bypass_theft"}), "tamper_without_theft", 5
    ),
    "genuine_exchange_is_not_wrong_multiplier": LookAlike(
        "exchange_genuine", frozenset({"wrong_multiplier"}), "vacant_premise", 5
    ),
    "tou_rate_without_misprogram_is_not_tou_misprogram": LookAlike(
        "tou_look_alike", frozenset({"tou_misprogram"})
    ),
    "net_metered_solar_is_not_ct_polarity": LookAlike("solar", frozenset({"ct_polarity"})),
}
"""Look-alike case → its town, the forbidden causes and the condition it must hold."""


@pytest.mark.parametrize("case", list(LOOK_ALIKE_CASES))
def test_a_look_alike_town_gets_no_such_verdict(
    case: str, towns: Callable[[str], Diagnosed]
) -> None:
    spec = LOOK_ALIKE_CASES[case]
    diagnosed = towns(spec.scenario)
    if spec.kind is not None:
        held = sum(1 for f in diagnosed.faults if f["kind"] == spec.kind)
        print(case, spec.kind, held)
        assert held >= spec.minimum, (case, spec.kind, held)
    wrong = diagnosed.verdicts.filter(pl.col("cause").is_in(sorted(spec.forbidden)))
    assert wrong.is_empty(), wrong


def test_meters_in_a_power_outage_are_not_non_communicating(
    towns: Callable[[str], Diagnosed],
) -> None:
    """Transformer and feeder outages only: their meters' silences are suppressed (or, when
    a silence outlasts the outage's end, called a power outage), never a meter fault."""
    diagnosed = towns("transformer")
    noncomm = diagnosed.verdicts.filter(pl.col("kind") == "non_communicating")
    assert set(noncomm["cause"]) <= {"power_outage"}, noncomm


def test_vacancies_after_genuine_exchanges_are_called_vacant(
    towns: Callable[[str], Diagnosed],
) -> None:
    """The look-alike's customers leave on the exchange day: their verdicts say vacant."""
    diagnosed = towns("exchange_genuine")
    vacant = {
        str(f["meter_serial"])
        for f in diagnosed.faults
        if f["kind"] == "vacant_premise" and f.get("meter_serial")
    }
    called = _serials(diagnosed.verdicts, "vacant_premise")
    assert len(called) >= 6  # measured: 8 of the 10 exchanges (the other two: the xfail below)
    assert called <= vacant, sorted(called - vacant)


@pytest.mark.xfail(
    strict=True,
    reason="diagnostics limit: a premise vacated at a genuine exchange 6.7 days before the "
    "run (seed 112: meters 3750365229, 3750365274, exchanged 20 Jul) is called "
    "stopped_register (zero_consumption.stopped_register.standing: prior_kwh_per_day null, "
    "no exchange facts), not vacant_premise",
)
def test_a_vacancy_after_a_recent_exchange_is_not_a_stopped_register(
    towns: Callable[[str], Diagnosed],
) -> None:
    diagnosed = towns("exchange_genuine")
    stopped = diagnosed.verdicts.filter(pl.col("cause") == "stopped_register")
    assert stopped.is_empty(), stopped


@pytest.mark.xfail(
    strict=True,
    reason="diagnostics limit: two premises 128 m apart vacated a day apart (seed 119, "
    "vacancy_share 0.3, 6 moves a year: meters 4151911396 at SP00000112, whose use fell to 0 "
    "on 7 Jul, and 6341264051 at SP00000125, whose account closed on 8 Jul) are called "
    "crossed_meters (crossed_meters.swap), with no swap in the truth",
)
def test_vacancies_are_not_crossed_meters(towns: Callable[[str], Diagnosed]) -> None:
    diagnosed = towns("vacant")
    crossed = diagnosed.verdicts.filter(pl.col("cause") == "crossed_meters")
    assert crossed.is_empty(), crossed


def test_a_clean_town_sends_no_field_visit(towns: Callable[[str], Diagnosed]) -> None:
    """No fault at all: no verdict sends a truck (what remains is customer usage, service
    voltage and short silences for a remote re-read)."""
    diagnosed = towns("clean")
    visits = diagnosed.verdicts.filter(pl.col("action") == "field")
    assert visits.is_empty(), visits
    faulty = diagnosed.verdicts.filter(pl.col("cause").is_in(sorted(CAUSES_OF_FAULTS)))
    assert faulty.is_empty(), faulty


CAUSES_OF_FAULTS = frozenset(c.value for c in scoring.SIMULATOR_CAUSES.values()) | {
    "collector_down",
    "power_outage",
}
"""Causes that name a fault: none of them belongs in a town without faults."""
