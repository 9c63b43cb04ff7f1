"""`byline serve` as a real process: the seed article over HTTP, conditional GETs, probes, docs."""

from __future__ import annotations

import json
import re
import socket
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

SEED_HEADLINE = "Deepening China-Russia Ties Challenge US-Led Order Amid Global Concerns"
SEED_SLUG = "deepening-china-russia-ties-challenge-us-led-order-amid-global-concerns"
SEED_HEADINGS = [
    "Deepening Ties Amid Global Concerns",
    "Historical Roots and Modern Dynamics",
    "Strategic Partnership and Military Collaboration",
    "Global Implications and Democratic Concerns",
]


def listed(client: httpx.Client, headline: str) -> dict[str, Any]:
    response = client.get("/v1/articles", params={"limit": 100})
    assert response.status_code == 200, response.text
    matches = [a for a in response.json()["data"] if a["headline"] == headline]
    assert len(matches) == 1, [a["headline"] for a in response.json()["data"]]
    return matches[0]


def test_seed_article_is_read_by_slug_and_by_id(server: Server) -> None:
    with server.client() as client:
        summary = listed(client, SEED_HEADLINE)
        assert summary["slug"] == SEED_SLUG
        by_slug = client.get(f"/v1/articles/{summary['slug']}")
        by_id = client.get(f"/v1/articles/{summary['id']}")
    assert by_slug.status_code == by_id.status_code == 200
    assert by_slug.json() == by_id.json()
    article = by_slug.json()
    assert article["id"] == summary["id"]
    assert article["headline"] == SEED_HEADLINE
    assert article["dek"] == (
        "China and Russia strengthen ties, challenging US-led order amid global democratic concerns."
    )
    assert article["category"] == {"slug": "world-wide", "name": "World Wide"}
    assert [a["name"] for a in article["authors"]] == ["Mackenzie Crow"]
    # Filed "5/16, 10:34 EDT": the article keeps its own offset.
    assert re.fullmatch(r"\d{4}-05-16T10:34:00-04:00", article["published_at"])
    assert len(article["takeaways"]) == 3
    assert article["takeaways"][0].startswith("China and Russia's partnership strengthens")
    assert [s["heading"] for s in article["sections"]] == SEED_HEADINGS
    assert all(len(s["paragraphs"]) == 1 for s in article["sections"])
    assert article["status"] == "published"


def test_etag_answers_304_over_http(server: Server) -> None:
    path = f"/v1/articles/{SEED_SLUG}"
    with server.client() as client:
        first = client.get(path)
        etag = first.headers["ETag"]
        # Twice: the first conditional GET may come from the router, the second from the cache.
        for _ in range(2):
            again = client.get(path, headers={"If-None-Match": etag})
            assert again.status_code == 304
            assert again.content == b""
            assert again.headers["ETag"] == etag
        stale = client.get(path, headers={"If-None-Match": '"not-the-etag"'})
    assert first.status_code == 200
    assert "public" in first.headers["Cache-Control"]
    assert first.headers["Last-Modified"]
    assert stale.status_code == 200
    assert stale.json() == first.json()


def test_request_id_is_echoed_or_made(server: Server) -> None:
    with server.client() as client:
        echoed = client.get("/healthz", headers={"X-Request-ID": "e2e-check.42"})
        # The second GET of an article is answered by the read cache, which has its own path.
        client.get(f"/v1/articles/{SEED_SLUG}")
        cached = client.get(f"/v1/articles/{SEED_SLUG}", headers={"X-Request-ID": "e2e-cached"})
        replaced = client.get("/healthz", headers={"X-Request-ID": "not valid!"})
        made = client.get("/healthz")
    assert echoed.headers["X-Request-ID"] == "e2e-check.42"
    assert cached.headers["X-Request-ID"] == "e2e-cached"
    assert replaced.headers["X-Request-ID"] not in ("", "not valid!")
    assert made.headers["X-Request-ID"]


def test_probes_docs_and_openapi_respond(server: Server) -> None:
    with server.client() as client:
        health = client.get("/healthz")
        ready = client.get("/readyz")
        docs = client.get("/docs")
        spec = client.get("/openapi.json")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    assert spec.status_code == 200
    assert spec.json()["paths"]["/v1/articles"]["get"]["operationId"] == "listArticles"


def test_a_server_off_the_default_port_says_where_its_links_lead(server: Server) -> None:
    # The e2e servers listen on a free port with no BYLINE_PUBLIC_BASE_URL: links keep the
    # configured default (servers behind one balancer must agree), and the log says so.
    with server.client() as client:
        page = client.get("/v1/articles", params={"limit": 1}).json()
    assert page["links"]["next"].startswith("http://127.0.0.1:8000/v1/articles?")
    # Said in the server's log, as JSON like every other line of it.
    said = [json.loads(line) for line in server.log.read_text().splitlines() if line.strip()]
    notes = [line for line in said if line["logger"] == "byline.serve"]
    assert len(notes) == 1, said
    assert notes[0]["level"] == "WARNING"
    assert "links in responses name http://127.0.0.1:8000" in notes[0]["message"]
    assert "set BYLINE_PUBLIC_BASE_URL" in notes[0]["message"]


@pytest.mark.parametrize(
    "request_line",
    [
        b"GET /v1/changes?since=\xd9\xa3 HTTP/1.1",  # a raw non-ASCII target
        b"G(ET /v1/articles HTTP/1.1",  # a method token with a character it may not hold
    ],
)
def test_a_request_uvicorn_cannot_parse_is_a_problem(server: Server, request_line: bytes) -> None:
    """Answered by the HTTP layer before the app, yet like every other error (API.md 1)."""
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(request_line + b"\r\nHost: x\r\n\r\n")
        raw = b""
        while chunk := connection.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    assert status == "HTTP/1.1 400 Bad Request"
    assert headers["content-type"] == "application/problem+json"
    assert headers["x-request-id"]
    assert int(headers["content-length"]) == len(body)
    problem = json.loads(body)
    assert (problem["status"], problem["title"]) == (400, "Bad request")
    assert problem["instance"] == f"urn:byline:request:{headers['x-request-id']}"
