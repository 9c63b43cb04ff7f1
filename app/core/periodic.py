"""Background work repeated on a timer inside the server process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable


async def every(interval: float, action: Callable[[], Awaitable[None]]) -> None:
    """Run `action` every `interval` seconds until cancelled.

    A failure (the database away, say) is left for the next turn: the action keeps what
    it could not write, and the loop must outlive the outage.
    """
    while True:
        await asyncio.sleep(interval)
        with contextlib.suppress(Exception):
            await action()
