"""The in-process keys-cost measurement of `make bench` (bench/inprocess.py) reads what it says."""

from __future__ import annotations

import asyncio

import pytest

from bench.inprocess import Connection, get, measure
from bench.processes import BenchError
from bench.run import ALONE, GROUPS, schedule
from tests.access.test_keys import make_key
from tests.conftest import add_article


async def test_in_process_reads_answer_through_uvicorns_protocol(app, session, settings):
    article = await add_article(session, settings)
    secret = await make_key(session, "read", name="bench", rate_limit="1000/minute")
    cost = await measure(app, secret, rounds=2, batch=5)
    assert cost.anonymous_us > 0
    assert cost.keyed_us > 0
    assert cost.ratio > 0
    # With two rounds each median is a mean, so the median extra is the medians' difference.
    assert cost.extra_us == pytest.approx(cost.keyed_us - cost.anonymous_us)
    # Every keyed read was counted against the key: 1 warm-up, 2 rounds of 5, and this one.
    connection = Connection(app, asyncio.get_running_loop())
    answer = await connection.request(
        get(f"/v1/articles/{article.id}", f"Authorization: Bearer {secret}")
    )
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"ratelimit-remaining: 988\r\n" in answer
    # The headers uvicorn's server adds to every response are written here too.
    head = answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert b"server: uvicorn" in head
    assert any(line.startswith(b"date: ") and line.endswith(b" GMT") for line in head)


async def test_a_key_the_server_refuses_stops_the_measurement(app, session, settings):
    await add_article(session, settings)
    with pytest.raises(BenchError, match="401"):
        await measure(app, "byl_not-a-key", rounds=1, batch=1)


def test_every_other_round_runs_its_groups_backwards():
    order = schedule(3)
    start = 0
    for group in GROUPS:
        size = len(group)
        rounds = [order[start + i * size : start + (i + 1) * size] for i in range(3)]
        assert rounds == [list(group), list(group[::-1]), list(group)]
        start += 3 * size
    assert order[start:] == list(ALONE)
