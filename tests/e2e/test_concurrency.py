"""Two `byline serve` processes on one database under concurrent writes: no lost update, no duplicate, no 5xx.

Requests are spread over both servers (even ones to the first, odd ones to the second) and
sent at once with asyncio.gather. Each test files its articles under a category of its own,
so what it counts afterwards is exactly what it created, whatever else the database holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Database, Server, create_key, running_servers

pytestmark = pytest.mark.e2e

# Limits must not interfere with the load: no anonymous limit, a very high one per key.
UNLIMITED = {"BYLINE_ANONYMOUS_RATE_LIMIT": "none", "BYLINE_KEY_RATE_LIMIT": "100000/minute"}
PATCHES = 50
CREATES = 200
REPLAYS = 200
LOAD_DEADLINE = 60.0  # for one burst of requests, all of them
MERGE_PATCH = "application/merge-patch+json"


@dataclass(frozen=True)
class Writers:
    servers: list[Server]
    key: str  # a `write` key made by `byline keys create`


@pytest.fixture(scope="module")
def writers(e2e_database: Database) -> Iterator[Writers]:
    """Two servers on the backend's database, shared by the tests of this module."""
    key = create_key(e2e_database, "write")
    with running_servers(e2e_database, 2, UNLIMITED) as servers:
        yield Writers(servers, key)


@contextlib.asynccontextmanager
async def clients(writers: Writers) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One client per server, each sending the write key and holding up to 100 connections."""
    async with contextlib.AsyncExitStack() as stack:
        opened = []
        for server in writers.servers:
            client = await stack.enter_async_context(server.async_client())
            client.headers["Authorization"] = f"Bearer {writers.key}"
            opened.append(client)
        yield opened


async def burst(requests: Sequence[Awaitable[httpx.Response]]) -> list[httpx.Response]:
    """Send all requests at once and wait for every answer, within LOAD_DEADLINE."""
    return list(await asyncio.wait_for(asyncio.gather(*requests), LOAD_DEADLINE))


def report(responses: Sequence[httpx.Response], writers: Writers) -> str:
    """Status counts, a few unexpected answers and the servers' logs: what a failure shows."""
    odd = [r for r in responses if r.status_code not in (200, 201, 412)][:3]
    logs = "\n".join(server.log_tail() for server in writers.servers)
    return f"{Counter(r.status_code for r in responses)}\n{[r.text for r in odd]}\n{logs}"


def article_input(token: str, n: int) -> dict[str, Any]:
    return {
        "headline": f"Concurrent desk {token} story {n}",
        "dek": f"Filed by writer {n}.",
        "category": f"Concurrency {token}",
        "authors": ["Load Tester"],
        "takeaways": ["Two servers, one database."],
        "sections": [{"heading": None, "paragraphs": [f"Paragraph of story {n}."]}],
    }


async def drafts_in(client: httpx.AsyncClient, category: str) -> tuple[int, list[dict[str, Any]]]:
    """meta.total and every listed draft of a category, following the cursor page by page."""
    params: dict[str, Any] = {
        "status": "draft", "category": category, "include_total": "true", "limit": 100,
    }  # fmt: skip
    listed: list[dict[str, Any]] = []
    totals: set[int] = set()
    while True:
        page = await client.get("/v1/articles", params=params)
        assert page.status_code == 200, page.text
        listed += page.json()["data"]
        totals.add(page.json()["meta"]["total"])
        cursor = page.json()["meta"]["next_cursor"]
        if cursor is None:
            break
        params["cursor"] = cursor
    assert len(totals) == 1, totals
    return totals.pop(), listed


