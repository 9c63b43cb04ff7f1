"""POST /v1/imports: every format by Content-Type, 201 for one document, 207 per NDJSON line."""

from __future__ import annotations

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
    response = await client.post(
        "/v1/imports", content=lines, headers={**writer, "Content-Type": "application/x-ndjson"}
    )
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
