"""Who may do what in a group: one table, asked by every path.

The table maps (role, action) to allowed. A role of ``None`` is an outsider:
an account with no active membership. Checks that are not about roles (the
group's state, identity verification, accepted rules) are in the ``check_*``
functions below, which raise a ``DomainError`` with a stable code.
"""

from __future__ import annotations

from enum import StrEnum

from qunzu.domain.errors import Conflict, Forbidden, NotFound
from qunzu.domain.models import (
    Account,
    Group,
    GroupRole,
    GroupState,
    JoinPolicy,
    Membership,
)
from qunzu.domain.rulebook import Tier


class Action(StrEnum):
    read_timeline = "read_timeline"
    post_message = "post_message"
    invite = "invite"
    decide_join_request = "decide_join_request"
    remove_member = "remove_member"
    edit_rules = "edit_rules"
    set_role = "set_role"
    transfer_ownership = "transfer_ownership"
    dissolve = "dissolve"
    leave = "leave"


_O, _A, _M = GroupRole.owner, GroupRole.admin, GroupRole.member

# (role, action) -> allowed. Anything absent is refused.
GROUP_PERMISSIONS: dict[tuple[GroupRole | None, Action], bool] = {
    (_O, Action.read_timeline): True,
    (_A, Action.read_timeline): True,
    (_M, Action.read_timeline): True,
    (_O, Action.post_message): True,
    (_A, Action.post_message): True,
    (_M, Action.post_message): True,
    (_O, Action.invite): True,
    (_A, Action.invite): True,
    (_M, Action.invite): False,  # except in open groups, see member_may_invite
    (_O, Action.decide_join_request): True,
    (_A, Action.decide_join_request): True,
    (_O, Action.remove_member): True,
    (_A, Action.remove_member): True,
    (_O, Action.edit_rules): True,
    (_A, Action.edit_rules): True,
    (_O, Action.set_role): True,
    (_O, Action.transfer_ownership): True,
    (_O, Action.dissolve): True,
    (_A, Action.leave): True,
    (_M, Action.leave): True,
    (_O, Action.leave): False,  # the owner transfers ownership or dissolves first
}

# Direct conversations have no owner and no management: only these actions exist there.
DIRECT_ACTIONS = frozenset({Action.read_timeline, Action.post_message})


def role_of(membership: Membership | None) -> GroupRole | None:
    if membership is None or not membership.is_active:
        return None
    return membership.role


def is_allowed(group: Group, membership: Membership | None, action: Action) -> bool:
    role = role_of(membership)
    if group.is_direct and action not in DIRECT_ACTIONS:
        return False
    if action is Action.invite and role is GroupRole.member:
        return group.join_policy is JoinPolicy.open
    return GROUP_PERMISSIONS.get((role, action), False)


def check_visible(group: Group | None, membership: Membership | None) -> Group:
    """A group the actor never belonged to and cannot discover is 'not found' (no probing)."""
    if group is None:
        raise NotFound("group_not_found", "No such group.")
    if membership is None and not group.discoverable:
        raise NotFound("group_not_found", "No such group.")
    return group


def check_member(group: Group, membership: Membership | None) -> Membership:
    if membership is None or not membership.is_active:
        raise Forbidden("not_a_member", "You are not a member of this group.")
    return membership


def check_active(group: Group) -> None:
    if group.state is GroupState.closed:
        raise Conflict("group_closed", "The platform closed this group; it is read-only.")
    if not group.is_active:
        raise Conflict("group_dissolved", "This group has been dissolved; it is read-only.")


def check_allowed(group: Group, membership: Membership | None, action: Action) -> Membership:
    """Raise unless the actor's role allows the action; return the active membership."""
    member = check_member(group, membership)
    if not is_allowed(group, member, action):
        raise Forbidden(
            "not_permitted",
            f"Your role ({member.role.value}) may not {action.value.replace('_', ' ')} here.",
            action=action.value,
        )
    return member


def check_can_post(account: Account, group: Group, membership: Membership | None) -> Membership:
    """Everything that must hold before a message is accepted (Art. 6, Art. 9)."""
    if not account.identity_verified:
        raise Forbidden(
            "identity_unverified",
            "Verify your real identity before posting (Art. 6: 后台实名).",
        )
    if account.disabled:
        raise Forbidden("account_disabled", "This account is disabled.")
    member = check_allowed(group, membership, Action.post_message)
    check_active(group)
    if group.rules_version > member.accepted_rules_version:
        raise Forbidden(
            "rules_not_accepted",
            "The group rules changed; accept the current version before posting.",
            rules_version=group.rules_version,
        )
    return member


