"""Importing documents: parse, then create or update each article in its own transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.articles import service as articles
from app.articles.readmodel import ArticleView
from app.articles.schemas import ArticleCreate
from app.articles.search import SearchIndex
from app.core.config import Settings
from app.core.db import session_scope
from app.core.errors import AppError, Conflict, NotFound
from app.ingest.errors import ImportFormatError
from app.ingest.formats import (
    Format,
    UnsupportedFormat,
    detect_format,
    parse_document,
    parse_ndjson,
)
from app.models import ArticleStatus
from app.stats import aggregates

KNOWN_SUFFIXES = {".txt", ".md", ".markdown", ".json", ".ndjson", ".jsonl"}
DRAFT, PUBLISHED = ArticleStatus.DRAFT.value, ArticleStatus.PUBLISHED.value


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What happened to one document (a file, or one line of an NDJSON file)."""

    source: str
    article_id: str | None = None
    slug: str | None = None
    action: str = "failed"  # created | updated | unchanged | failed
    error: str | None = None


def collect_files(paths: Iterable[Path]) -> list[Path]:
    """The importable files among these paths; folders are searched recursively."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in KNOWN_SUFFIXES
                )
            )
        else:
            found.append(path)
    return found


async def store(
    session: AsyncSession,
    data: ArticleCreate,
    *,
    status: str | None,
    settings: Settings,
    index: SearchIndex,
    now: dt.datetime | None = None,
    default_status: str = DRAFT,
) -> articles.UpsertResult:
    """Create the article, or update the one with its slug (re-import semantics in README).

    `status` is the one the caller asked for explicitly (`?status`, `--status`), or None;
    `default_status` is what a new article gets when neither the caller nor the document asks.
    """
    when = now or dt.datetime.now(dt.UTC)
    existing = await _existing(session, data, when)
    if existing is not None:
        _refuse_tombstone(existing)
        data = _keep_publication_time(data, existing)
    wanted = status or data.status or (_kept_status(existing) if existing else default_status)
    return await articles.upsert(
        session, data, status=wanted, now=when, settings=settings, index=index
    )


async def _existing(
    session: AsyncSession, data: ArticleCreate, now: dt.datetime
) -> ArticleView | None:
    """The article this document would update: the one with the slug it gives or makes."""
    slug = articles.slug_of(data)
    try:
        return await articles.get(session, slug, now, editor=True)
    except NotFound:
        return None


def _refuse_tombstone(existing: ArticleView) -> None:
    # A retraction or deletion is an editorial decision with a public tombstone; a re-import
    # of old copy (a nightly sync, say) must not quietly bring the article back.
    if existing.is_tombstone:
        raise Conflict(
            f"The article with slug {existing.slug!r} was {existing.status}; "
            "an import cannot bring it back (give the document another slug)."
        )


def _kept_status(existing: ArticleView) -> str:
    """The status a re-import leaves alone: drafts stay drafts, published (or scheduled) stay so."""
    return DRAFT if existing.status == ArticleStatus.DRAFT else PUBLISHED


def _keep_publication_time(data: ArticleCreate, existing: ArticleView) -> ArticleCreate:
    # A document without a time (JSON may omit it) must not move a published article to "now".
    if data.published_at is not None or existing.published_at is None:
        return data
    return data.model_copy(update={"published_at": existing.published_at})


async def import_lines(
    session: AsyncSession, text: str, *, status: str | None, settings: Settings,
    index: SearchIndex, now: dt.datetime,
) -> list[dict[str, Any]]:  # fmt: skip
    """Each NDJSON line in a savepoint of its own: good lines are stored, a bad one stores nothing."""
    with aggregates.batch(session):  # one transaction that updates the counts line by line
        return await _store_lines(
            session, text, status=status, settings=settings, index=index, now=now
        )


async def _store_lines(
    session: AsyncSession, text: str, *, status: str | None, settings: Settings,
    index: SearchIndex, now: dt.datetime,
) -> list[dict[str, Any]]:  # fmt: skip
    results: list[dict[str, Any]] = []
    for line, parsed in parse_ndjson(text):
        if isinstance(parsed, ImportFormatError):
            results.append(
                {
                    "line": line,
                    "status": 422,
                    "errors": [{"loc": e.loc, "msg": e.message} for e in parsed.all()],
                }
            )
            continue
        try:
            async with session.begin_nested():
                result = await store(
                    session, parsed, status=status, settings=settings, index=index, now=now
                )
        except (AppError, IntegrityError) as exc:
            results.append(
                {
                    "line": line,
                    "status": _status_of(exc),
                    "errors": [{"loc": ["body"], "msg": _message_of(exc)}],
                }
            )
            continue
        results.append(
            {"line": line, "status": 201 if result.created else 200, "id": result.view.id}
        )
    return results


def _status_of(exc: Exception) -> int:
    return exc.status if isinstance(exc, AppError) else 409


def _message_of(exc: Exception) -> str:
    return (
        exc.detail
        if isinstance(exc, AppError)
        else "conflicts with an article written at the same time"
    )


def _action(result: articles.UpsertResult) -> str:
    if result.created:
        return "created"
    return "updated" if result.changed else "unchanged"


async def import_one(
    sessions: async_sessionmaker[AsyncSession], source: str, data: ArticleCreate,
    *, status: str | None, settings: Settings, index: SearchIndex, default_status: str = DRAFT,
) -> ImportOutcome:  # fmt: skip
    """Store one parsed document in a transaction of its own."""
    try:
        async with session_scope(sessions) as session:
            result = await store(
                session, data, status=status, settings=settings, index=index,
                default_status=default_status,
            )  # fmt: skip
    except AppError as exc:
        return ImportOutcome(source, error=exc.detail)
    return ImportOutcome(source, result.view.id, result.view.slug, _action(result))


def parse_file(
    path: Path, *, year: int | None
) -> Iterator[tuple[str, ArticleCreate | ImportFormatError]]:
    """(source label, parsed article or error) for each document in a file."""
    try:
        fmt = detect_format(filename=path.name)
        text = path.read_text(encoding="utf-8-sig")
    except (UnsupportedFormat, OSError, UnicodeDecodeError) as exc:
        yield str(path), ImportFormatError(str(exc))
        return
    if fmt is Format.NDJSON:
        for line, parsed in parse_ndjson(text):
            yield f"{path}:{line}", parsed
        return
    try:
        yield str(path), parse_document(text, fmt, year=year)
    except ImportFormatError as exc:
        yield str(path), exc


async def import_files(
    sessions: async_sessionmaker[AsyncSession], files: list[Path], *, status: str | None,
    year: int | None, settings: Settings, index: SearchIndex, default_status: str = DRAFT,
    file_done: Callable[[Path], None] = lambda _: None,
) -> list[ImportOutcome]:  # fmt: skip
    """Import every document of every file; one bad document never stops the others.

    `status` is the one asked for explicitly (or None); see `store` for how it is chosen.
    """
    outcomes = []
    for path in files:
        for source, parsed in parse_file(path, year=year):
            if isinstance(parsed, ImportFormatError):
                outcomes.append(ImportOutcome(source, error=str(parsed)))
            else:
                outcomes.append(
                    await import_one(
                        sessions,
                        source,
                        parsed,
                        status=status,
                        settings=settings,
                        index=index,
                        default_status=default_status,
                    )  # fmt: skip
                )
        file_done(path)
    return outcomes
