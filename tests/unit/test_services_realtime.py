"""Where a live stream starts and what it replays: cursors and history windows."""

from __future__ import annotations

import pytest

from qunzu.domain.errors import Forbidden, InvalidInput, NotFound
from qunzu.services.membership import do_leave
from qunzu.services.messaging import do_send_message
from qunzu.services.realtime import StreamStart, entries_after, parse_since, plan_stream
from tests.fakes import make_ctx
from tests.unit.world import add_member, committed_group, group_of, make_group, refusal, users


def test_parse_since_reads_group_seq_pairs() -> None:
    assert parse_since(None) is None
    assert parse_since("") == {}
    assert parse_since(" 12:40, 15:3 ") == {12: 40, 15: 3}


@pytest.mark.parametrize("raw", ["12", "12:", "a:1", "1:-1", "1:2;3:4"])
def test_parse_since_refuses_malformed_cursors(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_since(raw)
    assert caught.value.code == "invalid_cursor"


async def test_without_a_cursor_every_active_group_starts_live() -> None:
    ctx = make_ctx()
    alice, bob = await users(ctx, "alice", "bob")
    kept = await make_group(ctx, alice, name="kept")
    left = await make_group(ctx, alice, name="left")
    await add_member(ctx, alice, kept.id, bob)
    await add_member(ctx, alice, left.id, bob)
    await do_leave(ctx, bob, left.id)
    last = (await committed_group(ctx, kept.id)).last_seq
    assert await plan_stream(ctx, bob, None) == [StreamStart(kept.id, last, None)]


async def test_a_cursor_resumes_after_it_and_a_group_joined_while_away_replays_from_joining() -> (
    None
):
    ctx = make_ctx()
    [alice, bob], first = await group_of(ctx, "alice", "bob", name="first")
    cursor = (await committed_group(ctx, first.id)).last_seq
    second = await make_group(ctx, alice, name="second")
    await do_send_message(ctx, alice, second.id, "before bob", "b")
    joined = (await add_member(ctx, alice, second.id, bob)).joined_seq
    plan = await plan_stream(ctx, bob, {first.id: cursor})
    assert plan == [StreamStart(first.id, cursor, None), StreamStart(second.id, joined - 1, None)]


async def test_a_cursor_for_a_left_group_replays_up_to_the_leaving() -> None:
    ctx = make_ctx()
    alice, bob = await users(ctx, "alice", "bob")
    group = await make_group(ctx, alice)
    joined = (await add_member(ctx, alice, group.id, bob)).joined_seq
    left = await do_leave(ctx, bob, group.id)
    assert left.left_seq is not None
    await do_send_message(ctx, alice, group.id, "after bob left", "a")
    assert await plan_stream(ctx, bob, {group.id: joined}) == [
        StreamStart(group.id, joined, left.left_seq)
    ]
    assert await plan_stream(ctx, bob, {group.id: left.left_seq}) == []


async def test_a_cursor_for_a_group_never_joined_is_refused() -> None:
    ctx = make_ctx()
    alice, eve = await users(ctx, "alice", "eve")
    group = await make_group(ctx, alice, discoverable=True)
    assert await refusal(plan_stream(ctx, eve, {group.id: 0}), NotFound) == "cursor_not_found"


async def test_a_cursor_past_the_newest_entry_is_refused() -> None:
    ctx = make_ctx()
    (alice,) = await users(ctx, "alice")
    group = await make_group(ctx, alice)
    with pytest.raises(NotFound) as caught:
        await plan_stream(ctx, alice, {group.id: group.last_seq + 1})
    assert caught.value.extra == {"group_id": group.id}


async def test_entries_after_stay_inside_the_members_window() -> None:
    ctx = make_ctx()
    alice, bob = await users(ctx, "alice", "bob")
    group = await make_group(ctx, alice)
    await do_send_message(ctx, alice, group.id, "before bob", "b")
    joined = (await add_member(ctx, alice, group.id, bob)).joined_seq
    left = await do_leave(ctx, bob, group.id)
    assert left.left_seq is not None
    await do_send_message(ctx, alice, group.id, "after bob left", "a")
    seen = await entries_after(ctx, bob.id, group.id, after=0, limit=100)
    assert [e.seq for e in seen] == list(range(joined, left.left_seq + 1))


async def test_entries_after_refuse_a_stranger() -> None:
    ctx = make_ctx()
    alice, eve = await users(ctx, "alice", "eve")
    group = await make_group(ctx, alice)
    with pytest.raises(Forbidden):
        await entries_after(ctx, eve.id, group.id, after=0, limit=100)
