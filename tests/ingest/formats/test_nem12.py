from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from meterops.ingest.formats.base import ParseError
from meterops.ingest.formats.nem12 import parse_nem12, read_nem12, sniff_nem12

from .fuzz import check_never_crashes, corpus
from .golden import CASES, discover, run_case


@pytest.mark.parametrize("folder", discover("nem12"))
def test_golden_case(folder: Path, update_golden: bool) -> None:
    run_case(folder, parse_nem12, update_golden)


def _valid_files(root: Path) -> list[Path]:
    folder = root / "nem12"
    paths = [
        *folder.glob("nem12/*"),
        *folder.glob("nem13/*"),
        *folder.glob("unzipped/*"),
        *folder.glob("*.zip"),
    ]
    return sorted(p for p in paths if p.is_file())


def test_every_valid_public_file_parses_strictly(shared_data: Path) -> None:
    files = _valid_files(shared_data)
    assert len(files) > 150
    for path in files:
        batch = read_nem12(path, strict=True)
        assert batch.row_count > 0, path.name
        assert batch.rows_in_file == batch.row_count, path.name


def test_every_invalid_public_file_is_rejected_naming_file_and_line(shared_data: Path) -> None:
    files = sorted((shared_data / "nem12" / "invalid").iterdir())
    assert len(files) >= 10
    for path in files:
        with pytest.raises(ParseError) as caught:
            read_nem12(path, strict=True)
        issue = caught.value.issues[0]
        assert issue.file.startswith(path.name)
        assert issue.line is not None
        assert issue.field
        assert path.name in str(caught.value)


def test_nem_time_is_aest_without_daylight_saving() -> None:
    # 2023-01-15 is summer in Sydney (AEDT, UTC+11) but NEM time stays UTC+10.
    text = b"100,NEM12,202301160000,MDP,RET\n200,N1,E1,1,E1,N1,M1,kWh,30,\n"
    text += b"300,20230115," + b"0.5," * 48 + b"A,,,20230116000000,\n900\n"
    reads = parse_nem12(text, name="x.csv", strict=True).interval_reads
    assert reads["interval_start_utc"][0] == datetime(2023, 1, 14, 14, 0, tzinfo=UTC)
    assert reads["interval_start_utc"].diff().drop_nulls().unique().to_list() == [
        timedelta(minutes=30)
    ]


def test_watt_hours_are_normalised_to_kilowatt_hours_and_b_is_export() -> None:
    text = b"100,NEM12,202301160000,MDP,RET\n200,N1,E1B1,1,B1,N1,,Wh,30,\n"
    text += b"300,20230115," + b"500," * 48 + b"A,,,20230116000000,\n900\n"
    reads = parse_nem12(text, name="x.csv", strict=True).interval_reads
    assert reads["channel"].unique().to_list() == ["kwh_received"]
    assert reads["value"].unique().to_list() == [0.5]
    assert reads["serial_number"].unique().to_list() == ["N1"]  # no meter serial: the NMI


def test_quality_v_takes_each_interval_method_from_the_400_records() -> None:
    reads = read_nem12(CASES / "nem12/multiple_quality/input.csv", strict=True).interval_reads
    quality = reads["source_quality"].to_list()
    assert quality[:20] == ["F14"] * 20
    assert quality[20:24] == ["A"] * 4
    assert quality[24:] == ["S14"] * 24
    assert reads["quality_flags"].to_list()[0] == 3


def test_a_zip_with_two_files_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", "100,NEM12\n")
        archive.writestr("b.csv", "100,NEM12\n")
    with pytest.raises(ParseError, match="exactly one"):
        parse_nem12(buffer.getvalue(), name="two.zip")
    with pytest.raises(ParseError, match="zip"):
        parse_nem12(b"PK\x03\x04broken", name="bad.zip")


def test_a_wrong_version_and_records_after_the_end_are_reported() -> None:
    with pytest.raises(ParseError, match="NEM12 or NEM13"):
        parse_nem12(b"100,NEM14,1,2,3\n900\n", name="v.csv")
    text = b"100,NEM12,202301160000,MDP,RET\n200,N1,E1,1,E1,N1,M1,kWh,30,\n"
    text += b"300,20230115," + b"0.5," * 48 + b"A,,,20230116000000,\n900\n999,x\n"
    batch = parse_nem12(text, name="e.csv")
    assert {i.code for i in batch.issues} == {"record.after_end"}
    without_end = parse_nem12(text.replace(b"900\n999,x\n", b""), name="n.csv")
    assert [i.code for i in without_end.issues] == ["file.no_end_record"]


def test_sniff_recognises_nem_headers() -> None:
    assert sniff_nem12(b"100,NEM13,200401101030")
    assert not sniff_nem12(b"MEPMD01,")


def test_a_malformed_corpus_never_crashes_the_parser() -> None:
    seeds = [p.read_bytes() for p in sorted((CASES / "nem12").glob("*/input.csv"))]
    for i, data in enumerate(corpus(seeds, 1000, seed=12)):
        check_never_crashes(parse_nem12, data, f"m{i}.csv")
        if i % 4 == 0:
            check_never_crashes(
                lambda d, name: parse_nem12(d, name=name, strict=True), data, f"s{i}.csv"
            )


def test_a_file_with_header_and_end_only_is_refused() -> None:
    # Unlike a head-end CSV, NEM12 has no empty delivery: a file needs at least one 200 and
    # 300 record (the public corpus has this file under invalid/, Example_NEM12_empty.csv).
    with pytest.raises(ParseError) as caught:
        parse_nem12(b"100,NEM12,200405011135,MDA1,Ret1\r\n900\r\n", name="e.csv")
    assert caught.value.issues[-1].line == 1


def test_a_file_whose_readings_are_all_unusable_is_refused() -> None:
    text = b"100,NEM12,200405011135,MDA1,Ret1\n200,N1,E1,1,E1,N1,M1,kWh,30,\n"
    text += b"300,20040231," + b"1," * 48 + b"A,,,,\n900\n"  # 31 February
    with pytest.raises(ParseError) as caught:
        parse_nem12(text, name="bad.csv")
    assert 3 in {i.line for i in caught.value.issues}
