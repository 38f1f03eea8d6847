"""``create_app(settings)``: the composition root of the web app."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from meterops import __version__
from meterops.assets import api as assets_api
from meterops.config import Settings
from meterops.db.engine import make_engine, make_session_factory
from meterops.web import health
from meterops.web.errors import install_error_handlers
from meterops.web.ui import pages

__all__ = ["create_app"]

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


def create_app(settings: Settings) -> FastAPI:
    """Build the web app for ``settings``.

    Args:
        settings: Configuration (database URL, data directory …).

    Returns:
        The FastAPI application with the API under ``/api/v1``, pages, static files and the
        OpenAPI document at ``/openapi.json``.
    """
    app = FastAPI(
        title="meterops",
        version=__version__,
        description="Smart-meter operations: fleet, meter data, diagnostics, work orders.",
    )
    engine = make_engine(settings.database_url)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    ui = Path(str(resources.files("meterops.web.ui")))
    app.state.templates = Jinja2Templates(directory=ui / "templates")
    app.mount("/static", StaticFiles(directory=ui / "static"), name="static")
    install_error_handlers(app)

    @app.middleware("http")
    async def _security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN202
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", _CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if not request.url.path.startswith("/static"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.include_router(health.router)
    app.include_router(assets_api.router, prefix="/api/v1")
    app.include_router(pages.router)
    return app
