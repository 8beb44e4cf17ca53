"""Joining and leaving through the services: invitations, join requests, leaving, removal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from qunzu.domain.errors import Conflict, DomainError, Forbidden, Gone, InvalidInput, NotFound
from qunzu.domain.models import (
    EntryKind,
    Group,
    GroupRole,
    Invitation,
    JoinPolicy,
    MembershipState,
    RequestState,
)
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext
from qunzu.services.groups import do_dissolve_group, get_group_view, list_my_groups
from qunzu.services.membership import (
    do_accept_invitation,
    do_decide_join_request,
    do_decline_invitation,
    do_invite,
    do_join,
    do_leave,
    do_remove_member,
    do_request_join,
    do_set_role,
    list_join_requests,
    list_members,
    list_my_invitations,
)
from qunzu.services.messaging import do_send_message
from tests.fakes import fake_uow, frozen_clock, make_ctx
from tests.unit.world import (
    add_member,
    committed_group,
    committed_membership,
    group_of,
    listen_account,
    make_group,
    refusal,
    register,
    users,
)


async def invited(ctx: ServiceContext, **group: Any) -> tuple[Actor, Actor, Group, Invitation]:
    """alice, bob, alice's group (``make_group`` options) and her invitation to bob."""
    alice, bob = await users(ctx, "alice", "bob")
    made = await make_group(ctx, alice, **group)
    return alice, bob, made, await do_invite(ctx, alice, made.id, "bob")


# ---- invitations ---------------------------------------------------------------------------


async def test_accepting_an_invitation_admits_the_invitee_as_a_member() -> None:
    ctx = make_ctx()
    alice, bob = await register(ctx, "alice"), await register(ctx, "bob")
    group = await make_group(ctx, alice)
    invitation = await do_invite(ctx, alice, group.id, " BOB ")
    assert invitation.invitee_id == bob.id and invitation.state is RequestState.pending
    member = await do_accept_invitation(ctx, bob, invitation.id)
    assert (member.role, member.state) == (GroupRole.member, MembershipState.active)
    joined = fake_uow(ctx).state.timeline[(group.id, member.joined_seq)]
    assert joined.kind is EntryKind.member_joined
    assert joined.data == {"account_id": bob.id, "via": "invitation", "by": alice.id}
    assert (await committed_group(ctx, group.id)).member_count == 2
    assert fake_uow(ctx).state.invitations[invitation.id].state is RequestState.accepted


async def test_the_invitee_is_notified_after_the_invitation_commits() -> None:
    ctx = make_ctx()
    alice, bob = await register(ctx, "alice"), await register(ctx, "bob")
    group = await make_group(ctx, alice)
    inbox = await listen_account(ctx, bob.id)
    invitation = await do_invite(ctx, alice, group.id, bob.id)
    assert inbox.frames == [
        {
            "topic": f"account.{bob.id}",
            "type": "notice",
            "kind": "invitation",
            "recipient": bob.id,
            "invitation_id": invitation.id,
            "group_id": group.id,
            "inviter_id": alice.id,
        }
    ]


@pytest.mark.parametrize(
    ("invitee", "code", "error"),
    [("alice", "cannot_invite_self", InvalidInput), ("nobody", "account_not_found", NotFound)],
)
async def test_inviting_oneself_or_a_stranger_is_refused(
    invitee: str, code: str, error: type[DomainError]
) -> None:
    ctx = make_ctx()
    [alice], group = await group_of(ctx, "alice")
    with pytest.raises(error) as caught:
        await do_invite(ctx, alice, group.id, invitee)
    assert caught.value.code == code


async def test_inviting_a_member_or_an_already_invited_account_is_a_conflict() -> None:
    ctx = make_ctx()
    alice, bob, carol = await users(ctx, "alice", "bob", "carol")
    group = await make_group(ctx, alice)
    await add_member(ctx, alice, group.id, bob)
    await do_invite(ctx, alice, group.id, "carol")
    assert await refusal(do_invite(ctx, alice, group.id, "bob"), Conflict) == "already_member"
    assert await refusal(do_invite(ctx, alice, group.id, "carol"), Conflict) == "already_invited"
    assert carol.id in {i.invitee_id for i in fake_uow(ctx).state.invitations.values()}


