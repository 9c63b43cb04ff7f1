"""/v1/webhooks: who may subscribe, what they see, and every way bad input is refused."""

from __future__ import annotations

import base64
import datetime as dt

import httpx
import pytest
from standardwebhooks import Webhook

from app.main import create_app
from app.models import WebhookSubscription
from tests.access.test_keys import auth
from tests.conftest import BASE_URL
from tests.webhooks.conftest import add_categories, new_key

PUBLIC_URL = "https://93.184.216.34/hooks/byline"  # a global address: no connection is made
SUBSCRIPTION = {"url": PUBLIC_URL, "events": ["published", "retracted"]}


async def create(client, key: str, /, **body):
    return await client.post("/v1/webhooks", json={**SUBSCRIPTION, **body}, headers=auth(key))


MALFORMED_URLS = [
    "https://" + "a" * 64 + ".com/h",  # a label over 63 characters
    "https://aaa..com/h",  # an empty label
    "https://.example/h",
    "https://xn--/h",  # an A-label with nothing encoded
    "https://bad_$host.example/h",
    "https://1.1.1.1:99999/h",  # no such port
    "https://1.1.1.1:0/h",
]


@pytest.fixture
async def lax_client(settings, sessions):
    """The API with BYLINE_WEBHOOK_ALLOW_PRIVATE_TARGETS on (no address is refused)."""
    lax = settings.model_copy(update={"webhook_allow_private_targets": True})
    transport = httpx.ASGITransport(app=create_app(lax, sessions))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


class TestCreate:
    async def test_partner_subscribes_and_sees_the_secret_once(self, client, session):
        await add_categories(session, "science", "business")
        _, partner = await new_key(session, "read", "syndicate")
        response = await create(client, partner, categories=["science", "business"])
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["id"].startswith("whk_")
        assert body["secret"].startswith("whsec_")
        assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) == 32
        Webhook(body["secret"])  # the library accepts it as a signing secret
        assert body["url"] == PUBLIC_URL
        assert body["events"] == ["published", "retracted"]
        assert body["categories"] == ["business", "science"]
        assert body["status"] == "active"
        assert response.headers["location"] == f"/v1/webhooks/{body['id']}"
        assert response.headers["cache-control"] == "private, no-store"
        one = (await client.get(f"/v1/webhooks/{body['id']}", headers=auth(partner))).json()
        listed = (await client.get("/v1/webhooks", headers=auth(partner))).json()["data"]
        assert [s["id"] for s in listed] == [body["id"]]
        assert "secret" not in one
        assert body["secret"] not in str(listed)

    async def test_admin_subscribes_for_another_key(self, client, session):
        _, admin = await new_key(session, "admin")
        partner_info, partner = await new_key(session, "syndicate")
        made = await create(client, admin, key_id=partner_info.id)
        assert made.status_code == 201, made.text
        assert made.json()["key_id"] == partner_info.id
        mine = (await client.get("/v1/webhooks", headers=auth(partner))).json()["data"]
        assert [s["id"] for s in mine] == [made.json()["id"]]

    async def test_only_admins_subscribe_for_others(self, client, session):
        _, partner = await new_key(session, "syndicate")
        other, _ = await new_key(session, "syndicate")
        response = await create(client, partner, key_id=other.id)
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"

    async def test_admin_naming_an_unknown_key_is_422(self, client, session):
        _, admin = await new_key(session, "admin")
        response = await create(client, admin, key_id="key_nope")
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "key_id"]

    async def test_categories_must_lie_within_the_keys(self, client, session):
        await add_categories(session, "science", "business")
        _, partner = await new_key(session, "syndicate", categories=["science"])
        response = await create(client, partner, categories=["science", "business"])
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "categories"]
        assert "outside the owning key's categories: business" in response.json()["detail"]

    async def test_a_category_with_no_article_yet_may_be_subscribed_to(self, client, session):
        # Categories come into being with their first article: a partner may subscribe first.
        _, partner = await new_key(session, "syndicate")
        made = await create(client, partner, categories=["launching-next-week"])
        assert made.status_code == 201, made.text
        assert made.json()["categories"] == ["launching-next-week"]


