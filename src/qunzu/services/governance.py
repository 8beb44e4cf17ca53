"""Quota checks and tier upkeep, shared by the group, membership and messaging services.

Quotas come from the credit level (Art. 8) in the rulebook in force now. A group's
member cap comes from its owner's level and its category. When an owner's level
drops, nothing is cut down: a group over its new cap simply admits no one until
it is back under it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from qunzu.domain.errors import Forbidden, QuotaExceeded
from qunzu.domain.models import EntryKind, Group, Membership
from qunzu.domain.owner_tools import GroupControls
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


def check_message_rate(ctx: ServiceContext, account_id: int, level: int) -> None:
    """Messages per minute, counted in memory on this node (as Synapse's rate limiter does)."""
    policy = book(ctx).credit
    now = ctx.clock.now()
    limit = policy.level(level).quotas.messages_per_minute
    check_quota("messages_per_minute", ctx.message_rate.used(account_id, now), limit, level, policy)


def note_message(ctx: ServiceContext, account_id: int) -> None:
    ctx.message_rate.add(account_id, ctx.clock.now())


def check_level_can_post(ctx: ServiceContext, level: int) -> None:
    credit_level = book(ctx).credit.level(level)
    if not credit_level.can_post:
        raise Forbidden(
            "credit_level_read_only",
            f"Credit level {level} ({credit_level.name.en}) reads only; see GET /v1/me/credit.",
            level=level,
        )


# Last-activity times serve dormancy, attendance and the group view, all counted in days,
# so a sender's rapid messages write them at most once a minute per node. Slow mode
# needs the exact time of a member's last post and asks for ``exact``.
ACTIVITY_WRITE_INTERVAL = timedelta(minutes=1)


async def note_activity(
    ctx: ServiceContext, uow: UnitOfWork, group_id: int, account_id: int, exact: bool = False
) -> None:
    """Last activity of group and member (Art. 7), and the account's active day for credit."""
    now = ctx.clock.now()
    noted = ctx.activity_noted
    key = (group_id, account_id)
    last = noted.get(key)
    if exact or last is None or not timedelta(0) <= now - last < ACTIVITY_WRITE_INTERVAL:
        await uow.activity.touch(group_id, account_id, now)
        if len(noted) > 200_000:
            noted.clear()
        noted[key] = now
    day = now.date().isoformat()
    day_key = (account_id, day)
    if day_key not in ctx.active_days_seen:
        await uow.credit.mark_active_day(account_id, day)
        if len(ctx.active_days_seen) > 200_000:
            ctx.active_days_seen.clear()
        ctx.active_days_seen.add(day_key)


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


async def check_send_controls(
    ctx: ServiceContext,
    uow: UnitOfWork,
    controls: GroupControls,
    mute: tuple[datetime, str] | None,
    member: Membership,
) -> None:
    """On the message path: mutes, mute-all, slow mode and read-only unattended groups.

    ``controls`` and ``mute`` come with the posting read (``uow.posting.load``)."""
    group_id = controls.group_id
    now = ctx.clock.now()
    if member.is_manager:
        return  # a returning owner or admin may speak; the next sweep sees them back
    if controls.read_only_since is not None:
        raise Forbidden(
            "group_unattended", "This group is read-only until someone takes ownership."
        )
    if mute is not None and mute[0] > now:
        raise Forbidden(
            "muted", f"You are muted here until {mute[0].isoformat()}.", until=mute[0].isoformat()
        )
    if controls.mute_all:
        raise Forbidden("group_muted", "Only the owner and admins may post right now.")
    if controls.slow_mode_seconds:
        last = await uow.activity.member_last_active(group_id, member.account_id)
        if last is not None and now - last < timedelta(seconds=controls.slow_mode_seconds):
            wait = controls.slow_mode_seconds - int((now - last).total_seconds())
            raise QuotaExceeded(
                "slow_mode", f"Slow mode: wait {wait} s before posting again.", retry_after=wait
            )
