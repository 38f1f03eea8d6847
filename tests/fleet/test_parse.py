"""Fleet CSV parsing: every problem located by file, line and field."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterops.fleet.parse import LINE, detect_kind, parse_fleet_csv
from meterops.fleet.spec import KINDS, ColumnType
from tests.fixtures.fleet_files import csv_text, fleet_rows

_OWN_ROWS: dict[str, list[dict[str, object]]] = {
    "meter_exchanges": [
        {
            "service_point_number": "SP-CI",
            "removed_serial": "M-CT1",
            "installed_serial": "M-CT2",
            "exchanged_at": "2026-07-14T15:00:00Z",
            "removed_final_read_kwh": 250,
            "installed_initial_read_kwh": 3,
            "installed_multiplier": 80,
            "work_order_id": "",
        }
    ]
}
"""Rows of kinds the shared fixture does not write (the optional installation history)."""


def _meters(n: int = 5) -> bytes:
    return csv_text(fleet_rows(n)["meters"]).encode()


def test_a_clean_file_parses_every_row_with_its_line() -> None:
    parsed = parse_fleet_csv(_meters(5), file="meters.csv")
    assert parsed.issues == []
    assert parsed.rows == 6
    assert parsed.frame[LINE].to_list() == [2, 3, 4, 5, 6, 7]
    assert parsed.frame["ct_ratio"].to_list()[-1] == 80.0
    assert parsed.frame["installed_at"].dtype.time_zone == "UTC"  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_generated_kind_parses_cleanly(kind: str) -> None:
    rows = fleet_rows(4).get(kind) or _OWN_ROWS[kind]
    parsed = parse_fleet_csv(csv_text(rows).encode(), file=f"{kind}.csv")
    assert parsed.issues == []
    assert parsed.kind.name == kind


@pytest.mark.parametrize(
    ("column", "value", "code"),
    [
        ("ct_ratio", "abc", "fleet.not_a_number"),
        ("ct_ratio", "nan", "fleet.not_finite"),
        ("ct_ratio", "-2", "fleet.out_of_range"),
        ("register_digits", "5.5", "fleet.not_a_number"),
        ("register_digits", "12", "fleet.out_of_range"),
        ("form", "2X", "fleet.bad_choice"),
        ("bidirectional", "maybe", "fleet.not_a_boolean"),
        ("installed_at", "2023-04-01T15:00:00", "fleet.bad_time"),
        ("installed_at", "yesterday", "fleet.bad_time"),
        ("vendor", "", "fleet.required"),
        ("serial_number", "X" * 40, "fleet.too_long"),
    ],
)
def test_a_bad_cell_is_reported_at_its_line_and_field(column: str, value: str, code: str) -> None:
    rows = fleet_rows(5)["meters"]
    rows[3][column] = value
    parsed = parse_fleet_csv(csv_text(rows).encode(), file="meters.csv")
    located = [(i.line, i.field, i.code) for i in parsed.issues]
    assert (5, column, code) in located
    assert 5 not in parsed.frame[LINE].to_list()
    assert all(i.file == "meters.csv" for i in parsed.issues)


def test_a_multiplier_that_is_not_ct_times_pt_is_refused() -> None:
    rows = fleet_rows(2)["meters"]
    rows[-1]["multiplier"] = 40
    parsed = parse_fleet_csv(csv_text(rows).encode(), file="meters.csv")
    assert [(i.line, i.field, i.code) for i in parsed.issues] == [
        (4, "multiplier", "fleet.multiplier_mismatch")
    ]


def test_duplicate_keys_point_at_the_first_occurrence() -> None:
    rows = fleet_rows(3)["meters"]
    rows[2]["serial_number"] = rows[0]["serial_number"]
    parsed = parse_fleet_csv(csv_text(rows).encode(), file="meters.csv")
    (issue,) = parsed.issues
    assert (issue.line, issue.code) == (4, "fleet.duplicate_key")
    assert "first on line 2" in issue.message


def test_unknown_and_missing_columns_are_reported_on_the_header_line() -> None:
    text = "serial_numbr,vendor,model,form,meter_class\nM1,Itron,C,2S,CL200\n"
    parsed = parse_fleet_csv(text.encode(), file="meters.csv")
    found = {(i.line, i.field, i.code) for i in parsed.issues}
    assert (1, "serial_numbr", "fleet.unknown_column") in found
    assert (1, "serial_number", "fleet.missing_column") in found


def test_a_row_with_the_wrong_number_of_fields_is_reported() -> None:
    text = csv_text(fleet_rows(2)["territories"]) + "EXTRA,One,America/Chicago,surplus\n"
    parsed = parse_fleet_csv(text.encode(), file="territories.csv")
    assert [(i.line, i.code) for i in parsed.issues] == [(3, "fleet.field_count")]


def test_quoted_newlines_keep_physical_line_numbers() -> None:
    text = (
        "premise_number,address_line,city,state,postal_code,latitude,longitude,"
        'territory_code\nP1,"12 Elm St\nRear unit",Ames,IA,50010,41.6,-93.6,NORTH\n'
        "P2,14 Elm St,Ames,IA,50010,91,-93.6,NORTH\n"
    )
    parsed = parse_fleet_csv(text.encode(), file="premises.csv")
    assert [(i.line, i.field) for i in parsed.issues] == [(4, "latitude")]


def test_a_byte_order_mark_is_accepted_and_bad_encoding_names_the_line() -> None:
    text = csv_text(fleet_rows(2)["territories"]).encode()
    assert parse_fleet_csv(b"\xef\xbb\xbf" + text, file="territories.csv").issues == []
    broken = text + b"BAD,\xff\xfe,America/Chicago\n"
    (issue,) = parse_fleet_csv(broken, file="territories.csv").issues
    assert (issue.line, issue.code) == (3, "fleet.encoding")


def test_the_kind_is_detected_from_the_header_when_the_name_does_not_say() -> None:
    rows = fleet_rows(2)["technicians"]
    assert detect_kind("export-07.csv", list(rows[0])) == "technicians"
    parsed = parse_fleet_csv(b"a,b\n1,2\n", file="export.csv")
    assert parsed.issues[0].code == "fleet.unknown_kind"


def test_service_point_forms_default_from_the_service_type() -> None:
    parsed = parse_fleet_csv(
        csv_text(fleet_rows(1)["service_points"]).encode(), file="service_points.csv"
    )
    forms = dict(
        zip(
            parsed.frame["service_point_number"],
            parsed.frame["compatible_forms"].to_list(),
            strict=True,
        )
    )
    assert forms["SP0"] == ["2S"]
    assert "9S" in forms["SP-CI"]
    assert "2S" not in forms["SP-CI"]


_NUMERIC = [
    c.name for c in KINDS["meters"].columns if c.type in (ColumnType.NUMBER, ColumnType.INTEGER)
]


@settings(max_examples=60, deadline=None)
@given(
    row=st.integers(min_value=0, max_value=5),
    column=st.sampled_from(_NUMERIC),
    junk=st.text(alphabet="abcxyz!?#", min_size=1, max_size=6),
)
def test_any_non_numeric_cell_is_located(row: int, column: str, junk: str) -> None:
    rows = fleet_rows(5)["meters"]
    rows[row][column] = junk
    parsed = parse_fleet_csv(csv_text(rows).encode(), file="meters.csv")
    assert any(i.line == row + 2 and i.field == column for i in parsed.issues)
