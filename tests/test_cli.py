"""The `byline` command in-process: migrate, import with its summary and exit code."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import get_settings
from tests.access.test_keys import auth, make_key
from tests.conftest import EXAMPLES


@pytest.fixture
def database(tmp_path, monkeypatch):
    monkeypatch.setenv("BYLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def statuses(database) -> dict[str, str]:
    with sqlite3.connect(database / "cli.db") as db:
        return dict(db.execute("SELECT slug, status FROM articles"))


def test_migrate_then_import_folder_twice(database):
    runner = CliRunner()
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    first = runner.invoke(cli, ["import", str(EXAMPLES)])
    assert first.exit_code == 0, first.output
    assert "3 document(s): 3 created, 0 updated, 0 unchanged, 0 failed" in first.output
    again = runner.invoke(cli, ["import", str(EXAMPLES)])
    assert "0 created, 0 updated, 3 unchanged, 0 failed" in again.output


def test_a_failed_document_is_named_and_exits_non_zero(database):
    runner = CliRunner()
    runner.invoke(cli, ["migrate"])
    bad = database / "bad.txt"
    bad.write_text("Science\n\nHeadline only\n")
    shutil.copy(EXAMPLES / "glacier-retreat-alpine-water.txt", database / "good.txt")
    result = runner.invoke(cli, ["import", str(bad), str(database / "good.txt")])
    assert result.exit_code == 1
    assert "bad.txt" in result.output
    assert "block 3" in result.output
    assert "1 created, 0 updated, 0 unchanged, 1 failed" in result.output


def test_bad_status_and_missing_path_are_usage_errors(database):
    runner = CliRunner()
    assert runner.invoke(cli, ["import", "--status", "live", str(EXAMPLES)]).exit_code == 2
    assert runner.invoke(cli, ["import", str(database / "nope.txt")]).exit_code == 2


def test_out_of_range_dateline_fails_that_file_only(database):
    runner = CliRunner()
    runner.invoke(cli, ["migrate"])
    folder = database / "copy"
    folder.mkdir()
    (folder / "a-bad.txt").write_text(
        "Science\n\nHeadline\n\nBy Ann Lee\n\n12/31/9999, 23:00 EST\n\nBody.\n"
    )
    shutil.copy(EXAMPLES / "glacier-retreat-alpine-water.txt", folder / "b-good.txt")
    result = runner.invoke(cli, ["import", str(folder)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "a-bad.txt: block 4 (line 7): dateline '12/31/9999, 23:00 EST' is out of range" in (
        " ".join(result.output.split())
    )
    assert "1 created, 0 updated, 0 unchanged, 1 failed" in result.output


def test_a_failure_is_one_line_naming_the_file_as_it_is(database):
    """However long the path, and whatever brackets it holds (rich markup), the failure
    line names the file exactly, so that grep finds it."""
    runner = CliRunner()
    runner.invoke(cli, ["migrate"])
    folder = database / ("a-folder-with-a-long-name-" * 4) / "[red]desk"
    folder.mkdir(parents=True)
    bad = folder / "[b]bad copy [i].txt"
    bad.write_text("Science\n\nHeadline\n\nBy Ann Lee\n\n12/31/9999, 23:00 EST\n\nBody.\n")
    result = runner.invoke(cli, ["import", str(folder)])
    assert result.exit_code == 1
    [line] = [line for line in result.output.splitlines() if line.startswith("failed")]
    assert line.startswith(f"failed {bad}: block 4 (line 7): dateline"), line


class TestImportStatus:
    """Without --status new articles are published; a re-import keeps the article's status."""

    SEED = "glacier-retreat-alpine-water.txt"
    SLUG = "glacier-retreat-forces-alpine-towns-to-rethink-summer-water-supply"

    def copy(self, database, replace: tuple[str, str] | None = None):
        path = database / self.SEED
        text = (EXAMPLES / self.SEED).read_text(encoding="utf-8")
        path.write_text(text.replace(*replace) if replace else text, encoding="utf-8")
        return path

    def test_draft_stays_a_draft_when_reimported_without_status(self, database):
        runner = CliRunner()
        runner.invoke(cli, ["migrate"])
        path = self.copy(database)
        assert runner.invoke(cli, ["import", "--status", "draft", str(path)]).exit_code == 0
        self.copy(database, ("That arrangement is ending.", "That arrangement is over."))
        again = runner.invoke(cli, ["import", str(path)])
        assert "0 created, 1 updated" in again.output
        assert statuses(database) == {self.SLUG: "draft"}

    def test_published_stays_published_and_explicit_status_changes_it(self, database):
        runner = CliRunner()
        runner.invoke(cli, ["migrate"])
        path = self.copy(database)
        assert runner.invoke(cli, ["import", str(path)]).exit_code == 0
        assert statuses(database) == {self.SLUG: "published"}
        runner.invoke(
            cli,
            [
                "import",
                str(
                    self.copy(
                        database, ("That arrangement is ending.", "That arrangement is over.")
                    )
                ),
            ],
        )
        assert statuses(database) == {self.SLUG: "published"}
        runner.invoke(cli, ["import", "--status", "draft", str(path)])
        assert statuses(database) == {self.SLUG: "draft"}

    def test_json_status_is_used_unless_the_option_is_given(self, database):
        runner = CliRunner()
        runner.invoke(cli, ["migrate"])
        doc = {"headline": "Held", "category": "Science", "status": "draft"}
        (database / "held.json").write_text(json.dumps(doc))
        assert runner.invoke(cli, ["import", str(database / "held.json")]).exit_code == 0
        assert statuses(database) == {"held": "draft"}
        runner.invoke(cli, ["import", "--status", "published", str(database / "held.json")])
        assert statuses(database) == {"held": "published"}

    def test_reimport_over_a_retracted_article_fails_naming_the_slug(self, database):
        runner = CliRunner()
        runner.invoke(cli, ["migrate"])
        path = self.copy(database)
        runner.invoke(cli, ["import", str(path)])
        with sqlite3.connect(database / "cli.db") as db:
            db.execute("UPDATE articles SET status = 'retracted'")
        result = runner.invoke(cli, ["import", "--status", "published", str(path)])
        assert result.exit_code == 1
        assert self.SLUG in " ".join(result.output.split())
        assert "0 created, 0 updated, 0 unchanged, 1 failed" in result.output
        assert statuses(database) == {self.SLUG: "retracted"}


