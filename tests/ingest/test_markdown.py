"""Tests of the Markdown article parser: front matter, body structure, inline text and errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.articles.schemas import ArticleCreate, NamedRef
from app.ingest.errors import ImportFormatError
from app.ingest.markdown import parse_markdown, split_front_matter

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

FULL = """\
---
headline: Port Automation Reshapes Shipping Jobs
dek: Automated cranes are raising throughput.
category: Business
authors:
  - Ingrid Solberg
  - Tomás Okafor
published_at: 2025-11-03T08:05:00-05:00
tags: [ports, automation]
language: en-GB
slug: port-automation
---

## Key Takeaways

- Terminals move a third more containers.
- Unions accept automation
  in exchange for retraining.

## Faster Terminals

Container terminals have spent the past decade *replacing* manned carriers.

The gains are **uneven**.

### What Comes Next?

Regulators are drafting rules.
"""


def front(**fields: str) -> str:
    lines = [f"{key}: {value}" for key, value in fields.items()]
    return "---\n" + "\n".join(lines) + "\n---\n"


def markdown(body: str, **fields: str) -> ArticleCreate:
    defaults = {"headline": "A Headline", "category": "World"}
    return parse_markdown(front(**{**defaults, **fields}) + body, now=NOW)


def error(text: str) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as info:
        parse_markdown(text, now=NOW)
    return info.value


class TestFullDocument:
    @pytest.fixture
    def parsed(self) -> ArticleCreate:
        return parse_markdown(FULL, now=NOW)

    def test_front_matter(self, parsed: ArticleCreate) -> None:
        assert parsed.headline == "Port Automation Reshapes Shipping Jobs"
        assert parsed.dek == "Automated cranes are raising throughput."
        assert parsed.category == "Business"
        assert parsed.authors == ["Ingrid Solberg", "Tom\u00e1s Okafor"]
        assert parsed.tags == ["ports", "automation"]
        assert (parsed.language, parsed.slug) == ("en-GB", "port-automation")

    def test_published_at_keeps_its_offset(self, parsed: ArticleCreate) -> None:
        assert parsed.published_at == datetime.fromisoformat("2025-11-03T08:05:00-05:00")
        assert parsed.published_at is not None
        assert parsed.published_at.utcoffset() == timedelta(hours=-5)

    def test_takeaways(self, parsed: ArticleCreate) -> None:
        assert parsed.takeaways == [
            "Terminals move a third more containers.",
            "Unions accept automation in exchange for retraining.",
        ]

    def test_sections(self, parsed: ArticleCreate) -> None:
        assert [(s.heading, s.paragraphs) for s in parsed.sections] == [
            (
                "Faster Terminals",
                [
                    "Container terminals have spent the past decade replacing manned carriers.",
                    "The gains are uneven.",
                ],
            ),
            ("What Comes Next?", ["Regulators are drafting rules."]),
        ]


class TestFrontMatter:
    def test_without_front_matter_category_is_missing(self) -> None:
        err = error("# A Title\n\nSome text.\n")
        assert str(err) == "line 1: missing category: give `category` in the front matter"

    def test_headline_from_the_first_h1(self) -> None:
        parsed = parse_markdown("---\ncategory: World\n---\n# The Title\n\nText.\n")
        assert parsed.headline == "The Title"
        assert [(s.heading, s.paragraphs) for s in parsed.sections] == [(None, ["Text."])]

    def test_h1_repeating_the_headline_is_dropped(self) -> None:
        parsed = markdown("# A Headline\n\nText.\n")
        assert [(s.heading, s.paragraphs) for s in parsed.sections] == [(None, ["Text."])]

    def test_other_h1_is_a_section(self) -> None:
        parsed = markdown("Lead.\n\n# Part One\n\nText.\n")
        assert [s.heading for s in parsed.sections] == [None, "Part One"]

    def test_missing_headline(self) -> None:
        err = error("---\ncategory: World\n---\nJust text.\n")
        assert err.line == 1
        assert err.message.startswith("missing headline")

    def test_aliases(self) -> None:
        text = (
            "---\ntitle: The Title\ndescription: The dek.\ncategory: World\n"
            "author: Jane Doe\ndate: 2025-01-02T03:04:05Z\n---\nText.\n"
        )
        parsed = parse_markdown(text)
        assert (parsed.headline, parsed.dek, parsed.authors) == (
            "The Title",
            "The dek.",
            ["Jane Doe"],
        )
        assert parsed.published_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)

    def test_summary_is_a_dek(self) -> None:
        assert markdown("Text.\n", summary="Short.").dek == "Short."

    @pytest.mark.parametrize(
        ("authors", "expected"),
        [
            ("Jane Doe", ["Jane Doe"]),
            ("By Jane Doe and John Roe", ["Jane Doe", "John Roe"]),
            ("A Ames, B Bell, and C Cole", ["A Ames", "B Bell", "C Cole"]),
            ("[Jane Doe, John Roe]", ["Jane Doe", "John Roe"]),
            ("Ann Lee, Jr.", ["Ann Lee, Jr."]),
        ],
    )
    def test_authors(self, authors: str, expected: list[str]) -> None:
        assert markdown("Text.\n", authors=authors).authors == expected

    def test_authors_string_with_a_dangling_and(self) -> None:
        err = error("---\nheadline: H\ncategory: C\nauthors: Ann Lee and\n---\nText.\n")
        assert err.line == 4
        assert err.message == "authors: byline 'Ann Lee and' has no name on one side of 'and'"

    def test_category_as_an_object(self) -> None:
        parsed = markdown("Text.\n", category="{name: World News, slug: world}")
        assert parsed.category == NamedRef(name="World News", slug="world")

    def test_tags_as_a_string(self) -> None:
        assert markdown("Text.\n", tags="ports, automation,").tags == ["ports", "automation"]

    def test_numbers_become_text(self) -> None:
        parsed = markdown("Text.\n", headline="1984", tags="[2024, elections]")
        assert (parsed.headline, parsed.tags) == ("1984", ["2024", "elections"])

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("2025-07-21T14:30:00+02:00", "2025-07-21T14:30:00+02:00"),
            ("'2025-07-21T14:30:00+02:00'", "2025-07-21T14:30:00+02:00"),
            ("2025-07-21 12:30:00Z", "2025-07-21T12:30:00+00:00"),
            ("5/16, 10:34 EDT", "2026-05-16T10:34:00-04:00"),
            ("7/21/2025, 14:30 CEST", "2025-07-21T14:30:00+02:00"),
        ],
    )
    def test_published_at(self, value: str, expected: str) -> None:
        parsed = markdown("Text.\n", published_at=value)
        assert parsed.published_at is not None
        assert parsed.published_at.isoformat() == expected

    def test_year_applies_to_a_dateline(self) -> None:
        text = front(headline="H", category="C", published_at="5/16, 10:34 EDT") + "Text.\n"
        parsed = parse_markdown(text, year=2019, now=NOW)
        assert parsed.published_at == datetime.fromisoformat("2019-05-16T10:34:00-04:00")

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("2025-07-21 14:30:00", "published_at: 2025-07-21T14:30:00 has no UTC offset"),
            ("2025-07-21", "published_at: 2025-07-21 needs a time and a UTC offset"),
            ("'2025-07-21T14:30:00'", "published_at: dateline '2025-07-21T14:30:00' is not"),
            ("5/16, 10:34 XYZ", "published_at: unknown time zone 'XYZ'"),
            ("[1, 2]", "published_at: is not a date-time"),
        ],
    )
    def test_bad_published_at_names_key_and_line(self, value: str, message: str) -> None:
        text = "---\nheadline: H\ncategory: C\npublished_at: " + value + "\n---\nText.\n"
        err = error(text)
        assert err.line == 4
        assert err.message.startswith(message)
        assert err.field == "published_at"

    @pytest.mark.parametrize(
        ("key", "value", "shown"),
        [
            ("published_at", "9999-12-31T23:00:00-05:00", "9999-12-31T23:00:00-05:00"),
            ("date", "0001-01-01 00:30:00+01:00", "0001-01-01T00:30:00+01:00"),
            ("published_at", "'12/31/9999, 23:00 EST'", "dateline '12/31/9999, 23:00 EST'"),
            ("published_at", "1/1/0001, 00:30 CET", "dateline '1/1/0001, 00:30 CET'"),
        ],
    )
    def test_instant_outside_utc_range_names_key_and_line(
        self, key: str, value: str, shown: str
    ) -> None:
        err = error(f"---\nheadline: H\ncategory: C\n{key}: {value}\n---\nText.\n")
        assert err.line == 4
        assert err.field == "published_at"
        assert err.message == (
            f"{key}: {shown} is out of range: in UTC it falls outside the years 1 to 9999"
        )

    def test_invalid_yaml(self) -> None:
        err = error("---\nheadline: H\ncategory: [unclosed\nauthors: x\n---\nText.\n")
        assert err.line is not None
        assert err.line >= 4
        assert err.message.startswith("the front matter is not valid YAML")

    def test_impossible_yaml_timestamp(self) -> None:
        err = error("---\nheadline: H\ncategory: C\npublished_at: 2025-13-45\n---\nText.\n")
        assert err.message.startswith("the front matter is not valid YAML")

    def test_deep_yaml(self) -> None:
        err = error("---\nheadline: " + "[" * 5000 + "]" * 5000 + "\n---\nText.\n")
        assert err.message.startswith("the front matter is not valid YAML")

    @pytest.mark.parametrize("matter", ["- a\n- b", "just a string", "42"])
    def test_front_matter_not_a_mapping(self, matter: str) -> None:
        err = error(f"---\n{matter}\n---\nText.\n")
        assert str(err) == "line 2: the front matter must be a mapping of keys to values"

    def test_unclosed_front_matter(self) -> None:
        assert str(error("---\nheadline: H\n\nText.\n")) == (
            "line 1: the front matter is never closed by a '---' line"
        )

    def test_empty_front_matter(self) -> None:
        err = error("---\n---\n# Title\n\nText.\n")
        assert err.message.startswith("missing category")

    def test_unknown_keys_are_ignored(self) -> None:
        assert markdown("Text.\n", layout="post", draft="true").headline == "A Headline"

    def test_schema_error_names_the_key_line(self) -> None:
        err = error("---\ncategory: C\nheadline: " + "x" * 301 + "\n---\nText.\n")
        assert str(err) == "line 3: headline: String should have at most 300 characters"

    def test_bad_language(self) -> None:
        err = error("---\nheadline: H\ncategory: C\nlanguage: not a language\n---\nText.\n")
        assert err.line == 4
        assert err.message.startswith("language:")

    def test_split_front_matter_offsets_the_body(self) -> None:
        matter = split_front_matter("\ufeff---\r\na: 1\r\n---\r\nbody\r\n")
        assert (matter.values, matter.key_lines) == ({"a": 1}, {"a": 2})
        assert (matter.body, matter.body_offset) == ("body\n", 3)


class TestBody:
    def test_inline_markup_becomes_plain_text(self) -> None:
        body = (
            "Some *emphasis*, __strong__, a [link](https://example.com), `code *kept*`,\n"
            "a soft break, an ![image](x.png)escaped \\*star\\* and &amp; entity.\n"
        )
        assert markdown(body).sections[0].paragraphs == [
            "Some emphasis, strong, a link, code *kept*, a soft break, an escaped *star* "
            "and & entity."
        ]

    def test_html_stays_literal(self) -> None:
        parsed = markdown(
            "A <b>bold</b> claim & <script>alert(1)</script>.\n\n<div>\nblock\n</div>\n"
        )
        assert parsed.sections[0].paragraphs == [
            "A <b>bold</b> claim & <script>alert(1)</script>.",
            "<div> block </div>",
        ]

    def test_hard_break_is_a_space(self) -> None:
        assert markdown("one  \ntwo\\\nthree\n").sections[0].paragraphs == ["one two three"]

    def test_paragraphs_before_the_first_heading(self) -> None:
        parsed = markdown("Lead one.\n\nLead two.\n\n## Heading\n\nUnder it.\n")
        assert [(s.heading, s.paragraphs) for s in parsed.sections] == [
            (None, ["Lead one.", "Lead two."]),
            ("Heading", ["Under it."]),
        ]

    def test_takeaways_anywhere(self) -> None:
        parsed = markdown("Lead.\n\n## key takeaway:\n\n1. One.\n2. Two.\n\n---\n\nMore lead.\n")
        assert parsed.takeaways == ["One.", "Two."]
        assert parsed.sections[0].paragraphs == ["Lead.", "More lead."]

    def test_takeaway_with_nested_list_and_markup(self) -> None:
        body = "## Key Takeaways\n\n* **Bold** point\n  - detail\n* Second\n\n## Body\n\nText.\n"
        assert markdown(body).takeaways == ["Bold point detail", "Second"]

    @pytest.mark.parametrize("second", ["* Third star.", "+ Third plus.", "1. Third numbered."])
    def test_every_list_under_the_heading_is_takeaways(self, second: str) -> None:
        body = f"## Key Takeaways\n\n- First.\n- Second.\n{second}\n\n## Body\n\nText.\n"
        parsed = markdown(body)
        assert parsed.takeaways == ["First.", "Second.", second.split(" ", 1)[1]]
        assert [(s.heading, s.paragraphs) for s in parsed.sections] == [("Body", ["Text."])]

    def test_lists_apart_are_takeaways_too(self) -> None:
        body = "## Key Takeaways\n\n- One.\n\n\n* Two.\n\n1. Three.\n\n---\n\nIntro.\n"
        parsed = markdown(body)
        assert parsed.takeaways == ["One.", "Two.", "Three."]
        assert parsed.sections[0].paragraphs == ["Intro."]

    @pytest.mark.parametrize(
        ("after", "kind"),
        [
            ("A stray paragraph.", "a paragraph"),
            ("> A quote.", "a quote"),
            ("```\ncode\n```", "a code block"),
        ],
    )
    def test_other_blocks_under_the_heading_are_refused(self, after: str, kind: str) -> None:
        text = front(headline="H", category="C") + (
            f"## Key Takeaways\n\n- One.\n- Two.\n\n{after}\n\n## Body\n\nText.\n"
        )
        err = error(text)
        assert err.line == 10
        assert err.message.startswith(f"{kind} under 'Key Takeaways', where only list items may be")

    def test_paragraph_between_takeaway_lists_is_refused(self) -> None:
        err = error(
            front(headline="H", category="C") + "## Key Takeaways\n\n- One.\n\nOops.\n\n* Two.\n"
        )
        assert err.line == 9
        assert "only list items" in err.message

    def test_takeaways_heading_without_a_list(self) -> None:
        err = error(front(headline="H", category="C") + "## Key Takeaways\n\nText.\n")
        assert str(err) == "line 5: 'Key Takeaways' is not followed by a bullet list"

    def test_takeaways_heading_at_the_end(self) -> None:
        err = error(front(headline="H", category="C") + "Text.\n\n## Key Takeaways\n")
        assert err.line == 7

    def test_more_than_twenty_takeaways(self) -> None:
        items = "".join(f"- Point {n}.\n" for n in range(21))
        err = error(
            front(headline="H", category="C") + "## Key Takeaways\n\n" + items + "\n---\nText.\n"
        )
        assert err.line == 5
        assert err.message.startswith("takeaways: List should have at most 20 items")

    def test_other_lists_become_paragraphs(self) -> None:
        parsed = markdown("Lead:\n\n- first item\n- second item\n")
        assert parsed.sections[0].paragraphs == ["Lead:", "first item", "second item"]

    def test_code_blocks_and_quotes(self) -> None:
        parsed = markdown("> Quoted *words*.\n\n```\nx = 1\n```\n")
        assert parsed.sections[0].paragraphs == ["Quoted words.", "x = 1"]

    def test_heading_with_no_paragraphs(self) -> None:
        parsed = markdown("## One\n\n## Two\n\nText.\n\n## Credits\n")
        assert [(s.heading, s.paragraphs) for s in parsed.sections] == [
            ("One", []), ("Two", ["Text."]), ("Credits", []),
        ]  # fmt: skip

    def test_headings_without_a_paragraph_are_no_body(self) -> None:
        err = error(front(headline="H", category="C") + "## One\n\n## Two\n")
        assert str(err) == "line 5: the article has no body paragraphs"

    def test_no_body(self) -> None:
        err = error(front(headline="H", category="C"))
        assert err.message == "the article has no body paragraphs"
        assert err.line == 5

    def test_crlf(self) -> None:
        assert parse_markdown(FULL.replace("\n", "\r\n"), now=NOW) == parse_markdown(FULL, now=NOW)

    def test_body_errors_count_lines_from_the_top_of_the_file(self) -> None:
        err = error(
            front(headline="H", category="C") + "Lead.\n\n## " + "x " * 10_001 + "\n\nText.\n"
        )
        assert err.line == 7
        assert err.message.startswith("sections.1.heading")
