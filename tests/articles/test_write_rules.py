"""The write API's finer rules: time ranges, no-op writes, slugs, scheduling by PUT/PATCH,
who sees which tombstone, revisions, replays, If-Match and how errors name fields."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from app.changes.service import Reader, read
from app.models import Change, Revision
from tests.access.test_keys import auth, make_key
from tests.articles.test_editorial import ARTICLE, count, create
from tests.conftest import add_article

FAR_EAST_OF_TIME = "9999-12-31T23:59:59-12:00"  # in UTC: year 10000
BEFORE_TIME = "0001-01-01T00:00:00+01:00"  # in UTC: year 0
PATCH_JSON = "application/merge-patch+json"


def from_now(**delta: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(**delta)


@pytest.fixture
async def writer(session):
    return auth(await make_key(session, "write", name="desk"))


def locs(response) -> list[list[Any]]:
    return [error["loc"] for error in response.json()["errors"]]


async def patch(client, writer, created, changes: dict[str, Any], etag: str | None = None):
    headers = {**writer, "If-Match": etag or created.headers["etag"], "Content-Type": PATCH_JSON}
    return await client.patch(f"/v1/articles/{created.json()['id']}", json=changes, headers=headers)


async def history(session, article_id: str) -> tuple[int, int]:
    """(revisions, change-log rows) stored for the article."""
    revisions = select(func.count()).where(Revision.article_id == article_id)
    changes = select(func.count()).where(Change.article_id == article_id)
    return await session.scalar(revisions), await session.scalar(changes)


async def partner_events(session, article_id: str) -> list[str]:
    """The change feed of a key without `write` (or no key), for one article."""
    scan = await read(
        session, Reader(editor=False, categories=None), 0, 100, dt.datetime.now(dt.UTC),
        grace=dt.timedelta(0),
    )  # fmt: skip
    return [event.name for event in scan.events if event.entry.article_id == article_id]


class TestTimesOutOfRange:
    """An instant whose UTC conversion leaves years 1-9999 is not a time: 422, never a 500."""

    @pytest.mark.parametrize("when", [FAR_EAST_OF_TIME, BEFORE_TIME])
    async def test_create_names_published_at(self, client, writer, session, when):
        response = await client.post(
            "/v1/articles", json={**ARTICLE, "published_at": when}, headers=writer
        )
        assert response.status_code == 422, response.text
        assert locs(response) == [["body", "published_at"]]
        assert "out of range" in response.json()["errors"][0]["msg"]
        assert await count(session, Revision) == 0

    async def test_publish_at_names_at(self, client, writer):
        article_id = (await create(client, writer)).json()["id"]
        response = await client.post(
            f"/v1/articles/{article_id}/publish", json={"at": FAR_EAST_OF_TIME}, headers=writer
        )
        assert response.status_code == 422
        assert locs(response) == [["body", "at"]]

    async def test_put_and_patch_name_published_at(self, client, writer):
        created = await create(client, writer)
        headers = {**writer, "If-Match": created.headers["etag"]}
        put = await client.put(
            f"/v1/articles/{created.json()['id']}",
            json={**ARTICLE, "published_at": BEFORE_TIME},
            headers=headers,
        )
        assert put.status_code == 422
        assert locs(put) == [["body", "published_at"]]
        patched = await patch(client, writer, created, {"published_at": FAR_EAST_OF_TIME})
        assert patched.status_code == 422
        assert locs(patched) == [["body", "published_at"]]

    @pytest.mark.parametrize("name", ["published_after", "published_before", "updated_since"])
    async def test_list_filters_name_the_parameter(self, client, name):
        for when in (FAR_EAST_OF_TIME, BEFORE_TIME):
            response = await client.get("/v1/articles", params={name: when})
            assert response.status_code == 422, response.text
            assert locs(response) == [["query", name]]

    async def test_the_last_and_first_instants_are_times(self, client, writer):
        late = await create(client, writer, published_at="9999-12-31T23:59:59Z")
        assert late.json()["published_at"] == "9999-12-31T23:59:59Z"
        early = await create(client, writer, slug="early", published_at="0001-01-01T00:00:00-01:00")
        assert early.json()["published_at"] == "0001-01-01T00:00:00-01:00"
        listed = await client.get("/v1/articles", params={"published_before": "0001-01-01"})
        assert listed.status_code == 200


class TestStrictTypes:
    @pytest.mark.parametrize("at", [1900000000, "1900000000", "2030-01-01", "2030-01-01T09:00:00"])
    async def test_publish_at_must_be_rfc3339_text(self, client, writer, session, at):
        article_id = (await create(client, writer)).json()["id"]
        response = await client.post(
            f"/v1/articles/{article_id}/publish", json={"at": at}, headers=writer
        )
        assert response.status_code == 422, response.text
        assert locs(response) == [["body", "at"]]
        assert await count(session, Revision) == 1

    async def test_published_at_must_be_rfc3339_text(self, client, writer):
        response = await client.post(
            "/v1/articles", json={**ARTICLE, "published_at": 1900000000}, headers=writer
        )
        assert response.status_code == 422
        assert locs(response) == [["body", "published_at"]]

    @pytest.mark.parametrize("value", ["no", "false", 0, 1, "true"])
    async def test_syndication_must_be_a_json_boolean(self, client, writer, value):
        response = await client.post(
            "/v1/articles", json={**ARTICLE, "rights": {"syndication": value}}, headers=writer
        )
        assert response.status_code == 422
        assert locs(response) == [["body", "rights", "syndication"]]

    async def test_patching_syndication_must_be_a_json_boolean(self, client, writer):
        created = await create(client, writer)
        response = await patch(client, writer, created, {"rights": {"syndication": "no"}})
        assert response.status_code == 422
        assert locs(response) == [["body", "rights", "syndication"]]


class TestNeverPublicTombstones:
    """Readers get a tombstone only for an article they could once read."""

    async def test_a_deleted_draft_is_404_for_readers_and_a_tombstone_for_editors(
        self, client, writer
    ):
        body = (await create(client, writer)).json()
        assert (
            await client.delete(f"/v1/articles/{body['id']}", headers=writer)
        ).status_code == 204
        by_id = await client.get(f"/v1/articles/{body['id']}")
        assert by_id.status_code == 404
        assert body["slug"] not in by_id.text
        assert (await client.get(f"/v1/articles/{body['slug']}")).status_code == 404
        assert (await client.get(f"/v1/articles/{body['id']}/ninjs")).status_code == 404
        editor = await client.get(f"/v1/articles/{body['id']}", headers=writer)
        assert editor.status_code == 410
        assert editor.json()["slug"] == body["slug"]

    async def test_an_embargoed_article_deleted_or_retracted_is_404_for_readers(
        self, client, writer
    ):
        at = from_now(days=1).isoformat()
        deleted = (await create(client, writer, status="published", published_at=at)).json()
        retracted = (
            await create(client, writer, slug="other", status="published", published_at=at)
        ).json()
        assert deleted["status"] == retracted["status"] == "scheduled"
        await client.delete(f"/v1/articles/{deleted['id']}", headers=writer)
        response = await client.post(
            f"/v1/articles/{retracted['id']}/retract", json={"reason": "Wrong"}, headers=writer
        )
        assert response.status_code == 200
        for body in (deleted, retracted):
            assert (await client.get(f"/v1/articles/{body['id']}")).status_code == 404
            editor = await client.get(f"/v1/articles/{body['id']}", headers=writer)
            assert editor.status_code == 410

    async def test_an_article_once_public_keeps_its_tombstone(self, client, writer):
        article_id = (await create(client, writer, status="published")).json()["id"]
        await client.post(f"/v1/articles/{article_id}/unpublish", headers=writer)
        await client.delete(f"/v1/articles/{article_id}", headers=writer)
        gone = await client.get(f"/v1/articles/{article_id}")
        assert gone.status_code == 410
        assert gone.json()["status"] == "deleted"

    async def test_an_embargo_that_lifted_without_a_worker_counts_as_public(
        self, client, writer, session, settings
    ):
        lifted = await add_article(
            session, settings, now=from_now(hours=-2),
            published_at=from_now(hours=-1),
        )  # fmt: skip
        pending = await add_article(
            session, settings, now=from_now(hours=-2),
            published_at=from_now(hours=1),
        )  # fmt: skip
        assert lifted.status == pending.status == "scheduled"
        for view in (lifted, pending):
            response = await client.delete(f"/v1/articles/{view.id}", headers=writer)
            assert response.status_code == 204
        assert (await client.get(f"/v1/articles/{lifted.id}")).status_code == 410
        assert (await client.get(f"/v1/articles/{pending.id}")).status_code == 404


class TestPutKeeps:
    async def test_put_without_slug_keeps_the_slug(self, client, writer):
        created = await create(client, writer)
        body = created.json()
        replaced = await client.put(
            f"/v1/articles/{body['id']}", json={**ARTICLE, "headline": "A new headline"},
            headers={**writer, "If-Match": created.headers["etag"]},
        )  # fmt: skip
        assert replaced.status_code == 200
        assert replaced.json()["headline"] == "A new headline"
        assert replaced.json()["slug"] == body["slug"]
        assert (await client.get(f"/v1/articles/{body['slug']}", headers=writer)).status_code == 200

    async def test_put_with_a_slug_moves_it(self, client, writer):
        created = await create(client, writer)
        replaced = await client.put(
            f"/v1/articles/{created.json()['id']}", json={**ARTICLE, "slug": "moved"},
            headers={**writer, "If-Match": created.headers["etag"]},
        )  # fmt: skip
        assert replaced.json()["slug"] == "moved"

    async def test_put_without_published_at_keeps_it(self, client, writer):
        created = await create(client, writer, published_at="2025-03-01T09:00:00+01:00")
        replaced = await client.put(
            f"/v1/articles/{created.json()['id']}", json={**ARTICLE, "dek": "New."},
            headers={**writer, "If-Match": created.headers["etag"]},
        )  # fmt: skip
        assert replaced.json()["published_at"] == "2025-03-01T09:00:00+01:00"


class TestSchedulingByEdit:
    """A new published_at follows the create rule: a future time is an embargo (API.md 9)."""

    async def test_a_future_published_at_schedules_a_published_article(
        self, client, writer, session
    ):
        created = await create(client, writer, status="published")
        later = from_now(days=2).replace(microsecond=0)
        response = await patch(client, writer, created, {"published_at": later.isoformat()})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "scheduled"
        assert dt.datetime.fromisoformat(body["embargo_until"]) == later
        assert dt.datetime.fromisoformat(body["published_at"]) == later
        assert (await client.get(f"/v1/articles/{body['id']}")).status_code == 404
        listed = await client.get("/v1/articles", params={"status": "scheduled"}, headers=writer)
        assert [item["id"] for item in listed.json()["data"]] == [body["id"]]
        # Partners saw it and no longer do (docs/CHANGES.md: "rescheduled to a later time").
        assert await partner_events(session, body["id"]) == ["published", "unpublished"]

    async def test_a_past_published_at_publishes_a_scheduled_article(self, client, writer):
        created = await create(
            client,
            writer,
            status="published",
            published_at=from_now(days=1).isoformat(),
        )
        assert created.json()["status"] == "scheduled"
        response = await patch(client, writer, created, {"published_at": "2025-01-02T03:04:05Z"})
        body = response.json()
        assert body["status"] == "published"
        assert body["embargo_until"] is None
        assert (await client.get(f"/v1/articles/{body['id']}")).status_code == 200
        revisions = await client.get(f"/v1/articles/{body['id']}/revisions", headers=writer)
        assert revisions.json()["data"][-1]["event"] == "published"

    async def test_a_new_offset_for_the_same_instant_is_a_change(self, client, writer):
        created = await create(
            client, writer, status="published", published_at="2025-01-02T03:04:05Z"
        )
        response = await patch(
            client, writer, created, {"published_at": "2025-01-02T05:04:05+02:00"}
        )
        assert response.json()["published_at"] == "2025-01-02T05:04:05+02:00"
        assert response.json()["status"] == "published"
        assert response.json()["revision"] == 2

    async def test_removing_published_at_of_a_published_or_scheduled_article_is_422(
        self, client, writer, session
    ):
        later = from_now(days=1).isoformat()
        for created in (
            await create(client, writer, status="published"),
            await create(client, writer, slug="soon", status="published", published_at=later),
        ):
            response = await patch(client, writer, created, {"published_at": None})
            assert response.status_code == 422
            assert locs(response) == [["body", "published_at"]]
            assert await history(session, created.json()["id"]) == (1, 1)

    async def test_removing_published_at_of_a_draft_clears_it(self, client, writer):
        created = await create(client, writer, published_at="2025-03-01T09:00:00Z")
        response = await patch(client, writer, created, {"published_at": None})
        assert response.status_code == 200
        assert response.json()["published_at"] is None
        assert response.json()["revision"] == 2


class TestNoOpWrites:
    """A write that changes nothing: 200 with the article as it is, no revision, no event."""

    async def assert_unchanged(self, session, response, created) -> None:
        assert response.status_code == 200, response.text
        assert response.headers["etag"] == created.headers["etag"]
        assert response.json() == created.json()
        assert await history(session, created.json()["id"]) == (1, 1)

    async def test_empty_and_same_value_patches(self, client, writer, session):
        created = await create(client, writer)
        for changes in ({}, {"dek": ARTICLE["dek"]}, {"category": "Business", "id": None}):
            response = await patch(client, writer, created, changes)
            await self.assert_unchanged(session, response, created)

    async def test_identical_put(self, client, writer, session):
        created = await create(client, writer)
        # Names are the stored ones whatever their case: still the same article.
        same = {**ARTICLE, "category": "BUSINESS", "tags": ["ports"]}
        response = await client.put(
            f"/v1/articles/{created.json()['id']}", json=same,
            headers={**writer, "If-Match": created.headers["etag"]},
        )  # fmt: skip
        await self.assert_unchanged(session, response, created)

    async def test_publishing_a_published_article(self, client, writer, session):
        created = await create(client, writer, status="published")
        response = await client.post(f"/v1/articles/{created.json()['id']}/publish", headers=writer)
        await self.assert_unchanged(session, response, created)
        assert await partner_events(session, created.json()["id"]) == ["published"]

    async def test_scheduling_for_the_same_time(self, client, writer, session):
        at = from_now(days=1).replace(microsecond=0).isoformat()
        created = await create(client, writer, status="published", published_at=at)
        response = await client.post(
            f"/v1/articles/{created.json()['id']}/publish", json={"at": at}, headers=writer
        )
        await self.assert_unchanged(session, response, created)

    async def test_unpublishing_a_draft(self, client, writer, session):
        created = await create(client, writer)
        response = await client.post(
            f"/v1/articles/{created.json()['id']}/unpublish", headers=writer
        )
        await self.assert_unchanged(session, response, created)

    async def test_a_real_change_still_counts(self, client, writer, session):
        created = await create(client, writer)
        response = await patch(client, writer, created, {"dek": "Changed."})
        assert response.json()["revision"] == 2
        assert response.json()["updated_at"] != created.json()["updated_at"]
        assert await history(session, created.json()["id"]) == (2, 2)


class TestStatusIsReadOnlyInEdits:
    @pytest.mark.parametrize("status", ["published", "draft"])
    async def test_patch_with_status_is_422(self, client, writer, session, status):
        created = await create(client, writer)
        response = await patch(client, writer, created, {"status": status})
        assert response.status_code == 422
        assert locs(response) == [["body", "status"]]
        assert "publish" in response.json()["errors"][0]["msg"]
        assert await history(session, created.json()["id"]) == (1, 1)

    async def test_put_with_status_is_422(self, client, writer, session):
        created = await create(client, writer)
        response = await client.put(
            f"/v1/articles/{created.json()['id']}", json={**ARTICLE, "status": "published"},
            headers={**writer, "If-Match": created.headers["etag"]},
        )  # fmt: skip
        assert response.status_code == 422
        assert locs(response) == [["body", "status"]]
        assert await history(session, created.json()["id"]) == (1, 1)


class TestEmbargoedETag:
    """Before its embargo lifts an editor sees `scheduled`; after it, `published`, at the
    same revision: the two faces have different ETags."""

    async def test_the_lift_changes_the_editors_etag(self, client, writer, session):
        at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.5)
        created = await create(client, writer, status="published", published_at=at.isoformat())
        url = f"/v1/articles/{created.json()['id']}"
        before = await client.get(url, headers=writer)
        assert before.json()["status"] == "scheduled"
        assert before.headers["etag"] == created.headers["etag"]
        assert before.headers["etag"].endswith('.1.embargoed"')
        await asyncio.sleep(max(0.0, (at - dt.datetime.now(dt.UTC)).total_seconds()) + 0.1)
        after = await client.get(url, headers={**writer, "If-None-Match": before.headers["etag"]})
        assert after.status_code == 200  # not a 304: the face changed
        assert (after.json()["status"], after.json()["revision"]) == ("published", 1)
        assert after.headers["etag"] == f'"{created.json()["id"]}.1"'
        assert (await client.get(url)).headers["etag"] == after.headers["etag"]  # readers' too
        stale = await patch(client, writer, created, {"dek": "New."}, etag=before.headers["etag"])
        assert stale.status_code == 412
        fresh = await patch(client, writer, created, {"dek": "New."}, etag=after.headers["etag"])
        assert fresh.status_code == 200

    async def test_an_embargoed_etag_is_good_for_if_match_until_the_lift(self, client, writer):
        created = await create(
            client, writer, status="published", published_at=from_now(days=1).isoformat()
        )
        response = await patch(client, writer, created, {"dek": "Still embargoed."})
        assert response.status_code == 200
        assert response.headers["etag"].endswith('.2.embargoed"')

    async def test_a_replayed_scheduled_create_has_the_same_etag(self, client, writer):
        body = {**ARTICLE, "status": "published", "published_at": from_now(days=1).isoformat()}
        headers = {**writer, "Idempotency-Key": "schedule-once"}
        first = await client.post("/v1/articles", json=body, headers=headers)
        again = await client.post("/v1/articles", json=body, headers=headers)
        assert again.headers["idempotent-replayed"] == "true"
        assert again.headers["etag"] == first.headers["etag"]
        assert first.headers["etag"].endswith('.1.embargoed"')


class TestPutWhatGetGave:
    """A client edits the article it fetched and PUTs it back whole: the representation's
    read-only fields are ignored, `id` must be the article's and `status` its own."""

    async def fetched(self, client, writer, **changes):
        created = await create(client, writer, **changes)
        url = f"/v1/articles/{created.json()['id']}"
        got = await client.get(url, headers=writer)
        return url, got.json(), {**writer, "If-Match": got.headers["etag"]}

    @pytest.mark.parametrize("status", ["draft", "published"])
    async def test_the_representation_goes_back_edited(self, client, writer, session, status):
        url, body, headers = await self.fetched(client, writer, status=status)
        assert {"url", "revision", "links", "word_count", "corrections"} <= set(body)
        response = await client.put(
            url, json={**body, "headline": "Cranes go electric"}, headers=headers
        )
        assert response.status_code == 200, response.text
        after = response.json()
        assert (after["headline"], after["revision"], after["status"]) == (
            "Cranes go electric", 2, status,
        )  # fmt: skip
        assert {k: v for k, v in after.items() if k not in ("headline", "revision", "updated_at")} == {
            k: v for k, v in body.items() if k not in ("headline", "revision", "updated_at")
        }  # fmt: skip

    async def test_the_same_representation_is_a_no_op(self, client, writer, session):
        url, body, headers = await self.fetched(client, writer, status="published")
        response = await client.put(url, json=body, headers=headers)
        assert response.status_code == 200
        assert response.json() == body
        assert await history(session, body["id"]) == (1, 1)

    async def test_a_scheduled_article_keeps_its_status_word(self, client, writer):
        url, body, headers = await self.fetched(
            client, writer, status="published", published_at=from_now(days=1).isoformat()
        )
        assert body["status"] == "scheduled"
        response = await client.put(url, json={**body, "dek": "Later."}, headers=headers)
        assert response.status_code == 200, response.text
        assert (response.json()["status"], response.json()["dek"]) == ("scheduled", "Later.")

    @pytest.mark.parametrize(
        ("changes", "field"),
        [({"id": "art_0000000000000000"}, "id"), ({"status": "draft"}, "status")],
    )
    async def test_another_id_or_status_is_422(self, client, writer, session, changes, field):
        url, body, headers = await self.fetched(client, writer, status="published")
        response = await client.put(url, json={**body, **changes}, headers=headers)
        assert response.status_code == 422
        assert locs(response) == [["body", field]]
        assert await history(session, body["id"]) == (1, 1)

    async def test_create_still_refuses_read_only_fields(self, client, writer):
        response = await client.post(
            "/v1/articles", json={**ARTICLE, "revision": 3}, headers=writer
        )
        assert response.status_code == 422
        assert locs(response) == [["body", "revision"]]


