"""`byline worker`: lifts embargoes and delivers the outbox, many deliveries in flight at once.

The loop claims due deliveries when half its slots are free, sends each in a task of its
own (at most BYLINE_WEBHOOK_CONCURRENCY at once), and settles finished ones in batches.
A claim is a lease: if this process dies, what it held becomes due again when the lease
ends and another worker sends it, with the same `webhook-id` (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import logging
import random
import secrets
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass

import httpx
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from app.core.config import Settings
from app.core.db import make_engine, make_sessionmaker, session_scope
from app.models import ApiKey, SubscriptionStatus, WebhookSubscription
from app.ops.metrics import serve_worker_metrics
from app.webhooks import embargo, outbox
from app.webhooks.delivery import Target, attempt, message_body
from app.webhooks.outbox import Claimed, Outcome
from app.webhooks.secrets import SecretUnavailable, box_of
from app.webhooks.ssrf import Policy, Resolver, guarded_client, system_resolver

log = logging.getLogger("byline.worker")

SETTLE_AFTER = 0.05  # seconds a finished delivery may wait to be settled with others
PURGE_EVERY = 3600.0


@dataclass(frozen=True, slots=True)
class Undeliverable:
    """Why a claimed delivery is not attempted: dropped (`cancel`), or failed and retried."""

    reason: str
    cancel: bool


# id, url, secret, previous_secret, previous_secret_expires_at, status, the owner's revoked_at
TargetRow = Row[str, str, str, str | None, dt.datetime | None, str, dt.datetime | None]
REVOKED = Undeliverable("owner key revoked", cancel=True)
DISABLED = Undeliverable("subscription disabled", cancel=True)
DELETED = Undeliverable("subscription deleted", cancel=True)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Worker:
    def __init__(
        self, settings: Settings, reads: async_sessionmaker[AsyncSession],
        writes: async_sessionmaker[AsyncSession], *, resolve: Resolver = system_resolver,
        rng: random.Random | None = None,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.reads = reads
        self.writes = writes
        self.policy = Policy(settings.webhook_allow_private_targets)
        self.resolve = resolve
        self.rng = rng or random.Random()
        self.name = secrets.token_hex(6)
        self._claims = itertools.count()
        self.inflight: set[asyncio.Task[Outcome]] = set()
        self._progress = asyncio.Event()
        self.finished: list[Outcome] = []
        self._finished_since = 0.0
        self._next_purge = 0.0
        self._next_lift = 0.0
        self.sent = 0
        self.failed = 0  # attempts that failed (not cancelled ones): byline_webhook_attempts_total

    def client(self) -> httpx.AsyncClient:
        return guarded_client(
            self.policy, connections=self.settings.webhook_concurrency,
            timeout=self.settings.webhook_timeout_seconds, resolve=self.resolve,
        )  # fmt: skip

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set, then finish what is in flight and settle it."""
        async with self.client() as client:
            while not stop.is_set():
                try:
                    await self.step(client, stop)
                except Exception:  # the database may be away for a moment: keep going
                    log.exception("worker step failed; retrying")
                    await _sleep_unless(stop, self.settings.webhook_poll_interval)
            await self.finish()

    async def step(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        await self.housekeeping(force=False)
        more = await self.fill(client)
        await self.collect(idle=not more, stop=stop)
        if self.finished and (
            len(self.finished) >= self.settings.webhook_concurrency // 2
            or not self.inflight
            or time.monotonic() - self._finished_since > SETTLE_AFTER
        ):
            await self.settle()

    async def drain(self) -> None:
        """Lift, deliver and settle until nothing is due now (tests; `byline worker --once`)."""
        async with self.client() as client:
            await self.housekeeping()
            more = True
            while more:
                more = await self.fill(client, at_least=1)
                await self.finish()

    async def housekeeping(self, *, force: bool = True) -> None:
        """Lift due embargoes (unless forced, once a poll interval) and hourly purge the log."""
        if not force and time.monotonic() < self._next_lift:
            return
        self._next_lift = time.monotonic() + self.settings.webhook_poll_interval
        lifted = await embargo.lift_due(self.reads, self.writes, utcnow())
        if lifted:
            log.info("lifted %d embargo(es)", lifted)
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + PURGE_EVERY
            before = utcnow() - dt.timedelta(days=self.settings.webhook_retention_days)
            async with session_scope(self.writes) as session:
                await outbox.purge(session, before)

    async def fill(self, client: httpx.AsyncClient, at_least: int | None = None) -> bool:
        """Claim due deliveries for the free slots and start them; True if there may be more."""
        free = self.settings.webhook_concurrency - len(self.inflight)
        if free < (at_least or max(1, self.settings.webhook_concurrency // 2)):
            return bool(self.inflight)
        token = f"{self.name}{next(self._claims):x}"
        async with session_scope(self.writes) as session:
            batch = await outbox.claim(
                session, token=token, now=utcnow(), lease=self.settings.webhook_lease_seconds,
                limit=free,
            )  # fmt: skip
        if not batch:
            return False
        targets = await self.targets({c.subscription_id for c in batch})
        for claimed in batch:
            target = targets.get(claimed.subscription_id, DELETED)
            if isinstance(target, Undeliverable):
                self._finish(Outcome(claimed, utcnow(), 0, None, target.reason, target.cancel))
                continue
            task = asyncio.create_task(self.deliver(client, target, claimed))
            self.inflight.add(task)
            task.add_done_callback(self._done)
        return len(batch) == free

    async def targets(self, subscription_ids: Iterable[str]) -> dict[str, Target | Undeliverable]:
        """Where the subscriptions' deliveries go, or why they cannot go there now."""
        subs = WebhookSubscription
        async with self.reads() as session:
            rows = await session.execute(
                select(
                    subs.id, subs.url, subs.secret, subs.previous_secret,
                    subs.previous_secret_expires_at, subs.status, ApiKey.revoked_at,
                )
                .join(ApiKey, ApiKey.id == subs.key_id)
                .where(subs.id.in_(list(subscription_ids)))
            )  # fmt: skip
            return {row.id: self._target(row) for row in rows}

    def _target(self, row: TargetRow) -> Target | Undeliverable:
        if row.revoked_at is not None:
            return REVOKED
        if row.status == SubscriptionStatus.DISABLED:
            # Disabled while this delivery was claimed or being retried (see outbox.settle).
            return DISABLED
        box = box_of(self.settings)
        try:
            previous = Webhook(box.open(row.previous_secret)) if row.previous_secret else None
            return Target(
                row.url, Webhook(box.open(row.secret)), previous, row.previous_secret_expires_at
            )
        except SecretUnavailable as exc:
            log.error("webhook %s not sent: its signing secret cannot be read (%s)", row.id, exc)
            return Undeliverable(f"secret unavailable: {exc}", cancel=False)

    async def deliver(self, client: httpx.AsyncClient, target: Target, claimed: Claimed) -> Outcome:
        try:
            body = message_body(claimed, self.settings.public_base_url)
            return await attempt(
                client, target, claimed, body, policy=self.policy,
                timeout=self.settings.webhook_timeout_seconds,
            )  # fmt: skip
        except Exception as exc:  # never lose the outcome: it is logged and retried
            log.exception("delivery %s failed unexpectedly", claimed.message_id)
            return Outcome(claimed, utcnow(), 0, None, f"internal error: {type(exc).__name__}")

    async def collect(self, *, idle: bool, stop: asyncio.Event) -> None:
        """Wait for a delivery to finish, or (with nothing in flight) for the next poll."""
        if self.inflight:
            # Set by any delivery that finished since the last look, even during a claim.
            await _sleep_unless(self._progress, self.settings.webhook_poll_interval)
            self._progress.clear()
        elif idle:
            await _sleep_unless(stop, self.settings.webhook_poll_interval)

    def _done(self, task: asyncio.Task[Outcome]) -> None:
        # A callback, not asyncio.wait over every task: one finished delivery costs O(1).
        self.inflight.discard(task)
        if not task.cancelled():
            self._finish(task.result())
        self._progress.set()

    def _finish(self, outcome: Outcome) -> None:
        if not self.finished:
            self._finished_since = time.monotonic()
        self.finished.append(outcome)

    async def settle(self) -> None:
        outcomes, self.finished = self.finished, []
        if not outcomes:
            return
        try:
            async with session_scope(self.writes) as session:
                await outbox.settle(
                    session, outcomes, now=utcnow(), settings=self.settings, rng=self.rng
                )
        except Exception:
            self.finished = outcomes + self.finished  # settled on the next try (claims allowing)
            raise
        self.sent += len(outcomes)
        for outcome in outcomes:
            if not outcome.ok and not outcome.cancelled:
                self.failed += 1
                log.info("delivery %s failed: %s", outcome.delivery.message_id, outcome.error)

    async def finish(self) -> None:
        if self.inflight:
            await asyncio.wait(self.inflight)
            await asyncio.sleep(0)  # let the tasks' done callbacks run
        await self.settle()


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def serve(
    settings: Settings, *, once: bool = False, metrics_at: tuple[str, int] | None = None
) -> None:
    """The `byline worker` process: work until SIGTERM or SIGINT, then stop cleanly."""
    engine = make_engine(settings.database_url)
    worker = Worker(settings, make_sessionmaker(engine), make_sessionmaker(engine, writes=True))
    if metrics_at is not None:
        serve_worker_metrics(worker, *metrics_at)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker %s started", worker.name)
    try:
        if once:
            await worker.drain()
        else:
            await worker.run(stop)
    finally:
        await engine.dispose()
        log.info("worker %s stopped after %d attempt(s)", worker.name, worker.sent)
