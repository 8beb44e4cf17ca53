"""What runs, said out loud: the start-up line, GET /v1/platform/status, the request id
on responses and log lines, and the job schedule inside a live server."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
import websockets

from qunzu.client import QunzuAPIError, QunzuClient
from qunzu.domain.audit import SYSTEM_ACTOR_ID
from qunzu.domain.clock import FrozenClock
from qunzu.domain.models import PlatformRole
from qunzu.logs import configure_logging
from tests.e2e.test_governance_credit import audit_entries, platform_user
from tests.e2e.test_realtime import TIMEOUT, ws_url
from tests.factories import make_user
from tests.server import ServerThread, test_settings

_LIBRARY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """qunzu's logging as ``qunzu serve`` sets it up, written here; put back after."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    saved_libs = {
        name: (list(logging.getLogger(name).handlers), logging.getLogger(name).propagate)
        for name in _LIBRARY_LOGGERS
    }
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    yield stream
    root.handlers, _ = saved[0], root.setLevel(saved[1])
    for name, (handlers, propagate) in saved_libs.items():
        logging.getLogger(name).handlers = handlers
        logging.getLogger(name).propagate = propagate
    structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    """Every line written so far; each must be one JSON object."""
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def started_line(stream: io.StringIO) -> dict[str, Any]:
    (line,) = [entry for entry in lines(stream) if entry.get("event") == "qunzu started"]
    return line


# ---------------------------------------------------------------- the start-up line


@pytest.mark.parametrize(
    ("overrides", "storage", "protocol", "direct", "deflate"),
    [
        ({}, "sqlite on-loop", "websockets-sansio", True, "per-message"),
        ({"sqlite_mode": "thread"}, "sqlite thread", "websockets-sansio", True, "per-message"),
        pytest.param(
            {"ws_protocol": "websockets"},
            "sqlite on-loop",
            "websockets",
            False,
            "context-takeover",
            # uvicorn deprecates its legacy implementation; it is still a choice.
            marks=pytest.mark.filterwarnings("ignore::uvicorn.config.UvicornDeprecationWarning"),
        ),
        ({"ws_direct_writes": False}, "sqlite on-loop", "websockets-sansio", False, "per-message"),
        ({"ws_deflate": "off"}, "sqlite on-loop", "websockets-sansio", True, "off"),
    ],
)
def test_the_start_up_line_names_what_runs(
    log_stream: io.StringIO,
    tmp_path: Path,
    overrides: dict[str, Any],
    storage: str,
    protocol: str,
    direct: bool,
    deflate: str,
) -> None:
    settings = test_settings(tmp_path, bus_url="memory://", **overrides)
    server = ServerThread(settings).start()
    server.stop()
    line = started_line(log_stream)
    assert line["level"] == "info" and line["logger"] == "qunzu"
    assert line["storage"] == storage
    assert line["websocket_protocol"] == protocol
    assert line["direct_writes"] is direct
    assert line["websocket_deflate"] == deflate
    assert line["bus"] == "memory://"
    assert line["rulebook"] == "2017.1"
    assert line["jobs_enabled"] is False
    assert line["version"] and line["node"] and line["loop"] in {"asyncio", "uvloop"}


def test_the_start_up_line_names_no_secret_of_the_bus() -> None:
    from qunzu.bootstrap import public_url

    assert public_url("redis://:s3cret@redis.internal:6379/0") == "redis://redis.internal:6379/0"
    assert public_url("nats://user:pw@nats:4222") == "nats://nats:4222"
    assert public_url("memory://") == "memory://"


# ---------------------------------------------------------------- the status endpoint


async def test_the_status_tells_admins_and_auditors_what_runs_and_is_audited(
    server: ServerThread,
) -> None:
    async with (
        await platform_user(server, PlatformRole.admin) as admin,
        await platform_user(server, PlatformRole.auditor) as auditor,
    ):
        status = await admin.platform_status()
        assert status == await auditor.platform_status()  # nothing in it depends on who asks
        assert admin.account is not None and auditor.account is not None
        readers = {e.actor_id for e in await audit_entries(server) if e.action == "platform.status"}
        assert {admin.account["id"], auditor.account["id"]} <= readers
    assert status["storage"] == "sqlite on-loop"
    assert status["websocket_protocol"] == "websockets-sansio"
    assert status["direct_writes"] is True
    assert status["websocket_deflate"] == "per-message"
    assert status["bus"] == "memory://"
    assert status["rulebook_version"] == "2017.1"
    assert status["jobs_enabled"] is False
    assert {job["name"]: job["every_hours"] for job in status["jobs"]} == {
        "credit_recompute": 24.0,
        "unattended_sweep": 24.0,
        "retention_purge": 24.0,
        "identity_rekey": 24.0,
        "uploads_collect": 24.0,
        "recalled_purge": 24.0,
    }


@pytest.mark.parametrize("role", [PlatformRole.reviewer, PlatformRole.senior_reviewer, None])
async def test_the_status_is_refused_to_everyone_else(
    server: ServerThread, role: PlatformRole | None
) -> None:
    client = await (platform_user(server, role) if role else make_user(server.url))
    async with client:
        with pytest.raises(QunzuAPIError) as refused:
            await client.platform_status()
    assert (refused.value.status, refused.value.code) == (403, "platform_role_required")


