"""Text a client sends is printable, trimmed and not blank; NUL never reaches the database.

PostgreSQL's text cannot hold U+0000: before this rule a NUL in a body field or in a
path or query parameter was a 500 there (and stored as is on SQLite).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.text import plain
from app.models import Article, Revision
from tests.access.test_keys import auth, make_key
from tests.articles.test_editorial import ARTICLE, count, create
from tests.articles.test_write_rules import PATCH_JSON, locs

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "glacier-retreat-alpine-water.txt"


@pytest.fixture
async def writer(session):
    return auth(await make_key(session, "read", "write", "admin", name="desk"))


class TestPlain:
    @pytest.mark.parametrize(
        ("raw", "kept"),
        [
            ("Harbour cranes", "Harbour cranes"),
            ("\u200bHarbour\ufeff", "Harbour"),  # invisible edges trimmed like spaces
            ("\u200b Harbour \u2060", "Harbour"),
            ("tab\tand\nnew line\r\n", "tab\tand\nnew line"),  # whitespace inside is text
            ("emoji 👩\u200d🔬 kept", "emoji 👩\u200d🔬 kept"),  # a joiner inside is kept
        ],
    )
    def test_keeps_printable_text(self, raw, kept):
        assert plain(raw) == kept

    @pytest.mark.parametrize("raw", ["a\x00b", "bell\x07", "esc\x1b[31m", "del\x7f", "c1\x85"])
    def test_refuses_control_characters(self, raw):
        with pytest.raises(ValueError, match="control characters"):
            plain(raw)

    @pytest.mark.parametrize("raw", ["\u200b", "\u200b \ufeff", "\u2060\u200c\u200d"])
    def test_refuses_what_only_looks_empty(self, raw):
        with pytest.raises(ValueError, match="empty"):
            plain(raw)


class TestBodies:
    @pytest.mark.parametrize(
        ("changes", "loc"),
        [
            ({"headline": "Cranes\u0000"}, ["body", "headline"]),
            ({"dek": "a\u0000b"}, ["body", "dek"]),
            ({"category": "Busi\u0000ness"}, ["body", "category"]),
            ({"authors": [{"name": "In\u0000grid"}]}, ["body", "authors", 0, "name"]),
            ({"takeaways": ["ok", "bad\u0001"]}, ["body", "takeaways", 1]),
            (
                {"sections": [{"heading": None, "paragraphs": ["x\u0000"]}]},
                ["body", "sections", 0, "paragraphs", 0],
            ),
            ({"headline": "\u200b \u200b"}, ["body", "headline"]),
        ],
    )
    async def test_create_names_the_field_and_stores_nothing(
        self, client, writer, session, changes, loc
    ):
        response = await client.post("/v1/articles", json={**ARTICLE, **changes}, headers=writer)
        assert response.status_code == 422, response.text
        assert loc in locs(response)
        assert response.headers["content-type"] == "application/problem+json"
        assert await count(session, Article) == 0

    async def test_invisible_edges_are_trimmed_on_create(self, client, writer):
        body = (await create(client, writer, headline="\u200bCranes go electric\ufeff")).json()
        assert body["headline"] == "Cranes go electric"
        assert body["slug"] == "cranes-go-electric"

    async def test_patch_correction_and_retract_refuse_nul(self, client, writer, session):
        created = await create(client, writer)
        article = f"/v1/articles/{created.json()['id']}"
        headers = {**writer, "If-Match": created.headers["etag"], "Content-Type": PATCH_JSON}
        patched = await client.patch(article, json={"dek": "\u0000"}, headers=headers)
        assert patched.status_code == 422
        assert locs(patched) == [["body", "dek"]]
        await client.post(f"{article}/publish", json={}, headers=writer)
        corrected = await client.post(
            f"{article}/corrections", json={"text": "a\u0000"}, headers=writer
        )
        assert corrected.status_code == 422
        assert locs(corrected) == [["body", "text"]]
        retracted = await client.post(
            f"{article}/retract", json={"reason": "\u0000"}, headers=writer
        )
        assert retracted.status_code == 422
        assert locs(retracted) == [["body", "reason"]]
        assert await count(session, Revision) == 2  # the create and the publish

    async def test_key_names_refuse_nul(self, client, writer):
        response = await client.post(
            "/v1/keys", json={"name": "partner\u0000", "scopes": ["read"]}, headers=writer
        )
        assert response.status_code == 422
        assert locs(response) == [["body", "name"]]

    async def test_a_plain_text_import_names_the_block(self, client, writer, session):
        blocks = SAMPLE.read_text().split("\n\n")
        blocks[1] += "\u0000"  # the headline's end
        text = "\n\n".join(blocks)
        response = await client.post(
            "/v1/imports", content=text.encode(), headers={**writer, "Content-Type": "text/plain"}
        )
        assert response.status_code == 422, response.text
        detail = response.json()["detail"]
        assert "block 2" in detail
        assert "headline: must not contain control characters (found U+0000)" in detail
        assert await count(session, Article) == 0


class TestTargets:
    @pytest.mark.parametrize(
        "path",
        [
            "/v1/articles/a%00b",
            "/v1/articles/a%00b/related",
            "/v1/categories/%00",
            "/v1/authors/x%00",
            "/v1/feeds/all%00.rss",
        ],
    )
    async def test_a_nul_in_the_path_names_nothing(self, client, path):
        response = await client.get(path)
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["x-request-id"]

    @pytest.mark.parametrize(
        ("query", "names"),
        [
            ("q=a%00b", ["q"]),
            ("category=a%00b", ["category"]),
            ("author=%00&tag=x%00", ["author", "tag"]),
            ("unknown=%00", ["unknown"]),
        ],
    )
    async def test_a_nul_in_a_parameter_is_422(self, client, query, names):
        response = await client.get(f"/v1/articles?{query}")
        assert response.status_code == 422, response.text
        assert locs(response) == [["query", name] for name in names]

    async def test_a_nul_in_a_write_target_stores_nothing(self, client, writer, session):
        response = await client.post("/v1/imports?year=%00", json=ARTICLE, headers=writer)
        assert response.status_code == 422
        assert locs(response) == [["query", "year"]]
        assert await count(session, Article) == 0

    async def test_an_escaped_percent_is_not_a_nul(self, client):
        response = await client.get("/v1/articles?q=%2500")
        assert response.status_code == 200
