"""The `byline` command: migrate, serve, import, demo, keys, worker."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import signal
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.markup import escape

from app.core.config import get_settings
from app.core.paths import ALEMBIC_INI
from app.ingest.years import YEAR_MAX, YEAR_MIN
from app.ops.workers import clear as clear_metrics

# Each command imports what only it needs (SQLAlchemy, FastAPI, Alembic, uvicorn…) where
# it runs: at the top, every `byline` command paid ~3 s of imports on a slow machine, and
# `byline --help`, `migrate` or `keys list` need a fraction of them.
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.access.schemas import KeyRead
    from app.ingest.service import ImportOutcome
    from app.webhooks.secrets import SecretBox

cli = typer.Typer(
    help="Byline: structured news articles as an API.", no_args_is_help=True, add_completion=False
)
console = Console(stderr=True)


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date (alembic upgrade head)."""
    from alembic import command
    from alembic.config import Config

    command.upgrade(Config(str(ALEMBIC_INI)), "head")
    console.print("database migrated to head")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the API with uvicorn (uvloop + httptools; its own 400s as problems: app/core/server.py)."""
    import uvicorn

    from app.ops.logs import configure_logging, log_config

    settings = get_settings()
    configure_logging(settings.log_level)  # the server's lines, this one too, are JSON
    _say_where_links_lead(settings.public_base_url, port)
    # uvicorn finishes the requests in flight on SIGTERM, then re-raises the signal to the
    # handler it found: make that a clean exit (status 0), not a death by signal.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    with _metrics_directory(settings.metrics_dir, workers):
        uvicorn.run(
            "app.main:create_app", factory=True, host=host, port=port, workers=workers,
            loop="uvloop", http="app.core.server:ProblemHttpToolsProtocol", access_log=False,
            log_level=settings.log_level.lower(), log_config=log_config(settings.log_level),
            timeout_graceful_shutdown=30,
        )  # fmt: skip


def _say_where_links_lead(base_url: str, port: int) -> None:
    """Warn when response links will not lead to this server.

    Links come from the configured public base URL (API.md), never from the port: servers
    behind one balancer must give the same bodies and ETags. Unset, it is port 8000's.
    """
    if "BYLINE_PUBLIC_BASE_URL" in os.environ or port == urlsplit(base_url).port:
        return
    logging.getLogger("byline.serve").warning(
        "links in responses name %s, not port %d: set BYLINE_PUBLIC_BASE_URL to the address"
        " clients use",
        base_url,
        port,
    )


@contextlib.contextmanager
def _metrics_directory(configured: Path | None, workers: int) -> Iterator[None]:
    """Where the workers add up /metrics (app/ops/workers.py), emptied of an earlier run's
    numbers; with several workers and none configured, a temporary one for this run."""
    if configured is not None:
        clear_metrics(configured)
        yield
        return
    if workers == 1:
        yield  # one process: its own numbers are the server's
        return
    with tempfile.TemporaryDirectory(prefix="byline-metrics-") as directory:
        os.environ["BYLINE_METRICS_DIR"] = directory  # the workers inherit it
        try:
            yield
        finally:
            os.environ.pop("BYLINE_METRICS_DIR", None)


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


@cli.command("import")
def import_(
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders (searched recursively).", exists=True)
    ],
    status: Annotated[
        str | None,
        typer.Option(
            help="draft or published. Omitted: new articles are published (unless a JSON "
            'document says "status"), and a re-imported article keeps its status.'
        ),
    ] = None,
    year: Annotated[
        int | None, typer.Option(help=f"Year for datelines that give none ({YEAR_MIN}-{YEAR_MAX}).")
    ] = None,
) -> None:
    """Import articles (plain text, Markdown, JSON, NDJSON); re-importing a slug updates its
    content and keeps its status unless --status is given (README: "The command line")."""
    if status is not None and status not in ("draft", "published"):
        raise typer.BadParameter("must be draft or published", param_hint="--status")
    if year is not None and not YEAR_MIN <= year <= YEAR_MAX:  # the range of HTTP's ?year=
        raise typer.BadParameter(f"must be from {YEAR_MIN} to {YEAR_MAX}", param_hint="--year")
    outcomes = asyncio.run(_import(paths, status, year))
    _print_summary(outcomes)
    if any(o.action == "failed" for o in outcomes):
        raise typer.Exit(1)


async def _import(paths: list[Path], status: str | None, year: int | None) -> list[ImportOutcome]:
    from rich.progress import Progress

    from app.articles.search import SearchIndex
    from app.core.db import make_engine, make_sessionmaker
    from app.ingest.service import PUBLISHED, collect_files, import_files

    settings = get_settings()
    engine = make_engine(settings.database_url)
    files = collect_files(paths)
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("importing", total=len(files))
            return await import_files(
                make_sessionmaker(engine, writes=True), files, status=status, year=year, settings=settings,
                index=SearchIndex(engine.dialect.name), default_status=PUBLISHED,
                file_done=lambda _: progress.advance(task),
            )  # fmt: skip
    finally:
        await engine.dispose()


def _print_summary(outcomes: list[ImportOutcome]) -> None:
    for outcome in outcomes:
        if outcome.error:
            # One line per file, never wrapped and never read as markup: a path with
            # brackets, or cut at the terminal's width, would not be found by grep.
            failure = escape(f"{outcome.source}: {outcome.error}")
            console.print(f"[red]failed[/red] {failure}", highlight=False, soft_wrap=True)
    counts = Counter(o.action for o in outcomes)
    typer.echo(
        f"{len(outcomes)} document(s): {counts['created']} created, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged, {counts['failed']} failed"
    )


@cli.command()
def demo(
    articles: Annotated[int, typer.Option(min=1, help="How many articles the corpus has.")],
    seed: Annotated[int, typer.Option(min=0, help="The same seed gives the same corpus.")] = 1,
) -> None:
    """Write a deterministic synthetic corpus of published articles; existing ones are skipped."""
    # Imported here: the demo's word lists and worker plumbing are only needed by this command.
    from app.demo.command import DemoError, run_demo

    try:
        summary = run_demo(get_settings(), articles, seed, console)
    except DemoError as error:
        console.print(f"[red]{escape(str(error))}[/red]", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    typer.echo(summary.describe())


@cli.command()
def worker(
    once: Annotated[
        bool, typer.Option(help="Deliver what is due now, lift due embargoes, then exit.")
    ] = False,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics on this port (GET /metrics).")
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="Address for --metrics-port.")] = "127.0.0.1",
) -> None:
    """Deliver webhooks (signed, retried) and emit scheduled articles' `published` events."""
    # Imported here: only this command needs the delivery machinery.
    import uvloop

    from app.ops.logs import configure_logging
    from app.webhooks.worker import serve as serve_worker

    settings = get_settings()
    configure_logging(settings.log_level)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        metrics_at = (metrics_host, metrics_port) if metrics_port is not None else None
        runner.run(serve_worker(settings, once=once, metrics_at=metrics_at))