async def test_the_status_counts_streams_by_the_path_their_events_take(
    server: ServerThread,
) -> None:
    async with await platform_user(server, PlatformRole.admin) as admin:
        before = await admin.platform_status()
        async with websockets.connect(
            ws_url(server),
            additional_headers={"Authorization": f"Bearer {admin.token}"},
            open_timeout=TIMEOUT,
        ) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["type"] == "ready"
        after = await admin.platform_status()
    assert after["streams_direct"] == before["streams_direct"] + 1
    assert after["streams_asgi"] == before["streams_asgi"]


# ---------------------------------------------------------------- request ids


async def test_a_sane_request_id_is_kept_and_anything_else_replaced(server: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        given = await http.get("/healthz", headers={"X-Request-ID": "lb-7f3a:42"})
        assert given.headers["X-Request-ID"] == "lb-7f3a:42"
        fresh = [(await http.get("/healthz")).headers["X-Request-ID"] for _ in "ab"]
        assert fresh[0] != fresh[1] and all(fresh)
        junk = await http.get("/healthz", headers={"X-Request-ID": "a b" + "x" * 200})
        assert junk.headers["X-Request-ID"] not in {"", fresh[0], fresh[1]}
        assert " " not in junk.headers["X-Request-ID"]
        refused = await http.get("/v1/me", headers={"X-Request-ID": "refused-1"})
        assert refused.status_code == 401  # refusals carry it too
        assert refused.headers["X-Request-ID"] == "refused-1"


def test_a_log_line_written_during_a_request_carries_its_id(
    log_stream: io.StringIO, tmp_path: Path
) -> None:
    server = ServerThread(test_settings(tmp_path))

    async def boom() -> None:
        raise RuntimeError("a bug")

    server.app.add_api_route("/boom", boom)  # a route with a bug, so a line is logged
    server.start()
    try:

        async def call() -> tuple[int, str]:
            async with QunzuClient(server.url) as anon:
                try:
                    await anon.request("GET", "/boom", headers={"X-Request-ID": "trace-1234"})
                except QunzuAPIError as exc:
                    return exc.status, exc.problem.get("code", "")
            return 200, ""

        assert asyncio.run(call()) == (500, "internal_error")
    finally:
        server.stop()
    (line,) = [entry for entry in lines(log_stream) if entry.get("event") == "unhandled error"]
    assert line["request_id"] == "trace-1234"
    assert line["level"] == "error" and "RuntimeError: a bug" in line["exception"]
    assert "request_id" not in started_line(log_stream)  # not in a request


# ---------------------------------------------------------------- the schedule


async def wait_for(check: Any, what: str) -> Any:
    """Poll ``check`` (tiny sleeps while the server's scheduler gets to it)."""
    for _ in range(500):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


async def test_the_server_runs_its_jobs_on_schedule_by_its_clock(tmp_path: Path) -> None:
    clock = FrozenClock()
    settings = test_settings(tmp_path, jobs=True, jobs_check_seconds=0.01)
    server = ServerThread(settings, clock=clock).start()
    try:
        async with await platform_user(server, PlatformRole.admin) as admin:

            async def runs() -> dict[str, dict[str, Any]] | None:
                jobs = {j["name"]: j for j in (await admin.platform_status())["jobs"]}
                done = all(j["last_outcome"] == "ok" for j in jobs.values())
                return jobs if done else None

            first = await wait_for(runs, "both jobs ran at start")
            for job in first.values():
                assert job["last_via"] == "schedule"
                assert job["next_due_at"] is not None
            assert "accounts" in first["credit_recompute"]["last_detail"]
            assert set(first["unattended_sweep"]["last_detail"]) == {
                "unattended",
                "read_only",
                "attended",
            }
            assert first["retention_purge"]["last_detail"] == {
                "evidence": 0,
                "audit": 0,
                "identity": 0,
            }
            assert first["identity_rekey"]["last_detail"] == {"checked": 0, "rekeyed": 0}
            clock.advance(timedelta(hours=23))
            await asyncio.sleep(0.1)  # ten checks: none due yet
            assert await runs() == first
            clock.advance(timedelta(hours=1))

            async def again() -> bool:
                jobs = await runs()
                return jobs is not None and all(
                    jobs[n]["last_started_at"] != first[n]["last_started_at"] for n in first
                )

            await wait_for(again, "both jobs ran again a day later")
            later = await runs()
            assert later is not None
            assert later["credit_recompute"]["last_detail"]["accounts"] >= 1  # the admin
        entries = [e for e in await audit_entries(server) if e.action == "job.run"]
        assert {e.subject for e in entries} == {
            "job:credit_recompute",
            "job:unattended_sweep",
            "job:retention_purge",
            "job:identity_rekey",
            "job:uploads_collect",
            "job:recalled_purge",
        }
        assert len(entries) == 12
        assert all(e.actor_id == SYSTEM_ACTOR_ID for e in entries)
    finally:
        server.stop()
