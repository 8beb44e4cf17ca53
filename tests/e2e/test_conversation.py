"""Conversation on a real server with a frozen clock: replies, mentions and @all, recall,
pins, group nicknames, unread and mention counts; each route's bad input."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from qunzu.client import QunzuClient
from tests.factories import (
    People,
    account_id,
    add_member,
    clock_of,
    collect,
    group_with,
    refused,
)
from tests.server import ServerThread


async def trio(people: People) -> tuple[QunzuClient, QunzuClient, QunzuClient, dict[str, Any]]:
    owner, ann, bob = [await people.user(h) for h in ("owner", "ann", "bob")]
    return owner, ann, bob, await group_with(owner, ann, bob)


async def entry(client: QunzuClient, gid: int, seq: int) -> dict[str, Any]:
    page = await client.history(gid, after=seq - 1, limit=1)
    got: dict[str, Any] = page["entries"][0]
    return got


# ---- replies ------------------------------------------------------------------------------


async def test_a_reply_carries_a_quote_when_sent_and_when_read(people: People) -> None:
    owner, ann, _bob, group = await trio(people)
    gid = group["id"]
    original = await ann.send(gid, "晚饭吃什么？")
    reply = await owner.send(gid, "饺子", reply_to=original["seq"])
    quote = {
        "seq": original["seq"],
        "sender_id": account_id(ann),
        "state": "shown",
        "excerpt": "晚饭吃什么？",
    }
    assert reply["data"]["reply_to"] == original["seq"] and reply["data"]["quote"] == quote
    assert (await entry(ann, gid, reply["seq"]))["data"]["quote"] == quote


async def test_a_reply_to_a_message_of_another_group_or_outside_the_window_is_404(
    people: People,
) -> None:
    owner, ann, bob, group = await trio(people)
    other = await group_with(owner, ann)
    for _ in range(5):
        await ann.send(other["id"], "filler")
    elsewhere = await ann.send(other["id"], "in the other group")
    err = await refused(bob.send(group["id"], "re", reply_to=elsewhere["seq"]))
    assert (err.status, err.code) == (404, "reply_target_not_found")
    # bob joins the other group late: its earlier messages are outside his window.
    await add_member(owner, other, bob)
    err = await refused(bob.send(other["id"], "re", reply_to=elsewhere["seq"]))
    assert (err.status, err.code) == (404, "reply_target_not_found")


async def test_malformed_conversation_fields_are_422(people: People) -> None:
    _owner, ann, _bob, group = await trio(people)
    for bad in (
        {"reply_to": 0},
        {"reply_to": "x"},
        {"mentions": [0]},
        {"mentions": "bob"},
        {"mentions": list(range(1, 502))},
        {"mention_all": "maybe"},
        {"mentioned": [1]},
    ):
        err = await refused(
            ann.request(
                "POST",
                f"/v1/groups/{group['id']}/messages",
                json={"body": "x", "client_txn_id": "t-bad", **bad},
            )
        )
        assert err.status == 422, bad


# ---- mentions -----------------------------------------------------------------------------


async def test_a_mention_is_a_notice_and_counts_in_my_groups_until_read(people: People) -> None:
    _owner, ann, bob, group = await trio(people)
    gid = group["id"]
    async with bob.events() as stream:
        sent = await ann.send(gid, "@bob 开会", mentions=[account_id(bob)])
        frames = await collect(stream, lambda fs: any(f.get("kind") == "mentioned" for f in fs))
    notice = next(f for f in frames if f.get("kind") == "mentioned")
    assert (notice["group_id"], notice["seq"], notice["by"]) == (gid, sent["seq"], account_id(ann))
    mine = {g["id"]: g for g in await bob.my_groups()}
    assert mine[gid]["mentions"] == 1 and mine[gid]["unread"] >= 1
    await bob.mark_read(gid, sent["seq"])
    mine = {g["id"]: g for g in await bob.my_groups()}
    assert (mine[gid]["unread"], mine[gid]["mentions"]) == (0, 0)


async def test_mentioning_a_non_member_is_400_and_at_all_needs_the_right(
    people: People,
) -> None:
    owner, ann, _bob, group = await trio(people)
    stranger = await people.user("stranger")
    err = await refused(ann.send(group["id"], "hey", mentions=[account_id(stranger)]))
    assert (err.status, err.code) == (400, "mention_not_member")
    err = await refused(ann.send(group["id"], "everyone!", mention_all=True))
    assert (err.status, err.code, err.problem["right"]) == (403, "right_required", "mention_all")
    for _ in range(3):
        await owner.send(group["id"], "all hands", mention_all=True)
    err = await refused(owner.send(group["id"], "again", mention_all=True))
    assert (err.status, err.code) == (409, "mention_all_limit")


async def test_the_ready_frame_carries_unread_and_mention_counts(people: People) -> None:
    _owner, ann, bob, group = await trio(people)
    gid = group["id"]
    await ann.send(gid, "one", mentions=[account_id(bob)])
    await ann.send(gid, "two")
    async with bob.events() as stream:
        ready = stream.ready
    assert ready is not None
    counts = ready["counts"][str(gid)]
    assert counts["mentions"] == 1 and counts["unread"] >= 2


# ---- recall -------------------------------------------------------------------------------


async def test_recall_shows_recalled_to_members_and_refuses_late_twice_and_others(
    people: People, clocked_server: ServerThread
) -> None:
    _owner, ann, bob, group = await trio(people)
    gid = group["id"]
    sent = await ann.send(gid, "wrong group")
    err = await refused(bob.recall(gid, sent["seq"]))
    assert (err.status, err.code) == (403, "not_your_message")
    await ann.recall(gid, sent["seq"])
    seen = await entry(bob, gid, sent["seq"])
    assert seen["body"] is None and "recalled" in seen["data"]
    err = await refused(ann.recall(gid, sent["seq"]))
    assert (err.status, err.code) == (409, "message_already_recalled")
    late = await ann.send(gid, "too late")
    clock_of(clocked_server).advance(timedelta(seconds=121))
    err = await refused(ann.recall(gid, late["seq"]))
    assert (err.status, err.code) == (409, "recall_window_passed")
    err = await refused(ann.recall(gid, late["seq"] + 100))
    assert (err.status, err.code) == (404, "message_not_found")


async def test_a_recall_is_an_event_on_open_streams(people: People) -> None:
    _owner, ann, bob, group = await trio(people)
    gid = group["id"]
    async with bob.events() as stream:
        sent = await ann.send(gid, "oops")
        await ann.recall(gid, sent["seq"])
        frames = await collect(
            stream, lambda fs: any(f.get("kind") == "message_recalled" for f in fs)
        )
    recalled = next(f for f in frames if f.get("kind") == "message_recalled")
    assert recalled["data"] == {"seq": sent["seq"]}


# ---- pins and nicknames -------------------------------------------------------------------


async def test_pins_by_the_owner_are_listed_capped_and_refused_to_members(people: People) -> None:
    owner, ann, _bob, group = await trio(people)
    gid = group["id"]
    seqs = [(await ann.send(gid, f"m{i}"))["seq"] for i in range(11)]
    err = await refused(ann.pin(gid, seqs[0]))
    assert (err.status, err.code) == (403, "right_required")
    for s in seqs[:10]:
        await owner.pin(gid, s)
    err = await refused(owner.pin(gid, seqs[10]))
    assert (err.status, err.code) == (409, "pin_limit")
    err = await refused(owner.pin(gid, seqs[0]))
    assert (err.status, err.code) == (409, "already_pinned")
    await owner.unpin(gid, seqs[0])
    err = await refused(owner.unpin(gid, seqs[0]))
    assert (err.status, err.code) == (404, "not_pinned")
    await owner.remove_message(gid, seqs[1], "spam")
    assert [p["entry"]["seq"] for p in await ann.pins(gid)] == seqs[2:10]


async def test_a_nickname_shows_in_history_and_bad_ones_are_400(people: People) -> None:
    _owner, ann, bob, group = await trio(people)
    gid = group["id"]
    assert (await ann.set_nickname(gid, "小安"))["nickname"] == "小安"
    sent = await ann.send(gid, "hi")
    assert (await entry(bob, gid, sent["seq"]))["data"]["sender_nickname"] == "小安"
    assert await bob.nicknames(gid, [account_id(ann), account_id(bob)]) == {
        str(account_id(ann)): "小安"
    }
    for bad in ("evil\u202egnp", "x" * 33, "a\u2066b"):
        err = await refused(ann.set_nickname(gid, bad))
        assert (err.status, err.code) == (400, "invalid_nickname"), bad
    err = await refused(ann.set_nickname(gid, "nul\x00"))
    assert err.status == 422


async def test_read_cursors_ignore_duplicates_and_out_of_order_and_refuse_the_future(
    people: People,
) -> None:
    _owner, ann, bob, group = await trio(people)
    gid = group["id"]
    seqs = [(await ann.send(gid, f"m{i}"))["seq"] for i in range(3)]
    assert (await bob.mark_read(gid, seqs[1]))["seq"] == seqs[1]
    assert (await bob.mark_read(gid, seqs[1]))["seq"] == seqs[1]
    assert (await bob.mark_read(gid, seqs[0]))["seq"] == seqs[1]
    err = await refused(bob.mark_read(gid, seqs[2] + 10))
    assert (err.status, err.code) == (400, "invalid_cursor")
