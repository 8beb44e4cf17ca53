"""Passwords: what one may be, and hashing them without letting a flood of log-ins
exhaust memory or starve the event loop.

Each argon2 hash takes ``argon2_memory_kib`` of memory and tens of milliseconds of CPU.
``HashGate`` runs at most ``slots`` of them at once, each on a worker thread, and lets
at most ``queue`` more wait; beyond that a request is answered 503 ``hashing_busy`` with
``Retry-After`` at once instead of queueing without bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from qunzu.domain.errors import InvalidInput, Unavailable

if TYPE_CHECKING:
    from qunzu.services.context import ServiceContext

MIN_PASSWORD = 8
MAX_PASSWORD = 128


class HashGate:
    """At most ``slots`` password hashes at a time, at most ``queue`` waiting."""

    def __init__(self, slots: int = 2, queue: int = 64) -> None:
        self.slots, self.queue = slots, queue
        self._sem: asyncio.Semaphore | None = None
        self.waiting = 0

    async def run(
        self, run_blocking: Callable[..., Any], fn: Callable[..., Any], *args: Any
    ) -> Any:
        if self._sem is None:  # made on first use, inside the serving event loop
            self._sem = asyncio.Semaphore(self.slots)
        if self._sem.locked() and self.waiting >= self.queue:
            raise Unavailable(
                "hashing_busy", "Too many log-ins at once; try again shortly.", retry_after=1
            )
        self.waiting += 1
        try:
            await self._sem.acquire()
        finally:
            self.waiting -= 1
        try:
            return await run_blocking(fn, *args)
        finally:
            self._sem.release()


@cache
def common_passwords() -> frozenset[str]:
    """The 10,000 most common passwords, lowercased (policies/common-passwords.txt; its
    source and licence are in common-passwords.NOTICE)."""
    text = files("qunzu.policies").joinpath("common-passwords.txt").read_text("utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def check_password(password: str) -> None:
    """Refuse a short or long password (``weak_password``) and a common one
    (``common_password``)."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            "weak_password", f"A password is {MIN_PASSWORD} to {MAX_PASSWORD} characters."
        )
    if password.lower() in common_passwords():
        raise InvalidInput(
            "common_password", "This password is among the most common ones; choose another."
        )


async def hash_password(ctx: ServiceContext, password: str) -> str:
    return str(await ctx.hash_gate.run(ctx.run_blocking, ctx.hasher.hash, password))


async def verify_password(ctx: ServiceContext, stored: str, password: str) -> bool:
    return bool(await ctx.hash_gate.run(ctx.run_blocking, ctx.hasher.verify, stored, password))
