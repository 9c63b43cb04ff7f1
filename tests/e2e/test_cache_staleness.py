"""Two `byline serve` processes on one database: a write by a third process reaches both in time."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import (
    CHANGED_SENTENCE,
    GLACIER_HEADLINE,
    ORIGINAL_SENTENCE,
    STALENESS_BOUND,
    Database,
    StartServers,
    article_path,
    byline,
    seconds_until_revision,
    warm,
    write_changed_sample,
)

pytestmark = pytest.mark.e2e


def test_reimport_reaches_both_warm_caches_within_the_bound(
    e2e_database: Database, start_servers: StartServers
) -> None:
    servers = start_servers(e2e_database, count=2)
    path = article_path(servers[0], GLACIER_HEADLINE)
    before = [warm(server, path) for server in servers]
    revision = before[0].json()["revision"]
    assert all(ORIGINAL_SENTENCE in r.text and r.json()["revision"] == revision for r in before)

    imported = byline(e2e_database, "import", str(write_changed_sample(e2e_database.workdir)))
    assert "1 updated" in imported.stdout, imported.stdout
    lags = seconds_until_revision(servers, path, revision + 1)

    assert max(lags) <= STALENESS_BOUND, f"lags {lags} exceed {STALENESS_BOUND}s"
    # The bound must fit inside what the responses promise caches about their age.
    max_age = re.search(r"max-age=(\d+)", before[0].headers["Cache-Control"])
    assert max_age is not None, before[0].headers["Cache-Control"]
    assert STALENESS_BOUND < int(max_age.group(1))
    for server in servers:
        after = warm(server, path)
        assert CHANGED_SENTENCE in after.text
        assert after.json()["revision"] == revision + 1
        assert after.headers["ETag"].endswith(f'.{revision + 1}"')
