"""Direct writes of live events (the fast path) against a real server.

What the fast path must not change: every client, compressed or not, gets every
event once and in order; replies to its own frames (acks, pongs) arrive whole,
whatever the load; and it is actually the path taken in the normal case.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame as WireFrame
from websockets.frames import Opcode

from qunzu.client import QunzuClient
from tests.e2e.test_realtime import TIMEOUT, assert_gap_free, counter, me, ws_url
from tests.factories import group_with, make_user
from tests.server import ServerThread
from tests.server import test_settings as settings_for_tests

Frame = dict[str, Any]


async def fast_deliveries(client: QunzuClient) -> int:
    return await counter(client, "qunzu_ws_fast_deliveries_total")


async def set_direct_writes(server: ServerThread, on: bool) -> None:
    async def flip() -> None:
        server.app.state.hub.direct_writes = on

    await server.acall(flip)


async def open_raw(
    server: ServerThread, client: QunzuClient, compression: str | None
) -> ClientConnection:
    """A plain ``websockets`` client on the event stream, past its ready frame."""
    ws = await websockets.connect(
        ws_url(server),
        additional_headers={"Authorization": f"Bearer {client.token}"},
        compression=compression,
        open_timeout=TIMEOUT,
    )
    ready = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    assert ready["type"] == "ready"
    return ws


def count_text_frames(ws: ClientConnection) -> Counter[bool]:
    """Counts the text frames this client receives by their RSV1 bit (True: compressed)."""
    seen: Counter[bool] = Counter()
    deflate = next(e for e in ws.protocol.extensions if isinstance(e, PerMessageDeflate))
    decode = deflate.decode

    def counting(frame: WireFrame, *, max_size: int | None = None) -> WireFrame:
        if frame.opcode is Opcode.TEXT:
            seen[frame.rsv1] += 1
        return decode(frame, max_size=max_size)

    deflate.decode = counting  # type: ignore[method-assign]
    return seen


async def recv_json(ws: ClientConnection) -> Frame:
    frame: Frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    return frame


async def events_from(ws: ClientConnection, n: int) -> list[Frame]:
    got: list[Frame] = []
    while len(got) < n:
        frame = await recv_json(ws)
        if frame["type"] == "event":
            got.append(frame)
    return got


# ---- the normal case ------------------------------------------------------------------------


async def test_caught_up_clients_get_live_events_by_the_fast_path_compressed_or_not(
    server: ServerThread, alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    group = await group_with(alice, bob, carol)
    gid = group["id"]
    async with contextlib.AsyncExitStack() as stack:
        plain = await open_raw(server, bob, compression=None)
        stack.push_async_callback(plain.close)
        deflated = await open_raw(server, carol, compression="deflate")
        stack.push_async_callback(deflated.close)
        rsv1 = count_text_frames(deflated)
        sdk = await stack.enter_async_context(alice.events())  # the SDK negotiates deflate
        before = await fast_deliveries(alice)
        bodies = [f"fast {i} 群" * (1 + i % 7) for i in range(20)]
        posted = [(await alice.send(gid, body))["seq"] for body in bodies]

        for got in (
            await events_from(plain, 20),
            await events_from(deflated, 20),
            [await sdk.next_event(timeout=TIMEOUT) for _ in range(20)],
        ):
            assert [e["seq"] for e in got] == posted
            assert [e["body"] for e in got] == bodies
        assert sdk.duplicates == 0
        # Every one of the 3 x 20 deliveries took the fast path...
        assert await fast_deliveries(alice) - before == 60
        # ...which sends uncompressed frames, RSV1 clear, even where deflate was agreed.
        assert rsv1 == {False: 20}


async def test_deflate_clients_decode_direct_frames_mixed_with_compressed_ones(
    server: ServerThread, alice: QunzuClient, bob: QunzuClient
) -> None:
    """Uncompressed messages must not disturb either side's compression context."""
    group = await group_with(alice, bob)
    gid = group["id"]
    ws = await open_raw(server, bob, compression="deflate")
    try:
        rsv1 = count_text_frames(ws)
        bodies: list[str] = []
        try:
            for round_ in range(6):
                # Off: frames go through uvicorn and websockets, compressed with context
                # takeover; on: straight to the transport, uncompressed, in between.
                await set_direct_writes(server, round_ % 2 == 1)
                for i in range(5):
                    # Repetitive bodies, so the compressor refers back into its window.
                    body = f"round {round_} message {i} " + "重复的内容 repeated " * (i + 1)
                    bodies.append(body)
                    await alice.send(gid, body)
                got = await events_from(ws, 5)
                assert [e["body"] for e in got] == bodies[-5:]
        finally:
            await set_direct_writes(server, True)
        await alice.send(gid, "after the switch")
        assert (await events_from(ws, 1))[0]["body"] == "after the switch"
        assert rsv1[True] >= 15 and rsv1[False] >= 15
    finally:
        await ws.close()


