"""A real webhook receiver for tests: uvicorn on 127.0.0.1 in a thread, verifying every signature.

Each subscription posts to a path of its own (`/hook/<name>`); the test registers the path's
secret and, optionally, how the path misbehaves: answer 500 to the first N attempts of
every message, or hang on the first attempt of every message (to kill a worker mid-delivery).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks import Webhook, WebhookVerificationError

from bench.processes import free_port

HANG_SECONDS = 3600.0


@dataclass(frozen=True)
class Received:
    path: str
    message_id: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    status: int  # what the receiver answered (0: it hung)

    @property
    def payload(self) -> dict[str, Any]:
        data = json.loads(self.body)
        assert isinstance(data, dict), data
        return data


@dataclass
class Behaviour:
    secret: str
    fail_first: int = 0  # answer 500 to this many attempts of each message
    hang_first: bool = False  # never answer the first attempt of each message
    seen: Counter[str] = field(default_factory=Counter)


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.paths: dict[str, Behaviour] = {}
        self.received: list[Received] = []
        self.hanging = threading.Event()  # set once a request is being held
        self._lock = threading.Lock()
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning",
            access_log=False, loop="asyncio", http="h11", interface="asgi3",
            timeout_graceful_shutdown=1,
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def url(self, name: str) -> str:
        return f"{self.base_url}/hook/{name}"

    def expect(self, name: str, secret: str, **behaviour: Any) -> None:
        """Answer /hook/<name> this way from now on, forgetting what it received before
        (the receiver outlives a test: the same test on another backend reuses the name)."""
        path = f"/hook/{name}"
        with self._lock:
            self.paths[path] = Behaviour(secret, **behaviour)
            self.received = [r for r in self.received if r.path != path]

    def on(self, name: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == f"/hook/{name}"]

    def wait_for(self, test: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not test():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout}s; received {self.received}")
            time.sleep(0.05)

    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["path"].startswith("/redirect/"):  # sends the sender on to /hook/<name>
            target = "/hook/" + scope["path"].removeprefix("/redirect/")
            await send({"type": "http.response.start", "status": 307,
                        "headers": [(b"location", target.encode())]})  # fmt: skip
            await send({"type": "http.response.body", "body": b""})
            return
        status = self._answer(scope["path"], headers, body)
        if status == 0:
            self.hanging.set()
            await asyncio.sleep(HANG_SECONDS)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        behaviour = self.paths.get(path)
        message_id = headers.get("webhook-id", "")
        verified = behaviour is not None and _verifies(behaviour.secret, headers, body)
        with self._lock:
            if behaviour is None:
                status = 404
            else:
                behaviour.seen[message_id] += 1
                attempt = behaviour.seen[message_id]
                if behaviour.hang_first and attempt == 1:
                    status = 0
                else:
                    status = 500 if attempt <= behaviour.fail_first else 200
            self.received.append(Received(path, message_id, headers, body, verified, status))
        return status

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the receiver did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _verifies(secret: str, headers: dict[str, str], body: bytes) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


@contextlib.contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
