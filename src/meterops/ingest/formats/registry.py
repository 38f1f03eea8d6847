"""Format registry: format id → parse/read/sniff (and writers), and format sniffing.

Pure module: standard library and the format modules only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from meterops.ingest.formats import cim, cmep, espi, headend_csv, nem12
from meterops.ingest.formats._common import strip_bom
from meterops.ingest.formats.base import ParsedBatch

__all__ = ["FORMATS", "FormatSpec", "get_format", "sniff_format"]


@dataclass(frozen=True, slots=True)
class FormatSpec:
    """One supported format.

    Attributes:
        format_id: Stable id used in the import journal (``ParsedBatch.format``).
        description: Plain-language name.
        parse: ``parse_<fmt>(stream, *, name, strict, …) -> ParsedBatch``.
        read: ``read_<fmt>(path, *, strict, …) -> ParsedBatch``.
        sniff: ``sniff_<fmt>(head) -> bool``.
        writers: Writer functions by what they write (empty for read-only formats).
        required_options: Keyword options ``parse``/``read`` need besides name and strict.
    """

    format_id: str
    description: str
    parse: Callable[..., ParsedBatch]
    read: Callable[..., ParsedBatch]
    sniff: Callable[[bytes], bool]
    writers: MappingProxyType[str, Callable[..., bytes]]
    required_options: tuple[str, ...] = ()


def _writers(**functions: Callable[..., Any]) -> MappingProxyType[str, Callable[..., bytes]]:
    return MappingProxyType(functions)


FORMATS: Final = MappingProxyType(
    {
        spec.format_id: spec
        for spec in (
            FormatSpec(
                "nem12",
                "AEMO NEM12/NEM13 meter data file",
                nem12.parse_nem12,
                nem12.read_nem12,
                nem12.sniff_nem12,
                _writers(),
            ),
            FormatSpec(
                "cmep",
                "CMEP MEPMD01 (California Metering Exchange Protocol)",
                cmep.parse_cmep,
                cmep.read_cmep,
                cmep.sniff_cmep,
                _writers(interval_reads=cmep.write_cmep),
                required_options=("zone",),
            ),
            FormatSpec(
                "espi",
                "Green Button (NAESB ESPI) Atom feed",
                espi.parse_espi,
                espi.read_espi,
                espi.sniff_espi,
                _writers(interval_reads=espi.write_espi),
            ),
            FormatSpec(
                "cim",
                "IEC 61968-9 MeterReadings / EndDeviceEvents",
                cim.parse_cim,
                cim.read_cim,
                cim.sniff_cim,
                _writers(
                    meter_readings=cim.write_cim_meter_readings,
                    end_device_events=cim.write_cim_end_device_events,
                ),
            ),
            FormatSpec(
                "headend_csv",
                "Head-end CSV (reads, registers, events, comm stats, topology)",
                headend_csv.parse_headend_csv,
                headend_csv.read_headend_csv,
                headend_csv.sniff_headend_csv,
                _writers(any_kind=headend_csv.write_headend_csv),
            ),
        )
    }
)
"""Every supported format by id, in sniffing order."""


def sniff_format(head: bytes) -> str | None:
    """The id of the format whose signature ``head`` (the first few KB) shows, or None.

    Examples:
        >>> sniff_format(b"100,NEM12,200405011135,MDA1,Ret1")
        'nem12'
        >>> sniff_format(b"MEPMD01,19970819,SENSUS")
        'cmep'
        >>> sniff_format(b"hello") is None
        True
    """
    head = strip_bom(head)
    for format_id, spec in FORMATS.items():
        if spec.sniff(head):
            return format_id
    return None


def get_format(format_id: str) -> FormatSpec:
    """The spec of ``format_id``.

    Raises:
        KeyError: Unknown id; the message lists the known ones.
    """
    try:
        return FORMATS[format_id]
    except KeyError:
        msg = f"unknown format {format_id!r}; known formats: {sorted(FORMATS)}"
        raise KeyError(msg) from None
