"""Liveness and readiness, kept apart.

``GET /healthz`` (in app.py) says the process is up and serving HTTP; it touches
nothing else, so an outage of a dependency never gets a healthy process restarted.
``GET /readyz`` says whether this node can serve requests now, for a load balancer
to route by: the database answers, its schema is at this code's migration head,
and the bus answers. 200 with each check's result, or a 503 problem naming the
failing part, with ``Retry-After``.

Cheap enough to poll every second from several balancers: each check is bounded by
``CHECK_TIMEOUT``, checks run concurrently, an answer is reused for
``CACHE_SECONDS``, and the schema revision, once current, is re-read only every
``SCHEMA_CACHE_SECONDS``.

A database migrated past this code (a newer node in a rolling deploy ran its
migrations) counts as ready: migrations are written to keep the previous release
working, and taking every old node out at once would be the outage.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from qunzu.api.errors import problem
from qunzu.bootstrap import App

CHECK_TIMEOUT = 1.0
CACHE_SECONDS = 0.5
SCHEMA_CACHE_SECONDS = 60.0
RETRY_AFTER_SECONDS = 2

router = APIRouter(tags=["system"])


class Readiness:
    def __init__(self, app: App) -> None:
        self.app = app
        self._answer: tuple[float, bool, dict[str, Any]] | None = None
        self._schema: tuple[float, dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    async def check(self) -> tuple[bool, dict[str, Any]]:
        async with self._lock:  # concurrent probes share one round of checks
            now = time.monotonic()
            if self._answer is not None and now - self._answer[0] < CACHE_SECONDS:
                return self._answer[1], self._answer[2]
            database, bus = await asyncio.gather(self._database(), self._bus())
            schema = await self._schema_check() if database["ok"] else _skipped("database")
            checks = {"database": database, "migrations": schema, "bus": bus}
            ready = all(c["ok"] for c in checks.values())
            self._answer = (time.monotonic(), ready, checks)
            return ready, checks

    async def _database(self) -> dict[str, Any]:
        return await _timed(self.app.ping_database())

    async def _bus(self) -> dict[str, Any]:
        return await _timed(self.app.bus.ping())

    async def _schema_check(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._schema is not None and now - self._schema[0] < SCHEMA_CACHE_SECONDS:
            return self._schema[1]
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                state = await self.app.schema_state()
        except Exception as exc:
            return {"ok": False, "error": _describe(exc)}
        result: dict[str, Any] = {
            "ok": not state.pending,
            "current": state.current,
            "head": state.head,
        }
        if not state.known:
            result["note"] = "the database is at a newer revision than this code"
        if result["ok"]:
            self._schema = (now, result)  # only a good answer is kept: a bad one may mend
        return result


async def _timed(check: Any) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await check
    except Exception as exc:
        return {"ok": False, "error": _describe(exc)}
    return {"ok": True, "ms": round((time.perf_counter() - start) * 1000, 2)}


def _skipped(cause: str) -> dict[str, Any]:
    return {"ok": False, "error": f"not checked: the {cause} is unreachable"}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {CHECK_TIMEOUT:g}s"
    return type(exc).__name__


def readiness_of(request: Request) -> Readiness:
    state = request.app.state
    found: Readiness | None = getattr(state, "readiness", None)
    if found is None or found.app is not state.qunzu:
        found = state.readiness = Readiness(state.qunzu)
    return found


@router.get(
    "/readyz",
    responses={
        200: {"description": "Ready: every check passed (their results in `checks`)."},
        503: {"description": "Not ready: a problem document naming the failing checks."},
    },
)
async def readyz(request: Request) -> JSONResponse:
    """Readiness for a load balancer: database, migrations and bus (see docs/deployment.md)."""
    ready, checks = await readiness_of(request).check()
    if ready:
        return JSONResponse({"status": "ready", "checks": checks})
    failing = [name for name, c in checks.items() if not c["ok"]]
    return problem(
        503,
        "not_ready",
        f"Not ready: {', '.join(failing)}.",
        failing=failing,
        checks=checks,
        retry_after=RETRY_AFTER_SECONDS,
    )
