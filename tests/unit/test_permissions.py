"""The permission table and the check_* gates in ``domain/permissions.py``."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from qunzu.domain import permissions as perm
from qunzu.domain.errors import Conflict, DomainError, Forbidden, NotFound
from qunzu.domain.models import (
    Account,
    Group,
    GroupCategory,
    GroupKind,
    GroupRole,
    GroupState,
    JoinPolicy,
    Membership,
    MembershipState,
)
from qunzu.domain.permissions import GROUP_PERMISSIONS, Action, is_allowed

NOW = datetime(2026, 1, 1, tzinfo=UTC)
A = Action
ROLES: list[GroupRole | None] = [GroupRole.owner, GroupRole.admin, GroupRole.member, None]

# The specification, written out independently of the table it checks.
MANAGERS = frozenset(
    {
        A.read_timeline,
        A.post_message,
        A.invite,
        A.decide_join_request,
        A.remove_member,
        A.edit_rules,
    }
)
SPEC: dict[GroupRole | None, frozenset[Action]] = {
    GroupRole.owner: MANAGERS | {A.set_role, A.transfer_ownership, A.dissolve},
    GroupRole.admin: MANAGERS | {A.leave},
    GroupRole.member: frozenset({A.read_timeline, A.post_message, A.leave}),
    None: frozenset(),
}


def expected(role: GroupRole | None, action: Action, kind: GroupKind, policy: JoinPolicy) -> bool:
    if kind is GroupKind.direct and action not in {A.read_timeline, A.post_message}:
        return False
    if role is GroupRole.member and action is A.invite:
        return policy is JoinPolicy.open
    return action in SPEC[role]


def group(
    kind: GroupKind = GroupKind.group,
    policy: JoinPolicy = JoinPolicy.invite_only,
    **changes: object,
) -> Group:
    base = Group(
        id=1,
        number=123456789,
        kind=kind,
        name="家人群" if kind is GroupKind.group else "",
        category=GroupCategory.family if kind is GroupKind.group else None,
        join_policy=policy,
        discoverable=False,
        owner_id=10 if kind is GroupKind.group else None,
        state=GroupState.active,
        created_at=NOW,
        last_seq=5,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def membership(
    role: GroupRole | None = GroupRole.member,
    state: MembershipState = MembershipState.active,
    accepted: int = 0,
) -> Membership | None:
    if role is None:
        return None
    return Membership(1, 20, role, state, NOW, 1, None, accepted)


def account(verified: bool = True, disabled: bool = False) -> Account:
    return Account(20, "bob", "Bob", NOW, identity_verified=verified, disabled=disabled)


# ---- the whole table ---------------------------------------------------------------------


def test_table_has_no_entry_outside_known_roles_and_actions() -> None:
    for role, action in GROUP_PERMISSIONS:
        assert role in ROLES
        assert isinstance(action, Action)


def test_table_matches_the_specification_for_every_role_and_action() -> None:
    for role, action in itertools.product(ROLES, Action):
        assert GROUP_PERMISSIONS.get((role, action), False) is (action in SPEC[role]), (
            role,
            action,
        )


@pytest.mark.parametrize("kind", list(GroupKind))
@pytest.mark.parametrize("policy", list(JoinPolicy))
def test_is_allowed_for_every_role_action_kind_and_join_policy(
    kind: GroupKind, policy: JoinPolicy
) -> None:
    g = group(kind, policy)
    for role, action in itertools.product(ROLES, Action):
        assert is_allowed(g, membership(role), action) is expected(role, action, kind, policy), (
            role,
            action,
        )


@pytest.mark.parametrize("state", [MembershipState.left, MembershipState.removed])
@pytest.mark.parametrize("role", [GroupRole.owner, GroupRole.admin, GroupRole.member])
def test_a_former_member_is_an_outsider_for_every_action(
    state: MembershipState, role: GroupRole
) -> None:
    former = membership(role, state)
    assert perm.role_of(former) is None
    for action in Action:
        assert not is_allowed(group(policy=JoinPolicy.open), former, action)


def test_direct_conversations_allow_only_reading_and_posting() -> None:
    direct = group(GroupKind.direct)
    allowed = {a for a in Action if is_allowed(direct, membership(GroupRole.member), a)}
    assert allowed == {A.read_timeline, A.post_message}


def test_members_may_invite_only_in_open_groups() -> None:
    member = membership(GroupRole.member)
    assert is_allowed(group(policy=JoinPolicy.open), member, A.invite)
    assert not is_allowed(group(policy=JoinPolicy.approval), member, A.invite)
    assert not is_allowed(group(policy=JoinPolicy.invite_only), member, A.invite)


def test_the_owner_may_not_leave_without_transferring() -> None:
    assert not is_allowed(group(), membership(GroupRole.owner), A.leave)


# ---- check_allowed and check_visible -----------------------------------------------------


def test_check_allowed_names_the_role_and_action_it_refuses() -> None:
    with pytest.raises(Forbidden) as caught:
        perm.check_allowed(group(), membership(GroupRole.member), A.dissolve)
    assert caught.value.code == "not_permitted"
    assert caught.value.extra == {"action": "dissolve"}
    assert "member" in caught.value.detail


def test_check_allowed_refuses_an_outsider_as_not_a_member() -> None:
    with pytest.raises(Forbidden) as caught:
        perm.check_allowed(group(), None, A.read_timeline)
    assert caught.value.code == "not_a_member"


def test_check_visible_hides_an_undiscoverable_group_from_outsiders() -> None:
    with pytest.raises(NotFound) as caught:
        perm.check_visible(group(), None)
    assert caught.value.code == "group_not_found"


def test_check_visible_shows_a_discoverable_group_to_outsiders() -> None:
    g = group(discoverable=True)
    assert perm.check_visible(g, None) is g


def test_check_visible_shows_a_group_to_a_former_member() -> None:
    g = group()
    assert perm.check_visible(g, membership(GroupRole.member, MembershipState.left)) is g


def test_check_visible_reports_a_missing_group_as_not_found() -> None:
    with pytest.raises(NotFound):
        perm.check_visible(None, None)


# ---- check_can_post ----------------------------------------------------------------------


def test_can_post_when_verified_member_of_active_group_with_rules_accepted() -> None:
    m = membership(GroupRole.member, accepted=2)
    assert perm.check_can_post(account(), group(rules_version=2), m) is m


@pytest.mark.parametrize(
    ("acc", "m", "code"),
    [
        (account(verified=False), membership(), "identity_unverified"),
        (account(verified=False), None, "identity_unverified"),
        (account(disabled=True), membership(), "account_disabled"),
        (account(), None, "not_a_member"),
        (account(), membership(GroupRole.member, MembershipState.left), "not_a_member"),
        (account(), membership(GroupRole.member, MembershipState.removed), "not_a_member"),
    ],
    ids=[
        "unverified",
        "unverified-is-reported-before-not-a-member",
        "disabled",
        "as-non-member",
        "after-leaving",
        "after-removal",
    ],
)
def test_cannot_post(acc: Account, m: Membership | None, code: str) -> None:
    with pytest.raises(Forbidden) as caught:
        perm.check_can_post(acc, group(), m)
    assert caught.value.code == code


def test_cannot_post_in_dissolved_group() -> None:
    with pytest.raises(Conflict) as caught:
        perm.check_can_post(
            account(), group(state=GroupState.dissolved), membership(GroupRole.owner)
        )
    assert caught.value.code == "group_dissolved"


def test_cannot_post_before_accepting_current_rules() -> None:
    with pytest.raises(Forbidden) as caught:
        perm.check_can_post(account(), group(rules_version=3), membership(accepted=2))
    assert caught.value.code == "rules_not_accepted"
    assert caught.value.extra == {"rules_version": 3}


def test_can_post_in_direct_conversation() -> None:
    m = membership(GroupRole.member)
    assert perm.check_can_post(account(), group(GroupKind.direct), m) is m


# ---- check_rules_version -----------------------------------------------------------------


@pytest.mark.parametrize("accepted", [None, 0, 5])
def test_group_without_rules_needs_no_acceptance(accepted: int | None) -> None:
    assert perm.check_rules_version(group(rules_version=0), accepted) == 0


def test_group_with_rules_refuses_a_joiner_who_names_no_version() -> None:
    with pytest.raises(Conflict) as caught:
        perm.check_rules_version(group(rules_version=2), None)
    assert caught.value.code == "rules_not_accepted"
    assert caught.value.extra == {"rules_version": 2}


@pytest.mark.parametrize("accepted", [1, 3])
def test_group_with_rules_refuses_another_version(accepted: int) -> None:
    with pytest.raises(Conflict) as caught:
        perm.check_rules_version(group(rules_version=2), accepted)
    assert caught.value.code == "rules_version_stale"


def test_group_with_rules_accepts_the_current_version() -> None:
    assert perm.check_rules_version(group(rules_version=2), 2) == 2


# ---- creating and joining ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("acc", "code"),
    [
        (account(verified=False), "identity_unverified"),
        (account(disabled=True), "account_disabled"),
    ],
    ids=["unverified", "disabled"],
)
def test_an_account_that_cannot_create_a_group(acc: Account, code: str) -> None:
    with pytest.raises(Forbidden) as caught:
        perm.check_can_create_group(acc)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("g", "m", "acc", "code"),
    [
        (group(GroupKind.direct), None, account(), "not_permitted"),
        (group(state=GroupState.dissolved), None, account(), "group_dissolved"),
        (group(), membership(GroupRole.member), account(), "already_member"),
        (group(), None, account(disabled=True), "account_disabled"),
    ],
    ids=["direct", "dissolved", "already-member", "disabled"],
)
def test_check_can_join_refusals(g: Group, m: Membership | None, acc: Account, code: str) -> None:
    with pytest.raises(DomainError) as caught:
        perm.check_can_join(acc, g, m)
    assert caught.value.code == code


def test_a_removed_member_may_join_again() -> None:
    perm.check_can_join(account(), group(), membership(GroupRole.member, MembershipState.removed))