@pytest.mark.parametrize("year", ["1800", "1899", "2201"])
def test_year_outside_the_http_range_is_a_usage_error(database, year):
    runner = CliRunner()
    runner.invoke(cli, ["migrate"])
    result = runner.invoke(cli, ["import", "--year", year, str(EXAMPLES)])
    assert result.exit_code == 2
    assert "--year" in result.output
    assert "must be from 1900 to 2200" in result.output
    assert statuses(database) == {}


def test_year_at_the_edges_is_accepted(database):
    runner = CliRunner()
    runner.invoke(cli, ["migrate"])
    assert runner.invoke(cli, ["import", "--year", "1900", str(EXAMPLES)]).exit_code == 0


class TestKeyNames:
    """A key's name is trimmed, not empty, and never has the form of a key id."""

    def keys(self, database) -> list[tuple[str, str, bool]]:
        with sqlite3.connect(database / "cli.db") as db:
            rows = db.execute("SELECT id, name, revoked_at IS NOT NULL FROM api_keys ORDER BY id")
            return [(key_id, name, bool(revoked)) for key_id, name, revoked in rows]

    @pytest.mark.parametrize(
        ("name", "message"),
        [
            ("", "name: must not be empty"),
            ("   ", "name: must not be empty"),
            ("\t\n", "name: must not be empty"),
            ("x" * 201, "name: must be at most 200 characters"),
            ("key_0123456789abcdef", "name: must not look like a key id"),
            (" key_0123456789abcdef ", "name: must not look like a key id"),
        ],
    )
    def test_bad_name_is_a_usage_error(self, database, name, message):
        runner = CliRunner()
        runner.invoke(cli, ["migrate"])
        result = runner.invoke(cli, ["keys", "create", "--name", name, "--scope", "read"])
        assert result.exit_code == 2
        assert message in result.output
        assert "already exists" not in result.output
        assert self.keys(database) == []

    def test_name_is_trimmed(self, database):
        runner = CliRunner()
        runner.invoke(cli, ["migrate"])
        result = runner.invoke(cli, ["keys", "create", "--name", "  desk  ", "--scope", "read"])
        assert result.exit_code == 0, result.output
        assert [name for _, name, _ in self.keys(database)] == ["desk"]
        again = runner.invoke(cli, ["keys", "create", "--name", "desk ", "--scope", "read"])
        assert again.exit_code == 2
        assert "A key named 'desk' already exists." in again.output

    def test_a_name_cannot_take_another_keys_id(self, database):
        runner = CliRunner()
        runner.invoke(cli, ["migrate"])
        runner.invoke(cli, ["keys", "create", "--name", "first", "--scope", "read"])
        [(first_id, _, _)] = self.keys(database)
        taken = runner.invoke(cli, ["keys", "create", "--name", first_id, "--scope", "admin"])
        assert taken.exit_code == 2
        revoked = runner.invoke(cli, ["keys", "revoke", first_id])
        assert revoked.exit_code == 0
        assert self.keys(database) == [(first_id, "first", True)]

    def test_names_that_merely_resemble_an_id_are_fine(self, database):
        runner = CliRunner()
        runner.invoke(cli, ["migrate"])
        for name in ("key_rotation", "key_0123456789ABCDEF", "key_0123456789abcdef0"):
            result = runner.invoke(cli, ["keys", "create", "--name", name, "--scope", "read"])
            assert result.exit_code == 0, result.output


