"""Bulk loading on both backends: the rows the service would write, readable through the API."""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app.articles.readmodel import full_face, snapshot_face
from app.core.http import json_bytes
from app.demo import command, loader
from app.demo.corpus import Corpus
from app.demo.loader import PoolMaker, ensure_taxonomy, load_demo, write_articles
from app.demo.rows import Encoder, RefIds, encoded_batch
from app.models import Article, Author, Category, Change, Revision, Tag
from tests.conftest import BASE_URL

COUNT = 30


@pytest.fixture
def corpus(settings) -> Corpus:
    return Corpus(3, settings)


@pytest.fixture
async def loaded(connection, corpus):
    return await load_demo(connection, corpus, COUNT)


async def count_of(connection, column) -> int:
    return await connection.scalar(select(func.count(column)))


async def test_load_writes_the_taxonomy_and_one_revision_and_event_per_article(connection, loaded):
    assert (loaded.written, loaded.skipped) == (COUNT, 0)
    assert await count_of(connection, Category.id) == 20
    assert await count_of(connection, Author.id) == 500
    assert await count_of(connection, Tag.id) == 2000
    assert await count_of(connection, Revision.article_id) == COUNT
    events = (await connection.execute(select(Change.event, Change.revision))).all()
    assert events == [("published", 1)] * COUNT


async def test_the_list_returns_the_articles_newest_first(client, corpus, loaded):
    response = await client.get("/v1/articles", params={"limit": 100})
    assert response.status_code == 200
    views = sorted((corpus.article(i) for i in range(COUNT)), key=lambda v: v.published_at)
    assert [a["id"] for a in response.json()["data"]] == [v.id for v in reversed(views)]


async def test_detail_by_slug_is_the_generated_article(client, corpus, loaded):
    view = corpus.article(4)
    response = await client.get(f"/v1/articles/{view.slug}")
    assert response.status_code == 200
    expected = json_bytes(full_face(view, BASE_URL, view.updated_at))
    assert response.content == expected


async def test_search_finds_an_article_by_its_headline(client, corpus, loaded):
    view = corpus.article(11)
    response = await client.get("/v1/articles", params={"q": view.headline, "limit": 100})
    assert response.status_code == 200
    assert view.id in [hit["id"] for hit in response.json()["data"]]
    assert "<mark>" in response.json()["data"][0]["highlight"]


async def test_the_revision_snapshot_is_the_service_snapshot(connection, corpus, loaded):
    view = corpus.article(0)
    stored = await connection.scalar(
        select(Revision.snapshot).where(Revision.article_id == view.id)
    )
    assert stored == snapshot_face(view)
    assert stored["published_at"] == view.published_at.isoformat()


async def test_loading_again_skips_what_is_there(connection, corpus):
    first = await load_demo(connection, corpus, 10)
    second = await load_demo(connection, corpus, 25)
    assert (first.written, first.skipped) == (10, 0)
    assert (second.written, second.skipped) == (15, 10)
    assert await count_of(connection, Revision.article_id) == 25


async def test_batches_built_ahead_elsewhere_are_all_written(connection, corpus, monkeypatch):
    monkeypatch.setattr(loader, "BATCH_SIZE", 5)  # three batches, two in the making at once
    ids = await ensure_taxonomy(connection, corpus.taxonomy)
    encoder = Encoder(connection.dialect)

    def build(indices: list[int]) -> bytes:
        return pickle.dumps(encoded_batch(corpus, encoder, ids, indices))

    with ThreadPoolExecutor(2) as pool:
        result = await write_articles(connection, corpus, range(12), PoolMaker(pool, build, 2))
    assert result.written == 12
    stored = set(await connection.scalars(select(Article.id)))
    assert stored == {corpus.article_id(i) for i in range(12)}


def test_a_worker_process_builds_what_this_process_builds(settings, corpus, monkeypatch):
    monkeypatch.setattr(command, "_worker_state", None)  # restored after the test
    taxonomy = corpus.taxonomy
    ids = RefIds(
        {r.slug: n for n, r in enumerate(taxonomy.categories)},
        {r.slug: n for n, r in enumerate(taxonomy.authors)},
        {r.slug: n for n, r in enumerate(taxonomy.tags)},
    )
    command._start_worker(corpus.seed, settings, ids)
    built = pickle.loads(command._build_in_worker([0, 5]))
    encoder = Encoder(make_url(settings.async_database_url).get_dialect()())
    assert built == encoded_batch(corpus, encoder, ids, [0, 5])
