"""The request log: one JSON line per request, with the key's name and never its secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from app.ops.logs import json_formatter, log_config
from app.ops.metrics import access_log
from tests.access.test_keys import make_key
from tests.conftest import add_article


@pytest.fixture
def request_log() -> Iterator[io.StringIO]:
    """What byline.access writes, formatted as `byline serve` formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    level = access_log.level
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        access_log.removeHandler(handler)
        access_log.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_each_request_is_one_json_line(client, session, settings, request_log):
    secret = await make_key(session, "read", name="night-desk")
    view = await add_article(session, settings)
    await session.commit()
    headers = {"Authorization": f"Bearer {secret}", "X-Request-ID": "trace-42"}
    path = f"/v1/articles/{view.id}"
    first = await client.get(path, headers=headers)  # the stack (a cache miss)
    second = await client.get(path)  # the fast lane (a hit), anonymous
    missing = await client.get("/v1/articles/nope", headers={"X-Request-ID": "trace-43"})
    assert (first.status_code, second.status_code, missing.status_code) == (200, 200, 404)

    logged = lines(request_log)
    assert len(logged) == 3
    keyed, anonymous, not_found = logged
    assert keyed["request_id"] == "trace-42"
    assert keyed["key_name"] == "night-desk"
    assert keyed["route"] == "/v1/articles/{key}"
    assert keyed["method"] == "GET"
    assert keyed["status"] == 200
    assert isinstance(keyed["latency_ms"], float)
    assert keyed["logger"] == "byline.access"
    assert keyed["level"] == "INFO"
    assert str(keyed["time"]).endswith("+00:00")
    assert anonymous["request_id"] == second.headers["x-request-id"]
    assert anonymous["key_name"] is None
    assert anonymous["status"] == 200
    assert not_found["status"] == 404
    assert not_found["request_id"] == "trace-43"
    assert secret not in request_log.getvalue()
    assert view.id not in request_log.getvalue()  # the route template, not the raw path


def test_serve_and_worker_log_json_through_the_root_logger():
    config = log_config("info")
    assert config["root"] == {"level": "INFO", "handlers": ["stderr"]}
    assert config["handlers"]["stderr"]["formatter"] == "json"
    # uvicorn's access log is off: byline.access replaces it with the key and the route.
    assert config["loggers"]["uvicorn.access"]["level"] == "WARNING"
    record = logging.LogRecord("byline.x", logging.WARNING, __file__, 1, "hello %s", ("you",), None)
    line = json.loads(json_formatter().format(record))
    assert line["message"] == "hello you"
    assert line["level"] == "WARNING"
    assert line["logger"] == "byline.x"
