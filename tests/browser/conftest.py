"""A real browser (Playwright driving Debian's Chromium) against the app served by uvicorn.

Browser tests are marked ``browser``. They skip when Chromium or Playwright is missing (a
developer's machine without them) and fail instead when ``METEROPS_REQUIRE_BROWSER=1`` (CI
installs both). The browser binary is ``METEROPS_CHROMIUM`` or ``chromium`` on the PATH;
Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from meterops.config import Settings
from meterops.web.app import create_app
from tests.fixtures.web import create_web_user
from tests.web.conftest import import_fleet


def _chromium() -> str:
    path = os.environ.get("METEROPS_CHROMIUM") or shutil.which("chromium")
    missing = None
    if path is None:
        missing = "Chromium is not installed (apt install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "Playwright is not installed (pip install -e '.[dev]')"
    if missing:
        if os.environ.get("METEROPS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{missing}; CI requires it (METEROPS_REQUIRE_BROWSER=1)")
        pytest.skip(missing)
    assert path is not None
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free 127.0.0.1 port, in a thread; yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the app did not start within 20 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def base_url(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a free 127.0.0.1 port, over a database holding a small imported fleet."""
    folder: Path = tmp_path_factory.mktemp("browser")
    import_fleet(module_database_url, folder / "fleet")
    create_web_user(module_database_url, "browser-super")  # pages need a session
    settings = Settings(database_url=module_database_url, data_dir=folder / "var")
    with serve(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium, shared by a module's tests."""
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (own cookies); the test fails on any console error, CSP violation or 4xx/5xx.

    A test that expects an error status calls ``page.allow_status(401)`` first.
    """
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    allowed: set[int] = set()
    page.allow_status = allowed.add

    def on_console(message: Any) -> None:
        if message.type != "error":
            return
        if "status of" in message.text and any(f"status of {s} " in message.text for s in allowed):
            return
        errors.append(f"{message.text} ({message.location.get('url')})")

    def on_response(response: Any) -> None:
        if response.status >= 400 and response.status not in allowed:
            errors.append(f"{response.status} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", on_response)
    yield page
    context.close()
    assert errors == [], f"browser errors: {errors}"
