"""The write API: every operation, its preconditions, and every way it refuses bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from app.models import Article, Change, Revision
from tests.access.test_keys import auth, make_key

ARTICLE = {
    "headline": "Harbour cranes go electric",
    "dek": "Ports cut diesel use.",
    "category": "Business",
    "authors": ["Ingrid Solberg", {"name": "Tomás Okafor", "slug": "tomas-okafor"}],
    "takeaways": ["Cranes are electric now."],
    "sections": [
        {"heading": None, "paragraphs": ["The first paragraph."]},
        {"heading": "Costs", "paragraphs": ["Money."]},
    ],
    "tags": ["Ports"],
}


@pytest.fixture
async def writer(session):
    return auth(await make_key(session, "write", name="desk"))


async def create(client, writer, **changes):
    response = await client.post("/v1/articles", json={**ARTICLE, **changes}, headers=writer)
    assert response.status_code == 201, response.text
    return response


async def count(session, model) -> int:
    return await session.scalar(select(func.count()).select_from(model))


class TestCreate:
    async def test_creates_a_draft_with_location_and_etag(self, client, writer, session):
        response = await create(client, writer)
        body = response.json()
        assert body["status"] == "draft"
        assert body["revision"] == 1
        assert body["authors"][1] == {"slug": "tomas-okafor", "name": "Tomás Okafor"}
        assert response.headers["location"] == f"/v1/articles/{body['id']}"
        assert response.headers["etag"] == f'"{body["id"]}.1"'
        assert response.headers["cache-control"] == "private, no-store"
        assert (await client.get(f"/v1/articles/{body['id']}")).status_code == 404
        assert (await client.get(f"/v1/articles/{body['id']}", headers=writer)).json()[
            "status"
        ] == "draft"
        events = (await session.scalars(select(Change.event))).all()
        assert events == ["created"]

    async def test_create_published(self, client, writer):
        body = (await create(client, writer, status="published")).json()
        assert body["status"] == "published"
        assert (await client.get(f"/v1/articles/{body['slug']}")).status_code == 200

    async def test_duplicate_slug_is_409(self, client, writer, session):
        await create(client, writer)
        again = await client.post("/v1/articles", json=ARTICLE, headers=writer)
        assert again.status_code == 409
        assert again.json()["errors"][0]["loc"] == ["body", "slug"]
        assert await count(session, Article) == 1

    async def test_idempotency_key_replays_the_first_response(self, client, writer, session):
        headers = {**writer, "Idempotency-Key": "abc-1"}
        first = await client.post("/v1/articles", json=ARTICLE, headers=headers)
        second = await client.post("/v1/articles", json=ARTICLE, headers=headers)
        assert first.status_code == second.status_code == 201
        assert second.content == first.content
        assert second.headers["location"] == first.headers["location"]
        assert second.headers["idempotent-replayed"] == "true"
        assert await count(session, Article) == 1
        different = await client.post(
            "/v1/articles", json={**ARTICLE, "headline": "Other"}, headers=headers
        )
        assert different.status_code == 422
        assert different.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
        assert await count(session, Article) == 1

    async def test_idempotency_keys_belong_to_one_api_key(self, client, writer, session):
        other = auth(await make_key(session, "write", name="other-desk"))
        await client.post("/v1/articles", json=ARTICLE, headers={**writer, "Idempotency-Key": "k"})
        response = await client.post(
            "/v1/articles",
            json={**ARTICLE, "slug": "second"},
            headers={**other, "Idempotency-Key": "k"},
        )
        assert response.status_code == 201
        assert await count(session, Article) == 2


class TestAuth:
    async def test_writes_need_a_write_key(self, client, session):
        reader = auth(
            await make_key(session, "read", "syndicate", "stats", "admin", name="not-a-writer")
        )
        assert (await client.post("/v1/articles", json=ARTICLE)).status_code == 401
        assert (await client.post("/v1/articles", json=ARTICLE, headers=reader)).status_code == 403
        for method, path in [("PUT", "/v1/articles/x"), ("PATCH", "/v1/articles/x"), ("DELETE", "/v1/articles/x"),
                             ("POST", "/v1/articles/x/publish"), ("POST", "/v1/articles/x/unpublish"),
                             ("POST", "/v1/articles/x/retract"), ("POST", "/v1/articles/x/corrections"),
                             ("GET", "/v1/articles/x/revisions"), ("GET", "/v1/articles/x/revisions/1"),
                             ("POST", "/v1/imports")]:  # fmt: skip
            response = await client.request(
                method, path, headers={**reader, "If-Match": "*"}, json={"reason": "r", "text": "t"}
            )
            assert response.status_code == 403, (method, path, response.text)

    async def test_unpublished_lists_need_write(self, client, session, writer):
        reader = auth(await make_key(session, "read", name="reader"))
        assert (await client.get("/v1/articles?status=draft")).status_code == 401
        assert (await client.get("/v1/articles?status=draft", headers=reader)).status_code == 403
        assert (
            await client.get("/v1/articles?status=published", headers=reader)
        ).status_code == 200
        bad = await client.get("/v1/articles?status=lost", headers=writer)
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["loc"] == ["query", "status"]


class TestUpdate:
    async def test_put_needs_if_match(self, client, writer):
        body = (await create(client, writer)).json()
        missing = await client.put(f"/v1/articles/{body['id']}", json=ARTICLE, headers=writer)
        assert missing.status_code == 428
        stale = await client.put(
            f"/v1/articles/{body['id']}",
            json=ARTICLE,
            headers={**writer, "If-Match": f'"{body["id"]}.7"'},
        )
        assert stale.status_code == 412

    async def test_put_replaces_content_and_bumps_revision(self, client, writer, session):
        created = await create(client, writer)
        body = created.json()
        replaced = await client.put(
            f"/v1/articles/{body['id']}", json={**ARTICLE, "dek": "New dek.", "tags": []},
            headers={**writer, "If-Match": created.headers["etag"]},
        )  # fmt: skip
        assert replaced.status_code == 200, replaced.text
        assert replaced.json()["dek"] == "New dek."
        assert replaced.json()["tags"] == []
        assert replaced.json()["revision"] == 2
        assert replaced.headers["etag"] == f'"{body["id"]}.2"'
        again = await client.put(
            f"/v1/articles/{body['id']}",
            json=ARTICLE,
            headers={**writer, "If-Match": created.headers["etag"]},
        )
        assert again.status_code == 412

    async def test_patch_is_a_json_merge_patch(self, client, writer):
        created = await create(client, writer)
        article_id = created.json()["id"]
        response = await client.patch(
            f"/v1/articles/{article_id}", content=b'{"dek": null, "headline": "Cranes, electrified", "rights": {"syndication": false}}',
            headers={**writer, "If-Match": created.headers["etag"], "Content-Type": "application/merge-patch+json"},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["dek"] is None
        assert body["headline"] == "Cranes, electrified"
        assert body["rights"]["syndication"] is False
        assert body["sections"][1]["heading"] == "Costs"
        assert body["slug"] == created.json()["slug"]

    async def test_patch_producing_an_invalid_article_is_422(self, client, writer):
        created = await create(client, writer)
        headers = {**writer, "If-Match": created.headers["etag"]}
        response = await client.patch(
            f"/v1/articles/{created.json()['id']}", json={"headline": ""}, headers=headers
        )
        assert response.status_code == 422
        assert ["body", "headline"] in [e["loc"] for e in response.json()["errors"]]
        not_object = await client.patch(
            f"/v1/articles/{created.json()['id']}", json=[1, 2], headers=headers
        )
        assert not_object.status_code == 422


class TestLifecycle:
    async def test_publish_now_then_unpublish(self, client, writer):
        article_id = (await create(client, writer)).json()["id"]
        published = await client.post(f"/v1/articles/{article_id}/publish", headers=writer)
        assert published.status_code == 200
        assert published.json()["status"] == "published"
        assert (await client.get(f"/v1/articles/{article_id}")).status_code == 200
        back = await client.post(f"/v1/articles/{article_id}/unpublish", headers=writer)
        assert back.json()["status"] == "draft"
        assert (await client.get(f"/v1/articles/{article_id}")).status_code == 404

    async def test_schedule_is_an_embargo(self, client, writer):
        article_id = (await create(client, writer)).json()["id"]
        at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).replace(microsecond=0)
        response = await client.post(
            f"/v1/articles/{article_id}/publish", json={"at": at.isoformat()}, headers=writer
        )
        body = response.json()
        assert body["status"] == "scheduled"
        assert dt.datetime.fromisoformat(body["embargo_until"]) == at
        assert dt.datetime.fromisoformat(body["published_at"]) == at
        assert (await client.get(f"/v1/articles/{article_id}")).status_code == 404
        assert (await client.get("/v1/articles")).json()["data"] == []
        # An embargoed article's category is not named to readers before it is public.
        assert (await client.get("/v1/categories")).json()["data"] == []
        listed = (await client.get("/v1/articles?status=scheduled", headers=writer)).json()["data"]
        assert [item["status"] for item in listed] == ["scheduled"]

    async def test_retract_gives_readers_a_tombstone(self, client, writer, session):
        article_id = (await create(client, writer, status="published")).json()["id"]
        response = await client.post(
            f"/v1/articles/{article_id}/retract", json={"reason": "Sourcing failed"}, headers=writer
        )
        assert response.status_code == 200
        assert response.json()["status"] == "retracted"
        assert response.json()["reason"] == "Sourcing failed"
        gone = await client.get(f"/v1/articles/{article_id}")
        assert gone.status_code == 410
        assert gone.json()["reason"] == "Sourcing failed"
        assert (await client.get("/v1/articles?q=cranes")).json()["data"] == []
        edit = await client.post(
            f"/v1/articles/{article_id}/corrections", json={"text": "x"}, headers=writer
        )
        assert edit.status_code == 409

    async def test_retracting_a_draft_is_409(self, client, writer):
        article_id = (await create(client, writer)).json()["id"]
        response = await client.post(
            f"/v1/articles/{article_id}/retract", json={"reason": "r"}, headers=writer
        )
        assert response.status_code == 409

    async def test_delete_leaves_a_tombstone(self, client, writer):
        article_id = (await create(client, writer, status="published")).json()["id"]
        for _ in range(2):  # read twice: the second answer comes from the read cache
            assert (await client.get(f"/v1/articles/{article_id}")).status_code == 200
        response = await client.delete(f"/v1/articles/{article_id}", headers=writer)
        assert response.status_code == 204
        gone = await client.get(f"/v1/articles/{article_id}")
        assert gone.status_code == 410
        assert gone.json()["status"] == "deleted"
        assert (
            await client.delete(f"/v1/articles/{article_id}", headers=writer)
        ).status_code == 410

    async def test_corrections_append_and_bump_revision(self, client, writer):
        article_id = (await create(client, writer, status="published")).json()["id"]
        first = await client.post(
            f"/v1/articles/{article_id}/corrections",
            json={"text": "An earlier version misspelled a name."},
            headers=writer,
        )
        second = await client.post(
            f"/v1/articles/{article_id}/corrections", json={"text": "Second fix."}, headers=writer
        )
        body = second.json()
        assert [c["text"] for c in body["corrections"]] == [
            "An earlier version misspelled a name.",
            "Second fix.",
        ]
        assert body["revision"] == first.json()["revision"] + 1 == 3
        public = (await client.get(f"/v1/articles/{article_id}")).json()
        assert len(public["corrections"]) == 2

    async def test_optional_if_match_is_honoured(self, client, writer):
        article_id = (await create(client, writer)).json()["id"]
        stale = await client.post(
            f"/v1/articles/{article_id}/publish",
            headers={**writer, "If-Match": f'"{article_id}.9"'},
        )
        assert stale.status_code == 412

    async def test_unknown_article_is_404(self, client, writer):
        for method, path in [
            ("POST", "/v1/articles/nope/publish"),
            ("DELETE", "/v1/articles/nope"),
            ("GET", "/v1/articles/nope/revisions"),
        ]:
            assert (await client.request(method, path, headers=writer)).status_code == 404


class TestRevisions:
    async def test_every_revision_is_retrievable_as_it_was(self, client, writer):
        created = await create(client, writer)
        article_id = created.json()["id"]
        await client.patch(
            f"/v1/articles/{article_id}",
            json={"dek": "Second dek."},
            headers={**writer, "If-Match": created.headers["etag"]},
        )
        await client.post(f"/v1/articles/{article_id}/publish", headers=writer)
        listed = (await client.get(f"/v1/articles/{article_id}/revisions", headers=writer)).json()[
            "data"
        ]
        assert [(r["revision"], r["event"]) for r in listed] == [
            (1, "created"),
            (2, "updated"),
            (3, "published"),
        ]
        first = (await client.get(f"/v1/articles/{article_id}/revisions/1", headers=writer)).json()
        assert first["dek"] == "Ports cut diesel use."
        assert first["status"] == "draft"
        assert (await client.get(f"/v1/articles/{article_id}/revisions/2", headers=writer)).json()[
            "dek"
        ] == "Second dek."
        assert (
            await client.get(f"/v1/articles/{article_id}/revisions/9", headers=writer)
        ).status_code == 404


class TestBadInput:
    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"headline": ""}, "headline"),
            ({"headline": "   "}, "headline"),
            ({"headline": "x" * 301}, "headline"),
            ({"takeaways": ["t"] * 21}, "takeaways"),
            ({"category": ""}, "category"),
            ({"published_at": "2025-01-01T10:00:00"}, "published_at"),
            ({"status": "retracted"}, "status"),
            ({"colour": "red"}, "colour"),
            ({"sections": [{"heading": None, "paragraphs": []}]}, "sections"),
        ],
    )
    async def test_field_limits_are_422_naming_the_field(
        self, client, writer, session, changes, field
    ):
        response = await client.post("/v1/articles", json={**ARTICLE, **changes}, headers=writer)
        assert response.status_code == 422
        assert any(field in [str(p) for p in e["loc"]] for e in response.json()["errors"]), (
            response.json()
        )
        assert await count(session, Article) == 0

    async def test_missing_category_is_422(self, client, writer):
        body = {k: v for k, v in ARTICLE.items() if k != "category"}
        response = await client.post("/v1/articles", json=body, headers=writer)
        assert response.status_code == 422

    async def test_malformed_json_is_4xx(self, client, writer):
        response = await client.post(
            "/v1/articles",
            content=b'{"headline": ',
            headers={**writer, "Content-Type": "application/json"},
        )
        assert response.status_code in (400, 422)
        assert response.headers["content-type"] == "application/problem+json"

    @pytest.mark.parametrize(
        ("raw", "says"),
        [
            (b'{"headline": ', "is not valid JSON: Expecting value (at character 13)"),
            (b'{"headline": 1,}', "is not valid JSON: Expecting property name"),
            (b"[" * 100_000 + b"]" * 100_000, "nests too deeply"),
            (b'{"headline": ' + b"9" * 5000 + b"}", "integer too long"),
            (b'{"headline": "\xff\xfe"}', "is not UTF-8 text"),
        ],
    )
    async def test_an_unreadable_body_is_a_422_about_the_body(
        self, client, writer, session, raw, says
    ):
        response = await client.post(
            "/v1/articles", content=raw, headers={**writer, "Content-Type": "application/json"}
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        [error] = response.json()["errors"]
        assert error["loc"] == ["body"]
        assert says in error["msg"]
        assert await count(session, Article) == 0

    @pytest.mark.parametrize("media", ["application/json-patch+json", "application/patch+json"])
    async def test_a_patch_in_another_format_is_415(self, client, writer, session, media):
        created = await create(client, writer)
        response = await client.patch(
            f"/v1/articles/{created.json()['id']}", content=b'[{"op": "remove", "path": "/dek"}]',
            headers={**writer, "If-Match": created.headers["etag"], "Content-Type": media},
        )  # fmt: skip
        assert response.status_code == 415
        assert response.headers["accept-patch"] == "application/merge-patch+json"
        assert response.headers["content-type"] == "application/problem+json"
        assert (await client.get(created.headers["location"], headers=writer)).json()["dek"]

    async def test_deeply_nested_json_is_4xx(self, client, writer):
        deep = b"[" * 100_000 + b"]" * 100_000
        response = await client.post(
            "/v1/articles", content=deep, headers={**writer, "Content-Type": "application/json"}
        )
        assert 400 <= response.status_code < 500
        patch = await client.patch(
            "/v1/articles/x",
            content=deep,
            headers={**writer, "Content-Type": "application/json", "If-Match": "*"},
        )
        assert 400 <= patch.status_code < 500

    async def test_wrong_content_type_is_415(self, client, writer):
        response = await client.post(
            "/v1/articles",
            content=b"headline=x",
            headers={**writer, "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 415
        assert response.headers["content-type"] == "application/problem+json"

    async def test_oversized_body_is_413_before_reading(self, client, writer, session):
        big = b'{"headline": "' + b"x" * (1024 * 1024) + b'"}'
        response = await client.post(
            "/v1/articles", content=big, headers={**writer, "Content-Type": "application/json"}
        )
        assert response.status_code == 413

    async def test_oversized_chunked_body_is_413(self, client, writer):
        async def chunks():
            for _ in range(40):
                yield b"x" * 65536

        response = await client.post(
            "/v1/articles", content=chunks(), headers={**writer, "Content-Type": "application/json"}
        )
        assert response.status_code == 413


async def test_failure_after_the_article_row_leaves_nothing(client, writer, session, monkeypatch):
    """One transaction per write: an error after the article row is written rolls it all back."""
    import httpx

    from app.articles import writer as writer_module

    async def broken(*_args, **_kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(writer_module, "record_revision", broken)
    app = client._transport.app
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://byline.test") as c:
        response = await c.post("/v1/articles", json=ARTICLE, headers=writer)
    assert response.status_code == 500
    assert await count(session, Article) == 0
    assert await count(session, Revision) == 0
    assert await count(session, Change) == 0


class TestReferences:
    async def test_unknown_category_slug_is_422_naming_the_field(self, client, writer, session):
        response = await client.post(
            "/v1/articles", json={**ARTICLE, "category": {"slug": "no-such-desk"}}, headers=writer
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "category"]
        tags = await client.post(
            "/v1/articles", json={**ARTICLE, "tags": [{"slug": "nope"}]}, headers=writer
        )
        assert tags.status_code == 422
        assert tags.json()["errors"][0]["loc"] == ["body", "tags"]
        assert await count(session, Article) == 0

    async def test_a_known_slug_takes_the_stored_name(self, client, writer):
        await create(client, writer)  # makes the Business category and the Ports tag
        body = (
            await create(
                client,
                writer,
                slug="second",
                category={"slug": "business"},
                tags=[{"slug": "ports"}],
            )
        ).json()
        assert body["category"] == {"slug": "business", "name": "Business"}
        assert body["tags"] == [{"slug": "ports", "name": "Ports"}]

    async def test_an_empty_reference_object_is_422(self, client, writer):
        response = await client.post(
            "/v1/articles", json={**ARTICLE, "category": {}}, headers=writer
        )
        assert response.status_code == 422
