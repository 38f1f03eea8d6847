from __future__ import annotations

from pathlib import Path

import pytest

from meterops.ingest.formats.registry import FORMATS, get_format, sniff_format

from .golden import CASES


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("cmep/sensus_electric_day/input.cmep", "cmep"),
        ("nem12/multiple_quality/input.csv", "nem12"),
        ("cim/end_device_events/input.xml", "cim"),
        ("cim/meter_readings_envelope/input.xml", "cim"),
        ("headend_csv/topology/input.csv", "headend_csv"),
        ("headend_csv/events/input.csv", "headend_csv"),
    ],
)
def test_sniffing_names_the_format_of_each_sample(case: str, expected: str) -> None:
    assert sniff_format((CASES / case).read_bytes()[:4096]) == expected


def test_sniffing_recognises_green_button(shared_data: Path) -> None:
    head = (shared_data / "greenbutton/data/abridged/electric_containerized.xml").read_bytes()
    assert sniff_format(head[:4096]) == "espi"


def test_every_format_has_entry_points_and_unknown_ids_are_refused() -> None:
    assert set(FORMATS) == {"nem12", "cmep", "espi", "cim", "headend_csv"}
    assert get_format("cmep").required_options == ("zone",)
    assert not get_format("nem12").writers
    with pytest.raises(KeyError, match="known formats"):
        get_format("mv90")
