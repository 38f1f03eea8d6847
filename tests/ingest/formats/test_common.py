from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from meterops.errors import Issue
from meterops.ingest.formats import _common, _time, _xml, nem12
from meterops.ingest.formats._common import IssueLog, read_input
from meterops.ingest.formats.base import ParsedBatch, ParseError
from meterops.ingest.formats.cim import write_cim_meter_readings
from meterops.ingest.formats.espi import EspiReadingType, parse_espi


def test_read_input_accepts_bytes_binary_and_text_streams() -> None:
    assert read_input(b"abc") == b"abc"
    assert read_input(io.BytesIO(b"abc")) == b"abc"
    assert read_input(io.StringIO("é")) == "é".encode()


def test_read_input_refuses_more_than_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_common, "MAX_INPUT_BYTES", 2)
    with pytest.raises(ValueError, match="larger"):
        read_input(io.BytesIO(b"abcdef"))


def test_a_broken_utf16_file_is_left_for_the_parser_to_refuse() -> None:
    assert _common.strip_bom(b"\xff\xfe\x00") == b"\xff\xfe\x00"


def test_parse_iso_utc_reads_zulu_and_offsets_and_refuses_naive() -> None:
    only_zulu = pl.Series(["2024-01-01T00:00:00Z", None])
    assert _time.parse_iso_utc(only_zulu).to_list() == [datetime(2024, 1, 1, tzinfo=UTC), None]
    mixed = pl.Series(["2024-01-01T01:00:00+01:00", "2024-01-01T00:00:00"])
    assert _time.parse_iso_utc(mixed).to_list() == [datetime(2024, 1, 1, tzinfo=UTC), None]


def test_xml_larger_than_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_xml, "MAX_XML_BYTES", 10)
    with pytest.raises(ParseError, match="exceeds"):
        parse_espi(b"<feed>" + b" " * 20 + b"</feed>", name="big.xml")


def test_a_zip_whose_member_is_too_large_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", "100,NEM12,200405011135,MDA1,Ret1\n900\n")
    monkeypatch.setattr(nem12, "MAX_INPUT_BYTES", 5)
    with pytest.raises(ParseError, match="too large"):
        nem12.parse_nem12(buffer.getvalue(), name="z.zip")


def test_parsed_batch_raises_with_every_issue_and_accepts_later_ones() -> None:
    batch = ParsedBatch(source_name="f.csv", format="cmep")
    batch.raise_if_issues()
    batch.extend_issues([Issue("f.csv", 3, "value", "value.bad", "bad value")])
    with pytest.raises(ParseError, match="line 3"):
        batch.raise_if_issues()


def test_issue_log_in_strict_mode_raises_the_earliest_line() -> None:
    log = IssueLog("f", strict=True)
    log.add(9, "a", "c", "m")
    log.add(2, "b", "c", "m")
    with pytest.raises(ParseError) as caught:
        log.finish()
    assert [i.line for i in caught.value.issues] == [2]


def test_the_cim_writer_writes_an_empty_document_for_nothing(tmp_path: Path) -> None:
    assert b"<MeterReadings" in write_cim_meter_readings(None)


_UNLINKED = b"""<feed xmlns="http://www.w3.org/2005/Atom">
<entry><link rel="self" href="/MeterReading/1"/><content>
<MeterReading xmlns="http://naesb.org/espi"/></content></entry>
<entry><link rel="self" href="/MeterReading/2"/><content>
<MeterReading xmlns="http://naesb.org/espi"/></content></entry>
<entry><link rel="self" href="/elsewhere/IntervalBlock/1"/><content>
<IntervalBlock xmlns="http://naesb.org/espi"><IntervalReading><timePeriod><duration>3600
</duration><start>0</start></timePeriod><value>1</value></IntervalReading></IntervalBlock>
</content></entry></feed>"""


def test_an_interval_block_that_no_meter_reading_claims_is_reported() -> None:
    with pytest.raises(ParseError) as caught:
        parse_espi(_UNLINKED, name="u.xml")
    assert caught.value.issues[0].code == "link.no_meter_reading"
    assert caught.value.issues[0].line == 7


def test_a_tag_name_that_also_appears_in_a_comment_falls_back_to_lxml_lines() -> None:
    feed = _UNLINKED.replace(b"<entry><link", b"<!-- <IntervalReading> --><entry><link", 1)
    feed = feed.replace(
        b'href="/elsewhere/IntervalBlock/1"', b'href="/MeterReading/1/IntervalBlock/1"'
    )
    feed = feed.replace(
        b'<entry><link rel="self" href="/MeterReading/2"/><content>\n'
        b'<MeterReading xmlns="http://naesb.org/espi"/></content></entry>\n',
        b"",
    )
    batch = parse_espi(
        feed, name="c.xml", serial_number="M", reading_type_fallback=EspiReadingType(72)
    )
    assert batch.interval_reads["source_line"].to_list() == [5]


def test_cim_lines_fall_back_to_lxml_when_the_tag_scan_disagrees() -> None:
    from meterops.ingest.formats.cim import parse_cim, quality_flags

    doc = (
        b'<MeterReadings xmlns="http://iec.ch/TC57/2011/MeterReadings#">\n'
        b"<!-- <IntervalReadings> -->\n<MeterReading><IntervalBlocks>\n"
        b"<IntervalReadings><timeStamp>2024-01-01T00:15:00Z</timeStamp><value>5</value>"
        b"</IntervalReadings>\n"
        b'<ReadingType ref="0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"/></IntervalBlocks>\n'
        b"<Meter><mRID>M</mRID></Meter></MeterReading></MeterReadings>"
    )
    reads = parse_cim(doc, name="c.xml", strict=True).interval_reads
    assert reads["source_line"].to_list() == [4]
    assert quality_flags(pl.Series(["", ""])).to_list() == [0, 0]
