"""Messages through the services: idempotent sends, events after commit, history windows."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from qunzu.domain.clock import FrozenClock
from qunzu.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, QuotaExceeded
from qunzu.domain.models import EntryKind, GroupKind, JoinPolicy
from qunzu.policy import load_rulebooks
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext
from qunzu.services.membership import do_leave, do_remove_member
from qunzu.services.messaging import (
    HistoryPage,
    SendResult,
    do_open_direct,
    do_send_message,
    read_history,
)
from qunzu.services.owner_tools import do_set_slow_mode
from qunzu.services.ports import PostingState
from tests.fakes import CountingObserver, FakePosting, fake_uow, make_ctx
from tests.unit.world import (
    add_member,
    committed_group,
    listen_group,
    make_group,
    register,
    users,
)


async def _chat(ctx: ServiceContext) -> tuple[Actor, Actor, int]:
    """alice owns a group with bob in it."""
    alice, bob = await users(ctx, "alice", "bob")
    group = await make_group(ctx, alice)
    await add_member(ctx, alice, group.id, bob)
    return alice, bob, group.id


async def _messages(ctx: ServiceContext, group_id: int) -> list[str | None]:
    state = fake_uow(ctx).state
    return [
        e.body
        for (g, _), e in sorted(state.timeline.items())
        if g == group_id and e.kind is EntryKind.message
    ]


# ---- sending -------------------------------------------------------------------------------


async def test_a_sent_message_takes_the_groups_next_seq() -> None:
    ctx = make_ctx()
    alice, bob, group_id = await _chat(ctx)
    before = (await committed_group(ctx, group_id)).last_seq
    first = await do_send_message(ctx, alice, group_id, "你好", "t1")
    second = await do_send_message(ctx, bob, group_id, "hi alice", "t1")
    assert first.created and second.created
    assert (first.entry.seq, second.entry.seq) == (before + 1, before + 2)
    assert (first.entry.kind, first.entry.sender_id, first.entry.body) == (
        EntryKind.message,
        alice.id,
        "你好",
    )
    assert await _messages(ctx, group_id) == ["你好", "hi alice"]


async def test_a_retried_send_returns_the_original_and_stores_nothing_new() -> None:
    ctx = make_ctx()
    alice, _, group_id = await _chat(ctx)
    first = await do_send_message(ctx, alice, group_id, "once", "txn-42")
    retry = await do_send_message(ctx, alice, group_id, "once", "txn-42")
    assert not retry.created
    assert retry.entry == first.entry
    assert await _messages(ctx, group_id) == ["once"]
    assert (await committed_group(ctx, group_id)).last_seq == first.entry.seq


async def test_a_retried_send_publishes_no_second_event() -> None:
    ctx = make_ctx()
    alice, _, group_id = await _chat(ctx)
    await do_send_message(ctx, alice, group_id, "once", "txn-42")
    heard = await listen_group(ctx, group_id)
    await do_send_message(ctx, alice, group_id, "once", "txn-42")
    assert heard.frames == []


@pytest.mark.parametrize(("body", "to_other_group"), [("different", False), ("once", True)])
async def test_reusing_a_txn_id_for_another_message_is_refused(
    body: str, to_other_group: bool
) -> None:
    ctx = make_ctx()
    alice, _, group_id = await _chat(ctx)
    other = await make_group(ctx, alice, name="other")
    await do_send_message(ctx, alice, group_id, "once", "txn-42")
    target = other.id if to_other_group else group_id
    with pytest.raises(Conflict) as caught:
        await do_send_message(ctx, alice, target, body, "txn-42")
    assert caught.value.code == "txn_id_reused"
    assert await _messages(ctx, other.id) == []


async def test_two_senders_may_use_the_same_txn_id() -> None:
    ctx = make_ctx()
    alice, bob, group_id = await _chat(ctx)
    await do_send_message(ctx, alice, group_id, "from alice", "same")
    assert (await do_send_message(ctx, bob, group_id, "from bob", "same")).created


@pytest.mark.parametrize(
    ("body", "txn", "code"),
    [
        ("   ", "t1", "empty_message"),
        ("x" * 4001, "t1", "message_too_long"),
        ("a\x00b", "t1", "invalid_text"),
        ("a\ud800b", "t1", "invalid_text"),
        ("hi", "", "invalid_client_txn_id"),
        ("hi", "has space", "invalid_client_txn_id"),
        ("hi", "x" * 65, "invalid_client_txn_id"),
        ("hi", "t1\n", "invalid_client_txn_id"),
    ],
)
async def test_malformed_sends_are_refused(body: str, txn: str, code: str) -> None:
    ctx = make_ctx()
    alice, _, group_id = await _chat(ctx)
    with pytest.raises(InvalidInput) as caught:
        await do_send_message(ctx, alice, group_id, body, txn)
    assert caught.value.code == code


async def test_a_message_of_exactly_the_limit_is_accepted() -> None:
    ctx = make_ctx()
    alice, _, group_id = await _chat(ctx)
    assert (await do_send_message(ctx, alice, group_id, "x" * 4000, "t1")).created


async def test_an_unverified_member_cannot_send() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    bob = await register(ctx, "bob", verified=False)
    group = await make_group(ctx, alice, join_policy=JoinPolicy.open)
    await add_member(ctx, alice, group.id, bob)
    with pytest.raises(Forbidden) as caught:
        await do_send_message(ctx, bob, group.id, "hi", "t1")
    assert caught.value.code == "identity_unverified"


async def test_an_outsider_cannot_send_to_a_group_they_cannot_see() -> None:
    ctx = make_ctx()
    alice, _, group_id = await _chat(ctx)
    eve = await register(ctx, "eve")
    with pytest.raises(NotFound):
        await do_send_message(ctx, eve, group_id, "hi", "t1")
    assert await _messages(ctx, group_id) == []
    assert (await read_history(ctx, alice, group_id)).entries[-1].kind is EntryKind.member_joined


async def test_the_observer_counts_created_messages_only() -> None:
    ctx = make_ctx()
    alice, _, group_id = await _chat(ctx)
    await do_send_message(ctx, alice, group_id, "hi", "t1")
    await do_send_message(ctx, alice, group_id, "hi", "t1")
    assert isinstance(ctx.observer, CountingObserver)
    assert ctx.observer.messages == 1


# ---- events are published only after commit ----------------------------------------------


async def test_a_successful_send_publishes_exactly_its_message_event() -> None:
    ctx = make_ctx()
    alice, _, group_id = await _chat(ctx)
    heard = await listen_group(ctx, group_id)
    sent = await do_send_message(ctx, alice, group_id, "你好", "t1")
    assert heard.frames == [
        {
            "topic": f"group.{group_id}",
            "type": "event",
            "group_id": group_id,
            "seq": sent.entry.seq,
            "kind": "message",
            "sender_id": alice.id,
            "body": "你好",
            "client_txn_id": "t1",
            "data": {},
            "created_at": ctx.clock.now().isoformat(),
        }
    ]


async def test_a_refused_send_publishes_nothing() -> None:
    ctx = make_ctx()
    _, bob, group_id = await _chat(ctx)
    left = await do_leave(ctx, bob, group_id)
    assert left.left_seq is not None
    heard = await listen_group(ctx, group_id)
    with pytest.raises(Forbidden):
        await do_send_message(ctx, bob, group_id, "still here?", "t1")
    assert heard.frames == []
    assert fake_uow(ctx).state.timeline[(group_id, left.left_seq)].kind is EntryKind.member_left


async def test_a_send_whose_commit_fails_publishes_nothing_and_keeps_nothing() -> None:
    ctx = make_ctx()
    alice, _, group_id = await _chat(ctx)
    seq_before = (await committed_group(ctx, group_id)).last_seq
    heard = await listen_group(ctx, group_id)
    fake_uow(ctx).fail_next_commit(Conflict("duplicate", "injected at COMMIT"))
    with pytest.raises(Conflict):
        await do_send_message(ctx, alice, group_id, "lost", "t1")
    assert heard.frames == []
    assert await _messages(ctx, group_id) == []
    assert (await committed_group(ctx, group_id)).last_seq == seq_before
    # The same client_txn_id is free again: nothing of the failed send survived.
    assert (await do_send_message(ctx, alice, group_id, "lost", "t1")).entry.seq == seq_before + 1
    assert [f["body"] for f in heard.frames] == ["lost"]


async def test_a_failed_removal_publishes_nothing_and_a_successful_one_its_entry() -> None:
    ctx = make_ctx()
    alice, bob, group_id = await _chat(ctx)
    heard = await listen_group(ctx, group_id)
    fake_uow(ctx).fail_next_commit(Conflict("duplicate", "injected at COMMIT"))
    with pytest.raises(Conflict):
        await do_remove_member(ctx, alice, group_id, bob.id, "spam")
    assert heard.frames == []
    removed = await do_remove_member(ctx, alice, group_id, bob.id, "spam")
    assert [(f["kind"], f["seq"], f["data"]["account_id"]) for f in heard.frames] == [
        ("member_removed", removed.left_seq, bob.id)
    ]


async def test_events_of_other_groups_are_not_heard() -> None:
    ctx = make_ctx()
    alice, _, group_id = await _chat(ctx)
    other = await make_group(ctx, alice, name="other")
    heard = await listen_group(ctx, group_id)
    await do_send_message(ctx, alice, other.id, "elsewhere", "t1")
    assert heard.frames == []


# ---- history windows ---------------------------------------------------------------------


async def _late_joiner_world(ctx: ServiceContext) -> tuple[Actor, Actor, int, int]:
    """alice talks alone, then bob joins, then both talk. Returns bob's joined_seq."""
    alice, bob = await users(ctx, "alice", "bob")
    group = await make_group(ctx, alice)
    for i in range(3):
        await do_send_message(ctx, alice, group.id, f"before {i}", f"b{i}")
    joined = (await add_member(ctx, alice, group.id, bob)).joined_seq
    await do_send_message(ctx, alice, group.id, "welcome bob", "w")
    await do_send_message(ctx, bob, group.id, "thanks", "t")
    return alice, bob, group.id, joined


