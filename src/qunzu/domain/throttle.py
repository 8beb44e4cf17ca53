"""Throttle rules and the in-process counter store (pure: no I/O). The service that
applies them is ``services/throttle.py``; the Redis store is ``qunzu/throttle_redis.py``.

Within a rule's window the first ``free`` attempts pass; each one after that passes
only once the backoff set by the previous one has run out, and sets a longer one
(doubling from ``base`` up to ``cap``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Backoff:
    """One rule: ``free`` attempts per ``window``, then waits from ``base`` doubling to
    ``cap``."""

    free: int
    window: timedelta
    base: timedelta
    cap: timedelta

    def wait_after(self, attempts: int) -> timedelta:
        """The wait an attempt numbered ``attempts`` in the window imposes (zero while free)."""
        over = attempts - self.free
        if over <= 0:
            return timedelta(0)
        return min(self.cap, self.base * (2 ** min(over - 1, 30)))


_S2, _M1, _M15, _H1 = (
    timedelta(seconds=2),
    timedelta(minutes=1),
    timedelta(minutes=15),
    timedelta(hours=1),
)


@dataclass(frozen=True, slots=True)
class Throttles:
    """Every throttle (from the settings, ``QUNZU_THROTTLE_*``)."""

    login_account: Backoff = Backoff(5, _M15, _S2, _M15)
    login_address: Backoff = Backoff(30, _M15, _S2, _M15)
    signup_address: Backoff = Backoff(10, _H1, _M1, _H1)
    reset_address: Backoff = Backoff(10, _H1, _M1, _H1)
    reset_number: Backoff = Backoff(3, _H1, _H1, _H1)


class ThrottleStore(Protocol):
    async def take(self, key: str, now_ms: int, rule: Backoff) -> tuple[int, int]:
        """Count an attempt unless a backoff is being waited out. Returns the milliseconds
        still to wait (0: the attempt goes ahead and was counted) and the attempts counted
        in the window."""
        ...

    async def clear(self, key: str) -> None: ...


def ms(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)


@dataclass
class MemoryThrottleStore:
    """Counters in this process: right for one server; several nodes share Redis."""

    counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (n, window end)
    blocked: dict[str, int] = field(default_factory=dict)  # key -> blocked until (ms)
    max_keys: int = 100_000

    async def take(self, key: str, now_ms: int, rule: Backoff) -> tuple[int, int]:
        until = self.blocked.get(key, 0)
        if until > now_ms:
            return until - now_ms, self.counts.get(key, (0, 0))[0]
        n, ends = self.counts.get(key, (0, 0))
        if ends <= now_ms:
            n, ends = 0, now_ms + ms(rule.window)
        if len(self.counts) >= self.max_keys and key not in self.counts:
            self._forget_expired(now_ms)
        n += 1
        self.counts[key] = (n, ends)
        wait = ms(rule.wait_after(n))
        if wait:
            self.blocked[key] = now_ms + wait
        return 0, n

    async def clear(self, key: str) -> None:
        self.counts.pop(key, None)
        self.blocked.pop(key, None)

    def _forget_expired(self, now_ms: int) -> None:
        # A flood of distinct keys must not grow the dictionaries without bound.
        self.counts = {k: v for k, v in self.counts.items() if v[1] > now_ms}
        self.blocked = {k: v for k, v in self.blocked.items() if v > now_ms}


def address_prefix(address: str) -> str:
    """The network an address belongs to, for 'a new place': /24 for IPv4, /48 for IPv6."""
    if ":" in address:
        return ":".join(address.split(":")[:3])
    return ".".join(address.split(".")[:3])
