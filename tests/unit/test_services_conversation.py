"""Replies, mentions, @all, recall, pins, group nicknames and counts, over the fakes."""

from __future__ import annotations

import itertools
from datetime import timedelta

from qunzu.domain.clock import FrozenClock
from qunzu.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from qunzu.domain.models import JoinPolicy, PlatformRole
from qunzu.domain.reports import Decision, TargetKind
from qunzu.services.actor import SYSTEM, Actor
from qunzu.services.context import ServiceContext
from qunzu.services.conversation import (
    do_pin_message,
    do_recall_message,
    do_set_nickname,
    do_unpin_message,
    list_pins,
    my_counts,
    purge_recalled,
)
from qunzu.services.membership import do_leave
from qunzu.services.messaging import do_send_message, read_history
from qunzu.services.owner_tools import do_appoint_admin, do_mark_read, do_remove_message
from qunzu.services.records import regulator_rows
from qunzu.services.reports import do_file_report
from qunzu.services.review import do_decide_case, open_case_file
from qunzu.services.threads import References
from tests.fakes import frozen_clock, make_ctx
from tests.unit.test_services_reports import blacklist, friends_group, report_message, staff
from tests.unit.world import add_member, group_of, listen_account, listen_group, refusal, register

_txn = itertools.count(1)


async def say(ctx: ServiceContext, actor: Actor, group_id: int, body: str, **refs: object) -> int:
    sent = await do_send_message(
        ctx,
        actor,
        group_id,
        body,
        f"t{next(_txn)}",
        refs=References(**refs),  # type: ignore[arg-type]
    )
    return sent.entry.seq


async def shown(ctx: ServiceContext, actor: Actor, group_id: int, seq: int) -> dict[str, object]:
    page = await read_history(ctx, actor, group_id, after=seq - 1, limit=1)
    entry = page.entries[0]
    return {"body": entry.body, **entry.data}


# ---- replies ------------------------------------------------------------------------------


async def test_a_reply_quotes_its_originals_author_and_an_excerpt() -> None:
    ctx = make_ctx()
    [a, b], group = await group_of(ctx, "ann", "bob")
    original = await say(ctx, a, group.id, "dinner at seven " + "x" * 200)
    reply = await say(ctx, b, group.id, "yes", reply_to=original)
    quote = (await shown(ctx, a, group.id, reply))["quote"]
    assert isinstance(quote, dict)
    assert quote["sender_id"] == a.id and quote["state"] == "shown"
    assert str(quote["excerpt"]).startswith("dinner at seven") and len(str(quote["excerpt"])) == 60


async def test_a_reply_to_a_removed_or_recalled_message_shows_a_placeholder_not_the_text() -> None:
    ctx = make_ctx()
    [a, b], group = await group_of(ctx, "ann", "bob")
    first = await say(ctx, b, group.id, "secret one")
    second = await say(ctx, b, group.id, "secret two")
    r1 = await say(ctx, a, group.id, "re 1", reply_to=first)
    r2 = await say(ctx, a, group.id, "re 2", reply_to=second)
    await do_remove_message(ctx, a, group.id, first, "off topic")
    await do_recall_message(ctx, b, group.id, second)
    q1, q2 = (
        (await shown(ctx, b, group.id, r1))["quote"],
        (await shown(ctx, b, group.id, r2))["quote"],
    )
    assert q1 == {"seq": first, "sender_id": b.id, "state": "removed"}
    assert q2 == {"seq": second, "sender_id": b.id, "state": "recalled"}


async def test_a_reply_target_must_be_a_message_of_this_group_in_the_senders_window() -> None:
    ctx = make_ctx()
    [a, b], group = await group_of(ctx, "ann", "bob")
    [c], other = await group_of(ctx, "cat")
    for _ in range(9):
        await say(ctx, c, other.id, "x")
    # seq 9 exists in the other group only: it names nothing here.
    elsewhere = await say(ctx, c, other.id, "x")
    here = await say(ctx, a, group.id, "y")
    assert here < elsewhere
    assert await refusal(say(ctx, a, group.id, "r", reply_to=elsewhere), NotFound) == (
        "reply_target_not_found"
    )
    missing = here + 50
    assert await refusal(say(ctx, a, group.id, "r", reply_to=missing), NotFound) == (
        "reply_target_not_found"
    )
    # A message from before the sender joined is outside their window.
    [owner], g2 = await group_of(ctx, "own2", join_policy=JoinPolicy.open, discoverable=True)
    early = await say(ctx, owner, g2.id, "before you came")
    await add_member(ctx, owner, g2.id, b)
    assert await refusal(say(ctx, b, g2.id, "r", reply_to=early), NotFound) == (
        "reply_target_not_found"
    )


