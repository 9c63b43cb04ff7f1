"""Rate limits shared through Redis by two `byline serve` processes, and failing open without it.

The shared store is this test worker's Redis database on 127.0.0.1:6379 (emptied before
each test that counts in it); the fail-open tests point the servers at a Redis that is not there, or at a
throwaway `redis-server` of their own that they kill halfway.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
import redis

from tests.conftest import redis_test_url
from tests.e2e.conftest import Database, Server, create_key, free_port, running_servers

pytestmark = pytest.mark.e2e

SHARED_REDIS = redis_test_url(0)
ANONYMOUS_LIMIT = 10
KEY_LIMIT = 5
LIMITED_PATH = "/v1/articles?limit=1"
REDIS_START_TIMEOUT = 10.0


def limited_env(redis_url: str) -> dict[str, str]:
    return {
        "BYLINE_REDIS_URL": redis_url,
        "BYLINE_ANONYMOUS_RATE_LIMIT": f"{ANONYMOUS_LIMIT}/minute",
        "BYLINE_KEY_RATE_LIMIT": "100000/minute",
    }


def flush(redis_url: str) -> None:
    with redis.Redis.from_url(redis_url) as store:
        store.flushdb()


@pytest.fixture(scope="module")
def pair(e2e_database: Database) -> Iterator[list[Server]]:
    """Two servers on the backend's database that count in the same Redis database."""
    flush(SHARED_REDIS)
    with running_servers(e2e_database, 2, limited_env(SHARED_REDIS)) as servers:
        yield servers


@pytest.fixture
def fresh_pair(pair: list[Server]) -> list[Server]:
    """The pair, with every counter in the shared store gone."""
    flush(SHARED_REDIS)
    return pair


def alternate(servers: list[Server], count: int, key: str | None = None) -> list[httpx.Response]:
    """`count` GETs of a limited path, one after another, to each server in turn."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    responses = []
    for i in range(count):
        with servers[i % len(servers)].client() as client:
            responses.append(client.get(LIMITED_PATH, headers=headers))
    return responses


def assert_counted_down(responses: list[httpx.Response], limit: int) -> None:
    """Every answer is a 200 whose RateLimit headers count one shared budget down to 0."""
    assert [r.status_code for r in responses] == [200] * limit
    assert [int(r.headers["RateLimit-Limit"]) for r in responses] == [limit] * limit
    assert [int(r.headers["RateLimit-Remaining"]) for r in responses] == list(range(limit))[::-1]
    assert all(0 < int(r.headers["RateLimit-Reset"]) <= 60 for r in responses)


def assert_limited(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert int(response.headers["RateLimit-Limit"]) == limit
    assert int(response.headers["RateLimit-Remaining"]) == 0


def rate_limits_state(server: Server) -> str:
    with server.client() as client:
        ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ok"
    state: str = ready.json()["rate_limits"]
    return state


def test_anonymous_limit_is_one_budget_across_both_servers(fresh_pair: list[Server]) -> None:
    responses = alternate(fresh_pair, ANONYMOUS_LIMIT + 2)
    assert_counted_down(responses[:ANONYMOUS_LIMIT], ANONYMOUS_LIMIT)
    # The 11th request goes to the first server, the 12th to the second: both refuse.
    for over in responses[ANONYMOUS_LIMIT:]:
        assert_limited(over, ANONYMOUS_LIMIT)
    # Probes are never refused, and read the shared standing without counting.
    for server in fresh_pair:
        with server.client() as client:
            probe = client.get("/healthz")
        assert probe.status_code == 200
        assert probe.headers["RateLimit-Remaining"] == "0"
        assert probe.headers["RateLimit-Limit"] == str(ANONYMOUS_LIMIT)
        assert 0 < int(probe.headers["RateLimit-Reset"]) <= 60
    with redis.Redis.from_url(SHARED_REDIS) as store:
        assert store.keys("LIMITS*"), "the counters should live in the shared Redis"
    assert [rate_limits_state(server) for server in fresh_pair] == ["ok", "ok"]


def test_per_key_limit_is_one_budget_across_both_servers(
    e2e_database: Database, fresh_pair: list[Server]
) -> None:
    key = create_key(e2e_database, "read", rate_limit=f"{KEY_LIMIT}/minute")
    responses = alternate(fresh_pair, KEY_LIMIT + 2, key=key)
    assert_counted_down(responses[:KEY_LIMIT], KEY_LIMIT)
    for over in responses[KEY_LIMIT:]:
        assert_limited(over, KEY_LIMIT)
    # The key's budget is its own: anonymous callers from the same address still have theirs.
    (anonymous,) = alternate(fresh_pair[1:], 1)
    assert anonymous.status_code == 200
    assert int(anonymous.headers["RateLimit-Limit"]) == ANONYMOUS_LIMIT
    assert int(anonymous.headers["RateLimit-Remaining"]) == ANONYMOUS_LIMIT - 1


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A port held (bound, never listening) for the block: connecting to it is refused."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port: int = held.getsockname()[1]
        yield port


def test_unreachable_store_fails_open_and_readyz_says_so(e2e_database: Database) -> None:
    with (
        refusing_port() as port,
        running_servers(e2e_database, 1, limited_env(f"redis://127.0.0.1:{port}/0")) as servers,
    ):
        responses = alternate(servers, ANONYMOUS_LIMIT + 5)
        assert [r.status_code for r in responses] == [200] * (ANONYMOUS_LIMIT + 5)
        assert all(r.json()["data"] for r in responses)
        assert rate_limits_state(servers[0]).startswith("degraded")


@contextlib.contextmanager
def throwaway_redis(database: Database) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of our own on a free port, without persistence; killed on exit."""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--daemonize", "no", "--dir", str(database.workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_for_redis(url)
        yield url, process
    finally:
        kill(process)


def wait_for_redis(url: str) -> None:
    deadline = time.monotonic() + REDIS_START_TIMEOUT
    with redis.Redis.from_url(url) as store:
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.ConnectionError):
                if store.ping():
                    return
            time.sleep(0.05)
    raise AssertionError(f"redis at {url} did not answer within {REDIS_START_TIMEOUT}s")


def kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def test_store_lost_mid_run_fails_open_on_both_servers(e2e_database: Database) -> None:
    with (
        throwaway_redis(e2e_database) as (url, store),
        running_servers(e2e_database, 2, limited_env(url)) as servers,
    ):
        before = alternate(servers, 4)
        assert [int(r.headers["RateLimit-Remaining"]) for r in before] == [9, 8, 7, 6]
        assert [rate_limits_state(server) for server in servers] == ["ok", "ok"]

        kill(store)
        after = alternate(servers, ANONYMOUS_LIMIT + 5)  # more than the limit allows
        assert [r.status_code for r in after] == [200] * (ANONYMOUS_LIMIT + 5)
        assert all(r.json()["data"] for r in after)
        assert all(rate_limits_state(server).startswith("degraded") for server in servers)