async def test_a_late_joiner_sees_history_from_their_joining_on() -> None:
    ctx = make_ctx()
    alice, bob, group_id, joined = await _late_joiner_world(ctx)
    page = await read_history(ctx, bob, group_id)
    assert page.first_visible_seq == joined
    assert page.last_visible_seq == (await committed_group(ctx, group_id)).last_seq
    assert [e.seq for e in page.entries] == [joined, joined + 1, joined + 2]
    assert page.entries[0].kind is EntryKind.member_joined
    assert [e.body for e in page.entries[1:]] == ["welcome bob", "thanks"]
    everything = await read_history(ctx, alice, group_id)
    assert [e.seq for e in everything.entries] == list(range(1, joined + 3))


async def test_a_late_joiner_reading_after_zero_starts_at_their_joining() -> None:
    ctx = make_ctx()
    _, bob, group_id, joined = await _late_joiner_world(ctx)
    page = await read_history(ctx, bob, group_id, after=0, limit=2)
    assert [e.seq for e in page.entries] == [joined, joined + 1]


async def test_a_late_joiner_paging_backwards_stops_at_their_joining() -> None:
    ctx = make_ctx()
    _, bob, group_id, joined = await _late_joiner_world(ctx)
    newest = await read_history(ctx, bob, group_id, limit=2)
    assert [e.seq for e in newest.entries] == [joined + 1, joined + 2]
    older = await read_history(ctx, bob, group_id, before=newest.entries[0].seq, limit=2)
    assert [e.seq for e in older.entries] == [joined]
    assert await read_history(ctx, bob, group_id, before=joined, limit=2) == HistoryPage(
        [], joined, older.last_visible_seq
    )


