"""Signing secrets at rest: Fernet-encrypted with BYLINE_SECRET_KEYS, readable by the worker,
re-encrypted by `byline webhooks seal-secrets`, and never sent when no key opens them."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError
from sqlalchemy import select
from typer.testing import CliRunner

from app.access import service as access
from app.cli import cli
from app.core.config import Settings, get_settings
from app.core.db import make_engine, make_sessionmaker, session_scope
from app.models import WebhookSubscription
from app.webhooks.secrets import SEALED, SecretBox, SecretUnavailable
from tests.access.test_keys import auth
from tests.conftest import BASE_URL, add_article
from tests.webhooks.conftest import CLEAR, deliveries, make_worker, new_key, subscribe

OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYq="


class TestSecretBox:
    def test_sealed_values_hide_the_secret_and_open_to_it(self):
        box = SecretBox([NEW_KEY])
        stored = box.seal(SECRET)
        assert stored.startswith(SEALED)
        assert SECRET not in stored
        assert len(stored) <= 400  # the column
        assert box.open(stored) == SECRET

    def test_without_keys_secrets_are_kept_as_they_are(self):
        assert CLEAR.seal(SECRET) == SECRET
        assert CLEAR.open(SECRET) == SECRET
        assert SecretBox([NEW_KEY]).open(SECRET) == SECRET  # stored before keys were set

    @pytest.mark.parametrize("keys", [[], [NEW_KEY]])
    def test_a_value_no_key_opens_is_refused(self, keys):
        sealed = SecretBox([OLD_KEY]).seal(SECRET)
        with pytest.raises(SecretUnavailable):
            SecretBox(keys).open(sealed)

    def test_rotating_keys(self):
        sealed = SecretBox([OLD_KEY]).seal(SECRET)
        both = SecretBox([NEW_KEY, OLD_KEY])
        assert both.open(sealed) == SECRET  # the old key still reads
        resealed = both.reseal(sealed)
        assert SecretBox([NEW_KEY]).open(resealed) == SECRET  # the old key can go
        assert SecretBox([NEW_KEY]).open(both.reseal(SECRET)) == SECRET  # clear ones too


class TestSettings:
    def test_keys_are_a_comma_separated_list(self, monkeypatch):
        monkeypatch.setenv("BYLINE_SECRET_KEYS", f" {NEW_KEY} , {OLD_KEY} ")
        keys = [k.get_secret_value() for k in Settings().secret_keys]
        assert keys == [NEW_KEY, OLD_KEY]

    def test_a_bad_key_is_refused_without_being_echoed(self, monkeypatch):
        monkeypatch.setenv("BYLINE_SECRET_KEYS", f"{NEW_KEY},not-a-fernet-key")
        with pytest.raises(ValidationError) as raised:
            Settings()
        assert "key 2 is not a Fernet key" in str(raised.value)
        assert "not-a-fernet-key" not in str(raised.value)
        assert NEW_KEY not in str(raised.value)

    def test_keys_stay_out_of_the_settings_repr(self):
        settings = Settings(database_url="sqlite:///unused.db", secret_keys=[NEW_KEY])
        assert NEW_KEY not in repr(settings)


@pytest.fixture
def settings(backend: str) -> Settings:
    """The app under test encrypts secrets with NEW_KEY."""
    return Settings(
        database_url="sqlite:///unused.db", public_base_url=BASE_URL, anonymous_rate_limit="none",
        webhook_allow_private_targets=True, secret_keys=[NEW_KEY],
    )  # fmt: skip


async def stored(session, subscription_id: str) -> tuple[str, str | None]:
    row = await session.scalar(
        select(WebhookSubscription)
        .where(WebhookSubscription.id == subscription_id)
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row.secret, row.previous_secret


async def test_the_api_stores_secrets_encrypted_and_the_worker_signs_with_them(
    client, session, settings, sessions, receiver
):
    _, partner = await new_key(session, "syndicate")
    made = await client.post(
        "/v1/webhooks", json={"url": receiver.url("sealed"), "events": ["published"]},
        headers=auth(partner),
    )  # fmt: skip
    assert made.status_code == 201, made.text
    body = made.json()
    secret, _ = await stored(session, body["id"])
    assert secret.startswith(SEALED)
    assert body["secret"] not in secret
    rotated = await client.post(f"/v1/webhooks/{body['id']}/rotate-secret", headers=auth(partner))
    new_secret = rotated.json()["secret"]
    secret, previous = await stored(session, body["id"])
    assert previous is not None
    assert previous.startswith(SEALED)
    assert secret.startswith(SEALED)
    assert new_secret not in secret

    receiver.expect("sealed", new_secret)
    await add_article(session, settings)
    await make_worker(sessions, secret_keys=[NEW_KEY]).drain()
    [got] = receiver.on("sealed")
    assert got.verified
    assert len(got.headers["webhook-signature"].split(" ")) == 2  # the old one too


async def test_a_worker_without_the_key_sends_nothing_and_retries_later(
    session, settings, sessions, receiver
):
    owner, _ = await new_key(session, "syndicate")
    subscription, secret = await subscribe(
        session, owner, url=receiver.url("locked"), box=SecretBox([NEW_KEY])
    )
    receiver.expect("locked", secret)
    await add_article(session, settings)
    await make_worker(sessions, secret_keys=[OLD_KEY]).drain()
    assert receiver.on("locked") == []
    [delivery] = await deliveries(session, subscription.id)
    assert (delivery.state, delivery.attempts) == ("pending", 1)
    # With the right key the retry goes out, signed with the secret the subscriber holds.
    await asyncio.sleep(0.05)  # the test backoff
    await make_worker(sessions, secret_keys=[NEW_KEY, OLD_KEY]).drain()
    [got] = receiver.on("locked")
    assert got.verified


# ---- byline webhooks seal-secrets


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("BYLINE_DATABASE_URL", url)
    monkeypatch.delenv("BYLINE_SECRET_KEYS", raising=False)
    get_settings.cache_clear()
    assert CliRunner().invoke(cli, ["migrate"]).exit_code == 0
    yield url
    get_settings.cache_clear()


async def _subscription_in(url: str) -> tuple[str, str]:
    engine = make_engine(url)
    try:
        async with session_scope(make_sessionmaker(engine, writes=True)) as session:
            key, _ = await access.create(
                session, name="partner", scopes=["syndicate"], categories=None, rate_limit=None,
                now=dt.datetime.now(dt.UTC),
            )  # fmt: skip
            subscription, secret = await subscribe(session, access.info_of(key))
            return subscription.id, secret
    finally:
        await engine.dispose()


async def _stored_in(url: str, subscription_id: str) -> str:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            value, _ = await stored(session, subscription_id)
            return value
    finally:
        await engine.dispose()


def test_seal_secrets_encrypts_then_rotates_and_changes_nothing_on_failure(
    cli_database: str, monkeypatch: pytest.MonkeyPatch
):
    runner = CliRunner()
    sub_id, secret = asyncio.run(_subscription_in(cli_database))
    assert asyncio.run(_stored_in(cli_database, sub_id)) == secret

    without = runner.invoke(cli, ["webhooks", "seal-secrets"])
    assert without.exit_code == 2
    assert "BYLINE_SECRET_KEYS is not set" in without.output

    def with_keys(*keys: str):
        monkeypatch.setenv("BYLINE_SECRET_KEYS", ",".join(keys))
        get_settings.cache_clear()
        return runner.invoke(cli, ["webhooks", "seal-secrets"])

    sealed = with_keys(OLD_KEY)
    assert sealed.exit_code == 0, sealed.output
    assert "1 subscription" in sealed.output
    by_old = asyncio.run(_stored_in(cli_database, sub_id))
    assert SecretBox([OLD_KEY]).open(by_old) == secret
    assert secret not in by_old

    refused = with_keys(NEW_KEY)  # the old key is gone: nothing can be re-encrypted
    assert refused.exit_code == 1
    assert sub_id in refused.output
    assert "nothing changed" in refused.output
    assert asyncio.run(_stored_in(cli_database, sub_id)) == by_old

    rotated = with_keys(NEW_KEY, OLD_KEY)
    assert rotated.exit_code == 0, rotated.output
    assert SecretBox([NEW_KEY]).open(asyncio.run(_stored_in(cli_database, sub_id))) == secret
