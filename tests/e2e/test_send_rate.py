"""``messages_per_minute`` is counted with the send: a burst of concurrent sends cannot get
past it together. Against a real server on SQLite, and on PostgreSQL (where concurrent
transactions really interleave) when ``QUNZU_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.e2e.test_governance_quotas import tiny_rulebook_text
from tests.factories import make_user, unique_handle
from tests.integration.databases import fresh_postgres_database, require_postgres
from tests.server import ServerThread, test_settings

LIMIT = 3  # messages_per_minute of a fresh verified account (level 1) in the tiny rulebook
BURST = 50
MAX_CHARS = 50  # the rulebook's longest message, shortened here too


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def srv(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    data_dir: Path = tmp_path_factory.mktemp(f"send-rate-{request.param}")
    path = data_dir / "tiny-quotas.toml"
    text = tiny_rulebook_text().replace("max_chars = 4000", f"max_chars = {MAX_CHARS}")
    assert f"max_chars = {MAX_CHARS}" in text
    path.write_text(text, encoding="utf-8")
    with contextlib.ExitStack() as stack:
        overrides: dict[str, object] = {"rulebook_files": [path]}
        if request.param == "postgres":
            overrides["database_url"] = stack.enter_context(
                fresh_postgres_database(require_postgres())
            )
        thread = ServerThread(test_settings(data_dir, **overrides)).start()
        stack.callback(thread.stop)
        yield thread


async def burst(
    srv: ServerThread, method: str, path: str, token: str, bodies: list[Any]
) -> list[tuple[int, Any]]:
    """Each request on a connection of its own, all written at once: (status, document).

    Raw sockets rather than an HTTP client: a client takes about a millisecond to issue
    each request, so the requests would trickle in one by one, each served before the
    next arrived."""
    streams = await asyncio.gather(
        *(asyncio.open_connection("127.0.0.1", srv.port) for _ in bodies)
    )
    for (_, writer), body in zip(streams, bodies, strict=True):
        payload = json.dumps(body).encode() if body is not None else b""
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: qunzu\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + payload
        )
    answers = []
    for reader, writer in streams:
        head, _, content = (await reader.read()).partition(b"\r\n\r\n")
        answers.append((int(head.split()[1]), json.loads(content)))
        writer.close()
    return answers


async def test_fifty_concurrent_sends_one_under_the_limit_let_exactly_one_through(
    srv: ServerThread,
) -> None:
    sender = await make_user(srv.url, prefix="burst")
    try:
        group = await sender.create_group(unique_handle("g"), "friends")
        for i in range(LIMIT - 1):
            await sender.send(group["id"], f"before {i}")
        assert sender.token is not None
        # The same burst of reads first, so that on PostgreSQL the pool has its connections
        # open: opening one takes longer than a send, which would space the sends out.
        reads = await burst(srv, "GET", "/v1/me", sender.token, [None] * BURST)
        assert {status for status, _ in reads} == {200}
        bodies = [{"body": f"burst {i}", "client_txn_id": f"burst-{i}"} for i in range(BURST)]
        path = f"/v1/groups/{group['id']}/messages"
        answers = await burst(srv, "POST", path, sender.token, bodies)
        statuses = sorted(status for status, _ in answers)
        assert statuses == [201] + [429] * (BURST - 1), statuses
        assert {(p["code"], p["quota"], p["limit"]) for status, p in answers if status == 429} == {
            ("quota_exceeded", "messages_per_minute", LIMIT)
        }
        history = await sender.history(group["id"])
        messages = [e for e in history["entries"] if e["kind"] == "message"]
        assert len(messages) == LIMIT
    finally:
        await sender.aclose()


async def test_the_rulebooks_longest_message_holds_over_http_and_websocket(
    srv: ServerThread,
) -> None:
    sender = await make_user(srv.url, prefix="long")
    try:
        group = await sender.create_group(unique_handle("g"), "friends")
        assert sender.token is not None
        path = f"/v1/groups/{group['id']}/messages"
        too_long = {"body": "字" * (MAX_CHARS + 1), "client_txn_id": "long-1"}
        [(status, problem)] = await burst(srv, "POST", path, sender.token, [too_long])
        assert (status, problem["code"], problem["limit"]) == (400, "message_too_long", MAX_CHARS)
        url = "ws" + srv.url.removeprefix("http") + "/v1/events"
        headers = {"Authorization": f"Bearer {sender.token}"}
        async with websockets.connect(url, additional_headers=headers) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "ready"
            replies = []
            for body in (too_long["body"], "字" * MAX_CHARS):
                frame = {"type": "send", "group_id": group["id"], "body": body}
                await ws.send(json.dumps({**frame, "client_txn_id": "long-2"}))
                reply = {"type": "event"}
                while reply["type"] == "event":
                    reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
                replies.append(reply)
        refused, accepted = replies
        assert {k: refused[k] for k in ("status", "code", "detail", "limit")} == {
            k: problem[k] for k in ("status", "code", "detail", "limit")
        }
        assert (accepted["type"], accepted["created"]) == ("ack", True)
    finally:
        await sender.aclose()
