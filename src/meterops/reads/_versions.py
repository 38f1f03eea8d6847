"""Checks on versions and flags handed to the read store by VEE and editing.

Pure module: polars only; must not import ``meterops.db``, ``models``, ``web``, ``cli`` or
``config``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from meterops.errors import InvalidInputError
from meterops.kit.frames import check_frame
from meterops.reads._current import KEY
from meterops.reads.schema import INTERVAL_FLAGS, INTERVAL_VERSIONS

__all__ = ["VERSION_KINDS", "check_flags", "check_parents", "check_versions"]

VERSION_KINDS: Final = frozenset({"estimate", "edit", "substitute"})
"""Kinds of non-raw versions (standards.md §9.4)."""


def _refuse(frame: pl.DataFrame, bad: pl.Expr, message: str, field: str) -> None:
    count = int(frame.select(bad.fill_null(value=False).sum()).item())
    if count:
        raise InvalidInputError(
            f"{count} row(s) refused: {message}.",
            code=f"reads.invalid_{field}",
            details={"field": field, "count": count},
        )


def _require_text(frame: pl.DataFrame, columns: tuple[str, ...], what: str) -> None:
    for column in columns:
        empty = pl.col(column).is_null() | (pl.col(column).str.strip_chars() == "")
        count = int(frame.select(empty.sum()).item())
        if count:
            raise InvalidInputError(
                f"{count} {what} row(s) have no {column}; every {what} row needs one.",
                code=f"reads.missing_{column}",
                details={"field": column, "count": count},
            )


def check_versions(frame: pl.DataFrame) -> None:
    """Refuse version rows that lack a field or break the numbering rules.

    Raises:
        MissingColumnsError: Columns of ``INTERVAL_VERSIONS`` are missing.
        InvalidInputError: Kind, method, reason code or actor missing or blank (the message
            names the field, VER-02), unknown kind, version below 1, parent not below the
            version, or a (key, version) twice.
    """
    check_frame(frame, INTERVAL_VERSIONS)
    _require_text(frame, ("version_kind", "method", "reason_code", "actor"), "versions")
    _refuse(
        frame,
        ~pl.col("version_kind").is_in(sorted(VERSION_KINDS)),
        f"version_kind must be one of {sorted(VERSION_KINDS)}",
        "version_kind",
    )
    _refuse(frame, pl.col("version") < 1, "version must be 1 or more", "version")
    _refuse(
        frame,
        pl.col("parent_version") >= pl.col("version"),
        "parent_version must be below version",
        "parent_version",
    )
    key = [*KEY, "version"]
    _refuse(frame, pl.struct(key).is_duplicated(), "a (key, version) appears twice", "version")


def check_parents(
    frame: pl.DataFrame, *, raw_keys: pl.DataFrame, version_keys: pl.DataFrame
) -> None:
    """Refuse versions whose parent is neither a visible raw read (0) nor a stored version.

    Args:
        frame: The new versions.
        raw_keys: Keys of visible raw reads in the frame's window.
        version_keys: Keys and version numbers of stored versions in the window.

    Raises:
        InvalidInputError: A parent is missing.
    """
    parents = pl.concat(
        [
            raw_keys.select(*KEY, pl.lit(0, pl.Int32).alias("parent_version")),
            version_keys.select(*KEY, pl.col("version").cast(pl.Int32).alias("parent_version")),
            frame.select(*KEY, pl.col("version").cast(pl.Int32).alias("parent_version")),
        ]
    )
    orphans = frame.filter(pl.col("parent_version").is_not_null()).join(
        parents, on=[*KEY, "parent_version"], how="anti"
    )
    if not orphans.is_empty():
        raise InvalidInputError(
            f"{orphans.height} version(s) name a parent version that is not stored, e.g. "
            f"{orphans.select(*KEY, 'parent_version').row(0)}.",
            code="reads.parent_missing",
            details={"count": orphans.height},
        )


def check_flags(frame: pl.DataFrame) -> None:
    """Refuse flag rows with no actor, an empty mask or bits outside their mask.

    Raises:
        MissingColumnsError: Columns of ``INTERVAL_FLAGS`` are missing.
        InvalidInputError: A row breaks a rule (the message says which).
    """
    check_frame(frame, INTERVAL_FLAGS)
    _require_text(frame, ("actor",), "flags")
    _refuse(frame, pl.col("flag_mask") == 0, "flag_mask must name at least one bit", "mask")
    _refuse(
        frame,
        (pl.col("quality_flags") & ~pl.col("flag_mask")) != 0,
        "quality_flags sets bits outside flag_mask",
        "quality_flags",
    )
    _refuse(frame, pl.col("version") < 0, "version must be 0 or more", "version")