class TestScopes:
    async def test_no_key_is_401(self, client):
        assert (await client.post("/v1/webhooks", json=SUBSCRIPTION)).status_code == 401
        assert (await client.get("/v1/webhooks")).status_code == 401

    @pytest.mark.parametrize("scopes", [("read",), ("write",), ("read", "stats")])
    async def test_keys_without_admin_or_syndicate_are_403(self, client, session, scopes):
        _, secret = await new_key(session, *scopes)
        assert (await create(client, secret)).status_code == 403
        assert (await client.get("/v1/webhooks", headers=auth(secret))).status_code == 403
        listing = await client.get("/v1/webhooks/whk_x/deliveries", headers=auth(secret))
        assert listing.status_code == 403

    @pytest.mark.parametrize(
        ("method", "path", "params", "body"),
        [
            ("POST", "/v1/webhooks", {}, {}),
            ("POST", "/v1/webhooks", {}, {"url": 5, "events": "none", "secret": "x"}),
            ("GET", "/v1/webhooks/whk_x/deliveries", {"limit": "0"}, None),
            ("GET", "/v1/webhooks/whk_x/deliveries", {"limit": "x", "cursor": "bad"}, None),
            ("GET", "/v1/webhooks/whk_x/deliveries", {"cursor": "not-a-cursor"}, None),
            ("POST", "/v1/webhooks/whk_x/rotate-secret", {}, {"overlap_seconds": -5}),
            ("POST", "/v1/webhooks/whk_x/rotate-secret", {}, {"nonsense": True}),
        ],
    )
    async def test_the_key_is_judged_before_the_input(
        self, client, session, method, path, params, body
    ):
        """401 without a key and 403 without the scope, whatever the input: a key that may
        not use a route is not told what its input should have been."""
        anonymous = await client.request(method, path, params=params, json=body)
        assert anonymous.status_code == 401, anonymous.text
        for scopes in (("read",), ("stats",), ("write",), ("read", "stats", "write")):
            _, secret = await new_key(session, *scopes)
            response = await client.request(
                method, path, params=params, json=body, headers=auth(secret)
            )
            assert response.status_code == 403, (scopes, response.text)
            assert response.headers["content-type"] == "application/problem+json"
        _, partner = await new_key(session, "syndicate")
        allowed = await client.request(
            method, path, params=params, json=body, headers=auth(partner)
        )
        assert allowed.status_code == 422  # with the scope, the input is judged

    async def test_partners_see_and_delete_only_their_own(self, client, session):
        _, owner = await new_key(session, "syndicate")
        _, stranger = await new_key(session, "syndicate")
        _, admin = await new_key(session, "admin")
        sub_id = (await create(client, owner)).json()["id"]
        path = f"/v1/webhooks/{sub_id}"
        assert (await client.get(path, headers=auth(stranger))).status_code == 404
        assert (await client.delete(path, headers=auth(stranger))).status_code == 404
        assert (await client.get(f"{path}/deliveries", headers=auth(stranger))).status_code == 404
        assert (await client.get("/v1/webhooks", headers=auth(stranger))).json()["data"] == []
        everyone = (await client.get("/v1/webhooks", headers=auth(admin))).json()["data"]
        assert sub_id in [s["id"] for s in everyone]
        assert (await client.delete(path, headers=auth(owner))).status_code == 204
        assert (await client.get(path, headers=auth(owner))).status_code == 404
        assert (await client.delete(path, headers=auth(admin))).status_code == 404


