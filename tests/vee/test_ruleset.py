"""The YAML rule set: defaults, overrides, and refusals that name file, line and key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from meterops.errors import InvalidInputError
from meterops.vee.rules import RULES
from meterops.vee.ruleset import dump_rule_set, load_rule_set, parse_rule_set


def test_the_packaged_rule_set_enables_every_rule_with_its_defaults() -> None:
    rule_set = load_rule_set()
    assert [rid for rid, _ in rule_set.rules] == list(RULES)
    for rule_id, params in rule_set.rules:
        assert params == RULES[rule_id].params_type()  # the YAML repeats the code defaults
    assert rule_set.estimation.max_interpolation_s == 7200


def test_overrides_and_disabling() -> None:
    text = (
        "version: '9'\nrules:\n  limits.spike:\n    factor: 5\n"
        "  usage.flatline:\n    enabled: false\n"
    )
    rule_set = parse_rule_set(text)
    assert rule_set.version == "9"
    assert rule_set.params("limits.spike").factor == 5.0
    assert rule_set.params("limits.spike").min_value == 1.0
    assert not rule_set.enabled("usage.flatline")
    with pytest.raises(KeyError, match="not enabled"):
        rule_set.params("usage.flatline")


def test_dump_round_trips_a_changed_rule_set() -> None:
    text = (
        "version: x\nrules:\n  usage.zero_run: {min_duration_s: 3600}\n"
        "  limits.spike: {enabled: false}\n"
    )
    rule_set = parse_rule_set(text)
    again = parse_rule_set(dump_rule_set(rule_set))
    assert again == dataclasses.replace(rule_set, source="<text>")


BAD = [
    (
        "version: '1'\nrules:\n  limits.spike:\n    factr: 5\n",
        4,
        "rules.limits.spike",
        "factr",
    ),
    (
        "version: '1'\nrules:\n  limits.spike:\n    factor: lots\n",
        4,
        "rules.limits.spike.factor",
        "number",
    ),
    (
        "version: '1'\nrules:\n  usage.zero_run:\n    min_duration_s: 1.5\n",
        4,
        "rules.usage.zero_run.min_duration_s",
        "integer",
    ),
    (
        "version: '1'\nrules:\n  limits.spike:\n    factor: -2\n",
        4,
        "rules.limits.spike.factor",
        "negative",
    ),
    (
        "version: '1'\nrules:\n  limits.spike:\n    enabled: yes please\n",
        4,
        "rules.limits.spike.enabled",
        "true or false",
    ),
    ("version: '1'\nrules:\n\n  limits.spikes:\n    factor: 2\n", 4, "rules", "limits.spikes"),
    ("version: '1'\nthresholds: {}\n", 2, "<document>", "thresholds"),
    (
        "version: '1'\nestimation:\n  like_days: 3\n  max_interp: 10\n",
        4,
        "estimation",
        "max_interp",
    ),
    ("version: '1'\nrules:\n  limits.spike: [1, 2]\n", 3, "rules.limits.spike", "mapping"),
    ("version: '1'\nrules: {limits.spike: {factor: 2}\n", 3, "<document>", "YAML"),
]


@pytest.mark.parametrize(("text", "line", "key", "words"), BAD)
def test_bad_rule_sets_name_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, words: str
) -> None:
    path = tmp_path / "utility_rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInputError) as caught:
        load_rule_set(path)
    error = caught.value
    assert str(error).startswith(f"{path}:{line}: {key}:")
    assert words in str(error)
    assert error.details["file"] == str(path)
    assert error.details["line"] == line
    assert error.code == "vee.invalid_rule_set"


def test_an_unreadable_file_is_refused_with_its_name(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="cannot be read"):
        load_rule_set(tmp_path / "nope.yaml")
