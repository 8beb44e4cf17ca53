"""NATS bus (nats-py): topics are subjects.

One NATS subscription per topic carries the messages for every local handler of
that topic; nats-py delivers a subscription's messages one after another, so
handlers see them in publish order. ``subscribe`` flushes the connection before
it returns: once it has, the server knows the interest and a publish from any
node reaches the new handler. Topics are literal subjects: wildcards and blanks
are refused, so one topic can never silently listen to others.

While the server is away nats-py keeps publishes and new subscriptions in its
reconnect buffer and sends them when it is back; it then re-subscribes, flushes,
and calls ``_on_reconnected``, which calls the ``on_reconnect`` listeners.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription

from qunzu.bus.base import Handler, Listener

log = logging.getLogger(__name__)

FLUSH_TIMEOUT = 10  # seconds; nats-py wants an int
CONNECT_TIMEOUT = 10.0
PING_TIMEOUT = 1  # seconds; nats-py wants an int


@dataclass
class _Topic:
    ready: asyncio.Future[None]
    handlers: list[Handler] = field(default_factory=list)
    sub: NatsSubscription | None = None


class _NatsSubscription:
    def __init__(self, bus: NatsBus, topic: str, handler: Handler) -> None:
        self._bus, self._topic, self._handler = bus, topic, handler
        self._active = True

    async def unsubscribe(self) -> None:
        if self._active:
            self._active = False
            await self._bus._remove(self._topic, self._handler)


def check_subject(topic: str) -> str:
    if (
        not topic
        or any(ch.isspace() for ch in topic)
        or any(token in ("", "*", ">") for token in topic.split("."))
    ):
        raise ValueError(f"{topic!r} is not a literal NATS subject")
    return topic


class NatsBus:
    def __init__(self, url: str) -> None:
        self.url = url
        self._nc: Client | None = None
        self._topics: dict[str, _Topic] = {}
        self._lock = asyncio.Lock()
        self._closed = False
        self._listeners: list[Listener] = []

    async def start(self) -> None:
        if self._nc is not None:
            return
        if self._closed:
            raise RuntimeError("NatsBus is closed")
        nc = Client()
        # nats-py retries the first connection as often as later reconnections (here: for
        # ever), so the first one is bounded here: a node must not hang at start.
        try:
            await asyncio.wait_for(
                nc.connect(
                    self.url,
                    name="qunzu",
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                ),
                CONNECT_TIMEOUT,
            )
        except BaseException as exc:
            try:
                await nc.close()
            except Exception:
                log.debug("closing a failed nats connection failed", exc_info=True)
            if isinstance(exc, TimeoutError):
                raise ConnectionError(
                    f"could not connect to NATS at {self.url} within {CONNECT_TIMEOUT:.0f}s"
                ) from exc
            raise
        self._nc = nc

    async def _on_error(self, exc: Exception) -> None:
        log.warning("nats bus error: %s", exc)

    async def _on_disconnected(self) -> None:
        if not self._closed:
            log.warning("nats bus disconnected from %s", self.url)

    async def _on_reconnected(self) -> None:
        log.info("nats bus reconnected to %s", self.url)
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("a nats bus reconnect listener failed")

    async def ping(self) -> None:
        nc = self._running()
        if not nc.is_connected:
            raise ConnectionError(f"not connected to NATS at {self.url}")
        await nc.flush(timeout=PING_TIMEOUT)  # a PING answered by the server's PONG

    def on_reconnect(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for entry in self._topics.values():
            if not entry.ready.done():
                entry.ready.cancel()
        self._topics.clear()
        nc, self._nc = self._nc, None
        if nc is None or nc.is_closed:
            return
        try:
            await nc.flush(timeout=2)  # let what was published before close leave this node
        except Exception:
            log.warning("nats flush on close failed", exc_info=True)
        try:
            await nc.close()
        except Exception:
            log.warning("closing the nats connection failed", exc_info=True)

    def _running(self) -> Client:
        if self._closed:
            raise RuntimeError("NatsBus is closed")
        if self._nc is None:
            raise RuntimeError("NatsBus is not started; call start() first")
        return self._nc

    async def publish(self, topic: str, payload: bytes) -> None:
        await self._running().publish(check_subject(topic), payload)

    async def subscribe(self, topic: str, handler: Handler) -> _NatsSubscription:
        nc = self._running()
        check_subject(topic)
        async with self._lock:
            entry = self._topics.get(topic)
            created = entry is None
            if entry is None:
                entry = _Topic(ready=asyncio.get_running_loop().create_future())
                self._topics[topic] = entry
            # Registered before the server knows, so nothing after the flush is missed.
            entry.handlers.append(handler)
            if created:
                try:
                    entry.sub = await nc.subscribe(topic, cb=self._callback(topic, entry))
                    await nc.flush(timeout=FLUSH_TIMEOUT)
                except BaseException as exc:
                    if self._topics.get(topic) is entry:
                        del self._topics[topic]
                    if entry.sub is not None:
                        await _quiet_unsubscribe(entry.sub)
                    if not entry.ready.done():
                        entry.ready.set_exception(exc)
                        entry.ready.exception()  # retrieved: waiters get it, not the loop
                    raise
                entry.ready.set_result(None)
        try:
            await asyncio.shield(entry.ready)
        except BaseException:
            await self._remove(topic, handler)
            raise
        return _NatsSubscription(self, topic, handler)

    def _callback(self, topic: str, entry: _Topic) -> Any:
        async def on_message(msg: Msg) -> None:
            for handler in list(entry.handlers):
                try:
                    handler(topic, msg.data)
                except Exception:  # one broken subscriber must not starve the others
                    log.exception("bus handler failed for topic %s", topic)

        return on_message

    async def _remove(self, topic: str, handler: Handler) -> None:
        async with self._lock:
            entry = self._topics.get(topic)
            if entry is None or handler not in entry.handlers:
                return
            entry.handlers.remove(handler)
            if entry.handlers:
                return
            del self._topics[topic]
            if entry.sub is not None and not self._closed:
                await _quiet_unsubscribe(entry.sub)


async def _quiet_unsubscribe(sub: NatsSubscription) -> None:
    try:
        await sub.unsubscribe()
    except Exception:
        log.warning("nats unsubscribe failed", exc_info=True)
