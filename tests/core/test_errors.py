"""Problem documents stay small: validation errors are listed up to a bound, and counted."""

from __future__ import annotations

import orjson
import pytest

from app.core.errors import MAX_ERRORS, client_errors
from tests.access.test_keys import auth, make_key


def article(**extra: object) -> dict[str, object]:
    return {"headline": "H", "category": "Science", **extra}


@pytest.mark.parametrize("unknown", [MAX_ERRORS + 1, 5_000])
async def test_a_body_with_many_errors_lists_the_first_few_and_counts_all(client, session, unknown):
    writer = auth(await make_key(session, "write"))
    body = article(**{f"k{n}": n for n in range(unknown)})
    response = await client.post("/v1/articles", json=body, headers=writer)
    assert response.status_code == 422
    problem = response.json()
    assert len(problem["errors"]) == MAX_ERRORS
    assert problem["errors"][0] == {"loc": ["body", "k0"], "msg": "Extra inputs are not permitted"}
    assert f"{unknown} errors in all; the first {MAX_ERRORS} are listed" in problem["detail"]
    assert "k49" in problem["detail"]
    assert "k50," not in problem["detail"]
    assert len(response.content) < 10_000


async def test_eighty_thousand_unknown_keys_make_a_small_problem(client, session):
    writer = auth(await make_key(session, "write"))
    body = orjson.dumps(article(**{f"key{n}": 1 for n in range(80_000)}))
    response = await client.post(
        "/v1/articles", content=body, headers={**writer, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert len(response.content) < 10_000
    assert "80000 errors in all" in response.json()["detail"]


async def test_a_few_errors_are_all_listed_without_a_count(client, session):
    writer = auth(await make_key(session, "write"))
    response = await client.post("/v1/articles", json={"x": 1, "y": 2}, headers=writer)
    problem = response.json()
    locs = [e["loc"] for e in problem["errors"]]
    assert ["body", "x"] in locs
    assert ["body", "y"] in locs
    assert "in all" not in problem["detail"]


async def test_app_errors_are_bounded_too(client):
    from app.core.errors import InvalidInput

    many = [{"loc": ["body", f"f{n}"], "msg": "bad"} for n in range(MAX_ERRORS * 3)]
    app = client._transport.app  # the app under test

    @app.get("/v1/test-many-errors")
    async def raise_many() -> None:
        raise InvalidInput("many bad fields", many)

    response = await client.get("/v1/test-many-errors")
    assert response.status_code == 422
    assert response.json()["errors"] == many[:MAX_ERRORS]
    assert response.json()["detail"] == (
        f"many bad fields ({MAX_ERRORS * 3} errors in all; the first {MAX_ERRORS} are listed)"
    )


def test_client_errors_drop_a_union_mismatch_explained_more_deeply_in_linear_time():
    details = [
        {"loc": ("body", "category", "str"), "msg": "should be a valid string", "type": "string_type"},
        {"loc": ("body", "category", "NamedRef", "slug"), "msg": "bad slug", "type": "string_pattern_mismatch"},
        *({"loc": ("body", f"k{n}"), "msg": "extra", "type": "extra_forbidden"} for n in range(50_000)),
    ]  # fmt: skip
    errors = client_errors(details)
    assert errors[0] == {"loc": ["body", "category", "slug"], "msg": "bad slug"}
    assert len(errors) == 50_001


async def test_a_problem_never_hands_back_markup(client, session):
    response = await client.get("/v1/articles/%3Cscript%3Ealert(1)%3C%2Fscript%3E&x")
    assert response.status_code == 404
    assert b"<" not in response.content
    assert b">" not in response.content
    assert b"&" not in response.content
    assert response.json()["instance"] == "/v1/articles/<script>alert(1)</script>&x"
    refused = await client.get("/v1/keys/%3Cb%3E", headers=auth("byl_unknown"))
    assert refused.status_code == 401  # sent by the access gate, outside the handlers
    assert b"<" not in refused.content
    assert refused.json()["instance"] == "/v1/keys/<b>"


async def test_an_unexpected_error_keeps_the_rate_limit_headers(sessions, monkeypatch):
    import httpx

    from app.articles import service
    from app.core.config import Settings
    from app.main import create_app
    from tests.conftest import BASE_URL

    async def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "list_articles", explode)
    settings = Settings(
        database_url="sqlite:///unused.db", public_base_url=BASE_URL,
        anonymous_rate_limit="100/minute",
    )  # fmt: skip
    app = create_app(settings, sessions)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        response = await client.get("/v1/articles")
    assert response.status_code == 500
    assert response.headers["ratelimit-limit"] == "100"
    assert response.headers["ratelimit-remaining"] == "99"
    assert int(response.headers["ratelimit-reset"]) > 0