async def test_a_member_may_invite_only_in_an_open_group() -> None:
    ctx = make_ctx()
    alice, bob, carol = await users(ctx, "alice", "bob", "carol")
    closed = await make_group(ctx, alice, name="closed")
    opened = await make_group(ctx, alice, name="open", join_policy=JoinPolicy.open)
    await add_member(ctx, alice, closed.id, bob)
    await add_member(ctx, alice, opened.id, bob)
    assert await refusal(do_invite(ctx, bob, closed.id, "carol"), Forbidden) == "not_permitted"
    invitation = await do_invite(ctx, bob, opened.id, "carol")
    assert (invitation.inviter_id, invitation.invitee_id) == (bob.id, carol.id)


async def test_accepting_an_invitation_to_a_group_with_rules_requires_accepting_them() -> None:
    ctx = make_ctx()
    _alice, bob, group, invitation = await invited(ctx, rules="守规矩")
    assert (
        await refusal(do_accept_invitation(ctx, bob, invitation.id), Conflict)
        == "rules_not_accepted"
    )
    assert fake_uow(ctx).state.invitations[invitation.id].state is RequestState.pending
    assert await committed_membership(ctx, group.id, bob.id) is None
    member = await do_accept_invitation(ctx, bob, invitation.id, rules_version=1)
    assert member.accepted_rules_version == 1


async def test_an_invitation_can_be_accepted_until_just_before_it_expires() -> None:
    ctx = make_ctx()
    _alice, bob, _group, invitation = await invited(ctx)
    frozen_clock(ctx).advance(timedelta(days=ctx.limits.invitation_ttl_days, seconds=-1))
    assert (await do_accept_invitation(ctx, bob, invitation.id)).is_active


async def test_an_expired_invitation_is_gone_and_no_longer_listed() -> None:
    ctx = make_ctx()
    _alice, bob, group, invitation = await invited(ctx)
    assert [i.id for i in await list_my_invitations(ctx, bob)] == [invitation.id]
    frozen_clock(ctx).advance(timedelta(days=ctx.limits.invitation_ttl_days))
    assert await list_my_invitations(ctx, bob) == []
    assert (
        await refusal(do_accept_invitation(ctx, bob, invitation.id), Gone) == "invitation_expired"
    )
    assert await committed_membership(ctx, group.id, bob.id) is None


async def test_an_expired_invitation_no_longer_shows_the_group() -> None:
    ctx = make_ctx()
    _alice, bob, group, _ = await invited(ctx)
    assert (await get_group_view(ctx, bob, group.id)).group.id == group.id
    frozen_clock(ctx).advance(timedelta(days=ctx.limits.invitation_ttl_days))
    with pytest.raises(NotFound):
        await get_group_view(ctx, bob, group.id)


async def test_an_expired_invitation_does_not_block_a_new_one() -> None:
    ctx = make_ctx()
    alice, bob, group, old = await invited(ctx)
    frozen_clock(ctx).advance(timedelta(days=ctx.limits.invitation_ttl_days))
    new = await do_invite(ctx, alice, group.id, "bob")
    assert fake_uow(ctx).state.invitations[old.id].state is RequestState.cancelled
    assert [i.id for i in await list_my_invitations(ctx, bob)] == [new.id]
    assert (await do_accept_invitation(ctx, bob, new.id)).is_active


async def test_a_declined_invitation_cannot_be_accepted() -> None:
    ctx = make_ctx()
    _alice, bob, _group, invitation = await invited(ctx)
    await do_decline_invitation(ctx, bob, invitation.id)
    assert fake_uow(ctx).state.invitations[invitation.id].state is RequestState.declined
    assert (
        await refusal(do_accept_invitation(ctx, bob, invitation.id), Conflict)
        == "invitation_answered"
    )


