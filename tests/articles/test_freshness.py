"""Last-Modified of lists, related articles and taxonomies: never earlier than a change to them.

A client that keeps a list's Last-Modified and asks again with If-Modified-Since must get
the new list (200), not a 304, after an article leaves it (retracted, deleted,
unpublished) or enters it (an embargo lifting, with no worker and no write).
"""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime, parsedate_to_datetime

import pytest
from sqlalchemy import create_engine

from app.articles.service import NEWEST_CHANGES
from app.core.db import Base
from tests.access.test_keys import auth, make_key
from tests.conftest import add_article

LISTS = (
    "/v1/articles",
    "/v1/articles?category=science",
    "/v1/articles?sort=-updated_at&include_total=true",
    "/v1/articles/{anchor}/related",
    "/v1/categories",
    "/v1/categories/science",
    "/v1/authors",
    "/v1/authors/ann-lee",
    "/v1/tags",
)


def hours_ago(hours: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)


def http_time(moment: dt.datetime) -> str:
    return format_datetime(moment.astimezone(dt.UTC).replace(microsecond=0), usegmt=True)


async def written_long_ago(session, settings, **overrides):
    """An article written (and published) hours ago: nothing about it is recent."""
    published = overrides.pop("published_at", hours_ago(5))
    return await add_article(
        session, settings, category="Science", authors=["Ann Lee"], tags=["Ice"],
        published_at=published, now=hours_ago(4), **overrides,
    )  # fmt: skip


async def kept(client, url: str) -> str:
    """The Last-Modified a client keeps after reading the list."""
    response = await client.get(url)
    assert response.status_code == 200, response.text
    return response.headers["last-modified"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("action", ["retract", "unpublish", "delete"])
async def test_an_article_leaving_a_list_moves_its_last_modified(
    client, session, settings, path, action
):
    anchor = await written_long_ago(session, settings, headline="Anchor")
    leaving = await written_long_ago(session, settings, headline="Leaving")
    # The anchor of /related may not leave; every other list loses `leaving` (the terms
    # too, when it is the anchor's only company: here both count, so counts drop).
    url = path.format(anchor=anchor.id)
    since = await kept(client, url)
    writer = auth(await make_key(session, "write"))
    if action == "delete":
        done = await client.delete(f"/v1/articles/{leaving.id}", headers=writer)
    elif action == "retract":
        done = await client.post(
            f"/v1/articles/{leaving.id}/retract", json={"reason": "Wrong."}, headers=writer
        )
    else:
        done = await client.post(f"/v1/articles/{leaving.id}/unpublish", headers=writer)
    assert done.status_code in (200, 204), done.text
    again = await client.get(url, headers={"If-Modified-Since": since})
    assert again.status_code == 200
    assert parsedate_to_datetime(again.headers["last-modified"]) > parsedate_to_datetime(since)


@pytest.mark.parametrize("path", LISTS)
async def test_an_embargo_lifting_moves_last_modified_without_any_write(
    client, session, settings, path
):
    anchor = await written_long_ago(session, settings, headline="Anchor")
    # Scheduled two hours ago for one hour ago: it entered every list an hour ago, and
    # nothing was written since. A client that read the lists before then kept a
    # Last-Modified of (at the latest) the moment the embargo lifted, less a second.
    lift = hours_ago(1).replace(microsecond=0)
    lifted = await add_article(
        session, settings, headline="Lifted", category="Science", authors=["Ann Lee"],
        tags=["Ice"], published_at=lift, now=hours_ago(2),
    )  # fmt: skip
    assert lifted.status == "scheduled"
    url = path.format(anchor=anchor.id)
    before_the_lift = http_time(lift - dt.timedelta(seconds=1))
    response = await client.get(url, headers={"If-Modified-Since": before_the_lift})
    assert response.status_code == 200
    assert parsedate_to_datetime(response.headers["last-modified"]) >= lift


@pytest.mark.parametrize("path", LISTS)
async def test_if_modified_since_its_last_modified_is_a_304(client, session, settings, path):
    anchor = await written_long_ago(session, settings)
    await written_long_ago(session, settings)
    url = path.format(anchor=anchor.id)
    first = await client.get(url)
    since = first.headers["last-modified"]
    again = await client.get(url, headers={"If-Modified-Since": since})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["last-modified"] == since
    assert again.headers["etag"] == first.headers["etag"]


@pytest.mark.parametrize("path", LISTS)
async def test_if_none_match_takes_precedence_over_if_modified_since(
    client, session, settings, path
):
    anchor = await written_long_ago(session, settings)
    await written_long_ago(session, settings)
    url = path.format(anchor=anchor.id)
    first = await client.get(url)
    fresh, stale = first.headers["last-modified"], http_time(hours_ago(24 * 365))
    other = await client.get(url, headers={"If-None-Match": '"other"', "If-Modified-Since": fresh})
    assert other.status_code == 200  # the tag differs: If-Modified-Since is not consulted
    same = await client.get(
        url, headers={"If-None-Match": first.headers["etag"], "If-Modified-Since": stale}
    )
    assert same.status_code == 304


@pytest.mark.parametrize(
    "path", ["/v1/articles", "/v1/articles?category=nothing", "/v1/categories", "/v1/authors", "/v1/tags"]
)  # fmt: skip
async def test_empty_lists_send_last_modified_and_honour_it(client, path):
    first = await client.get(path)
    assert first.status_code == 200
    assert first.json()["data"] == []
    since = first.headers["last-modified"]
    assert (await client.get(path, headers={"If-Modified-Since": since})).status_code == 304


async def test_an_embargo_still_ahead_does_not_date_a_list(client, session, settings):
    """Only lifts that have come count: a list is not dated by a future publication."""
    written = hours_ago(4).replace(microsecond=0)
    await add_article(session, settings, published_at=hours_ago(5), now=written)
    await add_article(session, settings, published_at=hours_ago(-3), now=written)
    for path in ("/v1/articles", "/v1/categories"):
        modified = (await client.get(path)).headers["last-modified"]
        assert parsedate_to_datetime(modified) == written


def test_last_modified_reads_one_entry_from_the_end_of_each_index(tmp_path):
    """Dating a list must stay cheap: no scan of the articles, no sort (SQLite plans)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    Base.metadata.create_all(engine)
    statement = NEWEST_CHANGES.compile(dialect=engine.dialect)
    values = statement.construct_params({"now": dt.datetime.now(dt.UTC)})
    params = tuple(str(values[name]) for name in statement.positiontup or ())
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
        plan = [row[-1] for row in rows]
    engine.dispose()
    assert any("COVERING INDEX ix_articles_updated_at_id" in step for step in plan), plan
    assert any(
        "COVERING INDEX ix_articles_published_at_id (published_at<?)" in step for step in plan
    ), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan
