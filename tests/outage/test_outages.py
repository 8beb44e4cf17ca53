"""Outages of the services qunzu depends on, with real servers stopped and started.

Each test starts private servers (tests/outage/services.py: free ports, temporary
directories; the machine's shared servers are never touched), runs a qunzu node
on them, stops a server in the middle of traffic and starts it again, and checks:

- nothing acknowledged is lost: every acknowledged message is in the history, and
  every open stream ends up with every one of them, once, in order;
- no request hangs: each one is answered within ``BOUND`` seconds, outage or not;
- the service recovers by itself, without a restart of qunzu.

The bus (Redis, NATS) is at-most-once: while it is down, sends are acknowledged,
streams stay open and new ones are accepted, and when it is back live delivery
resumes and what it dropped is read from storage. While the database is down,
sends and new streams are refused with 503 / close 1013 and ``Retry-After``,
``/healthz`` stays 200 and ``/readyz`` says 503; when it is back, so is service.

Skipped, saying which, when redis-server, nats-server or PostgreSQL's initdb are
not installed.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from qunzu.bus import make_bus
from qunzu.client import EventStream, QunzuClient
from tests.factories import add_member, make_group, make_user
from tests.outage.services import NatsServer, PostgresServer, RedisServer, require
from tests.server import ServerThread, test_settings

pytestmark = pytest.mark.outage

BOUND = 1.0  # seconds: the longest any one request may take, during an outage or not
RECOVERY = 15.0  # seconds: the longest a recovery may take once the server is back
TIMEOUT = 10.0  # a single wait for a frame
Frame = dict[str, Any]


# ---- helpers ------------------------------------------------------------------------------


async def eventually(check: Callable[[], Any], what: str, within: float = RECOVERY) -> Any:
    """Poll the async ``check`` until it returns something truthy (bounded, not a sleep)."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within:.0f}s: {what}")
        await asyncio.sleep(0.1)


class Sender:
    """Sends messages over HTTP, timing each one; keeps what was acknowledged."""

    def __init__(self, client: QunzuClient, group_id: int) -> None:
        self.client, self.group_id = client, group_id
        self.acked: dict[int, str] = {}  # seq -> body
        self.slowest = 0.0

    async def send(self, body: str) -> int:
        start = time.monotonic()
        sent = await asyncio.wait_for(self.client.send(self.group_id, body), BOUND * 5)
        self.slowest = max(self.slowest, time.monotonic() - start)
        self.acked[int(sent["seq"])] = body
        return int(sent["seq"])

    async def burst(self, n: int, label: str) -> None:
        for i in range(n):
            await self.send(f"{label} {i}")


async def received_all(stream: EventStream, seqs: set[int], got: dict[int, str]) -> bool:
    """Read what the stream has (briefly); True once every seq in ``seqs`` arrived."""
    try:
        while not seqs <= set(got):
            event = await stream.next_event(timeout=0.5)
            assert event["seq"] not in got, f"seq {event['seq']} delivered twice"
            got[int(event["seq"])] = event["body"] or event["kind"]
    except TimeoutError:
        return False
    return True


async def history_bodies(client: QunzuClient, group_id: int) -> dict[int, str]:
    page = await client.history(group_id, limit=200)
    return {int(e["seq"]): e["body"] for e in page["entries"] if e["kind"] == "message"}


async def readyz(base_url: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url, timeout=BOUND * 5) as http:
        return await http.get("/readyz")


# ---- the bus: Redis and NATS --------------------------------------------------------------

BusServer = RedisServer | NatsServer


@pytest.fixture(params=["redis", "nats"])
def bus_server(request: pytest.FixtureRequest) -> Iterator[BusServer]:
    require(request.param)
    server: BusServer = RedisServer() if request.param == "redis" else NatsServer()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def bus_node(bus_server: BusServer, tmp_path: Path) -> Iterator[ServerThread]:
    settings = test_settings(
        tmp_path, bus_url=bus_server.url, bus_namespace=f"outage-{uuid.uuid4().hex}"
    )
    node = ServerThread(settings).start()
    yield node
    node.stop()


