"""Rate limits: headers on every /v1 response, 429 with Retry-After, per key and per address."""

from __future__ import annotations

import httpx
import pytest
from limits import parse
from limits.strategies import FixedWindowRateLimiter

from app.access.ratelimit import LoopMemoryStorage, RateLimiter
from app.core.config import Settings
from app.main import create_app
from tests.access.test_keys import auth, make_key
from tests.conftest import BASE_URL


@pytest.fixture
async def limited(sessions):
    settings = Settings(
        database_url="sqlite:///unused.db",
        public_base_url=BASE_URL,
        anonymous_rate_limit="3/minute",
        key_rate_limit="5/minute",
    )
    app = create_app(settings, sessions)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as c:
        yield c


async def test_anonymous_limit_per_address_with_headers_then_429(limited):
    seen = []
    for _ in range(3):
        response = await limited.get("/v1/articles")
        assert response.status_code == 200
        seen.append(int(response.headers["ratelimit-remaining"]))
        assert response.headers["ratelimit-limit"] == "3"
        assert 0 < int(response.headers["ratelimit-reset"]) <= 60
    assert seen == [2, 1, 0]
    refused = await limited.get("/v1/categories")
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-remaining"] == "0"
    assert (await limited.get("/healthz")).status_code == 200


PREFLIGHT = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}


def standing(response: httpx.Response) -> tuple[str, int, int]:
    headers = response.headers
    reset = int(headers["ratelimit-reset"])
    assert 0 < reset <= 60, reset
    return headers["ratelimit-limit"], int(headers["ratelimit-remaining"]), reset


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/healthz", {}),
        ("GET", "/readyz", {}),
        ("GET", "/metrics", {}),
        ("GET", "/docs", {}),
        ("GET", "/openapi.json", {}),
        ("GET", "/dashboard", {}),
        ("GET", "/nowhere", {}),
        ("OPTIONS", "/v1/articles", PREFLIGHT),
        ("OPTIONS", "/v1/articles", {**PREFLIGHT, "Access-Control-Request-Headers": "X-Odd"}),
    ],
)
async def test_uncounted_responses_carry_the_standing_too(limited, method, path, headers):
    """Probes, pages and preflights are neither counted nor refused, yet every response
    carries the caller's RateLimit headers (API.md section 7)."""
    assert standing(await limited.get("/v1/articles"))[:2] == ("3", 2)
    for _ in range(5):  # more than the limit: still answered, and the count is unmoved
        response = await limited.request(method, path, headers=headers)
        assert response.status_code != 429
        limit, remaining, _ = standing(response)
        assert (limit, remaining) == ("3", 2)
    assert standing(await limited.get("/v1/categories"))[1] == 1


async def test_a_standing_before_any_counted_request_is_the_whole_budget(limited):
    assert standing(await limited.get("/healthz"))[:2] == ("3", 3)
    assert standing(await limited.get("/healthz"))[2] == 60


async def test_a_refused_preflight_is_a_problem_a_browser_can_read(limited):
    headers = {**PREFLIGHT, "Access-Control-Request-Headers": "X-Odd"}
    refused = await limited.options("/v1/articles", headers=headers)
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert body["status"] == 400
    assert body["instance"] == "/v1/articles"
    assert "headers" in body["detail"]
    assert refused.headers["access-control-allow-origin"] == "*"
    assert refused.headers["x-request-id"]
    assert standing(refused)[:2] == ("3", 3)


async def test_a_key_sees_its_own_standing_on_uncounted_responses(limited, session):
    key = await make_key(session, "read", name="prober", rate_limit="7/minute")
    await limited.get("/v1/articles", headers=auth(key))
    assert standing(await limited.get("/healthz", headers=auth(key)))[:2] == ("7", 6)


