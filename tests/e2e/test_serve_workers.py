"""`byline serve --workers 2`: every scrape of /metrics reports both workers' requests."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Database, Server, launch, stop, wait_until_up

pytestmark = pytest.mark.e2e

ROUTE = "/v1/categories"
MAX_REQUESTS = 400


def requests_per_worker(directory: Path) -> dict[str, float]:
    """GETs of ROUTE each worker has written down in its snapshot file."""
    counted = {}
    for path in directory.glob("worker-*.json"):
        data = json.loads(path.read_text())
        counted[path.name] = sum(
            sum(counts[:-1]) for method, route, _, counts in data["series"] if route == ROUTE
        )
    return counted


def scrape(server: Server) -> tuple[float, float]:
    """(GETs of ROUTE, workers) as one scrape reports them, on a connection of its own."""
    with httpx.Client(base_url=server.base_url, timeout=5.0) as client:
        response = client.get("/metrics")
    assert response.status_code == 200, response.text
    requests = workers = 0.0
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "byline_http_requests_total" and sample.labels["route"] == ROUTE:
                requests += sample.value
            elif sample.name == "byline_serve_workers":
                workers = sample.value
    return requests, workers


def test_every_scrape_adds_up_both_workers(e2e_database: Database, tmp_path: Path) -> None:
    shared = tmp_path / "metrics"
    server = launch(e2e_database, {"BYLINE_METRICS_DIR": str(shared)}, workers=2)
    try:
        wait_until_up(server, "/readyz")
        made = 0
        # A connection per request, so that both workers take some (the kernel picks).
        while made < MAX_REQUESTS:
            with httpx.Client(base_url=server.base_url, timeout=5.0) as client:
                assert client.get(ROUTE).status_code == 200
            made += 1
            if made % 20 == 0:
                time.sleep(1.2)  # each worker writes its snapshot every second
                if len([n for n in requests_per_worker(shared).values() if n > 0]) == 2:
                    break
        served = requests_per_worker(shared)
        assert len([n for n in served.values() if n > 0]) == 2, (served, server.log_tail())
        assert sum(served.values()) == made
        # Each scrape, whichever worker answers it, reports every request of both.
        scrapes = [scrape(server) for _ in range(8)]
        assert scrapes == [(made, 2.0)] * 8, server.log_tail()
    finally:
        stop(server)
