"""The hub's bus subscriptions, kept through bus outages.

The bus is at-most-once, and its server may be away for a while. Neither may cost
a client a message or a connection:

- A topic the bus cannot subscribe to now (its server is down) is kept as
  *pending*: the stream is accepted all the same and serves from storage (its
  catch-up, and its resume on reconnect), and one background task retries every
  pending topic with a backoff. While a subscription has just failed, new topics
  go straight to pending instead of each waiting on the bus.
- Whenever a subscription is (re)established (a pending topic subscribed, or the
  bus reporting that it reconnected with every subscription in force), the
  streams concerned are *resynced*: each re-reads from storage what came after its
  cursors, since anything published meanwhile was lost. From then on live delivery
  and the usual gap repair carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from qunzu.bus.base import Subscription

if TYPE_CHECKING:
    from qunzu.api.realtime import Hub

log = logging.getLogger("qunzu.ws")

SUBSCRIBE_TIMEOUT = 2.0  # one subscribe, inline at connect or in the retry task
RETRY_MIN, RETRY_MAX = 0.2, 2.0  # seconds between retries of pending topics
# After a failed subscribe, new topics skip the bus for this long (the retry task has them).
DOWN_SECONDS = 1.0


class BusLinks:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.pending: set[str] = set()
        self._down_until = 0.0
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        hub.bus.on_reconnect(self.reconnected)

    async def subscribe(self, topic: str) -> Subscription | None:
        """Subscribe the hub to ``topic`` now, or None: then it is retried in the background.

        Called under the hub's lock."""
        if topic not in self.pending and time.monotonic() >= self._down_until:
            try:
                async with asyncio.timeout(SUBSCRIBE_TIMEOUT):
                    return await self.hub.bus.subscribe(topic, self.hub._on_payload)
            except Exception as exc:
                self._down_until = time.monotonic() + DOWN_SECONDS
                log.warning("bus subscribe to %s failed (%s); retrying in background", topic, exc)
        self.pending.add(topic)
        self._start()
        return None

    def forget(self, topic: str) -> None:
        """No stream needs ``topic`` any more."""
        self.pending.discard(topic)

    def reconnected(self) -> None:
        """The bus is back with its subscriptions: re-read what every stream may have missed."""
        self._down_until = 0.0
        self._wake.set()
        self.hub.resync(None)

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._retry(), name="qunzu-bus-resubscribe")

    async def _retry(self) -> None:
        delay = RETRY_MIN
        while self.pending:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            done = await self._subscribe_pending()
            delay = RETRY_MIN if done else min(delay * 2, RETRY_MAX)

    async def _subscribe_pending(self) -> bool:
        """Subscribe what is pending; True when all of it is done.

        Each subscribe runs outside the hub's lock (new streams must not wait on a bus
        that is slow to answer); the subscription is installed under it, unless the
        topic's streams went meanwhile."""
        hub = self.hub
        for topic in sorted(self.pending):
            if topic not in hub._by_topic or topic in hub._subs:
                self.pending.discard(topic)
                continue
            try:
                async with asyncio.timeout(SUBSCRIBE_TIMEOUT):
                    sub = await hub.bus.subscribe(topic, hub._on_payload)
            except Exception as exc:
                self._down_until = time.monotonic() + DOWN_SECONDS
                log.debug("bus subscribe to %s failed again: %s", topic, exc)
                return False
            async with hub._lock:
                self.pending.discard(topic)
                wanted = topic in hub._by_topic and topic not in hub._subs
                if wanted:
                    hub._subs[topic] = sub
            if not wanted:
                await sub.unsubscribe()
                continue
            self._down_until = 0.0
            log.info("bus subscription to %s restored", topic)
            hub.resync(topic)
        return not self.pending

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