class TestBadInput:
    @pytest.mark.parametrize(
        ("body", "loc"),
        [
            ({"events": []}, ["body", "events"]),
            ({"events": ["published", "exploded"]}, ["body", "events", 1]),
            ({"events": "published"}, ["body", "events"]),
            ({"url": ""}, ["body", "url"]),
            ({"url": "x" * 2001}, ["body", "url"]),
            ({"categories": ["Not A Slug"]}, ["body", "categories", 0]),
            ({"categories": []}, ["body", "categories"]),
            ({"secret": "mine"}, ["body", "secret"]),
        ],
    )
    async def test_422_names_the_field(self, client, session, body, loc):
        _, partner = await new_key(session, "syndicate")
        response = await create(client, partner, **body)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert loc in [e["loc"] for e in response.json()["errors"]]

    async def test_missing_url_is_422(self, client, session):
        _, partner = await new_key(session, "syndicate")
        response = await client.post(
            "/v1/webhooks", json={"events": ["published"]}, headers=auth(partner)
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "url"]

    @pytest.mark.parametrize(
        "url",
        [
            "http://93.184.216.34/hooks",  # plain http
            "ftp://93.184.216.34/hooks",
            "https://127.0.0.1/hooks",
            "https://127.1.2.3:8443/hooks",
            "https://localhost/hooks",
            "https://10.0.0.7/hooks",
            "https://172.16.5.4/hooks",
            "https://192.168.1.1/hooks",
            "https://169.254.169.254/latest/meta-data",  # cloud metadata (link-local)
            "https://100.64.0.1/hooks",  # carrier-grade NAT
            "https://0.0.0.0/hooks",
            "https://[::1]/hooks",
            "https://[fe80::1]/hooks",
            "https://[fd00::1]/hooks",
            "https://[::ffff:127.0.0.1]/hooks",  # IPv4-mapped loopback
            "https://[2002:7f00:1::]/hooks",  # 6to4 of 127.0.0.1
            "https://[2002:a9fe:a9fe::]/latest/meta-data",  # 6to4 of the metadata address
            "https://[2001:0:5db8:d822::80ff:fffe]/hooks",  # Teredo, client 127.0.0.1
            "https://[64:ff9b::7f00:1]/hooks",  # NAT64 of 127.0.0.1
            "https://2130706433/hooks",  # 127.0.0.1 written as one number
            "https://user:pw@93.184.216.34/hooks",
            "https://93.184.216.34/hooks#frag",
            "https://nowhere.invalid/hooks",  # does not resolve
            "https:///hooks",
            "not a url",
        ],
    )
    async def test_unsafe_targets_are_422_on_url(self, client, session, url):
        _, partner = await new_key(session, "syndicate")
        response = await create(client, partner, url=url)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["loc"] == ["body", "url"]

    async def test_malformed_hosts_and_ports_are_422_on_url_in_both_modes(
        self, client, lax_client, session
    ):
        _, partner = await new_key(session, "syndicate")
        for url in MALFORMED_URLS:
            for which in (client, lax_client):
                response = await create(which, partner, url=url)
                assert response.status_code == 422, (url, response.text)
                assert response.json()["errors"][0]["loc"] == ["body", "url"]
        listed = await lax_client.get("/v1/webhooks", headers=auth(partner))
        assert listed.json()["data"] == []

    async def test_private_targets_are_allowed_in_lax_mode(self, lax_client, session):
        _, partner = await new_key(session, "syndicate")
        for url in ("http://127.0.0.1:8080/in", "https://[2002:7f00:1::]:8443/in"):
            response = await create(lax_client, partner, url=url)
            assert response.status_code == 201, response.text

    async def test_bad_cursor_and_limit_are_422(self, client, session):
        _, partner = await new_key(session, "syndicate")
        sub_id = (await create(client, partner)).json()["id"]
        path = f"/v1/webhooks/{sub_id}/deliveries"
        bad_cursor = await client.get(path, params={"cursor": "abc"}, headers=auth(partner))
        assert bad_cursor.status_code == 422
        assert bad_cursor.json()["errors"][0]["loc"] == ["query", "cursor"]
        too_many = await client.get(path, params={"limit": 101}, headers=auth(partner))
        assert too_many.status_code == 422
        empty = await client.get(path, headers=auth(partner))
        assert empty.json() == {"data": [], "meta": {"limit": 50, "next_cursor": None}}


