"""Errors of the import parsers, each naming the block, line or field of the document at fault."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import NamedTuple

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from app.articles.schemas import ArticleCreate
from app.core.errors import message_of

Loc = tuple[int | str, ...]

OUT_OF_RANGE = "in UTC it falls outside the years 1 to 9999"

_TYPE_MISMATCHES = frozenset({"string_type", "model_type", "dict_type", "model_attributes_type"})


class Anchor(NamedTuple):
    """Where something sits in the source document (1-based; None when unknown)."""

    line: int | None = None
    block: int | None = None


class ImportFormatError(Exception):
    """A document that cannot become an article; `str()` reads like `block 5 (line 9): …`."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        block: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.block = block
        self.field = field
        # Further problems found in the same document, so a client can fix them all at once.
        self.more: tuple[ImportFormatError, ...] = ()

    @classmethod
    def at(cls, anchor: Anchor, message: str, *, field: str | None = None) -> ImportFormatError:
        return cls(message, line=anchor.line, block=anchor.block, field=field)

    @property
    def where(self) -> str:
        """The position as words: `block 5 (line 9)`, `line 9`, `block 5` or empty."""
        if self.block is not None and self.line is not None:
            return f"block {self.block} (line {self.line})"
        if self.block is not None:
            return f"block {self.block}"
        return f"line {self.line}" if self.line is not None else ""

    @property
    def loc(self) -> list[str]:
        """A 422 `loc`: `["body", "block 5"]`, `["body", "line 9"]`, then the field path if any."""
        position = f"block {self.block}" if self.block is not None else None
        if position is None and self.line is not None:
            position = f"line {self.line}"
        fields = self.field.split(".") if self.field else []
        return ["body", *([position] if position else []), *fields]

    def all(self) -> list[ImportFormatError]:
        """This error followed by the others found in the same document."""
        return [self, *self.more]

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


def errors_from_validation(
    exc: ValidationError,
    anchors: Mapping[Loc, Anchor] | None = None,
    *,
    default: Anchor = Anchor(),
) -> list[ImportFormatError]:
    """One ImportFormatError per pydantic error, placed by the longest matching prefix in `anchors`."""
    found = []
    for loc, msg in _relevant(exc.errors(include_url=False)):
        field = ".".join(str(part) for part in loc) or None
        message = f"{field}: {msg}" if field else msg
        found.append(
            ImportFormatError.at(_locate(loc, anchors or {}, default), message, field=field)
        )
    # Report in document order, so the first error is the first thing a writer would fix.
    return sorted(found, key=_position)


def build_article(
    payload: Mapping[str, object],
    anchors: Mapping[Loc, Anchor] | None = None,
    *,
    default: Anchor = Anchor(),
) -> ArticleCreate:
    """Validate `payload` as an ArticleCreate, raising the first problem as an ImportFormatError."""
    try:
        return ArticleCreate.model_validate(payload)
    except ValidationError as exc:
        first, *rest = errors_from_validation(exc, anchors, default=default)
        first.more = tuple(rest)
        raise first from exc


def out_of_range(value: dt.datetime) -> bool:
    """Whether an instant has no UTC equivalent (9999-12-31T23:00-05:00 is in year 10000 in UTC).

    ArticleCreate refuses such an instant as well; the parsers check first, so that their
    message quotes the dateline or the front matter key as it was written.
    """
    try:
        value.astimezone(dt.UTC)
    except OverflowError:
        return True
    return False


def _relevant(details: list[ErrorDetails]) -> list[tuple[Loc, str]]:
    """(field path, message) pairs with the noise of unions removed.

    A union (a name or a `{slug, name}` object) fails once per branch; the branch that merely
    did not match the input's type says nothing useful when another branch explains more.
    """
    specific = [_path(d["loc"]) for d in details if d["type"] not in _TYPE_MISMATCHES]
    kept: list[tuple[Loc, str]] = []
    for detail in details:
        path = _path(detail["loc"])
        in_branch = len(path) != len(detail["loc"])
        mismatch = detail["type"] in _TYPE_MISMATCHES
        explained = any(other[: len(path)] == path for other in specific)
        if in_branch and mismatch and (explained or any(path == seen for seen, _ in kept)):
            continue
        kept.append((path, message_of(detail)))
    return kept


def _path(loc: Loc) -> Loc:
    """The field path of a pydantic loc, without the names it gives union branches.

    Fields here are snake_case, while branches are named after types: `constrained-str`, `NamedRef`.
    """
    return tuple(
        p for p in loc if not (isinstance(p, str) and (not p.isidentifier() or p[:1].isupper()))
    )


def _locate(loc: Loc, anchors: Mapping[Loc, Anchor], default: Anchor) -> Anchor:
    for end in range(len(loc), 0, -1):
        anchor = anchors.get(loc[:end])
        if anchor is not None:
            return anchor
    return default


def _position(error: ImportFormatError) -> tuple[int, int]:
    unknown = 1 << 62
    return (
        error.line if error.line is not None else unknown,
        error.block if error.block is not None else unknown,
    )
