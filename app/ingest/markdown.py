"""Parse Markdown articles (YAML front matter, then a CommonMark body) into an ArticleCreate."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from app.articles.schemas import ArticleCreate
from app.ingest.errors import (
    OUT_OF_RANGE,
    Anchor,
    ImportFormatError,
    Loc,
    build_article,
    out_of_range,
)
from app.ingest.plaintext import parse_dateline, split_byline, strip_by

# Front matter keys for each ArticleCreate field, the first present one winning.
FIELD_KEYS: dict[str, tuple[str, ...]] = {
    "headline": ("headline", "title"),
    "dek": ("dek", "description", "summary"),
    "category": ("category",),
    "authors": ("authors", "author"),
    "published_at": ("published_at", "date"),
    "tags": ("tags",),
    "language": ("language",),
    "slug": ("slug",),
}

_NEWLINE = re.compile(r"\r\n|\r|\n")
_TAKEAWAYS = re.compile(r"key\s+takeaways?\s*:?", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\n]+")
# HTML is off so that tags in the source stay literal text, as API.md §2 asks of all input.
_MARKDOWN = MarkdownIt("commonmark", {"html": False})
_TEXT_TOKENS = frozenset({"text", "text_special", "code_inline", "html_inline"})
_BREAK_TOKENS = frozenset({"softbreak", "hardbreak"})
_LIST_OPENINGS = frozenset({"bullet_list_open", "ordered_list_open"})
_TAKEAWAYS_ENDS = frozenset({"heading_open", "hr"})
_BLOCK_NAMES = {
    "paragraph_open": "a paragraph",
    "fence": "a code block",
    "code_block": "a code block",
    "blockquote_open": "a quote",
}


@dataclass(frozen=True)
class FrontMatter:
    """The YAML mapping, the line of each top-level key, and the body that follows it."""

    values: dict[object, object]
    key_lines: dict[str, int]
    body: str
    body_offset: int  # how many lines precede the body


def parse_markdown(
    text: str, *, year: int | None = None, now: dt.datetime | None = None
) -> ArticleCreate:
    """Parse a Markdown article; raise ImportFormatError naming the line at fault."""
    front = split_front_matter(text)
    payload, anchors = _front_fields(front, year=year, now=now)
    if payload.get("category") is None:
        raise ImportFormatError("missing category: give `category` in the front matter", line=1)
    body = _Body(front_headline=_as_text(payload.get("headline")), offset=front.body_offset)
    body.read(_MARKDOWN.parse(front.body))
    body.finish(payload, anchors)
    if payload.get("headline") is None:
        raise ImportFormatError(
            "missing headline: give `headline` in the front matter or a `# ` heading", line=1
        )
    return build_article(payload, anchors)


def split_front_matter(text: str) -> FrontMatter:
    """Separate a leading `---` … `---` YAML block (if any) from the Markdown body."""
    lines = _NEWLINE.split(text.removeprefix("\ufeff"))
    if lines[0].rstrip() != "---":
        return FrontMatter({}, {}, "\n".join(lines), 0)
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        raise ImportFormatError("the front matter is never closed by a '---' line", line=1)
    values, key_lines = _load_yaml("\n".join(lines[1:end]), first_line=2)
    return FrontMatter(values, key_lines, "\n".join(lines[end + 1 :]), end + 1)


def _load_yaml(source: str, *, first_line: int) -> tuple[dict[object, object], dict[str, int]]:
    """The front matter's mapping and the line of each top-level key."""
    loader = yaml.SafeLoader(source)
    try:
        node = loader.get_single_node()
        data: object = loader.construct_document(node) if node is not None else {}
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        # PyYAML lets a bad timestamp (2025-13-45) escape as ValueError; deep nesting recurses.
        raise _yaml_error(exc, first_line) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode | None):
        raise ImportFormatError(
            "the front matter must be a mapping of keys to values", line=first_line
        )
    return data, _key_lines(node, first_line)


def _yaml_error(exc: Exception, first_line: int) -> ImportFormatError:
    line, problem = first_line, str(exc)
    if isinstance(exc, yaml.MarkedYAMLError):  # the mark places the problem within the YAML
        mark = exc.problem_mark or exc.context_mark
        line += mark.line if mark else 0
        problem = exc.problem or exc.context or problem
    return ImportFormatError(f"the front matter is not valid YAML: {problem}", line=line)


