"""The frozen v1 contract: snapshot the /v1 OpenAPI and name every breaking change against it.

`python -m tests.contract.snapshot` prints the diff between the snapshot and the running
code and the breaking changes among it (exit status 1 if there are any); `--write`
(`make contract`) rewrites the snapshot, for a commit that adds to the API.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).with_name("openapi-v1.json")
V1_PREFIX = "/v1"
SCHEMA_REF = "#/components/schemas/"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

Doc = dict[str, Any]


# ---- building the snapshot


def current_openapi() -> Doc:
    """The app's OpenAPI as it is now; no database is opened to build it."""
    from app.core.config import Settings
    from app.core.db import make_engine, make_sessionmaker
    from app.main import create_app

    engine = make_engine("sqlite:///:memory:")
    app = create_app(Settings(database_url="sqlite:///:memory:"), make_sessionmaker(engine))
    doc: Doc = app.openapi()
    return doc


def refs(node: Any) -> Iterator[str]:
    """Names of the component schemas referenced anywhere inside node."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMA_REF):
            yield ref.removeprefix(SCHEMA_REF)
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def v1_subset(doc: Doc) -> Doc:
    """The /v1 paths and every component schema they reference, transitively."""
    paths = {p: item for p, item in doc["paths"].items() if _is_v1(p)}
    schemas = doc.get("components", {}).get("schemas", {})
    wanted: set[str] = set()
    pending = list(refs(paths))
    while pending:
        name = pending.pop()
        if name not in wanted:
            wanted.add(name)
            pending.extend(refs(schemas[name]))
    return {
        "openapi": doc["openapi"],
        "paths": paths,
        "components": {"schemas": {name: schemas[name] for name in sorted(wanted)}},
    }


def _is_v1(path: str) -> bool:
    return path == V1_PREFIX or path.startswith(V1_PREFIX + "/")


def dumps(doc: Doc) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def load_snapshot() -> Doc:
    snapshot: Doc = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    return snapshot


# ---- comparing: everything a client of the old document relies on must still hold


@dataclass
class Comparison:
    """Walks the old and new documents side by side, collecting breaking changes."""

    old_doc: Doc
    new_doc: Doc
    problems: set[str] = field(default_factory=set)
    _seen: set[tuple[str, str, str]] = field(default_factory=set)

    def report(self, where: str, what: str) -> None:
        self.problems.add(f"{where}: {what}")

    def paths(self) -> None:
        new_paths = self.new_doc.get("paths", {})
        for path, old_item in self.old_doc.get("paths", {}).items():
            if path not in new_paths:
                self.report(path, "path removed")
                continue
            for method in METHODS:
                if method in old_item:
                    self.operation(f"{method.upper()} {path}", old_item[method], new_paths[path])

    def operation(self, where: str, old: Doc, new_item: Doc) -> None:
        method = where.split(" ", 1)[0].lower()
        if method not in new_item:
            self.report(where, "method removed")
            return
        new = new_item[method]
        if old.get("operationId") != new.get("operationId"):
            self.report(
                where,
                f"operationId changed from {old.get('operationId')!r} to {new.get('operationId')!r}",
            )
        self.parameters(where, old.get("parameters", []), new.get("parameters", []))
        self.request_body(where, old.get("requestBody"), new.get("requestBody"))
        self.responses(where, old.get("responses", {}), new.get("responses", {}))

    def parameters(self, where: str, old: list[Doc], new: list[Doc]) -> None:
        new_by_key = {(p["in"], p["name"]): p for p in new}
        old_keys = {(p["in"], p["name"]) for p in old}
        for param in old:
            label = f"{where} {param['in']} parameter {param['name']!r}"
            other = new_by_key.get((param["in"], param["name"]))
            if other is None:
                self.report(label, "removed")
                continue
            if other.get("required", False) and not param.get("required", False):
                self.report(label, "made required")
            self.schema(label, param.get("schema", {}), other.get("schema", {}), "request")
        for key, param in new_by_key.items():
            if key not in old_keys and param.get("required", False):
                self.report(f"{where} {key[0]} parameter {key[1]!r}", "added as required")

    def request_body(self, where: str, old: Doc | None, new: Doc | None) -> None:
        label = f"{where} request body"
        if old is None:
            if new is not None and new.get("required", False):
                self.report(label, "added as required")
            return
        if new is None:
            self.report(label, "removed")
            return
        if new.get("required", False) and not old.get("required", False):
            self.report(label, "made required")
        self.content(label, old.get("content", {}), new.get("content", {}), "request")

    def responses(self, where: str, old: Doc, new: Doc) -> None:
        for status, response in old.items():
            label = f"{where} response {status}"
            if status not in new:
                self.report(label, "status removed")
                continue
            self.content(
                label, response.get("content", {}), new[status].get("content", {}), "response"
            )

    def content(self, where: str, old: Doc, new: Doc, direction: str) -> None:
        for media_type, body in old.items():
            if media_type not in new:
                self.report(where, f"media type {media_type} removed")
                continue
            self.schema(
                f"{where} {media_type}",
                body.get("schema", {}),
                new[media_type].get("schema", {}),
                direction,
            )

    # ---- schemas

    def schema(self, where: str, old: Doc, new: Doc, direction: str) -> None:
        old_ref, new_ref = old.get("$ref", ""), new.get("$ref", "")
        old, new = self.resolve(old, self.old_doc), self.resolve(new, self.new_doc)
        if direction == "response" and self.types(old, self.old_doc) == {"any"}:
            return  # the old document promised nothing here; describing it now is an addition
        self.shape(where, old, new)
        if old_ref:
            # Look inside a component once per pairing and direction, and name it there;
            # this also ends the walk on recursive schemas.
            key = (old_ref, new_ref, direction)
            if key in self._seen:
                return
            self._seen.add(key)
            where = old_ref.removeprefix(SCHEMA_REF)
        if _union(old) or _union(new):
            self.branches(where, old, new, direction)
            return
        self.enum(where, old, new)
        self.properties(where, old, new, direction)
        for keyword, suffix in (("items", "[]"), ("additionalProperties", "{}")):
            if isinstance(old.get(keyword), dict) and isinstance(new.get(keyword), dict):
                self.schema(where + suffix, old[keyword], new[keyword], direction)

    @staticmethod
    def resolve(node: Doc, doc: Doc) -> Doc:
        ref = node.get("$ref")
        if not isinstance(ref, str) or not ref.startswith(SCHEMA_REF):
            return node
        resolved: Doc = (
            doc.get("components", {}).get("schemas", {}).get(ref.removeprefix(SCHEMA_REF), {})
        )
        return resolved

    def shape(self, where: str, old: Doc, new: Doc) -> None:
        old_types, new_types = self.types(old, self.old_doc), self.types(new, self.new_doc)
        if old_types - {"null"} != new_types - {"null"}:
            self.report(
                where,
                f"type changed from {_show(old_types - {'null'})} to {_show(new_types - {'null'})}",
            )
        if ("null" in old_types) != ("null" in new_types):
            was = "nullable" if "null" in old_types else "not nullable"
            now = "nullable" if "null" in new_types else "not nullable"
            self.report(where, f"nullability changed: was {was}, now {now}")
        old_format, new_format = _formats(old, self.old_doc), _formats(new, self.new_doc)
        if old_format != new_format:
            self.report(where, f"format changed from {_show(old_format)} to {_show(new_format)}")

    def types(self, node: Doc, doc: Doc) -> set[str]:
        """The JSON types a schema admits ("any" when it does not say)."""
        node = self.resolve(node, doc)
        if node.get("nullable") is True:  # OpenAPI 3.0 spelling
            return self.types({k: v for k, v in node.items() if k != "nullable"}, doc) | {"null"}
        declared = node.get("type")
        if isinstance(declared, str):
            return {declared}
        if isinstance(declared, list):
            return set(declared)
        branches = node.get("anyOf") or node.get("oneOf")
        if branches:
            return set().union(*(self.types(branch, doc) for branch in branches))
        if "properties" in node:
            return {"object"}
        values = node.get("enum", [node["const"]] if "const" in node else [])
        return {_json_type(v) for v in values} or {"any"}

    def enum(self, where: str, old: Doc, new: Doc) -> None:
        old_values, new_values = _enum_values(old), _enum_values(new)
        if old_values is None or new_values is None:
            return
        for value in old_values:
            if value not in new_values:
                self.report(where, f"enum value {value!r} removed")

    def branches(self, where: str, old: Doc, new: Doc, direction: str) -> None:
        """Compare unions branch by branch: the same component first, else the same types."""
        new_branches = _alternatives(new)
        for branch in _alternatives(old):
            kind = self.kind(branch, self.old_doc)
            same_ref = (
                b for b in new_branches if "$ref" in branch and b.get("$ref") == branch["$ref"]
            )
            same_kind = (b for b in new_branches if self.kind(b, self.new_doc) == kind)
            match = next(same_ref, None) or next(same_kind, None)
            if match is not None:
                self.schema(where, branch, match, direction)

    def kind(self, node: Doc, doc: Doc) -> tuple[str, ...]:
        return tuple(sorted(self.types(node, doc)))

    def properties(self, where: str, old: Doc, new: Doc, direction: str) -> None:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        for name, prop in old_props.items():
            if name not in new_props:
                self.report(f"{where}.{name}", "property removed")
                continue
            if direction == "response" and name in old_required and name not in new_required:
                self.report(
                    f"{where}.{name}", "no longer required (clients rely on it being present)"
                )
            self.schema(f"{where}.{name}", prop, new_props[name], direction)
        if direction == "request":
            for name in sorted(new_required - old_required):
                self.report(f"{where}.{name}", "made required in a request body")


def _union(node: Doc) -> bool:
    return bool(node.get("anyOf") or node.get("oneOf"))


def _alternatives(node: Doc) -> list[Doc]:
    """The non-null branches of a union, or the schema itself when it is not one."""
    branches: list[Doc] = node.get("anyOf") or node.get("oneOf") or [node]
    return [branch for branch in branches if branch.get("type") != "null"]


def _enum_values(node: Doc) -> list[Any] | None:
    if "enum" in node:
        values: list[Any] = node["enum"]
        return values
    return [node["const"]] if "const" in node else None


def _formats(node: Doc, doc: Doc) -> set[str]:
    node = Comparison.resolve(node, doc)
    found = {node["format"]} if "format" in node else set()
    for branch in node.get("anyOf") or node.get("oneOf") or []:
        found |= _formats(branch, doc)
    return found


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "null")


def _show(values: set[str]) -> str:
    return "|".join(sorted(values)) or "none"


def breaking_changes(old: Doc, new: Doc) -> list[str]:
    """Every way in which `new` breaks a client written against `old`, one line each."""
    comparison = Comparison(old, new)
    comparison.paths()
    return sorted(comparison.problems)


# ---- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the snapshot")
    args = parser.parse_args(argv)
    current = v1_subset(current_openapi())
    if args.write:
        SNAPSHOT.write_text(dumps(current), encoding="utf-8")
        print(f"wrote {SNAPSHOT}")  # noqa: T201 - a command-line tool reports on stdout
        return 0
    old_text = SNAPSHOT.read_text(encoding="utf-8") if SNAPSHOT.exists() else "{}\n"
    diff = difflib.unified_diff(
        old_text.splitlines(keepends=True), dumps(current).splitlines(keepends=True),
        fromfile=f"{SNAPSHOT.name} (snapshot)", tofile=f"{SNAPSHOT.name} (code)",
    )  # fmt: skip
    sys.stdout.writelines(diff)
    problems = breaking_changes(json.loads(old_text), current)
    for problem in problems:
        print(f"BREAKING {problem}")  # noqa: T201
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
