"""Feeds, ninjs and JSON-LD from the per-revision caches: served early, never stale."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import feedparser
import httpx
import pytest

from app.articles.cache import CachedResponse, ChangeFollower, ReadCache
from app.core.config import Settings
from app.main import create_app
from app.syndication.cache import CachedFeed, FeedCache, FeedKey
from app.syndication.rules import ANONYMOUS
from tests.access.test_keys import auth, make_key
from tests.conftest import BASE_URL, add_article

COMPARED = (
    "etag", "last-modified", "cache-control", "surrogate-key", "content-type", "content-length",
    "vary", "access-control-allow-origin",
)  # fmt: skip


def feed_entry(epoch: int, expires: float, size: int = 100) -> CachedFeed:
    return CachedFeed('"f"', 0.0, b"x" * size, [], [], epoch, expires)


class TestFeedCache:
    KEY = FeedKey("rss", None, 50, ANONYMOUS)

    def test_any_change_to_any_article_forgets_every_feed(self):
        articles = ReadCache(10_000)
        feeds = FeedCache(articles, 10_000)
        assert feeds.store(self.KEY, feed_entry(articles.epoch, time.time() + 60))
        assert feeds.lookup(self.KEY) is not None
        articles.evict("art_anything")
        assert feeds.lookup(self.KEY) is None
        assert len(feeds) == 0

    def test_a_feed_built_while_something_changed_is_not_kept(self):
        articles = ReadCache(10_000)
        feeds = FeedCache(articles, 10_000)
        started = articles.epoch
        articles.evict("art_1")
        assert not feeds.store(self.KEY, feed_entry(started, time.time() + 60))

    def test_a_feed_expires_at_the_next_embargo_lift_or_max_age(self):
        articles = ReadCache(10_000)
        feeds = FeedCache(articles, 10_000)
        assert not feeds.store(self.KEY, feed_entry(articles.epoch, time.time() - 0.001))
        assert feeds.store(self.KEY, feed_entry(articles.epoch, time.time() + 0.05))
        time.sleep(0.06)
        assert feeds.lookup(self.KEY) is None

    def test_bounded_in_bytes(self):
        articles = ReadCache(10_000)
        feeds = FeedCache(articles, 2 * (600 + 2048))
        keys = [FeedKey("rss", f"c{n}", 50, ANONYMOUS) for n in range(3)]
        for key in keys:
            feeds.store(key, feed_entry(articles.epoch, time.time() + 60, 600))
        assert len(feeds) == 2
        assert feeds.lookup(keys[0]) is None
        assert feeds.lookup(keys[2]) is not None


class TestArticleFaces:
    def face(self, face: str, slug: str = "s") -> CachedResponse:
        return CachedResponse("art_1", slug, "science", 1, '"e"', 0.0, b"x", [], [], face=face)

    def test_forgetting_an_article_forgets_all_its_faces(self):
        cache = ReadCache(10_000)
        for face in ("", "ninjs-2.2-summary", "jsonld-full"):
            assert cache.store(self.face(face), cache.epoch)
        assert cache.lookup("s", "ninjs-2.2-summary") is not None
        assert cache.lookup("art_1", "jsonld-full") is not None
        assert cache.lookup("art_1", "ninjs-3.1-summary") is None
        cache.evict("art_1")
        assert len(cache) == 0
        assert cache.lookup("s") is None
        assert cache.lookup("s", "jsonld-full") is None

    def test_a_face_pushed_out_by_size_leaves_the_others_findable_by_slug(self):
        cache = ReadCache(2 * (1 + 512))
        cache.store(self.face(""), cache.epoch)
        cache.store(self.face("ninjs-2.2-summary"), cache.epoch)
        cache.store(self.face("jsonld-summary"), cache.epoch)
        assert cache.lookup("s") is None
        assert cache.lookup("s", "jsonld-summary") is not None


@pytest.mark.parametrize(
    "path", ["/v1/feeds/all.rss", "/v1/feeds/science.atom", "/v1/feeds/all.json",
             "ninjs", "ninjs?version=3.1", "jsonld"],
)  # fmt: skip
async def test_warm_reads_come_from_the_fast_lane_like_the_stack(sessions, session, settings, path):
    """A cache hit answers before the middleware stack, with the stack's bytes and headers."""
    view = await add_article(session, settings)
    path = path if path.startswith("/") else f"/v1/articles/{view.slug}/{path}"
    limited = Settings(
        database_url="sqlite:///unused.db", public_base_url=BASE_URL,
        anonymous_rate_limit="100/minute", cors_origins=["https://app.example"],
    )  # fmt: skip
    app = create_app(limited, sessions)
    counter = app.state.feed_cache if "/feeds/" in path else app.state.read_cache
    headers = {"Origin": "https://app.example"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as c:
        slow = await c.get(path, headers=headers)
        hits = counter.hits
        fast = await c.get(path, headers={**headers, "X-Request-ID": "warm-1"})
        assert counter.hits == hits + 1
        not_modified = await c.get(path, headers={"If-None-Match": slow.headers["etag"]})
        head = await c.head(path)
        assert counter.hits == hits + 3
    assert slow.status_code == fast.status_code == 200
    assert fast.content == slow.content
    for name in COMPARED:
        assert fast.headers.get(name) == slow.headers.get(name), name
    assert fast.headers["access-control-allow-origin"] == "https://app.example"
    assert fast.headers["x-request-id"] == "warm-1"
    assert int(fast.headers["ratelimit-remaining"]) == int(slow.headers["ratelimit-remaining"]) - 1
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert head.status_code == 200
    assert head.content == b""
    endpoints = {endpoint for (_, _, endpoint, _) in app.state.usage.pending}
    assert len(endpoints) == 1
    assert endpoints.pop().startswith(("/v1/feeds/{name}.", "/v1/articles/{key}/"))


async def test_the_fast_lane_keeps_the_partner_rules(app, client, session, settings):
    kept = await add_article(session, settings, headline="Kept", rights={"syndication": False})
    editor = auth(await make_key(session, "write"))
    syndicate = auth(await make_key(session, "syndicate"))
    other_desk = auth(await make_key(session, "read", categories=["business"]))
    for _ in range(2):  # the second read is a cache hit for the editor
        assert (
            await client.get(f"/v1/articles/{kept.id}/ninjs", headers=editor)
        ).status_code == 200
        assert (
            await client.get(f"/v1/articles/{kept.id}/jsonld", headers=editor)
        ).status_code == 200
    assert app.state.read_cache.lookup(kept.id, "ninjs-2.2-summary") is not None
    for headers in ({}, syndicate, other_desk):
        response = await client.get(f"/v1/articles/{kept.id}/ninjs", headers=headers)
        assert response.status_code == 404, headers
    # JSON-LD is not held back by syndication rights, only by a key's categories.
    hits = app.state.read_cache.hits
    assert (await client.get(f"/v1/articles/{kept.id}/jsonld")).status_code == 200
    assert app.state.read_cache.hits == hits + 1  # the editor's copy: the same document
    ld = await client.get(f"/v1/articles/{kept.id}/jsonld", headers=other_desk)
    assert ld.status_code == 404
    public = await add_article(session, settings, headline="Shared")
    await client.get("/v1/feeds/all.json")
    assert (await client.get(f"/v1/articles/{public.id}/ninjs")).status_code == 200
    hits = app.state.read_cache.hits
    full = await client.get(f"/v1/articles/{public.id}/ninjs", headers=syndicate)
    assert full.json()["representationtype"] == "full"  # not the cached summary
    assert app.state.read_cache.hits == hits  # a different face: a miss
    refused = await client.get(f"/v1/articles/{public.id}/ninjs", headers=other_desk)
    assert refused.status_code == 404


async def test_the_change_log_refreshes_every_feed(app, client, sessions, session, settings):
    first = await add_article(session, settings, headline="First")
    follower = ChangeFollower(app.state.read_cache, sessions)
    await follower.start()
    await client.get("/v1/feeds/all.rss")
    await client.get(f"/v1/articles/{first.id}/ninjs")
    await add_article(session, settings, headline="Second")  # another process, as it were
    cached = feedparser.parse((await client.get("/v1/feeds/all.rss")).content)
    assert [e.title for e in cached.entries] == ["First"]  # until the log is read
    assert await follower.poll() == 1
    fresh = feedparser.parse((await client.get("/v1/feeds/all.rss")).content)
    assert [e.title for e in fresh.entries] == ["Second", "First"]
    # An edit of one article forgets its own ninjs and every feed, and nothing else is stale.
    await add_article(session, settings, headline="First", dek="A corrected dek.")
    assert await follower.poll() == 1
    ninjs = (await client.get(f"/v1/articles/{first.id}/ninjs")).json()
    assert ninjs["version"] == "2"
    assert ninjs["descriptions"][0]["value"] == "A corrected dek."
    json_feed = (await client.get("/v1/feeds/all.json")).json()
    summaries = {item["title"]: item["summary"] for item in json_feed["items"]}
    assert summaries == {"First": "A corrected dek.", "Second": "A short dek."}


async def test_a_feed_shows_an_article_the_moment_its_embargo_lifts(app, client, session, settings):
    """No write happens when an embargo lifts: the cached feed must expire by itself."""
    await add_article(session, settings, headline="Already out")
    # Two seconds ahead: on a loaded CI machine the writes and reads below took over 0.6 s.
    lift = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    await add_article(session, settings, headline="Embargoed", published_at=lift)
    before = feedparser.parse((await client.get("/v1/feeds/all.atom")).content)
    feeds: FeedCache = app.state.feed_cache
    again = await client.get("/v1/feeds/all.atom")
    assert dt.datetime.now(dt.UTC) < lift, "too slow to see the feed before the lift"
    assert [e.title for e in before.entries] == ["Already out"]
    assert feeds.hits == 1
    assert again.status_code == 200
    await asyncio.sleep(max(0.0, (lift - dt.datetime.now(dt.UTC)).total_seconds()) + 0.05)
    after = feedparser.parse((await client.get("/v1/feeds/all.atom")).content)
    assert [e.title for e in after.entries] == ["Embargoed", "Already out"]
    assert feeds.hits == 1  # rebuilt, not served from the cache


async def test_a_cached_feed_is_never_older_than_its_max_age(sessions, session, settings):
    """Even if the change log could not be read, a feed is rebuilt after max-age seconds."""
    await add_article(session, settings, headline="Only one")
    short = Settings(database_url="sqlite:///unused.db", public_base_url=BASE_URL,
                     anonymous_rate_limit="none", cache_max_age=1, cache_poll_interval=0.5)  # fmt: skip
    app = create_app(short, sessions)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as c:
        first = await c.get("/v1/feeds/all.json")
        assert first.headers["cache-control"].startswith("public, max-age=1,")
        (key,) = list(app.state.feed_cache._entries)
        entry = app.state.feed_cache._entries[key]
        assert entry.expires <= time.time() + 1
        await c.get("/v1/feeds/all.json")
        assert app.state.feed_cache.hits == 1
        await asyncio.sleep(max(0.0, entry.expires - time.time()) + 0.01)
        await c.get("/v1/feeds/all.json")
        assert app.state.feed_cache.hits == 1  # expired: rebuilt, not served


async def test_concurrent_misses_of_one_feed_share_one_build(app, client, session, settings):
    """After a change every feed is cold at once: a crowd of readers must not build it N times."""
    await add_article(session, settings, headline="Popular")
    responses = await asyncio.gather(*(client.get("/v1/feeds/all.rss") for _ in range(8)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert app.state.feed_cache.builds == 1
    app.state.read_cache.evict("art_any")  # any change: the next reader builds again
    await client.get("/v1/feeds/all.rss")
    assert app.state.feed_cache.builds == 2
