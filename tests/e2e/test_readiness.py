"""A server on a database that is not migrated: alive, not ready, and whole again once migrated."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.e2e.conftest import (
    CHANGED_SENTENCE,
    GLACIER_HEADLINE,
    STALENESS_BOUND,
    Database,
    Server,
    StartServers,
    article_path,
    byline,
    seconds_until_revision,
    warm,
    write_changed_sample,
)

pytestmark = pytest.mark.e2e


def empty_sqlite(workdir: Path) -> Database:
    path = workdir / "empty.db"
    path.touch()
    return Database(f"sqlite:///{path}", workdir)


def assert_not_ready(server: Server) -> None:
    with server.client() as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    assert "migrated" in ready.json()["reason"]


def test_readyz_is_503_with_a_reason_before_migrations(
    tmp_path: Path, start_servers: StartServers
) -> None:
    (server,) = start_servers(empty_sqlite(tmp_path), probe="/healthz")
    assert_not_ready(server)
    with server.client() as client:
        assert client.get("/healthz").status_code == 200


def test_server_started_before_migrations_follows_changes_once_migrated(
    tmp_path: Path, start_servers: StartServers
) -> None:
    # A deployment may start servers before `byline migrate` has run; they must not need
    # a restart, and their read cache must still honour the staleness bound afterwards.
    database = empty_sqlite(tmp_path)
    (server,) = start_servers(database, probe="/healthz")
    assert_not_ready(server)
    byline(database, "migrate")
    byline(database, "import", str(EXAMPLES))
    with server.client() as client:
        assert client.get("/readyz").status_code == 200

    path = article_path(server, GLACIER_HEADLINE)
    revision = warm(server, path).json()["revision"]
    byline(database, "import", str(write_changed_sample(tmp_path)))
    (lag,) = seconds_until_revision([server], path, revision + 1)
    assert lag <= STALENESS_BOUND
    assert CHANGED_SENTENCE in warm(server, path).text
