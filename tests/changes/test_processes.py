"""Real `byline serve` processes: 500 long-polling partners, and the export's memory.

Memory is the server's resident set (VmRSS in /proc/<pid>/status), sampled while the
work runs. The databases are this module's own: a SQLite file, or the `public` schema of
the PostgreSQL test database, emptied first (as tests/e2e does).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from tests.e2e.conftest import (
    Database,
    byline,
    create_key,
    migrated_database,
    running_servers,
)

pytestmark = pytest.mark.e2e

WAITERS = 500
MEMORY_BUDGET_MB = 50.0
DEMO_ARTICLES = 2_500


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def open_sockets(pid: int) -> int:
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except FileNotFoundError:  # closed while we looked
            continue
    return count


class PeakSampler:
    """The highest RSS of a process, sampled every 20 ms in a thread while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_mb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mb(self.pid))

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(self.pid))


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
async def database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Database:
    return await migrated_database(backend, tmp_path_factory, "changes")


async def raw_get(base_url: str, target: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """One GET on its own connection: status and body.

    The waiters do not share an httpx client: its connection pool does work per request in
    flight whenever one completes, and with 500 in flight that (measured) made the client
    itself take seconds to take in responses the server had sent in a tenth of one.
    """
    where = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    lines = [f"GET {target} HTTP/1.1", f"Host: {where.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    answer = await reader.read()  # the server closes the connection after the response
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


async def newest_cursor(client: httpx.AsyncClient, editor: dict[str, str]) -> str:
    cursor = "0"
    while True:
        body = (await client.get("/v1/changes", params={"since": cursor}, headers=editor)).json()
        if not body["data"]:
            return cursor
        cursor = body["meta"]["next_cursor"]


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        await asyncio.sleep(0.1)


async def test_500_waiting_partners_all_get_a_new_event_within_a_second(database: Database):
    partner = bearer(create_key(database, "syndicate"))
    editor = bearer(create_key(database, "write"))
    with running_servers(database, 1) as [server]:
        pid = server.process.pid
        async with server.async_client(connections=WAITERS + 10, timeout=60) as client:
            since = await newest_cursor(client, editor)
            warm = {"since": since, "wait": 0.3}
            assert (await client.get("/v1/changes", params=warm, headers=partner)).json()[
                "data"
            ] == []
            before = rss_mb(pid)
            arrived: list[float] = []

            async def wait_for_event() -> tuple[int, bytes]:
                answer = await raw_get(
                    server.base_url, f"/v1/changes?since={since}&wait=25", partner
                )
                arrived.append(time.monotonic())
                return answer

            with PeakSampler(pid) as memory:
                waiters = [asyncio.create_task(wait_for_event()) for _ in range(WAITERS)]
                await until(lambda: open_sockets(pid) >= WAITERS)
                await asyncio.sleep(1.5)  # every request has made its first read and waits
                assert not any(w.done() for w in waiters)
                sent = time.monotonic()
                made = await client.post(
                    "/v1/articles",
                    json={
                        "headline": "For all partners",
                        "category": "World",
                        "status": "published",
                    },
                    headers=editor,
                )
                assert made.status_code == 201, made.text
                responses = await asyncio.gather(*waiters)
    article_id = made.json()["id"]
    for status, body in responses:
        assert status == 200
        assert [e["article_id"] for e in orjson.loads(body)["data"]] == [article_id]
    latest = max(arrived) - sent
    assert latest < 1.0, f"the last of {WAITERS} partners heard of it after {latest:.2f} s"
    grew = memory.peak - before
    assert grew < MEMORY_BUDGET_MB, f"{WAITERS} waiting clients grew RSS by {grew:.1f} MB"


def test_export_memory_is_flat_however_many_articles(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'demo.db'}", tmp_path)
    byline(database, "migrate")
    byline(database, "demo", "--articles", str(DEMO_ARTICLES))
    partner = bearer(create_key(database, "syndicate"))
    with running_servers(database, 1) as [server], server.client() as client:
        pid = server.process.pid
        client.timeout = httpx.Timeout(120.0)
        assert client.get("/v1/export", params={"since": "2999-01-01"}, headers=partner).text == ""
        before = rss_mb(pid)
        after_each: list[float] = []
        with PeakSampler(pid) as memory:
            for _ in range(2):
                lines = 0
                with client.stream("GET", "/v1/export", headers=partner) as response:
                    assert response.status_code == 200
                    for line in response.iter_lines():
                        lines += bool(line)
                assert lines == DEMO_ARTICLES
                after_each.append(rss_mb(pid))
    grew = memory.peak - before
    assert grew < MEMORY_BUDGET_MB, f"exporting grew RSS by {grew:.1f} MB"
    # Twice the articles streamed, (almost) no more memory: it does not grow with the export.
    assert after_each[1] - after_each[0] < 5.0, after_each
