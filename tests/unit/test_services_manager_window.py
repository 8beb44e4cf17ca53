"""What a manager reads: within the owner's duty, but inside their own visible window
unless the owner grants ``read_history`` (owner notices and removing a reported message)."""

from __future__ import annotations

from qunzu.domain.errors import Forbidden
from qunzu.domain.models import GroupRole
from qunzu.domain.reports import TargetKind
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext
from qunzu.services.membership import do_set_role
from qunzu.services.messaging import do_send_message
from qunzu.services.owner_tools import do_appoint_admin, do_remove_message
from qunzu.services.reports import OwnerNotice, do_file_report, list_owner_notices
from tests.fakes import make_ctx
from tests.unit.world import add_member, group_of, refusal, register

FULL = ["remove_messages", "mute", "remove_members", "appoint_admins"]


async def _reported_before_joining(ctx: ServiceContext) -> tuple[Actor, Actor, int, int]:
    """owner, newcomer (a member who joined after a message was reported), the group, the
    reported seq."""
    [owner, offender, reporter], group = await group_of(ctx, "owner", "offender", "reporter")
    sent = await do_send_message(ctx, offender, group.id, "the old insult", "t1")
    await do_file_report(
        ctx, reporter, group.id, TargetKind.message, "insult-defamation", "rude", seq=sent.entry.seq
    )
    newcomer = await register(ctx, "newcomer")
    await add_member(ctx, owner, group.id, newcomer)
    return owner, newcomer, group.id, sent.entry.seq


def _seen(notices: list[OwnerNotice]) -> list[tuple[str | None, bool]]:
    return [(n.reported_message.body if n.reported_message else None, n.withheld) for n in notices]


async def test_an_admin_promoted_after_joining_does_not_read_a_report_from_before() -> None:
    ctx = make_ctx()
    owner, newcomer, group_id, _seq = await _reported_before_joining(ctx)
    await do_appoint_admin(ctx, owner, group_id, newcomer.id, FULL)
    assert _seen(await list_owner_notices(ctx, newcomer)) == [(None, True)]


async def test_the_owner_always_reads_the_reported_message() -> None:
    ctx = make_ctx()
    owner, _newcomer, _group_id, _seq = await _reported_before_joining(ctx)
    assert _seen(await list_owner_notices(ctx, owner)) == [("the old insult", False)]


async def test_an_admin_cannot_remove_a_message_from_before_they_joined() -> None:
    ctx = make_ctx()
    owner, newcomer, group_id, seq = await _reported_before_joining(ctx)
    await do_set_role(ctx, owner, group_id, newcomer.id, GroupRole.admin)
    call = do_remove_message(ctx, newcomer, group_id, seq, "insult")
    assert await refusal(call, Forbidden) == "outside_window"
    async with ctx.uow(write=False) as uow:
        kept = await uow.timeline.get(group_id, seq)
    assert kept is not None and kept.body == "the old insult"


async def test_the_history_right_granted_by_the_owner_opens_the_earlier_messages() -> None:
    ctx = make_ctx()
    owner, newcomer, group_id, seq = await _reported_before_joining(ctx)
    await do_appoint_admin(ctx, owner, group_id, newcomer.id, [*FULL, "read_history"])
    assert _seen(await list_owner_notices(ctx, newcomer)) == [("the old insult", False)]
    await do_remove_message(ctx, newcomer, group_id, seq, "insult")
    async with ctx.uow(write=False) as uow:
        removed = await uow.timeline.get(group_id, seq)
    assert removed is not None and removed.body is None


async def test_an_admin_reads_and_removes_reported_messages_inside_their_own_window() -> None:
    ctx = make_ctx()
    [owner, admin, offender, reporter], group = await group_of(
        ctx, "owner", "admin", "offender", "reporter"
    )
    await do_appoint_admin(ctx, owner, group.id, admin.id, FULL)
    sent = await do_send_message(ctx, offender, group.id, "a fresh insult", "t2")
    await do_file_report(
        ctx, reporter, group.id, TargetKind.message, "insult-defamation", "rude", seq=sent.entry.seq
    )
    assert _seen(await list_owner_notices(ctx, admin)) == [("a fresh insult", False)]
    await do_remove_message(ctx, admin, group.id, sent.entry.seq, "insult")


async def test_only_the_owner_grants_the_history_right() -> None:
    ctx = make_ctx()
    [owner, senior, junior], group = await group_of(ctx, "owner", "senior", "junior")
    await do_appoint_admin(ctx, owner, group.id, senior.id, [*FULL, "read_history"])
    call = do_appoint_admin(ctx, senior, group.id, junior.id, ["mute", "read_history"])
    assert await refusal(call, Forbidden) == "owner_grants_only"
    assert await do_appoint_admin(ctx, senior, group.id, junior.id, ["mute"])


async def test_the_plain_admin_role_does_not_carry_the_history_right() -> None:
    ctx = make_ctx()
    [owner, admin], group = await group_of(ctx, "owner", "admin")
    await do_set_role(ctx, owner, group.id, admin.id, GroupRole.admin)
    async with ctx.uow(write=False) as uow:
        rights = await uow.owner.get_rights(group.id, admin.id)
    assert "read_history" not in rights and "remove_messages" in rights
