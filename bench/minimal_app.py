"""The baseline: a raw ASGI app that answers every GET with the article bytes Byline served."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BODY = Path(os.environ.get("BENCH_BODY_FILE", "var/bench/article.json")).read_bytes()
HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
]
START = {"type": "http.response.start", "status": 200, "headers": HEADERS}
RESPONSE = {"type": "http.response.body", "body": BODY}
# Other scenarios' bytes, each at its own path (bench/run.py SAME_BYTES); "/" and any other
# path answer with the article.
OTHER_BODIES = {
    "/feed": ("BENCH_FEED_FILE", b"application/rss+xml; charset=utf-8"),
    "/ninjs": ("BENCH_NINJS_FILE", b"application/json"),
}


def _messages(body: bytes, media_type: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    headers = [(b"content-type", media_type), (b"content-length", str(len(body)).encode())]
    start = {"type": "http.response.start", "status": 200, "headers": headers}
    return start, {"type": "http.response.body", "body": body}


PAGES = {
    path: _messages(Path(os.environ[variable]).read_bytes(), media_type)
    for path, (variable, media_type) in OTHER_BODIES.items()
    if variable in os.environ
}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    start, response = PAGES.get(scope["path"]) or (START, RESPONSE)
    await send(start)
    await send(response)


async def lifespan(receive: Any, send: Any) -> None:
    # Answered, so uvicorn runs this app exactly as it runs Byline (lifespan on).
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
