"""The in-process keys-cost measurement of `make bench` (bench/inprocess.py) reads what it says."""

from __future__ import annotations

import asyncio

import pytest

from bench.inprocess import Connection, get, measure
from bench.processes import BenchError
from tests.access.test_keys import make_key
from tests.conftest import add_article


async def test_in_process_reads_answer_through_uvicorns_protocol(app, session, settings):
    article = await add_article(session, settings)
    secret = await make_key(session, "read", name="bench", rate_limit="1000/minute")
    cost = await measure(app, secret, rounds=2, batch=5)
    assert cost.anonymous_us > 0
    assert cost.keyed_us > 0
    assert cost.ratio > 0
    # Every keyed read was counted against the key: 1 warm-up, 2 rounds of 5, and this one.
    connection = Connection(app, asyncio.get_running_loop())
    answer = await connection.request(
        get(f"/v1/articles/{article.id}", f"Authorization: Bearer {secret}")
    )
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"ratelimit-remaining: 988\r\n" in answer


async def test_a_key_the_server_refuses_stops_the_measurement(app, session, settings):
    await add_article(session, settings)
    with pytest.raises(BenchError, match="401"):
        await measure(app, "byl_not-a-key", rounds=1, batch=1)
