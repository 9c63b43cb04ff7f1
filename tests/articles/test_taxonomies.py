"""Categories, authors and tags with counts of published articles."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.access.test_keys import auth, make_key
from tests.conftest import add_article


async def test_counts_only_published(client, session, settings):
    await add_article(session, settings, category="Science", authors=["Ann Lee"], tags=["Ice"])
    await add_article(
        session, settings, category="Science", authors=["Ann Lee", "Bo Chen"], tags=["Ice", "Sea"]
    )
    await add_article(session, settings, category="Business", authors=["Bo Chen"], status="draft")
    cats = (await client.get("/v1/categories")).json()["data"]
    assert cats == [{"slug": "science", "name": "Science", "article_count": 2}]
    authors = {a["slug"]: a for a in (await client.get("/v1/authors")).json()["data"]}
    assert authors["ann-lee"] == {
        "slug": "ann-lee",
        "name": "Ann Lee",
        "bio": None,
        "article_count": 2,
    }
    assert authors["bo-chen"]["article_count"] == 1
    tags = {t["slug"]: t["article_count"] for t in (await client.get("/v1/tags")).json()["data"]}
    assert tags == {"ice": 2, "sea": 1}


async def test_single_category_and_author(client, session, settings):
    await add_article(session, settings, category="Science", authors=["Ann Lee"])
    assert (await client.get("/v1/categories/science")).json() == {
        "slug": "science",
        "name": "Science",
        "article_count": 1,
    }
    assert (await client.get("/v1/authors/ann-lee")).json()["article_count"] == 1
    for path in ("/v1/categories/nope", "/v1/authors/nope"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


HIDDEN = {
    "draft": {"status": "draft"},
    "embargoed": {"published_at": dt.datetime.now(dt.UTC) + dt.timedelta(days=1)},
}


async def hidden_article(client, session, settings, how: str, writer: dict[str, str]) -> None:
    """An article readers cannot see, filed under names used by nothing else."""
    names = {"category": "Secret Desk", "authors": ["Hidden Hand"], "tags": ["Codeword"]}
    if how in HIDDEN:
        await add_article(session, settings, **HIDDEN[how], **names)
        return
    view = await add_article(session, settings, **names)
    if how == "retracted":
        done = await client.post(
            f"/v1/articles/{view.id}/retract", json={"reason": "No."}, headers=writer
        )
    else:
        done = await client.delete(f"/v1/articles/{view.id}", headers=writer)
    assert done.status_code in (200, 204), done.text


@pytest.mark.parametrize("how", ["draft", "embargoed", "retracted", "deleted"])
async def test_names_used_only_by_hidden_articles_are_not_shown(client, session, settings, how):
    await add_article(session, settings, category="Science", authors=["Ann Lee"], tags=["Ice"])
    writer = auth(await make_key(session, "write"))
    await hidden_article(client, session, settings, how, writer)
    listed = {
        path: [item["slug"] for item in (await client.get(path)).json()["data"]]
        for path in ("/v1/categories", "/v1/authors", "/v1/tags")
    }
    assert listed == {
        "/v1/categories": ["science"],
        "/v1/authors": ["ann-lee"],
        "/v1/tags": ["ice"],
    }
    for path in ("/v1/categories/secret-desk", "/v1/authors/hidden-hand"):
        response = await client.get(path)
        assert response.status_code == 404, path


async def test_a_name_appears_when_its_embargo_lifts(client, session, settings):
    now = dt.datetime.now(dt.UTC)
    await add_article(
        session, settings, category="Later", authors=["Al Soon"], tags=["Due"],
        published_at=now - dt.timedelta(minutes=1), now=now - dt.timedelta(hours=1),
    )  # fmt: skip
    assert (await client.get("/v1/categories/later")).json()["article_count"] == 1
    assert (await client.get("/v1/authors/al-soon")).json()["article_count"] == 1
    assert [t["slug"] for t in (await client.get("/v1/tags")).json()["data"]] == ["due"]


async def test_counts_equal_the_list_totals(client, session, settings):
    now = dt.datetime.now(dt.UTC)
    await add_article(session, settings, category="Science", authors=["Ann Lee"], tags=["Ice"])
    await add_article(session, settings, category="Science", authors=["Bo Chen"], tags=["Ice"])
    await add_article(session, settings, category="Business", authors=["Ann Lee", "Bo Chen"])
    await add_article(session, settings, category="Business", authors=["Ann Lee"], status="draft")
    await add_article(
        session,
        settings,
        category="Science",
        tags=["Ice"],
        published_at=now + dt.timedelta(hours=1),
    )
    for kind, param in (("categories", "category"), ("authors", "author"), ("tags", "tag")):
        for term in (await client.get(f"/v1/{kind}")).json()["data"]:
            listed = await client.get(f"/v1/articles?{param}={term['slug']}&include_total=true")
            assert term["article_count"] == listed.json()["meta"]["total"] > 0, (kind, term)


class TestCategoryLimitedKey:
    """A key limited to categories sees the taxonomies of those categories' articles only."""

    async def test_lists_and_counts_are_narrowed(self, client, session, settings):
        await add_article(
            session, settings, category="Business", authors=["Ann Lee"], tags=["Ports"]
        )
        await add_article(
            session, settings, category="Science", authors=["Ann Lee", "Bo Chen"], tags=["Ice"]
        )
        partner = auth(await make_key(session, "read", "syndicate", categories=["business"]))
        cats = (await client.get("/v1/categories", headers=partner)).json()["data"]
        assert cats == [{"slug": "business", "name": "Business", "article_count": 1}]
        authors = (await client.get("/v1/authors", headers=partner)).json()["data"]
        assert authors == [{"slug": "ann-lee", "name": "Ann Lee", "bio": None, "article_count": 1}]
        tags = (await client.get("/v1/tags", headers=partner)).json()["data"]
        assert tags == [{"slug": "ports", "name": "Ports", "article_count": 1}]
        assert (await client.get("/v1/authors/ann-lee", headers=partner)).json()[
            "article_count"
        ] == 1
        for path in ("/v1/categories/science", "/v1/authors/bo-chen"):
            assert (await client.get(path, headers=partner)).status_code == 404, path
        # Everyone else still sees everything.
        assert (await client.get("/v1/authors/ann-lee")).json()["article_count"] == 2

    async def test_limited_counts_skip_hidden_articles(self, client, session, settings):
        now = dt.datetime.now(dt.UTC)
        await add_article(session, settings, category="Business", authors=["Ann Lee"])
        await add_article(
            session, settings, category="Business", authors=["Cy Draft"], status="draft"
        )
        await add_article(
            session, settings, category="Business", authors=["Em Bargo"],
            published_at=now + dt.timedelta(hours=1),
        )  # fmt: skip
        partner = auth(await make_key(session, "read", categories=["business"]))
        authors = (await client.get("/v1/authors", headers=partner)).json()["data"]
        assert [a["slug"] for a in authors] == ["ann-lee"]

    async def test_narrowed_answers_are_private(self, client, session, settings):
        await add_article(session, settings, category="Business", authors=["Ann Lee"])
        partner = auth(await make_key(session, "read", categories=["business"]))
        unlimited = auth(await make_key(session, "read"))
        for path in ("/v1/categories", "/v1/categories/business", "/v1/authors", "/v1/tags"):
            narrowed = await client.get(path, headers=partner)
            assert narrowed.headers["cache-control"] == "private, no-store", path
            for headers in ({}, unlimited):
                public = await client.get(path, headers=headers)
                assert public.headers["cache-control"].startswith("public, "), path
                assert "Authorization" in public.headers["vary"], path


