"""`python -m bench.gate`: what the gate and usage accounting cost a request, in process.

The keys-cost target of `make bench` compares whole requests; this isolates the part
Byline adds for a key: `Gate.admit_now` (what the fast lane calls) on a cached key counted
in memory, against an anonymous request with no limit. It also times `UsageRecorder.record`, which every
request pays; `make bench` compares it with a warm read's CPU (issue #5: under 5%).
Best of five repeats of 100,000 calls each.
"""

from __future__ import annotations

import asyncio
import time
import timeit
from collections.abc import Callable, Coroutine
from typing import Any, cast

from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.access.middleware import CachedKey, Gate, KeyResolver, _fingerprint
from app.access.ratelimit import RateLimiter, parse_limit
from app.access.service import KeyInfo
from app.access.usage import UsageRecorder

CALLS = 100_000
REPEATS = 5
SECRET = "byl_" + "x" * 43
AUTHORIZATION = f"Bearer {SECRET}".encode()


def _gate() -> Gate:
    never_used = cast("async_sessionmaker[AsyncSession]", None)  # the key is cached below
    keys = KeyResolver(never_used, ttl=1e9)
    info = KeyInfo("key_bench", "bench", frozenset({"read"}), None, None)
    keys._known[_fingerprint(AUTHORIZATION)] = CachedKey(info, time.monotonic() + 1e9)
    return Gate(keys, RateLimiter.from_url(None), None, parse_limit("1000000000/minute"))


def _scope(headers: list[tuple[bytes, bytes]]) -> Callable[[], dict[str, Any]]:
    def make() -> dict[str, Any]:
        return {"type": "http", "path": "/v1/articles/a", "headers": headers, "client": ("::1", 1)}

    return make


async def _per_call(gate: Gate, scope: Callable[[], dict[str, Any]]) -> float:
    """`admit_now`, as the fast lane calls it; it must decide without awaiting anything."""
    if gate.admit_now(scope()) is None:
        raise RuntimeError("the gate wanted to await: the bench would not time the warm path")
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(CALLS):
            gate.admit_now(scope())
        best = min(best, (time.perf_counter() - start) / CALLS)
    return best * 1e6


def usage_record_us() -> float:
    """One `UsageRecorder.record` call, in µs (counted in memory; flushed elsewhere)."""
    never_used = cast("async_sessionmaker[AsyncSession]", None)  # nothing is flushed here
    usage = UsageRecorder(never_used)
    best = min(
        timeit.repeat(
            lambda: usage.record("key_bench", "/v1/articles/{key}", 200),
            number=CALLS,
            repeat=REPEATS,
        )
    )
    return best / CALLS * 1e6


async def main() -> None:
    gate = _gate()
    plain = [(b"host", b"127.0.0.1"), (b"user-agent", b"wrk")]
    keyed = [*plain, (b"authorization", AUTHORIZATION)]
    runs: dict[str, Coroutine[Any, Any, float]] = {
        "anonymous, no limit": _per_call(gate, _scope(plain)),
        "cached key, counted in memory": _per_call(gate, _scope(keyed)),
    }
    console = Console()
    for label, run in runs.items():
        console.print(f"{label:32} {await run:6.2f} µs per request")
    console.print(f"{'usage accounting':32} {usage_record_us():6.2f} µs per request")


if __name__ == "__main__":
    asyncio.run(main())
