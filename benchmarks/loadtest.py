"""A bounded loopback load test of the technician API: simulated technicians over real HTTP.

:class:`Server` starts the web app the way the product runs it (``meterops serve``: one
uvicorn process) on ``127.0.0.1`` and a free port, in a subprocess of its own, and stops it.
:func:`run_load` signs every simulated technician in through the sign-in form (one
``httpx.AsyncClient`` each, with its own cookie jar) and then lets each one repeat a visit
loop for a fixed time, with think time between requests:

* **field profile** (the field API of issue 7, when the app has ``/api/v1/field/today``):
  ``GET today`` (which carries the CSRF token) -> ``GET`` the next stop's order -> ``POST`` an
  action (a note, with a fresh idempotency key and the ``X-CSRF-Token`` header, expected 201
  and ``duplicate: false``) -> now and then the same action again with an old key (expected
  200 and ``duplicate: true``).
* **interim profile** (before the field API exists): ``GET /api/v1/me`` -> ``GET`` one of the
  technician's orders -> ``GET`` its history.
* **health profile** (the baseline): ``GET /health`` with the same clients and think time,
  so the difference is what the API itself costs.

Every answer is checked (status, and the duplicate flag of actions); anything else, a
transport error or a timeout counts as an error. :class:`LoadResult` holds the latencies per
endpoint and prints requests/s, p50/p95/p99 and the error rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import httpx
import numpy as np

__all__ = [
    "EndpointStats",
    "LoadResult",
    "Phase",
    "Profile",
    "Server",
    "SimulatedTechnician",
    "process_cpu_s",
    "run_load",
    "sign_in",
]

Profile = Literal["field", "interim", "health"]
SIGN_IN_COOKIE = "meterops_sign_in"
FIELD_TODAY = "/api/v1/field/today"
VERIFY_PER_TECHNICIAN = 3
"""Acknowledged actions per technician resent after a field phase to check they were stored."""


@dataclass(frozen=True, slots=True)
class SimulatedTechnician:
    """Who a simulated client signs in as.

    Attributes:
        username: User name.
        password: Password.
        orders: Order numbers on their route (the interim profile visits these).
    """

    username: str
    password: str
    orders: tuple[str, ...]


class Server:
    """The web app served by ``meterops serve`` in a subprocess on 127.0.0.1.

    Use as a context manager; ``base_url`` is set once it answers ``/health``.

    Args:
        database_url: The database the app uses.
        data_dir: Its data folder (photos …).
        log_file: Where the server's output goes.
        startup_timeout_s: How long to wait for ``/health``. [s]
    """

    def __init__(
        self,
        database_url: str,
        data_dir: Path,
        *,
        log_file: Path,
        startup_timeout_s: float = 60.0,
    ) -> None:
        self.database_url = database_url
        self.data_dir = data_dir
        self.log_file = log_file
        self.startup_timeout_s = startup_timeout_s
        self.base_url = ""
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {
            **os.environ,
            "METEROPS_DATABASE_URL": self.database_url,
            "METEROPS_DATA_DIR": str(self.data_dir),
            "METEROPS_COOKIE_SECURE": "false",  # plain http on loopback
            "METEROPS_SECRET_KEY": uuid.uuid4().hex,
        }
        command = [
            sys.executable,
            "-c",
            "from meterops.cli.main import main; main()",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        log = self.log_file.open("wb")
        self._process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.pid = self._process.pid
        self.base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/health", timeout=2.0).status_code == 200:
                    return self
            time.sleep(0.2)
        self.__exit__(None, None, None)
        tail = self.log_file.read_text(errors="replace")[-2000:]
        msg = f"meterops serve did not answer /health on {self.base_url}:\n{tail}"
        raise RuntimeError(msg)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=15)
        self._process = None

    def has_route(self, path: str) -> bool:
        """Whether the served app lists ``path`` in its OpenAPI document."""
        paths = httpx.get(f"{self.base_url}/openapi.json", timeout=30.0).json()["paths"]
        return path in paths


@dataclass(slots=True)
class EndpointStats:
    """Answers of one endpoint.

    Attributes:
        endpoint: Label, e.g. ``"GET today"``.
        latencies_ms: Latency of every answered request. [ms]
        errors: Number of requests that failed (wrong status or body, transport error).
        error_samples: A few error descriptions.
        errors_without_answer: Failed requests that got no answer at all (not timed).
    """

    endpoint: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    errors_without_answer: int = 0

    @property
    def requests(self) -> int:
        """Requests sent (answered or not)."""
        return len(self.latencies_ms) + self.errors_without_answer

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile of latency (nan without answers). [ms]"""
        if not self.latencies_ms:
            return float("nan")
        return float(np.percentile(np.asarray(self.latencies_ms), q))


