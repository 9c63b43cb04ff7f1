"""The schema.org NewsArticle of an article, as JSON-LD that is safe to embed in a page."""

from __future__ import annotations

from typing import Any

import orjson

from app.articles.readmodel import ArticleView, canonical_url
from app.syndication.dates import modified_at, rfc3339
from app.syndication.identity import article_uri
from app.syndication.text import body_text

# Inside a <script> element "</script>" or "<!--" would end or confuse the block: JSON
# may write these characters as escapes, and a parser reads back the same text.
_HTML_SAFE = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"))


def jsonld_document(
    view: ArticleView, *, full: bool, base_url: str, publisher: str
) -> dict[str, Any]:
    url = canonical_url(view, base_url)
    doc: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "@id": article_uri(view.id),
        "identifier": article_uri(view.id),
        "url": url,
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "headline": view.headline,
    }
    if view.dek:
        doc["description"] = view.dek
    if view.published_at is not None:
        doc["datePublished"] = rfc3339(view.published_at)
    doc["dateModified"] = rfc3339(modified_at(view))
    doc["author"] = [
        {"@type": "Person", "name": a.name, "url": f"{base_url}/v1/authors/{a.slug}"}
        for a in view.authors
    ]
    doc["articleSection"] = view.category.name
    doc["keywords"] = [tag.name for tag in view.tags]
    doc["inLanguage"] = view.language
    doc["publisher"] = {"@type": "Organization", "name": publisher, "url": base_url}
    doc["copyrightHolder"] = {"@type": "Organization", "name": view.copyright_holder}
    doc["wordCount"] = view.word_count
    if full:
        doc["articleBody"] = body_text(view)
    return doc


def html_safe_json(data: Any) -> bytes:
    """JSON without a raw `<`, `>` or `&` anywhere (API.md section 9)."""
    return html_safe(orjson.dumps(data))


def html_safe(body: bytes) -> bytes:
    """Encoded JSON with `<`, `>` and `&` written as escapes: the same JSON, safe in a page.

    Outside strings JSON never uses these characters, so a byte replacement is exact.
    """
    for raw, escaped in _HTML_SAFE:
        body = body.replace(raw, escaped)
    return body
