"""/dashboard and its static files, in-process: what is served, and the rules the page keeps."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from app.dashboard.router import STATIC

VENDOR = STATIC / "vendor"
SCRIPT = (STATIC / "dashboard.js").read_text(encoding="utf-8")


async def test_the_page_needs_no_key_and_locks_itself_down(client):
    response = await client.get("/dashboard")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "connect-src 'self'" in csp
    assert "default-src 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "<title>Byline dashboard</title>" in response.text


async def test_the_page_loads_nothing_from_elsewhere(client):
    html = (await client.get("/dashboard")).text
    targets = re.findall(r'(?:src|href)="([^"]*)"', html)
    # Relative to the page (/dashboard), so a proxy may serve it under a path prefix.
    assert "dashboard/static/vendor/chart.umd.min.js" in targets
    assert all(t.startswith("dashboard/static/") or t.startswith("data:") for t in targets)
    assert "<script>" not in html  # no inline script: the CSP would block it
    assert "style=" not in html


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/dashboard/static/dashboard.js", "text/javascript"),
        ("/dashboard/static/dashboard.css", "text/css"),
        ("/dashboard/static/vendor/chart.umd.min.js", "text/javascript"),
    ],
)
async def test_static_files_are_served(client, path, media_type):
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["etag"]


async def test_head_of_the_page_answers_like_get(client):
    response = await client.head("/dashboard")
    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/static/../router.py",
        "/dashboard/static/%2e%2e/router.py",
        "/dashboard/static/nope.js",
    ],
)
async def test_nothing_outside_static_is_served(client, path):
    response = await client.get(path)
    assert response.status_code == 404
    assert b"STATIC" not in response.content


async def test_the_page_is_not_in_the_api_description(client):
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not any(p.startswith("/dashboard") for p in paths)
    assert "/v1/stats/webhooks" in paths


def test_vendored_chart_js_is_the_published_file_with_its_licence():
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    digest = hashlib.sha256((VENDOR / "chart.umd.min.js").read_bytes()).hexdigest()
    assert f"`{digest}`" in readme
    assert (
        (VENDOR / "chart.umd.min.js")
        .read_text(encoding="utf-8")
        .startswith("/*!\n * Chart.js v4.6.1\n")
    )
    assert "MIT License" in (VENDOR / "chart.js-LICENSE.md").read_text(encoding="utf-8")


def test_the_script_never_parses_data_as_html():
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in SCRIPT.replace("(never innerHTML)", ""), sink
    assert "textContent" in SCRIPT


def test_static_files_ship_with_the_package():
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"dashboard/static/**/*"' in pyproject


async def test_the_slashed_address_redirects_relatively(client):
    response = await client.get("/dashboard/", follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == "../dashboard"
    followed = await client.get("/dashboard/", follow_redirects=True)
    assert followed.status_code == 200
    assert str(followed.url).endswith("/dashboard")