class TestStoredNames:
    async def test_a_name_of_an_existing_slug_takes_the_stored_name(self, client, writer):
        await create(client, writer)  # Business, Ingrid Solberg, Ports
        created = await create(
            client, writer, slug="second", category="BUSINESS", authors=["ingrid SOLBERG"],
            tags=[{"name": "PORTS"}, "Harbours"],
        )  # fmt: skip
        body = created.json()
        assert body["category"] == {"slug": "business", "name": "Business"}
        assert body["authors"] == [{"slug": "ingrid-solberg", "name": "Ingrid Solberg"}]
        assert body["tags"] == [
            {"slug": "ports", "name": "Ports"},
            {"slug": "harbours", "name": "Harbours"},
        ]
        first = await client.get(f"/v1/articles/{body['id']}/revisions/1", headers=writer)
        read_back = await client.get(f"/v1/articles/{body['id']}", headers=writer)
        assert first.json() == read_back.json() == body

    async def test_unknown_slugs_of_several_fields_are_all_named(self, client, writer):
        response = await client.post(
            "/v1/articles",
            json={**ARTICLE, "category": {"slug": "nope"}, "tags": [{"slug": "nada"}]},
            headers=writer,
        )
        assert response.status_code == 422
        assert locs(response) == [["body", "category"], ["body", "tags"]]


