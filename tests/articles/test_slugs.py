"""Slugs: made from the headline's words, or, when it has none, from the headline itself."""

from __future__ import annotations

import hashlib
import re

import pytest

from app.articles import service
from app.articles.writer import make_slug
from tests.access.test_keys import auth, make_key
from tests.conftest import make_article

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
WORDLESS = ["😀" * 300, "!!!", "¿¡…!?", "—", "💡 ✨ 🚀"]


def expected(prefix: str, text: str) -> str:
    return f"{prefix}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


@pytest.fixture
async def writer(session) -> dict[str, str]:
    return auth(await make_key(session, "write"))


@pytest.mark.parametrize("headline", WORDLESS)
def test_a_headline_without_words_makes_a_stable_slug(headline):
    slug = make_slug(headline, "headline")
    assert slug == expected("article", headline)
    assert SLUG.fullmatch(slug)
    assert make_slug(headline, "headline") == slug  # the same text, the same slug


def test_different_wordless_headlines_make_different_slugs():
    assert len({make_slug(text, "headline") for text in WORDLESS}) == len(WORDLESS)


def test_names_without_words_say_what_they_name():
    assert make_slug("!!!", "category").startswith("category-")
    assert make_slug("!!!", "authors").startswith("author-")
    assert make_slug("!!!", "tags").startswith("tag-")


def test_words_still_make_the_slug():
    assert make_slug("Harbour cranes go electric 😀", "headline") == "harbour-cranes-go-electric"


def test_the_service_tells_the_slug_an_input_is_stored_under():
    assert service.slug_of(make_article(headline="!!!")) == expected("article", "!!!")
    assert service.slug_of(make_article(headline="!!!", slug="chosen")) == "chosen"
    assert service.slug_of(make_article(headline="Plain words")) == "plain-words"


@pytest.mark.parametrize("headline", ["😀" * 300, "!!!"])
async def test_such_a_headline_is_accepted(client, writer, headline):
    body = {"headline": headline, "category": "!!!", "tags": ["🔥"], "authors": ["Ann Lee"]}
    response = await client.post("/v1/articles", json=body, headers=writer)
    assert response.status_code == 201, response.text
    article = response.json()
    assert article["headline"] == headline
    assert article["slug"] == expected("article", headline)
    assert article["category"] == {"slug": expected("category", "!!!"), "name": "!!!"}
    assert article["tags"] == [{"slug": expected("tag", "🔥"), "name": "🔥"}]
    by_slug = await client.get(f"/v1/articles/{article['slug']}", headers=writer)
    assert by_slug.json()["id"] == article["id"]
    again = await client.post("/v1/articles", json=body, headers=writer)
    assert again.status_code == 409  # the same headline makes the same slug


async def test_a_headline_over_300_characters_is_still_a_422(client, writer):
    response = await client.post(
        "/v1/articles", json={"headline": "😀" * 301, "category": "Science"}, headers=writer
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "headline"]


async def test_reimporting_a_wordless_headline_updates_the_same_article(client, writer):
    document = {"headline": "!!!", "category": "Science", "dek": "First."}
    first = await client.post("/v1/imports", json=document, headers=writer)
    assert first.status_code == 201, first.text
    [created] = first.json()["data"]
    second = await client.post("/v1/imports", json={**document, "dek": "Second."}, headers=writer)
    assert second.status_code == 201, second.text
    [updated] = second.json()["data"]
    assert updated["id"] == created["id"]
    assert updated["slug"] == expected("article", "!!!")
    assert updated["dek"] == "Second."
    assert updated["revision"] == 2
