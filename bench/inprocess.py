"""`python -m bench.inprocess`: what a key costs a whole warm read, without sockets.

`make bench` compares keyed and anonymous reads through real sockets by the server's CPU
per request, which moves by ±20% from one run to the next when the machine is shared.
This drives the same application through uvicorn's own HTTP protocol (httptools, the
parser and response writer the server uses) in this process, over a transport that only
collects the bytes, and alternates batches of anonymous and keyed requests. It leaves out the
kernel's socket work, which is the same for both; in practice the socket ratio has come out
a little lower (0.82 against 0.84 in one `make bench`), so this is not a bound, but it
repeats to within a few percent where the socket figures move by ±20%: the figure to watch
while changing the keyed path (docs/PERFORMANCE.md, issue #3).
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

import uvloop
from rich.console import Console
from starlette.types import ASGIApp
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from bench.processes import BenchError

BATCH = 5_000
ROUNDS = 10
ADDRESS = ("127.0.0.1", 8000)


class CollectingTransport(asyncio.Transport):
    """A transport that keeps what the protocol writes; the peer is on 127.0.0.1."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ADDRESS, "peername": ("127.0.0.1", 50_000)}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        """Flow control has nothing to pause here."""

    def resume_reading(self) -> None:
        """Flow control has nothing to resume here."""


class Connection:
    """One keep-alive connection to the app, driven request by request."""

    def __init__(self, app: ASGIApp, loop: asyncio.AbstractEventLoop) -> None:
        config = Config(
            app=app, http="httptools", loop="none", lifespan="off", access_log=False,
            log_config=None,  # leave the caller's logging alone
        )  # fmt: skip
        config.load()  # wraps the app as `byline serve` does (proxy headers)
        self.transport = CollectingTransport()
        state = ServerState()
        # What uvicorn's server loop puts before every response (`date`, `server`): each
        # header is checked and written per response, so leaving them out would make a
        # read look cheaper than it is, and the key's share of it larger.
        date = formatdate(time.time(), usegmt=True).encode()
        state.default_headers = [(b"date", date), *config.encoded_headers]
        self.protocol = HttpToolsProtocol(
            config=config, server_state=state, app_state={}, _loop=loop
        )
        self.protocol.connection_made(self.transport)

    async def request(self, raw: bytes) -> bytes:
        """Send one request; the response once the app has finished it."""
        self.transport.written.clear()
        self.protocol.data_received(raw)
        while self.protocol.cycle is None or not self.protocol.cycle.response_complete:
            await asyncio.sleep(0)
        return b"".join(self.transport.written)


@dataclass(frozen=True)
class KeyCost:
    anonymous_us: float  # median CPU µs per request over the rounds
    keyed_us: float
    ratio: float  # median over rounds of anonymous / keyed (1.0: a key costs nothing)
    extra_us: float  # median over rounds of keyed - anonymous: what the key itself adds


def get(path: str, *headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {ADDRESS[0]}:{ADDRESS[1]}", *headers, "", ""]
    return "\r\n".join(lines).encode()


async def measure(app: ASGIApp, key: str, rounds: int = ROUNDS, batch: int = BATCH) -> KeyCost:
    """Alternate batches of anonymous and keyed warm detail GETs; CPU time per request."""
    connection = Connection(app, asyncio.get_running_loop())
    listing = await connection.request(get("/v1/articles?limit=1"))
    found = re.search(rb'"id":"([^"]+)"', listing)
    if found is None:
        raise BenchError("the database has no published article to read")
    path = f"/v1/articles/{found.group(1).decode()}"
    anonymous, keyed = get(path), get(path, f"Authorization: Bearer {key}")
    for raw, marker in ((anonymous, b"etag"), (keyed, b"ratelimit-remaining")):
        answer = await connection.request(raw)  # also warms the read cache
        if not answer.startswith(b"HTTP/1.1 200") or marker not in answer:
            raise BenchError(f"in process, GET {path} answered {answer[:300]!r}")
    times: dict[bytes, list[float]] = {anonymous: [], keyed: []}
    for _ in range(rounds):
        for raw, spent in times.items():
            started = time.process_time()
            for _ in range(batch):
                await connection.request(raw)
            spent.append((time.process_time() - started) / batch * 1e6)
    pairs = list(zip(times[anonymous], times[keyed], strict=True))
    return KeyCost(
        statistics.median(times[anonymous]),
        statistics.median(times[keyed]),
        statistics.median(a / k for a, k in pairs),
        statistics.median(k - a for a, k in pairs),
    )


def key_cost(key: str, environment: dict[str, str]) -> KeyCost:
    """`measure` with these BYLINE_* settings (the bench server's), in a fresh event loop."""
    from app.core.config import Settings
    from app.main import create_app

    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    try:
        app = create_app(Settings())
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return uvloop.run(measure(app, key))


def main() -> int:
    from bench.corpus import byline_env, prepare, read_key

    prepare(100_000, rebuild=False)
    settings = {k: v for k, v in byline_env().items() if k.startswith("BYLINE_")}
    cost = key_cost(read_key(), settings)
    Console().print(
        f"warm detail GET in process: anonymous {cost.anonymous_us:.2f} µs, "
        f"keyed {cost.keyed_us:.2f} µs (+{cost.extra_us:.2f} µs); "
        f"anonymous / keyed = {cost.ratio:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
