"""Alembic migrations (date-stamped revision files, batch mode for SQLite)."""
