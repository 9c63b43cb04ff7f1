"""The `byline` command: migrate, serve, import, demo."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from alembic import command
from alembic.config import Config
from rich.console import Console
from rich.progress import Progress

from app.articles.search import SearchIndex
from app.core.config import get_settings
from app.core.db import make_engine, make_sessionmaker
from app.core.paths import ALEMBIC_INI
from app.ingest.service import ImportOutcome, collect_files, import_files

cli = typer.Typer(
    help="Byline: structured news articles as an API.", no_args_is_help=True, add_completion=False
)
console = Console(stderr=True)


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date (alembic upgrade head)."""
    command.upgrade(Config(str(ALEMBIC_INI)), "head")
    console.print("database migrated to head")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the API with uvicorn (uvloop + httptools)."""
    settings = get_settings()
    uvicorn.run(
        "app.main:create_app", factory=True, host=host, port=port, workers=workers,
        loop="uvloop", http="httptools", access_log=False, log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=30,
    )  # fmt: skip


@cli.command("import")
def import_(
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders (searched recursively).", exists=True)
    ],
    status: Annotated[str, typer.Option(help="draft or published.")] = "published",
    year: Annotated[int | None, typer.Option(help="Year for datelines that give none.")] = None,
) -> None:
    """Import articles (plain text, Markdown, JSON, NDJSON); re-importing a slug updates it."""
    if status not in ("draft", "published"):
        raise typer.BadParameter("must be draft or published", param_hint="--status")
    outcomes = asyncio.run(_import(paths, status, year))
    _print_summary(outcomes)
    if any(o.action == "failed" for o in outcomes):
        raise typer.Exit(1)


async def _import(paths: list[Path], status: str, year: int | None) -> list[ImportOutcome]:
    settings = get_settings()
    engine = make_engine(settings.database_url)
    files = collect_files(paths)
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("importing", total=len(files))
            return await import_files(
                make_sessionmaker(engine), files, status=status, year=year, settings=settings,
                index=SearchIndex(engine.dialect.name), file_done=lambda _: progress.advance(task),
            )  # fmt: skip
    finally:
        await engine.dispose()


def _print_summary(outcomes: list[ImportOutcome]) -> None:
    for outcome in outcomes:
        if outcome.error:
            console.print(f"[red]failed[/red] {outcome.source}: {outcome.error}", highlight=False)
    counts = Counter(o.action for o in outcomes)
    typer.echo(
        f"{len(outcomes)} document(s): {counts['created']} created, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged, {counts['failed']} failed"
    )


def main() -> None:
    cli()
