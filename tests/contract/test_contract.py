"""The v1 OpenAPI is frozen: nothing in the snapshot may be removed or retyped; additions pass."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.contract import snapshot as contract
from tests.contract.snapshot import Doc, breaking_changes, v1_subset

Mutation = Callable[[Doc], object]  # edits the document in place


@pytest.fixture(scope="module")
def frozen() -> Doc:
    return contract.load_snapshot()


@pytest.fixture(scope="module")
def current() -> Doc:
    return v1_subset(contract.current_openapi())


def test_the_running_code_keeps_the_v1_contract(frozen: Doc, current: Doc) -> None:
    problems = breaking_changes(frozen, current)
    assert not problems, "breaking changes to /v1 (a break needs /v2):\n" + "\n".join(problems)


def test_snapshot_holds_only_v1_and_everything_it_references(frozen: Doc) -> None:
    assert frozen["paths"], "the snapshot is empty: run `make contract`"
    assert all(path.startswith("/v1/") for path in frozen["paths"])
    referenced = set(contract.refs(frozen))
    assert referenced <= set(frozen["components"]["schemas"])


# ---- the comparator: each kind of break is named; additions are not breaks


def operation(doc: Doc, path: str, method: str = "get") -> Doc:
    found: Doc = doc["paths"][path][method]
    return found


def parameter(doc: Doc, path: str, name: str) -> Doc:
    return next(p for p in operation(doc, path)["parameters"] if p["name"] == name)


def schema(doc: Doc, name: str) -> Doc:
    found: Doc = doc["components"]["schemas"][name]
    return found


def prop(doc: Doc, name: str, field: str) -> Doc:
    found: Doc = schema(doc, name)["properties"][field]
    return found


def drop_parameter(doc: Doc, path: str, name: str) -> None:
    op = operation(doc, path)
    op["parameters"] = [p for p in op["parameters"] if p["name"] != name]


def remove_enum_value(node: Doc, value: str) -> None:
    node["enum"].remove(value)


def first_branch(node: Doc) -> Doc:
    branch: Doc = node["anyOf"][0]
    return branch


BREAKS: dict[str, tuple[Mutation, str]] = {
    "path removed": (
        lambda d: d["paths"].pop("/v1/tags"),
        "/v1/tags: path removed",
    ),
    "method removed": (
        lambda d: d["paths"]["/v1/tags"].pop("get"),
        "GET /v1/tags: method removed",
    ),
    "operationId changed": (
        lambda d: operation(d, "/v1/articles/{key}").update(operationId="fetchArticle"),
        "GET /v1/articles/{key}: operationId changed from 'getArticle' to 'fetchArticle'",
    ),
    "query parameter removed": (
        lambda d: drop_parameter(d, "/v1/articles", "cursor"),
        "GET /v1/articles query parameter 'cursor': removed",
    ),
    "path parameter removed": (
        lambda d: drop_parameter(d, "/v1/articles/{key}", "key"),
        "GET /v1/articles/{key} path parameter 'key': removed",
    ),
    "query parameter retyped": (
        lambda d: parameter(d, "/v1/articles", "limit").update(schema={"type": "string"}),
        "GET /v1/articles query parameter 'limit': type changed from integer to string",
    ),
    "path parameter retyped": (
        lambda d: parameter(d, "/v1/articles/{key}", "key").update(schema={"type": "integer"}),
        "GET /v1/articles/{key} path parameter 'key': type changed from string to integer",
    ),
    "query parameter made required": (
        lambda d: parameter(d, "/v1/articles", "fields").update(required=True),
        "GET /v1/articles query parameter 'fields': made required",
    ),
    "required query parameter added": (
        lambda d: (
            operation(d, "/v1/tags")
            .setdefault("parameters", [])
            .append({"name": "lang", "in": "query", "required": True, "schema": {"type": "string"}})
        ),
        "GET /v1/tags query parameter 'lang': added as required",
    ),
    "enum value removed from a parameter": (
        lambda d: remove_enum_value(
            first_branch(parameter(d, "/v1/articles", "sort")["schema"]), "relevance"
        ),
        "GET /v1/articles query parameter 'sort': enum value 'relevance' removed",
    ),
    "response status removed": (
        lambda d: operation(d, "/v1/articles/{key}")["responses"].pop("410"),
        "GET /v1/articles/{key} response 410: status removed",
    ),
    "response media type removed": (
        lambda d: operation(d, "/v1/articles/{key}")["responses"]["200"].update(content={}),
        "GET /v1/articles/{key} response 200: media type application/json removed",
    ),
    "property removed": (
        lambda d: schema(d, "ArticleRead")["properties"].pop("dek"),
        "ArticleRead.dek: property removed",
    ),
    "property of a referenced schema removed": (
        lambda d: schema(d, "RefRead")["properties"].pop("slug"),
        "RefRead.slug: property removed",
    ),
    "property retyped": (
        lambda d: prop(d, "ArticleRead", "word_count").update(type="string"),
        "ArticleRead.word_count: type changed from integer to string",
    ),
    "object property turned into a string": (
        lambda d: schema(d, "ArticleRead")["properties"].update(category={"type": "string"}),
        "ArticleRead.category: type changed from object to string",
    ),
    "array items retyped": (
        lambda d: prop(d, "ArticleRead", "takeaways")["items"].update(type="integer"),
        "ArticleRead.takeaways[]: type changed from string to integer",
    ),
    "format changed": (
        lambda d: prop(d, "ArticleRead", "updated_at").update(format="date"),
        "ArticleRead.updated_at: format changed from date-time to date",
    ),
    "format dropped inside a nullable": (
        lambda d: first_branch(prop(d, "ArticleRead", "published_at")).pop("format"),
        "ArticleRead.published_at: format changed from date-time to none",
    ),
    "nullable made non-null": (
        lambda d: schema(d, "ArticleRead")["properties"].update(dek={"type": "string"}),
        "ArticleRead.dek: nullability changed: was nullable, now not nullable",
    ),
    "non-null made nullable": (
        lambda d: schema(d, "ArticleRead")["properties"].update(
            revision={"anyOf": [{"type": "integer"}, {"type": "null"}]}
        ),
        "ArticleRead.revision: nullability changed: was not nullable, now nullable",
    ),
    "enum value removed from a property": (
        lambda d: remove_enum_value(prop(d, "ArticleRead", "status"), "retracted"),
        "ArticleRead.status: enum value 'retracted' removed",
    ),
    "response property no longer required": (
        lambda d: schema(d, "ArticleRead")["required"].remove("slug"),
        "ArticleRead.slug: no longer required",
    ),
}


@pytest.mark.parametrize("name", BREAKS)
def test_each_kind_of_break_is_named(frozen: Doc, name: str) -> None:
    mutate, expected = BREAKS[name]
    changed = copy.deepcopy(frozen)
    mutate(changed)
    problems = breaking_changes(frozen, changed)
    assert any(expected in problem for problem in problems), problems


def add_everything(doc: Doc) -> None:
    """Additions of every kind a v1 change may make."""
    doc["paths"]["/v1/widgets"] = {"get": {"operationId": "listWidgets", "responses": {}}}
    doc["paths"]["/v1/tags"]["post"] = {"operationId": "createTag", "responses": {}}
    operation(doc, "/v1/tags").setdefault("parameters", []).append(
        {"name": "lang", "in": "query", "required": False, "schema": {"type": "string"}}
    )
    operation(doc, "/v1/articles/{key}")["responses"]["503"] = {"description": "Busy"}
    schema(doc, "ArticleRead")["properties"]["subtitle"] = {"type": "string"}
    schema(doc, "ArticleRead")["required"].append("subtitle")
    prop(doc, "ArticleRead", "status")["enum"].append("archived")
    doc["components"]["schemas"]["Widget"] = {"type": "object", "properties": {}}
    # A response that had no schema (the problem+json of a 422) gets one.
    problem = operation(doc, "/v1/articles")["responses"]["422"]["content"][
        "application/problem+json"
    ]
    problem["schema"] = {"$ref": "#/components/schemas/Widget"}


def test_additions_are_not_breaks(frozen: Doc) -> None:
    grown = copy.deepcopy(frozen)
    add_everything(grown)
    assert breaking_changes(frozen, grown) == []


def test_unchanged_snapshot_has_no_breaks(frozen: Doc) -> None:
    assert breaking_changes(frozen, copy.deepcopy(frozen)) == []


# ---- request bodies (no /v1 operation takes one yet; the rules are ready for when they do)


def body_doc() -> Doc:
    create = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "note": {"type": "string"}},
        "required": ["name"],
    }
    body = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Create"}}}}
    post = {"operationId": "createThing", "requestBody": body, "responses": {"201": {}}}
    return {"paths": {"/v1/things": {"post": post}}, "components": {"schemas": {"Create": create}}}


def test_property_newly_required_in_a_request_body_is_a_break() -> None:
    old = body_doc()
    new = copy.deepcopy(old)
    schema(new, "Create")["required"].append("note")
    assert breaking_changes(old, new) == ["Create.note: made required in a request body"]


def test_new_required_property_in_a_request_body_is_a_break() -> None:
    old = body_doc()
    new = copy.deepcopy(old)
    schema(new, "Create")["properties"]["owner"] = {"type": "string"}
    schema(new, "Create")["required"].append("owner")
    assert breaking_changes(old, new) == ["Create.owner: made required in a request body"]


def test_request_body_made_required_or_removed_is_a_break() -> None:
    old = body_doc()
    required, removed = copy.deepcopy(old), copy.deepcopy(old)
    operation(required, "/v1/things", "post")["requestBody"]["required"] = True
    del operation(removed, "/v1/things", "post")["requestBody"]
    assert breaking_changes(old, required) == ["POST /v1/things request body: made required"]
    assert breaking_changes(old, removed) == ["POST /v1/things request body: removed"]


def test_optional_request_property_may_be_added() -> None:
    old = body_doc()
    new = copy.deepcopy(old)
    schema(new, "Create")["properties"]["colour"] = {"type": "string"}
    assert breaking_changes(old, new) == []


# ---- the snapshot itself and the command that maintains it


def test_subset_keeps_v1_paths_and_their_schemas_transitively() -> None:
    schemas = {
        "Outer": {"properties": {"inner": {"$ref": "#/components/schemas/Inner"}}},
        "Inner": {"properties": {"leaf": {"items": {"$ref": "#/components/schemas/Leaf"}}}},
        "Leaf": {"type": "string"},
        "Health": {"type": "object"},
    }
    ok = {
        "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Outer"}}}}
    }
    doc = {
        "openapi": "3.1.0",
        "paths": {
            "/v1/outer": {"get": {"responses": ok}},
            "/healthz": {"get": {"responses": {"200": {"$ref": "#/components/schemas/Health"}}}},
            "/v10/other": {"get": {"responses": {}}},
        },
        "components": {"schemas": schemas},
    }
    subset = v1_subset(doc)
    assert list(subset["paths"]) == ["/v1/outer"]
    assert list(subset["components"]["schemas"]) == ["Inner", "Leaf", "Outer"]


def test_command_reports_breaks_and_writes_the_snapshot(
    frozen: Doc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = copy.deepcopy(frozen)
    schema(stale, "ArticleRead")["properties"]["vanished"] = {"type": "string"}
    target = tmp_path / "openapi-v1.json"
    target.write_text(contract.dumps(stale), encoding="utf-8")
    monkeypatch.setattr(contract, "SNAPSHOT", target)

    assert contract.main([]) == 1
    out = capsys.readouterr().out
    assert "BREAKING ArticleRead.vanished: property removed" in out
    # The diff shows the line the code no longer has.
    assert re.search(r'^-\s+"vanished": \{$', out, re.MULTILINE)

    assert contract.main(["--write"]) == 0
    capsys.readouterr()
    assert "vanished" not in target.read_text(encoding="utf-8")
    assert contract.main([]) == 0


def test_snapshot_file_is_in_canonical_form(frozen: Doc) -> None:
    # The file is written by `make contract`; a hand edit that is not canonical shows here.
    assert contract.SNAPSHOT.read_text(encoding="utf-8") == contract.dumps(frozen)
    assert json.loads(contract.dumps(frozen)) == frozen


def test_union_branches_pair_by_component_not_by_position(frozen: Doc) -> None:
    reordered = copy.deepcopy(frozen)
    response = reordered["paths"]["/v1/articles/{key}"]["get"]["responses"]["200"]
    schema = response["content"]["application/json"]["schema"]
    schema["anyOf"].reverse()
    assert breaking_changes(frozen, reordered) == []