class TestRevisionFaces:
    async def test_a_revision_is_the_full_representation(self, client, writer):
        created = await create(client, writer)
        article_id = created.json()["id"]
        revision = await client.get(f"/v1/articles/{article_id}/revisions/1", headers=writer)
        assert revision.status_code == 200
        assert list(revision.json()) == list(created.json())
        assert revision.json()["url"] == f"http://byline.test/articles/{created.json()['slug']}"
        assert revision.json()["links"] == created.json()["links"]

    async def test_listed_times_are_utc_with_z(self, client, writer):
        article_id = (await create(client, writer)).json()["id"]
        listed = await client.get(f"/v1/articles/{article_id}/revisions", headers=writer)
        created_at = listed.json()["data"][0]["created_at"]
        assert created_at.endswith("Z")
        assert dt.datetime.fromisoformat(created_at).utcoffset() == dt.timedelta(0)

    @pytest.mark.parametrize("number", ["1.0", "01", "+1", "1e0", " 1", "9999999999"])
    async def test_a_number_not_in_canonical_form_is_422(self, client, writer, number):
        article_id = (await create(client, writer)).json()["id"]
        response = await client.get(f"/v1/articles/{article_id}/revisions/{number}", headers=writer)
        assert response.status_code == 422, response.text
        assert locs(response) == [["path", "number"]]

    async def test_revision_zero_is_404(self, client, writer):
        article_id = (await create(client, writer)).json()["id"]
        response = await client.get(f"/v1/articles/{article_id}/revisions/0", headers=writer)
        assert response.status_code == 404