async def test_someone_elses_invitation_is_not_found() -> None:
    ctx = make_ctx()
    alice, bob, eve = await users(ctx, "alice", "bob", "eve")
    group = await make_group(ctx, alice)
    invitation = await do_invite(ctx, alice, group.id, "bob")
    with pytest.raises(NotFound):
        await do_accept_invitation(ctx, eve, invitation.id)
    assert await committed_membership(ctx, group.id, eve.id) is None
    assert fake_uow(ctx).state.invitations[invitation.id].invitee_id == bob.id


async def test_an_invitation_to_a_dissolved_group_cannot_be_accepted() -> None:
    ctx = make_ctx()
    alice, bob, group, invitation = await invited(ctx)
    await do_dissolve_group(ctx, alice, group.id)
    assert (
        await refusal(do_accept_invitation(ctx, bob, invitation.id), Conflict) == "group_dissolved"
    )


# ---- open groups and join requests ---------------------------------------------------------


async def test_anyone_may_join_an_open_group_directly() -> None:
    ctx = make_ctx()
    alice, bob = await register(ctx, "alice"), await register(ctx, "bob")
    group = await make_group(ctx, alice, join_policy=JoinPolicy.open)
    member = await do_join(ctx, bob, group.id)
    assert member.is_active
    assert fake_uow(ctx).state.timeline[(group.id, member.joined_seq)].data["via"] == "open"


async def test_joining_twice_is_a_conflict() -> None:
    ctx = make_ctx()
    alice, bob = await register(ctx, "alice"), await register(ctx, "bob")
    group = await make_group(ctx, alice, join_policy=JoinPolicy.open)
    await do_join(ctx, bob, group.id)
    assert await refusal(do_join(ctx, bob, group.id), Conflict) == "already_member"
    assert (await committed_group(ctx, group.id)).member_count == 2


@pytest.mark.parametrize(
    ("policy", "discoverable", "code"),
    [
        (JoinPolicy.invite_only, False, "group_not_found"),
        (JoinPolicy.invite_only, True, "invitation_required"),
        (JoinPolicy.approval, True, "approval_required"),
    ],
)
async def test_joining_a_group_that_is_not_open_is_refused(
    policy: JoinPolicy, discoverable: bool, code: str
) -> None:
    ctx = make_ctx()
    alice, bob = await register(ctx, "alice"), await register(ctx, "bob")
    group = await make_group(ctx, alice, join_policy=policy, discoverable=discoverable)
    with pytest.raises((NotFound, Forbidden, Conflict)) as caught:
        await do_join(ctx, bob, group.id)
    assert caught.value.code == code
    assert await committed_membership(ctx, group.id, bob.id) is None


async def _approval_group(ctx: ServiceContext, owner: Actor) -> Group:
    return await make_group(
        ctx, owner, join_policy=JoinPolicy.approval, discoverable=True, rules="规则"
    )


async def test_a_join_request_notifies_every_manager() -> None:
    ctx = make_ctx()
    alice, bob, carol = await users(ctx, "alice", "bob", "carol")
    group = await _approval_group(ctx, alice)
    await add_member(ctx, alice, group.id, bob)
    await do_set_role(ctx, alice, group.id, bob.id, GroupRole.admin)
    inboxes = [await listen_account(ctx, alice.id), await listen_account(ctx, bob.id)]
    request = await do_request_join(ctx, carol, group.id, " 你好 ", rules_version=1)
    assert (request.note, request.state, request.rules_version) == ("你好", RequestState.pending, 1)
    for inbox in inboxes:
        assert [(f["kind"], f["request_id"]) for f in inbox.frames] == [
            ("join_request", request.id)
        ]


async def test_a_second_pending_join_request_is_refused() -> None:
    ctx = make_ctx()
    alice, bob = await register(ctx, "alice"), await register(ctx, "bob")
    group = await _approval_group(ctx, alice)
    await do_request_join(ctx, bob, group.id, rules_version=1)
    assert (
        await refusal(do_request_join(ctx, bob, group.id, rules_version=1), Conflict)
        == "join_request_pending"
    )