async def test_a_former_member_sees_history_up_to_their_leaving_only() -> None:
    ctx = make_ctx()
    alice, bob, group_id, joined = await _late_joiner_world(ctx)
    left = await do_leave(ctx, bob, group_id)
    await do_send_message(ctx, alice, group_id, "after bob left", "a")
    page = await read_history(ctx, bob, group_id)
    assert (page.first_visible_seq, page.last_visible_seq) == (joined, left.left_seq)
    assert page.entries[-1].kind is EntryKind.member_left
    assert "after bob left" not in [e.body for e in page.entries]
    assert [
        e.seq for e in (await read_history(ctx, bob, group_id, after=left.left_seq)).entries
    ] == []


async def test_an_outsider_of_a_discoverable_group_cannot_read_its_history() -> None:
    ctx = make_ctx()
    alice, eve = await users(ctx, "alice", "eve")
    group = await make_group(ctx, alice, discoverable=True)
    with pytest.raises(Forbidden) as caught:
        await read_history(ctx, eve, group.id)
    assert caught.value.code == "not_a_member"


@pytest.mark.parametrize(
    "cursor",
    [
        {"after": 1, "before": 3},
        {"after": -1},
        {"after": 999},
        {"before": 0},
        {"before": 999},
        {"limit": 0},
        {"limit": 201},
    ],
)
async def test_invalid_history_cursors_are_refused(cursor: dict[str, int]) -> None:
    ctx = make_ctx()
    alice, _, group_id = await _chat(ctx)
    with pytest.raises(InvalidInput):
        await read_history(ctx, alice, group_id, **cursor)


