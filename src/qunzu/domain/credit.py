"""Credit (信用): a ledger of reasons, a score, and a level that decides what one may do (P6).

Every change of credit is a ledger entry with a reason a user can read. The
score is the base plus the entries, where penalties fade linearly to nothing
over the forgiveness window (people change; Discourse forgives after six
months). The level is the band the score falls in, with hysteresis so that a
score wobbling at a boundary does not flip the level back and forth: promotion
at the floor, demotion only below a fraction of it. A senior reviewer may lock
a level by hand (audited).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from qunzu.domain.rulebook import CreditLevel, CreditPolicy

SECONDS_PER_DAY = 86_400


class CreditReason(StrEnum):
    """Reason codes; each has plain words in ``REASON_TEXT``."""

    identity_verified = "identity_verified"
    account_age = "account_age"
    activity = "activity"
    sanction = "sanction"
    sanction_reversed = "sanction_reversed"
    upheld_report_against = "upheld_report_against"
    report_upheld = "report_upheld"
    report_unfounded = "report_unfounded"
    owner_acted_in_time = "owner_acted_in_time"
    owner_liable = "owner_liable"
    manual_adjustment = "manual_adjustment"


REASON_TEXT: dict[CreditReason, tuple[str, str]] = {
    CreditReason.identity_verified: ("完成实名认证", "You verified your real identity."),
    CreditReason.account_age: ("账号使用时间增加", "Your account has been with us longer."),
    CreditReason.activity: ("近期活跃天数变化", "Your recent active days changed."),
    CreditReason.sanction: ("受到处置", "A sanction was imposed on you."),
    CreditReason.sanction_reversed: ("处置经申诉撤销", "A sanction against you was overturned."),
    CreditReason.upheld_report_against: (
        "针对你的举报经核实成立",
        "A report about your conduct was upheld.",
    ),
    CreditReason.report_upheld: ("你的举报经核实成立", "A report you filed was upheld."),
    CreditReason.report_unfounded: (
        "你的举报明显不实",
        "A report you filed was manifestly unfounded.",
    ),
    CreditReason.owner_acted_in_time: (
        "群主及时处理违规",
        "As owner, you dealt with a violation in time.",
    ),
    CreditReason.owner_liable: ("群主怠于管理", "As owner, you were found liable for inaction."),
    CreditReason.manual_adjustment: ("平台人工调整", "The platform adjusted your credit by hand."),
}


@dataclass(frozen=True, slots=True)
class CreditEntry:
    account_id: int
    delta: int
    reason: CreditReason
    at: datetime
    article: str | None = None
    source: str | None = None  # the event that caused it, e.g. "sanction:17"
    note: str = ""


# Derived inputs are written as their change: a fall in recent activity is not a penalty
# and must not fade, or the score would keep, for good, points the account no longer has.
NEVER_FADES = frozenset({CreditReason.account_age, CreditReason.activity})
# A reversal cancels a penalty exactly: it is dated at the penalty and fades with it,
# so overturning a half-forgiven sanction restores what remained of it, no more.
FADES_LIKE_PENALTY = frozenset({CreditReason.sanction_reversed})


def fades(entry: CreditEntry) -> bool:
    if entry.reason in FADES_LIKE_PENALTY:
        return True
    return entry.delta < 0 and entry.reason not in NEVER_FADES


def weight(entry: CreditEntry, now: datetime, forgiveness_days: int) -> float:
    """Credits count fully; penalties fade linearly to zero over the forgiveness window."""
    if forgiveness_days <= 0 or not fades(entry):
        return float(entry.delta)
    age_days = (now - entry.at).total_seconds() / SECONDS_PER_DAY
    remaining = max(0.0, 1.0 - age_days / forgiveness_days)
    return entry.delta * remaining


def compute_score(entries: Iterable[CreditEntry], now: datetime, policy: CreditPolicy) -> int:
    total = policy.inputs.base + sum(
        weight(e, now, policy.forgiveness_days) for e in entries if e.at <= now
    )
    # Half-up rounding, the same in Python, SQLite and PostgreSQL (bulk recompute).
    return max(policy.score_min, min(policy.score_max, math.floor(total + 0.5)))


def band_for(score: int, policy: CreditPolicy) -> CreditLevel:
    for level in policy.levels:
        if level.min_score <= score <= level.max_score:
            return level
    # Validated rulebooks cover score_min..score_max without gaps; clamp defensively.
    return policy.levels[0] if score < policy.levels[0].min_score else policy.levels[-1]


def level_for(
    score: int,
    verified: bool,
    policy: CreditPolicy,
    previous: int | None = None,
    locked: int | None = None,
) -> int:
    """The credit level for a score, with hysteresis on demotion and a manual lock."""
    if locked is not None:
        return locked
    if not verified:
        return 0  # Art. 6: unverified accounts read only
    band = band_for(score, policy).level
    if previous is None or band >= previous or previous == 0:
        return band
    floor = policy.level(previous).min_score
    if score >= floor * policy.demotion_hysteresis:
        return previous
    return band


def age_points(account_age_days: float, policy: CreditPolicy) -> int:
    inputs = policy.inputs
    return min(inputs.age_cap, int(account_age_days // 30) * inputs.per_30_days_of_age)


def activity_points(active_days: int, policy: CreditPolicy) -> int:
    inputs = policy.inputs
    return min(inputs.active_cap, active_days * inputs.per_active_day)


@dataclass(frozen=True, slots=True)
class CreditState:
    """The stored result of the last computation for an account."""

    account_id: int
    score: int
    level: int
    computed_at: datetime
    locked_level: int | None = None
    locked_by: int | None = None
    age_points: int = 0
    activity_points: int = 0
