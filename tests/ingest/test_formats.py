"""Tests of format detection, the JSON and NDJSON importers, and the import error type."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.articles.schemas import ArticleCreate
from app.ingest.errors import Anchor, ImportFormatError, build_article, errors_from_validation
from app.ingest.formats import (
    MAX_JSON_DEPTH,
    Format,
    UnsupportedFormat,
    detect_format,
    parse_document,
    parse_ndjson,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ARTICLE = {
    "headline": "A Headline",
    "category": "World",
    "authors": ["Jane Doe", {"name": "John Roe", "slug": "john-roe"}],
    "published_at": "2025-07-21T14:30:00+02:00",
    "sections": [{"heading": None, "paragraphs": ["Text."]}],
}


def line(**overrides: object) -> str:
    return json.dumps({**ARTICLE, **overrides})


def json_error(data: str) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as info:
        parse_document(data, Format.JSON)
    return info.value


class TestDetectFormat:
    @pytest.mark.parametrize(
        ("content_type", "expected"),
        [
            ("text/plain", Format.PLAINTEXT),
            ("text/plain; charset=utf-8", Format.PLAINTEXT),
            ("Text/Markdown;charset=UTF-8", Format.MARKDOWN),
            ("text/x-markdown", Format.MARKDOWN),
            ("application/json", Format.JSON),
            (" application/json ; charset=utf-8", Format.JSON),
            ("application/x-ndjson", Format.NDJSON),
            ("application/ndjson", Format.NDJSON),
            ("application/jsonl", Format.NDJSON),
        ],
    )
    def test_by_media_type(self, content_type: str, expected: Format) -> None:
        assert detect_format(content_type) is expected

    @pytest.mark.parametrize(
        ("filename", "expected"),
        [
            ("story.txt", Format.PLAINTEXT),
            ("story.md", Format.MARKDOWN),
            ("dir/STORY.Markdown", Format.MARKDOWN),
            ("story.json", Format.JSON),
            ("bulk.ndjson", Format.NDJSON),
            ("bulk.jsonl", Format.NDJSON),
        ],
    )
    def test_by_extension(self, filename: str, expected: Format) -> None:
        assert detect_format(filename=filename) is expected

    def test_media_type_wins(self) -> None:
        assert detect_format("text/markdown", "story.txt") is Format.MARKDOWN

    def test_generic_media_type_defers_to_the_name(self) -> None:
        assert detect_format("application/octet-stream", "story.md") is Format.MARKDOWN

    @pytest.mark.parametrize(
        ("content_type", "filename"),
        [(None, None), ("text/html", None), (None, "story.docx"), ("image/png", "story"), ("", "")],
    )
    def test_unknown(self, content_type: str | None, filename: str | None) -> None:
        with pytest.raises(UnsupportedFormat, match="unsupported import format"):
            detect_format(content_type, filename)


@pytest.mark.parametrize("path", sorted(EXAMPLES.iterdir()), ids=lambda path: path.name)
def test_every_example_through_detection(path: Path) -> None:
    fmt = detect_format(filename=path.name)
    parsed = parse_document(path.read_text(encoding="utf-8"), fmt, now=NOW)
    assert parsed.headline
    assert parsed.sections


class TestParseDocument:
    def test_plaintext_takes_year_and_now(self) -> None:
        text = (EXAMPLES / "deepening-china-russia-ties.txt").read_text(encoding="utf-8")
        parsed = parse_document(text, Format.PLAINTEXT, year=2024)
        assert parsed.published_at == datetime.fromisoformat("2024-05-16T10:34:00-04:00")
        parsed = parse_document(text, Format.PLAINTEXT, now=NOW)
        assert parsed.published_at == datetime.fromisoformat("2026-05-16T10:34:00-04:00")

    def test_markdown(self) -> None:
        parsed = parse_document("---\ncategory: C\n---\n# T\n\nText.\n", Format.MARKDOWN)
        assert (parsed.headline, parsed.category) == ("T", "C")

    def test_json(self) -> None:
        parsed = parse_document(line(), Format.JSON)
        assert parsed == ArticleCreate.model_validate(ARTICLE)
        assert parsed.published_at == datetime.fromisoformat("2025-07-21T14:30:00+02:00")

    def test_ndjson_is_not_a_single_document(self) -> None:
        with pytest.raises(UnsupportedFormat, match="parse_ndjson"):
            parse_document(line(), Format.NDJSON)


class TestJsonErrors:
    def test_invalid_json_names_line_and_column(self) -> None:
        err = json_error('{\n  "headline": "A",\n  "category": oops\n}')
        assert str(err) == "line 3: invalid JSON: Expecting value (column 15)"

    @pytest.mark.parametrize(
        ("data", "kind"),
        [
            ("[]", "an array"),
            ('"x"', "a string"),
            ("3", "a number"),
            ("null", "null"),
            ("true", "a boolean"),
        ],
    )
    def test_not_an_object(self, data: str, kind: str) -> None:
        assert json_error(data).message == f"expected a JSON object (an article), found {kind}"

    def test_schema_error_names_the_field(self) -> None:
        err = json_error(line(headline="x" * 301))
        assert str(err) == "headline: String should have at most 300 characters"
        assert err.loc == ["body", "headline"]

    def test_all_schema_errors_are_kept(self) -> None:
        err = json_error(line(headline="", sections=[{"paragraphs": []}], extra=1))
        assert sorted(e.field or "" for e in err.all()) == [
            "extra",
            "headline",
            "sections.0",  # no heading and no paragraphs
        ]
        assert ["body", "sections", "0"] in [e.loc for e in err.all()]

    def test_naive_published_at(self) -> None:
        err = json_error(line(published_at="2025-07-21T14:30:00"))
        assert err.field == "published_at"
        assert "UTC offset" in err.message

    @pytest.mark.parametrize("value", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00"])
    def test_published_at_outside_utc_range(self, value: str) -> None:
        err = json_error(line(published_at=value))
        assert err.message.startswith("published_at: ")
        assert "out of range" in err.message
        assert err.loc == ["body", "published_at"]

    def test_published_at_at_the_edge_of_the_utc_range(self) -> None:
        parsed = parse_document(line(published_at="9999-12-31T18:59:59-05:00"), Format.JSON)
        assert parsed.published_at == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)

    def test_missing_field(self) -> None:
        err = json_error(json.dumps({"headline": "H"}))
        assert str(err) == "category: Field required"

    def test_nesting_at_the_limit_is_only_a_schema_error(self) -> None:
        deep = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
        err = json_error('{"tags": ' + deep + "}")
        assert "nesting" not in err.message

    @pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, 1_000, 100_000])
    def test_deep_nesting_is_refused(self, depth: int) -> None:
        err = json_error('{"tags": ' + "[" * depth + "]" * depth + "}")
        assert err.message.startswith("invalid JSON: ")
        assert "nest" in err.message

    def test_deep_objects_are_refused(self) -> None:
        data = '{"a": ' * 200_000 + "1" + "}" * 200_000
        assert "nest" in json_error(data).message

    def test_nan_is_refused(self) -> None:
        assert json_error('{"headline": NaN}').message == "invalid JSON: NaN is not a JSON number"

    def test_huge_integer_is_refused(self) -> None:
        assert json_error('{"headline": ' + "9" * 5_000 + "}").message.startswith("invalid JSON")


class TestNdjson:
    def test_a_bad_line_never_stops_the_others(self) -> None:
        data = "\n".join(
            [
                line(headline="One"),
                "{not json",
                "",
                line(headline=""),
                "  ",
                line(headline="Five"),
                "[1]",
            ]
        )
        results = list(parse_ndjson(data))
        assert [number for number, _ in results] == [1, 2, 4, 6, 7]
        good = {n: r.headline for n, r in results if isinstance(r, ArticleCreate)}
        assert good == {1: "One", 6: "Five"}
        bad = {n: str(r) for n, r in results if isinstance(r, ImportFormatError)}
        assert bad == {
            2: "line 2: invalid JSON: Expecting property name enclosed in double quotes (column 2)",
            4: "line 4: headline: String should have at least 1 character",
            7: "line 7: expected a JSON object (an article), found an array",
        }

    def test_line_errors_carry_line_and_field_in_loc(self) -> None:
        ((_, result),) = parse_ndjson("\n" + line(headline=""))
        assert isinstance(result, ImportFormatError)
        assert (result.line, result.loc) == (2, ["body", "line 2", "headline"])

    def test_out_of_range_line_is_an_error_of_that_line_only(self) -> None:
        data = "\n".join([line(), line(published_at="9999-12-31T23:00:00-05:00"), line()])
        results = list(parse_ndjson(data))
        assert [isinstance(r, ArticleCreate) for _, r in results] == [True, False, True]
        bad = results[1][1]
        assert isinstance(bad, ImportFormatError)
        assert bad.loc == ["body", "line 2", "published_at"]
        assert "out of range" in bad.message

    def test_crlf_and_bom(self) -> None:
        data = "\ufeff" + line(headline="One") + "\r\n" + line(headline="Two") + "\r\n"
        results = list(parse_ndjson(data))
        assert [(n, isinstance(r, ArticleCreate)) for n, r in results] == [(1, True), (2, True)]

    def test_deep_line_is_one_error(self) -> None:
        data = "\n".join([line(), "[" * 50_000 + "]" * 50_000, line()])
        results = list(parse_ndjson(data))
        assert [isinstance(r, ArticleCreate) for _, r in results] == [True, False, True]

    def test_empty(self) -> None:
        assert list(parse_ndjson("")) == []
        assert list(parse_ndjson("\n \n")) == []

    def test_is_lazy(self) -> None:
        results = parse_ndjson(line() + "\n" + line())
        assert next(results)[0] == 1


class TestImportFormatError:
    @pytest.mark.parametrize(
        ("block", "line_no", "field", "text", "loc"),
        [
            (5, 9, None, "block 5 (line 9): bad", ["body", "block 5"]),
            (5, None, None, "block 5: bad", ["body", "block 5"]),
            (None, 9, None, "line 9: bad", ["body", "line 9"]),
            (None, None, None, "bad", ["body"]),
            (None, None, "a.0.b", "bad", ["body", "a", "0", "b"]),
        ],
    )
    def test_str_and_loc(
        self, block: int | None, line_no: int | None, field: str | None, text: str, loc: list[str]
    ) -> None:
        err = ImportFormatError("bad", block=block, line=line_no, field=field)
        assert (str(err), err.loc, err.message) == (text, loc, "bad")

    def test_at_an_anchor(self) -> None:
        err = ImportFormatError.at(Anchor(line=9, block=5), "bad")
        assert (err.block, err.line, err.where) == (5, 9, "block 5 (line 9)")

    def test_validation_errors_are_placed_and_ordered(self) -> None:
        with pytest.raises(ValidationError) as info:
            ArticleCreate.model_validate({"headline": "", "category": "", "takeaways": [""]})
        anchors = {
            ("category",): Anchor(1, 1),
            ("headline",): Anchor(3, 2),
            ("takeaways", 0): Anchor(14, 7),
        }
        errors = errors_from_validation(info.value, anchors, default=Anchor(line=99))
        assert [(e.block, e.line, e.field) for e in errors[:2]] == [
            (1, 1, "category"),
            (2, 3, "headline"),
        ]
        assert (errors[-1].block, errors[-1].line, errors[-1].field) == (7, 14, "takeaways.0")

    def test_build_article_raises_the_first_and_keeps_the_rest(self) -> None:
        with pytest.raises(ImportFormatError) as info:
            build_article({"headline": ""}, default=Anchor(line=4))
        assert [str(e) for e in info.value.all()] == [
            "line 4: headline: String should have at least 1 character",
            "line 4: category: Field required",
        ]
        assert isinstance(info.value.__cause__, ValidationError)