# ---- direct conversations ------------------------------------------------------------------


async def test_opening_a_direct_conversation_twice_returns_the_same_one() -> None:
    ctx = make_ctx()
    alice, bob = await users(ctx, "alice", "bob")
    first = await do_open_direct(ctx, alice, "bob")
    again = await do_open_direct(ctx, bob, "ALICE")
    assert first.id == again.id
    assert first.kind is GroupKind.direct and first.owner_id is None
    assert first.member_count == 2
    assert (await do_send_message(ctx, bob, first.id, "hi", "t1")).created
    async with ctx.uow(write=False) as uow:
        members = await uow.memberships.active_account_ids(first.id)
    assert sorted(members) == sorted([alice.id, bob.id])


async def test_a_direct_conversation_needs_another_existing_account() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    with pytest.raises(InvalidInput):
        await do_open_direct(ctx, alice, "alice")
    with pytest.raises(NotFound):
        await do_open_direct(ctx, alice, "nobody")
    assert fake_uow(ctx).state.groups == {}


async def test_a_retry_that_raced_its_original_gets_the_original_not_a_conflict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx = make_ctx()
    _, bob, group_id = await _chat(ctx)
    first = await do_send_message(ctx, bob, group_id, "hi", "race-1")
    sent_before = fake_uow(ctx).state.timeline.copy()

    # The race made deterministic: the retry's posting read saw the id as unused (the
    # original had not committed yet), so its insert meets the unique (sender,
    # client_txn_id); the read after that sees the original.
    real_load = FakePosting.load
    reads = 0

    async def stale_load(self: FakePosting, *args: Any) -> PostingState | None:
        nonlocal reads
        reads += 1
        state = await real_load(self, *args)
        stale = reads % 2 == 1  # each send's first read
        return replace(state, previous=None) if state is not None and stale else state

    monkeypatch.setattr(FakePosting, "load", stale_load)
    again = await do_send_message(ctx, bob, group_id, "hi", "race-1")
    assert not again.created and again.entry == first.entry
    assert fake_uow(ctx).state.timeline == sent_before  # nothing stored twice
    with pytest.raises(Conflict) as reused:
        await do_send_message(ctx, bob, group_id, "another text", "race-1")
    assert reused.value.code == "txn_id_reused"


# ---- last activity (Art. 7) ------------------------------------------------------------------


