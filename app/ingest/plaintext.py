"""Parse the plain-text article layout of API.md §6 (blocks separated by blank lines)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from app.articles.schemas import ArticleCreate
from app.ingest.errors import (
    OUT_OF_RANGE,
    Anchor,
    ImportFormatError,
    Loc,
    build_article,
    out_of_range,
)

MAX_HEADING_WORDS = 12

# Fixed offsets of the abbreviations a newsroom writes; ambiguous ones (IST, AST) are left out.
ZONE_OFFSETS: dict[str, float] = {
    "UTC": 0, "GMT": 0, "UT": 0, "Z": 0, "WET": 0, "WEST": 1, "BST": 1,
    "CET": 1, "CEST": 2, "EET": 2, "EEST": 3, "MSK": 3,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6,
    "PST": -8, "PDT": -7, "AKST": -9, "AKDT": -8, "HST": -10,
    "JST": 9, "KST": 9, "HKT": 8, "SGT": 8, "AWST": 8, "ACST": 9.5, "ACDT": 10.5,
    "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
}  # fmt: skip

DATELINE_FORMS = "M/D, HH:MM TZ, M/D/YYYY, HH:MM TZ or RFC 3339"

_NEWLINE = re.compile(r"\r\n|\r|\n")
# A 12-hour clock is accepted too (`3:04 PM`, `3:04 p.m.`): copy is often filed that way.
# AM or PM is never read as the zone, so `10:34 PM` alone lacks one.
_MERIDIEM = r"[AaPp]\.?[Mm]\.?"
_DATELINE = re.compile(
    r"(?P<month>\d{1,2})/(?P<day>\d{1,2})(?:/(?P<year>\d{4}))?,?\s+"
    rf"(?P<hour>\d{{1,2}}):(?P<minute>\d{{2}})\s*(?:(?P<meridiem>{_MERIDIEM})\s+)?"
    rf"(?P<zone>(?!{_MERIDIEM}$)[A-Za-z]+|[+-]\d{{2}}:?\d{{2}})"
)
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:\d{2})"
)
_NUMERIC_OFFSET = re.compile(r"(?P<sign>[+-])(?P<hours>\d{2}):?(?P<minutes>\d{2})")
_BYLINE = re.compile(r"by(?:\s+|$)", re.IGNORECASE)
# Captured, so that split_byline can tell a bare comma (`Lee, Jr.`) from a list separator.
# `&` separates names only as a word of its own: `AT&T Staff` is one name.
_NAME_SEPARATOR = re.compile(
    r"(\s*,\s*(?:and(?:\s+|$)|&\s*)?|(?:^|\s+)and(?:\s+|$)|(?:^|\s+)&(?:\s+|$))", re.IGNORECASE
)
# Generational suffixes, written after a comma (`Ann Lee, Jr.`): part of a name, never one.
_SUFFIX = re.compile(r"(?:jr|sr)\.?|ii|iii|iv", re.IGNORECASE)
_TAKEAWAYS_HEADER = re.compile(r"key\s+takeaways?\s*:?", re.IGNORECASE)
# `-` and `*` mark a bullet before a space or a letter (`-Two`, written without the
# space); before a digit or a sign they are text a wrapped bullet goes on with (`-5%`).
_BULLET = re.compile(r"(?:•|[-*](?=\s|$|[^\W\d_]))\s*(?P<text>.*)")
# A later block continues the takeaways only if it opens with an unmistakable bullet: a
# body paragraph may open with `*Editor's note*` or `-30-`.
_BULLET_BLOCK = re.compile(r"(?:•|[-*](?=\s))")
_CLOSERS = "\"')]}»”’›"
_SENTENCE_END = ".…"


@dataclass(frozen=True)
class Block:
    """A run of non-blank lines, trimmed; `number` and `line` are 1-based."""

    number: int
    line: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.lines)

    @property
    def anchor(self) -> Anchor:
        return Anchor(line=self.line, block=self.number)

    def error(self, message: str) -> ImportFormatError:
        return ImportFormatError.at(self.anchor, message)


def split_blocks(text: str) -> list[Block]:
    """Split a document into blocks; a line of only whitespace (tabs, NBSP too) is blank."""
    blocks: list[Block] = []
    current: list[str] = []
    start = 0
    for number, raw in enumerate(_NEWLINE.split(text.removeprefix("\ufeff")), start=1):
        line = raw.strip()
        if line and not current:
            start = number
        if line:
            current.append(line)
        elif current:
            blocks.append(Block(len(blocks) + 1, start, tuple(current)))
            current = []
    if current:
        blocks.append(Block(len(blocks) + 1, start, tuple(current)))
    return blocks


def parse_plaintext(
    text: str, *, year: int | None = None, now: datetime | None = None
) -> ArticleCreate:
    """Parse a plain-text article; raise ImportFormatError naming the block at fault."""
    blocks = split_blocks(text)
    if not blocks:
        raise ImportFormatError("the document is empty", line=1)
    reader = _Reader(blocks)
    _read_front(reader)
    dateline = reader.take("a dateline")
    try:
        reader.put("published_at", parse_dateline(dateline.text, year=year, now=now), dateline)
    except ValueError as exc:
        raise dateline.error(str(exc)) from None
    _read_takeaways(reader)
    _read_body(reader)
    return build_article(reader.payload, reader.anchors)


def parse_dateline(text: str, *, year: int | None = None, now: datetime | None = None) -> datetime:
    """An aware datetime from `M/D[/YYYY], HH:MM TZ` or RFC 3339; ValueError says what is wrong."""
    text = text.strip()
    if _RFC3339.fullmatch(text):
        return _storable(_parse_rfc3339(text), text)
    match = _DATELINE.fullmatch(text)
    if match is None:
        raise ValueError(f"dateline {quote(text)} is not {DATELINE_FORMS}")
    zone = parse_zone(match["zone"])
    parts = [int(match[name]) for name in ("month", "day", "hour", "minute")]
    if match["meridiem"]:
        if not 1 <= parts[2] <= 12:
            raise ValueError(f"dateline {quote(text)} is not a real date and time")
        parts[2] = parts[2] % 12 + (12 if match["meridiem"][0] in "Pp" else 0)
    explicit = int(match["year"]) if match["year"] else year
    if explicit is None:
        value = _latest_past(parts, zone, now)
    else:
        value = _at_year(explicit, parts, zone)
    if value is None:
        raise ValueError(f"dateline {quote(text)} is not a real date and time")
    return _storable(value, text)


def _storable(value: datetime, text: str) -> datetime:
    if out_of_range(value):
        raise ValueError(f"dateline {quote(text)} is out of range: {OUT_OF_RANGE}")
    return value


def parse_zone(name: str) -> timezone:
    """A fixed-offset zone from an abbreviation (EDT) or a numeric offset (+02:00, -0530)."""
    offset = _NUMERIC_OFFSET.fullmatch(name)
    if offset:
        hours, minutes = int(offset["hours"]), int(offset["minutes"])
        if hours > 23 or minutes > 59:
            raise ValueError(f"time zone offset {quote(name)} is out of range")
        sign = -1 if offset["sign"] == "-" else 1
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    hours_east = ZONE_OFFSETS.get(name.upper())
    if hours_east is None:
        raise ValueError(f"unknown time zone {quote(name)}")
    return timezone(timedelta(hours=hours_east), name.upper())


def split_byline(text: str) -> list[str]:
    """Author names from `A`, `A and B`, `A, B and C`, `A, B, and C` or `A & B` (no `By`).

    `A, Jr.` is one name. ValueError when a separator lacks a name on one side (`A and`).
    """
    text = text.strip()
    if not text:
        return []
    # With the separators captured, parts alternate: name, separator, name, …
    parts = [part.strip() for part in _NAME_SEPARATOR.split(text)]
    names: list[str] = []
    for index in range(0, len(parts), 2):
        name, before = parts[index], parts[index - 1] if index else ""
        if not name:
            beside = before or parts[index + 1]
            raise ValueError(f"byline {quote(text)} has no name on one side of {quote(beside)}")
        if not _SUFFIX.fullmatch(name):
            names.append(name)
        elif names and before == ",":
            names[-1] = f"{names[-1]}, {name}"
        else:
            raise ValueError(
                f"{quote(name)} in byline {quote(text)} is a suffix, not a name "
                f"(it follows a name and a comma, as in 'Ann Lee, {name}')"
            )
    return names


def byline_names(lines: Sequence[str]) -> list[str]:
    """The authors of a byline block; each line starting with `By` adds names of its own
    (`By A\nBy B` is two authors), and other lines continue the one above."""
    groups: list[str] = []
    for line in lines:
        if is_byline(line) or not groups:
            groups.append(strip_by(line))
        else:
            groups[-1] = f"{groups[-1]} {line}"
    names: list[str] = []
    for group in groups:
        found = split_byline(group)
        if not found:
            raise ValueError("the byline names no author")
        names.extend(found)
    return names


def is_byline(text: str) -> bool:
    return _BYLINE.match(text) is not None


def strip_by(text: str) -> str:
    """The names of a byline: `By A and B` -> `A and B` (text without `By` is kept whole)."""
    match = _BYLINE.match(text)
    return text[match.end() :] if match else text


def is_heading(block: Block) -> bool:
    """A one-line block of at most 12 words that does not end a sentence."""
    if len(block.lines) != 1 or len(block.text.split()) > MAX_HEADING_WORDS:
        return False
    # A quoted or bracketed sentence still ends at its period: `"It's over."` is a paragraph.
    return not block.text.rstrip(_CLOSERS).endswith(tuple(_SENTENCE_END))


def quote(text: str, limit: int = 60) -> str:
    """Quote user text in an error message, cut short so a stray paragraph stays readable."""
    return f"'{text if len(text) <= limit else text[: limit - 1] + '…'}'"


@dataclass
class _Reader:
    """Walks the blocks in order, collecting the ArticleCreate fields and where each came from."""

    blocks: list[Block]
    position: int = 0
    payload: dict[str, object] = field(default_factory=dict)
    anchors: dict[Loc, Anchor] = field(default_factory=dict)

    def peek(self, ahead: int = 0) -> Block | None:
        index = self.position + ahead
        return self.blocks[index] if index < len(self.blocks) else None

    def take(self, expected: str) -> Block:
        block = self.peek()
        if block is None:
            number = len(self.blocks) + 1
            raise ImportFormatError(
                f"expected {expected}, found the end of the document", block=number
            )
        self.position += 1
        return block

    def rest(self) -> list[Block]:
        remaining, self.position = self.blocks[self.position :], len(self.blocks)
        return remaining

    def put(self, name: str, value: object, block: Block) -> None:
        self.payload[name] = value
        self.anchors[(name,)] = block.anchor


def _read_front(reader: _Reader) -> None:
    """Category, headline, the optional dek and the byline."""
    category = reader.take("a category")
    reader.put("category", category.text, category)
    headline = reader.take("a headline")
    reader.put("headline", headline.text, headline)
    if not _starts_byline(reader):
        dek = reader.take("a dek or a byline")
        reader.put("dek", dek.text, dek)
    byline = reader.take("a byline starting with 'By '")
    if not is_byline(byline.text):
        raise byline.error("expected a byline starting with 'By '")
    try:
        reader.put("authors", byline_names(byline.lines), byline)
    except ValueError as exc:
        raise byline.error(str(exc)) from None


def _starts_byline(reader: _Reader) -> bool:
    """Whether the block after the headline is the byline rather than a dek.

    A dek may itself begin with "By" ("By the numbers: …"); it is a dek when a byline follows it.
    """
    here, after = reader.peek(), reader.peek(1)
    return here is not None and is_byline(here.text) and not (after and is_byline(after.text))


def _read_takeaways(reader: _Reader) -> None:
    """The optional header, then its bullets: the next block, and each block after it that
    also starts with a bullet (writers often leave blank lines between bullets)."""
    header = reader.peek()
    if header is None or len(header.lines) != 1:
        return
    if not _TAKEAWAYS_HEADER.fullmatch(header.text):
        return
    reader.position += 1
    bullets = reader.peek()
    if bullets is None:
        raise header.error(f"{quote(header.text)} is not followed by a block of bullet lines")
    items: list[str] = []
    reader.put("takeaways", items, bullets)
    _add_bullets(reader, items, bullets, header)
    while (more := reader.peek()) is not None and _is_bullet_block(more):
        _add_bullets(reader, items, more, header)


def _add_bullets(reader: _Reader, items: list[str], block: Block, header: Block) -> None:
    """Take the block's bullets, each placed at its block for error messages."""
    reader.position += 1
    for text in _bullet_items(block, header):
        reader.anchors[("takeaways", len(items))] = block.anchor
        items.append(text)