# ---- replies and events under load ----------------------------------------------------------


async def test_acks_pongs_and_events_arrive_whole_and_once_under_concurrent_load(
    server: ServerThread, alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    group = await group_with(alice, bob, carol)
    gid = group["id"]
    per_sender = 40
    before = await fast_deliveries(alice)
    plain = await open_raw(server, bob, compression=None)
    deflated = await open_raw(server, carol, compression="deflate")
    start = (await alice.send(gid, "start"))["seq"]
    for ws in (plain, deflated):
        assert (await events_from(ws, 1))[0]["seq"] == start

    async def pipeline(ws: ClientConnection, who: str) -> tuple[list[str], list[str]]:
        """Sends and pings back to back, without waiting for any reply."""
        sends, pings = [], []
        for i in range(per_sender):
            ref = f"{who}-send-{i}"
            frame = {"type": "send", "group_id": gid, "body": ref, "client_txn_id": ref}
            await ws.send(json.dumps({**frame, "ref": ref}))
            sends.append(ref)
            await ws.send(json.dumps({"type": "ping", "ref": f"{who}-ping-{i}"}))
            pings.append(f"{who}-ping-{i}")
        return sends, pings

    async def http_posts() -> list[str]:
        bodies = [f"http-{i}" for i in range(per_sender)]
        for body in bodies:
            await alice.send(gid, body)
        return bodies

    total = 3 * per_sender

    async def read(ws: ClientConnection, who: str) -> list[Frame]:
        """Every frame up to the last reply and event; each must be whole JSON."""
        frames: list[Frame] = []
        replies = events = 0
        while replies < 2 * per_sender or events < total:
            frame = await recv_json(ws)
            frames.append(frame)
            if frame["type"] == "event":
                events += 1
            elif str(frame.get("ref", "")).startswith(who):
                replies += 1
            else:
                raise AssertionError(f"unexpected frame {frame}")
        return frames

    try:
        readers = [
            asyncio.create_task(read(plain, "bob")),
            asyncio.create_task(read(deflated, "carol")),
        ]
        (bob_sends, bob_pings), (carol_sends, carol_pings), http_bodies = await asyncio.gather(
            pipeline(plain, "bob"), pipeline(deflated, "carol"), http_posts()
        )
        received = await asyncio.wait_for(asyncio.gather(*readers), 4 * TIMEOUT)
    finally:
        await plain.close()
        await deflated.close()

    senders = {
        "bob": (bob_sends, bob_pings, me(bob)),
        "carol": (carol_sends, carol_pings, me(carol)),
    }
    event_lists = []
    for (who, (sends, pings, account)), frames in zip(senders.items(), received, strict=True):
        events = [f for f in frames if f["type"] == "event"]
        acks = [f for f in frames if f["type"] == "ack"]
        pongs = [f for f in frames if f["type"] == "pong"]
        assert len(acks) + len(pongs) + len(events) == len(frames), who  # no error frames
        # Each reply exactly once, and replies to one socket in the order it asked.
        assert [a["ref"] for a in acks] == sends, who
        assert [p["ref"] for p in pongs] == pings, who
        assert all(a["created"] and a["group_id"] == gid for a in acks), who
        # Events: every message once, gap-free, each sender's in its own order.
        assert_gap_free(events, start)
        by_seq = {e["seq"]: e for e in events}
        for ack in acks:
            event = by_seq[ack["seq"]]
            assert (event["body"], event["sender_id"]) == (ack["ref"], account), who
        event_lists.append(events)
    for events in event_lists:
        bodies = [e["body"] for e in events]
        assert sorted(bodies) == sorted(bob_sends + carol_sends + http_bodies)
        for mine in (bob_sends, carol_sends, http_bodies):
            assert [b for b in bodies if b in set(mine)] == mine
    assert event_lists[0] == event_lists[1]
    assert await fast_deliveries(alice) > before


# ---- the operator's switch ------------------------------------------------------------------


async def test_with_direct_writes_off_every_event_goes_compressed_through_asgi(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = settings_for_tests(tmp_path_factory.mktemp("qunzu-nodirect"), ws_direct_writes=False)
    server = ServerThread(settings).start()
    try:
        alice = await make_user(server.url, prefix="alice")
        bob = await make_user(server.url, prefix="bob")
        try:
            group = await group_with(alice, bob)
            ws = await open_raw(server, bob, compression="deflate")
            try:
                rsv1 = count_text_frames(ws)
                posted = [
                    (await alice.send(group["id"], f"slow path {i}"))["seq"] for i in range(10)
                ]
                got = await events_from(ws, 10)
                assert [e["seq"] for e in got] == posted
                assert rsv1 == Counter({True: 10})  # every event compressed by the ASGI path
                assert await fast_deliveries(alice) == 0
            finally:
                await ws.close()
        finally:
            await alice.aclose()
            await bob.aclose()
    finally:
        server.stop()
