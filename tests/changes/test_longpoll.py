"""`wait`: long-polling against a database whose writes commit (the `live` fixture)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any

import httpx
from sqlalchemy import event

from app.changes.notifier import ChangeNotifier
from tests.changes.conftest import Desk, Live, article, log_top


async def top(live: Live) -> int:
    async with live.sessions() as session:
        return await log_top(session)


def poll(
    live: Live, since: int, wait: float, headers: dict[str, str] | None = None
) -> Coroutine[Any, Any, httpx.Response]:
    return live.client.get(
        "/v1/changes",
        params={"since": since, "wait": wait},
        headers=headers or live.keys.partner,
    )


def notifier(live: Live) -> ChangeNotifier:
    found: ChangeNotifier = live.app.state.change_notifier
    return found


async def settled(live: Live) -> None:
    """Let cancelled waiters and the watcher finish their last step."""
    for _ in range(50):
        if not notifier(live).waiting and not notifier(live).watching:
            return
        await asyncio.sleep(0.05)


async def test_a_waiting_partner_gets_the_event_as_it_comes(live: Live):
    since = await top(live)
    waiter = asyncio.create_task(poll(live, since, 10))
    await asyncio.sleep(0.5)
    assert not waiter.done()
    assert notifier(live).waiting == 1
    made = await Desk(live.client, live.keys.editor).create("Breaking", status="published")
    committed = time.monotonic()  # the event exists from its commit on
    response = await waiter
    assert time.monotonic() - committed < 1.0
    assert [e["article_id"] for e in response.json()["data"]] == [made["id"]]
    await settled(live)
    assert not notifier(live).watching  # nobody waits: the watcher stopped


async def test_a_wait_that_sees_nothing_returns_the_cursor_sent(live: Live):
    since = await top(live)
    started = time.monotonic()
    response = await poll(live, since, 0.6)
    assert 0.6 <= time.monotonic() - started < 2.0
    assert response.json() == {"data": [], "meta": {"next_cursor": str(since)}}
    await settled(live)
    assert not notifier(live).watching


async def test_changes_a_partner_may_not_see_do_not_end_its_wait(live: Live):
    since = await top(live)
    desk = Desk(live.client, live.keys.editor)
    waiter = asyncio.create_task(poll(live, since, 10))
    await asyncio.sleep(0.3)
    draft = await desk.create("Not yet")
    await desk.patch(draft["id"], {"dek": "Still not."})
    await asyncio.sleep(0.6)  # three looks at the log
    assert not waiter.done()
    made = await desk.create("Now", status="published")
    body = (await waiter).json()
    assert [(e["event"], e["article_id"]) for e in body["data"]] == [("published", made["id"])]


async def test_many_waiters_cost_one_read_of_the_log(live: Live, live_engine):
    since = await top(live)
    waiters = [asyncio.create_task(poll(live, since, 10)) for _ in range(40)]
    while notifier(live).waiting < len(waiters):
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    made = await Desk(live.client, live.keys.editor).create("For everyone", status="published")
    event.listen(live_engine.sync_engine, "before_cursor_execute", count)
    try:
        bodies = [(await w).json() for w in waiters]
    finally:
        event.remove(live_engine.sync_engine, "before_cursor_execute", count)
    assert all([e["article_id"] for e in b["data"]] == [made["id"]] for b in bodies)
    reads = [s for s in statements if "changes" in s]
    assert len(reads) < 10, reads  # one look at the log, not one query per waiter


async def test_a_client_that_hangs_up_leaves_nothing_behind(live: Live):
    since = await top(live)
    secret = live.keys.partner["Authorization"].encode()
    sent: list[dict[str, Any]] = []
    calls = 0

    async def receive() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(0.3)  # the client waits a moment, then closes the connection
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/v1/changes", "raw_path": b"/v1/changes", "root_path": "",
        "query_string": f"since={since}&wait=20".encode(),
        "headers": [(b"host", b"byline.test"), (b"authorization", secret)],
        "client": ("127.0.0.1", 50000), "server": ("byline.test", 80),
    }  # fmt: skip
    started = time.monotonic()
    await asyncio.wait_for(live.app(scope, receive, send), timeout=5)
    assert time.monotonic() - started < 2.0  # not the 20 s it asked to wait
    assert notifier(live).waiting == 0
    await settled(live)
    assert not notifier(live).watching
    # The feed still works for the next client.
    desk = Desk(live.client, live.keys.editor)
    made = await desk.create(article("After the hang-up")["headline"], status="published")
    body = (await poll(live, since, 5)).json()
    assert [e["article_id"] for e in body["data"]] == [made["id"]]
