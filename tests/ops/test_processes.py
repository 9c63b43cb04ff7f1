"""Real processes: /readyz across a PostgreSQL restart, and SIGTERM with a request in flight.

The PostgreSQL cluster is this module's own, made with initdb in a temporary folder and
stopped and started with pg_ctl; as root (initdb refuses root) it runs as `postgres`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Database, Server, byline, create_key, free_port, launch, stop

pytestmark = pytest.mark.e2e

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_TIMEOUT = 60.0
READINESS_BOUND = 10.0  # seconds for /readyz to notice the database left, or came back


class Cluster:
    """A throwaway PostgreSQL 15 cluster on 127.0.0.1 and a free port, with trust auth."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        command = [str(PG_BIN / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=PG_TIMEOUT, check=False
        )
        assert done.returncode == 0, f"{program} failed:\n{done.stdout}\n{done.stderr}"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "pg.log"), "-o", options,
                  "-w", "start")  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="byline-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    running = Cluster(root)
    try:
        running.init()
        running.start()
        yield running
    finally:
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            running.stop()
        shutil.rmtree(root, ignore_errors=True)


def wait_for_readyz(server: Server, status: int) -> httpx.Response:
    deadline = time.monotonic() + READINESS_BOUND
    with server.client() as client:
        while True:
            response = client.get("/readyz")
            if response.status_code == status or time.monotonic() > deadline:
                return response
            time.sleep(0.2)


def wait_until_ready(server: Server) -> None:
    deadline = time.monotonic() + READINESS_BOUND * 2
    while time.monotonic() < deadline:
        assert server.process.poll() is None, server.log_tail()
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(server.base_url + "/readyz", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"never ready:\n{server.log_tail()}")


def test_readyz_follows_the_database_down_and_back_up(cluster: Cluster, tmp_path: Path) -> None:
    database = Database(cluster.url, tmp_path)
    byline(database, "migrate")
    server = launch(database)
    try:
        wait_until_ready(server)
        cluster.stop()
        down = wait_for_readyz(server, 503)
        assert down.status_code == 503, down.text
        assert down.json()["reason"].startswith("database unreachable"), down.json()
        with server.client() as client:
            assert client.get("/healthz").status_code == 200  # alive, only not ready

        cluster.start()
        back = wait_for_readyz(server, 200)  # no restart of the server
        assert back.status_code == 200, back.text
        with server.client() as client:
            assert client.get("/v1/articles").status_code == 200
    finally:
        stop(server)


def test_sigterm_lets_the_request_in_flight_finish_then_exits_0(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'byline.db'}", tmp_path)
    byline(database, "migrate")  # no articles: a long-poll from the start waits its full time
    secret = create_key(database, "syndicate")
    server = launch(database, {"BYLINE_LOG_LEVEL": "INFO"})
    try:
        wait_until_ready(server)
        answer: dict[str, httpx.Response] = {}

        def long_poll() -> None:
            answer["response"] = httpx.get(
                server.base_url + "/v1/changes?wait=3",
                headers={"Authorization": f"Bearer {secret}"},
                timeout=20.0,
            )

        poller = threading.Thread(target=long_poll)
        started = time.monotonic()
        poller.start()
        time.sleep(1.0)  # the request is in flight, its wait not over
        server.process.send_signal(signal.SIGTERM)
        poller.join(timeout=20.0)
        assert server.process.wait(timeout=20.0) == 0, server.log_tail()
    finally:
        stop(server)
    response = answer["response"]
    assert response.status_code == 200
    assert response.json() == {"data": [], "meta": {"next_cursor": "0"}}
    assert time.monotonic() - started >= 3.0  # it ran its course after the signal
    logged = [json.loads(line) for line in server.log.read_text().splitlines() if line.strip()]
    requests = [line for line in logged if line["logger"] == "byline.access"]
    changes = [line for line in requests if line["route"] == "/v1/changes"]
    assert len(changes) == 1, requests
    assert changes[0]["status"] == 200
    assert str(changes[0]["key_name"]).startswith("e2e-syndicate-")
    assert changes[0]["latency_ms"] >= 3000 * 0.9
    assert secret not in server.log.read_text()
