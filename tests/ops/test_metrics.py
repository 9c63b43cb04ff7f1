"""GET /metrics: requests by route template and status, the read cache, the pool, the webhook queue."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import make_engine, make_sessionmaker
from app.main import Byline, create_app
from app.models import WebhookSubscription
from app.ops.metrics import LATENCY_BUCKETS, RequestStats, read_queue, serve_worker_metrics
from tests.access.test_keys import auth, make_key
from tests.conftest import BASE_URL, add_article
from tests.e2e.conftest import free_port
from tests.webhooks.conftest import make_worker, new_key, subscribe

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: httpx.AsyncClient, headers: dict[str, str]) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def stats_key(session: AsyncSession) -> dict[str, str]:
    headers = auth(await make_key(session, "stats"))
    await session.commit()
    return headers


async def test_metrics_are_open_like_the_probes(client):
    scraped = await client.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    assert "# TYPE byline_http_requests_total counter" in scraped.text


async def test_metrics_can_require_a_key_with_the_stats_scope(sessions, session, settings):
    app = create_app(settings.model_copy(update={"metrics_require_key": True}), sessions)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        anonymous = await client.get("/metrics")
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
        reader = auth(await make_key(session, "read"))
        await session.commit()
        assert (await client.get("/metrics", headers=reader)).status_code == 403
        assert (await client.get("/metrics", headers=await stats_key(session))).status_code == 200


async def test_requests_are_counted_by_route_template_and_status(client, session, settings):
    headers = await stats_key(session)
    view = await add_article(session, settings)
    await session.commit()
    before = await scrape(client, headers)
    path = f"/v1/articles/{view.id}"
    for _ in range(3):  # the first fills the read cache; the others are fast-lane hits
        assert (await client.get(path)).status_code == 200
    assert (await client.get("/v1/articles/no-such-article")).status_code == 404
    assert (await client.get(f"/nowhere/{view.id}")).status_code == 404
    after = await scrape(client, headers)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    route = {"method": "GET", "route": "/v1/articles/{key}"}
    assert delta("byline_http_requests_total", **route, status="200") == 3
    assert delta("byline_http_requests_total", **route, status="404") == 1
    assert delta("byline_http_request_duration_seconds_count", **route, status="200") == 3
    assert (
        delta("byline_http_request_duration_seconds_bucket", **route, status="200", le="+Inf") == 3
    )
    assert delta("byline_http_request_duration_seconds_sum", **route, status="200") > 0
    assert delta("byline_http_requests_total", method="GET", route="unmatched", status="404") == 1
    # Raw paths never become labels (they would grow without bound).
    assert not any(view.id in str(labels) for _, labels in after)
    assert delta("byline_read_cache_hits_total") >= 2
    assert delta("byline_read_cache_misses_total") >= 1
    assert value(after, "byline_read_cache_entries") >= 1


async def test_requests_refused_before_routing_keep_their_route(client, session):
    """A 401 for an unknown key, a 422 for a NUL, a 405: answered before (or beside) the
    router, still counted under the route they asked for, as usage counts them."""
    headers = await stats_key(session)
    await session.commit()
    before = await scrape(client, headers)
    unknown = {"Authorization": "Bearer byl_" + "x" * 43}
    assert (await client.get("/v1/stats/categories", headers=unknown)).status_code == 401
    assert (await client.get("/v1/articles?q=%00")).status_code == 422
    assert (await client.put("/v1/articles")).status_code == 405
    after = await scrape(client, headers)

    def delta(**labels: str) -> float:
        name = "byline_http_requests_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta(method="GET", route="/v1/stats/categories", status="401") == 1
    assert delta(method="GET", route="/v1/articles", status="422") == 1
    assert delta(method="PUT", route="/v1/articles", status="405") == 1
    assert delta(method="GET", route="unmatched", status="401") == 0


async def test_webhook_queue_depth_is_read_from_the_database(client, session, settings):
    headers = await stats_key(session)
    owner, _ = await new_key(session, "syndicate")
    subscription, _ = await subscribe(session, owner)
    await session.commit()
    before = await scrape(client, headers)
    assert value(before, "byline_webhook_queue_read_ok") == 1
    await add_article(session, settings)  # a published article: one delivery in the outbox
    await session.commit()
    after = await scrape(client, headers)
    pending = {"state": "pending"}
    assert value(after, "byline_webhook_deliveries", **pending) == (
        value(before, "byline_webhook_deliveries", **pending) + 1
    )
    assert (("byline_webhook_deliveries", frozenset({("state", "failed")}))) in after
    assert ("byline_webhook_failing_subscriptions", frozenset()) in after
    # A subscription disabled after failing too long is counted under its status.
    stored = await session.get(WebhookSubscription, subscription.id)
    assert stored is not None
    stored.status = "disabled"
    await session.commit()
    disabled = await scrape(client, headers)
    assert value(disabled, "byline_webhook_subscriptions", status="disabled") == (
        value(after, "byline_webhook_subscriptions", status="disabled") + 1
    )
    assert value(disabled, "byline_webhook_subscriptions", status="active") == (
        value(after, "byline_webhook_subscriptions", status="active") - 1
    )


async def test_a_queue_read_slower_than_the_setting_is_left_out(sessions, session, settings):
    # A timeout no database round trip can meet: the scrape answers, without the queue.
    hurried = settings.model_copy(update={"metrics_queue_timeout": 1e-9})
    app = create_app(hurried, sessions)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        samples = await scrape(client, await stats_key(session))
    assert value(samples, "byline_webhook_queue_read_ok") == 0
    assert not any(name == "byline_webhook_deliveries" for name, _ in samples)


@pytest.mark.parametrize("seconds", ["0", "-1", "31", "soon"])
def test_a_bad_queue_timeout_stops_the_process(monkeypatch, seconds):
    from pydantic import ValidationError

    from app.core.config import Settings

    monkeypatch.setenv("BYLINE_METRICS_QUEUE_TIMEOUT", seconds)
    with pytest.raises(ValidationError, match="metrics_queue_timeout"):
        Settings()


async def test_an_unreachable_database_leaves_the_queue_unread_without_failing():
    engine = make_engine("postgresql://nobody@127.0.0.1:9/none")  # nothing listens on port 9
    try:
        reading = await read_queue(make_sessionmaker(engine), timeout=5)
    finally:
        await engine.dispose()
    assert reading.deliveries is None
    assert reading.failing_subscriptions is None


async def test_pool_use_is_reported_for_an_app_that_owns_its_engine(tmp_path):
    from app.core.config import Settings
    from app.main import create_app

    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'pool.db'}"))
    try:
        text = (await _scrape_registry(app)).splitlines()
    finally:
        await app.state.engine.dispose()
    assert any(line.startswith("byline_db_pool_size ") for line in text)
    assert any(line.startswith("byline_db_pool_checked_out 0.0") for line in text)


async def _scrape_registry(app: Byline) -> str:
    from prometheus_client import generate_latest

    registry: CollectorRegistry = app.state.metrics_registry
    return generate_latest(registry).decode()


def test_latency_lands_in_the_first_bucket_at_or_above_it():
    stats = RequestStats()
    stats.observe("GET", "/r", 200, LATENCY_BUCKETS[2])  # exactly on a bound: le is inclusive
    stats.observe("GET", "/r", 200, 1000.0)  # beyond every bound: +Inf only
    (family_count, family_hist) = list(stats.families())
    buckets = {s.labels["le"]: s.value for s in family_hist.samples if s.name.endswith("_bucket")}
    assert buckets[repr(LATENCY_BUCKETS[1])] == 0
    assert buckets[repr(LATENCY_BUCKETS[2])] == 1
    assert buckets[repr(LATENCY_BUCKETS[-1])] == 1
    assert buckets["+Inf"] == 2
    assert family_count.samples[0].value == 2


async def test_the_worker_counts_failed_attempts_and_serves_them(session, settings, sessions):
    owner, _ = await new_key(session, "syndicate")
    await subscribe(session, owner, url="http://127.0.0.1:9/closed")  # nothing listens there
    await add_article(session, settings)
    worker = make_worker(sessions, webhook_max_attempts=1)
    await worker.drain()
    assert (worker.sent, worker.failed) == (1, 1)

    server = serve_worker_metrics(worker, "127.0.0.1", free_port())
    try:
        async with httpx.AsyncClient() as client:
            url = f"http://127.0.0.1:{server.server_port}/metrics"
            text = (await client.get(url)).text
    finally:
        server.shutdown()
        server.server_close()
    assert 'byline_webhook_attempts_total{outcome="failed"} 1.0' in text
    assert 'byline_webhook_attempts_total{outcome="delivered_or_cancelled"} 0.0' in text
