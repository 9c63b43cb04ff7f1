"""Pydantic schemas of the article API: what comes in, and the documented shapes going out."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    StringConstraints,
    model_validator,
)

from app.core.text import Plain

MAX_HEADLINE = 300
MAX_TAKEAWAYS = 20
MAX_SECTIONS = 200
MAX_PARAGRAPHS = 500
MAX_TEXT = 20_000

# Every text a client sends is trimmed, printable and not blank (app/core/text.py).
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT), Plain
]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Plain
]
Slug = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
    ),
]


# RFC 3339 section 5.6 (its note allows a space for the "T"): a whole date-time with an offset.
RFC3339 = re.compile(
    r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d)", re.ASCII
)
RFC3339_HINT = "must be an RFC 3339 date-time with a UTC offset, e.g. 2025-05-16T10:34:00-04:00"


def _rfc3339_text(value: object) -> object:
    """Only RFC 3339 text (or a datetime, from importers): pydantic alone would also take
    numbers and digit strings as Unix times, and dates as midnight."""
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not RFC3339.fullmatch(value):
        raise ValueError(RFC3339_HINT)
    return value


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a UTC offset (RFC 3339)")
    try:
        value.astimezone(dt.UTC)  # stored in UTC: an instant beyond years 1-9999 cannot be
    except OverflowError:
        raise ValueError("is out of range: in UTC it falls outside the years 1 to 9999") from None
    return value


AwareDatetime = Annotated[dt.datetime, BeforeValidator(_rfc3339_text), AfterValidator(_aware)]


Status = Literal["draft", "scheduled", "published", "retracted"]


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class InputSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NamedRef(InputSchema):
    """A category, author or tag as an object.

    With a name it is created if new (the slug derived from the name when absent); with
    only a slug it must already exist.
    """

    slug: Slug | None = None
    name: ShortText | None = None

    @model_validator(mode="after")
    def _slug_or_name(self) -> NamedRef:
        if self.slug is None and self.name is None:
            raise ValueError("give a slug, a name, or both")
        return self


RefInput = ShortText | NamedRef


class SectionInput(InputSchema):
    heading: Text | None = None
    # A heading may stand alone (an import's heading followed by another heading).
    paragraphs: Annotated[list[Text], Field(max_length=MAX_PARAGRAPHS)]

    @model_validator(mode="after")
    def _heading_or_paragraphs(self) -> SectionInput:
        if self.heading is None and not self.paragraphs:
            raise ValueError("a section needs a heading or paragraphs")
        return self


class RightsInput(InputSchema):
    copyright_holder: ShortText | None = None
    usage_terms: Text | None = None
    syndication: StrictBool = True  # a JSON boolean: "no", 0 or "false" are not taken as false


class ArticleContent(InputSchema):
    """What an article says, as a client or an importer gives it: every input field but
    `status`, which creating and replacing treat differently."""

    slug: Slug | None = None
    headline: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_HEADLINE), Plain
    ]
    dek: Text | None = None
    category: RefInput
    authors: Annotated[list[RefInput], Field(max_length=50)] = []
    published_at: AwareDatetime | None = None
    language: (
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")] | None
    ) = None
    takeaways: Annotated[list[Text], Field(max_length=MAX_TAKEAWAYS)] = []
    sections: Annotated[list[SectionInput], Field(max_length=MAX_SECTIONS)] = []
    tags: Annotated[list[RefInput], Field(max_length=100)] = []
    rights: RightsInput | None = None


class ArticleCreate(ArticleContent):
    """An article as a client or an importer gives it."""

    status: Literal["draft", "published"] | None = None


class ArticleReplace(ArticleContent):
    """A PUT body: an article input, or the article as GET gave it, edited.

    The representation's read-only fields may come back with it and are ignored, except
    that `id` must be this article's and `status` its current one (a status changes by
    /publish, /unpublish and /retract, never by PUT).
    """

    id: str | None = None
    status: Status | None = None  # any the article can show
    url: JsonValue = None
    updated_at: JsonValue = None
    embargo_until: JsonValue = None
    word_count: JsonValue = None
    reading_time_minutes: JsonValue = None
    revision: JsonValue = None
    corrections: JsonValue = None
    links: JsonValue = None

    def content(self) -> ArticleCreate:
        """The input proper: what PUT writes once `id` and `status` are checked."""
        names = set(ArticleContent.model_fields)
        fields = {name: getattr(self, name) for name in names}  # validated already
        return ArticleCreate.model_construct(self.model_fields_set & names, **fields)


# ---- output shapes (documented in OpenAPI; the bytes are built by app/articles/faces.py)


class RefRead(Schema):
    slug: str
    name: str


class SectionRead(Schema):
    heading: str | None
    paragraphs: list[str]


class CorrectionRead(Schema):
    published_at: dt.datetime
    text: str


class RightsRead(Schema):
    copyright_holder: str
    usage_terms: str
    syndication: bool


class ArticleLinks(Schema):
    self: str
    ninjs: str
    jsonld: str


class ArticleRead(Schema):
    """The full representation of an article."""

    id: str
    slug: str
    url: str
    headline: str
    dek: str | None
    category: RefRead
    authors: list[RefRead]
    status: Literal["draft", "scheduled", "published", "retracted"]
    published_at: dt.datetime | None
    updated_at: dt.datetime
    embargo_until: dt.datetime | None
    language: str
    takeaways: list[str]
    sections: list[SectionRead]
    tags: list[RefRead]
    word_count: int
    reading_time_minutes: int
    revision: int
    corrections: list[CorrectionRead]
    rights: RightsRead
    links: ArticleLinks


class ArticleSummary(Schema):
    """An article in a list; `highlight` is present on full-text hits."""

    id: str
    slug: str
    url: str
    headline: str
    dek: str | None
    category: RefRead
    authors: list[RefRead]
    published_at: dt.datetime | None
    updated_at: dt.datetime
    takeaways: list[str]
    word_count: int
    links: ArticleLinks
    highlight: str | None = None
    status: Literal["draft", "scheduled", "published", "retracted"] | None = None


class ArticleSummaryFields(Schema):
    """An article summary narrowed by `fields=`: the id and only the fields asked for."""

    id: str
    slug: str | None = None
    url: str | None = None
    headline: str | None = None
    dek: str | None = None
    category: RefRead | None = None
    authors: list[RefRead] | None = None
    status: Status | None = None
    published_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    takeaways: list[str] | None = None
    word_count: int | None = None
    links: ArticleLinks | None = None
    highlight: str | None = None


class ArticleFields(ArticleSummaryFields):
    """A full article narrowed by `fields=`."""

    embargo_until: dt.datetime | None = None
    language: str | None = None
    sections: list[SectionRead] | None = None
    tags: list[RefRead] | None = None
    reading_time_minutes: int | None = None
    revision: int | None = None
    corrections: list[CorrectionRead] | None = None
    rights: RightsRead | None = None


class FacetCount(Schema):
    slug: str
    name: str
    count: int


class ListMeta(Schema):
    limit: int
    next_cursor: str | None
    total: int | None = None
    facets: dict[str, list[FacetCount]] | None = None


class ListLinks(Schema):
    self: str
    next: str | None


class ArticleList(Schema):
    data: list[ArticleSummary | ArticleSummaryFields]
    meta: ListMeta
    links: ListLinks


class Tombstone(Schema):
    """What readers get, with a 410, for a retracted or deleted article."""

    id: str
    slug: str
    status: Literal["retracted", "deleted"]
    retracted_at: dt.datetime | None = None
    deleted_at: dt.datetime | None = None
    reason: str | None


class CategoryRead(Schema):
    slug: str
    name: str
    article_count: int


class AuthorRead(Schema):
    slug: str
    name: str
    bio: str | None
    article_count: int


class TagRead(Schema):
    slug: str
    name: str
    article_count: int


class CategoryList(Schema):
    data: list[CategoryRead]


class AuthorList(Schema):
    data: list[AuthorRead]


class TagList(Schema):
    data: list[TagRead]


class RelatedList(Schema):
    data: list[ArticleSummary | ArticleSummaryFields]