async def test_a_replayed_create_has_the_first_ones_headers(client, writer):
    headers = {**writer, "Idempotency-Key": "replay-1"}
    first = await client.post("/v1/articles", json=ARTICLE, headers=headers)
    second = await client.post("/v1/articles", json=ARTICLE, headers=headers)
    assert second.headers["idempotent-replayed"] == "true"
    for name in ("etag", "location", "content-type", "cache-control"):
        assert second.headers[name] == first.headers[name], name
    assert second.headers["etag"] == f'"{first.json()["id"]}.1"'


class TestIfMatch:
    async def test_a_weak_tag_never_matches(self, client, writer, session):
        created = await create(client, writer)
        article_id, etag = created.json()["id"], created.headers["etag"]
        weak = {**writer, "If-Match": f"W/{etag}"}
        requests = [
            ("PUT", f"/v1/articles/{article_id}", {**ARTICLE, "dek": "x"}),
            ("PATCH", f"/v1/articles/{article_id}", {"dek": "x"}),
            ("POST", f"/v1/articles/{article_id}/publish", None),
            ("DELETE", f"/v1/articles/{article_id}", None),
        ]
        for method, path, body in requests:
            response = await client.request(method, path, json=body, headers=weak)
            assert response.status_code == 412, (method, response.text)
        assert await history(session, article_id) == (1, 1)
        strong = await patch(client, writer, created, {"dek": "x"}, etag=f'W/"x", {etag}')
        assert strong.status_code == 200

    async def test_an_unknown_article_is_404_before_if_match_is_asked_for(self, client, writer):
        assert (
            await client.put("/v1/articles/nope", json=ARTICLE, headers=writer)
        ).status_code == 404
        response = await client.patch(
            "/v1/articles/nope", json={"dek": "x"}, headers={**writer, "Content-Type": PATCH_JSON}
        )
        assert response.status_code == 404

    async def test_a_known_article_without_if_match_is_428(self, client, writer):
        article_id = (await create(client, writer)).json()["id"]
        put = await client.put(f"/v1/articles/{article_id}", json=ARTICLE, headers=writer)
        assert put.status_code == 428
        patched = await client.patch(f"/v1/articles/{article_id}", json={}, headers=writer)
        assert patched.status_code == 428
        await client.delete(f"/v1/articles/{article_id}", headers=writer)
        gone = await client.put(f"/v1/articles/{article_id}", json=ARTICLE, headers=writer)
        assert gone.status_code == 410