keys_cli = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")


def _split_options(values: list[str]) -> list[str]:
    """Options that may be repeated and may hold comma-separated lists."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@keys_cli.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A unique name for the key.")],
    scope: Annotated[
        list[str],
        typer.Option(help="read, syndicate, write, stats, admin (repeat or comma-separate)."),
    ],
    category: Annotated[
        list[str] | None, typer.Option(help="Limit the key to these category slugs.")
    ] = None,
    rate_limit: Annotated[
        str | None, typer.Option(help="N/second|minute|hour|day for this key.")
    ] = None,
) -> None:
    """Create a key and print it: the key alone is the last line of standard output."""
    key, secret = asyncio.run(
        _keys_create(name, _split_options(scope), _split_options(category or []), rate_limit)
    )
    typer.echo(
        f"created key {key.id} ({key.name}) with scopes {', '.join(key.scopes)}; store it now, it is not shown again:"
    )
    typer.echo(secret)


async def _keys_create(
    name: str, scopes: list[str], categories: list[str], rate_limit: str | None
) -> tuple[KeyRead, str]:
    from app.access import service as access
    from app.access.schemas import KeyRead
    from app.core.errors import AppError

    async with _unit_of_work() as session:
        try:
            key, secret = await access.create(
                session, name=name, scopes=scopes, categories=categories or None,
                rate_limit=rate_limit, now=dt.datetime.now(dt.UTC),
            )  # fmt: skip
        except AppError as exc:
            raise typer.BadParameter(exc.detail) from None
        return KeyRead.model_validate(key), secret


@keys_cli.command("list")
def keys_list() -> None:
    """List keys (never their secrets)."""
    for key in asyncio.run(_keys_list()):
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        categories = ",".join(key.categories) if key.categories else "all categories"
        typer.echo(
            f"{key.id}\t{key.name}\t{key.prefix}…\t{','.join(key.scopes)}\t{categories}\t{key.rate_limit or 'default limit'}\t{state}"
        )


async def _keys_list() -> list[KeyRead]:
    from app.access import service as access
    from app.access.schemas import KeyRead

    async with _unit_of_work() as session:
        return [KeyRead.model_validate(k) for k in await access.list_keys(session)]


@keys_cli.command("revoke")
def keys_revoke(key: Annotated[str, typer.Argument(help="The key's id or name.")]) -> None:
    """Revoke a key by id or name."""
    revoked = asyncio.run(_keys_revoke(key))
    typer.echo(f"revoked key {revoked.id} ({revoked.name})")


async def _keys_revoke(id_or_name: str) -> KeyRead:
    from app.access import service as access
    from app.access.schemas import KeyRead
    from app.core.errors import AppError

    async with _unit_of_work() as session:
        try:
            return KeyRead.model_validate(
                await access.revoke(session, id_or_name, dt.datetime.now(dt.UTC))
            )
        except AppError as exc:
            raise typer.BadParameter(exc.detail) from None


webhooks_cli = typer.Typer(help="Webhook subscriptions' signing secrets.", no_args_is_help=True)
cli.add_typer(webhooks_cli, name="webhooks")


@webhooks_cli.command("seal-secrets")
def webhooks_seal_secrets() -> None:
    """Encrypt every stored signing secret with the first key of BYLINE_SECRET_KEYS (those
    stored clear, and those encrypted with an older key). All or nothing."""
    from app.webhooks.secrets import SecretUnavailable, box_of

    settings = get_settings()
    if not settings.secret_keys:
        raise typer.BadParameter("BYLINE_SECRET_KEYS is not set: there is no key to encrypt with")
    try:
        count = asyncio.run(_reseal(box_of(settings)))
    except SecretUnavailable as exc:
        typer.echo(f"nothing changed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"the secrets of {count} subscription(s) are encrypted with the first key")


async def _reseal(box: SecretBox) -> int:
    from app.webhooks import service as webhooks

    async with _unit_of_work() as session:
        return await webhooks.reseal_secrets(session, box)


@contextlib.asynccontextmanager
async def _unit_of_work() -> AsyncIterator[AsyncSession]:
    from app.core.db import make_engine, make_sessionmaker, session_scope

    engine = make_engine(get_settings().database_url)
    try:
        async with session_scope(make_sessionmaker(engine, writes=True)) as session:
            yield session
    finally:
        await engine.dispose()


def main() -> None:
    cli()