async def test_replying_to_you_is_a_notice_addressed_to_you() -> None:
    ctx = make_ctx()
    [a, b], group = await group_of(ctx, "ann", "bob")
    heard = await listen_account(ctx, a.id)
    original = await say(ctx, a, group.id, "question?")
    reply = await say(ctx, b, group.id, "answer", reply_to=original)
    assert [f for f in heard.frames if f["kind"] == "replied"] == [
        {
            "topic": f"account.{a.id}",
            "type": "notice",
            "kind": "replied",
            "recipient": a.id,
            "group_id": group.id,
            "seq": reply,
            "reply_to": original,
            "by": b.id,
        }
    ]


# ---- mentions -----------------------------------------------------------------------------


async def test_mentions_are_notices_and_counted_until_read() -> None:
    ctx = make_ctx()
    [a, b, c], group = await group_of(ctx, "ann", "bob", "cat")
    heard = await listen_account(ctx, b.id)
    seq = await say(ctx, a, group.id, "@b look", mentions=[b.id, b.id, a.id])
    assert [f["seq"] for f in heard.frames if f["kind"] == "mentioned"] == [seq]
    assert (await my_counts(ctx, b))[group.id].mentions == 1
    assert (await my_counts(ctx, c))[group.id].mentions == 0
    await do_mark_read(ctx, b, group.id, seq)
    counts = (await my_counts(ctx, b))[group.id]
    assert (counts.unread, counts.mentions) == (0, 0)


async def test_only_current_members_can_be_mentioned() -> None:
    ctx = make_ctx()
    [a, _b, c], group = await group_of(ctx, "ann", "bob", "cat")
    await do_leave(ctx, c, group.id)
    assert await refusal(say(ctx, a, group.id, "hi", mentions=[c.id]), InvalidInput) == (
        "mention_not_member"
    )
    assert await refusal(say(ctx, a, group.id, "hi", mentions=[987654]), InvalidInput) == (
        "mention_not_member"
    )


async def test_mention_all_needs_the_right_and_is_limited_per_day() -> None:
    clock = FrozenClock()
    ctx = make_ctx(clock)
    [owner, admin, member], group = await group_of(ctx, "owner", "admin", "member")
    assert await refusal(say(ctx, member, group.id, "all!", mention_all=True), Forbidden) == (
        "right_required"
    )
    await do_appoint_admin(ctx, owner, group.id, admin.id, ["mute"])
    assert await refusal(say(ctx, admin, group.id, "all!", mention_all=True), Forbidden) == (
        "right_required"
    )
    await do_appoint_admin(ctx, owner, group.id, admin.id, ["mention_all"])
    cap = ctx.rulebooks.in_force(clock.now()).conversation.mention_all_per_day
    for _ in range(cap):
        await say(ctx, admin, group.id, "all!", mention_all=True)
    assert await refusal(say(ctx, admin, group.id, "again", mention_all=True), Conflict) == (
        "mention_all_limit"
    )
    assert (await my_counts(ctx, member))[group.id].mentions == cap
    assert (await my_counts(ctx, admin))[group.id].mentions == 0  # one's own @all
    clock.advance(timedelta(days=1))
    await say(ctx, admin, group.id, "next day", mention_all=True)


# ---- recall -------------------------------------------------------------------------------


async def test_recall_within_the_window_shows_recalled_and_keeps_the_text_as_evidence() -> None:
    ctx = make_ctx()
    [a, b], group = await group_of(ctx, "ann", "bob")
    events = await listen_group(ctx, group.id)
    seq = await say(ctx, b, group.id, "wrong group, sorry")
    await do_recall_message(ctx, b, group.id, seq)
    seen = await shown(ctx, a, group.id, seq)
    assert seen["body"] is None and "recalled" in seen
    assert events.kinds()[-1] == "message_recalled" and events.frames[-1]["data"] == {"seq": seq}
    async with ctx.uow(write=False) as uow:
        assert await uow.conversation.recalled_body(group.id, seq) == "wrong group, sorry"


