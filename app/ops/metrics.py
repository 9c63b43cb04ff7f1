"""Prometheus metrics: counted in plain numbers on the request path, exported at scrape time.

A prometheus_client Histogram takes a lock and walks its buckets on every observe(); the
fast lane answers a warm read in about 25 µs, so requests are counted here in a dict of
lists instead (one tuple, one bisect, two additions) and turned into metric families only
when /metrics is scraped. Everything else (cache, pool, webhook queue) is read at scrape
time from the objects and the database that already hold it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from logging import INFO
from time import perf_counter
from typing import Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import QueuePool
from starlette.types import Scope

from app.models import WebhookDelivery, WebhookSubscription
from app.models.webhooks import DeliveryState, SubscriptionStatus
from app.ops.workers import SeriesKey, SharedDirectory, Snapshot, combine

# Seconds; from a fast-lane hit (well under 1 ms) to a long-poll of /v1/changes (up to 30 s).
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
UNMATCHED = "unmatched"  # requests no route matched: never the raw path (unbounded labels)

access_log = logging.getLogger("byline.access")


class RequestStats:
    """Requests by (method, route template, status): a count per latency bucket and a sum."""

    __slots__ = ("bounds", "series")

    def __init__(self, bounds: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.bounds = tuple(bounds)
        # Per series: one count per bucket, one for +Inf, then the sum of seconds.
        self.series: dict[SeriesKey, list[float]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        counts = self.series.get((method, route, status))
        if counts is None:
            counts = self.series[(method, route, status)] = [0.0] * (len(self.bounds) + 2)
        counts[bisect_left(self.bounds, seconds)] += 1  # the first bucket whose le >= seconds
        counts[-1] += seconds

    def families(self) -> Iterator[Metric]:
        return request_families(self.bounds, self.series)


def request_families(
    bounds: Sequence[float], series: dict[SeriesKey, list[float]]
) -> Iterator[Metric]:
    """The request counter and latency histogram of these series."""
    requests = CounterMetricFamily(
        "byline_http_requests", "HTTP requests answered.", labels=["method", "route", "status"]
    )
    latency = HistogramMetricFamily(
        "byline_http_request_duration_seconds",
        "Time to answer a request, until its last byte was handed to the server.",
        labels=["method", "route", "status"],
    )
    les = [*(repr(b) for b in bounds), "+Inf"]
    for (method, route, status), counts in list(series.items()):
        labels = [method, route, str(status)]
        cumulative, buckets = 0.0, []
        for le, count in zip(les, counts[:-1], strict=True):
            cumulative += count
            buckets.append((le, cumulative))
        requests.add_metric(labels, cumulative)
        latency.add_metric(labels, buckets, counts[-1])
    yield requests
    yield latency


class Observer:
    """Counts and logs each finished request; the fast lane and the middleware both call it."""

    __slots__ = ("stats",)

    def __init__(self, stats: RequestStats) -> None:
        self.stats = stats

    def done(self, scope: Scope, route: str, status: int, started: float) -> None:
        seconds = perf_counter() - started
        # RequestStats.observe inlined: this runs on every fast-lane hit (see the module doc).
        stats = self.stats
        key = (scope["method"], route, status)
        counts = stats.series.get(key)
        if counts is None:
            counts = stats.series[key] = [0.0] * (len(stats.bounds) + 2)
        counts[bisect_left(stats.bounds, seconds)] += 1
        counts[-1] += seconds
        if access_log.isEnabledFor(INFO):
            log_request(scope, route, status, seconds)


def log_request(scope: Scope, route: str, status: int, seconds: float) -> None:
    """One JSON line per request (app/ops/logs.py): the key's name, never its secret."""
    state = scope.get("state", {})
    key = state.get("api_key")
    access_log.info(
        "request",
        extra={
            "request_id": state.get("request_id"),
            "key_name": key.name if key is not None else None,
            "method": scope["method"],
            "route": route,
            "status": status,
            "latency_ms": round(seconds * 1000, 3),
        },
    )


@dataclass
class QueueReading:
    """The webhook outbox as last read from the database (None: the read failed)."""

    deliveries: dict[str, int] | None = None
    failing_subscriptions: int | None = None
    subscriptions: dict[str, int] | None = None  # by status: active, failing, disabled


async def read_queue(sessions: async_sessionmaker[AsyncSession], timeout: float) -> QueueReading:
    """Pending and failed deliveries, and failing subscriptions; empty after `timeout` s.

    A scrape must answer even when the database does not, so the read is bounded; but a
    busy database answering a little late is not "down", so the bound is a setting
    (BYLINE_METRICS_QUEUE_TIMEOUT) well inside Prometheus' own 10 s scrape timeout.
    """
    try:
        return await asyncio.wait_for(_read_queue(sessions), timeout)
    except Exception as exc:  # the database is away or slow: the scrape still answers
        logging.getLogger("byline.metrics").warning("webhook queue not read: %r", exc)
        return QueueReading()


async def _read_queue(sessions: async_sessionmaker[AsyncSession]) -> QueueReading:
    states = (DeliveryState.PENDING.value, DeliveryState.FAILED.value)
    async with sessions() as session:
        rows = await session.execute(
            select(WebhookDelivery.state, func.count())
            .where(WebhookDelivery.state.in_(states))
            .group_by(WebhookDelivery.state)
        )
        deliveries = dict.fromkeys(states, 0) | {state: int(n) for state, n in rows}
        counted = await session.execute(
            select(WebhookSubscription.status, func.count()).group_by(WebhookSubscription.status)
        )
        subscriptions = dict.fromkeys((s.value for s in SubscriptionStatus), 0)
        subscriptions |= {status: int(n) for status, n in counted}
    failing = subscriptions[SubscriptionStatus.FAILING.value]
    return QueueReading(deliveries, failing, subscriptions)


