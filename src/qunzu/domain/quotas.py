"""Quotas by credit level (Art. 8): refusals that say which quota, its limit, and what raises it.

No one is thrown out by a number: when a level drops, groups over the new cap
stop admitting members until they are back under it; nothing is cut down.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from qunzu.domain.errors import QuotaExceeded
from qunzu.domain.rulebook import CreditPolicy

QUOTA_TEXT = {
    "groups_owned": "groups you own",
    "groups_joined": "groups you are in",
    "new_groups_per_day": "groups created in 24 hours",
    "messages_per_minute": "messages per minute",
    "invitations_per_day": "invitations in 24 hours",
    "reports_per_day": "reports in 24 hours",
    "members_per_group": "members in this group",
}


def _how_to_raise(
    quota: str, level: int, policy: CreditPolicy, limit: int, category: str | None = None
) -> str:
    if level == 0:
        return "Verify your real identity and keep a good record to reach level 1."
    for higher in policy.levels:
        if higher.level <= level:
            continue
        if quota != "members_per_group":
            value = getattr(higher.quotas, quota)
        elif category is not None:
            value = higher.quotas.member_cap(category)  # the cap for this group's category
        else:
            value = max(higher.quotas.members_per_group.values())
        if value > limit:
            return f"Credit level {higher.level} (score {higher.min_score}+) allows {value}."
    return "This is the highest limit the rulebook grants."


def check_quota(
    quota: str,
    used: int,
    limit: int,
    level: int,
    policy: CreditPolicy,
    *,
    whose: str = "your",
    category: str | None = None,
) -> None:
    """Allow while ``used < limit``; refuse the request that would go past it.

    ``category`` is the group's, for ``members_per_group``: caps differ by category.
    """
    if used < limit:
        return
    raised_by = _how_to_raise(quota, level, policy, limit, category)
    extra: dict[str, object] = {"category": category} if category is not None else {}
    raise QuotaExceeded(
        "quota_exceeded",
        f"Quota reached: {limit} {QUOTA_TEXT.get(quota, quota)} at {whose} credit level {level}. "
        + raised_by,
        quota=quota,
        limit=limit,
        level=level,
        raised_by=raised_by,
        **extra,
    )


@dataclass
class SlidingWindow:
    """Counts events in the last ``window``: a per-account rate limit held in memory."""

    window: timedelta
    events: dict[int, deque[datetime]] = field(default_factory=dict)

    def used(self, key: int, now: datetime) -> int:
        q = self.events.get(key)
        if not q:
            return 0
        edge = now - self.window
        while q and q[0] <= edge:
            q.popleft()
        return len(q)

    def add(self, key: int, now: datetime) -> None:
        self.events.setdefault(key, deque()).append(now)

    def remove(self, key: int, at: datetime) -> None:
        """Take back an event added at ``at`` (a send that failed after taking its slot)."""
        q = self.events.get(key)
        if q and at in q:
            q.remove(at)