async def test_a_bus_outage_loses_no_acknowledged_message_and_heals_by_itself(
    bus_server: BusServer, bus_node: ServerThread
) -> None:
    alice = await make_user(bus_node.url, prefix="alice")
    bob = await make_user(bus_node.url, prefix="bob")
    carol = await make_user(bus_node.url, prefix="carol")
    try:
        group = await make_group(alice)
        gid = group["id"]
        await add_member(alice, group, bob)
        await add_member(alice, group, carol)
        sender = Sender(alice, gid)
        async with bob.events() as listening, alice.events() as posting:
            got: dict[int, str] = {}
            await sender.burst(5, "before")
            assert await received_all(listening, set(sender.acked), got)

            bus_server.stop()
            await sender.burst(10, "during")  # acknowledged although the bus is down
            ref = await posting.send_message(gid, "during, over the socket", "ws-during")
            ack = await _answer(posting, ref)
            assert ack["type"] == "ack", ack  # not a close with 1011
            sender.acked[int(ack["seq"])] = "during, over the socket"
            # A new stream is accepted while the bus is down, and starts from storage.
            late = EventStream(bus_node.url, carol.token or "", cursors={gid: 0})
            await late.connect()
            not_ready = await readyz(bus_node.url)
            assert not_ready.status_code == 503
            assert not_ready.json()["failing"] == ["bus"]

            bus_server.start()
            # Nothing more is sent yet: what the bus dropped must come without a next
            # event to reveal the gap (the node re-reads storage when the bus is back).
            late_got: dict[int, str] = {}
            for stream, seen in ((listening, got), (late, late_got)):
                await eventually(
                    lambda stream=stream, seen=seen: received_all(stream, set(sender.acked), seen),
                    "every stream has what was acknowledged during the outage",
                )
            await eventually(
                lambda: _ready(bus_node.url), "/readyz is 200 again once the bus is back"
            )
            await sender.burst(5, "after")  # and live delivery goes on
            for stream, seen in ((listening, got), (late, late_got)):
                await eventually(
                    lambda stream=stream, seen=seen: received_all(stream, set(sender.acked), seen),
                    "every stream has what was sent after the outage",
                )
            await late.close()
        assert {s: got[s] for s in sender.acked} == sender.acked
        assert {s: late_got[s] for s in sender.acked} == sender.acked
        assert listening.reconnects == 0 and listening.duplicates == 0
        stored = await history_bodies(alice, gid)
        assert {s: stored[s] for s in sender.acked} == sender.acked
        assert sender.slowest < BOUND, f"a send took {sender.slowest:.3f}s"
        metrics = (await alice.request("GET", "/metrics")).text
        assert _counter(metrics, "qunzu_bus_publish_failures_total") >= (
            11 if isinstance(bus_server, RedisServer) else 0  # NATS buffers while away
        )
    finally:
        for client in (alice, bob, carol):
            await client.aclose()


async def _answer(stream: EventStream, ref: int, got: dict[int, str] | None = None) -> Frame:
    """The answer to the frame ``ref``; events read meanwhile go into ``got``."""
    while True:
        frame = await stream.recv(timeout=TIMEOUT)
        if frame.get("ref") == ref:
            return frame
        if frame["type"] == "event" and got is not None:
            got[int(frame["seq"])] = frame["body"] or frame["kind"]


async def _ready(base_url: str) -> bool:
    return (await readyz(base_url)).status_code == 200


