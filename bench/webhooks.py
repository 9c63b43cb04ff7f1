"""`python -m bench.webhooks`: webhook deliveries per second with one `byline worker`.

It makes a temp database, starts `byline serve` and a receiver on 127.0.0.1 (uvicorn with
httptools in a thread of this process, answering 204 and checking one signature in 50 with
standardwebhooks), subscribes `--subscriptions` URLs, publishes `--articles` articles
through the API (so the outbox holds subscriptions x articles deliveries), then starts one
worker and times the deliveries from the first to the last one received. Exits 1 below
the target (200 deliveries/s).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from rich.console import Console
from standardwebhooks import Webhook, WebhookVerificationError

from bench.corpus import BYLINE, ROOT
from bench.processes import BenchError, Children, free_port

TARGET = 200.0  # deliveries/s with one worker (issue #4)
DEADLINE = 300.0
VERIFY_EVERY = 50
console = Console()


class Receiver:
    """Counts deliveries per webhook-id; verifies a sample of signatures."""

    def __init__(self) -> None:
        self.port = free_port()
        self.secrets: dict[str, Webhook] = {}
        self.ids: set[str] = set()
        self.requests = 0
        self.bad_signatures = 0
        self.first = self.last = 0.0
        self._lock = threading.Lock()
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning",
            access_log=False, loop="uvloop", http="httptools", interface="asgi3",
            timeout_graceful_shutdown=1,
        )  # fmt: skip
        self.server = uvicorn.Server(config)

    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self._count(scope["path"], headers, body)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def _count(self, path: str, headers: dict[str, str], body: bytes) -> None:
        now = time.perf_counter()
        with self._lock:
            self.requests += 1
            self.ids.add(headers.get("webhook-id", ""))
            self.first = self.first or now
            self.last = now
            check = self.requests % VERIFY_EVERY == 1
        if check:
            try:
                self.secrets[path].verify(body, headers)
            except (KeyError, WebhookVerificationError):
                self.bad_signatures += 1

    @contextlib.contextmanager
    def running(self) -> Iterator[Receiver]:
        thread = threading.Thread(target=self.server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise BenchError("the receiver did not start")
            time.sleep(0.02)
        try:
            yield self
        finally:
            self.server.should_exit = True
            thread.join(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscriptions", type=int, default=25)
    parser.add_argument("--articles", type=int, default=160)
    parser.add_argument("--concurrency", type=int, default=32, help="BYLINE_WEBHOOK_CONCURRENCY")
    parser.add_argument("--database-url", help="an empty database (default: a temp SQLite file)")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="byline-bench-webhooks-") as tmp:
            rate = run(args, Path(tmp))
    except BenchError as error:
        console.print(f"[red]bench failed:[/red] {error}", highlight=False)
        return 2
    met = rate >= TARGET
    console.print(
        f"target >= {TARGET:.0f} deliveries/s with one worker: {'met' if met else 'MISSED'}"
    )
    return 0 if met else 1


def run(args: argparse.Namespace, tmp: Path) -> float:
    url = args.database_url or f"sqlite:///{tmp / 'webhooks.db'}"
    env = _env(url, args.concurrency)
    _byline(env, "migrate")
    writer = _byline(env, "keys", "create", "--name", "bench-desk", "--scope", "write").split()[-1]
    partner = _byline(env, "keys", "create", "--name", "bench-partner", "--scope", "syndicate")
    partner = partner.split()[-1]
    receiver = Receiver()
    with receiver.running(), Children(tmp) as children:
        server = children.start("serve", [str(BYLINE), "serve"], env, ROOT)
        with httpx.Client(base_url=server.base_url, timeout=30) as api:
            _subscribe(api, partner, receiver, args.subscriptions)
            _publish(api, writer, args.articles)
        total = args.subscriptions * args.articles
        console.print(
            f"{total} deliveries queued ({args.subscriptions} subscriptions x {args.articles} articles)"
        )
        with _worker(env, tmp):
            _wait(receiver, total)
    return _report(receiver, total)


def _env(database_url: str, concurrency: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYLINE_")}
    env.update(
        BYLINE_DATABASE_URL=database_url, BYLINE_LOG_LEVEL="WARNING",
        BYLINE_KEY_RATE_LIMIT="none", BYLINE_ANONYMOUS_RATE_LIMIT="none",
        BYLINE_WEBHOOK_ALLOW_PRIVATE_TARGETS="true", BYLINE_WEBHOOK_CONCURRENCY=str(concurrency),
        BYLINE_WEBHOOK_POLL_INTERVAL="0.2",
    )  # fmt: skip
    return env


def _byline(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BYLINE), *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"byline {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def _subscribe(api: httpx.Client, key: str, receiver: Receiver, count: int) -> None:
    for n in range(count):
        body = {"url": f"http://127.0.0.1:{receiver.port}/hook/{n}", "events": ["published"]}
        made = api.post("/v1/webhooks", json=body, headers={"Authorization": f"Bearer {key}"})
        if made.status_code != 201:
            raise BenchError(f"subscribing failed: {made.status_code} {made.text}")
        receiver.secrets[f"/hook/{n}"] = Webhook(made.json()["secret"])


def _publish(api: httpx.Client, key: str, count: int) -> None:
    for n in range(count):
        article = {
            "headline": f"Bench story {n}", "category": "Bench", "authors": ["Bench Writer"],
            "status": "published", "takeaways": ["Webhooks go out."],
            "sections": [{"heading": None, "paragraphs": [f"Paragraph {n} of the bench."]}],
        }  # fmt: skip
        made = api.post("/v1/articles", json=article, headers={"Authorization": f"Bearer {key}"})
        if made.status_code != 201:
            raise BenchError(f"publishing failed: {made.status_code} {made.text}")


@contextlib.contextmanager
def _worker(env: dict[str, str], tmp: Path) -> Iterator[subprocess.Popen[bytes]]:
    log = tmp / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BYLINE), "worker"], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield process
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue
        if process.returncode not in (0, -signal.SIGTERM, -signal.SIGKILL):
            console.print(log.read_text(errors="replace")[-2000:], highlight=False, markup=False)


def _wait(receiver: Receiver, total: int) -> None:
    deadline = time.monotonic() + DEADLINE
    while len(receiver.ids) < total:
        if time.monotonic() > deadline:
            raise BenchError(f"only {len(receiver.ids)} of {total} delivered in {DEADLINE:.0f}s")
        time.sleep(0.05)


def _report(receiver: Receiver, total: int) -> float:
    seconds = receiver.last - receiver.first
    rate = (total - 1) / seconds if seconds > 0 else float("inf")
    console.print(
        f"delivered {total} in {seconds:.2f}s: {rate:,.0f} deliveries/s "
        f"({receiver.requests} requests, {receiver.bad_signatures} bad signatures in the sample)"
    )
    if receiver.requests != total or receiver.bad_signatures:
        raise BenchError("duplicate deliveries or bad signatures")
    return rate


if __name__ == "__main__":
    sys.exit(main())
