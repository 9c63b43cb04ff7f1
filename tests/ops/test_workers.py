"""/metrics added up across workers: snapshots in a shared directory (app/ops/workers.py)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.cli import _metrics_directory
from app.main import create_app
from app.ops.metrics import LATENCY_BUCKETS, BylineCollector, RequestStats
from app.ops.workers import (
    LIVE_SECONDS,
    SharedDirectory,
    Snapshot,
    clear,
    combine,
    from_json,
    to_json,
)
from tests.conftest import BASE_URL

BOUNDS = tuple(LATENCY_BUCKETS)
WIDTH = len(BOUNDS) + 2  # a count per bucket, +Inf, the sum of seconds


def counts(n: float, seconds: float) -> list[float]:
    """n requests, all in the first bucket, taking `seconds` in all."""
    return [n, *([0.0] * (WIDTH - 2)), seconds]


def snapshot(pid: int, written_at: float, requests: float, **extra: object) -> Snapshot:
    taken = Snapshot(pid, written_at, BOUNDS, {("GET", "/v1/articles", 200): counts(requests, 1)})
    for name, value in extra.items():
        setattr(taken, name, value)
    return taken


class FakeCache:
    def __init__(self) -> None:
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return 3


def samples(text: str) -> dict[str, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in ("byline_http_requests_total", "byline_serve_workers"):
                found[sample.name] = found.get(sample.name, 0.0) + sample.value
            elif sample.name.startswith("byline_read_cache"):
                found[sample.name] = sample.value
    return found


def scrape(collector: BylineCollector) -> dict[str, float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return samples(generate_latest(registry).decode())


class TestCombine:
    def test_counters_add_up_every_worker_even_one_that_has_exited(self):
        now = time.time()
        own = snapshot(1, now, 5, cache_hits=2, cache_entries=10)
        live = snapshot(2, now - 1, 7, cache_hits=3, cache_entries=20, pool=(5, 1, 0))
        gone = snapshot(3, now - LIVE_SECONDS - 1, 11, cache_hits=4, cache_entries=40)
        total = combine([own, live, gone], now)
        assert total.series[("GET", "/v1/articles", 200)] == counts(23, 3)
        assert total.cache_hits == 9
        # Gauges: the worker that exited holds no cache entries and no connections now.
        assert total.cache_entries == 30
        assert total.pool == (5, 1, 0)
        assert total.workers == 2

    def test_the_answering_worker_counts_as_live_however_old_its_clock(self):
        total = combine([snapshot(1, 0.0, 1, cache_entries=4)], now=time.time())
        assert total.workers == 1
        assert total.cache_entries == 4

    def test_series_of_one_worker_only_are_kept(self):
        now = time.time()
        other = snapshot(2, now, 1)
        other.series[("POST", "/v1/articles", 201)] = counts(4, 2)
        total = combine([snapshot(1, now, 1), other], now)
        assert total.series[("POST", "/v1/articles", 201)] == counts(4, 2)
        assert total.series[("GET", "/v1/articles", 200)] == counts(2, 2)

    def test_a_snapshot_counted_in_other_buckets_is_left_out(self):
        now = time.time()
        foreign = Snapshot(2, now, (0.1, 1.0), {("GET", "/x", 200): [1.0, 0.0, 0.0, 0.05]})
        total = combine([snapshot(1, now, 1), foreign], now)
        assert ("GET", "/x", 200) not in total.series
        assert total.workers == 1


def test_a_snapshot_survives_its_file_format():
    taken = snapshot(42, 1234.5, 3, cache_hits=1, cache_misses=2, cache_entries=3, pool=(5, 2, 1))
    assert from_json(to_json(taken)) == taken


class TestSharedDirectory:
    def test_each_worker_reads_the_others_not_itself(self, tmp_path: Path):
        one, two = SharedDirectory(tmp_path, pid=1), SharedDirectory(tmp_path, pid=2)
        one.write(snapshot(1, 1.0, 5))
        two.write(snapshot(2, 1.0, 7))
        assert [s.pid for s in one.read_others()] == [2]
        assert [s.pid for s in two.read_others()] == [1]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["worker-1.json", "worker-2.json"]

    def test_a_rewrite_replaces_the_snapshot(self, tmp_path: Path):
        one = SharedDirectory(tmp_path, pid=1)
        one.write(snapshot(1, 1.0, 5))
        one.write(snapshot(1, 2.0, 9))
        (read,) = SharedDirectory(tmp_path, pid=2).read_others()
        assert read.series[("GET", "/v1/articles", 200)][0] == 9

    def test_an_unreadable_file_is_skipped_and_named_in_the_log(self, tmp_path: Path, caplog):
        SharedDirectory(tmp_path, pid=1).write(snapshot(1, 1.0, 5))
        (tmp_path / "worker-2.json").write_text('{"pid": 2, "series": [[')
        (tmp_path / "worker-3.json").write_text('{"pid": 3}')
        with caplog.at_level(logging.WARNING, logger="byline.metrics"):
            others = SharedDirectory(tmp_path, pid=9).read_others()
        assert [s.pid for s in others] == [1]
        assert "worker-2.json" in caplog.text
        assert "worker-3.json" in caplog.text

    def test_a_missing_directory_reads_as_no_other_worker(self, tmp_path: Path):
        assert SharedDirectory(tmp_path / "gone", pid=1).read_others() == []

    def test_clear_removes_an_earlier_runs_snapshots_only(self, tmp_path: Path):
        SharedDirectory(tmp_path, pid=1).write(snapshot(1, 1.0, 5))
        (tmp_path / "notes.txt").write_text("kept")
        clear(tmp_path)
        assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
        clear(tmp_path / "new")  # made if it is not there yet
        assert (tmp_path / "new").is_dir()


def test_scrapes_never_go_down_whichever_worker_answers(tmp_path: Path):
    """Two workers' collectors over one directory, counting and answering in turn."""
    stats = [RequestStats(), RequestStats()]
    collectors = [
        BylineCollector(stats[i], FakeCache(), None, SharedDirectory(tmp_path, pid=100 + i))
        for i in range(2)
    ]
    seen, made = [], 0
    for turn in range(12):
        for _ in range(turn % 3 + 1):
            stats[turn % 2].observe("GET", "/v1/articles", 200, 0.001)
            made += 1
        if turn % 4 == 0:
            collectors[1 - turn % 2].share()  # the other one's periodic write
        scraped = scrape(collectors[turn % 2])
        seen.append(scraped["byline_http_requests_total"])
        assert scraped["byline_serve_workers"] == 2 or turn == 0
    assert seen == sorted(seen)
    for collector in collectors:
        collector.share()
    assert scrape(collectors[0])["byline_http_requests_total"] == made


