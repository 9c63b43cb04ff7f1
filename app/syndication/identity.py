"""The one identifier of an article across every syndication format."""

from __future__ import annotations

URN_PREFIX = "urn:byline:"


def article_uri(article_id: str) -> str:
    """The ninjs `uri`, Atom `id`, JSON Feed `id` and RSS `guid` of an article.

    Built from the article's id alone, which never changes: an edit, a new slug or a new
    headline keeps it, and so does moving the service to another public base URL. It is a
    URN, not a URL, so partners never mistake it for a link (the link is the `url`).
    """
    return f"{URN_PREFIX}article:{article_id}"


def feed_uri(category: str | None) -> str:
    """The Atom `id` of a feed: all articles, or one category's."""
    return f"{URN_PREFIX}feed:{'all' if category is None else 'category:' + category}"
