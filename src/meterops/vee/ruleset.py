"""The VEE rule set: thresholds a utility can edit, loaded from YAML into frozen parameters.

The packaged default is ``vee/default_rules.yaml``; a utility passes its own copy with
``meterops vee run --rules FILE``. Every rule of :data:`meterops.vee.rules.RULES` has a section
with ``enabled`` and its parameters (the fields of the rule's parameter dataclass); the
``estimation`` section sets the estimators. Unknown sections or keys, missing values and wrong
types are refused with an :class:`~meterops.errors.InvalidInputError` naming the file and the
key, so a typo never silently falls back to a default.

Pure module: standard library, yaml and pure meterops modules only; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

import yaml

from meterops.errors import InvalidInputError
from meterops.vee.rules import RULES

__all__ = [
    "DEFAULT_RULES_FILE",
    "EstimationParams",
    "RuleSet",
    "dump_rule_set",
    "load_rule_set",
    "parse_rule_set",
]

DEFAULT_RULES_FILE: Final = "default_rules.yaml"
"""Name of the packaged default rule set (in ``meterops.vee``)."""


@dataclass(frozen=True, slots=True)
class EstimationParams:
    """Parameters of the estimators (``estimation`` section).

    Attributes:
        enabled: Whether VEE estimates gaps at all.
        max_interpolation_s: Longest gap filled by linear interpolation. [s]
        like_days: How many earlier like days (weekday / weekend) the like-day profile
            averages.
    """

    enabled: bool = True
    max_interpolation_s: int = 7200
    like_days: int = 3


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A loaded rule set.

    Attributes:
        version: The rule set's own version string (raise it when a threshold changes).
        rules: ``(rule_id, params)`` of every enabled rule, in registry order.
        estimation: Estimator parameters.
        source: Where it was loaded from (for messages and run records).
    """

    version: str
    rules: tuple[tuple[str, Any], ...]
    estimation: EstimationParams
    source: str = "<default>"

    def enabled(self, rule_id: str) -> bool:
        """Whether ``rule_id`` is enabled."""
        return any(rid == rule_id for rid, _ in self.rules)

    def params(self, rule_id: str) -> Any:
        """Parameters of an enabled rule.

        Raises:
            KeyError: The rule is unknown or disabled.
        """
        for rid, params in self.rules:
            if rid == rule_id:
                return params
        msg = f"rule {rule_id!r} is not enabled in rule set {self.version} ({self.source})"
        raise KeyError(msg)


class _Where:
    """Where keys of a YAML document are: dotted key path → 1-based line."""

    def __init__(self, source: str, lines: dict[str, int] | None = None) -> None:
        self.source = source
        self.lines = lines or {}

    def refuse(self, key: str, message: str, *, at: str | None = None) -> InvalidInputError:
        """An error naming the file, the line of ``at`` (or ``key``) and the key."""
        line = self.lines.get(at or key)
        if line is None:  # the closest enclosing key that has a line
            parts = (at or key).split(".")
            while parts and line is None:
                parts.pop()
                line = self.lines.get(".".join(parts))
        where = f"{self.source}:{line}" if line is not None else self.source
        return InvalidInputError(
            f"{where}: {key}: {message}",
            code="vee.invalid_rule_set",
            details={"file": self.source, "line": line, "key": key},
        )