def _is_bullet_block(block: Block) -> bool:
    """A block that starts with a bullet; later unmarked lines continue a wrapped bullet."""
    return _BULLET_BLOCK.match(block.lines[0]) is not None


def _bullet_items(block: Block, header: Block) -> list[str]:
    """Bullet texts without their markers; an unmarked line continues the bullet above it."""
    items: list[str] = []
    for line in block.lines:
        bullet = _BULLET.fullmatch(line)
        if bullet:
            items.append(bullet["text"].strip())
        elif items:
            items[-1] = f"{items[-1]} {line}".strip()
        else:
            raise block.error(
                f"expected bullet lines (•, - or *) after {quote(header.text)}, found {quote(line)}"
            )
    return items


@dataclass
class _Section:
    start: Block
    heading: str | None
    paragraphs: list[Block] = field(default_factory=list)


def _read_body(reader: _Reader) -> None:
    """Sections by the heading rule, as API.md 6 words it: a heading followed by another
    heading (a one-line question, a credit line at the end) is a section of no paragraphs,
    not an error. A body with no paragraph at all is."""
    sections: list[_Section] = []
    for block in reader.rest():
        if is_heading(block):
            sections.append(_Section(block, block.text))
        elif sections:
            sections[-1].paragraphs.append(block)
        else:
            sections.append(_Section(block, None, [block]))
    if not sections:
        raise ImportFormatError(
            "expected the article body, found the end of the document",
            block=len(reader.blocks) + 1,
        )
    if not any(section.paragraphs for section in sections):
        raise sections[0].start.error("the body has headings but no paragraphs")
    _put_sections(reader, sections)


