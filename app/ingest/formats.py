"""Recognise an import format and parse documents in it: plain text, Markdown, JSON, NDJSON."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from enum import StrEnum
from pathlib import PurePosixPath

from app.articles.schemas import ArticleCreate
from app.ingest.errors import Anchor, ImportFormatError, build_article
from app.ingest.markdown import parse_markdown
from app.ingest.plaintext import parse_plaintext

MAX_JSON_DEPTH = 64


class Format(StrEnum):
    PLAINTEXT = "text/plain"
    MARKDOWN = "text/markdown"
    JSON = "application/json"
    NDJSON = "application/x-ndjson"


class UnsupportedFormat(ValueError):
    """Neither the media type nor the file name says which import format a document is in."""


MEDIA_TYPES: dict[str, Format] = {
    "text/plain": Format.PLAINTEXT,
    "text/markdown": Format.MARKDOWN,
    "text/x-markdown": Format.MARKDOWN,
    "application/json": Format.JSON,
    "application/x-ndjson": Format.NDJSON,
    "application/ndjson": Format.NDJSON,
    "application/jsonl": Format.NDJSON,
    "application/x-jsonlines": Format.NDJSON,
}

EXTENSIONS: dict[str, Format] = {
    ".txt": Format.PLAINTEXT,
    ".md": Format.MARKDOWN,
    ".markdown": Format.MARKDOWN,
    ".json": Format.JSON,
    ".ndjson": Format.NDJSON,
    ".jsonl": Format.NDJSON,
}

_TYPE_NAMES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}


def detect_format(content_type: str | None = None, filename: str | None = None) -> Format:
    """The format named by the media type (parameters ignored), else by the file extension."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type in MEDIA_TYPES:
        return MEDIA_TYPES[media_type]
    # A generic type (application/octet-stream from curl, say) defers to the file name.
    extension = PurePosixPath(filename or "").suffix.lower()
    if extension in EXTENSIONS:
        return EXTENSIONS[extension]
    given = " or ".join(repr(value) for value in (content_type, filename) if value) or "nothing"
    raise UnsupportedFormat(
        f"unsupported import format ({given}); use one of {', '.join(MEDIA_TYPES)}"
    )


def parse_document(
    data: str, fmt: Format, *, year: int | None = None, now: dt.datetime | None = None
) -> ArticleCreate:
    """Parse a document holding one article; NDJSON holds many, so it goes to parse_ndjson."""
    if fmt is Format.PLAINTEXT:
        return parse_plaintext(data, year=year, now=now)
    if fmt is Format.MARKDOWN:
        return parse_markdown(data, year=year, now=now)
    if fmt is Format.JSON:
        return parse_json(data)
    raise UnsupportedFormat(f"{fmt.value} holds many articles: read it with parse_ndjson")


def parse_json(data: str, *, line: int | None = None) -> ArticleCreate:
    """An ArticleCreate from a JSON object; `line` places the errors of an NDJSON line."""
    value = load_json(data, line=line)
    if not isinstance(value, dict):
        kind = _TYPE_NAMES.get(type(value), "a number" if value is not None else "null")
        raise ImportFormatError(f"expected a JSON object (an article), found {kind}", line=line)
    return build_article(value, default=Anchor(line=line))


def parse_ndjson(data: str) -> Iterator[tuple[int, ArticleCreate | ImportFormatError]]:
    """(line number from 1, article or error) for every non-blank line; bad lines never stop it."""
    for number, text in enumerate(data.removeprefix("\ufeff").split("\n"), start=1):
        if not text.strip():
            continue
        try:
            yield number, parse_json(text, line=number)
        except ImportFormatError as exc:
            yield number, exc


def load_json(data: str, *, line: int | None = None) -> object:
    """Decode JSON, refusing NaN/Infinity and nesting deeper than MAX_JSON_DEPTH."""
    try:
        value: object = json.loads(data, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise _decode_error(exc, line) from None
    except (ValueError, RecursionError) as exc:
        # Python's own limits (integer digits, recursion) surface here, never as a 500.
        message = "nests too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise ImportFormatError(f"invalid JSON: {message}", line=line) from None
    if depth_exceeds(value, MAX_JSON_DEPTH):
        raise ImportFormatError(
            f"invalid JSON: nesting deeper than {MAX_JSON_DEPTH} levels", line=line
        )
    return value


def depth_exceeds(value: object, limit: int) -> bool:
    """Whether containers nest deeper than `limit` (the outermost is level 1), without recursion."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _decode_error(exc: json.JSONDecodeError, line: int | None) -> ImportFormatError:
    # In a whole document the decoder's line is the one at fault; in NDJSON it is the record's.
    at = exc.lineno if line is None else line
    return ImportFormatError(f"invalid JSON: {exc.msg} (column {exc.colno})", line=at)
