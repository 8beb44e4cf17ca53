"""Tiered and classified management (分级分类管理, Art. 7): which tier a group is in."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from qunzu.domain.models import GroupCategory, GroupKind, JoinPolicy
from qunzu.domain.rulebook import ActivityPolicy, Tier, TierThresholds


def tier_of(
    kind: GroupKind,
    category: GroupCategory | None,
    member_count: int,
    join_policy: JoinPolicy,
    discoverable: bool,
    thresholds: TierThresholds,
) -> Tier:
    """Direct chats and small family groups are private spaces (P1); open and
    discoverable groups are public whatever their size; otherwise size decides."""
    if kind is GroupKind.direct:
        return Tier.private
    if join_policy is JoinPolicy.open and discoverable:
        return Tier.public
    if category is GroupCategory.family and member_count <= thresholds.family_private_max:
        return Tier.private
    if member_count <= thresholds.small_max:
        return Tier.small
    return Tier.large


class ActivityClass(StrEnum):
    dormant = "dormant"
    normal = "normal"
    busy = "busy"


def activity_class(
    last_activity_at: datetime | None,
    messages_last_day: int,
    now: datetime,
    policy: ActivityPolicy,
) -> ActivityClass:
    if last_activity_at is None or now - last_activity_at > timedelta(
        days=policy.dormant_after_days
    ):
        return ActivityClass.dormant
    if messages_last_day >= policy.busy_messages_per_day:
        return ActivityClass.busy
    return ActivityClass.normal
