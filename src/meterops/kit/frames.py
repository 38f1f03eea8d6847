"""Frame contracts: one declaration per frame, checked at capability boundaries only.

A :class:`FrameContract` lists each column's name, Polars dtype, unit and meaning (in the spirit
of pandapower's ``network_schema``). :func:`check_frame` raises
:class:`~meterops.errors.MissingColumnsError` or :class:`~meterops.errors.DataContractError`
naming what is missing or mistyped, and :func:`conform` casts and orders a frame to the contract.

Pure module: standard library and polars only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl

from meterops.errors import DataContractError, MissingColumnsError

__all__ = ["ColumnSpec", "FrameContract", "check_frame", "conform"]


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One column of a frame contract.

    Attributes:
        name: Column name (units in the name where fixed, ``_utc`` on timestamps).
        dtype: Polars dtype.
        description: Meaning, with the unit in square brackets.
        nullable: Whether nulls are allowed.
    """

    name: str
    dtype: pl.DataType
    description: str
    nullable: bool = False


@dataclass(frozen=True, slots=True)
class FrameContract:
    """A named, ordered set of columns.

    Attributes:
        name: Contract name used in error messages, e.g. ``"interval_reads"``.
        columns: Column specs in canonical order.
    """

    name: str
    columns: tuple[ColumnSpec, ...]

    def __iter__(self) -> Iterator[ColumnSpec]:
        return iter(self.columns)

    @property
    def names(self) -> list[str]:
        """Column names in canonical order."""
        return [column.name for column in self.columns]

    @property
    def schema(self) -> pl.Schema:
        """Polars schema of the contract."""
        return pl.Schema({column.name: column.dtype for column in self.columns})

    def empty(self) -> pl.DataFrame:
        """An empty frame with the contract's schema."""
        return pl.DataFrame(schema=self.schema)


def check_frame(
    frame: pl.DataFrame | pl.LazyFrame, contract: FrameContract, *, check_nulls: bool = False
) -> None:
    """Raise when ``frame`` does not satisfy ``contract``.

    Extra columns are allowed. Only call at boundaries: after parsing, before writing, at a
    capability's public entry.

    Args:
        frame: The frame to check (a LazyFrame's schema is resolved, not its data).
        contract: The declared contract.
        check_nulls: Also reject nulls in non-nullable columns (eager frames only).

    Raises:
        MissingColumnsError: Columns are missing.
        DataContractError: A column has the wrong dtype or unexpected nulls.

    Examples:
        >>> c = FrameContract("demo", (ColumnSpec("value", pl.Float64(), "a value"),))
        >>> check_frame(pl.DataFrame({"value": [1.0]}), c)
    """
    schema = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
    missing = [name for name in contract.names if name not in schema]
    if missing:
        raise MissingColumnsError(contract.name, missing, schema.names())
    wrong = {
        column.name: (str(column.dtype), str(schema[column.name]))
        for column in contract
        if schema[column.name] != column.dtype
    }
    if wrong:
        described = ", ".join(f"{k}: expected {e}, found {f}" for k, (e, f) in wrong.items())
        raise DataContractError(
            f"Frame '{contract.name}' has columns of the wrong type ({described}).",
            details={"frame": contract.name, "wrong_dtypes": wrong},
        )
    if check_nulls and isinstance(frame, pl.DataFrame):
        nulls = {
            column.name: frame[column.name].null_count()
            for column in contract
            if not column.nullable and frame[column.name].null_count()
        }
        if nulls:
            raise DataContractError(
                f"Frame '{contract.name}' has nulls in non-nullable columns {nulls}.",
                details={"frame": contract.name, "null_counts": nulls},
            )


def conform(frame: pl.DataFrame, contract: FrameContract) -> pl.DataFrame:
    """Select the contract's columns in order, casting to the declared dtypes.

    Args:
        frame: A frame holding at least the contract's columns.
        contract: The declared contract.

    Returns:
        A new frame with exactly the contract's columns.

    Raises:
        MissingColumnsError: Columns are missing.
    """
    missing = [name for name in contract.names if name not in frame.columns]
    if missing:
        raise MissingColumnsError(contract.name, missing, frame.columns)
    return frame.select(pl.col(c.name).cast(c.dtype) for c in contract)
