"""The WebSocket event stream against a real server: delivery, resume, refusals, back-pressure.

Every receive has a timeout, so a missing event fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from qunzu.client import EventStream, QunzuClient, StreamClosed
from tests import server as test_server
from tests.factories import People, add_member, collect, crowd, group_with, make_group, make_user
from tests.factories import account_id as me
from tests.server import ServerThread

TIMEOUT = 5.0
CJK = range(0x4E00, 0x9FA6)
Frame = dict[str, Any]
MakeUser = Callable[[str], Awaitable[QunzuClient]]


# ---- helpers ------------------------------------------------------------------------------


def ws_url(server: ServerThread) -> str:
    return "ws" + server.url.removeprefix("http") + "/v1/events"


async def next_events(stream: EventStream, n: int) -> list[Frame]:
    return [await stream.next_event(timeout=TIMEOUT) for _ in range(n)]


def has(type_: str, **fields: object) -> Callable[[list[Frame]], bool]:
    def done(frames: list[Frame]) -> bool:
        return any(
            f["type"] == type_ and all(f.get(k) == v for k, v in fields.items()) for f in frames
        )

    return done


def one(frames: list[Frame], type_: str, **fields: object) -> Frame:
    found = [
        f for f in frames if f["type"] == type_ and all(f.get(k) == v for k, v in fields.items())
    ]
    assert len(found) == 1, (type_, fields, frames)
    return found[0]


async def raw_refusal(
    server: ServerThread, token: str | None, query: str = ""
) -> tuple[Frame, int]:
    """Connect without the SDK; the error frame and the close code the server sent."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with websockets.connect(
        ws_url(server) + query, additional_headers=headers, open_timeout=TIMEOUT
    ) as ws:
        frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert closed.value.rcvd is not None
    return frame, closed.value.rcvd.code


def assert_gap_free(events: list[Frame], after: int) -> None:
    assert [e["seq"] for e in events] == list(range(after + 1, after + 1 + len(events)))


people = crowd()


@pytest.fixture
def users(people: People) -> MakeUser:
    return people.user


# ---- 1. delivery --------------------------------------------------------------------------


async def test_ready_then_every_kind_of_group_event_is_delivered_in_seq_order(
    server: ServerThread, alice: QunzuClient, bob: QunzuClient, users: MakeUser
) -> None:
    carol = await users("carol")
    group = await make_group(alice)
    gid = group["id"]
    async with alice.events() as stream:
        ready = stream.ready
        assert ready is not None and ready["type"] == "ready"
        assert ready["account_id"] == me(alice)
        start = ready["cursors"][str(gid)]
        await add_member(alice, group, bob)
        await add_member(alice, group, carol)
        await bob.send(gid, "hello everyone")
        await alice.set_rules(gid, "Be kind to each other.")
        await alice.set_role(gid, me(bob), "admin")
        await bob.leave(gid)
        await alice.remove_member(gid, me(carol), "spam")
        await alice.dissolve_group(gid)
        got = await next_events(stream, 8)
        assert stream.duplicates == 0
    assert [e["kind"] for e in got] == [
        "member_joined",
        "member_joined",
        "message",
        "rules_changed",
        "role_changed",
        "member_left",
        "member_removed",
        "group_state_changed",
    ]
    assert {e["group_id"] for e in got} == {gid}
    assert_gap_free(got, start)
    joined_bob, joined_carol, message, _, role, left, removed, state = got
    assert joined_bob["data"]["account_id"] == me(bob)
    assert joined_carol["data"]["account_id"] == me(carol)
    assert message["body"] == "hello everyone" and message["sender_id"] == me(bob)
    assert role["data"] == {"account_id": me(bob), "role": "admin"}
    assert left["data"]["account_id"] == me(bob)
    assert removed["data"]["account_id"] == me(carol)
    assert state["data"]["state"] == "dissolved"


# ---- 2. removal ---------------------------------------------------------------------------


