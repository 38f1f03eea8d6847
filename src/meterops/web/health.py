"""``/health``: is the app up and can it reach its database?"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from meterops import __version__
from meterops.web.deps import SessionDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """Health report."""

    status: str
    version: str
    database: str


@router.get("/health", response_model=Health)
def health(session: SessionDep) -> Health:
    """Liveness and database reachability."""
    session.execute(text("SELECT 1"))
    return Health(status="ok", version=__version__, database=session.get_bind().dialect.name)
