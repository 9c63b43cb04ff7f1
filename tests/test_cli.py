"""The `byline` command in-process: migrate, import with its summary and exit code."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import get_settings
from tests.conftest import EXAMPLES


@pytest.fixture
def database(tmp_path, monkeypatch):
    monkeypatch.setenv("BYLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


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
