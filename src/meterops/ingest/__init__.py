"""Ingest: industry-format parsers (``formats/``), the import journal and the pipeline."""
