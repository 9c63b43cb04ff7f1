"""Validators for the syndication formats (the official schemas in shared/standards) and helpers."""

from __future__ import annotations

import json
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft202012Validator
from referencing import Registry, Resource

# shared/ sits beside the repository, here and in CI (see README.md).
STANDARDS = Path(__file__).resolve().parents[3] / "shared" / "standards"
GEOJSON_ID = "https://geojson.org/schema/GeoJSON.json"

Validate = Callable[[Any], None]


def _load(name: str) -> dict[str, Any]:
    path = STANDARDS / name
    assert path.exists(), f"{path} is missing: the syndication tests need shared/standards"
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _ninjs_validator(version: str) -> Draft202012Validator:
    geojson = Resource.from_contents(_load("geojson-schema.json"))
    registry = Registry().with_resource(GEOJSON_ID, geojson)
    schema = _load(f"ninjs-schema-{version}.json")
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(
        schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _raise_all(validator: Any) -> Validate:
    def validate(instance: Any) -> None:
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]
        assert not errors, "\n".join(errors)

    return validate


@pytest.fixture(scope="session")
def valid_ninjs() -> dict[str, Validate]:
    """Validators of ninjs 2.2 and 3.1, with format checking on (uri, date-time)."""
    return {version: _raise_all(_ninjs_validator(version)) for version in ("2.2", "3.1")}


@pytest.fixture(scope="session")
def valid_json_feed() -> Validate:
    schema = _load("jsonfeed-schema-1.1.json")
    return _raise_all(Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER))


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(markup: str) -> tuple[str, list[str]]:
    """The text an HTML fragment shows, and the elements it has: what a reader would get."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts), parser.tags
