"""RSS 2.0, Atom 1.0 and JSON Feed 1.1 documents from a list of articles.

RSS and Atom are written by feedgen (lxml escapes every text node); JSON Feed is plain
JSON. Article text is text: the HTML parts are built here with every string escaped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator

from app.articles.readmodel import ArticleView, canonical_url
from app.syndication.dates import modified_at, rfc3339
from app.syndication.identity import article_uri
from app.syndication.text import (
    body_html,
    corrections_html,
    summary_html,
    summary_text,
    xml_safe,
)

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
MEDIA_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json",
}


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """What describes the feed itself."""

    feed_id: str
    title: str
    description: str
    home_url: str
    self_url: str
    language: str
    publisher: str
    base_url: str
    updated: dt.datetime  # the newest publication or change among the items
    full: bool  # full bodies (keys with `syndicate`) or summaries


def render(kind: str, info: FeedInfo, views: Sequence[ArticleView]) -> bytes:
    if kind == "rss":
        return rss(info, views)
    if kind == "atom":
        return atom(info, views)
    return json_feed(info, views)


def _content_html(view: ArticleView, info: FeedInfo) -> str:
    return body_html(view) + corrections_html(view) if info.full else summary_html(view)


def _json_content_html(view: ArticleView, info: FeedInfo) -> str:
    """A JSON Feed item has no HTML summary beside its content (`summary` is plain text),
    so the full content leads with the dek and takeaways that RSS and Atom carry apart."""
    if not info.full or not (view.dek or view.takeaways):
        return _content_html(view, info)
    return summary_html(view) + "\n" + _content_html(view, info)


def _generator(info: FeedInfo) -> FeedGenerator:
    feed = FeedGenerator()
    feed.id(info.feed_id)
    feed.title(xml_safe(info.title))
    feed.description(xml_safe(info.description))
    feed.language(info.language)
    feed.updated(info.updated)
    feed.author({"name": xml_safe(info.publisher), "uri": info.base_url})
    feed.generator("Byline")
    return feed


def rss(info: FeedInfo, views: Sequence[ArticleView]) -> bytes:
    feed = _generator(info)
    feed.load_extension("dc", atom=False, rss=True)
    feed.link(href=info.self_url, rel="self", type="application/rss+xml")
    feed.link(href=info.home_url, rel="alternate")  # feedgen gives RSS the last link added
    for view in views:
        entry = feed.add_entry(order="append")
        entry.title(xml_safe(view.headline))
        entry.link(href=canonical_url(view, info.base_url))
        entry.guid(article_uri(view.id), permalink=False)
        entry.description(xml_safe(summary_html(view)))
        if info.full:
            # Becomes <content:encoded>; the summary stays in <description>.
            entry.content(xml_safe(body_html(view) + corrections_html(view)))
        if view.published_at is not None:
            entry.pubDate(view.published_at)
        for author in view.authors:
            entry.dc.dc_creator(xml_safe(author.name))
        _categories(entry, view, info)
    return bytes(feed.rss_str(pretty=False))


def atom(info: FeedInfo, views: Sequence[ArticleView]) -> bytes:
    feed = _generator(info)
    feed.link(href=info.self_url, rel="self", type="application/atom+xml")
    feed.link(href=info.home_url, rel="alternate", type="text/html")
    for view in views:
        entry = feed.add_entry(order="append")
        entry.id(article_uri(view.id))
        entry.title(xml_safe(view.headline))
        entry.updated(modified_at(view))
        if view.published_at is not None:
            entry.published(view.published_at)
        entry.link(href=canonical_url(view, info.base_url), rel="alternate", type="text/html")
        # Atom wants an author on every entry; an article without a byline is the publisher's.
        names = [a.name for a in view.authors] or [info.publisher]
        entry.author([{"name": xml_safe(name)} for name in names])
        entry.summary(xml_safe(summary_html(view)), type="html")
        if info.full:
            entry.content(xml_safe(_content_html(view, info)), type="html")
        entry.rights(xml_safe(f"Copyright {view.copyright_holder}. {view.usage_terms}"))
        _categories(entry, view, info)
    return bytes(feed.atom_str(pretty=False))


def _categories(entry: FeedEntry, view: ArticleView, info: FeedInfo) -> None:
    """The category, then one element per tag (RSS shows the label, Atom the term and label)."""
    terms = [(view.category, f"{info.base_url}/v1/categories")]
    terms += [(tag, f"{info.base_url}/v1/tags") for tag in view.tags]
    entry.category(
        [{"term": ref.slug, "label": xml_safe(ref.name), "scheme": scheme} for ref, scheme in terms]
    )


def json_feed(info: FeedInfo, views: Sequence[ArticleView]) -> bytes:
    document = {
        "version": JSON_FEED_VERSION,
        "title": info.title,
        "home_page_url": info.home_url,
        "feed_url": info.self_url,
        "description": info.description,
        "language": info.language,
        "authors": [{"name": info.publisher, "url": info.base_url}],
        "items": [_json_item(view, info) for view in views],
    }
    return orjson.dumps(document)


def _json_item(view: ArticleView, info: FeedInfo) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": article_uri(view.id),
        "url": canonical_url(view, info.base_url),
        "title": view.headline,
        "summary": summary_text(view),
        "content_html": _json_content_html(view, info),
    }
    if view.published_at is not None:
        item["date_published"] = rfc3339(view.published_at)
    item["date_modified"] = rfc3339(modified_at(view))
    if view.authors:
        item["authors"] = [
            {"name": a.name, "url": f"{info.base_url}/v1/authors/{a.slug}"} for a in view.authors
        ]
    item["tags"] = [view.category.name, *(tag.name for tag in view.tags)]
    item["language"] = view.language
    return item