def _put_sections(reader: _Reader, sections: list[_Section]) -> None:
    reader.payload["sections"] = [
        {"heading": section.heading, "paragraphs": [block.text for block in section.paragraphs]}
        for section in sections
    ]
    reader.anchors[("sections",)] = sections[0].start.anchor
    for index, section in enumerate(sections):
        reader.anchors[("sections", index)] = section.start.anchor
        for number, block in enumerate(section.paragraphs):
            reader.anchors[("sections", index, "paragraphs", number)] = block.anchor


def _parse_rfc3339(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.upper())
    except ValueError:
        raise ValueError(f"dateline {quote(text)} is not a real date and time") from None


def _at_year(year: int, parts: list[int], zone: timezone) -> datetime | None:
    month, day, hour, minute = parts
    try:
        return datetime(year, month, day, hour, minute, tzinfo=zone)
    except ValueError:
        return None


def _latest_past(parts: list[int], zone: timezone, now: datetime | None) -> datetime | None:
    """The most recent such date-time not after `now` (a leap day may lie up to 8 years back)."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    # Start a year ahead: east of UTC, New Year's Day can come before it does in UTC.
    for year in range(now.year + 1, now.year - 9, -1):
        value = _at_year(year, parts, zone)
        if value is not None and value <= now:
            return value
    return None
