"""Categories, authors and tags with counts of published articles."""

from __future__ import annotations

from tests.conftest import add_article


async def test_counts_only_published(client, session, settings):
    await add_article(session, settings, category="Science", authors=["Ann Lee"], tags=["Ice"])
    await add_article(
        session, settings, category="Science", authors=["Ann Lee", "Bo Chen"], tags=["Ice", "Sea"]
    )
    await add_article(session, settings, category="Business", authors=["Bo Chen"], status="draft")
    cats = (await client.get("/v1/categories")).json()["data"]
    assert cats == [
        {"slug": "business", "name": "Business", "article_count": 0},
        {"slug": "science", "name": "Science", "article_count": 2},
    ]
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