async def test_recall_refusals_late_twice_and_someone_elses() -> None:
    clock = FrozenClock()
    ctx = make_ctx(clock)
    [a, b], group = await group_of(ctx, "ann", "bob")
    seq = await say(ctx, b, group.id, "hello")
    assert await refusal(do_recall_message(ctx, a, group.id, seq), Forbidden) == "not_your_message"
    late = await say(ctx, b, group.id, "late")
    clock.advance(timedelta(seconds=121))
    assert await refusal(do_recall_message(ctx, b, group.id, late), Conflict) == (
        "recall_window_passed"
    )
    fresh = await say(ctx, b, group.id, "twice")
    await do_recall_message(ctx, b, group.id, fresh)
    assert await refusal(do_recall_message(ctx, b, group.id, fresh), Conflict) == (
        "message_already_recalled"
    )


async def test_a_message_reported_before_recall_keeps_its_evidence_whole() -> None:
    ctx = make_ctx()
    [a, b], group = await group_of(ctx, "ann", "bob")
    seq = await say(ctx, b, group.id, "an insult")
    receipt = await do_file_report(
        ctx, a, group.id, TargetKind.message, "insult-defamation", "rude", seq=seq
    )
    await do_recall_message(ctx, b, group.id, seq)
    async with ctx.uow(write=False) as uow:
        evidence = await uow.reports.evidence(receipt.case.id)
    assert [(e.seq, e.body) for e in evidence if e.reported] == [(seq, "an insult")]


async def test_a_message_reported_after_recall_has_the_kept_text_as_evidence() -> None:
    ctx = make_ctx()
    [a, b], group = await group_of(ctx, "ann", "bob")
    seq = await say(ctx, b, group.id, "an insult")
    await do_recall_message(ctx, b, group.id, seq)
    receipt = await do_file_report(
        ctx, a, group.id, TargetKind.message, "insult-defamation", "rude", seq=seq
    )
    async with ctx.uow(write=False) as uow:
        evidence = await uow.reports.evidence(receipt.case.id)
    assert [(e.seq, e.body) for e in evidence if e.reported] == [(seq, "an insult")]


async def test_recalled_text_is_purged_after_the_retention_period() -> None:
    clock = FrozenClock()
    ctx = make_ctx(clock)
    [_a, b], group = await group_of(ctx, "ann", "bob")
    seq = await say(ctx, b, group.id, "gone later")
    await do_recall_message(ctx, b, group.id, seq)
    days = ctx.rulebooks.in_force(clock.now()).conversation.recalled_retention_days
    clock.advance(timedelta(days=days - 1))
    assert await purge_recalled(ctx) == 0
    clock.advance(timedelta(days=1))
    assert await purge_recalled(ctx) == 1


async def test_a_reported_reply_brings_its_original_into_the_evidence() -> None:
    ctx = make_ctx()
    [a, b, c], group = await group_of(
        ctx, "ann", "bob", "cat", join_policy=JoinPolicy.open, discoverable=True
    )
    original = await say(ctx, a, group.id, "the original")
    for i in range(12):
        await say(ctx, a, group.id, f"filler {i}")
    reply = await say(ctx, b, group.id, "nasty reply", reply_to=original)
    receipt = await do_file_report(
        ctx, c, group.id, TargetKind.message, "insult-defamation", "rude", seq=reply
    )
    async with ctx.uow(write=False) as uow:
        evidence = {e.seq: e for e in await uow.reports.evidence(receipt.case.id)}
    assert evidence[original].body == "the original" and not evidence[original].reported
    assert evidence[reply].reported


# ---- pins ---------------------------------------------------------------------------------


async def test_pins_need_the_right_are_capped_and_drop_withdrawn_messages() -> None:
    clock = FrozenClock()
    ctx = make_ctx(clock)
    [owner, member], group = await group_of(ctx, "owner", "member")
    cap = ctx.rulebooks.in_force(clock.now()).conversation.pins_per_group
    seqs = [await say(ctx, member, group.id, f"m{i}") for i in range(cap + 1)]
    assert await refusal(do_pin_message(ctx, member, group.id, seqs[0]), Forbidden) == (
        "right_required"
    )
    for s in seqs[:cap]:
        await do_pin_message(ctx, owner, group.id, s)
    assert await refusal(do_pin_message(ctx, owner, group.id, seqs[cap]), Conflict) == "pin_limit"
    assert await refusal(do_pin_message(ctx, owner, group.id, seqs[0]), Conflict) == (
        "already_pinned"
    )
    await do_recall_message(ctx, member, group.id, seqs[0])
    await do_remove_message(ctx, owner, group.id, seqs[1], "spam")
    await do_unpin_message(ctx, owner, group.id, seqs[2])
    assert [p.entry.seq for p in await list_pins(ctx, member, group.id)] == seqs[3:cap]
    assert await refusal(do_unpin_message(ctx, owner, group.id, seqs[2]), NotFound) == "not_pinned"