class TestKeyNamesOverHttp:
    """POST /v1/keys applies the same rules (the service is shared with the command)."""

    @pytest.fixture
    async def admin(self, session):
        return auth(await make_key(session, "admin", name="root"))

    @pytest.mark.parametrize("name", ["", "   ", "key_0123456789abcdef"])
    async def test_bad_name_is_422_naming_name(self, client, admin, name):
        response = await client.post(
            "/v1/keys", json={"name": name, "scopes": ["read"]}, headers=admin
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "name"]

    async def test_name_is_trimmed(self, client, admin):
        response = await client.post(
            "/v1/keys", json={"name": "  partner  ", "scopes": ["read"]}, headers=admin
        )
        assert response.status_code == 201
        assert response.json()["name"] == "partner"


def test_the_command_line_loads_only_what_a_command_needs():
    """`byline --help` (and so the start of every command) loads neither the database
    layer, nor the web framework, nor Alembic or uvicorn: each command imports its own
    (a command paid ~3 s of imports on a slow machine; docs/PERFORMANCE.md)."""
    heavy = [
        "sqlalchemy",
        "fastapi",
        "alembic",
        "uvicorn",
        "app.access.service",
        "app.ingest.formats",
    ]
    probe = f"import sys, app.cli; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]", done.stdout


@pytest.mark.parametrize(
    ("configured", "port", "warned"),
    [
        (None, 8000, False),  # the default base URL is this port's
        (None, 9000, True),  # links would lead to port 8000
        ("https://news.example", 9000, False),  # behind a proxy: the operator said so
    ],
)
def test_serve_warns_when_links_will_not_lead_to_it(monkeypatch, caplog, configured, port, warned):
    from app.cli import _say_where_links_lead

    monkeypatch.delenv("BYLINE_PUBLIC_BASE_URL", raising=False)
    if configured is not None:
        monkeypatch.setenv("BYLINE_PUBLIC_BASE_URL", configured)
    with caplog.at_level("WARNING", logger="byline.serve"):
        _say_where_links_lead(configured or "http://127.0.0.1:8000", port)
    said = caplog.text
    assert ("set BYLINE_PUBLIC_BASE_URL" in said) is warned, said