class Cached(Protocol):
    """What the cache collector needs of the read cache (app/articles/cache.py)."""

    hits: int
    misses: int

    def __len__(self) -> int: ...


class BylineCollector(Collector):
    """The server's own metrics, built from live objects each time Prometheus scrapes.

    With a shared directory (several workers: app/ops/workers.py) a scrape reports every
    worker's numbers added up, not only those of the worker that answered it.
    """

    def __init__(
        self, stats: RequestStats, cache: Cached, engine: AsyncEngine | None,
        shared: SharedDirectory | None = None,
    ) -> None:  # fmt: skip
        self.stats = stats
        self.cache = cache
        self.engine = engine
        self.shared = shared
        self.queue = QueueReading()

    def snapshot(self) -> Snapshot:
        """This process's numbers now (the series are the live lists: use them at once)."""
        return Snapshot(
            pid=self.shared.pid if self.shared else os.getpid(), written_at=time.time(),
            bounds=self.stats.bounds,
            series=self.stats.series, cache_hits=self.cache.hits,
            cache_misses=self.cache.misses, cache_entries=len(self.cache), pool=self._pool_use(),
        )  # fmt: skip

    def share(self) -> None:
        """Write this worker's snapshot for the others to add up (nothing when alone)."""
        if self.shared is not None:
            self.shared.write(self.snapshot())

    def collect(self) -> Iterator[Metric]:
        totals = own = self.snapshot()
        if self.shared is not None:
            # Its own file first: every file only grows, so the sum never goes down
            # whichever worker answers the next scrape.
            self.shared.write(own)
            totals = combine([own, *self.shared.read_others()], own.written_at)
        yield GaugeMetricFamily(
            "byline_serve_workers",
            "Server processes whose numbers this scrape adds up (live in the last seconds).",
            value=totals.workers,
        )
        yield from request_families(totals.bounds, totals.series)
        yield from self._cache(totals)
        yield from self._pool(totals.pool)
        yield from self._queue()

    @staticmethod
    def _cache(totals: Snapshot) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "byline_read_cache_hits", "Article reads answered from the read cache.",
            value=totals.cache_hits,
        )  # fmt: skip
        yield CounterMetricFamily(
            "byline_read_cache_misses", "Article reads the read cache could not answer.",
            value=totals.cache_misses,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "byline_read_cache_entries", "Responses held in the read cache.",
            value=totals.cache_entries,
        )  # fmt: skip

    def _pool_use(self) -> tuple[int, int, int] | None:
        pool = self.engine.pool if self.engine is not None else None
        if not isinstance(pool, QueuePool):
            return None  # e.g. a test's connection, or a pool that keeps no count
        return pool.size(), pool.checkedout(), pool.overflow()

    @staticmethod
    def _pool(use: tuple[int, int, int] | None) -> Iterator[Metric]:
        if use is None:
            return
        size, checked_out, overflow = use
        yield GaugeMetricFamily("byline_db_pool_size", "Connections the pools keep.", size)
        yield GaugeMetricFamily(
            "byline_db_pool_checked_out", "Connections in use now.", checked_out
        )
        yield GaugeMetricFamily(
            "byline_db_pool_overflow", "Connections open beyond the pool size.", overflow
        )

    def _queue(self) -> Iterator[Metric]:
        reading = self.queue
        yield GaugeMetricFamily(
            "byline_webhook_queue_read_ok",
            "1 if this scrape read the webhook outbox from the database, else 0.",
            value=int(reading.deliveries is not None),
        )
        if reading.deliveries is None:
            return
        depth = GaugeMetricFamily(
            "byline_webhook_deliveries",
            "Webhook deliveries by state: pending (the queue) and failed (out of attempts).",
            labels=["state"],
        )
        for state, count in sorted(reading.deliveries.items()):
            depth.add_metric([state], count)
        yield depth
        yield GaugeMetricFamily(
            "byline_webhook_failing_subscriptions",
            "Subscriptions whose last delivery ran out of attempts.",
            value=reading.failing_subscriptions or 0,
        )
        by_status = GaugeMetricFamily(
            "byline_webhook_subscriptions",
            "Webhook subscriptions by status (disabled: failing too long, nothing is sent).",
            labels=["status"],
        )
        for status, count in sorted((reading.subscriptions or {}).items()):
            by_status.add_metric([status], count)
        yield by_status


class Attempts(Protocol):
    """What a webhook worker counts (app/webhooks/worker.py)."""

    sent: int
    failed: int


class WorkerCollector(Collector):
    """`byline worker --metrics-port`: its delivery attempts, counted in plain ints."""

    def __init__(self, worker: Attempts) -> None:
        self.worker = worker

    def collect(self) -> Iterator[Metric]:
        attempts = CounterMetricFamily(
            "byline_webhook_attempts",
            "Webhook delivery attempts this worker settled, by outcome.",
            labels=["outcome"],
        )
        failed = self.worker.failed
        attempts.add_metric(["failed"], failed)
        attempts.add_metric(["delivered_or_cancelled"], self.worker.sent - failed)
        yield attempts


def serve_worker_metrics(worker: Attempts, host: str, port: int) -> WSGIServer:
    """Serve GET /metrics for the worker from a thread (prometheus_client's own server)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WorkerCollector(worker))
    ProcessCollector(registry=registry)
    server, _ = start_http_server(port, addr=host, registry=registry)
    return server


def make_registry(collector: BylineCollector) -> CollectorRegistry:
    """A registry per app (tests build many apps), with the process and runtime collectors."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry
