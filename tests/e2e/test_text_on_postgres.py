"""A NUL in a report statement is refused before it reaches the database: PostgreSQL would
not store it (a 500, and the keep-alive connection dropped), SQLite would. The same
request on both backends gets the same 422, on a connection that stays open.
Runs on SQLite, and on PostgreSQL when ``QUNZU_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from qunzu.client import QunzuClient
from tests.factories import make_group, make_user
from tests.integration.databases import fresh_postgres_database, require_postgres
from tests.server import ServerThread, test_settings

TIMEOUT = 10.0


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    data_dir = tmp_path_factory.mktemp(f"text-{request.param}")
    with contextlib.ExitStack() as stack:
        overrides: dict[str, object] = {}
        if request.param == "postgres":
            overrides["database_url"] = stack.enter_context(
                fresh_postgres_database(require_postgres())
            )
        thread = ServerThread(test_settings(data_dir, **overrides)).start()
        stack.callback(thread.stop)
        yield thread


@pytest.fixture
async def owner(backend: ServerThread) -> AsyncIterator[QunzuClient]:
    client = await make_user(backend.url, prefix="owner")
    yield client
    await client.aclose()


class KeepAlive:
    """One HTTP/1.1 connection, requests one after another on it (no client library that
    would quietly reconnect): a server that dropped it shows as an empty answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(
        self, method: str, path: str, token: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        payload = json.dumps(body, ensure_ascii=True).encode() if body is not None else b""
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: qunzu\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        assert headers.get("connection", "").lower() != "close", head
        content = await self.reader.readexactly(int(headers["content-length"]))
        return int(lines[0].split()[1]), json.loads(content) if content else None


@contextlib.asynccontextmanager
async def keep_alive(server: ServerThread) -> AsyncIterator[KeepAlive]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        yield KeepAlive(reader, writer)
    finally:
        writer.close()


@pytest.mark.parametrize("bad", ["\x00", "\ud800"], ids=["nul", "lone-surrogate"])
async def test_a_report_statement_with_a_nul_is_a_422_and_the_connection_stays(
    backend: ServerThread, owner: QunzuClient, bad: str
) -> None:
    group = await make_group(owner)
    sent = await owner.send(group["id"], "reported")
    assert owner.token is not None and owner.account is not None
    target = {"kind": "message", "seq": sent["seq"]}
    report = {"group_id": group["id"], "target": target, "category": "spam"}
    report_up = {"target": target, "category": "spam", "to": "platform"}
    async with keep_alive(backend) as conn:
        for path, document in (
            ("/v1/reports", report),
            (f"/v1/groups/{group['id']}/report-up", report_up),
        ):
            status, problem = await conn.request(
                "POST", path, owner.token, {**document, "statement": f"see{bad}this"}
            )
            assert (status, problem["code"]) == (422, "validation_error"), problem
            assert [e["field"] for e in problem["errors"]] == ["statement"]
            # The same connection serves the next request: nothing broke on the way.
            status, me = await conn.request("GET", "/v1/me", owner.token)
            assert (status, me["id"]) == (200, owner.account["id"])
        # And the clean statement is stored, on this backend too.
        status, receipt = await conn.request(
            "POST", "/v1/reports", owner.token, {**report, "statement": "see this"}
        )
        assert status == 201, receipt