async def test_a_join_request_must_accept_the_current_rules() -> None:
    ctx = make_ctx()
    alice, bob = await register(ctx, "alice"), await register(ctx, "bob")
    group = await _approval_group(ctx, alice)
    assert await refusal(do_request_join(ctx, bob, group.id), Conflict) == "rules_not_accepted"
    assert fake_uow(ctx).state.join_requests == {}


async def test_a_join_request_to_an_open_group_is_redirected() -> None:
    ctx = make_ctx()
    alice, bob = await register(ctx, "alice"), await register(ctx, "bob")
    group = await make_group(ctx, alice, join_policy=JoinPolicy.open, discoverable=True)
    assert await refusal(do_request_join(ctx, bob, group.id), Conflict) == "group_is_open"


async def test_approving_a_join_request_admits_the_requester_and_tells_them() -> None:
    ctx = make_ctx()
    alice, bob = await register(ctx, "alice"), await register(ctx, "bob")
    group = await _approval_group(ctx, alice)
    request = await do_request_join(ctx, bob, group.id, rules_version=1)
    assert [r.id for r in await list_join_requests(ctx, alice, group.id)] == [request.id]
    inbox = await listen_account(ctx, bob.id)
    decided = await do_decide_join_request(ctx, alice, request.id, approve=True)
    assert (decided.state, decided.decided_by) == (RequestState.accepted, alice.id)
    member = await committed_membership(ctx, group.id, bob.id)
    assert member is not None and member.is_active and member.accepted_rules_version == 1
    assert inbox.kinds() == ["membership_added", "join_request_decided"]
    assert inbox.frames[1]["approved"] is True
    assert await list_join_requests(ctx, alice, group.id) == []


async def test_declining_a_join_request_admits_no_one() -> None:
    ctx = make_ctx()
    alice, bob = await register(ctx, "alice"), await register(ctx, "bob")
    group = await _approval_group(ctx, alice)
    request = await do_request_join(ctx, bob, group.id, rules_version=1)
    decided = await do_decide_join_request(ctx, alice, request.id, approve=False)
    assert decided.state is RequestState.declined
    assert await committed_membership(ctx, group.id, bob.id) is None
    assert (
        await refusal(do_decide_join_request(ctx, alice, request.id, approve=True), Conflict)
        == "join_request_decided"
    )


async def test_a_plain_member_cannot_decide_join_requests() -> None:
    ctx = make_ctx()
    alice, bob, carol = await users(ctx, "alice", "bob", "carol")
    group = await _approval_group(ctx, alice)
    await add_member(ctx, alice, group.id, bob)
    request = await do_request_join(ctx, carol, group.id, rules_version=1)
    with pytest.raises(Forbidden):
        await do_decide_join_request(ctx, bob, request.id, approve=True)
    with pytest.raises(Forbidden):
        await list_join_requests(ctx, bob, group.id)
    assert fake_uow(ctx).state.join_requests[request.id].state is RequestState.pending


# ---- leaving and removal -----------------------------------------------------------------


async def test_a_member_leaves_and_the_timeline_marks_where() -> None:
    ctx = make_ctx()
    [_alice, bob], group = await group_of(ctx, "alice", "bob")
    left = await do_leave(ctx, bob, group.id)
    assert left.state is MembershipState.left
    assert left.left_seq is not None
    entry = fake_uow(ctx).state.timeline[(group.id, left.left_seq)]
    assert (entry.kind, entry.data["account_id"]) == (EntryKind.member_left, bob.id)
    assert (await committed_group(ctx, group.id)).member_count == 1
    assert await list_my_groups(ctx, bob) == []
    assert await refusal(do_leave(ctx, bob, group.id), Forbidden) == "not_a_member"


async def test_the_owner_must_transfer_before_leaving() -> None:
    ctx = make_ctx()
    [alice], group = await group_of(ctx, "alice")
    assert await refusal(do_leave(ctx, alice, group.id), Conflict) == "owner_must_transfer"


async def test_an_admin_removes_a_member_who_then_cannot_post() -> None:
    ctx = make_ctx()
    [alice, bob, carol], group = await group_of(ctx, "alice", "bob", "carol")
    await do_set_role(ctx, alice, group.id, bob.id, GroupRole.admin)
    removed = await do_remove_member(ctx, bob, group.id, carol.id, " 发广告 ")
    assert removed.state is MembershipState.removed
    assert removed.left_seq is not None
    entry = fake_uow(ctx).state.timeline[(group.id, removed.left_seq)]
    assert entry.kind is EntryKind.member_removed
    assert entry.data == {"account_id": carol.id, "by": bob.id, "reason": "发广告"}
    assert (
        await refusal(do_send_message(ctx, carol, group.id, "let me back", "t1"), Forbidden)
        == "not_a_member"
    )


async def test_an_admin_cannot_remove_another_admin_or_the_owner() -> None:
    ctx = make_ctx()
    alice, bob, carol = await users(ctx, "alice", "bob", "carol")
    group = await make_group(ctx, alice)
    for admin in (bob, carol):
        await add_member(ctx, alice, group.id, admin)
        await do_set_role(ctx, alice, group.id, admin.id, GroupRole.admin)
    for target in (carol.id, alice.id):
        with pytest.raises(Forbidden):
            await do_remove_member(ctx, bob, group.id, target)
    assert (await committed_group(ctx, group.id)).member_count == 3


async def test_the_owner_removes_an_admin() -> None:
    ctx = make_ctx()
    [alice, bob], group = await group_of(ctx, "alice", "bob")
    await do_set_role(ctx, alice, group.id, bob.id, GroupRole.admin)
    removed = await do_remove_member(ctx, alice, group.id, bob.id)
    assert (removed.state, removed.role) == (MembershipState.removed, GroupRole.member)


@pytest.mark.parametrize(
    ("who", "target", "reason", "code"),
    [
        ("bob", "carol", "", "not_permitted"),
        ("alice", "alice", "", "cannot_remove_self"),
        ("alice", "nobody", "", "member_not_found"),
        ("alice", "carol", "x" * 501, "reason_too_long"),
    ],
)
async def test_removal_refusals(who: str, target: str, reason: str, code: str) -> None:
    ctx = make_ctx()
    actors = {h: await register(ctx, h) for h in ("alice", "bob", "carol")}
    group = await make_group(ctx, actors["alice"])
    await add_member(ctx, actors["alice"], group.id, actors["bob"])
    await add_member(ctx, actors["alice"], group.id, actors["carol"])
    target_id = actors[target].id if target in actors else 9999
    with pytest.raises((Forbidden, InvalidInput, NotFound)) as caught:
        await do_remove_member(ctx, actors[who], group.id, target_id, reason)
    assert caught.value.code == code
    assert (await committed_group(ctx, group.id)).member_count == 3


async def test_a_removed_member_may_be_invited_back_with_a_fresh_window() -> None:
    ctx = make_ctx()
    alice, bob = await register(ctx, "alice"), await register(ctx, "bob")
    group = await make_group(ctx, alice)
    first = await add_member(ctx, alice, group.id, bob)
    removed = await do_remove_member(ctx, alice, group.id, bob.id)
    again = await add_member(ctx, alice, group.id, bob)
    assert again.is_active and again.left_seq is None
    assert removed.left_seq is not None
    assert again.joined_seq > removed.left_seq > first.joined_seq


async def test_list_members_shows_active_members_with_their_names() -> None:
    ctx = make_ctx()
    [alice, bob, carol], group = await group_of(ctx, "alice", "bob", "carol")
    await do_leave(ctx, carol, group.id)
    rows = await list_members(ctx, bob, group.id, 50, 0)
    assert [(m.account_id, handle) for m, handle, _ in rows] == [
        (alice.id, "alice"),
        (bob.id, "bob"),
    ]
    with pytest.raises(Forbidden):
        await list_members(ctx, carol, group.id, 50, 0)
