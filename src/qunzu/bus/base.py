"""The bus Protocol and the backend chooser.

A bus carries opaque payloads (bytes) on topics. Delivery is at-most-once and
in publish order per topic per subscriber; consumers that need every item (the
WebSocket hub) detect gaps by ``seq`` and read what they missed from storage, so
a lost bus message costs a database read, never a lost message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Handler = Callable[[str, bytes], None]


class Subscription(Protocol):
    async def unsubscribe(self) -> None: ...


class EventBus(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def publish(self, topic: str, payload: bytes) -> None: ...
    async def subscribe(self, topic: str, handler: Handler) -> Subscription: ...


def make_bus(url: str) -> EventBus:
    """``memory://`` (one process), ``redis://host:port/db`` or ``nats://host:port``."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "memory":
        from qunzu.bus.memory import MemoryBus

        return MemoryBus()
    if scheme in ("redis", "rediss"):
        from qunzu.bus.redis import RedisBus

        return RedisBus(url)
    if scheme in ("nats", "tls"):
        from qunzu.bus.nats import NatsBus

        return NatsBus(url)
    raise ValueError(f"Unknown bus URL scheme {scheme!r}; use memory://, redis:// or nats://")
