"""GET /v1/export: NDJSON of what a key may see, `since`, batches, and the hand-over to the feed."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any, NoReturn

import orjson
import pytest

from app.changes import export
from tests.changes.conftest import Desk, Keys, feed, log_top


async def exported(client, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/v1/export", params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["cache-control"] == "private, no-store"
    assert response.content == b"" or response.content.endswith(b"\n")
    return [orjson.loads(line) for line in response.content.splitlines()]


async def newsroom(desk: Desk) -> dict[str, str]:
    """One article in each state a partner must or must not receive; ids by name."""
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    made = {
        "science": await desk.create("Telescope first light", status="published"),
        "politics": await desk.create("Budget passes", status="published", category="Politics"),
        "draft": await desk.create("Draft only"),
        "scheduled": await desk.create("Tomorrow's news"),
        "exclusive": await desk.create(
            "Exclusive", status="published", rights={"syndication": False}
        ),
        "retracted": await desk.create("Wrong story", status="published"),
        "deleted": await desk.create("Deleted story", status="published"),
    }
    await desk.post(made["scheduled"]["id"], "publish", {"at": later})
    await desk.post(made["retracted"]["id"], "retract", {"reason": "Wrong."})
    await desk.delete(made["deleted"]["id"])
    return {name: body["id"] for name, body in made.items()}


async def test_partners_get_what_they_may_syndicate_as_the_api_gives_it(
    client, keys: Keys, desk: Desk
):
    ids = await newsroom(desk)
    lines = await exported(client, keys.partner)
    assert {line["id"] for line in lines} == {ids["science"], ids["politics"]}
    for line in lines:
        single = await client.get(f"/v1/articles/{line['id']}", headers=keys.partner)
        assert line == single.json()
    limited = await exported(client, keys.science)
    assert [line["id"] for line in limited] == [ids["science"]]


async def test_editors_get_drafts_and_scheduled_articles_too(client, keys: Keys, desk: Desk):
    ids = await newsroom(desk)
    lines = await exported(client, keys.editor)
    expected = {ids[name] for name in ("science", "politics", "draft", "scheduled", "exclusive")}
    assert {line["id"] for line in lines} == expected
    for line in lines:
        single = await client.get(f"/v1/articles/{line['id']}", headers=keys.editor)
        assert line == single.json()
    assert {line["status"] for line in lines} == {"published", "draft", "scheduled"}


async def test_since_keeps_articles_updated_at_or_after_it(client, keys: Keys, desk: Desk):
    first = await desk.create("First", status="published")
    second = await desk.create("Second", status="published")
    lines = await exported(client, keys.partner, since=second["updated_at"])
    assert [line["id"] for line in lines] == [second["id"]]
    touched = await desk.patch(first["id"], {"dek": "Touched."})
    lines = await exported(client, keys.partner, since=second["updated_at"])
    assert [line["id"] for line in lines] == [second["id"], first["id"]]
    assert lines[-1]["revision"] == touched["revision"]
    tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    assert await exported(client, keys.partner, since=tomorrow) == []


async def test_since_keeps_an_article_whose_embargo_lifted_after_it(client, keys: Keys, desk: Desk):
    lift = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.5)
    scheduled = await desk.create("Lifts soon")
    await desk.post(scheduled["id"], "publish", {"at": lift.isoformat()})
    since = (lift - dt.timedelta(seconds=0.5)).isoformat()  # after the scheduling write
    assert await exported(client, keys.partner, since=since) == []
    await asyncio.sleep(max(0.0, (lift - dt.datetime.now(dt.UTC)).total_seconds()) + 0.2)
    lines = await exported(client, keys.partner, since=since)
    assert [line["id"] for line in lines] == [scheduled["id"]]


@pytest.mark.parametrize(
    "since",
    [
        "0001-01-01T00:00:00+14:00",  # before 0001-01-01 in UTC
        "0001-01-01T13:59:59+14:00",
        "9999-12-31T23:59:59-14:00",  # after 9999-12-31 in UTC
        "9999-12-31T10:00:00-14:00",
        "0001-01-01T00:00:00 14:00",  # an unencoded "+" arrives as a space
    ],
)
async def test_a_since_the_utc_calendar_cannot_hold_is_422_before_streaming(
    client, keys: Keys, desk: Desk, since: str
):
    await desk.create("Anything", status="published")
    for headers in (keys.partner, keys.editor):
        response = await client.get("/v1/export", params={"since": since}, headers=headers)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["loc"] for e in response.json()["errors"]] == [["query", "since"]]


async def test_since_at_the_ends_of_the_calendar(client, keys: Keys, desk: Desk):
    made = await desk.create("Anything", status="published")
    for since in ("0001-01-01", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00-14:00",
                  "0001-01-01T14:00:00 14:00"):  # fmt: skip
        lines = await exported(client, keys.partner, since=since)
        assert made["id"] in [line["id"] for line in lines]
    for since in ("9999-12-31T23:59:59Z", "9999-12-31T09:59:59-14:00", "9999-12-31"):
        assert await exported(client, keys.partner, since=since) == []


async def test_batches_follow_each_other_without_loss_or_repeat(
    client, keys: Keys, desk: Desk, monkeypatch
):
    monkeypatch.setattr(export, "BATCH", 2)
    made = [await desk.create(f"Batch story {n}", status="published") for n in range(5)]
    lines = await exported(client, keys.partner)
    assert [line["id"] for line in lines] == [body["id"] for body in made]
    stamps = [line["updated_at"] for line in lines]
    assert stamps == sorted(stamps)


async def test_the_cursor_header_hands_over_to_the_feed_without_a_gap(
    client, keys: Keys, desk: Desk, session
):
    before = await desk.create("Before the export", status="published")
    response = await client.get("/v1/export", headers=keys.partner)
    cursor = response.headers["byline-change-cursor"]
    assert cursor == str(await log_top(session))
    assert before["id"] in response.text
    after = await desk.create("After the export", status="published")
    body = await feed(client, keys.partner, cursor)
    assert [event["article_id"] for event in body["data"]] == [after["id"]]


async def test_head_answers_the_headers_without_reading_the_export(
    client, keys: Keys, desk: Desk, monkeypatch
):
    await newsroom(desk)
    got = await client.get("/v1/export", headers=keys.partner)

    def unread(*_: object) -> NoReturn:
        raise AssertionError("a HEAD must not read the export")

    monkeypatch.setattr(export, "lines", unread)
    head = await client.head("/v1/export", headers=keys.partner)
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "cache-control", "byline-change-cursor"):
        assert head.headers[name] == got.headers[name]
