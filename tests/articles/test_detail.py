"""GET /v1/articles/{id-or-slug} and /related: representation, 404, 410 tombstones, fields."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from app.models import Article
from tests.access.test_keys import auth, make_key
from tests.conftest import add_article

FULL_FIELDS = {
    "id", "slug", "url", "headline", "dek", "category", "authors", "status", "published_at",
    "updated_at", "embargo_until", "language", "takeaways", "sections", "tags", "word_count",
    "reading_time_minutes", "revision", "corrections", "rights", "links",
}  # fmt: skip


async def test_full_representation_by_id_and_slug(client, session, settings):
    view = await add_article(
        session, settings, headline="Full story", dek="The dek.", category="World Wide",
        authors=["Ann Lee", {"name": "Bo Chen", "slug": "bo"}], tags=["Climate"],
        takeaways=["One.", "Two."],
        sections=[{"heading": None, "paragraphs": ["Intro words here."]}, {"heading": "More", "paragraphs": ["a b c", "d e"]}],
    )  # fmt: skip
    by_id = (await client.get(f"/v1/articles/{view.id}")).json()
    by_slug = (await client.get("/v1/articles/full-story")).json()
    assert by_id == by_slug
    assert set(by_id) == FULL_FIELDS
    assert by_id["category"] == {"slug": "world-wide", "name": "World Wide"}
    assert by_id["authors"] == [
        {"slug": "ann-lee", "name": "Ann Lee"},
        {"slug": "bo", "name": "Bo Chen"},
    ]
    assert by_id["tags"] == [{"slug": "climate", "name": "Climate"}]
    assert by_id["sections"][1] == {"heading": "More", "paragraphs": ["a b c", "d e"]}
    assert by_id["word_count"] == 9
    assert by_id["reading_time_minutes"] == 1
    assert by_id["status"] == "published"
    assert by_id["revision"] == 1
    assert by_id["language"] == "en"
    assert by_id["rights"]["syndication"] is True
    assert by_id["corrections"] == []
    assert by_id["url"] == "http://byline.test/articles/full-story"
    assert by_id["links"]["self"] == f"http://byline.test/v1/articles/{view.id}"


async def test_unknown_article_is_a_404_problem(client):
    response = await client.get("/v1/articles/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    # Not cacheable: the slug may be published a minute later, and a CDN must not keep the 404.
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["status"] == 404
    assert response.json()["instance"] == "/v1/articles/no-such-thing"


async def test_draft_is_a_404_for_readers(client, session, settings):
    view = await add_article(session, settings, status="draft")
    assert (await client.get(f"/v1/articles/{view.id}")).status_code == 404


async def test_retracted_article_is_a_410_tombstone(client, session, settings):
    view = await add_article(session, settings)
    when = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    await session.execute(
        update(Article)
        .where(Article.id == view.id)
        .values(status="retracted", retracted_at=when, tombstone_reason="Sourcing failed")
    )
    response = await client.get(f"/v1/articles/{view.slug}")
    assert response.status_code == 410
    assert response.json() == {
        "id": view.id, "slug": view.slug, "status": "retracted",
        "retracted_at": "2025-06-01T00:00:00Z", "reason": "Sourcing failed",
    }  # fmt: skip


async def test_deleted_article_is_a_410_tombstone(client, session, settings):
    view = await add_article(session, settings)
    await session.execute(
        update(Article)
        .where(Article.id == view.id)
        .values(status="deleted", deleted_at=dt.datetime(2025, 6, 2, tzinfo=dt.UTC))
    )
    body = (await client.get(f"/v1/articles/{view.id}")).json()
    assert body["status"] == "deleted"
    assert body["deleted_at"] == "2025-06-02T00:00:00Z"
    assert body["reason"] is None


async def test_fields_narrow_the_full_representation(client, session, settings):
    view = await add_article(session, settings)
    body = (await client.get(f"/v1/articles/{view.id}?fields=sections,revision")).json()
    assert set(body) == {"id", "sections", "revision"}
    bad = await client.get(f"/v1/articles/{view.id}?fields=sections,bogus")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["query", "fields"]


async def test_related_prefers_shared_tags_then_category(client, session, settings):
    base = await add_article(
        session, settings, headline="Base", category="Science", tags=["Ice", "Water"]
    )
    await add_article(
        session, settings, headline="Two tags", category="Business", tags=["Ice", "Water"]
    )
    await add_article(session, settings, headline="One tag", category="Business", tags=["Ice"])
    await add_article(session, settings, headline="Same category", category="Science")
    await add_article(session, settings, headline="Unrelated", category="Business")
    await add_article(
        session, settings, headline="Hidden draft", category="Science", status="draft"
    )
    body = (await client.get(f"/v1/articles/{base.id}/related")).json()
    assert [d["headline"] for d in body["data"]] == ["Two tags", "One tag", "Same category"]
    limited = (await client.get(f"/v1/articles/{base.slug}/related?limit=1")).json()
    assert [d["headline"] for d in limited["data"]] == ["Two tags"]
    assert (await client.get("/v1/articles/nope/related")).status_code == 404
    assert (await client.get(f"/v1/articles/{base.id}/related?limit=0")).status_code == 422


async def test_fields_narrow_related_articles(client, session, settings):
    base = await add_article(session, settings, category="Science")
    other = await add_article(session, settings, headline="Neighbour", category="Science")
    body = (await client.get(f"/v1/articles/{base.id}/related?fields=headline")).json()
    assert body["data"] == [{"id": other.id, "headline": "Neighbour"}]
    both = (await client.get(f"/v1/articles/{base.id}/related?fields=id,slug,links")).json()
    assert set(both["data"][0]) == {"id", "slug", "links"}


@pytest.mark.parametrize("fields", ["bogus", "headline,bogus", "", "sections", "highlight"])
async def test_unknown_fields_of_related_are_a_422(client, session, settings, fields):
    base = await add_article(session, settings)
    response = await client.get(f"/v1/articles/{base.id}/related?fields={fields}")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "fields"]


@pytest.mark.parametrize("action", ["retract", "delete"])
async def test_related_of_a_withdrawn_article_is_its_410_tombstone(
    client, session, settings, action
):
    writer = auth(await make_key(session, "write"))
    base = await add_article(session, settings)
    if action == "retract":
        await client.post(f"/v1/articles/{base.id}/retract", json={"reason": "No."}, headers=writer)
    else:
        await client.delete(f"/v1/articles/{base.id}", headers=writer)
    detail = await client.get(f"/v1/articles/{base.id}")
    related = await client.get(f"/v1/articles/{base.id}/related")
    assert (related.status_code, detail.status_code) == (410, 410)
    assert related.json() == detail.json()
    assert related.json()["status"] == ("retracted" if action == "retract" else "deleted")
    assert related.headers["content-type"] == "application/json"


async def test_related_of_a_withdrawn_draft_is_a_404(client, session, settings):
    """Readers never saw it: its tombstone would reveal it (as the detail does not)."""
    writer = auth(await make_key(session, "write"))
    draft = await add_article(session, settings, status="draft")
    await client.delete(f"/v1/articles/{draft.id}", headers=writer)
    assert (await client.get(f"/v1/articles/{draft.id}/related")).status_code == 404
