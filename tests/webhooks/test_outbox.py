"""The outbox: rows written with the article's own transaction, filtered per subscriber, claimed once."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

from sqlalchemy import delete, func, select

from app.articles import editing
from app.articles.editing import WriteContext
from app.articles.search import SearchIndex
from app.articles.writer import write_view
from app.models import Change, ChangeEvent, WebhookAttempt, WebhookDelivery, WebhookSubscription
from app.webhooks import embargo, outbox
from app.webhooks.outbox import Outcome
from tests.conftest import add_article
from tests.webhooks.conftest import (
    add_categories,
    deliveries,
    new_key,
    subscribe,
    worker_settings,
)

NOW = dt.datetime.now(dt.UTC)


def ctx(settings, session) -> WriteContext:
    return WriteContext(
        dt.datetime.now(dt.UTC), settings, SearchIndex(session.get_bind().dialect.name)
    )


async def partner_subscription(session, **kwargs):
    owner, _ = await new_key(
        session, "read", "syndicate", categories=kwargs.pop("key_categories", None)
    )
    subscription, _ = await subscribe(session, owner, **kwargs)
    return subscription


class TestWrittenWithTheArticle:
    async def test_one_row_per_matching_subscription_in_the_same_transaction(
        self, session, settings
    ):
        first = await partner_subscription(session)
        second = await partner_subscription(session)
        view = await add_article(session, settings)
        seq = await session.scalar(select(func.max(Change.seq)))
        for subscription in (first, second):
            [row] = await deliveries(session, subscription.id)
            assert (row.seq, row.event, row.article_id, row.revision) == (
                seq,
                "published",
                view.id,
                1,
            )
            assert (row.state, row.attempts) == ("pending", 0)
            assert row.article["headline"] == view.headline
            assert row.article["url"] == f"/articles/{view.slug}"  # made absolute when sent
            assert row.article["sections"]  # a syndicate key gets the full article

    async def test_a_rolled_back_write_leaves_no_delivery(self, session, settings):
        subscription = await partner_subscription(session)
        savepoint = await session.begin_nested()
        await add_article(session, settings)
        assert len(await deliveries(session, subscription.id)) == 1
        await savepoint.rollback()  # the write fails after its outbox row was written
        assert await deliveries(session, subscription.id) == []
        assert await session.scalar(select(func.count()).select_from(Change)) == 0

    async def test_no_subscription_no_rows(self, session, settings):
        await add_article(session, settings)
        assert await session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


class TestPartnerRules:
    async def test_event_and_category_filters(self, session, settings):
        await add_categories(session, "science", "business")
        retractions = await partner_subscription(session, events=["retracted"])
        science = await partner_subscription(session, categories=["science"])
        business = await partner_subscription(session, categories=["business"])
        limited_key = await partner_subscription(session, key_categories=["business"])
        await add_article(session, settings, category="Science")
        assert await deliveries(session, retractions.id) == []
        assert len(await deliveries(session, science.id)) == 1
        assert await deliveries(session, business.id) == []
        assert await deliveries(session, limited_key.id) == []

    async def test_no_syndication_rights_never_reach_a_partner(self, session, settings):
        partner = await partner_subscription(session)
        newsroom_key, _ = await new_key(session, "write")
        newsroom, _ = await subscribe(session, newsroom_key)
        view = await add_article(session, settings, rights={"syndication": False})
        await editing.retract(session, view.id, "Wrong.", None, ctx(settings, session))
        assert await deliveries(session, partner.id) == []
        assert [d.event for d in await deliveries(session, newsroom.id)] == [
            "published",
            "retracted",
        ]

    async def test_summary_without_syndicate_scope(self, session, settings):
        reader_key, _ = await new_key(session, "read")
        subscription, _ = await subscribe(session, reader_key)
        view = await add_article(session, settings)
        [row] = await deliveries(session, subscription.id)
        assert row.article["id"] == view.id
        assert "sections" not in row.article
        assert "takeaways" in row.article

    async def test_drafts_are_the_newsrooms_business(self, session, settings):
        partner = await partner_subscription(session)
        newsroom_key, _ = await new_key(session, "write")
        newsroom, _ = await subscribe(session, newsroom_key)
        draft = await add_article(session, settings, status="draft")
        await editing.correct(session, draft.id, "A fix.", None, ctx(settings, session))
        assert await deliveries(session, partner.id) == []
        # As in the change feed, editors hear of a new draft as an update of revision 1.
        created, corrected = await deliveries(session, newsroom.id)
        assert (created.event, created.revision) == ("updated", 1)
        assert (corrected.event, corrected.article["status"]) == ("corrected", "draft")

    async def test_tombstones_and_takedowns(self, session, settings):
        partner = await partner_subscription(session)
        gone = await add_article(session, settings)
        pulled = await add_article(session, settings)
        await editing.retract(session, gone.id, "Sourcing failed.", None, ctx(settings, session))
        await editing.unpublish(session, pulled.id, None, ctx(settings, session))
        rows = {(d.article_id, d.event): d for d in await deliveries(session, partner.id)}
        tombstone = rows[(gone.id, "retracted")].article
        assert (tombstone["status"], tombstone["reason"]) == ("retracted", "Sourcing failed.")
        assert "headline" not in tombstone
        assert rows[(pulled.id, "unpublished")].article is None

    async def test_an_article_leaving_a_partners_view_arrives_as_the_feed_names_it(
        self, session, settings
    ):
        """The same names as GET /v1/changes: a copy kept from webhooks is never left stale."""
        await add_categories(session, "science")
        science = await partner_subscription(session, categories=["science"])
        newsroom_key, _ = await new_key(session, "write")
        newsroom, _ = await subscribe(session, newsroom_key)
        moved = await add_article(session, settings, category="Science")
        withdrawn = await add_article(session, settings, category="Science")
        edit = ctx(settings, session)
        await editing.patch(session, moved.id, {"category": "Business"}, None, edit)
        await editing.patch(session, withdrawn.id, {"rights": {"syndication": False}}, None, edit)
        await editing.patch(session, withdrawn.id, {"rights": {"syndication": True}}, None, edit)

        seen = [(d.article_id, d.event, d.article) for d in await deliveries(session, science.id)]
        assert [(article_id, event) for article_id, event, _ in seen] == [
            (moved.id, "published"),
            (withdrawn.id, "published"),
            (moved.id, "unpublished"),  # moved out of the subscription's category
            (withdrawn.id, "unpublished"),  # its rights no longer allow syndication
            (withdrawn.id, "published"),  # and back
        ]
        assert [article for _, _, article in seen[2:4]] == [None, None]  # take it down
        assert seen[4][2]["revision"] == 3
        assert [d.event for d in await deliveries(session, newsroom.id)] == [
            "published", "published", "updated", "updated", "updated",
        ]  # fmt: skip

    async def test_a_withdrawal_cancels_what_still_waits_to_be_sent(self, session, settings):
        """A waiting delivery carries the article as it was: once the article leaves the
        subscriber's view, it must not go out (on a retry, say), even to a subscriber that
        did not ask for the withdrawing event."""
        published_only = await partner_subscription(session, events=["published", "corrected"])
        everything = await partner_subscription(session)
        unrelated = await add_article(session, settings)
        pulled = await add_article(session, settings)
        deleted = await add_article(session, settings)
        edit = ctx(settings, session)
        await editing.patch(session, pulled.id, {"rights": {"syndication": False}}, None, edit)
        await editing.delete(session, deleted.id, None, None, edit)

        def states(rows) -> dict[tuple[str, str], str]:
            return {(d.article_id, d.event): d.state for d in rows}

        assert states(await deliveries(session, published_only.id)) == {
            (unrelated.id, "published"): "pending",
            (pulled.id, "published"): "cancelled",
            (deleted.id, "published"): "cancelled",
        }
        assert states(await deliveries(session, everything.id)) == {
            (unrelated.id, "published"): "pending",
            (pulled.id, "published"): "cancelled",
            (pulled.id, "unpublished"): "pending",  # the take-down itself goes out
            (deleted.id, "published"): "cancelled",
            (deleted.id, "deleted"): "pending",
        }
        cancelled = [d for d in await deliveries(session, everything.id) if d.state == "cancelled"]
        assert all(d.finished_at is not None and d.claim is None for d in cancelled)

    async def test_an_embargoed_article_is_not_announced_before_its_time(self, session, settings):
        partner = await partner_subscription(session)
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        view = await add_article(session, settings, status="draft")
        await editing.publish(session, view.id, later, None, ctx(settings, session))
        assert await deliveries(session, partner.id) == []


class TestClaims:
    async def _three_due(self, session, settings) -> WebhookSubscription:
        subscription = await partner_subscription(session)
        for _ in range(3):
            await add_article(session, settings)
        return subscription

    async def test_a_claim_is_exclusive_until_its_lease_ends(self, session, settings):
        await self._three_due(session, settings)
        now = dt.datetime.now(dt.UTC)
        first = await outbox.claim(session, token="a", now=now, lease=30, limit=10)
        assert len(first) == 3
        assert await outbox.claim(session, token="b", now=now, lease=30, limit=10) == []
        later = now + dt.timedelta(seconds=31)  # worker "a" died: its lease ran out
        again = await outbox.claim(session, token="c", now=later, lease=30, limit=10)
        assert [c.id for c in again] == [c.id for c in first]
        assert {c.message_id for c in again} == {f"msg_{c.id}" for c in first}
        # "a" comes back late: its attempt is logged, but the state stays "c"'s.
        late = [Outcome(c, now, 5, 200, None) for c in first]
        await outbox.settle(session, late, now=later, settings=settings, rng=random.Random(1))
        rows = await session.scalars(
            select(WebhookDelivery).execution_options(populate_existing=True)
        )
        assert {(r.state, r.claim) for r in rows} == {("pending", "c")}
        assert await session.scalar(select(func.count()).select_from(WebhookAttempt)) == 3

    async def test_settling_after_the_subscription_was_deleted(self, session, settings):
        subscription = await self._three_due(session, settings)
        now = dt.datetime.now(dt.UTC)
        claimed = await outbox.claim(session, token="a", now=now, lease=30, limit=10)
        await session.execute(
            delete(WebhookSubscription).where(WebhookSubscription.id == subscription.id)
        )
        outcomes = [Outcome(c, now, 5, 200, None) for c in claimed]
        await outbox.settle(session, outcomes, now=now, settings=settings, rng=random.Random(1))
        assert await session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
        assert await session.scalar(select(func.count()).select_from(WebhookAttempt)) == 0

    async def test_limit_takes_the_oldest(self, session, settings):
        await self._three_due(session, settings)
        now = dt.datetime.now(dt.UTC)
        one = await outbox.claim(session, token="a", now=now, lease=30, limit=1)
        two = await outbox.claim(session, token="b", now=now, lease=30, limit=5)
        assert (len(one), len(two)) == (1, 2)
        assert one[0].id < min(c.id for c in two)

    async def test_retry_backoff_then_give_up_and_mark_failing(self, session, settings):
        subscription = await self._three_due(session, settings)
        tight = worker_settings(webhook_max_attempts=2, webhook_backoff_base_seconds=10.0,
                                webhook_backoff_max_seconds=10.0)  # fmt: skip
        rng = random.Random(3)
        now = dt.datetime.now(dt.UTC)
        [claimed, *_] = await outbox.claim(session, token="a", now=now, lease=30, limit=1)
        await outbox.settle(
            session, [Outcome(claimed, now, 3, 503, "HTTP 503")], now=now, settings=tight, rng=rng
        )
        row = (await deliveries(session, subscription.id))[0]
        assert (row.state, row.attempts, row.claim) == ("pending", 1, None)
        assert (
            now + dt.timedelta(seconds=5) <= row.next_attempt_at <= now + dt.timedelta(seconds=10)
        )
        later = row.next_attempt_at
        [again] = [
            c
            for c in await outbox.claim(session, token="b", now=later, lease=30, limit=5)
            if c.id == claimed.id
        ]
        assert again.attempts == 1
        await outbox.settle(
            session,
            [Outcome(again, later, 3, None, "timed out")],
            now=later,
            settings=tight,
            rng=rng,
        )
        row = (await deliveries(session, subscription.id))[0]
        assert (row.state, row.attempts) == ("failed", 2)
        await session.refresh(subscription)
        assert subscription.status == "failing"
        assert subscription.failing_since is not None

    def test_backoff_grows_exponentially_within_its_cap_with_jitter(self):
        settings = worker_settings(
            webhook_backoff_base_seconds=15.0, webhook_backoff_max_seconds=3600.0
        )
        rng = random.Random(11)
        for attempt, ceiling in [(1, 15), (2, 30), (3, 60), (8, 1920), (9, 3600), (40, 3600)]:
            delays = [outbox.backoff(attempt, settings, rng) for _ in range(50)]
            assert all(ceiling / 2 <= d <= ceiling for d in delays)
            assert len(set(delays)) > 1  # jitter: retries of many deliveries spread out


class TestEmbargoLift:
    async def test_lift_emits_one_published_event_and_keeps_the_revision(
        self, client, session, settings
    ):
        partner = await partner_subscription(session)
        real_now = dt.datetime.now(dt.UTC)
        view = await add_article(
            session, settings, now=real_now - dt.timedelta(hours=2),
            published_at=real_now - dt.timedelta(hours=1),
        )  # fmt: skip
        assert view.status == "scheduled"
        assert await deliveries(session, partner.id) == []  # filed while embargoed
        before = await client.get(f"/v1/articles/{view.id}")
        assert before.status_code == 200  # readers see it without any worker
        assert await embargo.due(session, real_now) == [view.id]

        seq = await embargo.lift(session, view.id, real_now)
        assert seq is not None
        assert await embargo.lift(session, view.id, real_now) is None  # claimed once
        assert await embargo.due(session, real_now) == []
        change = await session.get(Change, seq)
        assert (change.event, change.revision, change.at) == ("published", 1, view.embargo_until)
        [row] = await deliveries(session, partner.id)
        assert (row.seq, row.event, row.revision) == (seq, "published", 1)
        assert row.article["status"] == "published"

        after = await client.get(f"/v1/articles/{view.id}")
        assert after.headers["etag"] == before.headers["etag"] == f'"{view.id}.1"'
        assert after.content == before.content  # the same bytes: no new revision was needed
        _, secret = await new_key(session, "write")
        editor = {"Authorization": f"Bearer {secret}"}
        listed = (await client.get(f"/v1/articles/{view.id}/revisions", headers=editor)).json()
        assert [r["revision"] for r in listed["data"]] == [1]  # the lift made no new one
        assert listed["data"][0]["event"] != "published"

    async def test_a_stale_editor_write_does_not_announce_twice(self, session, settings):
        real_now = dt.datetime.now(dt.UTC)
        view = await add_article(
            session, settings, now=real_now - dt.timedelta(hours=2),
            published_at=real_now - dt.timedelta(hours=1),
        )  # fmt: skip
        assert await embargo.lift(session, view.id, real_now) is not None
        # An editor saves from a copy read before the lift: the article is "scheduled" again.
        stale = replace(view, revision=2, dek="Edited.", updated_at=real_now)
        index = SearchIndex(session.get_bind().dialect.name)
        await write_view(session, stale, replaces=1, event=ChangeEvent.UPDATED, index=index)
        assert await embargo.due(session, real_now) == [view.id]
        assert await embargo.lift(session, view.id, real_now) is None
        assert await embargo.due(session, real_now) == []
        published = await session.scalar(
            select(func.count()).select_from(Change).where(Change.event == "published")
        )
        assert published == 1