def _counter(metrics: str, name: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


# ---- the database: PostgreSQL -------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    require("postgres")
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def pg_node(postgres: PostgresServer, tmp_path: Path) -> Iterator[ServerThread]:
    node = ServerThread(test_settings(tmp_path, database_url=postgres.url)).start()
    yield node
    node.stop()


@pytest.fixture
async def raw(pg_node: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=pg_node.url, timeout=BOUND * 5) as http:
        yield http


async def test_a_database_outage_answers_503_at_once_and_heals_by_itself(
    postgres: PostgresServer, pg_node: ServerThread, raw: httpx.AsyncClient
) -> None:
    alice = await make_user(pg_node.url, prefix="alice")
    bob = await make_user(pg_node.url, prefix="bob")
    try:
        group = await make_group(alice)
        gid = group["id"]
        await add_member(alice, group, bob)
        sender = Sender(alice, gid)
        auth = {"Authorization": f"Bearer {alice.token}"}
        got: dict[int, str] = {}
        async with bob.events() as listening:
            await sender.burst(5, "before")

            postgres.stop()
            for i in range(5):
                start = time.monotonic()
                refused = await raw.post(
                    f"/v1/groups/{gid}/messages",
                    json={"body": f"during {i}", "client_txn_id": f"during-{i}"},
                    headers=auth,
                )
                took = time.monotonic() - start
                assert refused.status_code == 503, refused.text
                assert took < BOUND, f"a refusal took {took:.3f}s"
                assert refused.headers["content-type"] == "application/problem+json"
                assert refused.json()["code"] == "database_unavailable"
                assert int(refused.headers["retry-after"]) > 0
            assert (await raw.get("/healthz")).status_code == 200
            assert (await raw.get("/metrics")).status_code == 200  # the outage is observable
            not_ready = await raw.get("/readyz")
            assert not_ready.status_code == 503
            assert "database" in not_ready.json()["failing"]
            assert int(not_ready.headers["retry-after"]) > 0
            frame, code = await _refused_stream(pg_node, alice.token or "")
            assert (frame["status"], frame["code"], code) == (503, "database_unavailable", 1013)
            # An open stream stays open: a send over it is answered 503, and it goes on.
            ref = await listening.send_message(gid, "bob, during", "bob-during")
            answer = await _answer(listening, ref, got)
            assert (answer["type"], answer["status"]) == ("error", 503)

            postgres.start()
            await eventually(lambda: _sends(raw, gid, auth), "sends succeed again")
            await eventually(lambda: _ready(pg_node.url), "/readyz is 200 again")
            await sender.burst(5, "after")
            await eventually(
                lambda: received_all(listening, set(sender.acked), got),
                "the open stream has every acknowledged message",
            )
        stored = await history_bodies(alice, gid)
        assert {s: stored[s] for s in sender.acked} == sender.acked
        assert not any(body.startswith("during") for body in stored.values() if body)
        assert listening.reconnects == 0
    finally:
        await alice.aclose()
        await bob.aclose()


async def _sends(raw: httpx.AsyncClient, gid: int, auth: dict[str, str]) -> bool:
    response = await raw.post(
        f"/v1/groups/{gid}/messages",
        json={"body": "probe", "client_txn_id": uuid.uuid4().hex},
        headers=auth,
    )
    assert response.status_code in (201, 503), response.text
    return response.status_code == 201


async def _refused_stream(node: ServerThread, token: str) -> tuple[Frame, int]:
    """Open a stream while the database is away: the error frame and the close code."""
    url = "ws" + node.url.removeprefix("http") + "/v1/events"
    start = time.monotonic()
    async with websockets.connect(
        url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=BOUND * 5
    ) as ws:
        frame = json.loads(await asyncio.wait_for(ws.recv(), BOUND * 5))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), BOUND * 5)
    assert time.monotonic() - start < BOUND
    assert closed.value.rcvd is not None
    return frame, closed.value.rcvd.code


# ---- the bus itself: it tells when it is back -----------------------------------------------


@pytest.mark.parametrize("kind", ["redis", "nats"])
async def test_the_bus_reports_its_reconnection_with_its_subscriptions_in_force(
    kind: str,
) -> None:
    require(kind)
    server: BusServer = RedisServer() if kind == "redis" else NatsServer()
    server.start()
    bus = make_bus(server.url)
    try:
        await bus.start()
        back = asyncio.Event()
        bus.on_reconnect(back.set)
        heard: list[bytes] = []
        await bus.subscribe("outage.topic", lambda _topic, payload: heard.append(payload))
        server.stop()
        with pytest.raises(Exception):  # noqa: B017 (each backend has its own error)
            await asyncio.wait_for(bus.ping(), BOUND * 3)
        server.start()
        await asyncio.wait_for(back.wait(), RECOVERY)
        # Called only once the subscription is in force again: a publish now is heard.
        await bus.ping()
        await bus.publish("outage.topic", b"after")
        await eventually(lambda: _has(heard, b"after"), "the subscription works again", 5.0)
    finally:
        await bus.close()
        server.cleanup()


async def _has(items: list[bytes], item: bytes) -> bool:
    return item in items
