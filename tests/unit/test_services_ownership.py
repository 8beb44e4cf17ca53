"""Roles and ownership transfer through the services."""

from __future__ import annotations

import pytest

from qunzu.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from qunzu.domain.models import (
    EntryKind,
    GroupRole,
    MembershipState,
    RequestState,
)
from qunzu.services.membership import (
    do_leave,
    do_offer_ownership,
    do_respond_ownership,
    do_set_role,
)
from tests.fakes import fake_uow, make_ctx
from tests.unit.world import (
    committed_group,
    committed_membership,
    group_of,
    listen_account,
    refusal,
    register,
)

# ---- roles ---------------------------------------------------------------------------------


async def test_the_owner_promotes_a_member_and_the_timeline_records_it() -> None:
    ctx = make_ctx()
    [alice, bob], group = await group_of(ctx, "alice", "bob")
    promoted = await do_set_role(ctx, alice, group.id, bob.id, GroupRole.admin)
    assert promoted.role is GroupRole.admin
    last = await committed_group(ctx, group.id)
    entry = fake_uow(ctx).state.timeline[(group.id, last.last_seq)]
    assert (entry.kind, entry.data) == (
        EntryKind.role_changed,
        {"account_id": bob.id, "role": "admin"},
    )
    assert (
        await refusal(do_set_role(ctx, alice, group.id, bob.id, GroupRole.admin), Conflict)
        == "role_unchanged"
    )


async def test_ownership_is_not_a_role_to_set() -> None:
    ctx = make_ctx()
    [alice, bob], group = await group_of(ctx, "alice", "bob")
    assert (
        await refusal(do_set_role(ctx, alice, group.id, bob.id, GroupRole.owner), InvalidInput)
        == "use_transfer"
    )
    with pytest.raises(Forbidden):
        await do_set_role(ctx, alice, group.id, alice.id, GroupRole.member)


# ---- ownership transfer ------------------------------------------------------------------


async def test_ownership_moves_when_the_recipient_accepts() -> None:
    ctx = make_ctx()
    [alice, bob], group = await group_of(ctx, "alice", "bob")
    offer = await do_offer_ownership(ctx, alice, group.id, bob.id)
    assert (await committed_group(ctx, group.id)).owner_id == alice.id  # not before acceptance
    accepted = await do_respond_ownership(ctx, bob, offer.id, accept=True)
    assert accepted.state is RequestState.accepted
    fresh = await committed_group(ctx, group.id)
    assert fresh.owner_id == bob.id
    old = await committed_membership(ctx, group.id, alice.id)
    new = await committed_membership(ctx, group.id, bob.id)
    assert old is not None and old.role is GroupRole.admin
    assert new is not None and new.role is GroupRole.owner
    entry = fake_uow(ctx).state.timeline[(group.id, fresh.last_seq)]
    assert (entry.kind, entry.data) == (
        EntryKind.ownership_transferred,
        {"from": alice.id, "to": bob.id},
    )
    assert (await do_leave(ctx, alice, group.id)).state is MembershipState.left


async def test_a_declined_offer_changes_nothing_and_tells_the_owner() -> None:
    ctx = make_ctx()
    [alice, bob], group = await group_of(ctx, "alice", "bob")
    offer = await do_offer_ownership(ctx, alice, group.id, bob.id)
    inbox = await listen_account(ctx, alice.id)
    assert (await do_respond_ownership(ctx, bob, offer.id, False)).state is RequestState.declined
    assert (await committed_group(ctx, group.id)).owner_id == alice.id
    assert inbox.kinds() == ["ownership_offer_declined"]


async def test_the_offerer_may_cancel_but_not_accept_their_own_offer() -> None:
    ctx = make_ctx()
    [alice, bob], group = await group_of(ctx, "alice", "bob")
    offer = await do_offer_ownership(ctx, alice, group.id, bob.id)
    with pytest.raises(Forbidden):
        await do_respond_ownership(ctx, alice, offer.id, accept=True)
    cancelled = await do_respond_ownership(ctx, alice, offer.id, accept=False)
    assert cancelled.state is RequestState.cancelled
    assert (
        await refusal(do_respond_ownership(ctx, bob, offer.id, accept=True), Conflict)
        == "offer_answered"
    )


async def test_only_one_ownership_offer_may_be_pending() -> None:
    ctx = make_ctx()
    [alice, bob, carol], group = await group_of(ctx, "alice", "bob", "carol")
    await do_offer_ownership(ctx, alice, group.id, bob.id)
    assert (
        await refusal(do_offer_ownership(ctx, alice, group.id, carol.id), Conflict)
        == "offer_pending"
    )


async def test_ownership_goes_only_to_a_current_member() -> None:
    ctx = make_ctx()
    [alice], group = await group_of(ctx, "alice")
    bob = await register(ctx, "bob")
    assert (
        await refusal(do_offer_ownership(ctx, alice, group.id, bob.id), NotFound)
        == "member_not_found"
    )
    with pytest.raises(InvalidInput):
        await do_offer_ownership(ctx, alice, group.id, alice.id)


async def test_an_offer_to_someone_who_left_since_cannot_be_accepted() -> None:
    ctx = make_ctx()
    [alice, bob], group = await group_of(ctx, "alice", "bob")
    offer = await do_offer_ownership(ctx, alice, group.id, bob.id)
    await do_leave(ctx, bob, group.id)
    assert (
        await refusal(do_respond_ownership(ctx, bob, offer.id, accept=True), Conflict)
        == "not_a_member"
    )
    assert (await committed_group(ctx, group.id)).owner_id == alice.id


async def test_a_stranger_cannot_see_an_ownership_offer() -> None:
    ctx = make_ctx()
    [alice, bob], group = await group_of(ctx, "alice", "bob")
    eve = await register(ctx, "eve")
    offer = await do_offer_ownership(ctx, alice, group.id, bob.id)
    with pytest.raises(NotFound):
        await do_respond_ownership(ctx, eve, offer.id, accept=True)
