"""The per-worker read cache: served without the router, bounded, and kept fresh from the log."""

from __future__ import annotations

import pytest

from app.articles.cache import CachedResponse, ChangeFollower, ReadCache
from tests.conftest import add_article


def entry(article_id: str, slug: str = "s", size: int = 100) -> CachedResponse:
    return CachedResponse(
        article_id, slug, "science", 1, f'"{article_id}.1"', 0.0, b"x" * size, [], []
    )


class TestReadCache:
    def test_lookup_by_id_or_slug(self):
        cache = ReadCache(10_000)
        assert cache.store(entry("art_1", "one"), cache.epoch)
        assert cache.lookup("art_1") is cache.lookup("one")
        assert cache.lookup("two") is None

    def test_bounded_in_bytes_least_recently_used_goes_first(self):
        cache = ReadCache(3 * (600 + 512))
        for n in range(3):
            cache.store(entry(f"art_{n}", f"s{n}", 600), cache.epoch)
        cache.lookup("art_0")
        cache.store(entry("art_3", "s3", 600), cache.epoch)
        assert cache.lookup("art_1") is None
        assert cache.lookup("art_0") is not None
        assert len(cache) == 3

    def test_a_load_that_raced_a_write_is_not_stored(self):
        cache = ReadCache(10_000)
        loaded_at = cache.epoch
        cache.evict("art_1")  # a change arrived while the request was reading
        assert not cache.store(entry("art_1"), loaded_at)
        assert cache.store(entry("art_1"), cache.epoch)

    def test_zero_bytes_turns_it_off(self):
        cache = ReadCache(0)
        assert not cache.store(entry("art_1"), cache.epoch)


async def test_warm_detail_is_served_from_the_cache(app, client, session, settings):
    view = await add_article(session, settings)
    cache: ReadCache = app.state.read_cache
    first = await client.get(f"/v1/articles/{view.id}")
    hits = cache.hits
    second = await client.get(f"/v1/articles/{view.slug}", headers={"X-Request-ID": "warm-1"})
    assert cache.hits == hits + 1
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers["x-request-id"] == "warm-1"
    cors = await client.get(f"/v1/articles/{view.id}", headers={"Origin": "https://x.example"})
    assert cors.headers["access-control-allow-origin"] == "*"
    not_modified = await client.get(
        f"/v1/articles/{view.id}", headers={"If-None-Match": first.headers["etag"]}
    )
    assert not_modified.status_code == 304
    assert cache.hits == hits + 3
    head = await client.head(f"/v1/articles/{view.id}")
    assert head.status_code == 200
    assert head.content == b""


async def test_requests_with_a_query_or_a_bad_key_do_not_use_the_cache(
    app, client, session, settings
):
    view = await add_article(session, settings)
    cache: ReadCache = app.state.read_cache
    await client.get(f"/v1/articles/{view.id}")
    hits = cache.hits
    await client.get(f"/v1/articles/{view.id}?fields=headline")
    assert cache.hits == hits
    refused = await client.get(
        f"/v1/articles/{view.id}", headers={"Authorization": "Bearer x", "X-Request-ID": "r-401"}
    )
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["x-request-id"] == "r-401"


async def test_keyed_reads_use_the_cache_within_the_key_categories(app, client, session, settings):
    from tests.access.test_keys import auth, make_key

    view = await add_article(session, settings, category="Science")
    science = await make_key(session, "read", name="science-only", categories=["science"])
    business = await make_key(session, "read", name="business-only", categories=["business"])
    cache: ReadCache = app.state.read_cache
    await client.get(f"/v1/articles/{view.id}")
    hits = cache.hits
    allowed = await client.get(f"/v1/articles/{view.id}", headers=auth(science))
    assert allowed.status_code == 200
    assert cache.hits == hits + 1
    assert allowed.headers["ratelimit-limit"]
    refused = await client.get(f"/v1/articles/{view.id}", headers=auth(business))
    assert refused.status_code == 404


async def test_follower_evicts_articles_changed_by_anyone(app, client, sessions, session, settings):
    view = await add_article(session, settings, headline="Before")
    follower = ChangeFollower(app.state.read_cache, sessions)
    await follower.start()
    await client.get(f"/v1/articles/{view.id}")
    assert app.state.read_cache.lookup(view.id) is not None
    await add_article(
        session, settings, headline="Before", dek="A new dek."
    )  # same slug: an update
    assert await follower.poll() == 1
    assert app.state.read_cache.lookup(view.id) is None
    fresh = (await client.get(f"/v1/articles/{view.id}")).json()
    assert fresh["dek"] == "A new dek."
    assert fresh["revision"] == 2
    assert await follower.poll() == 0