async def test_concurrent_patches_with_one_if_match_have_one_winner(writers: Writers) -> None:
    token = uuid.uuid4().hex[:8]
    async with clients(writers) as (first, second):
        created = await first.post("/v1/articles", json=article_input(token, 0))
        assert created.status_code == 201, created.text
        article_id, revision = created.json()["id"], created.json()["revision"]
        etag = created.headers["ETag"]
        deks = [f"Dek number {i} of {token}." for i in range(PATCHES)]
        responses = await burst(
            [
                (first, second)[i % 2].patch(
                    f"/v1/articles/{article_id}",
                    content=json.dumps({"dek": dek}),
                    headers={"If-Match": etag, "Content-Type": MERGE_PATCH},
                )
                for i, dek in enumerate(deks)
            ]
        )
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {200: 1, 412: PATCHES - 1}, report(responses, writers)
        (winner,) = [r for r in responses if r.status_code == 200]
        assert winner.json()["dek"] in deks
        assert winner.json()["revision"] == revision + 1
        assert winner.headers["ETag"] != etag
        for loser in (r for r in responses if r.status_code == 412):
            assert loser.headers["Content-Type"].startswith("application/problem+json")
            assert loser.json()["status"] == 412

        # Both servers read the winner's article back, and its history has one new revision.
        for client in (first, second):
            stored = await client.get(f"/v1/articles/{article_id}")
            assert stored.status_code == 200, stored.text
            assert stored.json() == winner.json()
            assert stored.headers["ETag"] == winner.headers["ETag"]
        history = await second.get(f"/v1/articles/{article_id}/revisions")
        assert [r["revision"] for r in history.json()["data"]] == [revision, revision + 1]
        latest = await first.get(f"/v1/articles/{article_id}/revisions/{revision + 1}")
        assert latest.json()["dek"] == winner.json()["dek"]


async def test_concurrent_creates_with_distinct_idempotency_keys_make_every_article_once(
    writers: Writers,
) -> None:
    token = uuid.uuid4().hex[:8]
    inputs = [article_input(token, i) for i in range(CREATES)]
    async with clients(writers) as (first, second):
        responses = await burst(
            [
                (first, second)[i % 2].post(
                    "/v1/articles", json=body, headers={"Idempotency-Key": f"{token}-{i}"}
                )
                for i, body in enumerate(inputs)
            ]
        )
        assert Counter(r.status_code for r in responses) == {201: CREATES}, report(
            responses, writers
        )
        made = [r.json() for r in responses]
        assert [a["headline"] for a in made] == [body["headline"] for body in inputs]
        assert all(
            r.headers["Location"] == f"/v1/articles/{a['id']}"
            for r, a in zip(responses, made, strict=True)
        )
        assert len({a["id"] for a in made}) == len({a["slug"] for a in made}) == CREATES
        category = made[0]["category"]["slug"]
        assert {a["category"]["slug"] for a in made} == {category}

        for client in (first, second):
            total, listed = await drafts_in(client, category)
            assert total == len(listed) == CREATES
            assert {a["id"] for a in listed} == {a["id"] for a in made}
            assert len({a["slug"] for a in listed}) == CREATES


async def test_concurrent_replays_of_one_idempotency_key_make_one_article(
    writers: Writers,
) -> None:
    token = uuid.uuid4().hex[:8]
    body = article_input(token, 0)
    once = {"Idempotency-Key": f"{token}-once"}
    async with clients(writers) as (first, second):
        responses = await burst(
            [
                (first, second)[i % 2].post("/v1/articles", json=body, headers=once)
                for i in range(REPLAYS)
            ]
        )
        assert Counter(r.status_code for r in responses) == {201: REPLAYS}, report(
            responses, writers
        )
        assert len({r.content for r in responses}) == 1
        article = responses[0].json()
        assert {r.headers["Location"] for r in responses} == {f"/v1/articles/{article['id']}"}
        originals = [r for r in responses if r.headers.get("Idempotent-Replayed") != "true"]
        assert len(originals) == 1

        total, listed = await drafts_in(second, article["category"]["slug"])
        assert total == 1
        assert [a["id"] for a in listed] == [article["id"]]

        # The same key with another body is refused; with the same body it still replays.
        changed = await first.post(
            "/v1/articles", json={**body, "dek": "Another dek."}, headers=once
        )
        assert changed.status_code == 422, changed.text
        assert changed.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
        again = await second.post("/v1/articles", json=body, headers=once)
        assert again.status_code == 201
        assert again.content == responses[0].content
        assert (await drafts_in(first, article["category"]["slug"]))[0] == 1
