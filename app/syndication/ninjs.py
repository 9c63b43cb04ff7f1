"""IPTC ninjs 2.2 and 3.1 documents of an article (field mapping: docs/SYNDICATION.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.articles.readmodel import ArticleView, canonical_url
from app.syndication.dates import modified_at, rfc3339
from app.syndication.identity import article_uri
from app.syndication.text import body_html, body_text, byline

VERSIONS = ("2.2", "3.1")
SCHEMAS = {
    "2.2": "http://www.iptc.org/std/ninjs/ninjs-schema_2.2.json#",
    "3.1": "http://www.iptc.org/std/ninjs/ninjs-schema_3.1.json#",
}
# ninjs 3.x renamed these 2.x keys (and nothing else we use); values never change.
CAMEL_CASE = {
    "representationtype": "representationType", "firstcreated": "firstCreated",
    "versioncreated": "versionCreated", "contentcreated": "contentCreated",
    "embargoed": "embargoedUntil", "pubstatus": "pubStatus",
    "copyrightholder": "copyrightHolder", "copyrightnotice": "copyrightNotice",
    "usageterms": "usageTerms", "ednote": "edNote", "altids": "altIds",
    "contenttype": "contentType", "charcount": "charCount", "wordcount": "wordCount",
}  # fmt: skip


def ninjs_document(
    view: ArticleView, *, version: str, full: bool, base_url: str, now: dt.datetime
) -> dict[str, Any]:
    """The article in ninjs `version`; a retracted or deleted one is `pubstatus: canceled`."""
    doc = _canceled(view) if view.is_tombstone else _usable(view, full, base_url, now)
    if version != "2.2":
        doc = {CAMEL_CASE.get(key, key): _renamed(value) for key, value in doc.items()}
    doc["standard"] = {"name": "ninjs", "version": version, "schema": SCHEMAS[version]}
    return doc


def _usable(view: ArticleView, full: bool, base_url: str, now: dt.datetime) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "uri": article_uri(view.id),
        "type": "text",
        "representationtype": "full" if full else "partial",
        "version": str(view.revision),
        "firstcreated": rfc3339(view.created_at),
        "versioncreated": rfc3339(modified_at(view)),
    }
    if view.published_at is not None:
        doc["contentcreated"] = rfc3339(view.published_at)
    if view.embargo_until is not None:
        doc["embargoed"] = rfc3339(view.embargo_until)
    # Only editors ever get a document of an article readers cannot see yet.
    doc["pubstatus"] = "usable" if view.is_public(now) else "withheld"
    doc.update(_rights(view))
    doc["language"] = view.language
    doc["headlines"] = [{"role": "main", "contenttype": "text/plain", "value": view.headline}]
    if descriptions := _descriptions(view):
        doc["descriptions"] = descriptions
    if full:
        doc["bodies"] = _bodies(view)
    if view.authors:
        doc["by"] = byline([a.name for a in view.authors])
        doc["people"] = [
            {"name": a.name, "rel": "author", "uri": f"{base_url}/v1/authors/{a.slug}",
             "literal": a.slug}
            for a in view.authors
        ]  # fmt: skip
    doc["subjects"] = _subjects(view, base_url)
    doc["slugline"] = view.slug
    doc["altids"] = [
        {"role": "id", "value": view.id},
        {"role": "url", "value": canonical_url(view, base_url)},
    ]
    return doc


def _rights(view: ArticleView) -> dict[str, str]:
    year = (view.published_at or view.created_at).year
    return {
        "copyrightholder": view.copyright_holder,
        "copyrightnotice": f"Copyright {year} {view.copyright_holder}",
        "usageterms": view.usage_terms,
    }


def _descriptions(view: ArticleView) -> list[dict[str, str]]:
    """The dek, each key takeaway in order, then each published correction."""
    texts = [("summary", view.dek)] if view.dek else []
    texts += [("takeaway", text) for text in view.takeaways]
    texts += [("correction", c.text) for c in view.corrections]
    return [{"role": role, "contenttype": "text/plain", "value": text} for role, text in texts]


def _bodies(view: ArticleView) -> list[dict[str, Any]]:
    text = body_text(view)
    return [
        {"role": "main", "contenttype": "text/plain", "charcount": len(text),
         "wordcount": view.word_count, "value": text},
        {"role": "main", "contenttype": "text/html", "value": body_html(view)},
    ]  # fmt: skip


def _subjects(view: ArticleView, base_url: str) -> list[dict[str, str]]:
    category = view.category
    return [
        {"name": category.name, "rel": "category",
         "uri": f"{base_url}/v1/categories/{category.slug}", "literal": category.slug},
        *({"name": tag.name, "rel": "tag", "literal": tag.slug} for tag in view.tags),
    ]  # fmt: skip


def _canceled(view: ArticleView) -> dict[str, Any]:
    """A tombstone: enough for a partner to find the item and take it down, and no content."""
    gone_at = view.deleted_at or view.retracted_at or view.updated_at
    doc: dict[str, Any] = {
        "uri": article_uri(view.id),
        "type": "text",
        "representationtype": "partial",
        "version": str(view.revision),
        "firstcreated": rfc3339(view.created_at),
        "versioncreated": rfc3339(gone_at),
        "pubstatus": "canceled",
        "language": view.language,
    }
    if view.tombstone_reason:
        doc["ednote"] = f"{view.status.capitalize()}: {view.tombstone_reason}"
    doc["altids"] = [{"role": "id", "value": view.id}]
    return doc


def _renamed(node: object) -> object:
    """A 2.2 document with the keys 3.x renamed; only our own keys are dict keys."""
    if isinstance(node, dict):
        return {CAMEL_CASE.get(key, key): _renamed(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_renamed(item) for item in node]
    return node