def _key_lines(text: str) -> dict[str, int]:
    """Dotted key path → line of every mapping key in the document (rule ids keep dots)."""
    lines: dict[str, int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines

    def walk(node: yaml.Node, prefix: str) -> None:
        if not isinstance(node, yaml.MappingNode):
            return
        for key_node, value_node in node.value:
            name = f"{prefix}{key_node.value}"
            lines[name] = key_node.start_mark.line + 1
            walk(value_node, f"{name}.")

    if root is not None:
        walk(root, "")
    return lines


def _refuse(source: str, key: str, message: str) -> InvalidInputError:
    return _Where(source).refuse(key, message)


def _build(cls: type[Any], section: dict[str, Any], *, where: _Where, key: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(section) - set(fields))
    if unknown:
        raise where.refuse(
            key, f"unknown keys {unknown}; allowed: {sorted(fields)}", at=f"{key}.{unknown[0]}"
        )
    values: dict[str, Any] = {}
    for name, given in section.items():
        default = None if _required(fields[name]) else getattr(cls(), name)
        values[name] = _checked(given, default, where=where, key=f"{key}.{name}")
    return cls(**values)


def _checked(value: Any, default: Any, *, where: _Where, key: str) -> Any:
    """``value`` converted to the type of ``default`` (a number when there is no default)."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise where.refuse(key, f"expected true or false, found {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise where.refuse(key, f"expected a number, found {value!r}")
    if isinstance(default, int) and not isinstance(value, int):
        raise where.refuse(key, f"expected an integer, found {value!r}")
    if value < 0:
        raise where.refuse(key, f"must not be negative, found {value!r}")
    return value if isinstance(default, int) else float(value)


def _required(field: dataclasses.Field[Any]) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def parse_rule_set(text: str, *, source: str = "<text>") -> RuleSet:
    r"""Parse a YAML rule set.

    Args:
        text: The YAML document.
        source: File name for messages.

    Returns:
        The rule set; rules missing from the document are enabled with their defaults.

    Raises:
        InvalidInputError: Malformed YAML, unknown sections or keys, or wrong value types;
            the message and ``details`` name the file, the line and the key.

    Examples:
        >>> rs = parse_rule_set("version: '1'\nrules:\n  limits.spike: {factor: 5}\n")
        >>> rs.params("limits.spike").factor
        5.0
        >>> rs.enabled("usage.flatline")
        True
    """
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise InvalidInputError(
            f"{source}{line}: <document>: not valid YAML ({error})",
            code="vee.invalid_rule_set",
            details={"file": source, "line": mark.line + 1 if mark else None, "key": None},
        ) from None
    where = _Where(source, _key_lines(text))
    if not isinstance(document, dict):
        raise where.refuse("<document>", "expected a mapping with version, rules, estimation")
    unknown = sorted(set(document) - {"version", "rules", "estimation"})
    if unknown:
        raise where.refuse("<document>", f"unknown sections {unknown}", at=str(unknown[0]))
    sections = document.get("rules") or {}
    if not isinstance(sections, dict):
        raise where.refuse("rules", "expected a mapping of rule id to settings")
    unknown_rules = sorted(set(sections) - set(RULES))
    if unknown_rules:
        raise where.refuse(
            "rules",
            f"unknown rules {unknown_rules}; known: {sorted(RULES)}",
            at=f"rules.{unknown_rules[0]}",
        )
    rules: list[tuple[str, Any]] = []
    for rule_id, spec in RULES.items():
        raw = sections.get(rule_id) or {}
        if not isinstance(raw, dict):
            raise where.refuse(f"rules.{rule_id}", "expected a mapping of settings")
        section = dict(raw)
        enabled = section.pop("enabled", True)
        if not isinstance(enabled, bool):
            raise where.refuse(f"rules.{rule_id}.enabled", f"expected true or false: {enabled!r}")
        if enabled:
            params = _build(spec.params_type, section, where=where, key=f"rules.{rule_id}")
            rules.append((rule_id, params))
    estimation_section = document.get("estimation") or {}
    if not isinstance(estimation_section, dict):
        raise where.refuse("estimation", "expected a mapping")
    estimation = _build(EstimationParams, estimation_section, where=where, key="estimation")
    return RuleSet(str(document.get("version", "unversioned")), tuple(rules), estimation, source)


def load_rule_set(path: Path | None = None) -> RuleSet:
    """Load a rule set file, or the packaged default when ``path`` is None.

    Raises:
        InvalidInputError: The file cannot be read or is not a valid rule set.
    """
    if path is None:
        text = resources.files("meterops.vee").joinpath(DEFAULT_RULES_FILE).read_text("utf-8")
        return parse_rule_set(text, source=DEFAULT_RULES_FILE)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise _refuse(str(path), "<file>", f"cannot be read ({error.strerror})") from None
    return parse_rule_set(text, source=str(path))


def dump_rule_set(rule_set: RuleSet) -> str:
    r"""The rule set as a YAML document that :func:`parse_rule_set` reads back.

    Every registered rule is listed, disabled ones with ``enabled: false``, so the output is a
    complete starting point for a utility's own file.

    Examples:
        >>> text = dump_rule_set(load_rule_set())
        >>> parse_rule_set(text) == dataclasses.replace(load_rule_set(), source="<text>")
        True
    """
    rules: dict[str, dict[str, Any]] = {}
    for rule_id in RULES:
        if rule_set.enabled(rule_id):
            params = rule_set.params(rule_id)
            fields = {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
            rules[rule_id] = {"enabled": True, **fields}
        else:
            rules[rule_id] = {"enabled": False}
    estimation = {
        f.name: getattr(rule_set.estimation, f.name)
        for f in dataclasses.fields(rule_set.estimation)
    }
    document = {"version": rule_set.version, "rules": rules, "estimation": estimation}
    return yaml.safe_dump(document, sort_keys=False)
