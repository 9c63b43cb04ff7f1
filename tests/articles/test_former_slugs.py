"""A slug an editor changes keeps leading to the article: a 301 to the new slug."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.access.test_keys import auth, make_key

BODY = {
    "headline": "Harbour cranes go electric",
    "category": "Business",
    "authors": ["Ann Lee"],
    "takeaways": ["Cranes are electric now."],
    "sections": [{"heading": None, "paragraphs": ["The port switched its cranes."]}],
    "tags": ["ports"],
}


@pytest.fixture
async def writer(session) -> dict[str, str]:
    return auth(await make_key(session, "write"))


async def create(
    client: httpx.AsyncClient, writer: dict[str, str], slug: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/articles", json={**BODY, "slug": slug, "status": "published", **fields},
        headers=writer,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def rename(
    client: httpx.AsyncClient, writer: dict[str, str], article_id: str, slug: str
) -> dict[str, Any]:
    current = await client.get(f"/v1/articles/{article_id}", headers=writer)
    response = await client.patch(
        f"/v1/articles/{article_id}", json={"slug": slug},
        headers={**writer, "If-Match": current.headers["etag"],
                 "Content-Type": "application/merge-patch+json"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    renamed: dict[str, Any] = response.json()
    return renamed


async def test_the_old_slug_redirects_to_the_new_one_on_every_read(client, writer):
    made = await create(client, writer, "cranes-old")
    assert (await client.get("/v1/articles/cranes-old")).status_code == 200  # cached now
    await rename(client, writer, made["id"], "cranes-new")

    moved = await client.get("/v1/articles/cranes-old?fields=headline")
    assert moved.status_code == 301
    assert moved.headers["location"] == "/v1/articles/cranes-new?fields=headline"
    assert moved.headers["content-type"] == "application/problem+json"
    assert moved.json()["moved_to"] == "cranes-new"
    assert "x-request-id" in moved.headers
    for suffix in ("related", "ninjs", "jsonld"):
        sub = await client.get(f"/v1/articles/cranes-old/{suffix}")
        assert sub.status_code == 301, (suffix, sub.text)
        assert sub.headers["location"] == f"/v1/articles/cranes-new/{suffix}"
    followed = await client.get("/v1/articles/cranes-old", follow_redirects=True)
    assert followed.status_code == 200
    assert followed.json()["id"] == made["id"]
    assert followed.json()["slug"] == "cranes-new"
    assert (await client.head("/v1/articles/cranes-old")).status_code == 301


async def test_a_chain_of_renames_leads_to_the_latest(client, writer):
    made = await create(client, writer, "first-name")
    await rename(client, writer, made["id"], "second-name")
    await rename(client, writer, made["id"], "third-name")
    for old in ("first-name", "second-name"):
        moved = await client.get(f"/v1/articles/{old}")
        assert moved.headers["location"] == "/v1/articles/third-name"
    # Taking a former slug back makes it the article's own again.
    await rename(client, writer, made["id"], "first-name")
    assert (await client.get("/v1/articles/first-name")).status_code == 200
    assert (await client.get("/v1/articles/third-name")).headers["location"] == (
        "/v1/articles/first-name"
    )


async def test_an_article_holding_the_slug_wins_over_the_former_owner(client, writer):
    first = await create(client, writer, "contested")
    await rename(client, writer, first["id"], "moved-away")
    second = await create(client, writer, "contested", headline="Another story")
    answer = await client.get("/v1/articles/contested")
    assert answer.status_code == 200
    assert answer.json()["id"] == second["id"]
    # When the new holder gives it up in turn, the slug leads to the new holder.
    await rename(client, writer, second["id"], "another-story")
    assert (await client.get("/v1/articles/contested")).headers["location"] == (
        "/v1/articles/another-story"
    )


async def test_no_redirect_reveals_what_readers_may_not_see(client, writer):
    made = await create(client, writer, "draft-old", status="draft")
    await rename(client, writer, made["id"], "draft-new")
    assert (await client.get("/v1/articles/draft-old")).status_code == 404
    # The editor may see the draft, so the editor is told where it went.
    assert (await client.get("/v1/articles/draft-old", headers=writer)).status_code == 301


async def test_a_retracted_article_redirects_to_its_tombstone(client, writer):
    made = await create(client, writer, "was-here")
    await rename(client, writer, made["id"], "now-here")
    retracted = await client.post(
        f"/v1/articles/{made['id']}/retract", json={"reason": "Wrong."}, headers=writer
    )
    assert retracted.status_code == 200, retracted.text
    moved = await client.get("/v1/articles/was-here")
    assert moved.status_code == 301
    gone = await client.get(moved.headers["location"])
    assert gone.status_code == 410
    assert gone.json()["slug"] == "now-here"


async def test_a_slug_that_reads_like_a_path_segment_is_replaced_where_it_stands(client, writer):
    made = await create(client, writer, "articles")
    await rename(client, writer, made["id"], "related")
    assert (await client.get("/v1/articles/articles")).headers["location"] == (
        "/v1/articles/related"
    )
    await rename(client, writer, made["id"], "elsewhere")
    moved = await client.get("/v1/articles/related/related")
    assert moved.headers["location"] == "/v1/articles/elsewhere/related"


async def test_a_slug_never_used_is_still_404(client):
    missing = await client.get("/v1/articles/never-there")
    assert missing.status_code == 404
    assert "location" not in missing.headers
