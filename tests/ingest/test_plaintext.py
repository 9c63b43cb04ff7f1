"""Tests of the plain-text article parser: the samples, each layout rule, and every error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.articles.schemas import ArticleCreate
from app.ingest.errors import ImportFormatError
from app.ingest.plaintext import parse_dateline, parse_plaintext, split_blocks

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
BULLET = "\u2022"


def document(*blocks: str) -> str:
    return "\n\n".join(blocks) + "\n"


def article(*blocks: str, year: int | None = None) -> ArticleCreate:
    return parse_plaintext(document(*blocks), year=year, now=NOW)


def error(*blocks: str) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as info:
        article(*blocks)
    return info.value


HEAD = ("World", "A Headline", "A dek.", "By Jane Doe", "5/16, 10:34 EDT")
BODY = ("A first paragraph of the body.",)


def lines_of(name: str) -> list[str]:
    return (EXAMPLES / name).read_text(encoding="utf-8").splitlines()


def paragraph_after(lines: list[str], heading: str) -> str:
    return lines[lines.index(heading) + 2]


@pytest.fixture(scope="module")
def parsed() -> ArticleCreate:
    """The seed sample, parsed once."""
    text = (EXAMPLES / "deepening-china-russia-ties.txt").read_text(encoding="utf-8")
    return parse_plaintext(text, now=NOW)


class TestSeedSample:
    def test_front(self, parsed: ArticleCreate) -> None:
        assert parsed.category == "World Wide"
        assert parsed.headline == (
            "Deepening China-Russia Ties Challenge US-Led Order Amid Global Concerns"
        )
        assert parsed.dek == (
            "China and Russia strengthen ties, challenging US-led order amid global "
            "democratic concerns."
        )
        assert parsed.authors == ["Mackenzie Crow"]

    def test_published_at(self, parsed: ArticleCreate) -> None:
        expected = datetime.fromisoformat("2026-05-16T10:34:00-04:00")
        assert parsed.published_at == expected
        assert parsed.published_at is not None
        assert parsed.published_at.utcoffset() == timedelta(hours=-4)
        assert parsed.published_at.isoformat() == "2026-05-16T10:34:00-04:00"

    def test_takeaways(self, parsed: ArticleCreate) -> None:
        lines = lines_of("deepening-china-russia-ties.txt")
        in_file = [line.strip()[1:].strip() for line in lines if line.strip().startswith(BULLET)]
        assert parsed.takeaways == in_file
        assert len(parsed.takeaways) == 3
        assert parsed.takeaways[0] == (
            "China and Russia's partnership strengthens, challenging US-led order, despite "
            "concerns over Ukraine invasion and historical tensions."
        )

    def test_sections(self, parsed: ArticleCreate) -> None:
        lines = lines_of("deepening-china-russia-ties.txt")
        headings = [
            "Deepening Ties Amid Global Concerns",
            "Historical Roots and Modern Dynamics",
            "Strategic Partnership and Military Collaboration",
            "Global Implications and Democratic Concerns",
        ]
        assert [section.heading for section in parsed.sections] == headings
        for section, heading in zip(parsed.sections, headings, strict=True):
            assert section.paragraphs == [paragraph_after(lines, heading).strip()]

    def test_nothing_else(self, parsed: ArticleCreate) -> None:
        assert (parsed.slug, parsed.language, parsed.tags, parsed.status) == (None, None, [], None)


class TestOtherSamples:
    def test_glacier(self) -> None:
        text = (EXAMPLES / "glacier-retreat-alpine-water.txt").read_text(encoding="utf-8")
        parsed = parse_plaintext(text, now=NOW)
        assert parsed.category == "Science"
        assert parsed.authors == ["\u00c9lodie Marchetti"]
        assert parsed.published_at == datetime.fromisoformat("2025-07-21T14:30:00+02:00")
        assert parsed.published_at is not None
        assert parsed.published_at.utcoffset() == timedelta(hours=2)
        assert parsed.takeaways == []
        assert parsed.dek is not None
        assert "\u201cpeak\u201d" in parsed.dek
        assert parsed.sections[0].heading is None
        assert parsed.sections[0].paragraphs[0].startswith("For generations, villages")
        assert [s.heading for s in parsed.sections[1:]] == [
            "A Reservoir That Is Running Dry",
            "Costs and Conflicts",
        ]
        assert len(parsed.sections[1].paragraphs) == 2
        assert "\u201cpeak water\u201d \u2014 but" in parsed.sections[1].paragraphs[0]

    def test_port(self) -> None:
        text = (EXAMPLES / "port-automation-reshapes-shipping.txt").read_text(encoding="utf-8")
        parsed = parse_plaintext(text, now=NOW)
        assert parsed.category == "Business"
        assert parsed.authors == ["Ingrid Solberg", "Tom\u00e1s Okafor"]
        assert len(parsed.takeaways) == 4
        assert parsed.published_at == datetime.fromisoformat("2025-11-03T08:05:00-05:00")
        assert parsed.published_at is not None
        assert parsed.published_at.utcoffset() == timedelta(hours=-5)
        assert [s.heading for s in parsed.sections] == [
            "Faster Terminals, Fewer Hands",
            "Unions Negotiate the Transition",
            "What Comes Next?",
        ]
        assert [len(s.paragraphs) for s in parsed.sections] == [2, 2, 1]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.txt")), ids=lambda path: path.name)
def test_every_sample_parses_into_text_of_the_file(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    parsed = parse_plaintext(text, now=NOW)
    assert parsed.published_at is not None
    assert parsed.published_at.tzinfo is not None
    pieces = [parsed.headline, *parsed.takeaways]
    pieces += [p for section in parsed.sections for p in section.paragraphs]
    assert all(piece in text for piece in pieces)
    assert all(section.paragraphs for section in parsed.sections)


class TestDateline:
    @pytest.mark.parametrize(
        ("dateline", "now", "year", "expected"),
        [
            ("5/16, 10:34 EDT", NOW, None, "2026-05-16T10:34:00-04:00"),
            (
                "12/31 10:00 EST",
                datetime(2026, 1, 5, tzinfo=UTC),
                None,
                "2025-12-31T10:00:00-05:00",
            ),
            ("12/1, 09:00 PST", NOW, None, "2025-12-01T09:00:00-08:00"),
            ("11/30, 11:00 UTC", NOW, None, "2026-11-30T11:00:00+00:00"),
            ("11/30, 13:00 UTC", NOW, None, "2025-11-30T13:00:00+00:00"),
            (
                "1/1, 08:00 JST",
                datetime(2026, 12, 31, 23, 30, tzinfo=UTC),
                None,
                "2027-01-01T08:00:00+09:00",
            ),
            ("2/29, 12:00 GMT", NOW, None, "2024-02-29T12:00:00+00:00"),
            ("5/16, 10:34 EDT", NOW, 2020, "2020-05-16T10:34:00-04:00"),
            ("12/1, 09:00 PST", NOW, 2030, "2030-12-01T09:00:00-08:00"),
            ("7/21/2025, 14:30 CEST", NOW, 2020, "2025-07-21T14:30:00+02:00"),
            ("7/21/2025 14:30 cest", NOW, None, "2025-07-21T14:30:00+02:00"),
            ("3/1, 8:05 AKST", NOW, None, "2026-03-01T08:05:00-09:00"),
            ("3/1, 08:05 HST", NOW, None, "2026-03-01T08:05:00-10:00"),
            ("3/1, 08:05 MSK", NOW, None, "2026-03-01T08:05:00+03:00"),
            ("3/1, 08:05 Z", NOW, None, "2026-03-01T08:05:00+00:00"),
            ("3/1, 08:05 +05:30", NOW, None, "2026-03-01T08:05:00+05:30"),
            ("3/1, 08:05 -0330", NOW, None, "2026-03-01T08:05:00-03:30"),
            ("2025-07-21T14:30:00+02:00", NOW, None, "2025-07-21T14:30:00+02:00"),
            ("2025-07-21T12:30:00Z", NOW, None, "2025-07-21T12:30:00+00:00"),
            ("2025-07-21t12:30:00.250z", NOW, None, "2025-07-21T12:30:00.250000+00:00"),
            ("2025-07-21 14:30-07:00", NOW, None, "2025-07-21T14:30:00-07:00"),
            # A 12-hour clock, as copy is often filed.
            ("5/16, 3:04 PM PDT", NOW, None, "2026-05-16T15:04:00-07:00"),
            ("5/16, 3:04 p.m. PDT", NOW, None, "2026-05-16T15:04:00-07:00"),
            ("5/16, 10:34am EDT", NOW, None, "2026-05-16T10:34:00-04:00"),
            ("5/16, 12:00 AM EDT", NOW, None, "2026-05-16T00:00:00-04:00"),
            ("5/16, 12:30 PM EDT", NOW, None, "2026-05-16T12:30:00-04:00"),
            ("5/16/2024, 11:59 P.M. UTC", NOW, None, "2024-05-16T23:59:00+00:00"),
        ],
    )
    def test_parses(self, dateline: str, now: datetime, year: int | None, expected: str) -> None:
        value = parse_dateline(dateline, year=year, now=now)
        assert value.isoformat() == expected

    def test_zone_keeps_its_abbreviation(self) -> None:
        assert parse_dateline("5/16, 10:34 EDT", now=NOW).tzname() == "EDT"

    def test_naive_now_counts_as_utc(self) -> None:
        value = parse_dateline("11/30, 13:00 UTC", now=datetime(2026, 11, 30, 12, 0))
        assert value.year == 2025

    def test_default_now_is_the_current_time(self) -> None:
        value = parse_dateline("1/1, 00:00 UTC")
        assert value <= datetime.now(UTC)
        assert datetime.now(UTC) - value < timedelta(days=367)

    def test_in_a_document(self) -> None:
        parsed = article(*HEAD[:4], "2025-01-02T03:04:05+01:00", *BODY)
        assert parsed.published_at == datetime.fromisoformat("2025-01-02T03:04:05+01:00")

    def test_year_argument_in_a_document(self) -> None:
        parsed = article(*HEAD, *BODY, year=2021)
        assert parsed.published_at == datetime.fromisoformat("2021-05-16T10:34:00-04:00")

    @pytest.mark.parametrize(
        ("dateline", "message"),
        [
            ("xyz", "dateline 'xyz' is not M/D, HH:MM TZ, M/D/YYYY, HH:MM TZ or RFC 3339"),
            ("13/45, 10:00 EDT", "dateline '13/45, 10:00 EDT' is not a real date and time"),
            ("5/16, 25:00 EDT", "dateline '5/16, 25:00 EDT' is not a real date and time"),
            ("2/29/2025, 10:00 UTC", "is not a real date and time"),
            ("2025-02-30T10:00:00Z", "is not a real date and time"),
            ("5/16, 10:34 XYZ", "unknown time zone 'XYZ'"),
            ("5/16, 10:34 IST", "unknown time zone 'IST'"),
            ("5/16, 10:34 +25:00", "time zone offset '+25:00' is out of range"),
            ("5/16, 10:34", "is not M/D, HH:MM TZ"),
            ("2025-07-21T14:30:00", "is not M/D, HH:MM TZ"),
            ("May 16, 10:34 EDT", "is not M/D, HH:MM TZ"),
            ("5/16, 13:00 PM EDT", "dateline '5/16, 13:00 PM EDT' is not a real date and time"),
            ("5/16, 0:30 AM EDT", "is not a real date and time"),
            ("5/16, 10:34 PM", "dateline '5/16, 10:34 PM' is not M/D, HH:MM TZ"),
        ],
    )
    def test_errors_name_the_block(self, dateline: str, message: str) -> None:
        err = error(*HEAD[:4], dateline, *BODY)
        assert (err.block, err.line) == (5, 9)
        assert message in str(err)
        assert str(err).startswith("block 5 (line 9): ")

    @pytest.mark.parametrize(
        "dateline",
        [
            "12/31/9999, 23:00 EST",
            "1/1/0001, 00:30 CET",
            "9999-12-31T23:00:00-05:00",
            "0001-01-01T00:30:00+01:00",
            "1/1/0001, 00:30 +00:31",
        ],
    )
    def test_instant_outside_utc_range_names_the_block(self, dateline: str) -> None:
        err = error(*HEAD[:4], dateline, *BODY)
        assert (err.block, err.line) == (5, 9)
        assert err.message == (
            f"dateline '{dateline}' is out of range: in UTC it falls outside the years 1 to 9999"
        )

    def test_out_of_range_year_argument(self) -> None:
        with pytest.raises(ValueError, match="out of range"):
            parse_dateline("12/31, 23:00 EST", year=9999, now=NOW)

    @pytest.mark.parametrize(
        ("dateline", "expected"),
        [
            ("12/31/9999, 18:59 EST", "9999-12-31T18:59:00-05:00"),
            ("1/1/0001, 01:00 CET", "0001-01-01T01:00:00+01:00"),
            ("9999-12-31T23:59:00Z", "9999-12-31T23:59:00+00:00"),
        ],
    )
    def test_edges_of_the_utc_range_are_kept(self, dateline: str, expected: str) -> None:
        assert parse_dateline(dateline, now=NOW).isoformat() == expected

    def test_error_message_reads_whole(self) -> None:
        err = error(*HEAD[:4], "xyz", *BODY)
        assert str(err) == (
            "block 5 (line 9): dateline 'xyz' is not M/D, HH:MM TZ, M/D/YYYY, HH:MM TZ or RFC 3339"
        )
        assert err.loc == ["body", "block 5"]

    def test_long_text_is_cut_short_in_the_message(self) -> None:
        err = error(*HEAD[:4], "This is a paragraph that has wandered into the dateline " * 4)
        assert len(err.message) < 150
        assert "\u2026'" in err.message

    def test_missing(self) -> None:
        err = error(*HEAD[:4])
        assert str(err) == "block 5: expected a dateline, found the end of the document"


class TestByline:
    @pytest.mark.parametrize(
        ("byline", "authors"),
        [
            ("By Jane Doe", ["Jane Doe"]),
            ("by Jane Doe", ["Jane Doe"]),
            ("BY Jane Doe", ["Jane Doe"]),
            ("By Jane Doe and John Roe", ["Jane Doe", "John Roe"]),
            ("By Jane Doe AND John Roe", ["Jane Doe", "John Roe"]),
            ("By Jane Doe & John Roe", ["Jane Doe", "John Roe"]),
            ("By A Ames, B Bell and C Cole", ["A Ames", "B Bell", "C Cole"]),
            ("By A Ames, B Bell, and C Cole", ["A Ames", "B Bell", "C Cole"]),
            ("By A Ames, B Bell & C Cole", ["A Ames", "B Bell", "C Cole"]),
            ("By  Anders Andersen  and  Sandy Anderson ", ["Anders Andersen", "Sandy Anderson"]),
            ("By Jane Doe\nand John Roe", ["Jane Doe", "John Roe"]),
            ("By A Ames\nBy B Bell", ["A Ames", "B Bell"]),
            ("By A Ames and B Bell\nby C Cole", ["A Ames", "B Bell", "C Cole"]),
            ("By Ann Lee, Jr.", ["Ann Lee, Jr."]),
            ("By Ann Lee, Jr. and Bo Li, III", ["Ann Lee, Jr.", "Bo Li, III"]),
            (
                "By Ann Lee, Sr., Bo Li, II, and Cy Ray, IV",
                ["Ann Lee, Sr.", "Bo Li, II", "Cy Ray, IV"],
            ),
            ("By Ann Lee Jr & Bo Li", ["Ann Lee Jr", "Bo Li"]),
            ("By AT&T Insider Staff", ["AT&T Insider Staff"]),  # `&` inside a name
            ("By Procter&Gamble Desk and Bo Li", ["Procter&Gamble Desk", "Bo Li"]),
            ("By Sandy Anderson and Andy Band", ["Sandy Anderson", "Andy Band"]),
        ],
    )
    def test_authors_in_order(self, byline: str, authors: list[str]) -> None:
        assert article(*HEAD[:3], byline, HEAD[4], *BODY).authors == authors

    def test_missing_byline(self) -> None:
        err = error(*HEAD[:3], "Jane Doe", HEAD[4], *BODY)
        assert str(err) == "block 4 (line 7): expected a byline starting with 'By '"

    def test_byline_without_names(self) -> None:
        err = error(*HEAD[:3], "By", HEAD[4], *BODY)
        assert str(err) == "block 4 (line 7): the byline names no author"

    @pytest.mark.parametrize(
        ("byline", "message"),
        [
            ("By Ann Lee and", "byline 'Ann Lee and' has no name on one side of 'and'"),
            ("By Ann Lee &", "byline 'Ann Lee &' has no name on one side of '&'"),
            ("By Ann Lee,", "byline 'Ann Lee,' has no name on one side of ','"),
            ("By Ann Lee, and", "byline 'Ann Lee, and' has no name on one side of ', and'"),
            ("By and Ann Lee", "byline 'and Ann Lee' has no name on one side of 'and'"),
            ("By Ann Lee,, Bo Li", "byline 'Ann Lee,, Bo Li' has no name on one side of ','"),
            ("By Ann Lee\nBy", "the byline names no author"),
            ("By Ann Lee and Jr.", "'Jr.' in byline 'Ann Lee and Jr.' is a suffix, not a name"),
            ("By Jr.", "'Jr.' in byline 'Jr.' is a suffix, not a name"),
        ],
    )
    def test_malformed_byline_names_the_block(self, byline: str, message: str) -> None:
        err = error(*HEAD[:3], byline, HEAD[4], *BODY)
        assert (err.block, err.line) == (4, 7)
        assert message in err.message

    def test_author_name_too_long(self) -> None:
        err = error(*HEAD[:3], "By " + "x" * 201, HEAD[4], *BODY)
        assert (err.block, err.line) == (4, 7)
        assert err.message.startswith("authors.0")


class TestFront:
    def test_dek_is_optional(self) -> None:
        parsed = article(HEAD[0], HEAD[1], HEAD[3], HEAD[4], *BODY)
        assert parsed.dek is None
        assert parsed.authors == ["Jane Doe"]
        assert parsed.published_at is not None

    def test_dek_that_starts_with_by(self) -> None:
        parsed = article(HEAD[0], HEAD[1], "By the numbers: a year of floods.", *HEAD[3:], *BODY)
        assert parsed.dek == "By the numbers: a year of floods."
        assert parsed.authors == ["Jane Doe"]

    def test_wrapped_headline_and_dek(self) -> None:
        parsed = article("World", "A Headline\nThat Wraps", "A dek\nthat wraps.", *HEAD[3:], *BODY)
        assert parsed.headline == "A Headline That Wraps"
        assert parsed.dek == "A dek that wraps."

    def test_empty_document(self) -> None:
        for text in ("", "\n\n", " \t\n\u00a0\n", "\ufeff"):
            with pytest.raises(ImportFormatError, match="the document is empty"):
                parse_plaintext(text, now=NOW)

    def test_missing_headline(self) -> None:
        err = error("World")
        assert str(err) == "block 2: expected a headline, found the end of the document"
        assert err.loc == ["body", "block 2"]

    def test_missing_byline_after_headline(self) -> None:
        assert str(error("World", "A Headline")) == (
            "block 3: expected a dek or a byline, found the end of the document"
        )

    def test_headline_too_long(self) -> None:
        err = error("World", "Long " * 61, *HEAD[2:], *BODY)
        assert str(err) == "block 2 (line 3): headline: String should have at most 300 characters"
        assert err.field == "headline"
        assert err.loc == ["body", "block 2", "headline"]

    def test_category_too_long(self) -> None:
        err = error("W" * 201, *HEAD[1:], *BODY)
        assert (err.block, err.line) == (1, 1)
        assert err.message.startswith("category")


class TestTakeaways:
    @pytest.mark.parametrize(
        "header", ["Key Takeaway", "Key Takeaways", "KEY TAKEAWAYS:", "key takeaway :"]
    )
    def test_headers(self, header: str) -> None:
        parsed = article(*HEAD, header, f"{BULLET} One.\n{BULLET} Two.", *BODY)
        assert parsed.takeaways == ["One.", "Two."]

    @pytest.mark.parametrize(
        "bullets",
        [
            f"  {BULLET} One.\n  {BULLET} Two.",
            "- One.\n- Two.",
            "* One.\n\t* Two.",
            f"{BULLET}One.\n-   Two.",
            "-One.\n*Two.",  # no space after the marker
        ],
    )
    def test_markers(self, bullets: str) -> None:
        assert article(*HEAD, "Key Takeaways", bullets, *BODY).takeaways == ["One.", "Two."]

    def test_wrapped_bullets(self) -> None:
        bullets = (
            f"{BULLET} The first one\n  wraps onto two lines.\n{BULLET} Two.\n  And more\n  more."
        )
        parsed = article(*HEAD, "Key Takeaways", bullets, *BODY)
        assert parsed.takeaways == ["The first one wraps onto two lines.", "Two. And more more."]

    def test_dash_inside_text_is_not_a_marker(self) -> None:
        bullets = "- Prices fell\n-5% on the day, then rose."
        parsed = article(*HEAD, "Key Takeaways", bullets, *BODY)
        assert parsed.takeaways == ["Prices fell -5% on the day, then rose."]

    def test_first_line_without_marker(self) -> None:
        err = error(*HEAD, "Key Takeaways", "One.\n- Two.", *BODY)
        assert (err.block, err.line) == (7, 13)
        assert "expected bullet lines" in err.message

    def test_header_followed_by_a_paragraph(self) -> None:
        err = error(*HEAD, "Key Takeaways", *BODY)
        assert (err.block, err.line) == (7, 13)
        assert "after 'Key Takeaways'" in err.message

    def test_header_at_the_end(self) -> None:
        err = error(*HEAD, "Key Takeaways")
        assert str(err) == (
            "block 6 (line 11): 'Key Takeaways' is not followed by a block of bullet lines"
        )

    def test_twenty_takeaways(self) -> None:
        bullets = "\n".join(f"- Point {n}." for n in range(20))
        assert len(article(*HEAD, "Key Takeaways", bullets, *BODY).takeaways) == 20

    def test_more_than_twenty(self) -> None:
        bullets = "\n".join(f"- Point {n}." for n in range(21))
        err = error(*HEAD, "Key Takeaways", bullets, *BODY)
        assert (err.block, err.line) == (7, 13)
        assert err.message.startswith("takeaways: List should have at most 20 items")

    def test_empty_bullet(self) -> None:
        err = error(*HEAD, "Key Takeaways", "- One.\n-", *BODY)
        assert (err.block, err.line) == (7, 13)
        assert err.message.startswith("takeaways.1:")

    def test_bullets_separated_by_blank_lines(self) -> None:
        parsed = article(*HEAD, "Key Takeaways", "- one", "- two", "* three\n- four", *BODY)
        assert parsed.takeaways == ["one", "two", "three", "four"]
        assert [(s.heading, s.paragraphs) for s in parsed.sections] == [(None, list(BODY))]

    def test_separated_bullets_may_wrap(self) -> None:
        parsed = article(
            *HEAD, "Key Takeaway", f"{BULLET} one\nwraps", f"{BULLET} two\nwraps too", *BODY
        )
        assert parsed.takeaways == ["one wraps", "two wraps too"]

    def test_bullets_end_at_the_first_block_that_is_not_one(self) -> None:
        parsed = article(
            *HEAD, "Key Takeaways", "- one", "- two", "Intro paragraph.", "- A dash later."
        )
        assert parsed.takeaways == ["one", "two"]
        assert parsed.sections[0].paragraphs == ["Intro paragraph.", "- A dash later."]

    def test_error_in_a_later_bullet_block_names_that_block(self) -> None:
        err = error(*HEAD, "Key Takeaways", "- one", "- " + "x" * 20_001, *BODY)
        assert (err.block, err.line) == (8, 15)
        assert err.message.startswith("takeaways.1:")

    def test_more_than_twenty_across_blocks(self) -> None:
        blocks = [f"- Point {n}." for n in range(21)]
        err = error(*HEAD, "Key Takeaways", *blocks, *BODY)
        assert err.message.startswith("takeaways: List should have at most 20 items")

    def test_takeaways_header_later_in_the_body_is_a_heading(self) -> None:
        parsed = article(*HEAD, *BODY, "Key Takeaways", "Some closing words.")
        assert parsed.takeaways == []
        assert parsed.sections[1].heading == "Key Takeaways"


class TestBody:
    def test_wrapped_paragraphs_are_joined(self) -> None:
        parsed = article(*HEAD, "First line\n  of a paragraph,\nand the last.")
        assert parsed.sections[0].paragraphs == ["First line of a paragraph, and the last."]

    def test_paragraphs_before_the_first_heading(self) -> None:
        parsed = article(*HEAD, "Lead one.", "Lead two.", "A Heading", "Under it.")
        assert [(s.heading, s.paragraphs) for s in parsed.sections] == [
            (None, ["Lead one.", "Lead two."]),
            ("A Heading", ["Under it."]),
        ]

    @pytest.mark.parametrize(
        ("block", "heading"),
        [
            (" ".join(["word"] * 12), True),
            (" ".join(["word"] * 13), False),
            ("What Comes Next?", True),
            ("Wow!", True),
            ("A short sentence.", False),
            ("And then\u2026", False),
            ('"It\'s over."', False),
            ("\u201cIt\u2019s over.\u201d", False),
            ("(See the chart.)", False),
            ("A Quote Without a Stop\u201d", True),
            ("Two lines\nno stop", False),
        ],
    )
    def test_heading_rule(self, block: str, heading: bool) -> None:
        parsed = article(*HEAD, "Lead.", block, "After it.")
        expected_first = ["Lead."] if heading else ["Lead.", " ".join(block.split()), "After it."]
        assert parsed.sections[0].paragraphs == expected_first
        assert (len(parsed.sections) == 2) is heading

    def test_heading_followed_by_heading(self) -> None:
        """API.md 6 makes any one-line block of at most 12 words not ending in `.` a
        heading, so a short question between paragraphs is a section of its own."""
        parsed = article(*HEAD, "Lead.", "But for how long?", "The Next Deadline", "Text.")
        assert [(s.heading, s.paragraphs) for s in parsed.sections] == [
            (None, ["Lead."]), ("But for how long?", []), ("The Next Deadline", ["Text."]),
        ]  # fmt: skip

    def test_heading_at_the_end(self) -> None:
        parsed = article(*HEAD, "Text.", "Additional reporting by Miguel Santos")
        assert parsed.sections[-1].heading == "Additional reporting by Miguel Santos"
        assert parsed.sections[-1].paragraphs == []

    def test_headings_without_a_paragraph_are_no_body(self) -> None:
        err = error(*HEAD, "First Heading", "Second Heading")
        assert str(err) == "block 6 (line 11): the body has headings but no paragraphs"

    def test_a_block_after_the_takeaways_needs_a_spaced_marker_to_be_one(self) -> None:
        note = (
            "*Editor's note: this article was updated on Tuesday with comments from the governor.*"
        )
        parsed = article(*HEAD, "Key Takeaways", "\u2022 One.\n-Two.", note, "Body.")
        assert parsed.takeaways == ["One.", "Two."]  # inside the block, `-Two` is a bullet
        assert parsed.sections[0].paragraphs == [note, "Body."]

    def test_no_body(self) -> None:
        assert str(error(*HEAD)) == (
            "block 6: expected the article body, found the end of the document"
        )

    def test_no_body_after_takeaways(self) -> None:
        err = error(*HEAD, "Key Takeaways", "- One.")
        assert (err.block, err.line) == (8, None)

    def test_paragraph_too_long(self) -> None:
        err = error(*HEAD, "Fine.", "Heading", "word " * 4_000 + "the end.")
        assert (err.block, err.line) == (8, 15)
        assert err.message.startswith("sections.1.paragraphs.0:")


class TestWhitespace:
    def expected(self) -> ArticleCreate:
        return article(*HEAD, "Key Takeaways", "- One.\n- Two.", "Lead.", "Heading", "Body.")

    def test_crlf_bom_and_odd_blank_lines(self) -> None:
        lf = document(*HEAD, "Key Takeaways", "- One.\n- Two.", "Lead.", "Heading", "Body.")
        odd = "\ufeff" + lf.replace("\n\n", "\n \t\u00a0\n").replace("\n", "  \r\n")
        assert parse_plaintext(odd, now=NOW) == self.expected()

    def test_old_mac_line_ends(self) -> None:
        lf = document(*HEAD, "Key Takeaways", "- One.\n- Two.", "Lead.", "Heading", "Body.")
        assert parse_plaintext(lf.replace("\n", "\r"), now=NOW) == self.expected()

    def test_many_blank_lines_and_indentation(self) -> None:
        text = "\n\n\n  World  \n\n\n\n\tA Headline\t\n\n" + document(*HEAD[2:], *BODY)
        parsed = parse_plaintext(text, now=NOW)
        assert (parsed.category, parsed.headline) == ("World", "A Headline")

    def test_error_lines_count_crlf_once(self) -> None:
        text = document(*HEAD[:3], "Jane Doe", HEAD[4], *BODY).replace("\n", "\r\n")
        with pytest.raises(ImportFormatError) as info:
            parse_plaintext(text, now=NOW)
        assert (info.value.block, info.value.line) == (4, 7)

    def test_split_blocks(self) -> None:
        blocks = split_blocks("\ufeffa\n b \n\n\n\tc\n")
        assert [(b.number, b.line, b.lines) for b in blocks] == [(1, 1, ("a", "b")), (2, 5, ("c",))]