async def test_rapid_messages_write_the_senders_activity_once_a_minute() -> None:
    clock = FrozenClock()
    ctx = make_ctx(clock=clock)
    _, bob, group_id = await _chat(ctx)
    await do_send_message(ctx, bob, group_id, "one", "a1")
    first = fake_uow(ctx).state.member_activity[(group_id, bob.id)]
    clock.advance(timedelta(seconds=59))
    await do_send_message(ctx, bob, group_id, "two", "a2")
    assert fake_uow(ctx).state.member_activity[(group_id, bob.id)] == first
    clock.advance(timedelta(seconds=1))
    await do_send_message(ctx, bob, group_id, "three", "a3")
    assert fake_uow(ctx).state.member_activity[(group_id, bob.id)] == first + timedelta(seconds=60)
    assert fake_uow(ctx).state.group_activity[group_id].last_activity_at == first + timedelta(
        seconds=60
    )


async def test_under_slow_mode_every_message_writes_the_senders_activity() -> None:
    clock = FrozenClock()
    ctx = make_ctx(clock=clock)
    alice, bob, group_id = await _chat(ctx)
    await do_send_message(ctx, bob, group_id, "before", "s1")  # noted: the minute starts
    await do_set_slow_mode(ctx, alice, group_id, 10)
    clock.advance(timedelta(seconds=11))
    await do_send_message(ctx, bob, group_id, "first under slow mode", "s2")
    assert fake_uow(ctx).state.member_activity[(group_id, bob.id)] == clock.now()
    clock.advance(timedelta(seconds=5))
    with pytest.raises(QuotaExceeded) as refused:
        await do_send_message(ctx, bob, group_id, "too soon", "s3")
    assert refused.value.code == "slow_mode"


# ---- messages per minute, counted with the send ------------------------------------------------


def _yield_at_the_posting_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each send pauses at its posting read, as a database driver does (asyncpg), so that
    concurrent sends are all in flight together."""
    real_load = FakePosting.load

    async def yielding_load(self: FakePosting, *args: Any) -> PostingState | None:
        await asyncio.sleep(0)  # a yield to the loop, not a wait: the clock does not move
        return await real_load(self, *args)

    monkeypatch.setattr(FakePosting, "load", yielding_load)


async def test_fifty_concurrent_sends_one_under_the_rate_limit_let_exactly_one_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx = make_ctx(rulebooks=load_rulebooks())  # the packaged quotas
    _, bob, group_id = await _chat(ctx)
    limit = ctx.rulebooks.latest.credit.level(bob.level).quotas.messages_per_minute
    for i in range(limit - 1):
        await do_send_message(ctx, bob, group_id, f"before {i}", f"b{i}")
    _yield_at_the_posting_read(monkeypatch)
    results = await asyncio.gather(
        *(do_send_message(ctx, bob, group_id, f"burst {i}", f"c{i}") for i in range(50)),
        return_exceptions=True,
    )
    created = [r for r in results if isinstance(r, SendResult)]
    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    assert (len(created), len(refused)) == (1, 49), results
    assert {r.extra["quota"] for r in refused} == {"messages_per_minute"}
    assert len(await _messages(ctx, group_id)) == limit


async def test_a_send_that_fails_after_its_rate_check_gives_its_slot_back() -> None:
    ctx = make_ctx(rulebooks=load_rulebooks())
    _, bob, group_id = await _chat(ctx)
    limit = ctx.rulebooks.latest.credit.level(bob.level).quotas.messages_per_minute
    for i in range(limit - 1):
        await do_send_message(ctx, bob, group_id, f"before {i}", f"b{i}")
    fake_uow(ctx).fail_next_commit(Conflict("duplicate", "injected at COMMIT"))
    with pytest.raises(Conflict):
        await do_send_message(ctx, bob, group_id, "lost", "lost-1")
    assert (await do_send_message(ctx, bob, group_id, "the last one", "last")).created
    with pytest.raises(QuotaExceeded):
        await do_send_message(ctx, bob, group_id, "one too many", "over")


async def test_a_retry_takes_no_slot_of_the_rate_limit() -> None:
    ctx = make_ctx(rulebooks=load_rulebooks())
    _, bob, group_id = await _chat(ctx)
    limit = ctx.rulebooks.latest.credit.level(bob.level).quotas.messages_per_minute
    for i in range(limit):
        await do_send_message(ctx, bob, group_id, f"m {i}", f"m{i}")
    retried = await do_send_message(ctx, bob, group_id, "m 0", "m0")
    assert not retried.created