@dataclass(slots=True)
class LoadResult:
    """What a load run measured.

    Attributes:
        profile: Which visit loop ran.
        clients: Simulated technicians that signed in and ran.
        duration_s: Length of the measured phase. [s]
        endpoints: Stats per endpoint label.
        sign_in_s: Wall time to sign every client in. [s]
        sign_in_errors: Clients whose sign-in failed.
        duplicates_checked: Repeated idempotency keys sent (and checked).
        sign_in_problems: What went wrong with the first few failed sign-ins.
        writes_checked: Acknowledged actions resent after the phase to check they were stored
            (field profile; up to :data:`VERIFY_PER_TECHNICIAN` per technician).
        lost_writes: Of those, actions the server did not know any more: answered 201 but
            not stored (the commit failed after the answer was sent).
        server_cpu_s: CPU time the server process used during the phase (user + system;
            None when the server's process is not known). [s]
    """

    profile: Profile
    clients: int
    duration_s: float
    endpoints: dict[str, EndpointStats]
    sign_in_s: float = 0.0
    sign_in_errors: int = 0
    duplicates_checked: int = 0
    sign_in_problems: list[str] = field(default_factory=list)
    writes_checked: int = 0
    lost_writes: int = 0
    server_cpu_s: float | None = None

    @property
    def server_cpu_ms_per_request(self) -> float | None:
        """Server CPU per request: what a request costs, whatever else the machine runs. [ms]"""
        if self.server_cpu_s is None or not self.requests:
            return None
        return 1000.0 * self.server_cpu_s / self.requests

    def _all(self) -> EndpointStats:
        merged = EndpointStats("all")
        for stats in self.endpoints.values():
            merged.latencies_ms.extend(stats.latencies_ms)
            merged.errors += stats.errors
            merged.errors_without_answer += stats.errors_without_answer
        return merged

    @property
    def requests(self) -> int:
        """Requests sent in the measured phase."""
        return sum(s.requests for s in self.endpoints.values())

    @property
    def errors(self) -> int:
        """Failed requests in the measured phase."""
        return sum(s.errors for s in self.endpoints.values())

    @property
    def error_rate(self) -> float:
        """Failed share of requests (0 without requests)."""
        return self.errors / self.requests if self.requests else 0.0

    @property
    def requests_per_s(self) -> float:
        """Throughput over the measured phase. [requests/s]"""
        return self.requests / self.duration_s if self.duration_s else 0.0

    def percentile(self, q: float) -> float:
        """Latency percentile over all endpoints. [ms]"""
        return self._all().percentile(q)

    def table(self) -> str:
        """A plain-text table: one row per endpoint and one for all."""
        lines = [
            (
                f"profile {self.profile}: {self.clients} technicians, {self.duration_s:.1f} s, "
                f"sign-in {self.sign_in_s:.1f} s ({self.sign_in_errors} failed)"
            ),
            (
                f"{'endpoint':<22}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
                f"{'p99 ms':>9}{'max ms':>9}{'errors':>8}"
            ),
        ]
        rows = [*self.endpoints.values(), self._all()]
        for s in rows:
            top = max(s.latencies_ms) if s.latencies_ms else float("nan")
            lines.append(
                f"{s.endpoint:<22}{s.requests:>9}{s.requests / self.duration_s:>9.1f}"
                f"{s.percentile(50):>9.1f}{s.percentile(95):>9.1f}{s.percentile(99):>9.1f}"
                f"{top:>9.1f}{s.errors:>8}"
            )
        for s in rows[:-1]:
            lines.extend(f"  {s.endpoint}: {sample}" for sample in s.error_samples)
        lines.extend(f"  sign-in: {problem}" for problem in self.sign_in_problems)
        if self.server_cpu_ms_per_request is not None:
            lines.append(f"  server CPU per request: {self.server_cpu_ms_per_request:.2f} ms")
        if self.writes_checked:
            lines.append(
                f"  acknowledged actions resent afterwards: {self.writes_checked}, "
                f"not stored (lost): {self.lost_writes}"
            )
        return "\n".join(lines)


