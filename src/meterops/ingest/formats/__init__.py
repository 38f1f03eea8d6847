"""Format parsers and writers: one pure module per industry format.

Each module exposes ``parse_<fmt>(stream, *, name, strict) -> ParsedBatch``,
``read_<fmt>(path, *, strict) -> ParsedBatch`` and ``sniff_<fmt>(head) -> bool``; writable
formats add ``write_<fmt>``. Modules here import only the standard library, numpy, polars,
pyarrow, lxml and each other.
"""
