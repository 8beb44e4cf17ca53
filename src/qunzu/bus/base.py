"""The bus Protocol and the backend chooser.

A bus carries opaque payloads (bytes) on topics. Delivery is at-most-once and
in publish order per topic per subscriber; consumers that need every item (the
WebSocket hub) detect gaps by ``seq`` and read what they missed from storage, so
a lost bus message costs a database read, never a lost message.

A bus outlives outages of its server: a publish that fails raises (the caller
counts it and carries on: the message is stored, only its live copy is lost), and
subscriptions are restored when the server returns, after which the bus calls its
``on_reconnect`` listeners so that consumers re-read from storage what they may have
missed meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Handler = Callable[[str, bytes], None]
Listener = Callable[[], None]


class Subscription(Protocol):
    async def unsubscribe(self) -> None: ...


class EventBus(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def publish(self, topic: str, payload: bytes) -> None: ...
    async def subscribe(self, topic: str, handler: Handler) -> Subscription: ...
    async def ping(self) -> None:
        """Return once the server answers; raise when it cannot be reached."""
        ...

    def on_reconnect(self, listener: Listener) -> None:
        """Call ``listener`` each time the connection to the server is back, with every
        subscription in force again (messages published while it was away are lost)."""
        ...


class NamespacedBus:
    """Every topic prefixed with ``namespace + "."`` on the wire, plain to local handlers.

    A Redis or NATS server is one flat space of channels: Redis pub/sub ignores the
    database number, so two deployments on one server would otherwise hear each
    other's ``group.1``. Handlers still see the unprefixed topic.
    """

    def __init__(self, inner: EventBus, namespace: str) -> None:
        self.inner = inner
        self.prefix = namespace + "."

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def publish(self, topic: str, payload: bytes) -> None:
        await self.inner.publish(self.prefix + topic, payload)

    async def subscribe(self, topic: str, handler: Handler) -> Subscription:
        def unprefixed(_wire_topic: str, payload: bytes) -> None:
            handler(topic, payload)

        return await self.inner.subscribe(self.prefix + topic, unprefixed)

    async def ping(self) -> None:
        await self.inner.ping()

    def on_reconnect(self, listener: Listener) -> None:
        self.inner.on_reconnect(listener)


def make_bus(url: str, namespace: str = "") -> EventBus:
    """``memory://`` (one process), ``redis://host:port/db`` or ``nats://host:port``.

    ``namespace`` keeps deployments that share a Redis or NATS server apart (all nodes
    of one deployment must use the same); it has no meaning for ``memory://``."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "memory":
        from qunzu.bus.memory import MemoryBus

        return MemoryBus()
    bus: EventBus
    if scheme in ("redis", "rediss"):
        from qunzu.bus.redis import RedisBus

        bus = RedisBus(url)
    elif scheme in ("nats", "tls"):
        from qunzu.bus.nats import NatsBus

        bus = NatsBus(url)
    else:
        raise ValueError(f"Unknown bus URL scheme {scheme!r}; use memory://, redis:// or nats://")
    return NamespacedBus(bus, namespace) if namespace else bus
