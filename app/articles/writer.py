"""How an article is written: input -> read model -> rows, in the caller's transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from slugify import slugify
from sqlalchemy import (
    CompoundSelect,
    CursorResult,
    bindparam,
    insert,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.articles.parts import write_parts
from app.articles.readmodel import (
    ArticleView,
    RefView,
    SectionView,
    snapshot_face,
)
from app.articles.schemas import ArticleCreate, NamedRef, RefInput
from app.articles.search import SearchDocument, SearchIndex
from app.changes.service import Entry, audience, shared_now, told_of_retraction
from app.core.config import Settings
from app.core.db import table_of
from app.core.errors import Conflict, InvalidInput, PreconditionFailed
from app.models import (
    Article,
    ArticleStatus,
    Author,
    Category,
    Change,
    ChangeEvent,
    Revision,
    Tag,
)
from app.stats import aggregates
from app.webhooks import outbox

WORDS_PER_MINUTE = 238  # average silent reading rate for non-fiction (Brysbaert, 2019)
SLUG_MAX = 120


def new_article_id() -> str:
    return "art_" + secrets.token_hex(8)


# What a slug made from a text with no letters or digits starts with, by input field.
FALLBACK_PREFIXES = {
    "headline": "article",
    "category": "category",
    "authors": "author",
    "tags": "tag",
}


def make_slug(text: str, field: str) -> str:
    """The slug of a headline or a name: its words transliterated, or, when it has none
    ("!!!", emoji), a slug derived from the text itself.

    The fallback is stable (the same text always makes the same slug), so re-importing
    the document finds the article it made before.
    """
    slug: str = slugify(text, max_length=SLUG_MAX, word_boundary=True)
    if slug:
        return slug
    digest = hashlib.sha256(unicodedata.normalize("NFC", text).encode()).hexdigest()[:12]
    return f"{FALLBACK_PREFIXES.get(field, field)}-{digest}"


def ref_of(value: RefInput, field: str) -> RefView:
    if isinstance(value, NamedRef):
        # A slug-only reference has had its name filled in by resolve_references.
        name = value.name or value.slug or ""
        return RefView(value.slug or make_slug(name, field), name)
    return RefView(make_slug(value, field), value)


def _slug_of(value: RefInput, field: str) -> str:
    if not isinstance(value, NamedRef):
        return make_slug(value, field)
    return value.slug or make_slug(value.name or "", field)


@dataclass(frozen=True, slots=True)
class StoredRefs:
    """Stored categories, authors and tags: (id, name) by slug, one dict per TAXONOMY kind."""

    found: tuple[dict[str, tuple[int, str]], ...]


REF_FIELDS = ("category", "authors", "tags")  # the input field of each TAXONOMY kind


async def lookup_refs(session: AsyncSession, slugs: Sequence[Sequence[str]]) -> StoredRefs:
    """The stored rows of these slugs (one list per TAXONOMY kind), in one statement."""
    params = {f"slugs{kind}": list(wanted) for kind, wanted in enumerate(slugs)}
    found: tuple[dict[str, tuple[int, str]], ...] = ({}, {}, {})
    for kind, slug, ref_id, name in await session.execute(REFS_LOOKUP, params):
        found[kind][slug] = (ref_id, name)
    return StoredRefs(found)


async def resolve_references(
    session: AsyncSession, data: ArticleCreate
) -> tuple[ArticleCreate, StoredRefs]:
    """The input with every known category, author and tag under its stored name, and those rows.

    A name whose slug exists takes the stored name (the stored row is never renamed), so
    what a write answers and snapshots is what a read gives back. A slug-only reference
    must exist: an unknown one is a 422 naming the field.
    """
    given: tuple[Sequence[RefInput], ...] = ([data.category], data.authors, data.tags)
    slugs = [[_slug_of(v, REF_FIELDS[kind]) for v in values] for kind, values in enumerate(given)]
    stored = await lookup_refs(session, slugs)
    errors = [
        {"loc": ["body", REF_FIELDS[kind]], "msg": f"unknown {REF_FIELDS[kind]} slug {v.slug!r}"}
        for kind, values in enumerate(given)
        for v in values
        if isinstance(v, NamedRef) and v.name is None and v.slug not in stored.found[kind]
    ]
    if errors:
        raise InvalidInput("; ".join(f"{e['loc'][1]}: {e['msg']}" for e in errors), errors)
    named = [
        [
            NamedRef(slug=slug, name=stored.found[kind][slug][1])
            if slug in stored.found[kind]
            else value
            for value, slug in zip(values, slugs[kind], strict=True)
        ]
        for kind, values in enumerate(given)
    ]
    update = {"category": named[0][0], "authors": named[1], "tags": named[2]}
    return data.model_copy(update=update), stored


def unique_refs(values: Iterable[RefInput], field: str) -> tuple[RefView, ...]:
    seen: dict[str, RefView] = {}
    for value in values:
        ref = ref_of(value, field)
        seen.setdefault(ref.slug, ref)
    return tuple(seen.values())


def count_words(sections: Sequence[SectionView]) -> int:
    words = 0
    for section in sections:
        words += len((section.heading or "").split())
        words += sum(len(paragraph.split()) for paragraph in section.paragraphs)
    return words


@dataclass(frozen=True, slots=True)
class Placement:
    """When and how an article is visible: its status and times."""

    status: str
    published_at: dt.datetime | None
    embargo_until: dt.datetime | None


def placement_of(data: ArticleCreate, status: str | None, now: dt.datetime) -> Placement:
    wanted = status or data.status or ArticleStatus.DRAFT.value
    if wanted != ArticleStatus.PUBLISHED:
        return Placement(ArticleStatus.DRAFT.value, data.published_at, None)
    return published_for(data.published_at or now, now)


def published_for(when: dt.datetime, now: dt.datetime) -> Placement:
    """Published at `when`: at once if it has come, else scheduled (an embargo until then)."""
    if when > now:
        return Placement(ArticleStatus.SCHEDULED.value, when, when)
    return Placement(ArticleStatus.PUBLISHED.value, when, None)


def build_view(
    data: ArticleCreate,
    *,
    article_id: str,
    placement: Placement,
    revision: int,
    created_at: dt.datetime,
    now: dt.datetime,
    settings: Settings,
) -> ArticleView:
    """The read model an input describes, before anything is written."""
    sections = tuple(SectionView(s.heading, tuple(s.paragraphs)) for s in data.sections)
    words = count_words(sections)
    rights = data.rights
    return ArticleView(
        id=article_id,
        slug=data.slug or make_slug(data.headline, "headline"),
        headline=data.headline,
        dek=data.dek,
        category=ref_of(data.category, "category"),
        authors=unique_refs(data.authors, "authors"),
        status=placement.status,
        published_at=placement.published_at,
        updated_at=now,
        created_at=created_at,
        embargo_until=placement.embargo_until,
        language=data.language or settings.default_language,
        takeaways=tuple(data.takeaways),
        sections=sections,
        tags=unique_refs(data.tags, "tags"),
        word_count=words,
        reading_time_minutes=max(1, math.ceil(words / WORDS_PER_MINUTE)),
        revision=revision,
        corrections=(),
        copyright_holder=(rights and rights.copyright_holder) or settings.copyright_holder,
        usage_terms=(rights and rights.usage_terms) or settings.usage_terms,
        syndication=rights.syndication if rights else True,
        retracted_at=None,
        deleted_at=None,
        tombstone_reason=None,
    )


def unchanged(old: ArticleView, new: ArticleView) -> bool:
    """Whether writing `new` would store `old` again (so no new revision, no event).

    Aware datetimes compare as instants, so the filing offset, which the article shows,
    is compared on its own.
    """
    same = replace(new, updated_at=old.updated_at, revision=old.revision, created_at=old.created_at)
    return same == old and _offset(new.published_at) == _offset(old.published_at)


def _offset(moment: dt.datetime | None) -> dt.timedelta | None:
    return moment.utcoffset() if moment is not None else None


def same_content(old: ArticleView, new: ArticleView) -> bool:
    """Whether a re-import would change nothing a reader can see (its corrections stay)."""
    return unchanged(old, replace(new, corrections=old.corrections))


TaxonomyModel = type[Category] | type[Author] | type[Tag]


def _insert_ignoring_conflicts(
    dialect: str, model: TaxonomyModel
) -> postgresql.Insert | sqlite.Insert:
    if dialect == "postgresql":
        return postgresql.insert(model).on_conflict_do_nothing(index_elements=["slug"])
    return sqlite.insert(model).on_conflict_do_nothing(index_elements=["slug"])


async def ensure_refs(
    session: AsyncSession, model: type[Category] | type[Author] | type[Tag], refs: Sequence[RefView]
) -> dict[str, int]:
    """Ids of categories/authors/tags by slug, creating the missing ones (race-safe)."""
    if not refs:
        return {}
    lookup = select(model.slug, model.id).where(model.slug.in_([r.slug for r in refs]))
    found = {row.slug: row.id for row in await session.execute(lookup)}
    missing = [r for r in refs if r.slug not in found]
    if not missing:  # the usual case: one read, no write
        return found
    dialect = session.get_bind().dialect.name
    # Insert in slug order: concurrent writers then take the unique-index locks in the
    # same order and cannot deadlock on PostgreSQL.
    ordered = sorted(missing, key=lambda r: r.slug)
    await session.execute(
        _insert_ignoring_conflicts(dialect, model),
        [{"slug": r.slug, "name": r.name} for r in ordered],
    )
    return {row.slug: row.id for row in await session.execute(lookup)}


def _refs_lookup() -> CompoundSelect[int, str, int, str]:
    """Category, author and tag ids and names by slug in one statement, built once (see below)."""
    return union_all(
        *(
            select(literal(kind).label("kind"), model.slug, model.id, model.name).where(
                model.slug.in_(bindparam(f"slugs{kind}", expanding=True))
            )
            for kind, model in enumerate(TAXONOMY)
        )
    )


TAXONOMY: tuple[TaxonomyModel, ...] = (Category, Author, Tag)
# Built once: constructing and cache-keying a fresh three-part UNION costs a create more
# CPU than running it.
REFS_LOOKUP = _refs_lookup()


async def ensure_view_refs(
    session: AsyncSession, view: ArticleView, known: StoredRefs | None = None
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Ids of the article's category, authors and tags by slug, creating any missing.

    One query finds all three kinds (a write's statements are most of its CPU cost), or
    none when resolve_references already did; only a kind with a new name goes on to
    `ensure_refs`.
    """
    wanted = ((view.category,), view.authors, view.tags)
    if known is None:
        known = await lookup_refs(session, [[ref.slug for ref in refs] for refs in wanted])
    ids = [
        {ref.slug: known.found[kind][ref.slug][0] for ref in refs}
        if all(ref.slug in known.found[kind] for ref in refs)
        else await ensure_refs(session, TAXONOMY[kind], refs)
        for kind, refs in enumerate(wanted)
    ]
    return ids[0], ids[1], ids[2]


