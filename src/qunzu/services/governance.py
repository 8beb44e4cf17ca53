"""Quota checks and tier upkeep, shared by the group and membership services.

Quotas come from the credit level (Art. 8) in the rulebook in force now. A group's
member cap comes from its owner's level and its category. When an owner's level
drops, nothing is cut down: a group over its new cap simply admits no one until
it is back under it.
"""

from __future__ import annotations

from datetime import timedelta

from qunzu.domain.models import EntryKind, Group
from qunzu.domain.quotas import check_quota
from qunzu.domain.rulebook import Rulebook, Tier
from qunzu.domain.tiers import tier_of
from qunzu.services.context import ServiceContext
from qunzu.services.ledgers import current_level
from qunzu.services.ports import UnitOfWork
from qunzu.services.timeline import append_entry

DAY = timedelta(days=1)


def book(ctx: ServiceContext) -> Rulebook:
    return ctx.rulebooks.in_force(ctx.clock.now())


async def check_can_create_more(ctx: ServiceContext, uow: UnitOfWork, account_id: int) -> None:
    policy = book(ctx).credit
    level = await current_level(ctx, uow, account_id)
    quotas = policy.level(level).quotas
    owned = await uow.activity.groups_owned(account_id)
    check_quota("groups_owned", owned, quotas.groups_owned, level, policy)
    recent = await uow.activity.groups_created_since(account_id, ctx.clock.now() - DAY)
    check_quota("new_groups_per_day", recent, quotas.new_groups_per_day, level, policy)


async def check_can_join_more(ctx: ServiceContext, uow: UnitOfWork, account_id: int) -> None:
    policy = book(ctx).credit
    level = await current_level(ctx, uow, account_id)
    joined = await uow.activity.groups_joined(account_id)
    check_quota("groups_joined", joined, policy.level(level).quotas.groups_joined, level, policy)


async def member_cap(ctx: ServiceContext, uow: UnitOfWork, group: Group) -> int:
    policy = book(ctx).credit
    if group.owner_id is None:
        return 2
    level = await current_level(ctx, uow, group.owner_id)
    category = group.category.value if group.category else None
    return policy.level(level).quotas.member_cap(category)


async def check_group_has_room(ctx: ServiceContext, uow: UnitOfWork, group: Group) -> None:
    """The member cap is the owner's; the refusal says so, and how the owner raises it."""
    if group.is_direct or group.owner_id is None:
        return
    policy = book(ctx).credit
    level = await current_level(ctx, uow, group.owner_id)
    category = group.category.value if group.category else None
    cap = policy.level(level).quotas.member_cap(category)
    check_quota(
        "members_per_group",
        group.member_count,
        cap,
        level,
        policy,
        whose="the owner's",
        category=category,
    )


async def check_can_invite_more(ctx: ServiceContext, uow: UnitOfWork, account_id: int) -> None:
    policy = book(ctx).credit
    level = await current_level(ctx, uow, account_id)
    sent = await uow.activity.invitations_since(account_id, ctx.clock.now() - DAY)
    check_quota(
        "invitations_per_day", sent, policy.level(level).quotas.invitations_per_day, level, policy
    )


def compute_tier(ctx: ServiceContext, group: Group) -> Tier:
    return tier_of(
        group.kind,
        group.category,
        group.member_count,
        group.join_policy,
        group.discoverable,
        book(ctx).tiers,
    )


async def refresh_tier(ctx: ServiceContext, uow: UnitOfWork, group_id: int) -> Tier:
    """Recompute the tier after a change of size or settings; a change is a timeline event."""
    group = await uow.groups.get(group_id)
    assert group is not None
    tier = compute_tier(ctx, group)
    activity = await uow.activity.get_group(group_id)
    previous = activity.tier if activity else None
    if previous != tier.value:
        await uow.activity.set_tier(group_id, tier.value)
        if previous is not None:
            await append_entry(
                ctx,
                uow,
                group_id,
                EntryKind.tier_changed,
                None,
                data={"from": previous, "to": tier.value},
            )
    return tier
