"""A small generic repository: the common reads every capability repository needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from meterops.db.base import Base

__all__ = ["RepositoryBase"]

M = TypeVar("M", bound=Base)


class RepositoryBase(Generic[M]):
    """Typed access to one model.

    Subclasses set ``model`` and add the queries their capability needs; repositories never
    commit and hold no business rules.
    """

    model: type[M]

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, id_: int) -> M | None:
        """The row with primary key ``id_``, or None."""
        return self.session.get(self.model, id_)

    def get_by(self, column: InstrumentedAttribute[Any], value: Any) -> M | None:
        """The single row whose ``column`` equals ``value``, or None."""
        return self.session.scalars(select(self.model).where(column == value)).one_or_none()

    def list_all(self, *, limit: int = 1000, offset: int = 0) -> Sequence[M]:
        """Rows in primary-key order."""
        pk = self.model.__mapper__.primary_key[0]
        return self.session.scalars(
            select(self.model).order_by(pk).limit(limit).offset(offset)
        ).all()

    def add(self, obj: M) -> M:
        """Add and flush, so database defaults and ids are filled."""
        self.session.add(obj)
        self.session.flush()
        return obj
