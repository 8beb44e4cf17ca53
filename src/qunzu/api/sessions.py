"""Live streams end with their session.

A WebSocket authenticates once, at connect, but its token may stop being valid
while it is open. Every way that happens closes the stream, with close code
**4401** (``token_revoked``, ``token_expired``: log in again) or **4403**
(``account_disabled``), the reason text starting with that code. The SDK stops
reconnecting on these and raises ``SessionEnded``.

- Logged out or revoked: the ``do_*`` publishes a ``SessionEnded`` event after its
  commit, on the account's topic, which every stream of that account already
  hears, on every node; each node's hub closes that token's streams (all of the
  account's when no token is named) as the event arrives.
- Expired: each hub keeps its streams' expiry times in a heap and one task that
  sleeps until the earliest (at most ``SWEEP_SECONDS``, so that an injected clock
  moved by a test is noticed too), then closes what expired.
- A send over the socket re-reads the account and token when the copy the stream
  holds is older than ``ACTOR_TTL`` (by the injected clock): a disabled account,
  a lowered credit level, or a revocation whose event the bus lost (it is
  at-most-once) are seen within that time by a sending socket. Sanctions are read
  by the send itself, every time.
- A socket that only listens is covered for lost events by a re-check of every
  live session in one read: every ``RECHECK_SECONDS``, and as soon as the bus
  reconnects (what it may have dropped meanwhile includes revocations).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from qunzu.api.metrics import Metrics
from qunzu.domain.errors import DomainError, Forbidden, Unauthenticated
from qunzu.services.accounts import authenticate, ended_sessions
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext

if TYPE_CHECKING:
    from qunzu.api.realtime import LiveStream

log = logging.getLogger("qunzu.ws")

CLOSE_SESSION_ENDED = 4401
CLOSE_ACCOUNT_DISABLED = 4403
ACTOR_TTL = timedelta(seconds=1)
SWEEP_SECONDS = 1.0
RECHECK_SECONDS = 30.0
_REASONS = {
    "token_revoked": "token_revoked: log in again",
    "token_expired": "token_expired: log in again",
    "token_invalid": "token_invalid: log in again",
    "account_disabled": "account_disabled",
}


def close_code(reason: str) -> int:
    return CLOSE_ACCOUNT_DISABLED if reason == "account_disabled" else CLOSE_SESSION_ENDED


class SessionWatch:
    """Which live streams use which token, and when each token expires."""

    def __init__(self, metrics: Metrics | None = None) -> None:
        self.metrics = metrics
        self.ctx: ServiceContext | None = None
        self._by_token: dict[int, set[LiveStream]] = {}
        self._by_account: dict[int, set[LiveStream]] = {}
        self._expiry: list[tuple[datetime, int]] = []  # (expires_at, token_id), lazily pruned
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._recheck: asyncio.Task[None] | None = None
        self._recheck_at = time.monotonic() + RECHECK_SECONDS

    # ---- who is connected ----------------------------------------------------------------

    def add(self, stream: LiveStream) -> None:
        actor = stream.actor
        self.ctx = self.ctx or stream.ctx
        streams = self._by_token.setdefault(actor.token_id, set())
        if not streams and actor.token_expires_at is not None:
            heapq.heappush(self._expiry, (actor.token_expires_at, actor.token_id))
            if len(self._expiry) > 2 * len(self._by_token) + 64:
                self._compact()
        streams.add(stream)
        self._by_account.setdefault(actor.id, set()).add(stream)
        if self._task is None:
            self._task = asyncio.create_task(self._sweep(), name="qunzu-session-sweep")
        self._wake.set()

    def remove(self, stream: LiveStream) -> None:
        actor = stream.actor
        for index, key in ((self._by_token, actor.token_id), (self._by_account, actor.id)):
            streams = index.get(key)
            if streams is not None:
                streams.discard(stream)
                if not streams:
                    del index[key]

    @property
    def count(self) -> int:
        return sum(len(s) for s in self._by_token.values())

    def _compact(self) -> None:
        """Drop heap entries of tokens no stream uses any more (reconnect churn)."""
        earliest: dict[int, datetime] = {}
        for streams in self._by_token.values():
            for stream in streams:
                at = stream.actor.token_expires_at
                if at is not None:
                    earliest[stream.actor.token_id] = at
        self._expiry = [(at, tid) for tid, at in earliest.items()]
        heapq.heapify(self._expiry)

    # ---- ending ----------------------------------------------------------------------------

    def end(self, streams: set[LiveStream] | None, reason: str) -> None:
        for stream in tuple(streams or ()):
            self.remove(stream)
            stream.end(close_code(reason), _REASONS.get(reason, reason))
            if self.metrics is not None:
                self.metrics.sessions_ended.labels(reason).inc()

    def on_event(self, doc: dict[str, Any]) -> None:
        """A ``session_ended`` payload from the bus (published by a ``do_*`` after commit)."""
        account_id, token_id = doc.get("account_id"), doc.get("token_id")
        reason = str(doc.get("reason") or "token_revoked")
        if token_id is None:
            self.end(self._by_account.get(account_id), reason)  # type: ignore[arg-type]
            return
        streams = self._by_token.get(token_id)
        if streams:
            self.end({s for s in streams if s.actor.id == account_id}, reason)

    def expire(self, now: datetime) -> None:
        heap = self._expiry
        while heap and heap[0][0] <= now:
            _, token_id = heapq.heappop(heap)
            streams = self._by_token.get(token_id)
            if streams:
                expired = {s for s in streams if _expired(s.actor, now)}
                self.end(expired, "token_expired")

    # ---- re-reading sessions ---------------------------------------------------------------

    async def fresh_actor(self, stream: LiveStream) -> Actor:
        """The stream's account and token as they are now, re-read at most every ACTOR_TTL.

        Raises what ``authenticate`` raises; when the session is over, the stream is
        ended first (closed with its code once the caller has answered the frame)."""
        ctx = stream.ctx
        now = ctx.clock.now()
        if now - stream.checked_at < ACTOR_TTL:
            return stream.actor
        try:
            actor = await authenticate(ctx, stream.token, stream.token_kind)
        except (Unauthenticated, Forbidden) as exc:
            self.end({stream}, exc.code)
            raise
        stream.actor, stream.checked_at = actor, now
        return actor

    def recheck_soon(self) -> None:
        """Re-read every live session now (the bus is back and may have lost revocations)."""
        self._recheck_at = 0.0
        self._wake.set()

    async def recheck(self) -> None:
        """One read for every live token; close the streams of those no longer valid."""
        if self.ctx is None or not self._by_token:
            return
        try:
            ended = await ended_sessions(self.ctx, list(self._by_token))
        except DomainError as exc:  # the database is away: try again next round
            log.info("re-checking live sessions failed: %s", exc.code)
            return
        for token_id, reason in ended.items():
            self.end(self._by_token.get(token_id), reason)

    async def _sweep(self) -> None:
        while True:
            assert self.ctx is not None
            now = self.ctx.clock.now()
            self.expire(now)
            if time.monotonic() >= self._recheck_at:
                self._recheck_at = time.monotonic() + RECHECK_SECONDS
                if self._recheck is None or self._recheck.done():
                    self._recheck = asyncio.create_task(self.recheck())
            self._wake.clear()
            timeout: float | None = None
            if self._by_token:
                timeout = SWEEP_SECONDS
                if self._expiry:
                    until = (self._expiry[0][0] - now).total_seconds()
                    timeout = min(timeout, max(until, 0.0))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    async def close(self) -> None:
        for task in (self._task, self._recheck):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._task = self._recheck = None


def _expired(actor: Actor, now: datetime) -> bool:
    return actor.token_expires_at is not None and actor.token_expires_at <= now
