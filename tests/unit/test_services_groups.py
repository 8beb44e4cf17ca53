"""Groups through the services: creation, visibility, settings, rules and dissolution."""

from __future__ import annotations

import pytest

from qunzu.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from qunzu.domain.models import (
    EntryKind,
    GroupCategory,
    GroupRole,
    GroupState,
    JoinPolicy,
    MembershipState,
)
from qunzu.services.groups import (
    do_accept_rules,
    do_create_group,
    do_dissolve_group,
    do_set_rules,
    do_update_group,
    get_group_view,
    get_group_view_by_number,
    get_rules,
    list_my_groups,
    search_groups,
)
from qunzu.services.membership import do_invite, do_set_role
from qunzu.services.messaging import do_send_message
from tests.fakes import fake_uow, make_ctx
from tests.unit.world import (
    committed_group,
    committed_membership,
    group_of,
    make_group,
    refusal,
    register,
)


async def test_creating_a_group_makes_the_creator_its_owner() -> None:
    ctx = make_ctx()
    [alice], group = await group_of(ctx, "alice", name="  家人   群 ")
    assert group.name == "家人 群"
    assert group.owner_id == alice.id
    assert group.state is GroupState.active
    assert group.member_count == 1
    assert 100_000_000 <= group.number < 1_000_000_000
    member = await committed_membership(ctx, group.id, alice.id)
    assert member is not None
    assert member.role is GroupRole.owner and member.state is MembershipState.active


async def test_a_new_group_timeline_starts_with_group_created_at_seq_1() -> None:
    ctx = make_ctx()
    [alice], group = await group_of(ctx, "alice")
    entry = fake_uow(ctx).state.timeline[(group.id, 1)]
    assert entry.kind is EntryKind.group_created
    assert entry.data == {"name": "家人群", "category": "family", "account_id": alice.id}
    assert group.last_seq == 1
    member = await committed_membership(ctx, group.id, alice.id)
    assert member is not None and member.joined_seq == 1


async def test_an_unverified_account_cannot_create_a_group() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice", verified=False)
    assert await refusal(make_group(ctx, alice), Forbidden) == "identity_unverified"
    assert fake_uow(ctx).state.groups == {}


@pytest.mark.parametrize(("name", "rules"), [("", None), ("x" * 65, None), ("ok", "   ")])
async def test_creating_a_group_refuses_a_bad_name_or_empty_rules(
    name: str, rules: str | None
) -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    with pytest.raises(InvalidInput):
        await do_create_group(ctx, alice, name, GroupCategory.work, rules_text=rules)
    assert fake_uow(ctx).state.groups == {}


async def test_a_group_created_with_rules_is_at_rules_version_1_accepted_by_its_owner() -> None:
    ctx = make_ctx()
    [alice], group = await group_of(ctx, "alice", rules="不发广告。")
    assert group.rules_version == 1
    assert group.last_seq == 2
    assert fake_uow(ctx).state.timeline[(group.id, 2)].kind is EntryKind.rules_changed
    owner = await committed_membership(ctx, group.id, alice.id)
    assert owner is not None and owner.accepted_rules_version == 1
    rules = await get_rules(ctx, alice, group.id)
    assert (rules.version, rules.text, rules.set_by) == (1, "不发广告。", alice.id)


async def test_list_my_groups_keeps_dissolved_groups_as_read_only_history() -> None:
    ctx = make_ctx()
    [alice], first = await group_of(ctx, "alice", name="one")
    second = await make_group(ctx, alice, name="two")
    await do_dissolve_group(ctx, alice, first.id)
    assert [g.id for _, g in await list_my_groups(ctx, alice)] == [first.id, second.id]


# ---- visibility --------------------------------------------------------------------------


async def test_an_outsider_cannot_see_an_undiscoverable_group() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    bob = await register(ctx, "bob")
    group = await make_group(ctx, alice)
    with pytest.raises(NotFound):
        await get_group_view(ctx, bob, group.id)
    with pytest.raises(NotFound):
        await get_group_view_by_number(ctx, bob, group.number)


async def test_an_invitee_can_see_the_group_they_are_invited_to() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    bob = await register(ctx, "bob")
    group = await make_group(ctx, alice, rules="守规矩")
    await do_invite(ctx, alice, group.id, "bob")
    view = await get_group_view(ctx, bob, group.id)
    assert view.group.id == group.id
    assert view.my_membership is None
    assert view.owner_display_name == "alice"
    assert view.rules is not None and view.rules.text == "守规矩"


async def test_an_outsider_can_see_a_discoverable_group_and_find_it_by_search() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    bob = await register(ctx, "bob")
    public = await make_group(ctx, alice, name="Python 爱好者", discoverable=True)
    await make_group(ctx, alice, name="Python 私密", discoverable=False)
    assert (await get_group_view(ctx, bob, public.id)).group.id == public.id
    assert [g.id for g in await search_groups(ctx, "  python ", 10, 0)] == [public.id]


async def test_search_does_not_find_dissolved_groups() -> None:
    ctx = make_ctx()
    [alice], public = await group_of(ctx, "alice", name="Python", discoverable=True)
    await do_dissolve_group(ctx, alice, public.id)
    assert await search_groups(ctx, "python", 10, 0) == []


# ---- settings and dissolution ------------------------------------------------------------


