"""The embargo lift: a scheduled article's `published` event, emitted once when its time comes.

Readers see a scheduled article from its embargo instant without any worker
(ArticleView.is_public). What the worker adds is the event: the change-log row the change
feed shows and the webhook deliveries, written together with the claim in one transaction.

The lift makes no new revision: the content did not change, and the public representation
is the same bytes before and after (a lifted article is `published` with its
`embargo_until` kept), so the ETag `"<id>.<revision>"` and the read cache stay right; the
change-log row still makes every server's read cache drop the article and reload it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.articles.readmodel import load_views
from app.changes.service import Entry, audience
from app.core.db import session_scope
from app.models import Article, ArticleStatus, Change, ChangeEvent
from app.webhooks import outbox

BATCH = 100


async def due(session: AsyncSession, now: dt.datetime, limit: int = BATCH) -> list[str]:
    """Scheduled articles whose embargo has passed, earliest first."""
    rows = await session.scalars(
        select(Article.id)
        .where(Article.status == ArticleStatus.SCHEDULED, Article.embargo_until <= now)
        .order_by(Article.embargo_until, Article.id)
        .limit(limit)
    )
    return list(rows)


async def lift(session: AsyncSession, article_id: str, now: dt.datetime) -> int | None:
    """Claim one lift and write its event and deliveries; the change's seq, or None if not ours.

    The claim is a conditional UPDATE (scheduled -> published): of two workers, one wins.
    An editor who saved the article from a copy read just before the lift writes it back
    as scheduled; lifting that again repairs the status but emits no second event.
    """
    claimed = await session.execute(
        update(Article)
        .where(
            Article.id == article_id,
            Article.status == ArticleStatus.SCHEDULED,
            Article.embargo_until <= now,
        )
        .values(status=ArticleStatus.PUBLISHED.value)
        .returning(Article.revision, Article.embargo_until)
        .execution_options(synchronize_session=False)
    )
    row = claimed.first()
    if row is None:
        return None
    revision, embargo_until = row
    assert embargo_until is not None  # the WHERE clause compared it
    if await _already_announced(session, article_id, embargo_until):
        return None
    loaded = session.identity_map.get(session.identity_key(Article, article_id))
    if loaded is not None:  # the UPDATE bypassed the identity map: read the article afresh
        session.expire(loaded)
    view = (await load_views(session, [article_id]))[article_id]
    # Partners could not see it before this instant; from it, where its rights allow.
    visibility = audience(view, None, embargo_until)
    seq: int | None = await session.scalar(
        insert(Change)
        .values(
            event=ChangeEvent.PUBLISHED.value,
            article_id=article_id,
            revision=revision,
            at=embargo_until,
            **visibility,
        )
        .returning(Change.seq)
    )
    assert seq is not None
    entry = Entry(
        seq, ChangeEvent.PUBLISHED.value, article_id, revision, embargo_until, **visibility
    )
    await outbox.enqueue(session, view, entry)
    return seq


async def _already_announced(
    session: AsyncSession, article_id: str, embargo_until: dt.datetime
) -> bool:
    found = await session.scalar(
        select(Change.seq)
        .where(
            Change.article_id == article_id,
            Change.event == ChangeEvent.PUBLISHED,
            Change.at == embargo_until,
        )
        .limit(1)
    )
    return found is not None


async def lift_due(
    reads: async_sessionmaker[AsyncSession], writes: async_sessionmaker[AsyncSession],
    now: dt.datetime,
) -> int:  # fmt: skip
    """Lift every embargo that has passed, one transaction each; how many this call lifted."""
    async with reads() as session:
        candidates = await due(session, now)
    lifted = 0
    for article_id in candidates:
        async with session_scope(writes) as session:
            lifted += await lift(session, article_id, now) is not None
    return lifted