class _Recorder:
    def __init__(self) -> None:
        self.endpoints: dict[str, EndpointStats] = {}
        self.duplicates = 0

    def stats(self, label: str) -> EndpointStats:
        if label not in self.endpoints:
            self.endpoints[label] = EndpointStats(label)
        return self.endpoints[label]

    async def call(
        self,
        client: httpx.AsyncClient,
        label: str,
        method: str,
        url: str,
        *,
        expect: int,
        check: Any = None,
        **kwargs: Any,
    ) -> httpx.Response | None:
        """Send one request, time it and check the answer; None when it failed."""
        stats = self.stats(label)
        started = time.perf_counter()
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            stats.errors += 1
            stats.errors_without_answer += 1
            if len(stats.error_samples) < 3:
                stats.error_samples.append(f"{type(exc).__name__}: {exc}")
            return None
        stats.latencies_ms.append(1000.0 * (time.perf_counter() - started))
        problem = None
        if response.status_code != expect:
            problem = f"{response.status_code} (expected {expect}): {response.text[:200]}"
        elif check is not None:
            problem = check(response)
        if problem:
            stats.errors += 1
            if len(stats.error_samples) < 3:
                stats.error_samples.append(problem)
            return None
        return response


async def sign_in(client: httpx.AsyncClient, who: SimulatedTechnician) -> str | None:
    """Sign in through the form; None on success, else what went wrong."""
    page = await client.get("/sign-in", params={"next": "/"})
    if page.status_code != 200 or SIGN_IN_COOKIE not in client.cookies:
        return f"sign-in form: {page.status_code}"
    answer = await client.post(
        "/sign-in",
        data={
            "username": who.username,
            "password": who.password,
            "form_token": client.cookies[SIGN_IN_COOKIE],
            "next": "/",
        },
    )
    if answer.status_code not in {302, 303}:
        return f"sign-in: {answer.status_code} {answer.text[:200]}"
    me = await client.get("/api/v1/me")
    if me.status_code != 200 or me.json().get("username") != who.username:
        return f"/api/v1/me after sign-in: {me.status_code}"
    return None


def _duplicate_is(expected: bool) -> Any:
    def check(response: httpx.Response) -> str | None:
        if response.json().get("duplicate") is not expected:
            return f"duplicate should be {expected}: {response.text[:200]}"
        return None

    return check


