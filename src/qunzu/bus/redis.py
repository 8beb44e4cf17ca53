"""Redis pub/sub bus (redis-py asyncio).

One PubSub connection carries every subscription of this node; a reader task
reads it and calls the local handlers of each topic in arrival order, which is
publish order per topic. Publishing goes through the client's pool, so it never
waits behind the subscriber connection. A topic is subscribed on the server once,
however many local handlers it has, and unsubscribed when the last one leaves.

``subscribe`` returns only after Redis has confirmed the subscription, so a
publish that follows it, from any node, reaches the new handler.

When the server goes away, publishes fail at once (no retry: the caller goes on
without the live copy) and the reader retries with a backoff; redis-py re-subscribes
every channel as it reconnects. The reader then sends a PING on the subscriber
connection: its PONG comes after every re-subscription was confirmed, and only then
are the ``on_reconnect`` listeners called.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from qunzu.bus.base import Handler, Listener

log = logging.getLogger(__name__)

SUBSCRIBE_TIMEOUT = 10.0
HEALTH_CHECK_SECONDS = 30
_POLL_SECONDS = 1.0
_RETRY_MIN, _RETRY_MAX = 0.05, 1.0
# Seconds to open a connection, and for any one reply: a server that does not answer
# must not hold up a send.
CONNECT_TIMEOUT = 2.0
REPLY_TIMEOUT = 2.0
PING_TIMEOUT = 1.0
_RESYNC_MARK = b"qunzu-resubscribed"


@dataclass
class _Topic:
    ready: asyncio.Future[None]
    handlers: list[Handler] = field(default_factory=list)


class _RedisSubscription:
    def __init__(self, bus: RedisBus, topic: str, handler: Handler) -> None:
        self._bus, self._topic, self._handler = bus, topic, handler
        self._active = True

    async def unsubscribe(self) -> None:
        if self._active:
            self._active = False
            await self._bus._remove(self._topic, self._handler)


class RedisBus:
    def __init__(self, url: str) -> None:
        self.url = url
        self._client: Redis | None = None
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._topics: dict[str, _Topic] = {}
        # Futures waiting for the server's confirmation of a SUBSCRIBE, per channel, in order.
        self._acks: dict[str, deque[asyncio.Future[None]]] = {}
        self._lock = asyncio.Lock()
        self._closed = False
        self._listeners: list[Listener] = []

    async def start(self) -> None:
        if self._client is not None:
            return
        if self._closed:
            raise RuntimeError("RedisBus is closed")
        # Health checks (a PING when a connection was idle) find a silently dead link.
        client = Redis.from_url(
            self.url,
            health_check_interval=HEALTH_CHECK_SECONDS,
            socket_keepalive=True,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=REPLY_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            await client.ping()
            pubsub = client.pubsub()
            await pubsub.connect()
        except BaseException:
            await client.aclose()
            raise
        self._client, self._pubsub = client, pubsub
        self._reader = asyncio.create_task(self._read(), name="qunzu-redis-bus-reader")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            try:
                await reader
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("redis bus reader failed while closing")
        for waiters in self._acks.values():
            for fut in waiters:
                if not fut.done():
                    fut.cancel()
        self._acks.clear()
        for entry in self._topics.values():
            if not entry.ready.done():
                entry.ready.cancel()
        self._topics.clear()
        pubsub, self._pubsub = self._pubsub, None
        client, self._client = self._client, None
        if pubsub is not None:
            try:
                await pubsub.aclose()
            except Exception:
                log.warning("closing the redis subscriber connection failed", exc_info=True)
        if client is not None:
            try:
                await client.aclose()
            except Exception:
                log.warning("closing the redis client failed", exc_info=True)

    def _running(self) -> tuple[Redis, PubSub]:
        if self._closed:
            raise RuntimeError("RedisBus is closed")
        if self._client is None or self._pubsub is None:
            raise RuntimeError("RedisBus is not started; call start() first")
        return self._client, self._pubsub

    async def publish(self, topic: str, payload: bytes) -> None:
        client, _ = self._running()
        await client.publish(topic, payload)

    async def ping(self) -> None:
        client, _ = self._running()
        async with asyncio.timeout(PING_TIMEOUT):
            await client.ping()

    def on_reconnect(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def subscribe(self, topic: str, handler: Handler) -> _RedisSubscription:
        _, pubsub = self._running()
        async with self._lock:
            entry = self._topics.get(topic)
            if entry is None:
                entry = _Topic(ready=asyncio.get_running_loop().create_future())
                self._topics[topic] = entry
                self._acks.setdefault(topic, deque()).append(entry.ready)
                try:
                    await pubsub.subscribe(topic)
                except BaseException:
                    self._forget(topic, entry)
                    raise
            # Registered before the confirmation arrives, so nothing after it is missed.
            entry.handlers.append(handler)
        try:
            await asyncio.wait_for(asyncio.shield(entry.ready), SUBSCRIBE_TIMEOUT)
        except BaseException:
            await self._remove(topic, handler)
            raise
        return _RedisSubscription(self, topic, handler)

    def _forget(self, topic: str, entry: _Topic) -> None:
        if self._topics.get(topic) is entry:
            del self._topics[topic]
        waiters = self._acks.get(topic)
        if waiters and entry.ready in waiters:
            waiters.remove(entry.ready)
        if not entry.ready.done():
            entry.ready.cancel()

    async def _remove(self, topic: str, handler: Handler) -> None:
        async with self._lock:
            entry = self._topics.get(topic)
            if entry is None or handler not in entry.handlers:
                return
            entry.handlers.remove(handler)
            if entry.handlers:
                return
            self._forget(topic, entry)
            if self._pubsub is not None and not self._closed:
                try:
                    await self._pubsub.unsubscribe(topic)
                except Exception:
                    log.warning("redis unsubscribe from %s failed", topic, exc_info=True)

    async def _read(self) -> None:
        assert self._pubsub is not None
        pubsub = self._pubsub
        delay = _RETRY_MIN
        failed = False
        while True:
            try:
                # A bounded wait, so the health check gets its turn on an idle connection.
                message = await pubsub.get_message(timeout=_POLL_SECONDS)
                if failed:
                    # Reconnected (and re-subscribed): the PONG to this says when it is done.
                    await pubsub.ping(_RESYNC_MARK)
                    failed = False
            except asyncio.CancelledError:
                raise
            except Exception:
                # redis-py reconnects on the next read and re-subscribes every channel.
                if failed:
                    log.debug("redis bus still unreachable; retrying in %.2fs", delay)
                else:
                    log.warning("redis bus read failed; retrying", exc_info=True)
                failed = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX)
                continue
            delay = _RETRY_MIN
            if message is not None:
                self._dispatch(message)

    def _dispatch(self, message: dict[str, object]) -> None:
        kind = message.get("type")
        channel = message.get("channel")
        topic = channel.decode() if isinstance(channel, bytes) else str(channel)
        if kind == "message":
            entry = self._topics.get(topic)
            if entry is None:
                return
            data = message.get("data")
            payload = data if isinstance(data, bytes) else str(data).encode()
            for handler in list(entry.handlers):
                try:
                    handler(topic, payload)
                except Exception:  # one broken subscriber must not starve the others
                    log.exception("bus handler failed for topic %s", topic)
        elif kind == "pong" and message.get("data") == _RESYNC_MARK:
            log.info("redis bus reconnected to %s", self.url)
            for listener in list(self._listeners):
                try:
                    listener()
                except Exception:
                    log.exception("a redis bus reconnect listener failed")
        elif kind == "subscribe":
            waiters = self._acks.get(topic)
            while waiters:
                fut = waiters.popleft()
                if not fut.done():
                    fut.set_result(None)
                    break
            if waiters is not None and not waiters:
                del self._acks[topic]
