"""One delivery attempt: the Standard Webhooks message, its signature, the POST and its outcome."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from standardwebhooks import Webhook

from app.webhooks.outbox import Claimed, Outcome
from app.webhooks.ssrf import Policy, UnsafeTarget, check_url

USER_AGENT = "Byline-Webhooks/1"
RESPONSE_READ_LIMIT = 64 * 1024  # enough to keep the connection; a receiver's body is ignored


@dataclass(frozen=True, slots=True)
class Target:
    """Where a subscription's deliveries go, and the secret(s) they are signed with."""

    url: str
    signer: Webhook
    # The secret a rotation replaced, and until when it still signs (beside `signer`).
    previous: Webhook | None = None
    previous_until: dt.datetime | None = None

    def signers(self, now: dt.datetime) -> tuple[Webhook, ...]:
        if (
            self.previous is not None
            and self.previous_until is not None
            and now < self.previous_until
        ):
            return (self.signer, self.previous)
        return (self.signer,)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def absolute(article: dict[str, Any] | None, base_url: str) -> dict[str, Any] | None:
    """The stored face with its URLs made absolute against this deployment's public base URL."""
    if article is None or "url" not in article:
        return article
    out = dict(article, url=base_url + article["url"])
    if isinstance(article.get("links"), dict):
        out["links"] = {name: base_url + path for name, path in article["links"].items()}
    return out


def message_body(claimed: Claimed, base_url: str) -> bytes:
    """`{type, timestamp, data}`: data is the change-log event plus the article as it was."""
    return orjson.dumps(
        {
            "type": f"article.{claimed.event}",
            "timestamp": iso(claimed.at),
            "data": {
                "seq": claimed.seq,
                "event": claimed.event,
                "article_id": claimed.article_id,
                "revision": claimed.revision,
                "at": iso(claimed.at),
                "article": absolute(claimed.article, base_url),
            },
        }
    )


def signed_headers(
    message_id: str, body: bytes, signers: Sequence[Webhook], now: dt.datetime
) -> dict[str, str]:
    """The Standard Webhooks headers; the timestamp is the send time, signed with the body.

    With several secrets (during a rotation) the signature header lists one signature per
    secret, space-separated, as the spec provides: a receiver accepts the message if any
    of them verifies with the secret it holds.
    """
    now = now.astimezone(dt.UTC)
    text = body.decode()
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(s.sign(message_id, now, text) for s in signers),
    }


async def attempt(
    client: httpx.AsyncClient, target: Target, claimed: Claimed, body: bytes, *, policy: Policy,
    timeout: float,
) -> Outcome:  # fmt: skip
    """POST once; a 2xx is success, anything else (or no answer within `timeout`) a failure."""
    started = dt.datetime.now(dt.UTC)
    clock = time.perf_counter()
    status: int | None = None
    error: str | None = None
    try:
        check_url(target.url, policy)  # the settings may have tightened since it was made
        headers = signed_headers(claimed.message_id, body, target.signers(started), started)
        async with asyncio.timeout(timeout):  # the whole attempt, DNS and TLS included
            status = await _post(client, target.url, body, headers)
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except UnsafeTarget as exc:
        error = f"refused: {exc}"
    except (httpx.TimeoutException, TimeoutError):
        status, error = None, "timed out"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    duration = round((time.perf_counter() - clock) * 1000)
    return Outcome(claimed, started, duration, status, error)


async def _post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> int:
    async with client.stream("POST", url, content=body, headers=headers) as response:
        # Read a little of the answer, so a short body leaves the connection reusable.
        read = 0
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read > RESPONSE_READ_LIMIT:
                break
        return response.status_code