def article_row(view: ArticleView, category_id: int) -> dict[str, Any]:
    offset = view.published_at.utcoffset() if view.published_at else None
    return {
        "id": view.id, "slug": view.slug, "headline": view.headline, "dek": view.dek,
        "category_id": category_id, "status": view.status, "published_at": view.published_at,
        "published_offset": int(offset.total_seconds() // 60) if offset is not None else None,
        "embargo_until": view.embargo_until, "created_at": view.created_at,
        "updated_at": view.updated_at, "language": view.language, "revision": view.revision,
        "word_count": view.word_count, "reading_time_minutes": view.reading_time_minutes,
        "copyright_holder": view.copyright_holder, "usage_terms": view.usage_terms,
        "syndication": view.syndication, "retracted_at": view.retracted_at,
        "deleted_at": view.deleted_at, "tombstone_reason": view.tombstone_reason,
    }  # fmt: skip


def search_document(view: ArticleView) -> SearchDocument:
    body = "\n".join(
        "\n".join(([s.heading] if s.heading else []) + list(s.paragraphs)) for s in view.sections
    )
    return SearchDocument(view.id, view.headline, view.dek or "", "\n".join(view.takeaways), body)


async def write_view(
    session: AsyncSession,
    view: ArticleView,
    *,
    replaces: int | None,
    event: ChangeEvent,
    index: SearchIndex,
    refs: StoredRefs | None = None,
) -> None:
    """Write one revision of an article: its rows, snapshot, change-log event and search entry.

    `replaces` is the revision this one supersedes (None for a new article). The claim on
    it is a conditional UPDATE, so of two concurrent writers from the same revision
    exactly one wins and the other gets PreconditionFailed. `refs` are the taxonomy rows
    resolve_references found (saves looking them up again).
    """
    was_shared_in = None  # where partners could see the article before this write
    counted_before = None  # what the article added to the stats counts before this write
    if replaces is not None:
        await _claim(session, view.id, replaces, view.revision)
        was_shared_in = await shared_now(session, view.id, view.updated_at)
        if was_shared_in is None and event == ChangeEvent.DELETED:
            # Partners told of a retraction hold the tombstone: its deletion is news to them.
            was_shared_in = await told_of_retraction(session, view.id)
        counted_before = (await aggregates.load_contributions(session, [view.id])).get(view.id)
    category_ids, author_ids, tag_ids = await ensure_view_refs(session, view, refs)
    row = article_row(view, category_ids[view.category.slug])
    if replaces is None:
        await _insert_article(session, row)
    else:
        await session.execute(update(Article).where(Article.id == view.id).values(**row))
    await write_parts(session, view, author_ids, tag_ids, replacing=replaces is not None)
    await record_revision(session, view, event, was_shared_in)
    if view.is_tombstone:
        await index.remove(session, view.id)
    else:
        await index.put(session, search_document(view), replacing=replaces is not None)
    counted = aggregates.contribution(
        view.status, view.published_at, row["category_id"],
        (author_ids[a.slug] for a in view.authors), (tag_ids[t.slug] for t in view.tags),
    )  # fmt: skip
    await aggregates.count_write(session, counted_before, counted)


async def _insert_article(session: AsyncSession, row: dict[str, Any]) -> None:
    """Insert a new article; its slug being taken is a 409 found by the insert itself.

    ON CONFLICT DO NOTHING spares every create a lookup of its slug; on PostgreSQL a
    concurrent create of the same slug waits for the first to commit, then inserts nothing.
    """
    dialect = session.get_bind().dialect.name
    table = table_of(Article)
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    inserted = await session.execute(stmt.on_conflict_do_nothing().returning(table.c.id), [row])
    if inserted.first() is None:
        owner = await session.scalar(select(Article.id).where(Article.slug == row["slug"]))
        raise slug_taken(row["slug"], owner or "another article")


def slug_taken(slug: str, owner: str) -> Conflict:
    return Conflict(
        f"The slug {slug!r} is taken by article {owner}.",
        extra={"errors": [{"loc": ["body", "slug"], "msg": "already in use"}]},
    )


async def _claim(session: AsyncSession, article_id: str, replaces: int, revision: int) -> None:
    claim = update(Article).where(Article.id == article_id, Article.revision == replaces)
    result = await session.execute(claim.values(revision=revision))
    if cast(CursorResult[Any], result).rowcount != 1:
        raise PreconditionFailed(
            f"Article {article_id} is no longer at revision {replaces}; fetch it again and retry."
        )


async def record_revision(
    session: AsyncSession, view: ArticleView, event: ChangeEvent, was_shared_in: str | None = None
) -> None:
    await session.execute(
        insert(table_of(Revision)),
        [
            {
                "article_id": view.id,
                "number": view.revision,
                "created_at": view.updated_at,
                "snapshot": snapshot_face(view),
            }
        ],
    )
    visibility = audience(view, was_shared_in)
    changes = table_of(Change)
    change = await session.execute(
        insert(changes).returning(changes.c.seq),
        {
            "event": event.value,
            "article_id": view.id,
            "revision": view.revision,
            "at": view.updated_at,
            **visibility,
        },
    )
    entry = Entry(
        change.scalar_one(), event.value, view.id, view.revision, view.updated_at, **visibility
    )
    # Webhook deliveries join the same transaction: nothing is sent unless this commits.
    await outbox.enqueue(session, view, entry)