async def test_follower_sees_a_seq_that_commits_after_a_higher_one(app, sessions, session):
    """PostgreSQL sequences can commit out of order: a gap is re-checked until it fills."""
    import datetime as dt

    from app.models import Change

    cache: ReadCache = app.state.read_cache
    follower = ChangeFollower(cache, sessions)
    await follower.start()
    base = cache.watermark
    now = dt.datetime.now(dt.UTC)
    for article_id in ("art_a", "art_b"):
        cache.store(entry(article_id, article_id), cache.epoch)
    session.add(Change(seq=base + 2, event="updated", article_id="art_b", revision=2, at=now))
    await session.flush()
    assert await follower.poll() == 1
    assert base + 1 in follower.gaps
    session.add(Change(seq=base + 1, event="updated", article_id="art_a", revision=2, at=now))
    await session.flush()
    assert cache.lookup("art_a") is not None
    assert await follower.poll() == 1
    assert cache.lookup("art_a") is None
    assert not follower.gaps


class TestViewCache:
    def test_lru_by_count(self):
        from app.articles.readmodel import ViewCache

        cache = ViewCache(2)
        views = [_view(f"art_{n}") for n in range(3)]
        for view in views[:2]:
            cache.put(view)
        assert cache.get("art_0", 1) is views[0]
        cache.put(views[2])
        assert cache.get("art_1", 1) is None
        assert cache.get("art_0", 1) is views[0]
        assert cache.get("art_0", 2) is None

    async def test_lists_reuse_views_and_never_serve_an_old_revision(
        self, app, client, session, settings
    ):
        view = await add_article(session, settings, headline="Cached list", dek="Old dek.")
        first = (await client.get("/v1/articles")).json()["data"][0]
        assert app.state.views.get(view.id, 1) is not None
        assert first["dek"] == "Old dek."
        await add_article(session, settings, headline="Cached list", dek="New dek.")
        again = (await client.get("/v1/articles")).json()["data"][0]
        assert again["dek"] == "New dek."
        assert app.state.views.get(view.id, 2) is not None


def _view(article_id: str):
    import dataclasses
    import datetime as dt

    from app.articles.readmodel import ArticleView

    fields = {f.name: None for f in dataclasses.fields(ArticleView)}
    fields.update(id=article_id, revision=1, updated_at=dt.datetime.now(dt.UTC))
    return ArticleView(**fields)


@pytest.mark.parametrize(
    ("method", "headers"),
    [("GET", {"Origin": "https://app.example"}), ("GET", {}), ("HEAD", {}),
     ("HEAD", {"Origin": "https://other.example"})],
)  # fmt: skip
async def test_fast_lane_answers_like_the_full_stack(sessions, session, settings, method, headers):
    """A cache hit must carry the same headers the middleware stack gives a miss."""
    import httpx

    from app.core.config import Settings
    from app.main import create_app
    from tests.conftest import BASE_URL

    view = await add_article(session, settings)
    limited = Settings(
        database_url="sqlite:///unused.db", public_base_url=BASE_URL,
        anonymous_rate_limit="100/minute", cors_origins=["https://app.example"],
    )  # fmt: skip
    app = create_app(limited, sessions)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as c:
        slow = await c.request(method, f"/v1/articles/{view.id}", headers=headers)
        hits = app.state.read_cache.hits
        fast = await c.request(method, f"/v1/articles/{view.id}", headers=headers)
        assert app.state.read_cache.hits == hits + 1
    assert fast.content == slow.content
    for name in ("etag", "cache-control", "surrogate-key", "last-modified", "content-type",
                 "access-control-allow-origin", "access-control-expose-headers", "vary", "ratelimit-limit"):  # fmt: skip
        assert fast.headers.get_list(name) == slow.headers.get_list(name), name
    assert fast.headers.get_list("vary") == ["Origin"]
    allowed = headers.get("Origin") == "https://app.example"
    assert fast.headers.get("access-control-allow-origin") == (
        "https://app.example" if allowed else None
    )
    assert int(fast.headers["ratelimit-remaining"]) == int(slow.headers["ratelimit-remaining"]) - 1
    assert fast.headers["x-request-id"]
    counted = sum(
        n
        for (_, _, endpoint, status), n in app.state.usage.pending.items()
        if endpoint == "/v1/articles/{key}" and status == 200
    )
    assert counted == 2
