"""The XML fast paths (ESPI, CIM) equal the reference path (lxml + XSLT) on every input.

``_parse(..., fast=False)`` is the reference; ``fast=True`` is what ``parse_espi`` and
``parse_cim`` run. Both must give identical frames, issues and row counts, or the same
refusal, on the public Green Button feeds, the golden cases, generated documents (Hypothesis)
and a malformed corpus; the fast path must actually be taken where it claims to apply.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from meterops.ingest.formats import _cim_fast, _espi_fast, cim, espi
from meterops.ingest.formats._common import IssueLog
from meterops.ingest.formats._xml_scan import scan
from meterops.ingest.formats.base import ParsedBatch, ParseError
from meterops.ingest.formats.espi import EspiReadingType
from tests.ingest.formats.fuzz import corpus

CASES = Path(__file__).parent / "cases"
MR = "http://iec.ch/TC57/2011/MeterReadings#"
ATOM = "http://www.w3.org/2005/Atom"
ESPI = "http://naesb.org/espi"


def _outcome(run: Any) -> ParsedBatch | tuple[str, list[Any]]:
    try:
        result: ParsedBatch = run()
    except ParseError as error:
        return ("refused", list(error.issues))
    return result


def _assert_same(fast: Any, reference: Any) -> None:
    if isinstance(reference, tuple) or isinstance(fast, tuple):
        assert fast == reference
        return
    for frame in ("interval_reads", "register_reads", "events"):
        assert_frame_equal(getattr(fast, frame), getattr(reference, frame))
    assert fast.issues == reference.issues
    assert fast.rows_in_file == reference.rows_in_file


def _same_cim(data: bytes, *, strict: bool = False) -> None:
    outcomes = [
        _outcome(lambda f=f: cim._parse(data, name="c.xml", strict=strict, fast=f))
        for f in (True, False)
    ]
    _assert_same(*outcomes)


def _same_espi(data: bytes, **options: Any) -> None:
    settings_ = {"serial_number": None, "reading_type_fallback": None, "strict": False} | options

    def run(fast: bool) -> ParsedBatch:
        return espi._parse(data, name="g.xml", fast=fast, **settings_)

    _assert_same(_outcome(lambda: run(True)), _outcome(lambda: run(False)))


# -- real files and golden cases ----------------------------------------------------------------


def test_every_public_green_button_feed_takes_the_fast_path_and_equals_the_reference(
    shared_data: Path,
) -> None:
    feeds = sorted((shared_data / "greenbutton" / "data").rglob("*.xml"))
    assert feeds
    for feed in feeds:
        data = feed.read_bytes()
        assert _espi_fast.extract(data) is not None, feed.name
        _same_espi(data)
        _same_espi(data, serial_number="S1", reading_type_fallback=EspiReadingType(169, -3))


def test_golden_cases_equal_the_reference() -> None:
    for path in sorted((CASES / "cim").glob("*/input.xml")):
        _same_cim(path.read_bytes())
    for path in sorted((CASES / "espi").glob("*/input.xml")):
        _same_espi(path.read_bytes())


# -- generated documents -----------------------------------------------------------------------

_SPACE = st.sampled_from(["", " ", "\n", "\n  ", "\t", "\r\n"])
_COMMENT = st.sampled_from(["", "", "", "<!-- note -->", "<?pi data?>"])
_READING_TYPES = [
    "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0",
    "0.0.2.4.19.1.12.0.0.0.0.0.0.0.0.3.72.0",
    "0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0",
    "0.8.2.6.0.1.54.0.0.0.0.0.0.0.0.0.29.0",
    "0.0.0.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0",
    "1.2.3",
    "",
]
_STAMPS = [
    "2024-03-01T05:15:00Z",
    "2024-03-01T05:30:00.000000Z",
    "2024-03-01T07:45:00+02:00",
    "2024-03-01T05:15:00",
    "yesterday",
    "",
]
_VALUES = ["0.192", "12", "-3.5", "1e3", "abc", "", "1e400", " 7 "]


@st.composite
def _leaf(draw: st.DrawFn, tag: str, options: list[str]) -> str:
    text = draw(st.sampled_from(options))
    if draw(st.booleans()):
        text = draw(_SPACE) + text + draw(_SPACE)
    if draw(st.integers(0, 9)) == 0:
        text += draw(_COMMENT)  # a comment inside a value: only the reference path handles it
    return f"<{tag}>{text}</{tag}>"


@st.composite
def _cim_reading(draw: st.DrawFn, t: Any, sp: str) -> str:
    reading = [draw(_leaf(t("timeStamp"), _STAMPS))]
    if draw(st.integers(0, 5)) == 0:
        start = draw(_leaf(t("start"), _STAMPS))
        reading.append(f"<{t('timePeriod')}>{start}</{t('timePeriod')}>")
    reading.append(draw(_leaf(t("value"), _VALUES)))
    for _ in range(draw(st.integers(0, 2))):
        code = draw(st.sampled_from(["1.0.0", "3.8.0", "1.5.257", "2.7.1"]))
        reading.append(
            f'<{t("ReadingQualities")}><{t("ReadingQualityType")} ref="{code}"/>'
            f"</{t('ReadingQualities')}>"
        )
    if draw(st.integers(0, 6)) == 0:
        reading.append(f"<{t('other')} a='1'>x</{t('other')}>")
    if draw(st.booleans()):
        draw(st.randoms()).shuffle(reading)
    return f"<{t('IntervalReadings')}>{sp.join(reading)}</{t('IntervalReadings')}>"


@st.composite
def cim_documents(draw: st.DrawFn) -> bytes:
    prefix = draw(st.sampled_from(["", "m:", "cim:"]))

    def t(name: str) -> str:
        return prefix + name

    sp = draw(_SPACE)
    out: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        meter = []
        for field in draw(st.lists(st.sampled_from(["serialNumber", "mRID", "Names"]), max_size=3)):
            if field == "Names":
                meter.append(
                    f"<{t('Names')}>{draw(_leaf(t('name'), ['N1', 'N2', '']))}</{t('Names')}>"
                )
            else:
                meter.append(draw(_leaf(t(field), ["S1", "S2", " S 3 ", ""])))
        blocks = []
        for _ in range(draw(st.integers(0, 2))):
            refs = draw(st.lists(st.sampled_from(_READING_TYPES), min_size=0, max_size=2))
            parts = [f'<{t("ReadingType")} ref="{ref}"/>' for ref in refs]
            if draw(st.integers(0, 4)) == 0:
                parts.append(
                    f"<{t('PendingCalculation')}>{draw(_leaf(t('scalarFloat'), ['2', '0.5', 'x']))}"
                    f"{draw(_leaf(t('offset'), ['1', '']))}"
                    f"{draw(_leaf(t('multiplyBeforeAdd'), ['true', 'false']))}"
                    f"</{t('PendingCalculation')}>"
                )
            parts.extend(draw(_cim_reading(t, sp)) for _ in range(draw(st.integers(0, 4))))
            blocks.append(f"<{t('IntervalBlocks')}>{sp.join(parts)}</{t('IntervalBlocks')}>")
        meter_xml = f"<{t('Meter')}>{''.join(meter)}</{t('Meter')}>" if meter else ""
        children = [meter_xml, draw(_COMMENT), *blocks]
        if draw(st.booleans()):
            draw(st.randoms()).shuffle(children)
        reading_xml = sp.join(children)
        out.append(f"<{t('MeterReading')}>{sp}{reading_xml}</{t('MeterReading')}>")
    declaration = f'xmlns{":" + prefix[:-1] if prefix else ""}="{MR}"'
    body = sp.join(out)
    document = f"<{t('MeterReadings')} {declaration}>{sp}{body}{sp}</{t('MeterReadings')}>"
    if draw(st.booleans()):
        document = (
            '<RequestMessage xmlns="http://iec.ch/TC57/2011/schema/message" '
            f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="x"><Payload>'
            f"{document}</Payload></RequestMessage>"
        )
    head = draw(st.sampled_from(["", '<?xml version="1.0" encoding="UTF-8"?>\n']))
    return (head + draw(_COMMENT) + document + "\n").encode()


@st.composite
def espi_feeds(draw: st.DrawFn) -> bytes:
    prefix = draw(st.sampled_from(["espi:", ""]))
    base = "https://x.invalid/espi/1_1/resource"
    point = f"{base}/RetailCustomer/1/UsagePoint/{draw(st.sampled_from(['P1', 'P2']))}"
    sp = draw(_SPACE)

    def e(name: str) -> str:
        return prefix + name

    ns = "" if prefix else f' xmlns="{ESPI}"'

    def entry(links: list[tuple[str, str]], kind: str, body: str) -> str:
        link_xml = "".join(f'<link rel="{rel}" href="{href}"/>' for rel, href in links)
        content = f"<{e(kind)}{ns}>{body}</{e(kind)}>"
        return f"<entry>{sp}<id>x</id>{link_xml}{sp}<content>{content}</content>{sp}</entry>"

    entries = [entry([("self", point), ("related", f"{point}/MeterReading")], "UsagePoint", "")]
    entries.append(
        entry(
            [("self", f"{point}/MeterReading/1"), ("related", f"{base}/ReadingType/7")],
            "MeterReading",
            "",
        )
    )
    fields = []
    for tag, options in (
        ("flowDirection", ["1", "19", "4", ""]),
        ("intervalLength", ["900", "3600", ""]),
        ("powerOfTenMultiplier", ["-3", "0", "3", ""]),
        ("uom", ["72", "169", "29", "99", ""]),
    ):
        if draw(st.integers(0, 4)):
            fields.append(draw(_leaf(e(tag), options)))
    entries.append(entry([("self", f"{base}/ReadingType/7")], "ReadingType", sp.join(fields)))
    for b in range(draw(st.integers(1, 3))):
        readings = []
        for _ in range(draw(st.integers(0, 4))):
            parts = []
            if draw(st.integers(0, 4)):
                duration = draw(_leaf(e("duration"), ["900", "3600", "0", "x", ""]))
                start = draw(
                    _leaf(e("start"), ["1709269200", "1709270100", "1709270100.5", "x", ""])
                )
                parts.append(f"<{e('timePeriod')}>{duration}{start}</{e('timePeriod')}>")
            parts.append(draw(_leaf(e("value"), ["192000", "-5", "7", "x", ""])))
            if draw(st.integers(0, 3)) == 0:
                quality = draw(_leaf(e("quality"), ["8", "14", "99", ""]))
                parts.append(f"<{e('ReadingQuality')}>{quality}</{e('ReadingQuality')}>")
            readings.append(f"<{e('IntervalReading')}>{sp.join(parts)}</{e('IntervalReading')}>")
        interval = (
            f"<{e('interval')}><{e('duration')}>86400</{e('duration')}>"
            f"{draw(_leaf(e('start'), ['1709269200', '']))}</{e('interval')}>"
        )
        links = [("self", f"{point}/MeterReading/1/IntervalBlock/{b}")]
        if draw(st.booleans()):
            links.append(("up", f"{point}/MeterReading/1/IntervalBlock"))
        entries.append(entry(links, "IntervalBlock", interval + sp.join(readings)))
    if draw(st.booleans()):
        draw(st.randoms()).shuffle(entries)
    declarations = f'xmlns="{ATOM}"' + (f' xmlns:espi="{ESPI}"' if prefix else "")
    feed = f"<feed {declarations}>{sp}{draw(_COMMENT)}{sp.join(entries)}{sp}</feed>"
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + feed).encode()


_HYPOTHESIS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@_HYPOTHESIS
@given(cim_documents(), st.booleans())
def test_generated_cim_documents_equal_the_reference(data: bytes, strict: bool) -> None:
    _same_cim(data, strict=strict)


@_HYPOTHESIS
@given(espi_feeds(), st.sampled_from([None, "S9"]), st.booleans())
def test_generated_espi_feeds_equal_the_reference(
    data: bytes, serial: str | None, strict: bool
) -> None:
    _same_espi(data, serial_number=serial, strict=strict)


def test_what_the_writers_and_golden_cases_hold_takes_the_fast_path() -> None:
    frame = pl.DataFrame(
        {
            "serial_number": ["M1"] * 3,
            "channel": ["kwh_delivered"] * 3,
            "interval_start_utc": [dt.datetime(2024, 3, 10, h, tzinfo=dt.UTC) for h in (5, 6, 7)],
            "interval_s": pl.Series([3600] * 3, dtype=pl.Int32),
            "value": [0.5, 1.25, 0.0],
            "quality_flags": pl.Series([0, 0, 0], dtype=pl.UInt32),
            "source_quality": pl.Series([None] * 3, dtype=pl.String),
        }
    )
    written = cim.write_cim_meter_readings(frame)
    assert _cim_fast.extract(written) is not None
    _same_cim(written)
    feed = espi.write_espi(frame)
    assert _espi_fast.extract(feed) is not None
    _same_espi(feed)
    envelope = (CASES / "cim" / "meter_readings_envelope" / "input.xml").read_bytes()
    assert _cim_fast.extract(envelope) is None  # it holds register Readings: reference path
    for path in (CASES / "espi").glob("*/input.xml"):
        assert _espi_fast.extract(path.read_bytes()) is not None


# -- the subset's border -----------------------------------------------------------------------

_DOC = b'<a xmlns="u" xmlns:p="v" p:k="1"><b>x</b></a>'


@pytest.mark.parametrize(
    "variant",
    [
        b'<!DOCTYPE a [<!ENTITY e "x">]>' + _DOC,
        _DOC.replace(b"<b>x", b"<b>&amp;"),
        _DOC.replace(b"<b>x", b"<b><![CDATA[x]]>"),
        _DOC.replace(b"<b>x", b"<b>\xc3\x28"),
        _DOC.replace(b"<b>x", b"<b>\xef\xbf\xbe"),
        _DOC.replace(b"<b>", b"<b\xc3\xa9>").replace(b"</b>", b"</b\xc3\xa9>"),
        _DOC.replace(b"</b>", b"</c>"),
        _DOC.replace(b"<b>", b"<q:b>").replace(b"</b>", b"</q:b>"),
        _DOC.replace(b'p:k="1"', b'p:k="1" p:k="2"'),
        _DOC.replace(b'p:k="1"', b'k="1" k="2"'),
        _DOC.replace(b'p:k="1"', b"k=1"),
        _DOC.replace(b"x</b>", b"x]]></b>"),
        _DOC.replace(b"x</b>", b"\x01</b>"),
        _DOC + b"<extra/>",
        _DOC[:-2],
        b"<?xml version='1.0' encoding='UTF-16'?>" + _DOC,
        _DOC.replace(b"<b>x</b>", b"<!-- a -- b -->"),
        _DOC.replace(b'xmlns:p="v"', b'xmlns:p="http://www.w3.org/XML/1998/namespace"'),
        _DOC.replace(b'xmlns:p="v"', b'xmlns:p="http,://x"'),
        b"<a>" * 300 + b"</a>" * 300,
        b"",
    ],
)
def test_the_scanner_leaves_everything_outside_its_subset_to_the_reference(
    variant: bytes,
) -> None:
    assert scan(_DOC, ["a", "b"], ["u", "v"], ["k"], 256) is not None
    assert scan(variant, ["a", "b"], ["u", "v"], ["k"], 256) is None


def test_lines_of_the_fast_path_are_the_start_tag_lines() -> None:
    data = (CASES / "cim" / "meter_readings_envelope" / "input.xml").read_bytes()
    fast = _cim_fast.extract(data)
    reference = cim._parse(data, name="c.xml", strict=False, fast=False)
    if fast is not None:
        lines = fast.intervals["line"].to_list()
        assert sorted(lines) == lines
        stored = reference.interval_reads["source_line"].to_list()
        assert set(stored) <= set(lines)


def test_the_malformed_corpora_give_the_reference_result() -> None:
    cim_seeds = [p.read_bytes() for p in sorted((CASES / "cim").glob("*/input.xml"))]
    for data in corpus(cim_seeds, 300, seed=71):
        _same_cim(data)
    espi_seeds = [p.read_bytes() for p in sorted((CASES / "espi").glob("*/input.xml"))]
    for data in corpus(espi_seeds, 300, seed=72):
        _same_espi(data)


def test_whatever_the_scanner_accepts_lxml_accepts_too() -> None:

    from meterops.ingest.formats._xml import parse_xml

    seeds = [p.read_bytes() for p in sorted(CASES.glob("*/*/input.xml"))]
    accepted = 0
    for i, data in enumerate(corpus(seeds, 600, seed=73)):
        if scan(data, ["MeterReading", "entry"], [MR, ATOM, ESPI], ["ref"], 256) is None:
            continue
        accepted += 1
        try:
            parse_xml(data, IssueLog(f"m{i}.xml", strict=False))
        except ParseError as error:  # pragma: no cover - the failure this test looks for
            pytest.fail(f"the scanner accepted what lxml refuses: {error}")
    assert accepted > 0


def test_an_entry_with_several_related_links_joins_them_as_the_reference_does() -> None:
    point = "https://x.invalid/espi/1_1/resource/RetailCustomer/1/UsagePoint/P1"
    links = (
        f'<link rel="related" href="{point}/MeterReading"/><link rel="self" href="{point}"/>'
        f'<link rel="related" href=" {point}/ElectricPowerUsageSummary "/>'
        f'<link rel="up" href="{point}/.."/>'
        f'<link rel="related" href="{point}/LocalTimeParameters"/>'
    )
    feed = (
        f'<feed xmlns="{ATOM}"><entry>{links}<content><UsagePoint xmlns="{ESPI}"/></content>'
        f'</entry><entry><link rel="self" href="{point}/MeterReading/1"/><content>'
        f'<IntervalBlock xmlns="{ESPI}"><IntervalReading><value>5</value></IntervalReading>'
        f"</IntervalBlock></content></entry></feed>"
    ).encode()
    fast = _espi_fast.extract(feed)
    assert fast is not None
    _, reference, _ = espi._reference_tables(feed, IssueLog("g.xml", strict=False))
    assert_frame_equal(fast.entries, reference)
    assert fast.entries["related"].to_list() == [
        f"{point}/MeterReading {point}/ElectricPowerUsageSummary {point}/LocalTimeParameters ",
        "",
    ]