def _key_lines(node: yaml.Node | None, first_line: int) -> dict[str, int]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {
        key.value: first_line + key.start_mark.line
        for key, _ in node.value
        if isinstance(key, yaml.ScalarNode) and isinstance(key.value, str)
    }


def _front_fields(
    front: FrontMatter, *, year: int | None, now: dt.datetime | None
) -> tuple[dict[str, object], dict[Loc, Anchor]]:
    """The ArticleCreate fields given in the front matter, converted, with the line of each."""
    converters: dict[str, Callable[[object], object]] = {
        "authors": _names,
        "tags": _tags,
        "published_at": partial(_timestamp, year=year, now=now),
    }
    payload: dict[str, object] = {}
    anchors: dict[Loc, Anchor] = {}
    for name, keys in FIELD_KEYS.items():
        key = next((key for key in keys if front.values.get(key) is not None), None)
        if key is None:
            continue
        anchor = Anchor(line=front.key_lines.get(key))
        try:
            payload[name] = converters.get(name, _scalar)(front.values[key])
        except ValueError as exc:
            raise ImportFormatError.at(anchor, f"{key}: {exc}", field=name) from None
        anchors[(name,)] = anchor
    return payload, anchors


def _scalar(value: object) -> object:
    """YAML reads `title: 1984` as a number; a text field wants it back as written."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _names(value: object) -> object:
    if isinstance(value, str):
        return split_byline(strip_by(value))
    return [_scalar(item) for item in value] if isinstance(value, list) else value


def _tags(value: object) -> object:
    if isinstance(value, str):
        return [tag.strip() for tag in value.split(",") if tag.strip()]
    return [_scalar(item) for item in value] if isinstance(value, list) else value


def _timestamp(value: object, *, year: int | None, now: dt.datetime | None) -> dt.datetime:
    if isinstance(value, str):
        return parse_dateline(value, year=year, now=now)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(
                f"{value.isoformat()} has no UTC offset (write e.g. 2025-07-21T14:30:00+02:00)"
            )
        if out_of_range(value):
            raise ValueError(f"{value.isoformat()} is out of range: {OUT_OF_RANGE}")
        return value
    if isinstance(value, dt.date):
        raise ValueError(f"{value.isoformat()} needs a time and a UTC offset")
    raise ValueError("is not a date-time")


def _as_text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) else None


def inline_text(token: Token) -> str:
    """Plain text of an inline token: markup dropped, link text kept, breaks made spaces."""
    parts = []
    for child in token.children or []:
        if child.type in _TEXT_TOKENS:
            parts.append(child.content)
        elif child.type in _BREAK_TOKENS:
            parts.append(" ")
    return _SPACES.sub(" ", "".join(parts)).strip()


@dataclass
class _Section:
    heading: str | None
    line: int
    paragraphs: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class _Body:
    """Walks the block tokens, collecting the title, the takeaways and the sections."""

    front_headline: str | None
    offset: int
    title: tuple[str, int] | None = None
    takeaways: list[tuple[str, int]] | None = None
    takeaways_line: int | None = None
    in_takeaways: bool = False  # between a takeaways heading and the next heading or `---`
    sections: list[_Section] = field(default_factory=list)

    def read(self, tokens: list[Token]) -> None:
        index = 0
        while index < len(tokens):
            index = self._step(tokens, index)
        if self.in_takeaways:
            self._end_takeaways()

    def finish(self, payload: dict[str, object], anchors: dict[Loc, Anchor]) -> None:
        """Put what was read into the payload (the front matter's headline wins)."""
        if payload.get("headline") is None and self.title is not None:
            payload["headline"] = self.title[0]
            anchors[("headline",)] = Anchor(line=self.title[1])
        if self.takeaways is not None:
            payload["takeaways"] = [text for text, _ in self.takeaways]
            anchors[("takeaways",)] = Anchor(line=self.takeaways_line)
            for index, (_, line) in enumerate(self.takeaways):
                anchors[("takeaways", index)] = Anchor(line=line)
        self._check_sections()
        payload["sections"] = [
            {"heading": section.heading, "paragraphs": [text for text, _ in section.paragraphs]}
            for section in self.sections
        ]
        anchors.update(self._section_anchors())

    def _step(self, tokens: list[Token], index: int) -> int:
        token = tokens[index]
        if self.in_takeaways and token.level == 0 and token.nesting >= 0:
            if token.type in _LIST_OPENINGS:
                return self._read_takeaways(tokens, index)
            if token.type not in _TAKEAWAYS_ENDS:
                raise self._not_a_takeaway(token)
            self._end_takeaways()
            if token.type == "hr":
                return index + 1
        if token.type == "heading_open":
            self._heading(int(token.tag[1:]), inline_text(tokens[index + 1]), self._line(token))
            return index + 3
        if token.type == "inline":  # headings were skipped above, so this is a paragraph
            self._paragraph(inline_text(token), self._line(token))
        elif token.type in ("fence", "code_block"):
            self._paragraph(token.content.strip(), self._line(token))
        return index + 1

    def _heading(self, level: int, text: str, line: int) -> None:
        if level == 1 and self.title is None and self.front_headline in (None, text):
            self.title = (text, line)  # the title, or a repeat of the front matter's headline
        elif self.takeaways is None and _TAKEAWAYS.fullmatch(text):
            self.takeaways, self.takeaways_line, self.in_takeaways = [], line, True
        else:
            self.sections.append(_Section(text, line))

    def _paragraph(self, text: str, line: int) -> None:
        if not text:  # e.g. a paragraph holding only an image
            return
        if not self.sections:
            self.sections.append(_Section(None, line))
        self.sections[-1].paragraphs.append((text, line))

    def _read_takeaways(self, tokens: list[Token], index: int) -> int:
        """Add the items of the list at `index`; returns the index after its closing token.

        Every list counts: markdown-it starts a new list when the bullet changes (`-` to `*`).
        """
        opening = tokens[index]
        closing = opening.type.replace("_open", "_close")
        items = self.takeaways if self.takeaways is not None else []
        first = len(items)
        index += 1
        while not (tokens[index].type == closing and tokens[index].level == opening.level):
            token = tokens[index]
            if token.type == "list_item_open" and token.level == opening.level + 1:
                items.append(("", self._line(token)))
            elif token.type == "inline" and len(items) > first:
                text, line = items[-1]
                items[-1] = (f"{text} {inline_text(token)}".strip(), line)
            index += 1
        self.takeaways = items
        return index + 1

    def _end_takeaways(self) -> None:
        if not self.takeaways:
            raise _no_list(self.takeaways_line or self.offset + 1)
        self.in_takeaways = False

    def _not_a_takeaway(self, token: Token) -> ImportFormatError:
        """A block other than a list under the takeaways heading: refused, never moved elsewhere."""
        if not self.takeaways:
            return _no_list(self.takeaways_line or self.offset + 1)
        kind = _BLOCK_NAMES.get(token.type, "text")
        return ImportFormatError(
            f"{kind} under 'Key Takeaways', where only list items may be; end the takeaways "
            "with a heading or a '---' line before the body",
            line=self._line(token),
        )

    def _check_sections(self) -> None:
        """A `##` heading with nothing under it is a section of no paragraphs (as in plain
        text); a body without a single paragraph is refused."""
        if not any(section.paragraphs for section in self.sections):
            line = self.sections[0].line if self.sections else self.offset + 1
            raise ImportFormatError("the article has no body paragraphs", line=line)

    def _section_anchors(self) -> dict[Loc, Anchor]:
        anchors: dict[Loc, Anchor] = {("sections",): Anchor(line=self.sections[0].line)}
        for index, section in enumerate(self.sections):
            anchors[("sections", index)] = Anchor(line=section.line)
            for number, (_, line) in enumerate(section.paragraphs):
                anchors[("sections", index, "paragraphs", number)] = Anchor(line=line)
        return anchors

    def _line(self, token: Token) -> int:
        return (token.map[0] if token.map else 0) + self.offset + 1


def _no_list(line: int) -> ImportFormatError:
    return ImportFormatError("'Key Takeaways' is not followed by a bullet list", line=line)
