"""Passwords: what one may be, and hashing them without letting a flood of log-ins
exhaust memory or starve the event loop.

Each argon2 hash takes ``argon2_memory_kib`` of memory and tens of milliseconds of CPU.
``HashGate`` runs at most ``slots`` of them at once, each on a worker thread, and lets
at most ``queue`` more wait; beyond that a request is answered 503 ``hashing_busy`` with
``Retry-After`` at once instead of queueing without bound.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from qunzu.domain.errors import InvalidInput, Unavailable

if TYPE_CHECKING:
    from qunzu.services.context import ServiceContext

MIN_PASSWORD = 8
MAX_PASSWORD = 128


def _lower_priority() -> None:
    # Linux schedules threads one by one: the hashing threads yield the CPU to the event
    # loop's thread, so /healthz and ordinary requests stay fast during a flood.
    with suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


class HashGate:
    """At most ``slots`` password hashes at a time, at most ``queue`` waiting.

    With ``threads`` (the server's), hashes run on the gate's own ``slots`` threads at a
    lower scheduling priority; without, on the context's ``run_blocking`` (tests)."""

    def __init__(self, slots: int = 1, queue: int = 16, threads: bool = False) -> None:
        self.slots, self.queue = slots, queue
        self._sem: asyncio.Semaphore | None = None
        self.waiting = 0
        self._pool = (
            ThreadPoolExecutor(slots, "qunzu-hash", initializer=_lower_priority)
            if threads
            else None
        )

    def full(self) -> bool:
        return self._sem is not None and self._sem.locked() and self.waiting >= self.queue

    def check_room(self) -> asyncio.Semaphore:
        """Refuse at once (503 ``hashing_busy``) when a hash would wait past the queue.
        A log-in calls it before any other work, so each request of a flood costs little."""
        if self._sem is None:  # made on first use, inside the serving event loop
            self._sem = asyncio.Semaphore(self.slots)
        if self._sem.locked() and self.waiting >= self.queue:
            raise Unavailable(
                "hashing_busy", "Too many log-ins at once; try again shortly.", retry_after=1
            )
        return self._sem

    async def run(
        self, run_blocking: Callable[..., Any], fn: Callable[..., Any], *args: Any
    ) -> Any:
        sem = self.check_room()
        self.waiting += 1
        try:
            await sem.acquire()
        finally:
            self.waiting -= 1
        try:
            if self._pool is not None:
                return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
            return await run_blocking(fn, *args)
        finally:
            sem.release()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)


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