async def test_surrogate_keys_purge_with_the_articles(client, session, settings):
    """Counts move when an article enters or leaves the lists, which purges `articles`
    (docs/DEPLOY.md); the categories list also names the categories it holds."""
    await add_article(session, settings, category="Science", authors=["Ann Lee"], tags=["Ice"])
    await add_article(session, settings, category="Business", authors=["Ann Lee"])

    def keys(response) -> list[str]:
        return response.headers["surrogate-key"].split()

    assert keys(await client.get("/v1/categories")) == [
        "categories", "articles", "business", "science",
    ]  # fmt: skip
    assert keys(await client.get("/v1/categories/science")) == [
        "categories", "articles", "science",
    ]  # fmt: skip
    assert keys(await client.get("/v1/authors")) == ["authors", "articles"]
    assert keys(await client.get("/v1/authors/ann-lee")) == ["authors", "articles", "ann-lee"]
    assert keys(await client.get("/v1/tags")) == ["tags", "articles"]


async def test_very_many_categories_leave_their_names_out(client, session, settings):
    for number in range(400):  # 400 slugs of ~25 characters: over the 8,000-byte bound
        await add_article(session, settings, category=f"Regional desk number {number:03d}")
    response = await client.get("/v1/categories")
    assert len(response.json()["data"]) == 400
    assert response.headers["surrogate-key"] == "categories articles"