async def test_keys_have_their_own_budget_and_per_key_limits(limited, session):
    default = await make_key(session, "read", name="default-limit")
    tight = await make_key(session, "read", name="tight", rate_limit="2/minute")
    for _ in range(4):
        await limited.get("/v1/articles")
    assert (await limited.get("/v1/articles")).status_code == 429
    assert (await limited.get("/v1/articles", headers=auth(default))).headers[
        "ratelimit-limit"
    ] == "5"
    statuses = [
        (await limited.get("/v1/articles", headers=auth(tight))).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 429]


async def test_unreachable_redis_fails_open():
    limiter = RateLimiter.from_url("redis://127.0.0.1:1/0")
    from app.access.ratelimit import parse_limit

    item = parse_limit("1/minute")
    assert item is not None
    assert await limiter.hit(item, "someone") is None
    assert limiter.last_error is not None
    assert not await limiter.healthy()


async def test_reading_the_standing_fails_open_too(sessions):
    """Routes that are never counted (probes, preflights) only read the shared counter;
    without the store they still answer, without RateLimit headers, and say why."""
    limiter = RateLimiter.from_url("redis://127.0.0.1:1/0")
    item = parse("1/minute")
    assert await limiter.peek(item, "someone") == []
    assert limiter.last_error is not None
    assert "limits not enforced" in limiter.last_error

    settings = Settings(
        database_url="sqlite:///unused.db", redis_url="redis://127.0.0.1:1/0",
        anonymous_rate_limit="10/minute",
    )  # fmt: skip
    app = create_app(settings, sessions)
    preflight = {
        "Origin": "https://desk.example",
        "Access-Control-Request-Method": "GET",
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as c:
        for response in (
            await c.get("/healthz"),
            await c.options("/v1/articles", headers=preflight),
        ):
            assert response.status_code == 200, response.text
            assert "ratelimit-limit" not in response.headers
        ready = await c.get("/readyz")
    assert ready.json()["rate_limits"].startswith("degraded")


async def test_readyz_reports_a_degraded_shared_store(sessions):
    settings = Settings(database_url="sqlite:///unused.db", redis_url="redis://127.0.0.1:1/0")
    app = create_app(settings, sessions)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as c:
        assert (await c.get("/v1/articles")).status_code == 200
        ready = await c.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["rate_limits"].startswith("degraded")


def test_bad_limit_setting_stops_the_process():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="anonymous_rate_limit"):
        Settings(anonymous_rate_limit="lots")


