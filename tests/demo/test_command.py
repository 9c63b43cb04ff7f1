"""`byline demo` in-process on a SQLite file: schema check, summary, re-runs, worker processes."""

from __future__ import annotations

import sqlite3

import pytest
from rich.console import Console
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import get_settings
from app.demo.command import DemoSummary, run_demo


@pytest.fixture
def database(tmp_path, monkeypatch):
    path = tmp_path / "demo.db"
    monkeypatch.setenv("BYLINE_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def test_an_unmigrated_database_is_refused_with_the_fix(database):
    result = CliRunner().invoke(cli, ["demo", "--articles", "5"])
    assert result.exit_code == 1
    assert "run `byline migrate` first" in result.output


def test_demo_then_demo_again_skips_what_exists(database):
    runner = CliRunner()
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    first = runner.invoke(cli, ["demo", "--articles", "5", "--seed", "2"])
    assert first.exit_code == 0, first.output
    assert "5 article(s) requested, 5 written, 0 already present" in first.output
    again = runner.invoke(cli, ["demo", "--articles", "8", "--seed", "2"])
    assert again.exit_code == 0, again.output
    assert "8 article(s) requested, 3 written, 5 already present" in again.output


def test_zero_articles_is_a_usage_error(database):
    assert CliRunner().invoke(cli, ["demo", "--articles", "0"]).exit_code == 2


def test_a_large_corpus_is_built_by_workers_and_the_index_settings_restored(database):
    CliRunner().invoke(cli, ["migrate"])
    summary = run_demo(get_settings(), 2_500, 1, Console(quiet=True))
    assert (summary.written, summary.skipped) == (2_500, 0)
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM articles").fetchone() == (2_500,)
        assert db.execute("SELECT count(*) FROM article_search").fetchone() == (2_500,)
        config = dict(db.execute("SELECT k, v FROM article_search_config").fetchall())
    assert config.get("automerge", 4) == 4


def test_the_summary_gives_counts_and_elapsed_time():
    line = DemoSummary(requested=100, written=60, skipped=40, seed=3, seconds=2.0).describe()
    assert line == (
        "demo corpus (seed 3): 100 article(s) requested, 60 written, 40 already present; "
        "2.0 s (30 articles/s)"
    )
