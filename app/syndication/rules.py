"""Partner rules: who gets full content, who sees which articles, and what caches may keep."""

from __future__ import annotations

from dataclasses import dataclass

from app.access.service import KeyInfo
from app.articles.readmodel import ArticleView


@dataclass(frozen=True, slots=True)
class Audience:
    """What one caller may receive from the syndication formats.

    Every caller without the `write` scope is a partner here (anonymous callers too): an
    article whose `rights.syndication` is false never reaches a partner.
    """

    full: bool  # the `syndicate` scope: full bodies; everyone else gets summaries
    partner: bool
    categories: tuple[str, ...] | None  # the key's category limit; None is every category

    @property
    def variant(self) -> str:
        return "full" if self.full else "summary"

    def allows(self, category: str, syndication: bool) -> bool:
        """Whether this caller may receive an article of this category and syndication right."""
        if self.categories is not None and category not in self.categories:
            return False
        return syndication or not self.partner

    def sees(self, view: ArticleView) -> bool:
        return self.allows(view.category.slug, view.syndication)

    @property
    def shared_feed(self) -> bool:
        """Whether a feed for this caller is the one anonymous readers get (a CDN may keep it)."""
        return not self.full and self.partner and self.categories is None


ANONYMOUS = Audience(full=False, partner=True, categories=None)


def audience_of(caller: KeyInfo | None) -> Audience:
    if caller is None:
        return ANONYMOUS
    return Audience(
        full="syndicate" in caller.scopes,
        partner="write" not in caller.scopes,
        categories=caller.categories,
    )


def shared_article(view: ArticleView, audience: Audience) -> bool:
    """Whether one article's document may sit in shared caches: summaries of syndicated articles.

    A full body is for keys with `syndicate` only, and an article kept from syndication is
    shown to editors only, so neither may be stored by a CDN and handed to anyone else.
    """
    return not audience.full and view.syndication
