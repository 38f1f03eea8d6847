"""HTML pages of the field app (the technician's phone): an installable, offline-capable shell.

The pages are shells: they carry no order data. Their scripts (``static/field/``) fetch the
field API (``/api/v1/field/...``) and keep results made offline in IndexedDB until they are
sent. The service worker (``/field/sw.js``, scope ``/field/``) caches the shell, the day's
route, the orders and the forms, so the app opens and works without a connection.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response

__all__ = [
    "SHELL_ASSETS",
    "manifest",
    "router",
    "service_worker",
    "shell_version",
    "stop_page",
    "today_page",
]

router = APIRouter(include_in_schema=False)

SHELL_ASSETS: tuple[str, ...] = (
    "/static/field/field.css",
    "/static/field/app.js",
    "/static/field/today.js",
    "/static/field/stop.js",
    "/static/field/scan.js",
    "/static/field/icon.svg",
    "/static/field/icon-192.png",
    "/static/field/icon-512.png",
    "/static/vendor/leaflet/leaflet.js",
    "/static/vendor/leaflet/leaflet.css",
)
"""Static files the service worker caches when it installs (the app shell)."""

_ORDER_NUMBER = r"^WO-\d{1,12}$"


def _ui() -> Path:
    return Path(str(resources.files("meterops.web.ui")))


@cache
def shell_version() -> str:
    """A digest of the shell's files: a new version makes the service worker refresh its cache.

    Returns:
        12 hex digits.
    """
    digest = hashlib.sha256()
    ui = _ui()
    for asset in SHELL_ASSETS:
        digest.update((ui / asset.removeprefix("/")).read_bytes())
    for template in ("base_field.html", "today.html", "stop.html", "sw.js"):
        digest.update((ui / "templates" / "field" / template).read_bytes())
    return digest.hexdigest()[:12]


def _render(request: Request, template: str, **context: object) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, f"field/{template}", {"version": shell_version(), **context}
    )


def _sign_in(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/sign-in?next={quote(request.url.path)}", status_code=303)


@router.get("/field", response_class=HTMLResponse, response_model=None)
def today_page(
    request: Request,
    day: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
) -> HTMLResponse | RedirectResponse:
    """Today's route: the list (next stop first) and the map."""
    if request.state.user is None:
        return _sign_in(request)
    return _render(request, "today.html", day=day or "")


@router.get("/field/stops/{order_number}", response_class=HTMLResponse, response_model=None)
def stop_page(
    request: Request,
    order_number: Annotated[str, PathParam(pattern=_ORDER_NUMBER)],
) -> HTMLResponse | RedirectResponse:
    """A stop: confirm, verdict, ping/read, safety, exchange, photos, verification, completion."""
    if request.state.user is None:
        return _sign_in(request)
    return _render(request, "stop.html", order_number=order_number)


@router.get("/field/sw.js")
def service_worker() -> Response:
    """The service worker; its scope is ``/field`` (the route and every stop page)."""
    source = (_ui() / "templates" / "field" / "sw.js").read_text(encoding="utf-8")
    body = source.replace("__VERSION__", shell_version()).replace(
        "__SHELL_ASSETS__", json.dumps(list(SHELL_ASSETS))
    )
    return Response(
        body,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/field"},
    )


@router.get("/field/manifest.webmanifest")
def manifest() -> Response:
    """The web app manifest: installable from ``/field``, standalone, portrait."""
    body = {
        "name": "meterops field",
        "short_name": "Field",
        "description": "Today's route, stops, safety checks, exchanges and verification.",
        "id": "/field",
        "start_url": "/field",
        "scope": "/field",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": "#0b3d2e",
        "icons": [
            {"src": "/static/field/icon.svg", "sizes": "any", "type": "image/svg+xml"},
            {"src": "/static/field/icon-192.png", "sizes": "192x192", "type": "image/png"},
            {
                "src": "/static/field/icon-512.png",
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "any maskable",
            },
        ],
    }
    return Response(json.dumps(body, indent=2), media_type="application/manifest+json")