async def test_removed_member_gets_the_removal_and_then_nothing_more_from_that_group(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group, other = await make_group(alice), await make_group(alice)
    await add_member(alice, group, bob)
    await add_member(alice, other, bob)
    async with bob.events() as stream:
        await alice.remove_member(group["id"], me(bob), "off topic")
        removed = await stream.next_event(timeout=TIMEOUT)
        assert removed["kind"] == "member_removed" and removed["group_id"] == group["id"]
        assert removed["data"]["account_id"] == me(bob)
        await alice.send(group["id"], "after bob left")
        await alice.set_rules(group["id"], "New rules bob must not see.")
        # Delivery is in publish order, so the next event bob gets is the sentinel.
        await alice.send(other["id"], "sentinel")
        following = await stream.next_event(timeout=TIMEOUT)
        assert (following["group_id"], following["body"]) == (other["id"], "sentinel")
        assert stream.cursors[group["id"]] == removed["seq"]
    # Reconnecting with a cursor at the removal is fine, and the group stays silent.
    async with bob.events(cursors=stream.cursors) as resumed:
        await alice.send(group["id"], "still without bob")
        await alice.send(other["id"], "second sentinel")
        following = await resumed.next_event(timeout=TIMEOUT)
        assert (following["group_id"], following["body"]) == (other["id"], "second sentinel")


# ---- 3. joining while connected -----------------------------------------------------------


async def test_joining_while_connected_announces_the_group_then_streams_it(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice)
    gid = group["id"]
    await alice.send(gid, "before bob")
    async with bob.events() as stream:
        assert stream.ready is not None and str(gid) not in stream.ready["cursors"]
        await add_member(alice, group, bob)
        frames = await collect(stream, has("notice", kind="membership_added"))
        added = frames[-1]
        assert added["group_id"] == gid
        assert [f for f in frames if f["type"] == "event"] == []
        joined = await stream.next_event(timeout=TIMEOUT)
        assert joined["kind"] == "member_joined" and joined["seq"] == added["joined_seq"]
        await alice.send(gid, "welcome bob")
        welcome = await stream.next_event(timeout=TIMEOUT)
        assert (welcome["body"], welcome["seq"]) == ("welcome bob", joined["seq"] + 1)
        assert stream.duplicates == 0


# ---- 4. resume ----------------------------------------------------------------------------


async def test_resume_replays_exactly_the_missed_events_in_order_then_goes_live(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await group_with(alice, bob)
    gid = group["id"]
    async with bob.events() as stream:
        for i in range(3):
            await alice.send(gid, f"online {i}")
        seen = await next_events(stream, 3)
    cursors = dict(stream.cursors)
    assert cursors[gid] == seen[-1]["seq"]
    offline = [(await alice.send(gid, f"offline {i}"))["seq"] for i in range(25)]
    assert offline[0] == cursors[gid] + 1

    async def post_during_resume() -> None:
        for i in range(25):
            await alice.send(gid, f"racing {i}")

    async with bob.events(cursors=cursors) as resumed:
        racing = asyncio.create_task(post_during_resume())
        replay = await next_events(resumed, 50)
        await asyncio.wait_for(racing, TIMEOUT)
        assert_gap_free(replay, cursors[gid])
        assert [e["body"] for e in replay] == [f"offline {i}" for i in range(25)] + [
            f"racing {i}" for i in range(25)
        ]
        live = await alice.send(gid, "live again")
        got = await resumed.next_event(timeout=TIMEOUT)
        assert (got["seq"], got["body"]) == (live["seq"], "live again")
        assert got["seq"] == replay[-1]["seq"] + 1
        assert resumed.duplicates == 0


async def test_resume_covers_groups_joined_offline_and_stops_at_a_removal_made_offline(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    kept = await make_group(bob)
    lost = await make_group(bob)
    await add_member(bob, kept, alice)
    await add_member(bob, lost, alice)
    async with alice.events() as stream:
        await bob.send(lost["id"], "seen online")
        assert (await stream.next_event(timeout=TIMEOUT))["body"] == "seen online"
    cursors = dict(stream.cursors)

    joined = await group_with(bob, alice)
    await bob.send(joined["id"], "in the new group")
    await bob.send(lost["id"], "before removal")
    removal = await bob.remove_member(lost["id"], me(alice), "bye")
    await bob.send(lost["id"], "after removal")
    await bob.send(kept["id"], "in the kept group")

    async with alice.events(cursors=cursors) as resumed:
        replay = await next_events(resumed, 5)
        by_group: dict[int, list[Frame]] = {}
        for event in replay:
            by_group.setdefault(event["group_id"], []).append(event)
        assert [e["kind"] for e in by_group[joined["id"]]] == ["member_joined", "message"]
        assert by_group[joined["id"]][0]["data"]["account_id"] == me(alice)
        assert [(e["kind"], e["body"]) for e in by_group[lost["id"]]] == [
            ("message", "before removal"),
            ("member_removed", None),
        ]
        assert_gap_free(by_group[lost["id"]], cursors[lost["id"]])
        assert by_group[lost["id"]][-1]["seq"] == removal["left_seq"]
        assert [e["body"] for e in by_group[kept["id"]]] == ["in the kept group"]
        # Live: the group alice was removed from stays silent, the others flow.
        await bob.send(lost["id"], "still after removal")
        await bob.send(joined["id"], "sentinel")
        following = await resumed.next_event(timeout=TIMEOUT)
        assert (following["group_id"], following["body"]) == (joined["id"], "sentinel")
        assert resumed.duplicates == 0


# ---- 6. refusals --------------------------------------------------------------------------


async def test_bad_tokens_and_cursors_are_refused_with_an_error_frame_and_close_code(
    server: ServerThread, alice: QunzuClient, bob: QunzuClient
) -> None:
    frame, code = await raw_refusal(server, None)
    assert (frame["type"], frame["status"], frame["code"], code) == (
        "error",
        401,
        "token_missing",
        4401,
    )
    frame, code = await raw_refusal(server, "garbage")
    assert (frame["status"], code) == (401, 4401)

    issued = await alice.issue_token("script")
    await alice.revoke_token(issued["token_id"])
    with pytest.raises(StreamClosed) as revoked:
        await EventStream(server.url, issued["token"]).connect()
    assert (revoked.value.status, revoked.value.code, revoked.value.close_code) == (
        401,
        "token_revoked",
        4401,
    )

    assert alice.token is not None
    for since in ("abc", "1", "1:-2", "1:%C2%B2", "1:" + "9" * 40, "1:2,,3:4"):
        frame, code = await raw_refusal(server, alice.token, f"?since={since}")
        assert (frame["status"], frame["code"], code) == (400, "invalid_cursor", 4400), since

    mine = await make_group(alice)
    theirs = await make_group(bob)
    with pytest.raises(StreamClosed) as foreign:
        await alice.events(cursors={theirs["id"]: 0}).connect()
    assert (foreign.value.status, foreign.value.code, foreign.value.close_code) == (
        404,
        "cursor_not_found",
        4404,
    )
    newest = (await alice.send(mine["id"], "newest"))["seq"]
    with pytest.raises(StreamClosed) as future:
        await alice.events(cursors={mine["id"]: newest + 1}).connect()
    assert (future.value.status, future.value.code, future.value.close_code) == (
        404,
        "cursor_not_found",
        4404,
    )
    # The newest seq itself is a fine cursor: nothing to replay, then live.
    async with alice.events(cursors={mine["id"]: newest}) as stream:
        await alice.send(mine["id"], "after")
        assert (await stream.next_event(timeout=TIMEOUT))["seq"] == newest + 1


# ---- 7. slow consumers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_queue_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    thread = ServerThread(
        test_server.test_settings(tmp_path_factory.mktemp("qunzu-slow"), ws_queue_size=10)
    ).start()
    yield thread
    thread.stop()


async def counter(client: QunzuClient, name: str) -> int:
    text = (await client.request("GET", "/metrics")).text
    found = re.search(rf"^{name} (\S+)$", text, re.M)
    return int(float(found.group(1))) if found else 0


async def slow_consumer_closes(client: QunzuClient) -> int:
    return await counter(client, "qunzu_ws_slow_consumer_disconnects_total")


async def test_slow_consumer_is_closed_with_4008_and_resumes_without_loss(
    tiny_queue_server: ServerThread,
) -> None:
    server = tiny_queue_server
    async with contextlib.AsyncExitStack() as stack:
        owner = await make_user(server.url, prefix="owner")
        stack.push_async_callback(owner.aclose)
        reader = await make_user(server.url, prefix="reader")
        stack.push_async_callback(reader.aclose)
        group = await make_group(owner)
        gid = group["id"]
        await add_member(owner, group, reader)
        before = await slow_consumer_closes(owner)
        fast_before = await counter(owner, "qunzu_ws_fast_deliveries_total")
        assert reader.token is not None
        # A raw client without compression and with a one-frame receive queue: what it
        # does not read stays in the socket buffers, so the server's writes soon stall.
        raw = await websockets.connect(
            ws_url(server),
            additional_headers={"Authorization": f"Bearer {reader.token}"},
            compression=None,
            max_queue=1,
            max_size=2**20,
            open_timeout=TIMEOUT,
        )
        stack.push_async_callback(raw.close)
        assert json.loads(await asyncio.wait_for(raw.recv(), TIMEOUT))["type"] == "ready"
        # And an SDK stream that does not read for now either: it will resume by itself.
        auto = await stack.enter_async_context(reader.events(compression=None))

        rng = random.Random(7)
        posted: list[int] = []

        async def post(txn: str) -> None:
            # ~24 KB on the wire each: JSON escapes every CJK character as \uXXXX.
            body = "".join(map(chr, rng.choices(CJK, k=4000)))
            posted.append((await owner.send(gid, body, txn))["seq"])

        # Post (reading nothing) until the server has given up on both readers.
        while await slow_consumer_closes(owner) < before + 2:
            assert len(posted) < 3000, "the server never closed the slow consumers"
            await asyncio.gather(*(post(f"slow-{len(posted)}-{i}") for i in range(20)))
        for i in range(20):  # and a few more after the closes
            await post(f"late-{i}")
        posted.sort()
        assert posted == list(range(posted[0], posted[0] + len(posted)))

        received: list[Frame] = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                received.append(json.loads(await asyncio.wait_for(raw.recv(), TIMEOUT)))
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008
        events = [f for f in received if f["type"] == "event"]
        assert_gap_free(events, posted[0] - 1)
        assert len(events) < len(posted)

        # Resuming from the raw client's cursor gets the rest, each exactly once.
        cursors = {gid: events[-1]["seq"] if events else posted[0] - 1}
        async with reader.events(cursors=cursors) as resumed:
            rest = await next_events(resumed, posted[-1] - cursors[gid])
            assert resumed.duplicates == 0
        assert_gap_free(rest, cursors[gid])
        assert [e["seq"] for e in events + rest] == posted

        # The SDK stream was closed the same way and resumed on its own.
        auto_got = await next_events(auto, len(posted))
        assert [e["seq"] for e in auto_got] == posted
        assert (auto.close_codes, auto.reconnects, auto.duplicates) == ([4008], 1, 0)
        await owner.send(gid, "sentinel")
        assert (await auto.next_event(timeout=TIMEOUT))["body"] == "sentinel"
        # Until their transports paused, live events went to both readers by the fast
        # path: the 4008 above is what a stalled client gets with it in use.
        assert await counter(owner, "qunzu_ws_fast_deliveries_total") > fast_before


# ---- 8. client frames ---------------------------------------------------------------------


async def test_send_frame_acks_retries_idempotently_and_bad_frames_get_errors_not_a_close(
    server: ServerThread, alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await group_with(alice, bob)
    gid = group["id"]
    strangers = await make_group(alice)
    async with bob.events() as stream:
        ref = await stream.send_message(gid, "over the socket", "ws-txn-1")
        frames = await collect(
            stream, lambda fs: has("ack", ref=ref)(fs) and has("event", group_id=gid)(fs)
        )
        ack = one(frames, "ack", ref=ref)
        event = one(frames, "event", group_id=gid)
        assert (ack["created"], ack["group_id"]) == (True, gid)
        assert (event["seq"], event["body"], event["sender_id"]) == (
            ack["seq"],
            "over the socket",
            me(bob),
        )

        retry = await stream.send_message(gid, "over the socket", "ws-txn-1")
        again = one(await collect(stream, has("ack", ref=retry)), "ack", ref=retry)
        assert (again["created"], again["seq"]) == (False, ack["seq"])

        bad = [
            ({"type": "send", "group_id": "x", "body": "b", "client_txn_id": "t"}, 422),
            ({"type": "send", "group_id": gid, "body": "", "client_txn_id": "ws-txn-2"}, 422),
            ({"type": "send", "group_id": gid, "body": "b", "client_txn_id": "bad id!"}, 400),
            ({"type": "send", "group_id": strangers["id"], "body": "b", "client_txn_id": "x"}, 0),
            ({"type": "dance"}, 400),
        ]
        for frame, status in bad:
            sent = await stream.send_frame(frame)
            error = one(await collect(stream, has("error", ref=sent)), "error", ref=sent)
            assert 400 <= error["status"] < 500 and error["code"]
            if status:
                assert error["status"] == status

        pinged = await stream.ping()
        assert one(await collect(stream, has("pong", ref=pinged)), "pong", ref=pinged)
        # Still open and still delivering; the retry produced no second message.
        await alice.send(gid, "still here")
        following = await stream.next_event(timeout=TIMEOUT)
        assert (following["body"], following["seq"]) == ("still here", ack["seq"] + 1)
        assert stream.close_codes == [] and stream.duplicates == 0

    # Frames that are not JSON objects are answered too.
    assert bob.token is not None
    async with websockets.connect(
        ws_url(server), additional_headers={"Authorization": f"Bearer {bob.token}"}
    ) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["type"] == "ready"
        for junk, status, code in (
            ("{not json", 400, "malformed_json"),
            (b"\x00binary", 400, "malformed_json"),
            ("[1, 2]", 422, "validation_error"),  # as an HTTP body that is not an object
        ):
            await ws.send(junk)
            error = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            assert (error["type"], error["status"], error["code"]) == ("error", status, code)
        await ws.send(json.dumps({"type": "ping", "ref": "r"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)) == {
            "type": "pong",
            "ref": "r",
        }


# ---- 9. ordering under concurrency --------------------------------------------------------


async def test_concurrent_senders_reach_a_receiver_in_seq_order_without_gaps(
    alice: QunzuClient, users: MakeUser
) -> None:
    senders = [await users(f"sender{i}_") for i in range(5)]
    group = await make_group(alice)
    gid = group["id"]
    for sender in senders:
        await add_member(alice, group, sender)
    async with alice.events() as stream:
        assert stream.ready is not None
        start = stream.ready["cursors"][str(gid)]

        async def post_all(i: int, sender: QunzuClient) -> None:
            for j in range(40):
                await sender.send(gid, f"{i}:{j}")

        await asyncio.gather(*(post_all(i, s) for i, s in enumerate(senders)))
        got = await next_events(stream, 200)
        assert stream.duplicates == 0
    assert_gap_free(got, start)
    assert sorted(e["body"] for e in got) == sorted(f"{i}:{j}" for i in range(5) for j in range(40))
    for i, sender in enumerate(senders):
        mine = [e["body"] for e in got if e["sender_id"] == me(sender)]
        assert mine == [f"{i}:{j}" for j in range(40)]
