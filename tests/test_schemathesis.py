"""A bounded schemathesis run: every GET operation in /openapi.json, on both backends.

No request may produce a 5xx, and every response whose status is documented must match
its documented schema. Each operation gets a few realistic requests built from seeded
values, then up to 25 generated ones (valid and invalid). Requests go through the same
in-process client as the other API tests, so they see the articles seeded in the test's
transaction.

Hypothesis drives a synchronous test, but the app and its database connection belong to
the test's event loop; the Hypothesis run therefore happens in a worker thread and hands
each request back to the loop, which waits for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from itertools import product
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.schemas import APIOperation
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.models import Article
from tests.conftest import BASE_URL, add_article
from tests.contract.snapshot import current_openapi

EXAMPLES_PER_OPERATION = 25
CHECKS = [not_a_server_error, response_schema_conformance]
GET_OPERATIONS = sorted(
    item["get"]["operationId"] for item in current_openapi()["paths"].values() if "get" in item
)
Send = Callable[[Case], httpx.Response]


async def seed(session: AsyncSession, settings: Settings) -> dict[str, list[str]]:
    """Articles that share a category, an author and tags, one of them retracted.

    Returns real values for parameters by name, so that generated requests also reach
    found articles (200 and 410) and valid filters, not only 404s and 422s.
    """
    shared: dict[str, Any] = {
        "category": "World Wide", "authors": ["Mackenzie Crow", "Ann Lee"], "tags": ["Diplomacy"],
    }  # fmt: skip
    first = await add_article(session, settings, headline="Ties deepen", **shared)
    second = await add_article(
        session, settings, headline="Summit <b>ends</b>", dek=None, **shared,
        sections=[{"heading": None, "paragraphs": ["Intro."]}, {"heading": "Next", "paragraphs": ["More."]}],
    )  # fmt: skip
    gone = await add_article(session, settings, headline="Withdrawn story", **shared)
    await session.execute(
        update(Article)
        .where(Article.id == gone.id)
        .values(status="retracted", retracted_at=dt.datetime(2025, 6, 1, tzinfo=dt.UTC))
    )
    await session.commit()
    return {
        "key": [first.slug, second.id, gone.slug],
        "slug": ["world-wide", "mackenzie-crow", "diplomacy"],
        "category": ["world-wide"],
        "q": ["summit"],
        "fields": ["headline", "dek,links"],
    }


def seeded_cases(operation: Any, known: dict[str, list[str]]) -> list[Case]:
    """Realistic requests, always sent: each seeded path, alone and with each seeded query value.

    Fuzzing alone reaches these combinations only by chance (and Hypothesis draws on
    constants from whichever modules are loaded, so the chance changes with the selection
    of tests); a valid filter on a found article must not depend on it.
    """
    names = [p.name for p in operation.path_parameters]
    paths = [
        dict(zip(names, values, strict=True))
        for values in product(*(known.get(n, []) for n in names))
    ]
    queries = [{}] + [{p.name: v} for p in operation.query for v in known.get(p.name, [])]
    return [
        operation.Case(path_parameters=path, query=query) for path in paths for query in queries
    ]


def fuzzed_cases(operation: Any, known: dict[str, list[str]]) -> st.SearchStrategy[Case]:
    """Valid and invalid requests, each parameter free or set to one seeded value."""
    pinned: list[dict[str, dict[str, str]]] = [{}]
    for parameter in operation.iter_parameters():
        for value in known.get(parameter.name, []):
            pinned.append({parameter.location: {parameter.name: value}})
    strategies = [
        operation.as_strategy(
            generation_mode=mode, path_parameters=fixed.get("path"), query=fixed.get("query")
        )
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for fixed in pinned
    ]
    return st.one_of(strategies)


async def request(client: httpx.AsyncClient, case: Case) -> httpx.Response:
    sent = case.as_transport_kwargs(base_url=BASE_URL)
    headers = dict(sent.get("headers") or {})
    if sent.get("cookies"):
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in sent["cookies"].items())
    return await client.request(
        sent["method"], sent["url"], params=sent.get("params"), headers=headers
    )


def explore(operation: Any, known: dict[str, list[str]], send: Send) -> None:
    """Send the seeded requests, then fuzz; a failing check raises with a curl to reproduce it."""
    for case in seeded_cases(operation, known):
        case.validate_response(send(case), checks=CHECKS)

    @hypothesis_settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        # Generation time depends on the machine's load, not on the app: not a signal here.
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(case=fuzzed_cases(operation, known))
    def fuzz(case: Case) -> None:
        case.validate_response(send(case), checks=CHECKS)

    fuzz()


def find_get(doc: dict[str, Any], operation_id: str) -> APIOperation:
    schema = schemathesis.openapi.from_dict(doc)
    paths = [
        p
        for p, item in doc["paths"].items()
        if item.get("get", {}).get("operationId") == operation_id
    ]
    assert len(paths) == 1, f"/openapi.json has {len(paths)} GET operations named {operation_id}"
    operation = schema.find_operation_by_label(f"GET {paths[0]}")
    assert operation is not None, f"schemathesis cannot find GET {paths[0]}"
    return operation


@pytest.mark.parametrize("operation_id", GET_OPERATIONS)
async def test_get_operation_keeps_its_documented_promises(
    operation_id: str, client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    known = await seed(session, settings)
    served = await client.get("/openapi.json")
    assert served.status_code == 200
    operation = find_get(served.json(), operation_id)
    loop = asyncio.get_running_loop()

    def send(case: Case) -> httpx.Response:
        return asyncio.run_coroutine_threadsafe(request(client, case), loop).result(timeout=30)

    await asyncio.to_thread(explore, operation, known, send)
