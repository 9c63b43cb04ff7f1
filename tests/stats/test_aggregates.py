"""The maintained counts agree with a full recount after every kind of write, and an embargo lift."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import func, select

from app.articles import service as articles
from app.articles.service import status_clause, visible
from app.demo.corpus import Corpus
from app.demo.loader import load_demo
from app.models import Article, ArticleAuthor, ArticleTag, Author, Category, Tag
from app.stats import service
from tests.access.test_keys import auth, make_key
from tests.conftest import add_article

ARTICLE = {
    "headline": "Harbour cranes go electric",
    "category": "Business",
    "authors": ["Ingrid Solberg", "Tomás Okafor"],
    "sections": [{"heading": None, "paragraphs": ["The first paragraph."]}],
    "tags": ["Ports", "Energy"],
}


@pytest.fixture
async def writer(session):
    return {**auth(await make_key(session, "write", name="desk")), "If-Match": "*"}


async def recount(session, now: dt.datetime) -> dict[str, object]:
    """Everything the aggregates answer, counted the slow way from the articles themselves."""
    statuses = {}
    for status in ("published", "draft", "scheduled", "retracted", "deleted"):
        clause = status_clause([status], now)
        statuses[status] = await session.scalar(select(func.count()).where(clause))
    per_term = {}
    for name, model, link, column in (
        ("category", Category, Article, Article.category_id),
        ("author", Author, ArticleAuthor, ArticleAuthor.author_id),
        ("tag", Tag, ArticleTag, ArticleTag.tag_id),
    ):
        stmt = select(model.slug, func.count()).select_from(link).join(model, model.id == column)
        if link is not Article:
            stmt = stmt.join(Article, Article.id == link.article_id)
        rows = await session.execute(stmt.where(visible(now)).group_by(model.slug))
        per_term[name] = {slug: n for slug, n in rows if n}
    days = Counter(
        moment.date()
        for moment in await session.scalars(select(Article.published_at).where(visible(now)))
    )
    return {"articles": statuses, **per_term, "days": dict(days)}


async def from_aggregates(session, now: dt.datetime) -> dict[str, object]:
    overview = await service.overview(session, now)
    terms = {
        "category": {t.slug: t.article_count for t in await articles.categories(session, now)},
        "author": {t.slug: t.article_count for t in await articles.authors(session, now)},
        "tag": {t.slug: t.article_count for t in await articles.tags(session, now)},
    }
    first = dt.date(2010, 1, 1)
    days = await service.publishing(session, "day", first, now.date() + dt.timedelta(days=400), now)
    return {
        "articles": overview["articles"],
        **{name: {slug: n for slug, n in counts.items() if n} for name, counts in terms.items()},
        "days": {row["period"]: row["count"] for row in days if row["count"]},
    }


async def assert_consistent(session, now: dt.datetime | None = None) -> None:
    await session.flush()
    now = now or dt.datetime.now(dt.UTC)
    assert await from_aggregates(session, now) == await recount(session, now)


async def test_every_kind_of_write_keeps_the_counts_exact(client, writer, session):
    made = []
    for i, status in enumerate(["published", "draft", "published", "published"]):
        body = {**ARTICLE, "headline": f"Story {i}", "status": status}
        response = await client.post("/v1/articles", json=body, headers=writer)
        assert response.status_code == 201, response.text
        made.append(response.json()["id"])
    await assert_consistent(session)

    moved = {"category": "Science", "authors": ["Ada Writer"], "tags": ["Ports"]}
    assert (
        await client.patch(f"/v1/articles/{made[0]}", json=moved, headers=writer)
    ).status_code == 200
    await assert_consistent(session)

    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat()
    assert (
        await client.post(f"/v1/articles/{made[1]}/publish", json={"at": later}, headers=writer)
    ).status_code == 200
    await assert_consistent(session)
    overview = await service.overview(session, dt.datetime.now(dt.UTC))
    assert overview["articles"]["scheduled"] == 1

    retract = {"reason": "Wrong figures."}
    assert (
        await client.post(f"/v1/articles/{made[2]}/retract", json=retract, headers=writer)
    ).status_code == 200
    assert (await client.delete(f"/v1/articles/{made[3]}", headers=writer)).status_code == 204
    await assert_consistent(session)
    assert (await service.overview(session, dt.datetime.now(dt.UTC)))["articles"] == {
        "published": 1, "draft": 0, "scheduled": 1, "retracted": 1, "deleted": 1,
    }  # fmt: skip


async def test_reimports_and_unchanged_upserts_count_once(session, settings):
    await add_article(session, settings, slug="same", category="Arts", tags=["Film"])
    await add_article(session, settings, slug="same", category="Arts", tags=["Film"])  # no change
    await add_article(session, settings, slug="same", category="Sport", tags=["Film", "Golf"])
    await add_article(session, settings, slug="other", status="draft")
    await assert_consistent(session)
    now = dt.datetime.now(dt.UTC)
    counts = {t.slug: t.article_count for t in await articles.categories(session, now)}
    assert counts["sport"] == 1
    assert counts["arts"] == 0


async def test_an_embargo_lifts_without_a_write(session, settings):
    filed = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    embargo = filed + dt.timedelta(hours=5)
    view = await add_article(session, settings, now=filed, published_at=embargo, category="Arts")
    assert view.status == "scheduled"
    before, after = filed + dt.timedelta(hours=1), embargo + dt.timedelta(minutes=1)
    await assert_consistent(session, before)
    await assert_consistent(session, after)
    assert (await service.overview(session, before))["articles"]["scheduled"] == 1
    assert (await service.overview(session, after))["articles"]["published"] == 1
    day = await service.publishing(session, "day", embargo.date(), embargo.date(), before)
    assert day == [{"period": embargo.date(), "count": 0}]
    day = await service.publishing(session, "day", embargo.date(), embargo.date(), after)
    assert day == [{"period": embargo.date(), "count": 1}]
    arts = await articles.categories(session, before, slug="arts")
    assert arts[0].article_count == 0


async def test_the_demo_bulk_loader_counts_what_it_writes(connection, session, settings):
    corpus = Corpus(3, settings)
    first = await load_demo(connection, corpus, 25)
    again = await load_demo(connection, corpus, 40)  # the first 25 are skipped, not recounted
    assert (first.written, again.written, again.skipped) == (25, 15, 25)
    await assert_consistent(session)
    assert (await service.overview(session, dt.datetime.now(dt.UTC)))["articles"]["published"] == 40
