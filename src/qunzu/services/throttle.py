"""Throttles with backoff (限流): log-in attempts per account and per address, sign-ups
and reset codes per address, reset codes per mobile number (rules: ``domain/throttle.py``).

Each attempt takes its slot *before* the expensive work (the password hash), so a burst
of concurrent attempts cannot all slip past the check while the first are hashing. A
correct password clears the account's count. The counters live in
``ctx.throttle_store``: in this process by default, in Redis when the bus is Redis, so
that every node counts together.
"""

from __future__ import annotations

import logging

from qunzu.domain.audit import AuditAction
from qunzu.domain.errors import QuotaExceeded
from qunzu.domain.throttle import Backoff
from qunzu.services.actor import SYSTEM
from qunzu.services.audit import record
from qunzu.services.context import ServiceContext, transaction

log = logging.getLogger("qunzu.throttle")


async def take(ctx: ServiceContext, rule: Backoff, key: str, code: str) -> None:
    """Count an attempt under ``rule`` for ``key``, or refuse it (429 ``code`` with
    ``retry_after`` seconds). The attempt that starts a backoff is recorded in the audit
    log (``throttled``), once per window."""
    now_ms = int(ctx.clock.now().timestamp() * 1000)
    wait_ms, attempts = await ctx.throttle_store.take(key, now_ms, rule)
    if wait_ms <= 0:
        if attempts == rule.free + 1:
            await _record_throttled(ctx, key, attempts)
        return
    retry_after = max(1, -(-wait_ms // 1000))
    raise QuotaExceeded(
        code, "Too many attempts; wait before trying again.", retry_after=retry_after
    )


async def clear(ctx: ServiceContext, key: str) -> None:
    await ctx.throttle_store.clear(key)


async def _record_throttled(ctx: ServiceContext, key: str, attempts: int) -> None:
    log.warning("throttling %s after %d attempts", key, attempts)
    async with transaction(ctx) as uow:
        await record(ctx, uow, SYSTEM, AuditAction.throttled, key, attempts=attempts)
