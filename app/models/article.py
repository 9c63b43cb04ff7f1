"""The article aggregate: articles and everything they are made of, and their revisions."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, UTCDateTime
from app.models.types import JSONType


class ArticleStatus(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    RETRACTED = "retracted"
    DELETED = "deleted"


STATUS_VALUES = ", ".join(f"'{status.value}'" for status in ArticleStatus)


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class Author(Base):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    bio: Mapped[str | None] = mapped_column(Text)


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (
        CheckConstraint(f"status IN ({STATUS_VALUES})", name="status"),
        # Keyset pages seek (published_at, id) and check status from the same index.
        Index("ix_articles_published_at_id", "published_at", "id", "status"),
        Index("ix_articles_updated_at_id", "updated_at", "id"),
        Index("ix_articles_category_published", "category_id", "published_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    headline: Mapped[str] = mapped_column(String(300))
    dek: Mapped[str | None] = mapped_column(Text)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    status: Mapped[str] = mapped_column(String(16), default=ArticleStatus.DRAFT.value)
    # The instant in UTC, plus the UTC offset (minutes) the article was filed with.
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    published_offset: Mapped[int | None] = mapped_column(Integer)
    embargo_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    language: Mapped[str] = mapped_column(String(35), default="en")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    word_count: Mapped[int] = mapped_column(Integer, default=0)
    reading_time_minutes: Mapped[int] = mapped_column(Integer, default=1)
    copyright_holder: Mapped[str] = mapped_column(String(300))
    usage_terms: Mapped[str] = mapped_column(Text)
    syndication: Mapped[bool] = mapped_column(Boolean, default=True)
    retracted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    tombstone_reason: Mapped[str | None] = mapped_column(Text)

    category: Mapped[Category] = relationship(lazy="raise")
    authors: Mapped[list[ArticleAuthor]] = relationship(
        lazy="raise", order_by="ArticleAuthor.position", cascade="all, delete-orphan"
    )
    tags: Mapped[list[ArticleTag]] = relationship(
        lazy="raise", order_by="ArticleTag.position", cascade="all, delete-orphan"
    )
    sections: Mapped[list[Section]] = relationship(
        lazy="raise", order_by="Section.position", cascade="all, delete-orphan"
    )
    takeaways: Mapped[list[Takeaway]] = relationship(
        lazy="raise", order_by="Takeaway.position", cascade="all, delete-orphan"
    )
    corrections: Mapped[list[Correction]] = relationship(
        lazy="raise", order_by="Correction.position", cascade="all, delete-orphan"
    )


class ArticleAuthor(Base):
    """One place in an article's byline."""

    __tablename__ = "article_authors"
    __table_args__ = (Index("ix_article_authors_author", "author_id", "article_id"),)

    article_id: Mapped[str] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))

    author: Mapped[Author] = relationship(lazy="raise")


class ArticleTag(Base):
    __tablename__ = "article_tags"
    __table_args__ = (Index("ix_article_tags_tag", "tag_id", "article_id"),)

    article_id: Mapped[str] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)

    tag: Mapped[Tag] = relationship(lazy="raise")


class Section(Base):
    """A heading (null for the opening paragraphs) and its ordered paragraphs."""

    __tablename__ = "sections"
    __table_args__ = (UniqueConstraint("article_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[str] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str | None] = mapped_column(Text)
    # Paragraphs are only ever read and written with their section, in order, so they
    # live as one JSON array rather than as millions of tiny rows.
    paragraphs: Mapped[list[str]] = mapped_column(JSONType)


class Takeaway(Base):
    __tablename__ = "takeaways"

    article_id: Mapped[str] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)


class Correction(Base):
    __tablename__ = "corrections"

    article_id: Mapped[str] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text)


class Revision(Base):
    """A full snapshot of the article as it was at one revision."""

    __tablename__ = "revisions"

    article_id: Mapped[str] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType)


class FormerSlug(Base):
    """A slug an article gave up (an editor changed it), so that old links still lead to it.

    A slug is here only while no article holds it: taking it back, or another article
    taking it, removes the row in the same transaction (app/articles/editing.py).
    """

    __tablename__ = "former_slugs"

    slug: Mapped[str] = mapped_column(String(200), primary_key=True)
    article_id: Mapped[str] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    retired_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