# ---- nicknames ----------------------------------------------------------------------------


async def test_a_group_nickname_shows_beside_the_senders_messages_in_that_group_only() -> None:
    ctx = make_ctx()
    [a, b], group = await group_of(ctx, "ann", "bob")
    [c], other = await group_of(ctx, "cat")
    await add_member(ctx, c, other.id, b)
    assert await do_set_nickname(ctx, b, group.id, "  二姐  ") == "二姐"
    seq = await say(ctx, b, group.id, "hi")
    assert (await shown(ctx, a, group.id, seq))["sender_nickname"] == "二姐"
    there = await say(ctx, b, other.id, "hi")
    assert "sender_nickname" not in await shown(ctx, c, other.id, there)
    assert await do_set_nickname(ctx, b, group.id, "") is None
    assert "sender_nickname" not in await shown(ctx, a, group.id, seq)


async def test_a_nickname_with_a_bidi_override_or_too_long_is_refused() -> None:
    ctx = make_ctx()
    [a], group = await group_of(ctx, "ann")
    for bad in ("evil\u202egnp", "x" * 33, "nul\x00", "zero\u200bwidth"):
        assert await refusal(do_set_nickname(ctx, a, group.id, bad), InvalidInput) == (
            "invalid_nickname"
        )


# ---- counts -------------------------------------------------------------------------------


async def test_counts_follow_the_read_cursor_which_only_moves_forward() -> None:
    ctx = make_ctx()
    [a, b], group = await group_of(ctx, "ann", "bob")
    seqs = [await say(ctx, a, group.id, f"m{i}", mentions=[b.id]) for i in range(4)]
    assert (await my_counts(ctx, b))[group.id].mentions == 4
    assert await do_mark_read(ctx, b, group.id, seqs[2]) == seqs[2]
    assert await do_mark_read(ctx, b, group.id, seqs[0]) == seqs[2]  # out of order: ignored
    assert await do_mark_read(ctx, b, group.id, seqs[2]) == seqs[2]  # duplicate
    counts = (await my_counts(ctx, b))[group.id]
    assert (counts.unread, counts.mentions, counts.read_seq) == (1, 1, seqs[2])


# ---- governance: removals, case files and the regulator export ----------------------------


async def test_a_recalled_reply_reported_afterwards_reaches_the_case_file_and_the_export() -> None:
    ctx = make_ctx()
    owner, offender, reporter = [await register(ctx, h) for h in ("gowner", "goff", "grep")]
    group = await friends_group(ctx, owner, offender, reporter, public=True)
    original = await say(ctx, reporter, group.id, "my question")
    reply = await say(ctx, offender, group.id, "you are an idiot", reply_to=original)
    await do_recall_message(ctx, offender, group.id, reply)
    receipt = await report_message(ctx, reporter, group.id, reply)
    reviewer = await staff(ctx, "grev", PlatformRole.reviewer)
    case_file = await open_case_file(ctx, reviewer, receipt.case.id)
    evidence = {e.seq: e for e in case_file.evidence}
    assert evidence[reply].body == "you are an idiot" and evidence[reply].reported
    assert evidence[original].body == "my question" and not evidence[original].reported
    now = frozen_clock(ctx).now()
    await do_decide_case(ctx, reviewer, receipt.case.id, Decision.violation, [blacklist()])
    rows = await regulator_rows(ctx, now - timedelta(hours=1), now + timedelta(hours=1), SYSTEM)
    assert [(r["case_id"], r["measure"], r["account_id"]) for r in rows] == [
        (receipt.case.id, "blacklist", offender.id)
    ]


async def test_a_manager_removes_a_reply_and_cannot_remove_a_recalled_message() -> None:
    ctx = make_ctx()
    [owner, member], group = await group_of(ctx, "owner", "member")
    original = await say(ctx, owner, group.id, "rules: be kind")
    reply = await say(ctx, member, group.id, "spam reply", reply_to=original)
    await do_remove_message(ctx, owner, group.id, reply, "spam")
    seen = await shown(ctx, member, group.id, reply)
    assert seen["body"] is None and "quote" in seen  # the quote of the original stays
    recalled = await say(ctx, member, group.id, "oops")
    await do_recall_message(ctx, member, group.id, recalled)
    assert await refusal(do_remove_message(ctx, owner, group.id, recalled, "x"), Conflict) == (
        "message_already_removed"
    )
    async with ctx.uow(write=False) as uow:
        assert await uow.conversation.recalled_body(group.id, recalled) == "oops"
