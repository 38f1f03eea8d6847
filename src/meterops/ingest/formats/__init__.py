"""Format parsers and writers: one pure module per industry format.

Each module exposes ``parse_<fmt>(stream, *, name, strict, …) -> ParsedBatch``,
``read_<fmt>(path, *, strict, …) -> ParsedBatch`` and ``sniff_<fmt>(head) -> bool``; writable
formats add ``write_<fmt>``. ``registry`` maps format ids to them and sniffs a file's format.

- ``cmep``: CMEP ``MEPMD01`` interval and register records (read, write).
- ``espi``: Green Button (NAESB ESPI) Atom feeds (read; write one customer's usage).
- ``cim``: IEC 61968-9 ``MeterReadings`` and ``EndDeviceEvents`` (read, write).
- ``nem12``: AEMO NEM12/NEM13 (read).
- ``headend_csv``: head-end CSV for reads, registers, events, comm stats, topology (read,
  write; columns in ``docs/formats/headend-csv.md``).

Every parser emits interval-beginning UTC timestamps and values in the channel's canonical
unit, keeps the source quality code, and names file, line and field in every issue. Modules
here import only the standard library, numpy, polars, pyarrow, lxml and each other.
"""
