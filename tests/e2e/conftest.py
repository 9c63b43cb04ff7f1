"""Real processes on 127.0.0.1: a database per backend prepared with the `byline` command, and servers.

SQLite gets a temp file; PostgreSQL gets the `public` schema of the test database, emptied
first (the in-process suite lives in schema `byline_test`, which is left alone). Every
server runs in a process group of its own and is stopped at teardown, even on failure.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from app.core.db import make_engine
from bench.processes import free_port, probe_until_ok, stop_process
from tests.conftest import EXAMPLES, PG_URL

BYLINE = Path(sys.prefix) / "bin" / "byline"  # the console script of this environment
CACHE_POLL_INTERVAL = 1.0  # BYLINE_CACHE_POLL_INTERVAL of every server started here
READY_TIMEOUT = 20.0
COMMAND_TIMEOUT = 60.0


@dataclass(frozen=True)
class Database:
    url: str  # a plain URL, as a user would give it
    workdir: Path  # where the commands run, so nothing lands in the repository


@dataclass
class Server:
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=5.0)

    def async_client(self, connections: int = 100, timeout: float = 30.0) -> httpx.AsyncClient:
        """A client for concurrent load: up to `connections` requests in flight at once."""
        # Idle connections are dropped before uvicorn's keep-alive timeout (5 s) closes them:
        # with both at 5 s, a request sent on a connection the server is closing at that
        # moment fails with "Server disconnected without sending a response".
        limits = httpx.Limits(
            max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=2.0
        )
        return httpx.AsyncClient(base_url=self.base_url, timeout=timeout, limits=limits)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def environment(database_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without its BYLINE_ settings, plus the ones these tests need."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYLINE_")}
    env.update(
        BYLINE_DATABASE_URL=database_url,
        BYLINE_CACHE_POLL_INTERVAL=str(CACHE_POLL_INTERVAL),
        BYLINE_LOG_LEVEL="WARNING",
    )
    env.update(extra or {})
    return env


def byline(database: Database, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one `byline` command to completion; a failure shows its output."""
    done = subprocess.run(
        [str(BYLINE), *args], env=environment(database.url), cwd=database.workdir,
        capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"byline {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def launch(database: Database, env: Mapping[str, str] | None = None, workers: int = 1) -> Server:
    """Start `byline serve` on a free port; `env` adds or overrides BYLINE_ settings."""
    port = free_port()
    log = database.workdir / f"serve-{port}.log"
    command = [str(BYLINE), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--workers", str(workers)],
            env=environment(database.url, env), cwd=database.workdir,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    return Server(f"http://127.0.0.1:{port}", process, log)


def wait_until_up(server: Server, probe: str) -> None:
    """Poll `probe` until it answers 200, for at most READY_TIMEOUT seconds."""
    problem = probe_until_ok(server.base_url + probe, server.process, READY_TIMEOUT)
    assert problem is None, f"server {problem}:\n{server.log_tail()}"


def stop(server: Server) -> None:
    stop_process(server.process)


@contextlib.contextmanager
def running_servers(
    database: Database, count: int, env: Mapping[str, str] | None = None, probe: str = "/readyz"
) -> Iterator[list[Server]]:
    """`count` servers with settings `env`, up and answering `probe`; all stopped on exit."""
    servers: list[Server] = []
    try:
        for _ in range(count):
            servers.append(launch(database, env))  # listed at once, so it is stopped on failure
        for server in servers:
            wait_until_up(server, probe)
        yield servers
    finally:
        for server in servers:
            stop(server)


def create_key(database: Database, scope: str, rate_limit: str | None = None) -> str:
    """A new key made by `byline keys create` (a unique name each time): its secret."""
    name = f"e2e-{scope.replace(',', '-')}-{uuid.uuid4().hex[:10]}"
    args = ["keys", "create", "--name", name, "--scope", scope]
    if rate_limit is not None:
        args += ["--rate-limit", rate_limit]
    secret = byline(database, *args).stdout.strip().splitlines()[-1]
    assert secret.startswith("byl_"), secret
    return secret


StartServers = Callable[..., list[Server]]


@pytest.fixture
def start_servers() -> Iterator[StartServers]:
    """start_servers(database, count=1, probe="/readyz"): servers that are stopped at teardown."""
    started: list[Server] = []

    def start(database: Database, count: int = 1, probe: str = "/readyz") -> list[Server]:
        servers = [launch(database) for _ in range(count)]
        started.extend(servers)  # before waiting, so a server that never comes up is stopped too
        for server in servers:
            wait_until_up(server, probe)
        return servers

    try:
        yield start
    finally:
        for server in started:
            stop(server)


async def empty_public_schema() -> None:
    assert PG_URL is not None
    engine = make_engine(PG_URL)
    async with engine.begin() as conn:
        tables = (
            await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        ).scalars()
        for table in list(tables):
            await conn.execute(text(f'DROP TABLE IF EXISTS public."{table}" CASCADE'))
    await engine.dispose()


async def migrated_database(
    backend: str, tmp_path_factory: pytest.TempPathFactory, prefix: str
) -> Database:
    """A database migrated by `byline migrate`: a SQLite file, or the emptied `public`
    schema of the PostgreSQL test database."""
    workdir = tmp_path_factory.mktemp(f"{prefix}-{backend}")
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'byline.db'}"
    else:
        assert PG_URL is not None
        await empty_public_schema()
        url = PG_URL
    database = Database(url, workdir)
    byline(database, "migrate")
    return database


@pytest.fixture(scope="session")
async def e2e_database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Database:
    """A database migrated and loaded with examples/ by the `byline` command, as `make run` does."""
    database = await migrated_database(backend, tmp_path_factory, "e2e")
    imported = byline(database, "import", str(EXAMPLES))
    assert "0 failed" in imported.stdout, imported.stdout
    return database


@pytest.fixture(scope="session")
def server(e2e_database: Database) -> Iterator[Server]:
    """One server over the prepared database, shared by the read-only tests."""
    running = launch(e2e_database)
    try:
        wait_until_up(running, "/readyz")
        yield running
    finally:
        stop(running)


# ---- a changed sample, and how long servers take to serve it

GLACIER_SAMPLE = EXAMPLES / "glacier-retreat-alpine-water.txt"
GLACIER_HEADLINE = "Glacier Retreat Forces Alpine Towns to Rethink Summer Water Supply"
ORIGINAL_SENTENCE = "That arrangement is ending."
CHANGED_SENTENCE = "That arrangement is ending, hydrologists say."
STALENESS_MARGIN = 0.5  # scheduling and request time on a busy 2-core machine
STALENESS_BOUND = CACHE_POLL_INTERVAL + STALENESS_MARGIN
GIVE_UP_AFTER = 5.0  # past the bound, only to say how late (or never) a server caught up
SAMPLE_EVERY = 0.05


def write_changed_sample(workdir: Path) -> Path:
    """The glacier sample with one paragraph changed: same headline, so the same slug."""
    original = GLACIER_SAMPLE.read_text(encoding="utf-8")
    assert ORIGINAL_SENTENCE in original
    changed = workdir / "changed" / GLACIER_SAMPLE.name
    changed.parent.mkdir(exist_ok=True)
    changed.write_text(original.replace(ORIGINAL_SENTENCE, CHANGED_SENTENCE), encoding="utf-8")
    return changed


def article_path(server: Server, headline: str) -> str:
    with server.client() as client:
        listing = client.get("/v1/articles", params={"limit": 100}).json()["data"]
    slugs = [a["slug"] for a in listing if a["headline"] == headline]
    assert len(slugs) == 1, [a["headline"] for a in listing]
    return f"/v1/articles/{slugs[0]}"


def warm(server: Server, path: str) -> httpx.Response:
    """GET twice: the first fills the server's read cache, the second is answered from it."""
    with server.client() as client:
        first, second = client.get(path), client.get(path)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    return second


def seconds_until_revision(servers: list[Server], path: str, revision: int) -> list[float]:
    """For each server, how long until it serves `revision` of path (sampled every 50 ms)."""
    start = time.monotonic()
    lags: dict[int, float] = {}
    clients = [s.client() for s in servers]
    try:
        while len(lags) < len(servers) and time.monotonic() - start < GIVE_UP_AFTER:
            for i, client in enumerate(clients):
                if i not in lags and client.get(path).json()["revision"] >= revision:
                    lags[i] = time.monotonic() - start
            time.sleep(SAMPLE_EVERY)
    finally:
        for client in clients:
            client.close()
    stale = [i for i in range(len(servers)) if i not in lags]
    assert not stale, f"server(s) {stale} still served an older revision after {GIVE_UP_AFTER}s"
    return [lags[i] for i in range(len(servers))]