def test_loop_memory_storage_counts_fixed_windows_that_expire(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("app.access.ratelimit.time.time", lambda: clock[0])
    limiter = FixedWindowRateLimiter(LoopMemoryStorage())
    item = parse("2/second")

    assert [limiter.hit(item, "a") for _ in range(3)] == [True, True, False]
    assert limiter.hit(item, "b")  # another identity has its own window
    reset_at, remaining = limiter.get_window_stats(item, "a")
    assert (reset_at, remaining) == (1001.0, 0)

    clock[0] = 1001.0  # the window has ended: a fresh budget
    assert limiter.hit(item, "a")
    assert limiter.get_window_stats(item, "a") == (1002.0, 1)


def test_loop_memory_storage_forgets_expired_windows(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr("app.access.ratelimit.time.time", lambda: clock[0])
    storage = LoopMemoryStorage()
    for n in range(1000):
        storage.incr(f"ip:{n}", 60)
    clock[0] = 61.0
    storage.incr("ip:late", 60)  # meeting the heap's expired top drops every old window
    assert storage.counts == {"ip:late": 1}
    assert len(storage._deadlines) == 1

    storage.clear("ip:late")
    assert storage.get("ip:late") == 0
    storage.incr("ip:late", 60)
    assert storage.reset() == 1
    assert storage.get("ip:late") == 0


def test_in_memory_limiter_counts_each_limit_of_an_identity_apart():
    limiter = RateLimiter.from_url(None)
    small, large = parse("2/minute"), parse("5/minute")
    counter = limiter.counter(small, "key:a")
    assert limiter.counter(small, "key:a") is counter  # made once, then reused
    answers = [limiter.count_local(counter) for _ in range(3)]
    assert [dict(a or [])[b"ratelimit-remaining"] for a in answers[:2]] == [b"1", b"0"]
    assert answers[2] is None  # over the limit
    refused = limiter.refusal(counter)
    assert (refused.allowed, refused.limit, refused.remaining) == (False, 2, 0)
    assert 0 < refused.reset_seconds <= 60
    assert dict(refused.headers())[b"ratelimit-limit"] == b"2"

    raised = limiter.counter(large, "key:a")  # the key's limit was raised: a new counter
    assert raised is not counter
    headers = dict(limiter.count_local(raised) or [])
    assert (headers[b"ratelimit-limit"], headers[b"ratelimit-remaining"]) == (b"5", b"4")
    assert 0 < int(headers[b"ratelimit-reset"]) <= 60


async def test_the_shared_store_is_the_only_one_counted_by_awaiting():
    with pytest.raises(RuntimeError, match="count_local"):
        await RateLimiter.from_url(None).hit(parse("2/minute"), "key:a")


async def test_a_key_has_one_budget_however_its_header_is_spelled(limited, session, settings):
    """The key cache is keyed by the header as sent; the counter must still be the key's."""
    from tests.conftest import add_article

    article = await add_article(session, settings)
    secret = await make_key(session, "read", name="spelled", rate_limit="4/minute")
    await limited.get(f"/v1/articles/{article.id}")  # warm: the next reads take the fast lane
    spellings = [f"Bearer {secret}", f"bearer {secret}", f"BEARER {secret}", f"Bearer {secret}"]
    answers = [
        await limited.get(path, headers={"Authorization": spelled})
        for spelled, path in zip(
            spellings, ["/v1/articles", f"/v1/articles/{article.id}"] * 2, strict=True
        )
    ]
    assert [int(a.headers["ratelimit-remaining"]) for a in answers] == [3, 2, 1, 0]
    refused = await limited.get(
        f"/v1/articles/{article.id}", headers={"Authorization": spellings[1]}
    )
    assert refused.status_code == 429
    assert refused.headers["ratelimit-limit"] == "4"


async def test_guessing_keys_counts_against_the_address_and_is_throttled(limited, session):
    good = await make_key(session, "read", name="the-real-one")
    bad = {"Authorization": "Bearer byl_guess"}
    refused = [await limited.get("/v1/articles", headers=bad) for _ in range(3)]
    assert [r.status_code for r in refused] == [401, 401, 401]
    assert [r.headers["ratelimit-remaining"] for r in refused] == ["2", "1", "0"]
    assert refused[0].headers["ratelimit-limit"] == "3"
    assert refused[0].headers["www-authenticate"].startswith("Bearer")
    throttled = await limited.get("/v1/articles", headers=bad)
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) >= 1
    assert (await limited.get("/v1/articles", headers=auth(good))).status_code == 200


async def test_refused_requests_are_counted_under_their_endpoint(sessions, session):
    settings = Settings(
        database_url="sqlite:///unused.db", public_base_url=BASE_URL, key_rate_limit="1/minute"
    )
    app = create_app(settings, sessions)
    tight = auth(await make_key(session, "read", name="tight"))
    await session.commit()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        assert (await client.get("/v1/feeds/all.json", headers=tight)).status_code == 200
        assert (await client.get("/v1/feeds/all.json", headers=tight)).status_code == 429
        assert (await client.get("/v1/changes", headers=auth("byl_nope"))).status_code == 401
        assert (await client.get("/v1/nothing-here")).status_code == 404
    counted = {
        (endpoint, status): n for (_, _, endpoint, status), n in app.state.usage.pending.items()
    }
    assert counted == {
        ("/v1/feeds/{name}.json", 200): 1,
        ("/v1/feeds/{name}.json", 429): 1,
        ("/v1/changes", 401): 1,
        ("unmatched", 404): 1,
    }