class TestDeletingARetraction:
    async def test_partners_told_of_the_retraction_hear_of_the_deletion(
        self, client, writer, session
    ):
        article_id = (await create(client, writer, status="published")).json()["id"]
        await client.post(
            f"/v1/articles/{article_id}/retract", json={"reason": "Wrong"}, headers=writer
        )
        assert (
            await client.delete(f"/v1/articles/{article_id}", headers=writer)
        ).status_code == 204
        assert await partner_events(session, article_id) == ["published", "retracted", "deleted"]
        assert (await client.get(f"/v1/articles/{article_id}")).json()["status"] == "deleted"

    async def test_an_article_partners_never_saw_stays_silent(self, client, writer, session):
        at = from_now(days=1).isoformat()
        article_id = (await create(client, writer, status="published", published_at=at)).json()[
            "id"
        ]
        await client.post(
            f"/v1/articles/{article_id}/retract", json={"reason": "Wrong"}, headers=writer
        )
        await client.delete(f"/v1/articles/{article_id}", headers=writer)
        assert await partner_events(session, article_id) == []


class TestRepeatedStatus:
    async def test_repeated_statuses_are_a_union_like_a_comma_list(self, client, writer):
        draft = (await create(client, writer)).json()["id"]
        retracted = (await create(client, writer, slug="r", status="published")).json()["id"]
        await client.post(f"/v1/articles/{retracted}/retract", json={"reason": "x"}, headers=writer)
        published = (await create(client, writer, slug="p", status="published")).json()["id"]
        repeated = await client.get(
            "/v1/articles", params=[("status", "draft"), ("status", "retracted")], headers=writer
        )
        comma = await client.get("/v1/articles?status=draft,retracted", headers=writer)
        ids = {item["id"] for item in repeated.json()["data"]}
        assert ids == {item["id"] for item in comma.json()["data"]} == {draft, retracted}
        assert published not in ids

    async def test_every_repetition_is_checked(self, client, writer):
        bad = await client.get(
            "/v1/articles", params=[("status", "lost"), ("status", "draft")], headers=writer
        )
        assert bad.status_code == 422
        assert locs(bad) == [["query", "status"]]
        anonymous = await client.get(
            "/v1/articles", params=[("status", "draft"), ("status", "published")]
        )
        assert anonymous.status_code == 401