class TestRotateSecret:
    async def test_a_new_secret_once_and_the_old_one_kept_a_day(self, client, session):
        _, partner = await new_key(session, "syndicate")
        made = (await create(client, partner)).json()
        path = f"/v1/webhooks/{made['id']}"
        before = dt.datetime.now(dt.UTC)
        response = await client.post(f"{path}/rotate-secret", headers=auth(partner))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["secret"].startswith("whsec_")
        assert body["secret"] != made["secret"]
        Webhook(body["secret"])
        assert response.headers["cache-control"] == "private, no-store"
        until = dt.datetime.fromisoformat(body["previous_secret_expires_at"])
        assert (
            dt.timedelta(hours=23, minutes=59) < until - before <= dt.timedelta(days=1, minutes=1)
        )
        shown = (await client.get(path, headers=auth(partner))).json()
        assert shown["previous_secret_expires_at"] == body["previous_secret_expires_at"]
        assert "secret" not in shown
        assert made["previous_secret_expires_at"] is None

    async def test_overlap_zero_retires_the_old_secret_at_once(self, client, session):
        _, partner = await new_key(session, "syndicate")
        sub_id = (await create(client, partner)).json()["id"]
        response = await client.post(
            f"/v1/webhooks/{sub_id}/rotate-secret",
            json={"overlap_seconds": 0},
            headers=auth(partner),
        )
        assert response.status_code == 200, response.text
        assert response.json()["previous_secret_expires_at"] is None

    @pytest.mark.parametrize(
        ("body", "loc"),
        [
            ({"overlap_seconds": -1}, ["body", "overlap_seconds"]),
            ({"overlap_seconds": 7 * 86400 + 1}, ["body", "overlap_seconds"]),
            ({"overlap_seconds": "soon"}, ["body", "overlap_seconds"]),
            ({"secret": "whsec_mine"}, ["body", "secret"]),
        ],
    )
    async def test_bad_overlap_is_422_and_changes_nothing(self, client, session, body, loc):
        _, partner = await new_key(session, "syndicate")
        made = (await create(client, partner)).json()
        path = f"/v1/webhooks/{made['id']}/rotate-secret"
        response = await client.post(path, json=body, headers=auth(partner))
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert loc in [e["loc"] for e in response.json()["errors"]]
        stored = await session.get(WebhookSubscription, made["id"])
        assert stored is not None
        await session.refresh(stored)
        assert (stored.secret, stored.previous_secret) == (made["secret"], None)

    async def test_only_the_owner_or_an_admin_rotates(self, client, session):
        _, owner = await new_key(session, "syndicate")
        _, stranger = await new_key(session, "syndicate")
        _, reader = await new_key(session, "read")
        _, admin = await new_key(session, "admin")
        path = f"/v1/webhooks/{(await create(client, owner)).json()['id']}/rotate-secret"
        assert (await client.post(path)).status_code == 401
        assert (await client.post(path, headers=auth(reader))).status_code == 403
        assert (await client.post(path, headers=auth(stranger))).status_code == 404
        assert (await client.post(path, headers=auth(admin))).status_code == 200
        unknown = "/v1/webhooks/whk_unknown/rotate-secret"
        assert (await client.post(unknown, headers=auth(admin))).status_code == 404


class TestEnable:
    async def test_only_the_owner_or_an_admin_enables(self, client, session):
        _, owner = await new_key(session, "syndicate")
        _, stranger = await new_key(session, "syndicate")
        _, reader = await new_key(session, "read")
        _, admin = await new_key(session, "admin")
        sub_id = (await create(client, owner)).json()["id"]
        path = f"/v1/webhooks/{sub_id}/enable"
        assert (await client.post(path)).status_code == 401
        assert (await client.post(path, headers=auth(reader))).status_code == 403
        assert (await client.post(path, headers=auth(stranger))).status_code == 404
        unknown = await client.post("/v1/webhooks/whk_unknown/enable", headers=auth(admin))
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"

    async def test_enabling_a_disabled_subscription_clears_its_failure(self, client, session):
        _, owner = await new_key(session, "syndicate")
        _, admin = await new_key(session, "admin")
        sub_id = (await create(client, owner)).json()["id"]
        stored = await session.get(WebhookSubscription, sub_id)
        assert stored is not None
        stored.status, stored.failing_since = "disabled", dt.datetime.now(dt.UTC)
        await session.flush()
        shown = (await client.get(f"/v1/webhooks/{sub_id}", headers=auth(owner))).json()
        assert shown["status"] == "disabled"
        response = await client.post(f"/v1/webhooks/{sub_id}/enable", headers=auth(admin))
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "private, no-store"
        assert (response.json()["status"], response.json()["failing_since"]) == ("active", None)
        again = await client.post(f"/v1/webhooks/{sub_id}/enable", headers=auth(owner))
        assert (again.status_code, again.json()["status"]) == (200, "active")