@dataclass(slots=True)
class _Visitor:
    """One simulated technician's loop state."""

    who: SimulatedTechnician
    client: httpx.AsyncClient
    recorder: _Recorder
    rng: random.Random
    day: str
    think_s: tuple[float, float]
    repeat_share: float
    csrf: str = ""
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    position: int = 0

    async def think(self) -> None:
        await asyncio.sleep(self.rng.uniform(*self.think_s))

    async def field_visit(self) -> None:
        today = await self.recorder.call(
            self.client, "GET today", "GET", FIELD_TODAY, expect=200, params={"day": self.day}
        )
        stops: list[dict[str, Any]] = []
        if today is not None:
            body = today.json()
            self.csrf = body.get("csrf_token", self.csrf)
            stops = body.get("stops", [])
        await self.think()
        if not stops:
            return
        stop = stops[self.position % len(stops)]
        self.position += 1
        number = stop["order_number"]
        await self.recorder.call(
            self.client, "GET order", "GET", f"/api/v1/field/orders/{number}", expect=200
        )
        await self.think()
        if not self.csrf:
            return
        headers = {"X-CSRF-Token": self.csrf}
        if self.sent and self.rng.random() < self.repeat_share:
            old_number, old_body = self.rng.choice(self.sent)
            self.recorder.duplicates += 1
            await self.recorder.call(
                self.client,
                "POST action (repeat)",
                "POST",
                f"/api/v1/field/orders/{old_number}/actions",
                expect=200,
                check=_duplicate_is(True),
                json=old_body,
                headers=headers,
            )
            await self.think()
        body = {
            "idempotency_key": str(uuid.uuid4()),
            "kind": "note",
            "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "payload": {"notes": f"load test note {self.position}"},
        }
        answer = await self.recorder.call(
            self.client,
            "POST action",
            "POST",
            f"/api/v1/field/orders/{number}/actions",
            expect=201,
            check=_duplicate_is(False),
            json=body,
            headers=headers,
        )
        if answer is not None:
            self.sent.append((number, body))
        await self.think()

    async def verify_stored(self) -> tuple[int, int]:
        """Resend up to a few acknowledged actions; (checked, not stored)."""
        checked = lost = 0
        for number, body in self.sent[-VERIFY_PER_TECHNICIAN:]:
            try:
                response = await self.client.post(
                    f"/api/v1/field/orders/{number}/actions",
                    json=body,
                    headers={"X-CSRF-Token": self.csrf},
                )
            except httpx.HTTPError:
                continue
            checked += 1
            if response.status_code != 200 or response.json().get("duplicate") is not True:
                lost += 1
        return checked, lost

    async def interim_visit(self) -> None:
        await self.recorder.call(self.client, "GET me", "GET", "/api/v1/me", expect=200)
        await self.think()
        if not self.who.orders:
            return
        number = self.who.orders[self.position % len(self.who.orders)]
        self.position += 1
        await self.recorder.call(
            self.client, "GET order", "GET", f"/api/v1/orders/{number}", expect=200
        )
        await self.think()
        await self.recorder.call(
            self.client, "GET history", "GET", f"/api/v1/orders/{number}/history", expect=200
        )
        await self.think()

    async def health_visit(self) -> None:
        await self.recorder.call(self.client, "GET /health", "GET", "/health", expect=200)
        await self.think()


@dataclass(frozen=True, slots=True)
class Phase:
    """One measured phase of a load run.

    Attributes:
        profile: Which visit loop the clients repeat.
        duration_s: How long. [s]
    """

    profile: Profile
    duration_s: float


def process_cpu_s(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far, from ``/proc`` (None elsewhere). [s]"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _phase(
    visitors: Sequence[_Visitor], recorder: _Recorder, phase: Phase, think_max_s: float
) -> float:
    loop = asyncio.get_running_loop()
    end = loop.time() + phase.duration_s

    async def work(visitor: _Visitor) -> None:
        # Spread the first requests over one think time: technicians do not start together.
        await asyncio.sleep(visitor.rng.uniform(0.0, think_max_s))
        visit = {
            "field": visitor.field_visit,
            "interim": visitor.interim_visit,
            "health": visitor.health_visit,
        }[phase.profile]
        while loop.time() < end:
            await visit()

    started = time.perf_counter()
    await asyncio.gather(*(work(v) for v in visitors))
    return time.perf_counter() - started