class TestErrorLocations:
    @pytest.mark.parametrize(
        ("changes", "loc"),
        [
            ({"category": "   "}, ["body", "category"]),
            ({"category": {}}, ["body", "category"]),
            ({"category": {"slug": "Not A Slug"}}, ["body", "category", "slug"]),
            ({"category": {"name": "x", "Colour": 1}}, ["body", "category", "Colour"]),
            ({"authors": ["Ann", " "]}, ["body", "authors", 1]),
            ({"tags": [{"name": ""}]}, ["body", "tags", 0, "name"]),
        ],
    )
    async def test_union_branches_are_not_named(self, client, writer, changes, loc):
        response = await client.post("/v1/articles", json={**ARTICLE, **changes}, headers=writer)
        assert response.status_code == 422
        assert {tuple(found) for found in locs(response)} == {tuple(loc)}

    async def test_a_patch_names_fields_the_same_way(self, client, writer):
        created = await create(client, writer)
        response = await patch(client, writer, created, {"category": "   "})
        assert response.status_code == 422
        assert {tuple(found) for found in locs(response)} == {("body", "category")}

    @pytest.mark.parametrize("content", [b"[1, 2]", b'"text"', b"null", b'{"dek": '])
    async def test_a_patch_that_is_no_json_object_names_the_body(self, client, writer, content):
        created = await create(client, writer)
        response = await client.patch(
            f"/v1/articles/{created.json()['id']}", content=content,
            headers={**writer, "If-Match": created.headers["etag"], "Content-Type": PATCH_JSON},
        )  # fmt: skip
        assert response.status_code == 422
        assert locs(response) == [["body"]]
