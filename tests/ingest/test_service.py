"""Importing into the database: create, update by slug, never duplicate, never half-write."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.ingest.service import collect_files, import_files
from app.models import Article, Change, Revision
from tests.conftest import EXAMPLES

SEED = "deepening-china-russia-ties.txt"


async def count(session, model) -> int:
    return await session.scalar(select(func.count()).select_from(model))


async def run_import(sessions, settings, index, files, status="published"):
    return await import_files(
        sessions, files, status=status, year=None, settings=settings, index=index
    )


async def test_imports_every_sample_and_reimport_changes_nothing(
    sessions, session, settings, index, client
):
    files = collect_files([EXAMPLES])
    assert sorted(p.name for p in files) == sorted(p.name for p in EXAMPLES.glob("*.txt"))
    first = await run_import(sessions, settings, index, files)
    assert [o.action for o in first] == ["created"] * len(files)
    again = await run_import(sessions, settings, index, files)
    assert [o.action for o in again] == ["unchanged"] * len(files)
    assert await count(session, Article) == len(files)
    assert await count(session, Revision) == len(files)
    body = (await client.get("/v1/articles?author=mackenzie-crow")).json()
    assert [d["headline"] for d in body["data"]] == [
        "Deepening China-Russia Ties Challenge US-Led Order Amid Global Concerns"
    ]


async def test_changed_copy_updates_the_same_article(
    sessions, session, settings, index, client, tmp_path
):
    original = tmp_path / SEED
    shutil.copy(EXAMPLES / SEED, original)
    [created] = await run_import(sessions, settings, index, [original])
    original.write_text(original.read_text().replace("at least 40 times", "at least 42 times"))
    [updated] = await run_import(sessions, settings, index, [original])
    assert updated.action == "updated"
    assert updated.article_id == created.article_id
    assert await count(session, Article) == 1
    article = (await client.get(f"/v1/articles/{created.slug}")).json()
    assert article["revision"] == 2
    assert "at least 42 times" in article["sections"][2]["paragraphs"][0]
    events = (await session.scalars(select(Change.event).order_by(Change.seq))).all()
    assert events == ["published", "updated"]
    revisions = (await session.scalars(select(Revision.snapshot).order_by(Revision.number))).all()
    assert "at least 40 times" in revisions[0]["sections"][2]["paragraphs"][0]
    assert "at least 42 times" in revisions[1]["sections"][2]["paragraphs"][0]


async def test_malformed_document_stores_nothing_and_others_go_on(
    sessions, session, settings, index, tmp_path
):
    bad = tmp_path / "bad.txt"
    bad.write_text(
        "Science\n\nA headline\n\nA dek.\n\nWritten by nobody\n\n5/16, 10:34 EDT\n\nBody paragraph.\n"
    )
    good = tmp_path / SEED
    shutil.copy(EXAMPLES / SEED, good)
    outcomes = await run_import(sessions, settings, index, [bad, good])
    assert [o.action for o in outcomes] == ["failed", "created"]
    assert "block 4" in (outcomes[0].error or "")
    assert await count(session, Article) == 1


async def test_ndjson_bad_line_does_not_stop_good_lines(
    sessions, session, settings, index, tmp_path
):
    lines = [
        '{"headline": "First", "category": "Science", "sections": [{"paragraphs": ["One."]}]}',
        '{"headline": "", "category": "Science"}',
        "{not json",
        '{"headline": "Fourth", "category": "Science", "sections": [{"paragraphs": ["Four."]}]}',
    ]
    path = tmp_path / "bulk.ndjson"
    path.write_text("\n".join(lines) + "\n")
    outcomes = await run_import(sessions, settings, index, [path])
    assert [o.action for o in outcomes] == ["created", "failed", "failed", "created"]
    assert outcomes[1].source.endswith(":2")
    assert outcomes[2].source.endswith(":3")
    assert await count(session, Article) == 2


async def test_drafts_stay_invisible(sessions, settings, index, client):
    await run_import(sessions, settings, index, [EXAMPLES / SEED], status="draft")
    assert (await client.get("/v1/articles")).json()["data"] == []


async def test_failure_midway_leaves_nothing(sessions, session, settings, index, monkeypatch):
    """A failure after the article row is written rolls the whole document back."""
    from app.articles import writer

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(writer, "record_revision", broken)
    with pytest.raises(RuntimeError):
        await run_import(sessions, settings, index, [EXAMPLES / SEED])
    assert await count(session, Article) == 0


def test_collect_files_walks_folders_and_keeps_files(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.md").write_text("x")
    (tmp_path / "b.txt").write_text("x")
    (tmp_path / "notes.pdf").write_text("x")
    explicit = tmp_path / "c.json"
    explicit.write_text("{}")
    assert [p.name for p in collect_files([tmp_path])] == ["b.txt", "c.json", "a.md"]
    assert collect_files([explicit]) == [explicit]


async def test_reimport_keeps_the_status_unless_one_is_asked_for(
    sessions, session, settings, index, tmp_path
):
    path = tmp_path / SEED
    shutil.copy(EXAMPLES / SEED, path)
    [created] = await run_import(sessions, settings, index, [path], status="draft")
    path.write_text(path.read_text().replace("at least 40 times", "at least 42 times"))
    outcomes = await import_files(
        sessions, [path], status=None, year=None, settings=settings, index=index,
        default_status="published",
    )  # fmt: skip
    assert [(o.action, o.article_id) for o in outcomes] == [("updated", created.article_id)]
    assert await session.scalar(select(Article.status)) == "draft"
    await run_import(sessions, settings, index, [path], status="published")
    assert await session.scalar(select(Article.status)) == "published"


@pytest.mark.parametrize("gone", ["retracted", "deleted"])
async def test_a_tombstone_is_never_brought_back(sessions, session, settings, index, gone):
    [created] = await run_import(sessions, settings, index, [EXAMPLES / SEED])
    article = await session.get(Article, created.article_id)
    assert article is not None
    article.status = gone
    await session.commit()
    [again] = await run_import(sessions, settings, index, [EXAMPLES / SEED])
    assert again.action == "failed"
    assert f"slug {created.slug!r} was {gone}" in (again.error or "")
    assert await session.scalar(select(Article.status)) == gone
    assert await count(session, Revision) == 1
