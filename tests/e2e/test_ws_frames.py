"""WebSocket frames are as strict as HTTP bodies, and refused the same way: an ``error``
frame with the problem HTTP would give (status, code, detail and the rest), and the
connection stays open. Against a real server; every receive has a timeout.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from qunzu.client import QunzuClient
from tests.factories import make_group
from tests.server import ServerThread

TIMEOUT = 5.0
Frame = dict[str, Any]


def ws_url(server: ServerThread) -> str:
    return "ws" + server.url.removeprefix("http") + "/v1/events"


class Socket:
    """A raw connection that matches answers to frames by ``ref``."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.refs = 0

    async def answer(self, text: str) -> Frame:
        """Send ``text`` as it is; the next ack, pong or error (events are skipped)."""
        await self.ws.send(text)
        while True:
            frame: Frame = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
            if frame["type"] in ("ack", "pong", "error"):
                return frame

    async def frame(self, **members: Any) -> Frame:
        self.refs += 1
        answer = await self.answer(json.dumps({**members, "ref": self.refs}))
        assert answer["ref"] == self.refs, answer
        return answer

    async def still_open(self) -> None:
        assert (await self.frame(type="ping"))["type"] == "pong"


@pytest.fixture
async def sock(server: ServerThread, alice: QunzuClient) -> AsyncIterator[Socket]:
    assert alice.token is not None
    headers = {"Authorization": f"Bearer {alice.token}"}
    async with websockets.connect(ws_url(server), additional_headers=headers) as ws:
        ready = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert ready["type"] == "ready"
        yield Socket(ws)


async def http_send(
    server: ServerThread, client: QunzuClient, group_id: object, document: str
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as raw:
        return await raw.post(
            f"/v1/groups/{group_id}/messages",
            content=document.encode(),
            headers={"Authorization": f"Bearer {client.token}", "content-type": "application/json"},
        )


def same_problem(http: httpx.Response, error: Frame) -> None:
    """The error frame carries the HTTP problem's members (but ``type``/``title``/``ref``)."""
    problem = http.json()
    assert error["type"] == "error"
    assert error["status"] == http.status_code == problem["status"]
    for key, value in problem.items():
        if key not in ("type", "title"):
            assert error[key] == value, (key, error, problem)
    assert set(error) - set(problem) <= {"ref"}


@pytest.mark.parametrize(
    ("group_id", "field"),
    [(2**64, "group_id"), (2**63 - 1, "group_id"), (-1, "group_id"), (0, "group_id")],
)
async def test_an_id_out_of_range_is_a_validation_error_and_the_socket_stays(
    sock: Socket, server: ServerThread, alice: QunzuClient, group_id: int, field: str
) -> None:
    error = await sock.frame(type="send", group_id=group_id, body="hi", client_txn_id="w-1")
    assert (error["status"], error["code"]) == (422, "validation_error")
    assert [e["field"] for e in error["errors"]] == [field]
    http = await http_send(server, alice, group_id, '{"body": "hi", "client_txn_id": "w-1"}')
    assert (http.status_code, http.json()["code"]) == (422, "validation_error")
    await sock.still_open()


@pytest.mark.parametrize(
    "body",
    [r'"a\ud800b"', r'"\udfff"', r'"a\u0000b"', '"x' + "y" * 4000 + '"', '"   "', "5", "null"],
    ids=["lone-high", "lone-low", "nul", "too-long", "blank", "number", "null"],
)
async def test_a_bad_body_gets_the_http_problem_in_an_error_frame(
    sock: Socket, server: ServerThread, alice: QunzuClient, body: str
) -> None:
    group = await make_group(alice)
    document = f'{{"body": {body}, "client_txn_id": "w-2"}}'
    http = await http_send(server, alice, group["id"], document)
    frame = f'{{"type": "send", "ref": "r-1", "group_id": {group["id"]}, ' + document[1:]
    error = await sock.answer(frame)
    assert error["ref"] == "r-1"
    same_problem(http, error)
    await sock.still_open()


async def test_deep_json_is_malformed_on_both_paths_and_the_socket_stays(
    sock: Socket, server: ServerThread, alice: QunzuClient
) -> None:
    group = await make_group(alice)
    for depth in (33, 30_000):
        nest = "[" * (depth - 1) + "]" * (depth - 1)
        document = f'{{"body": {nest}, "client_txn_id": "w-3"}}'
        error = await sock.answer(f'{{"type": "send", "group_id": {group["id"]}, ' + document[1:])
        assert (error["status"], error["code"]) == (400, "malformed_json")
        assert "nested deeper than 32 levels" in error["detail"]
        http = await http_send(server, alice, group["id"], document)
        assert (http.status_code, http.json()["code"]) == (400, "malformed_json")
    await sock.still_open()


async def test_a_frame_over_the_body_limit_is_refused_as_a_body_would_be(
    sock: Socket, server: ServerThread, alice: QunzuClient
) -> None:
    group = await make_group(alice)
    limit = server.settings.max_request_bytes
    document = json.dumps(
        {"body": "字" * (limit // 3), "client_txn_id": "w-big"}, ensure_ascii=False
    )
    assert len(document) < limit < len(document.encode())  # over in bytes, not characters
    http = await http_send(server, alice, group["id"], document)
    error = await sock.answer(f'{{"type": "send", "group_id": {group["id"]}, ' + document[1:])
    assert (error["status"], error["code"], error["limit"]) == (413, "payload_too_large", limit)
    assert (http.status_code, http.json()["code"], http.json()["limit"]) == (
        413,
        "payload_too_large",
        limit,
    )
    await sock.still_open()


async def test_unknown_members_and_bad_refs_are_refused_as_over_http(sock: Socket) -> None:
    extra = await sock.frame(type="send", group_id=1, body="b", client_txn_id="t", colour="red")
    assert (extra["code"], [e["field"] for e in extra["errors"]]) == (
        "validation_error",
        ["colour"],
    )
    for ref in ({"nested": 1}, 2**64, "r\x00"):
        error = await sock.answer(json.dumps({"type": "ping", "ref": ref}))
        assert (error["code"], error["ref"]) == ("validation_error", None)
    await sock.still_open()


async def test_a_refusal_by_the_rules_is_the_same_problem_on_both_paths(
    sock: Socket, server: ServerThread, alice: QunzuClient
) -> None:
    strangers = await make_group(alice)
    # alice owns it; a group id that is not hers to see is "not found" on both paths
    missing = strangers["id"] + 10_000
    http = await http_send(server, alice, missing, '{"body": "hi", "client_txn_id": "w-4"}')
    error = await sock.answer(
        json.dumps({"type": "send", "group_id": missing, "body": "hi", "client_txn_id": "w-4"})
    )
    same_problem(http, error)
    bad_txn = '{"body": "hi", "client_txn_id": "not ok!"}'
    http = await http_send(server, alice, strangers["id"], bad_txn)
    error = await sock.answer(f'{{"type": "send", "group_id": {strangers["id"]}, ' + bad_txn[1:])
    same_problem(http, error)
    sent = await sock.frame(type="send", group_id=strangers["id"], body="ok", client_txn_id="w-5")
    assert (sent["type"], sent["created"]) == ("ack", True)
