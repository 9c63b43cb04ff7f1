"""Dates as each format writes them: RFC 3339 (Atom, JSON Feed, ninjs, JSON-LD), RFC 822 (RSS)."""

from __future__ import annotations

import datetime as dt

from app.articles.readmodel import ArticleView


def rfc3339(value: dt.datetime) -> str:
    """An instant with its offset; UTC is written with Z, as the JSON API writes it."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def modified_at(view: ArticleView) -> dt.datetime:
    """When the article last changed for its readers: never before its publication (UTC).

    A scheduled article is last written before its embargo lifts, so its `updated_at` is
    earlier than its `published_at`; readers first see it, as it is, at the later of the two.
    """
    if view.published_at is None or view.published_at <= view.updated_at:
        return view.updated_at
    return view.published_at.astimezone(dt.UTC)


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
