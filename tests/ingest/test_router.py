"""POST /v1/imports: every format by Content-Type, 201 for one document, 207 per NDJSON line."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.models import Article
from tests.access.test_keys import auth, make_key
from tests.conftest import EXAMPLES

SEED = (EXAMPLES / "deepening-china-russia-ties.txt").read_bytes()


@pytest.fixture
async def writer(session):
    return auth(await make_key(session, "write", name="importer"))


async def count(session) -> int:
    return await session.scalar(select(func.count()).select_from(Article))


async def test_plain_text_import_creates_a_draft(client, writer, session):
    response = await client.post(
        "/v1/imports", content=SEED, headers={**writer, "Content-Type": "text/plain; charset=utf-8"}
    )
    assert response.status_code == 201, response.text
    [article] = response.json()["data"]
    assert article["status"] == "draft"
    assert article["category"]["name"] == "World Wide"
    assert len(article["takeaways"]) == 3
    again = await client.post(
        "/v1/imports?status=published",
        content=SEED,
        headers={**writer, "Content-Type": "text/plain"},
    )
    assert again.json()["data"][0]["id"] == article["id"]
    assert again.json()["data"][0]["status"] == "published"
    assert await count(session) == 1


async def test_year_parameter_applies_to_datelines_without_one(client, writer):
    response = await client.post(
        "/v1/imports?year=2024", content=SEED, headers={**writer, "Content-Type": "text/plain"}
    )
    assert response.json()["data"][0]["published_at"] == "2024-05-16T10:34:00-04:00"


async def test_markdown_and_json(client, writer):
    markdown = b"---\nheadline: From Markdown\ncategory: Science\nauthors: [Ann Lee]\n---\n\nIntro paragraph.\n\n## Details\n\nMore text.\n"
    md = await client.post(
        "/v1/imports", content=markdown, headers={**writer, "Content-Type": "text/markdown"}
    )
    assert md.status_code == 201, md.text
    assert md.json()["data"][0]["sections"][1] == {
        "heading": "Details",
        "paragraphs": ["More text."],
    }
    js = await client.post(
        "/v1/imports", json={"headline": "From JSON", "category": "Science"}, headers=writer
    )
    assert js.status_code == 201


async def test_malformed_document_is_422_naming_the_block(client, writer, session):
    bad = b"Science\n\nHeadline\n\nDek.\n\nNobody wrote this\n\n5/16, 10:34 EDT\n\nBody.\n"
    response = await client.post(
        "/v1/imports", content=bad, headers={**writer, "Content-Type": "text/plain"}
    )
    assert response.status_code == 422
    assert "block 4" in response.json()["detail"]
    assert response.json()["errors"][0]["loc"][:2] == ["body", "block 4"]
    assert await count(session) == 0


async def test_ndjson_reports_each_line(client, writer, session):
    lines = b"\n".join([
        b'{"headline": "Line one", "category": "Science"}',
        b'{"headline": "", "category": "Science"}',
        b"not json",
        b'{"headline": "Line four", "category": "Science"}',
        b'{"headline": "Line one", "category": "Science", "dek": "changed"}',
    ])  # fmt: skip
    response = await post_ndjson(client, writer, lines)
    assert response.status_code == 207
    results = response.json()["data"]
    assert [(r["line"], r["status"]) for r in results] == [
        (1, 201),
        (2, 422),
        (3, 422),
        (4, 201),
        (5, 200),
    ]
    assert results[1]["errors"]
    assert "id" in results[0]
    assert "id" not in results[1]
    assert await count(session) == 2


async def test_unsupported_media_type_is_415(client, writer):
    response = await client.post(
        "/v1/imports", content=b"<html/>", headers={**writer, "Content-Type": "text/html"}
    )
    assert response.status_code == 415


async def test_import_limit_is_larger_than_the_default(client, writer):
    body = (
        b'{"headline": "Big", "category": "Science", "sections": [{"paragraphs": ["'
        + b"word " * 300_000
        + b'"]}]}'
    )
    assert len(body) > 1024 * 1024
    response = await client.post(
        "/v1/imports", content=body, headers={**writer, "Content-Type": "application/json"}
    )
    assert response.status_code == 422  # over the 20,000-character paragraph limit, but not a 413
    over = await client.post(
        "/v1/imports",
        content=b"x" * (51 * 1024 * 1024),
        headers={**writer, "Content-Type": "text/plain"},
    )
    assert over.status_code == 413


async def test_not_utf8_is_422(client, writer):
    response = await client.post(
        "/v1/imports", content=b"\xff\xfe\x00bad", headers={**writer, "Content-Type": "text/plain"}
    )
    assert response.status_code == 422


async def test_ndjson_updates_the_counts_as_a_batch_and_one_document_does_not(
    client, writer, monkeypatch
):
    """Several articles in one transaction must take the statistics lock alone (app/stats)."""
    from app.stats import aggregates

    applied = aggregates.apply
    seen: list[bool] = []

    async def watching(db, delta):
        seen.append(bool(db.info.get(aggregates.BATCH)))
        await applied(db, delta)

    monkeypatch.setattr(aggregates, "apply", watching)
    lines = b'{"headline": "One", "category": "Science"}\n{"headline": "Two", "category": "Arts"}'
    headers = {**writer, "Content-Type": "application/x-ndjson"}
    assert (await client.post("/v1/imports", content=lines, headers=headers)).status_code == 207
    assert seen == [True, True]
    seen.clear()
    single = {**writer, "Content-Type": "text/plain; charset=utf-8"}
    assert (await client.post("/v1/imports", content=SEED, headers=single)).status_code == 201
    assert seen == [False]


class TestOutOfRangeInstants:
    """An instant with no UTC equivalent is bad input (422), never a server error."""

    @pytest.mark.parametrize(
        "dateline", ["12/31/9999, 23:00 EST", "1/1/0001, 00:30 CET", "9999-12-31T23:00:00-05:00"]
    )
    async def test_text_dateline_is_422_naming_the_block(self, client, writer, session, dateline):
        text = f"Science\n\nHeadline\n\nBy Ann Lee\n\n{dateline}\n\nBody.\n".encode()
        response = await client.post(
            "/v1/imports", content=text, headers={**writer, "Content-Type": "text/plain"}
        )
        assert response.status_code == 422
        body = response.json()
        assert "block 4" in body["detail"]
        assert "out of range" in body["detail"]
        assert body["errors"][0]["loc"] == ["body", "block 4"]
        assert await count(session) == 0

    async def test_json_published_at_is_422_naming_the_field(self, client, writer, session):
        article = {
            "headline": "H",
            "category": "Science",
            "published_at": "0001-01-01T00:30:00+01:00",
        }
        response = await client.post("/v1/imports", json=article, headers=writer)
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "published_at"]
        assert await count(session) == 0

    async def test_markdown_published_at_is_422_naming_the_line(self, client, writer):
        text = (
            b"---\nheadline: H\ncategory: C\npublished_at: 9999-12-31T23:00:00-05:00\n---\nText.\n"
        )
        response = await client.post(
            "/v1/imports", content=text, headers={**writer, "Content-Type": "text/markdown"}
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "line 4", "published_at"]

    async def test_ndjson_line_is_a_422_result_and_the_others_are_stored(
        self, client, writer, session
    ):
        lines = b"\n".join([
            b'{"headline": "Good one", "category": "Science"}',
            b'{"headline": "Bad", "category": "Science", "published_at": "9999-12-31T23:00:00-05:00"}',
            b'{"headline": "Good two", "category": "Science"}',
        ])  # fmt: skip
        response = await post_ndjson(client, writer, lines)
        assert response.status_code == 207
        results = response.json()["data"]
        assert [(r["line"], r["status"]) for r in results] == [(1, 201), (2, 422), (3, 201)]
        assert results[1]["errors"][0]["loc"] == ["body", "line 2", "published_at"]
        assert await count(session) == 2


def plain(**headers: str) -> dict[str, str]:
    return {**headers, "Content-Type": "text/plain"}


async def post_ndjson(client, writer, lines: bytes):
    return await client.post(
        "/v1/imports", content=lines, headers={**writer, "Content-Type": "application/x-ndjson"}
    )


async def import_seed(client, writer, query: str = "", content: bytes = SEED):
    return await client.post(f"/v1/imports{query}", content=content, headers=plain(**writer))


class TestRetractedAndDeletedStayGone:
    """An import never brings back an article that was retracted or deleted."""

    async def retracted(self, client, writer) -> dict:
        article = (await import_seed(client, writer, "?status=published")).json()["data"][0]
        retract = await client.post(
            f"/v1/articles/{article['id']}/retract", json={"reason": "Sourcing failed."},
            headers=writer,
        )  # fmt: skip
        assert retract.status_code == 200, retract.text
        return article

    async def deleted(self, client, writer) -> dict:
        article = (await import_seed(client, writer, "?status=published")).json()["data"][0]
        assert (
            await client.delete(f"/v1/articles/{article['id']}", headers=writer)
        ).status_code == 204
        return article

    @pytest.mark.parametrize("query", ["", "?status=draft", "?status=published"])
    async def test_retracted_is_409_naming_the_slug(self, client, writer, query):
        article = await self.retracted(client, writer)
        response = await import_seed(client, writer, query)
        assert response.status_code == 409
        assert article["slug"] in response.json()["detail"]
        assert "retracted" in response.json()["detail"]
        tombstone = await client.get(f"/v1/articles/{article['slug']}")
        assert tombstone.status_code == 410
        assert tombstone.json()["status"] == "retracted"
        history = await client.get(f"/v1/articles/{article['id']}/revisions", headers=writer)
        assert len(history.json()["data"]) == 2  # the import and the retraction, nothing more

    @pytest.mark.parametrize("query", ["", "?status=published"])
    async def test_deleted_is_409_naming_the_slug(self, client, writer, query):
        article = await self.deleted(client, writer)
        response = await import_seed(client, writer, query)
        assert response.status_code == 409
        assert article["slug"] in response.json()["detail"]
        assert "deleted" in response.json()["detail"]
        assert (await client.get(f"/v1/articles/{article['slug']}")).status_code == 410
        assert (await client.get("/v1/articles")).json()["data"] == []

    async def test_json_with_the_slug_of_a_deleted_article(self, client, writer):
        article = await self.deleted(client, writer)
        body = {"headline": "Fresh copy", "category": "Science", "slug": article["slug"]}
        response = await client.post("/v1/imports?status=published", json=body, headers=writer)
        assert response.status_code == 409
        assert article["slug"] in response.json()["detail"]

    async def test_ndjson_line_is_a_409_result_and_the_others_are_stored(
        self, client, writer, session
    ):
        article = await self.retracted(client, writer)
        lines = "\n".join([
            json.dumps({"headline": "Before", "category": "Science"}),
            json.dumps({"headline": "Back again", "category": "Science", "slug": article["slug"]}),
            json.dumps({"headline": "After", "category": "Science"}),
        ]).encode()  # fmt: skip
        response = await client.post(
            "/v1/imports?status=published", content=lines,
            headers={**writer, "Content-Type": "application/x-ndjson"},
        )  # fmt: skip
        assert response.status_code == 207
        results = response.json()["data"]
        assert [(r["line"], r["status"]) for r in results] == [(1, 201), (2, 409), (3, 201)]
        assert article["slug"] in results[1]["errors"][0]["msg"]
        assert "id" not in results[1]
        assert await count(session) == 3
        assert (await client.get(f"/v1/articles/{article['slug']}")).status_code == 410


class TestReimportKeepsStatus:
    """A re-import updates the content; the status changes only when the import asks."""

    CHANGED = SEED.replace(b"at least 40 times", b"at least 42 times")

    async def test_published_stays_published_for_readers(self, client, writer):
        first = (await import_seed(client, writer, "?status=published")).json()["data"][0]
        again = await import_seed(client, writer, content=self.CHANGED)
        assert again.status_code == 201
        article = again.json()["data"][0]
        assert (article["id"], article["status"], article["revision"]) == (
            first["id"],
            "published",
            2,
        )
        assert article["published_at"] == first["published_at"]
        public = await client.get(f"/v1/articles/{first['slug']}")
        assert public.status_code == 200
        assert "at least 42 times" in public.text

    @pytest.mark.parametrize("ndjson", [False, True])
    async def test_a_read_right_after_a_reimport_sees_it(self, client, writer, ndjson):
        first = (await import_seed(client, writer, "?status=published")).json()["data"][0]
        for _ in range(2):  # the second read is answered from this server's read cache
            assert "at least 40 times" in (await client.get(f"/v1/articles/{first['id']}")).text
        if ndjson:
            line = (await client.get(f"/v1/articles/{first['id']}")).json()
            line = {k: line[k] for k in ("slug", "headline", "dek", "category", "authors",
                                         "published_at", "takeaways", "sections")}  # fmt: skip
            line["dek"] = "at least 42 times"
            again = await post_ndjson(client, writer, json.dumps(line).encode() + b"\n")
            assert again.status_code == 207, again.text
        else:
            assert (await import_seed(client, writer, content=self.CHANGED)).status_code == 201
        assert "at least 42 times" in (await client.get(f"/v1/articles/{first['id']}")).text

    async def test_draft_stays_a_draft(self, client, writer):
        first = (await import_seed(client, writer, "?status=draft")).json()["data"][0]
        article = (await import_seed(client, writer, content=self.CHANGED)).json()["data"][0]
        assert (article["id"], article["status"], article["revision"]) == (first["id"], "draft", 2)

    @pytest.mark.parametrize(("before", "asked"), [("published", "draft"), ("draft", "published")])
    async def test_explicit_status_changes_it(self, client, writer, before, asked):
        await import_seed(client, writer, f"?status={before}")
        article = (await import_seed(client, writer, f"?status={asked}")).json()["data"][0]
        assert article["status"] == asked

    async def test_json_without_a_time_keeps_the_publication_time(self, client, writer):
        body = {
            "headline": "Timeless",
            "category": "Science",
            "published_at": "2025-03-04T05:06:00+01:00",
        }
        first = await client.post("/v1/imports?status=published", json=body, headers=writer)
        del body["published_at"]
        body["dek"] = "Now with a dek."
        again = (await client.post("/v1/imports", json=body, headers=writer)).json()["data"][0]
        assert again["id"] == first.json()["data"][0]["id"]
        assert (again["status"], again["dek"]) == ("published", "Now with a dek.")
        assert again["published_at"] == "2025-03-04T05:06:00+01:00"

    async def test_ndjson_lines_keep_status_too(self, client, writer):
        await client.post(
            "/v1/imports?status=published", json={"headline": "Kept", "category": "Science"},
            headers=writer,
        )  # fmt: skip
        line = json.dumps({"headline": "Kept", "category": "Science", "dek": "Changed."}).encode()
        response = await post_ndjson(client, writer, line)
        assert [r["status"] for r in response.json()["data"]] == [200]
        assert (await client.get("/v1/articles/kept")).json()["dek"] == "Changed."


class TestStatusInTheDocument:
    """JSON and NDJSON documents are ArticleCreate, `status` included; ?status wins over it."""

    async def test_json_status_published_without_the_parameter(self, client, writer):
        body = {"headline": "Self published", "category": "Science", "status": "published"}
        response = await client.post("/v1/imports", json=body, headers=writer)
        assert response.status_code == 201
        assert response.json()["data"][0]["status"] == "published"
        assert (await client.get("/v1/articles/self-published")).status_code == 200

    async def test_parameter_wins_over_the_document(self, client, writer):
        body = {"headline": "Held back", "category": "Science", "status": "published"}
        response = await client.post("/v1/imports?status=draft", json=body, headers=writer)
        assert response.json()["data"][0]["status"] == "draft"
        body = {"headline": "Pushed out", "category": "Science", "status": "draft"}
        response = await client.post("/v1/imports?status=published", json=body, headers=writer)
        assert response.json()["data"][0]["status"] == "published"

    async def test_document_status_on_reimport(self, client, writer):
        body = {"headline": "Flip", "category": "Science", "status": "published"}
        await client.post("/v1/imports", json=body, headers=writer)
        body["status"] = "draft"
        response = await client.post("/v1/imports", json=body, headers=writer)
        assert response.json()["data"][0]["status"] == "draft"

    async def test_ndjson_lines_each_with_their_status(self, client, writer, session):
        lines = "\n".join([
            json.dumps({"headline": "Line published", "category": "Science", "status": "published"}),
            json.dumps({"headline": "Line draft", "category": "Science"}),
        ]).encode()  # fmt: skip
        response = await post_ndjson(client, writer, lines)
        assert [r["status"] for r in response.json()["data"]] == [201, 201]
        public = (await client.get("/v1/articles")).json()["data"]
        assert [a["headline"] for a in public] == ["Line published"]

    async def test_unknown_status_parameter_is_422(self, client, writer):
        response = await client.post(
            "/v1/imports?status=live", json={"headline": "H", "category": "C"}, headers=writer
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["query", "status"]
