"""Throttle counters in Redis, shared by every node (the store of ``domain/throttle.py``
when the bus is Redis). One Lua script per attempt, so the check and the count are one
atomic step however many nodes and requests race."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from qunzu.domain.throttle import Backoff, ms

# KEYS: count, blocked-until. ARGV: now ms, window ms, free, base ms, cap ms.
# Returns {ms still to wait (0: counted and may go ahead), attempts in the window}.
_TAKE = """
local now = tonumber(ARGV[1])
local untilv = tonumber(redis.call('GET', KEYS[2]) or '0')
if untilv > now then
  return {untilv - now, tonumber(redis.call('GET', KEYS[1]) or '0')}
end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local over = n - tonumber(ARGV[3])
if over > 0 then
  local wait = math.min(tonumber(ARGV[5]), tonumber(ARGV[4]) * 2 ^ math.min(over - 1, 30))
  redis.call('SET', KEYS[2], math.floor(now + wait), 'PX', math.floor(wait) + 1000)
end
return {0, n}
"""


class RedisThrottleStore:
    def __init__(self, url: str, namespace: str) -> None:
        self._redis: Any = aioredis.from_url(url)
        self._prefix = f"{namespace}:throttle:"
        self._take = self._redis.register_script(_TAKE)

    async def take(self, key: str, now_ms: int, rule: Backoff) -> tuple[int, int]:
        k = self._prefix + key
        wait, attempts = await self._take(
            keys=[k + ":n", k + ":until"],
            args=[now_ms, ms(rule.window), rule.free, ms(rule.base), ms(rule.cap)],
        )
        return int(wait), int(attempts)

    async def clear(self, key: str) -> None:
        k = self._prefix + key
        await self._redis.delete(k + ":n", k + ":until")

    async def close(self) -> None:
        await self._redis.aclose()
