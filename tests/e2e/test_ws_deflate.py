"""permessage-deflate without context takeover (QUNZU_WS_DEFLATE), and what a closed
connection leaves behind.

The switch changes how frames travel, never what they say: a client that agreed to
compression reads the very frames an uncompressed client reads, on the ASGI path
(compressed, one fresh context per message) and the direct path alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
from collections import Counter

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.extensions.permessage_deflate import PerMessageDeflate

from qunzu.api.realtime import LiveStream
from qunzu.api.ws_protocol import PerMessageDeflateProtocol
from qunzu.client import QunzuClient
from tests.e2e.test_realtime import TIMEOUT
from tests.e2e.test_realtime_fastpath import (
    count_text_frames,
    events_from,
    open_raw,
    set_direct_writes,
)
from tests.factories import group_with, make_user
from tests.server import ServerThread
from tests.server import test_settings as settings_for_tests


def deflate_of(ws: ClientConnection) -> PerMessageDeflate | None:
    return next((e for e in ws.protocol.extensions if isinstance(e, PerMessageDeflate)), None)


async def frames_until(ws: ClientConnection, seq: int) -> list[str]:
    """Every text frame, as received, up to the event with ``seq``."""
    got: list[str] = []
    while True:
        raw = await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert isinstance(raw, str)
        got.append(raw)
        frame = json.loads(raw)
        if frame["type"] == "event" and frame["seq"] == seq:
            return got


async def test_deflate_is_agreed_without_context_takeover_either_way(
    server: ServerThread, alice: QunzuClient
) -> None:
    ws = await open_raw(server, alice, compression="deflate")
    try:
        deflate = deflate_of(ws)
        assert deflate is not None
        # The client's view: "remote" is the server.
        assert deflate.remote_no_context_takeover and deflate.local_no_context_takeover
        assert deflate.remote_max_window_bits == 12 and deflate.local_max_window_bits == 12
    finally:
        await ws.close()


@pytest.mark.parametrize("direct", [False, True], ids=["asgi-path", "direct-path"])
async def test_a_compressed_stream_reads_the_frames_an_uncompressed_one_reads(
    server: ServerThread, alice: QunzuClient, bob: QunzuClient, direct: bool
) -> None:
    group = await group_with(alice, bob)
    gid = group["id"]
    await set_direct_writes(server, direct)
    try:
        async with contextlib.AsyncExitStack() as stack:
            plain = await open_raw(server, bob, compression=None)
            stack.push_async_callback(plain.close)
            deflated = await open_raw(server, bob, compression="deflate")
            stack.push_async_callback(deflated.close)
            rsv1 = count_text_frames(deflated)
            # Repetitive bodies, so that a context kept across messages would show.
            bodies = [f"同一句话 {i % 3} " * (5 + i) for i in range(12)]
            last = 0
            for body in bodies:
                last = (await alice.send(gid, body))["seq"]
            assert await frames_until(deflated, last) == await frames_until(plain, last)
            if direct:
                assert rsv1 == Counter({False: len(bodies)})
            else:  # every event compressed, each with a context of its own
                assert rsv1 == Counter({True: len(bodies)})
    finally:
        await set_direct_writes(server, True)


async def test_a_compressed_catch_up_replays_what_an_uncompressed_one_replays(
    server: ServerThread, alice: QunzuClient, bob: QunzuClient
) -> None:
    """The catch-up from storage always takes the ASGI path: compressed where agreed."""
    group = await group_with(alice, bob)
    gid = group["id"]
    first = (await alice.send(gid, "before"))["seq"]
    last = first
    for i in range(8):
        last = (await alice.send(gid, f"missed {i} " * 20))["seq"]
    replays = []
    for compression in (None, "deflate"):
        ws = await open_raw_since(server, bob, f"{gid}:{first}", compression)
        try:
            replays.append(await frames_until(ws, last))
        finally:
            await ws.close()
    assert replays[0] == replays[1]
    assert [json.loads(f)["seq"] for f in replays[0]] == list(range(first + 1, last + 1))


async def open_raw_since(
    server: ServerThread, client: QunzuClient, since: str, compression: str | None
) -> ClientConnection:
    import websockets

    ws = await websockets.connect(
        f"{server.url.replace('http', 'ws', 1)}/v1/events?since={since}",
        additional_headers={"Authorization": f"Bearer {client.token}"},
        compression=compression,
        open_timeout=TIMEOUT,
    )
    ready = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    assert ready["type"] == "ready"
    return ws


async def test_with_deflate_off_no_compression_is_agreed_and_events_arrive(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = settings_for_tests(tmp_path_factory.mktemp("qunzu-nodeflate"), ws_deflate="off")
    server = ServerThread(settings).start()
    try:
        alice = await make_user(server.url, prefix="alice")
        bob = await make_user(server.url, prefix="bob")
        try:
            group = await group_with(alice, bob)
            ws = await open_raw(server, bob, compression="deflate")
            try:
                assert deflate_of(ws) is None
                posted = [(await alice.send(group["id"], f"plain {i}"))["seq"] for i in range(5)]
                assert [e["seq"] for e in await events_from(ws, 5)] == posted
            finally:
                await ws.close()
        finally:
            await alice.aclose()
            await bob.aclose()
    finally:
        server.stop()


async def test_closed_connections_leave_no_stream_protocol_or_compression_state(
    server: ServerThread, alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await group_with(alice, bob)

    async def alive() -> tuple[int, int, int, int]:
        await asyncio.sleep(0.2)  # let uvicorn finish the closes it has started
        gc.collect()
        objects = gc.get_objects()
        hub = server.app.state.hub
        return (
            sum(isinstance(o, LiveStream) for o in objects),
            sum(isinstance(o, PerMessageDeflateProtocol) for o in objects),
            hub.sessions.count,
            hub.topics,
        )

    before = await server.acall(alive)
    for _ in range(2):  # connect-and-close cycles
        sockets = [await open_raw(server, bob, compression="deflate") for _ in range(10)]
        await alice.send(group["id"], "to every socket " * 10)
        for ws in sockets:
            assert (await events_from(ws, 1))[0]["body"].startswith("to every socket")
        for ws in sockets:
            await ws.close()
        del sockets
    after = await server.acall(alive)
    assert after == before
