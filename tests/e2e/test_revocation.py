"""`byline keys revoke` in its own process: a running server stops taking the key in time."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.e2e.conftest import (
    GLACIER_HEADLINE,
    SAMPLE_EVERY,
    STALENESS_BOUND,
    Database,
    article_path,
    byline,
    running_servers,
)

pytestmark = pytest.mark.e2e


def test_a_key_revoked_by_the_cli_stops_working_within_a_poll(e2e_database: Database) -> None:
    # A key cache trusted for five minutes: only the revocation poll can stop the key in time.
    with running_servers(e2e_database, 1, env={"BYLINE_KEY_CACHE_SECONDS": "300"}) as servers:
        server = servers[0]
        name = f"e2e-revoked-{uuid.uuid4().hex[:10]}"
        created = byline(e2e_database, "keys", "create", "--name", name, "--scope", "read")
        headers = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}
        with server.client() as client:
            article = article_path(server, GLACIER_HEADLINE)
            for path in ("/v1/keys/me", article, article):  # the article twice: the fast lane
                assert client.get(path, headers=headers).status_code == 200, path

            byline(e2e_database, "keys", "revoke", name)
            revoked_at = time.monotonic()
            pending = {"/v1/keys/me", article}
            while pending and time.monotonic() - revoked_at < STALENESS_BOUND + 3:
                pending = {p for p in pending if client.get(p, headers=headers).status_code != 401}
                time.sleep(SAMPLE_EVERY)
            late = time.monotonic() - revoked_at
        assert not pending, f"{sorted(pending)} still took the key {late:.1f}s after the revoke"
        assert late <= STALENESS_BOUND, f"the revoke took {late:.2f}s to reach the server"
