"""Leaving and rejoining: each of a member's own membership periods stays readable to them
and reportable, and the gaps between them stay invisible."""

from __future__ import annotations

from qunzu.domain.errors import NotFound
from qunzu.domain.models import JoinPolicy
from qunzu.domain.reports import TargetKind
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext
from qunzu.services.membership import do_join, do_leave, do_lift_bar, do_remove_member
from qunzu.services.messaging import do_send_message, read_history
from qunzu.services.reports import do_file_report
from tests.fakes import make_ctx
from tests.unit.world import committed_membership, group_of, refusal


async def say(ctx: ServiceContext, actor: Actor, group_id: int, body: str) -> int:
    return (await do_send_message(ctx, actor, group_id, body, body.replace(" ", "-"))).entry.seq


async def bodies(ctx: ServiceContext, actor: Actor, group_id: int, **page: int) -> list[str]:
    history = await read_history(ctx, actor, group_id, **page)
    return [e.body for e in history.entries if e.body is not None]


async def left_and_rejoined(ctx: ServiceContext) -> tuple[Actor, Actor, int, dict[str, int]]:
    """owner and member; the member says 'first', leaves, misses 'gap', rejoins, and
    hears 'second'. Returns the seqs by body."""
    [owner, member], group = await group_of(
        ctx, "owner", "member", join_policy=JoinPolicy.open, discoverable=True
    )
    seqs = {"first": await say(ctx, member, group.id, "first")}
    seqs["owner before"] = await say(ctx, owner, group.id, "owner before")
    await do_leave(ctx, member, group.id)
    seqs["gap"] = await say(ctx, owner, group.id, "gap")
    await do_join(ctx, member, group.id)
    seqs["second"] = await say(ctx, owner, group.id, "second")
    return owner, member, group.id, seqs


async def test_a_rejoined_member_reads_each_of_their_periods_and_not_the_gap() -> None:
    ctx = make_ctx()
    _owner, member, group_id, _seqs = await left_and_rejoined(ctx)
    assert await bodies(ctx, member, group_id) == ["first", "owner before", "second"]


async def test_paging_back_across_the_gap_skips_it() -> None:
    ctx = make_ctx()
    _owner, member, group_id, seqs = await left_and_rejoined(ctx)
    page = await read_history(ctx, member, group_id, before=seqs["second"] + 1, limit=3)
    # The member's leaving ends the first period and their rejoining opens the second.
    assert [e.seq for e in page.entries] == [seqs["gap"] - 1, seqs["gap"] + 1, seqs["second"]]
    older = await bodies(ctx, member, group_id, before=seqs["gap"] + 1, limit=50)
    assert older == ["first", "owner before"]


async def test_paging_forward_across_the_gap_skips_it() -> None:
    ctx = make_ctx()
    _owner, member, group_id, seqs = await left_and_rejoined(ctx)
    page = await read_history(ctx, member, group_id, after=seqs["first"], limit=50)
    assert seqs["gap"] not in [e.seq for e in page.entries]
    assert [e.body for e in page.entries if e.body] == ["owner before", "second"]


async def test_a_rejoined_member_reports_a_message_from_an_earlier_period() -> None:
    ctx = make_ctx()
    _owner, member, group_id, seqs = await left_and_rejoined(ctx)
    receipt = await do_file_report(
        ctx, member, group_id, TargetKind.message, "insult-defamation", seq=seqs["owner before"]
    )
    assert receipt.case.target.seq == seqs["owner before"]


async def test_a_message_of_the_gap_cannot_be_reported() -> None:
    ctx = make_ctx()
    _owner, member, group_id, seqs = await left_and_rejoined(ctx)
    call = do_file_report(
        ctx, member, group_id, TargetKind.message, "insult-defamation", seq=seqs["gap"]
    )
    assert await refusal(call, NotFound) == "message_not_found"


async def test_periods_add_up_over_removal_bar_lift_and_rejoining() -> None:
    ctx = make_ctx()
    owner, member, group_id, _seqs = await left_and_rejoined(ctx)
    await do_remove_member(ctx, owner, group_id, member.id, "cool off", bar=True)
    await say(ctx, owner, group_id, "second gap")
    await do_lift_bar(ctx, owner, group_id, member.id)
    await do_join(ctx, member, group_id)
    await say(ctx, owner, group_id, "third")
    stored = await committed_membership(ctx, group_id, member.id)
    assert stored is not None and len(stored.earlier) == 2
    assert await bodies(ctx, member, group_id) == ["first", "owner before", "second", "third"]


async def test_a_member_who_left_still_reads_every_period_up_to_leaving() -> None:
    ctx = make_ctx()
    owner, member, group_id, _seqs = await left_and_rejoined(ctx)
    await do_leave(ctx, member, group_id)
    await say(ctx, owner, group_id, "after leaving again")
    assert await bodies(ctx, member, group_id) == ["first", "owner before", "second"]