def check_can_create_group(account: Account) -> None:
    if not account.identity_verified:
        raise Forbidden(
            "identity_unverified",
            "Verify your real identity before creating a group (Art. 6).",
        )
    if account.disabled:
        raise Forbidden("account_disabled", "This account is disabled.")


def check_can_join(account: Account, group: Group, membership: Membership | None) -> None:
    if group.is_direct:
        raise Forbidden("not_permitted", "Direct conversations cannot be joined.")
    check_active(group)
    if membership is not None and membership.is_active:
        raise Conflict("already_member", "You are already a member of this group.")
    if account.disabled:
        raise Forbidden("account_disabled", "This account is disabled.")


def check_rules_version(group: Group, accepted: int | None) -> int:
    """Joining means accepting the current rules: the joiner names the version they read."""
    if group.rules_version == 0:
        return 0
    if accepted is None:
        raise Conflict(
            "rules_not_accepted",
            "This group has rules; accept the current version to join.",
            rules_version=group.rules_version,
        )
    if accepted != group.rules_version:
        raise Conflict(
            "rules_version_stale",
            "The group rules changed since you read them; read and accept the current version.",
            rules_version=group.rules_version,
        )
    return accepted


# ---- what the platform may do, by tier (P1, P2, P8) -------------------------------------


class PlatformAction(StrEnum):
    """Things the platform might do to a group. The table below says where it may."""

    read_unreported_content = "read_unreported_content"
    proactive_screening = "proactive_screening"
    read_reported_evidence = "read_reported_evidence"
    read_report_context = "read_report_context"
    view_group_profile = "view_group_profile"
    view_member_list = "view_member_list"
    impose_group_sanction = "impose_group_sanction"
    impose_account_sanction = "impose_account_sanction"
    route_reports_to_platform_first = "route_reports_to_platform_first"


def _tier_row(private: bool, small: bool, large: bool, public: bool) -> dict[Tier, bool]:
    return {Tier.private: private, Tier.small: small, Tier.large: large, Tier.public: public}


_PLATFORM_ROWS: dict[PlatformAction, dict[Tier, bool]] = {
    # P1/P2: no one looks in uninvited, in any tier. Content reaches the platform
    # only through a member's report.
    PlatformAction.read_unreported_content: _tier_row(False, False, False, False),
    PlatformAction.proactive_screening: _tier_row(False, False, False, False),
    # What a member reported is evidence the member chose to hand over, in any tier.
    PlatformAction.read_reported_evidence: _tier_row(True, True, True, True),
    # The messages around a report are kept only outside private spaces.
    PlatformAction.read_report_context: _tier_row(False, True, True, True),
    PlatformAction.view_group_profile: _tier_row(False, True, True, True),
    PlatformAction.view_member_list: _tier_row(False, True, True, True),
    # A private space is not a group the platform can warn, mute or close;
    # measures there act on the accounts whose conduct was reported.
    PlatformAction.impose_group_sanction: _tier_row(False, True, True, True),
    PlatformAction.impose_account_sanction: _tier_row(True, True, True, True),
    # P8: the owner hears first in private and small groups; large and public
    # groups reach the platform queue at once.
    PlatformAction.route_reports_to_platform_first: _tier_row(False, False, True, True),
}

PLATFORM_TIER_PERMISSIONS: dict[tuple[PlatformAction, Tier], bool] = {
    (action, tier): allowed
    for action, row in _PLATFORM_ROWS.items()
    for tier, allowed in row.items()
}


def platform_may(action: PlatformAction, tier: Tier) -> bool:
    return PLATFORM_TIER_PERMISSIONS.get((action, tier), False)


def check_platform_may(action: PlatformAction, tier: Tier) -> None:
    if not platform_may(action, tier):
        raise Forbidden(
            "tier_forbids",
            f"The platform may not {action.value.replace('_', ' ')} in a {tier.value} group.",
            tier=tier.value,
        )


def visible_window(membership: Membership, group: Group) -> tuple[int, int]:
    """The seq range of the member's current (or last) membership period: from their
    joining to their leaving (or now). Earlier periods: ``visible_periods``."""
    last = membership.left_seq if membership.left_seq is not None else group.last_seq
    return membership.joined_seq, last


def visible_periods(membership: Membership, group: Group) -> list[tuple[int, int]]:
    """Every seq range a member may read, oldest first: each of their own membership
    periods (the current one up to now), never the gaps between them."""
    return [
        (first, last if last is not None else group.last_seq) for first, last in membership.periods
    ]
