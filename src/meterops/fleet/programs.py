"""Meter programs file (``programs.yaml``): TOU schedules, demand settings, channels.

A CSV cannot hold a TOU calendar comfortably, so meter programs come as YAML::

    programs:
      - program_code: RES-TOU-2024
        name: Residential TOU 2024
        tariff_code: RTOU            # optional: the tariff this program implements
        demand_interval_min: 15      # default 15
        demand_method: block         # block | rolling
        demand_subinterval_min: 5    # rolling only
        channels: [kwh_delivered, kwh_received]
        tou_schedule: {seasons: …, periods: …, holidays: …}   # see assets/programs.py

Pure module: standard library, PyYAML and pure meterops modules.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import yaml

from meterops.assets.programs import TouSchedule, parse_tou_schedule
from meterops.errors import InvalidInputError, Issue
from meterops.nomenclature import CHANNELS

__all__ = [
    "ProgramSpec",
    "ProgramsFile",
    "parse_programs_file",
    "parse_programs_yaml",
    "render_programs_yaml",
]


@dataclass(frozen=True, slots=True)
class ProgramSpec:
    """A validated meter program from the file.

    Attributes:
        line: Line of the program's entry in the file.
        program_code: Program code.
        name: Program name.
        description: Free text.
        tariff_code: Tariff it implements.
        demand_interval_min: Demand interval. [min]
        demand_method: ``block`` or ``rolling``.
        demand_subinterval_min: Sub-interval of rolling demand. [min]
        channels: Canonical channels recorded.
        schedule: The validated TOU schedule.
    """

    line: int
    program_code: str
    name: str
    description: str | None
    tariff_code: str | None
    demand_interval_min: int
    demand_method: str
    demand_subinterval_min: int | None
    channels: tuple[str, ...]
    schedule: TouSchedule


def _program(entry: dict[str, Any], line: int, file: str) -> ProgramSpec | Issue:
    def issue(field: str | None, message: str) -> Issue:
        return Issue(file, line, field, "programs.invalid", message)

    code = entry.get("program_code")
    if not isinstance(code, str) or not code.strip():
        return issue("program_code", "every program needs a program_code")
    name = entry.get("name") or code
    method = entry.get("demand_method", "block")
    if method not in ("block", "rolling"):
        return issue("demand_method", f"expected 'block' or 'rolling', found {method!r}")
    interval = entry.get("demand_interval_min", 15)
    sub = entry.get("demand_subinterval_min")
    if not isinstance(interval, int) or interval <= 0 or 60 % interval:
        return issue("demand_interval_min", f"expected a divisor of 60, found {interval!r}")
    if method == "rolling" and (not isinstance(sub, int) or sub <= 0 or interval % sub):
        return issue(
            "demand_subinterval_min",
            f"rolling demand needs a sub-interval dividing {interval}, found {sub!r}",
        )
    channels = entry.get("channels") or ["kwh_delivered"]
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        return issue("channels", f"unknown channels {unknown}; known: {sorted(CHANNELS)}")
    try:
        schedule = parse_tou_schedule(entry.get("tou_schedule") or {}, label=code)
    except InvalidInputError as exc:
        return issue("tou_schedule", exc.message)
    return ProgramSpec(
        line=line,
        program_code=code.strip(),
        name=str(name),
        description=entry.get("description"),
        tariff_code=entry.get("tariff_code"),
        demand_interval_min=interval,
        demand_method=method,
        demand_subinterval_min=sub if method == "rolling" else None,
        channels=tuple(channels),
        schedule=schedule,
    )


def parse_programs_yaml(text: str, *, file: str) -> tuple[list[ProgramSpec], list[Issue]]:
    """Parse and validate a programs file.

    Args:
        text: File content.
        file: File name for issues.

    Returns:
        Valid programs and the issues of invalid ones (file, line, field).
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        return [], [Issue(file, line, None, "programs.yaml_syntax", f"not valid YAML: {exc}")]
    entries = document.get("programs") if isinstance(document, dict) else None
    if not isinstance(entries, list) or root is None:
        return [], [
            Issue(file, 1, "programs", "programs.no_list", "expected a top-level 'programs:' list")
        ]
    programs_node = next(v for k, v in root.value if k.value == "programs")
    programs: list[ProgramSpec] = []
    issues: list[Issue] = []
    seen: dict[str, int] = {}
    for node, entry in zip(programs_node.value, entries, strict=True):
        line = node.start_mark.line + 1
        if not isinstance(entry, dict):
            issues.append(Issue(file, line, None, "programs.invalid", "expected a mapping"))
            continue
        result = _program(entry, line, file)
        if isinstance(result, Issue):
            issues.append(result)
        elif result.program_code in seen:
            issues.append(
                Issue(
                    file,
                    line,
                    "program_code",
                    "programs.duplicate",
                    f"program {result.program_code!r} already defined on line "
                    f"{seen[result.program_code]}",
                )
            )
        else:
            seen[result.program_code] = line
            programs.append(result)
    return programs, issues


@dataclass(slots=True)
class ProgramsFile:
    """A parsed programs file.

    Attributes:
        file: File name used in issues.
        sha256: Hex digest of the file's bytes.
        programs: Valid programs.
        issues: Problems of invalid entries (file, line, field).
    """

    file: str
    sha256: str
    programs: list[ProgramSpec] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """Program entries in the file."""
        return len(self.programs) + len(self.issues)


def parse_programs_file(data: bytes, *, file: str) -> ProgramsFile:
    """Parse a programs file from its bytes (UTF-8, BOM accepted)."""
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return ProgramsFile(
            file, sha256, [], [Issue(file, line, None, "programs.encoding", "not UTF-8 text")]
        )
    programs, issues = parse_programs_yaml(text, file=file)
    return ProgramsFile(file, sha256, programs, issues)


def render_programs_yaml(programs: list[dict[str, Any]]) -> str:
    """Write program documents as a programs file (used by the simulator and exports)."""
    return yaml.safe_dump({"programs": programs}, sort_keys=False, allow_unicode=True)