async def test_the_owner_updates_settings_and_the_timeline_records_them() -> None:
    ctx = make_ctx()
    [alice], group = await group_of(ctx, "alice")
    updated = await do_update_group(
        ctx, alice, group.id, name="新名字", join_policy=JoinPolicy.approval, discoverable=True
    )
    assert (updated.name, updated.join_policy, updated.discoverable) == (
        "新名字",
        JoinPolicy.approval,
        True,
    )
    entry = fake_uow(ctx).state.timeline[(group.id, updated.last_seq)]
    assert entry.kind is EntryKind.group_updated
    assert entry.data == {"name": "新名字", "join_policy": "approval", "discoverable": True}


async def test_an_update_that_changes_nothing_is_refused() -> None:
    ctx = make_ctx()
    [alice], group = await group_of(ctx, "alice")
    assert await refusal(do_update_group(ctx, alice, group.id), InvalidInput) == "nothing_to_change"


async def test_an_admin_may_not_change_group_settings() -> None:
    ctx = make_ctx()
    [alice, bob], group = await group_of(ctx, "alice", "bob")
    await do_set_role(ctx, alice, group.id, bob.id, GroupRole.admin)
    assert (
        await refusal(do_update_group(ctx, bob, group.id, name="mine now"), Forbidden)
        == "not_permitted"
    )
    assert (await committed_group(ctx, group.id)).name == "家人群"


async def test_dissolving_makes_the_group_read_only() -> None:
    ctx = make_ctx()
    [alice], group = await group_of(ctx, "alice")
    dissolved = await do_dissolve_group(ctx, alice, group.id)
    assert dissolved.state is GroupState.dissolved
    entry = fake_uow(ctx).state.timeline[(group.id, dissolved.last_seq)]
    assert entry.kind is EntryKind.group_state_changed
    assert (
        await refusal(do_send_message(ctx, alice, group.id, "还在吗", "t1"), Conflict)
        == "group_dissolved"
    )
    assert await refusal(do_dissolve_group(ctx, alice, group.id), Conflict) == "group_dissolved"


async def test_a_member_cannot_dissolve_the_group() -> None:
    ctx = make_ctx()
    [_alice, bob], group = await group_of(ctx, "alice", "bob")
    with pytest.raises(Forbidden):
        await do_dissolve_group(ctx, bob, group.id)
    assert (await committed_group(ctx, group.id)).is_active


# ---- rules versioning and acceptance -----------------------------------------------------


async def test_each_rules_change_is_a_new_version_accepted_by_its_author() -> None:
    ctx = make_ctx()
    [alice], group = await group_of(ctx, "alice", rules="v1")
    rules = await do_set_rules(ctx, alice, group.id, "  v2 text ")
    assert (rules.version, rules.text) == (2, "v2 text")
    assert (await committed_group(ctx, group.id)).rules_version == 2
    assert fake_uow(ctx).state.rules[(group.id, 1)].text == "v1"
    owner = await committed_membership(ctx, group.id, alice.id)
    assert owner is not None and owner.accepted_rules_version == 2
    assert (await get_rules(ctx, alice, group.id)).text == "v2 text"


async def test_a_rules_change_stops_members_posting_until_they_accept_it() -> None:
    ctx = make_ctx()
    [alice, bob], group = await group_of(ctx, "alice", "bob")
    await do_set_rules(ctx, alice, group.id, "请文明发言")
    assert (
        await refusal(do_send_message(ctx, bob, group.id, "hi", "t1"), Forbidden)
        == "rules_not_accepted"
    )
    accepted = await do_accept_rules(ctx, bob, group.id, 1)
    assert accepted.accepted_rules_version == 1
    assert (await do_send_message(ctx, bob, group.id, "hi", "t1")).created


async def test_accepting_a_stale_rules_version_is_refused() -> None:
    ctx = make_ctx()
    [alice, bob], group = await group_of(ctx, "alice", "bob", rules="v1")
    await do_set_rules(ctx, alice, group.id, "v2")
    with pytest.raises(Conflict) as caught:
        await do_accept_rules(ctx, bob, group.id, 1)
    assert caught.value.code == "rules_version_stale"
    assert caught.value.extra == {"rules_version": 2}
    member = await committed_membership(ctx, group.id, bob.id)
    assert member is not None and member.accepted_rules_version == 1


async def test_accepting_the_same_rules_twice_changes_nothing() -> None:
    ctx = make_ctx()
    [alice], group = await group_of(ctx, "alice", rules="v1")
    version_before = fake_uow(ctx).store.version
    member = await do_accept_rules(ctx, alice, group.id, 1)
    assert member.accepted_rules_version == 1
    assert fake_uow(ctx).store.version == version_before


async def test_accepting_rules_of_a_group_without_rules_is_refused() -> None:
    ctx = make_ctx()
    [alice], group = await group_of(ctx, "alice")
    assert await refusal(do_accept_rules(ctx, alice, group.id, 1), Conflict) == "rules_not_set"
    with pytest.raises(NotFound):
        await get_rules(ctx, alice, group.id)


async def test_an_admin_may_set_rules_and_a_member_may_not() -> None:
    ctx = make_ctx()
    [alice, bob, carol], group = await group_of(ctx, "alice", "bob", "carol")
    await do_set_role(ctx, alice, group.id, bob.id, GroupRole.admin)
    assert (await do_set_rules(ctx, bob, group.id, "admin rules")).version == 1
    assert (
        await refusal(do_set_rules(ctx, carol, group.id, "member rules"), Forbidden)
        == "not_permitted"
    )
    assert (await committed_group(ctx, group.id)).rules_version == 1
