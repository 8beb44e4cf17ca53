"""In-process bus: publish calls each subscriber's handler directly."""

from __future__ import annotations

import logging

from qunzu.bus.base import Handler, Listener

log = logging.getLogger(__name__)


class _MemorySubscription:
    def __init__(self, bus: MemoryBus, topic: str, handler: Handler) -> None:
        self._bus, self._topic, self._handler = bus, topic, handler

    async def unsubscribe(self) -> None:
        handlers = self._bus._topics.get(self._topic)
        if handlers and self._handler in handlers:
            handlers.remove(self._handler)
            if not handlers:
                del self._bus._topics[self._topic]


class MemoryBus:
    def __init__(self) -> None:
        self._topics: dict[str, list[Handler]] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._topics.clear()

    async def publish(self, topic: str, payload: bytes) -> None:
        for handler in list(self._topics.get(topic, ())):
            try:
                handler(topic, payload)
            except Exception:  # one broken subscriber must not starve the others
                log.exception("bus handler failed for topic %s", topic)

    async def subscribe(self, topic: str, handler: Handler) -> _MemorySubscription:
        self._topics.setdefault(topic, []).append(handler)
        return _MemorySubscription(self, topic, handler)

    async def ping(self) -> None:
        return None

    def on_reconnect(self, listener: Listener) -> None:
        return None  # in-process: never disconnected
