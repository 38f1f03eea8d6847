"""Distribution grid: feeders and the distribution transformers they serve."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterops.db.base import Base, BigIntPK
from meterops.models.org import Territory

__all__ = ["Feeder", "Transformer"]


class Feeder(Base):
    """A distribution feeder (circuit) out of a substation."""

    __tablename__ = "feeders"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    substation: Mapped[str | None] = mapped_column(String(100))
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id"), index=True)

    territory: Mapped[Territory] = relationship(lazy="raise")


class Transformer(Base):
    """A distribution transformer; typically 5-12 service points hang off one."""

    __tablename__ = "transformers"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    feeder_id: Mapped[int] = mapped_column(ForeignKey("feeders.id"), index=True)
    kva: Mapped[float | None]
    phases: Mapped[int] = mapped_column(default=1)
    latitude: Mapped[float]
    longitude: Mapped[float]

    feeder: Mapped[Feeder] = relationship(lazy="raise")
