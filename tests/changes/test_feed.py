"""GET /v1/changes: access, shape, cursors, and who sees which change under which name."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from app.models import Article, Change
from app.webhooks import embargo
from tests.changes.conftest import Desk, Keys, feed, log_top, story

TOMORROW = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
PUBLIC_EVENTS = {"published", "updated", "unpublished", "retracted", "deleted", "corrected"}


class TestAccess:
    @pytest.mark.parametrize("path", ["/v1/changes", "/v1/export"])
    async def test_no_key_or_a_read_key_reads_as_a_partner(
        self, client, desk: Desk, keys: Keys, path
    ):
        """Published content needs no key: both read the public, syndicable view."""
        shared = await desk.create("Shared widely", status="published")
        private = await desk.create("Ours alone", status="published", rights={"syndication": False})
        for headers in ({}, keys.reader):
            response = await client.get(path, headers=headers)
            assert response.status_code == 200
            assert response.headers["cache-control"] == "private, no-store"
            assert shared["id"] in response.text
            assert private["id"] not in response.text

    @pytest.mark.parametrize("path", ["/v1/changes", "/v1/export"])
    async def test_an_unknown_key_is_401(self, client, path):
        response = await client.get(path, headers={"Authorization": "Bearer byl_nope"})
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")

    async def test_partners_and_editors_are_let_in(self, client, keys: Keys):
        for headers in (keys.partner, keys.science, keys.editor):
            response = await client.get("/v1/changes", headers=headers)
            assert response.status_code == 200
            assert response.headers["cache-control"] == "private, no-store"


class TestValidation:
    @pytest.mark.parametrize(
        ("params", "name"),
        [
            ({"since": "abc"}, "since"),
            ({"since": "-1"}, "since"),
            ({"since": "1.5"}, "since"),
            ({"since": "9" * 30}, "since"),
            ({"limit": "0"}, "limit"),
            ({"limit": "101"}, "limit"),
            ({"wait": "31"}, "wait"),
            ({"wait": "-1"}, "wait"),
            ({"wait": "soon"}, "wait"),
        ],
    )
    async def test_bad_parameters_are_422_problems(self, client, keys: Keys, params, name):
        response = await client.get("/v1/changes", params=params, headers=keys.partner)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["loc"] for e in response.json()["errors"]] == [["query", name]]

    async def test_bad_export_since_is_422(self, client, keys: Keys):
        response = await client.get(
            "/v1/export", params={"since": "yesterday"}, headers=keys.partner
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["query", "since"]


class TestShapeAndCursors:
    async def test_an_event_has_the_documented_shape(self, client, keys: Keys, desk: Desk, session):
        start = await log_top(session)
        made = await desk.create("Comet seen", status="published")
        body = await feed(client, keys.partner, start)
        [event] = body["data"]
        assert set(event) == {"seq", "event", "article_id", "revision", "at"}
        assert event["event"] == "published"
        assert event["article_id"] == made["id"]
        assert event["revision"] == 1
        assert isinstance(event["seq"], int)
        assert event["seq"] > start
        assert event["at"].endswith("Z")
        assert dt.datetime.fromisoformat(event["at"]) == dt.datetime.fromisoformat(
            made["updated_at"]
        )
        assert body["meta"] == {"next_cursor": str(event["seq"])}

    async def test_nothing_new_gives_back_the_cursor_sent(
        self, client, keys: Keys, desk: Desk, session
    ):
        await desk.create("Old news", status="published")
        top = await log_top(session)
        assert await feed(client, keys.partner, top) == {
            "data": [],
            "meta": {"next_cursor": str(top)},
        }
        # Changes a partner may not see leave the cursor where it was, too.
        await desk.create("A draft")
        assert (await feed(client, keys.partner, top))["meta"]["next_cursor"] == str(top)

    async def test_no_cursor_reads_from_the_start(self, client, keys: Keys, desk: Desk):
        made = await desk.create("From the top", status="published")
        body = await feed(client, keys.partner, 0)
        assert made["id"] in [e["article_id"] for e in body["data"]]
        response = await client.get("/v1/changes", headers=keys.partner)
        assert response.json() == body

    async def test_pages_walk_the_log_in_order_and_replay_alike(
        self, client, keys: Keys, desk: Desk, session
    ):
        start = await log_top(session)
        for n in range(3):
            made = await desk.create(f"Story {n}", status="published")
            await desk.post(made["id"], "corrections", {"text": f"Fix {n}."})
        whole = (await feed(client, keys.partner, start))["data"]
        assert len(whole) == 6
        seqs = [e["seq"] for e in whole]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == 6
        walked, cursor = [], str(start)
        for _ in range(6):
            page = await feed(client, keys.partner, cursor, limit=1)
            walked += page["data"]
            cursor = page["meta"]["next_cursor"]
        assert walked == whole
        assert (await feed(client, keys.partner, cursor))["data"] == []
        # Replayable: any cursor gives the same events again.
        assert (await feed(client, keys.partner, seqs[2]))["data"] == whole[3:]
        assert (await feed(client, keys.partner, start))["data"] == whole

    async def test_a_cursor_past_the_end_waits_for_the_log(self, client, keys: Keys, session):
        beyond = await log_top(session) + 1_000
        assert (await feed(client, keys.partner, beyond))["meta"]["next_cursor"] == str(beyond)

    async def test_with_nothing_new_the_cursor_comes_back_as_it_was_sent(
        self, client, keys: Keys, desk: Desk, session
    ):
        await desk.create("Before", status="published")
        top = await log_top(session)
        padded = f"000{top}"
        assert (await feed(client, keys.partner, padded))["meta"]["next_cursor"] == padded
        made = await desk.create("After", status="published")
        page = await feed(client, keys.partner, padded)
        assert [e["article_id"] for e in page["data"]] == [made["id"]]
        assert page["meta"]["next_cursor"] == str(page["data"][-1]["seq"])


class TestPartnerView:
    async def test_drafts_and_scheduled_articles_never_show(
        self, client, keys: Keys, desk: Desk, session
    ):
        start = await log_top(session)
        draft = await desk.create("Unfinished")
        await desk.patch(draft["id"], {"dek": "Still unfinished."})
        later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
        await desk.post(draft["id"], "publish", {"at": later})
        await desk.post(draft["id"], "unpublish")
        await desk.delete(draft["id"])
        assert (await feed(client, keys.partner, start))["data"] == []
        # The newsroom's own keys see all of it, in the public vocabulary (no `created`).
        editor = await feed(client, keys.editor, start)
        assert story(editor, draft["id"]) == [
            "updated", "updated", "updated", "unpublished", "deleted",
        ]  # fmt: skip
        stored = (await session.scalars(select(Change.event).where(Change.seq > start))).all()
        assert stored[0] == "created"

    async def test_a_public_article_s_life_and_tombstones(
        self, client, keys: Keys, desk: Desk, session
    ):
        start = await log_top(session)
        kept = await desk.create("Kept", status="published")
        await desk.post(kept["id"], "corrections", {"text": "A name was misspelled."})
        await desk.patch(kept["id"], {"dek": "Better dek."})
        await desk.post(kept["id"], "retract", {"reason": "Sourcing."})
        pulled = await desk.create("Pulled", status="published")
        await desk.post(pulled["id"], "unpublish")
        dropped = await desk.create("Dropped", status="published")
        await desk.delete(dropped["id"])
        body = await feed(client, keys.partner, start)
        assert story(body, kept["id"]) == ["published", "corrected", "updated", "retracted"]
        assert story(body, pulled["id"]) == ["published", "unpublished"]
        assert story(body, dropped["id"]) == ["published", "deleted"]
        assert {e["event"] for e in body["data"]} <= PUBLIC_EVENTS
        revisions = [e["revision"] for e in body["data"] if e["article_id"] == kept["id"]]
        assert revisions == [1, 2, 3, 4]

    async def test_rescheduling_a_published_article_withdraws_it_until_then(
        self, client, keys: Keys, desk: Desk, session
    ):
        start = await log_top(session)
        made = await desk.create("Moved", status="published")
        later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
        await desk.post(made["id"], "publish", {"at": later})
        assert story(await feed(client, keys.partner, start), made["id"]) == [
            "published", "unpublished",
        ]  # fmt: skip

    async def test_no_syndication_rights_no_events(self, client, keys: Keys, desk: Desk, session):
        start = await log_top(session)
        made = await desk.create("Exclusive", status="published", rights={"syndication": False})
        await desk.post(made["id"], "corrections", {"text": "Fixed."})
        assert (await feed(client, keys.partner, start))["data"] == []
        # Granting the rights brings it in; withdrawing them takes it out again.
        await desk.patch(made["id"], {"rights": {"syndication": True}})
        await desk.patch(made["id"], {"rights": {"syndication": False}})
        await desk.post(made["id"], "retract", {"reason": "Gone."})
        assert story(await feed(client, keys.partner, start), made["id"]) == [
            "published", "unpublished",
        ]  # fmt: skip
        assert story(await feed(client, keys.editor, start), made["id"]) == [
            "published", "corrected", "updated", "updated", "retracted",
        ]  # fmt: skip

    async def test_a_category_limited_key_sees_its_categories_only(
        self, client, keys: Keys, desk: Desk, session
    ):
        start = await log_top(session)
        science = await desk.create("Lab result", status="published")
        politics = await desk.create("Vote count", status="published", category="Politics")
        await desk.patch(science["id"], {"category": "Politics"})  # leaves the key's view
        await desk.patch(science["id"], {"category": "Science"})  # and comes back
        await desk.post(politics["id"], "retract", {"reason": "Wrong."})
        limited = await feed(client, keys.science, start)
        assert {e["article_id"] for e in limited["data"]} == {science["id"]}
        assert story(limited, science["id"]) == ["published", "unpublished", "published"]
        everyone = await feed(client, keys.partner, start)
        assert story(everyone, science["id"]) == ["published", "updated", "updated"]
        assert story(everyone, politics["id"]) == ["published", "retracted"]

    async def test_an_embargo_lifted_by_the_worker_is_published(
        self, client, keys: Keys, desk: Desk, session
    ):
        start = await log_top(session)
        made = await desk.create("Embargoed")
        await desk.post(made["id"], "publish", {"at": TOMORROW.isoformat()})
        assert (await feed(client, keys.partner, start))["data"] == []
        await embargo_passes(session, made["id"])
        # The worker's row carries no visibility columns: the feed judges the article as it is.
        assert await embargo.lift(session, made["id"], dt.datetime.now(dt.UTC)) is not None
        await session.commit()
        body = await feed(client, keys.partner, start)
        assert [(e["event"], e["revision"]) for e in body["data"]] == [("published", 2)]
        edited = await desk.patch(made["id"], {"dek": "After the embargo."})
        assert edited["revision"] == 3
        assert story(await feed(client, keys.partner, start), made["id"]) == [
            "published", "updated",
        ]  # fmt: skip

    async def test_a_lapsed_embargo_shows_on_the_next_change_without_a_worker(
        self, client, keys: Keys, desk: Desk, session
    ):
        start = await log_top(session)
        made = await desk.create("Quietly lifted")
        await desk.post(made["id"], "publish", {"at": TOMORROW.isoformat()})
        await embargo_passes(session, made["id"])
        await desk.post(made["id"], "retract", {"reason": "Withdrawn."})
        # It was public just before the retraction, so its tombstone reaches partners.
        assert story(await feed(client, keys.partner, start), made["id"]) == ["retracted"]


async def embargo_passes(session, article_id: str) -> None:
    """The clock moves past a scheduled article's embargo (its time is set a minute ago)."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    await session.execute(
        update(Article)
        .where(Article.id == article_id)
        .values(published_at=past, embargo_until=past)
    )
    await session.commit()