def test_alone_a_collector_reports_its_own_numbers_and_writes_nothing(tmp_path: Path):
    stats = RequestStats()
    stats.observe("GET", "/v1/articles", 200, 0.001)
    scraped = scrape(BylineCollector(stats, FakeCache(), None))
    assert scraped["byline_http_requests_total"] == 1
    assert scraped["byline_serve_workers"] == 1
    assert list(tmp_path.iterdir()) == []


async def test_the_app_adds_the_other_workers_numbers_to_its_own(sessions, settings, tmp_path):
    other = snapshot(os.getpid() + 1, time.time(), 40, cache_hits=6)
    SharedDirectory(tmp_path, pid=other.pid).write(other)
    app = create_app(settings.model_copy(update={"metrics_dir": tmp_path}), sessions)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        for _ in range(3):
            assert (await client.get("/v1/articles")).status_code == 200
        scraped = await client.get("/metrics")
    assert scraped.status_code == 200
    text = scraped.text
    assert 'byline_http_requests_total{method="GET",route="/v1/articles",status="200"} 43.0' in text
    assert "byline_serve_workers 2.0" in text
    assert "byline_read_cache_hits_total 6.0" in text
    assert (tmp_path / f"worker-{os.getpid()}.json").exists()  # written for the others


class TestServeMetricsDirectory:
    def test_several_workers_share_a_temporary_directory_removed_after(self, monkeypatch):
        monkeypatch.delenv("BYLINE_METRICS_DIR", raising=False)
        with _metrics_directory(None, workers=2):
            shared = Path(os.environ["BYLINE_METRICS_DIR"])
            assert shared.is_dir()
        assert "BYLINE_METRICS_DIR" not in os.environ
        assert not shared.exists()

    def test_one_worker_needs_no_directory(self, monkeypatch):
        monkeypatch.delenv("BYLINE_METRICS_DIR", raising=False)
        with _metrics_directory(None, workers=1):
            assert "BYLINE_METRICS_DIR" not in os.environ

    @pytest.mark.parametrize("workers", [1, 3])
    def test_a_configured_directory_starts_empty_and_is_kept(self, tmp_path: Path, workers):
        SharedDirectory(tmp_path, pid=1).write(snapshot(1, 1.0, 5))
        with _metrics_directory(tmp_path, workers):
            assert list(tmp_path.iterdir()) == []
        assert tmp_path.is_dir()