async def _run(
    base_url: str,
    technicians: Sequence[SimulatedTechnician],
    phases: Sequence[Phase],
    day: str,
    think_s: tuple[float, float],
    repeat_share: float,
    seed: int,
    sign_in_concurrency: int,
    timeout_s: float,
    server_pid: int | None,
) -> list[LoadResult]:
    # Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them, so a
    # request never races a server-side close (which would show as a ReadError).
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=2, keepalive_expiry=3.0)
    timeout = httpx.Timeout(timeout_s)
    clients = [
        httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout) for _ in technicians
    ]
    results = []
    try:
        gate = asyncio.Semaphore(sign_in_concurrency)

        async def gated_sign_in(client: httpx.AsyncClient, who: SimulatedTechnician) -> str | None:
            async with gate:
                try:
                    return await sign_in(client, who)
                except httpx.HTTPError as exc:
                    return f"{type(exc).__name__}: {exc}"

        started = time.perf_counter()
        problems = await asyncio.gather(
            *(gated_sign_in(c, w) for c, w in zip(clients, technicians, strict=True))
        )
        sign_in_s = time.perf_counter() - started
        failed = [p for p in problems if p is not None]
        ready = [
            (c, w) for c, w, p in zip(clients, technicians, problems, strict=True) if p is None
        ]
        for phase in phases:
            recorder = _Recorder()
            visitors = [
                _Visitor(w, c, recorder, random.Random(seed + i), day, think_s, repeat_share)
                for i, (c, w) in enumerate(ready)
            ]
            cpu_before = None if server_pid is None else process_cpu_s(server_pid)
            elapsed = await _phase(visitors, recorder, phase, think_s[1])
            cpu_after = None if server_pid is None else process_cpu_s(server_pid)
            verified = await asyncio.gather(*(v.verify_stored() for v in visitors))
            results.append(
                LoadResult(
                    profile=phase.profile,
                    clients=len(visitors),
                    duration_s=elapsed,
                    endpoints=recorder.endpoints,
                    sign_in_s=sign_in_s,
                    sign_in_errors=len(failed),
                    duplicates_checked=recorder.duplicates,
                    sign_in_problems=failed[:3],
                    writes_checked=sum(c for c, _ in verified),
                    lost_writes=sum(lost for _, lost in verified),
                    server_cpu_s=(
                        None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
                    ),
                )
            )
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return results


def run_load(
    base_url: str,
    technicians: Sequence[SimulatedTechnician],
    *,
    phases: Sequence[Phase],
    day: str,
    think_s: tuple[float, float] = (0.5, 1.5),
    repeat_share: float = 0.1,
    seed: int = 0,
    sign_in_concurrency: int = 1,
    timeout_s: float = 30.0,
    server_pid: int | None = None,
) -> list[LoadResult]:
    """Sign the technicians in, then run their visit loops phase after phase.

    Args:
        base_url: The served app, e.g. ``http://127.0.0.1:8123``.
        technicians: Who signs in (one client each, signed in once for all phases).
        phases: What to run and how long (loops started before a phase's end finish their
            current visit, so a phase lasts a little longer than asked).
        day: The day asked for (``YYYY-MM-DD``, field profile).
        think_s: Think time between requests, drawn uniformly from this range. [s]
        repeat_share: Share of visits that also resend an old action (same idempotency key).
        seed: Seed of the think times and choices.
        sign_in_concurrency: Sign-ins in flight at once. Default one at a time: concurrent
            sign-ins on SQLite fail with "database is locked" (the sign-in transaction reads
            before it writes, and SQLite refuses to upgrade such a transaction while another
            writer is active); sign-in is set-up here, not what is measured.
        timeout_s: A request not answered within this long fails (as ``ReadTimeout``). [s]
        server_pid: The server's process, to measure the CPU it uses in each phase.

    Returns:
        One result per phase. Clients whose sign-in failed do not run; each result counts
        them in ``sign_in_errors``.
    """
    return asyncio.run(
        _run(
            base_url,
            technicians,
            phases,
            day,
            think_s,
            repeat_share,
            seed,
            sign_in_concurrency,
            timeout_s,
            server_pid,
        )
    )
