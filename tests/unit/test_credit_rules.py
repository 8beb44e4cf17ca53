"""Credit score, forgiveness, levels with hysteresis; tiers; quotas; the platform tier table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qunzu.domain.credit import CreditEntry, CreditReason, compute_score, level_for, weight
from qunzu.domain.errors import QuotaExceeded
from qunzu.domain.models import GroupCategory, GroupKind, JoinPolicy
from qunzu.domain.permissions import (
    PLATFORM_TIER_PERMISSIONS,
    PlatformAction,
    platform_may,
)
from qunzu.domain.quotas import SlidingWindow, check_quota
from qunzu.domain.rulebook import ActivityPolicy, Tier
from qunzu.domain.tiers import ActivityClass, activity_class, tier_of
from qunzu.policy import default_rulebook_text, parse_rulebook

BOOK = parse_rulebook(default_rulebook_text())
CREDIT = BOOK.credit
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def entry(delta: int, days_ago: float, reason: CreditReason = CreditReason.sanction) -> CreditEntry:
    return CreditEntry(1, delta, reason, NOW - timedelta(days=days_ago))


def test_positive_entries_count_fully_whatever_their_age() -> None:
    assert weight(entry(300, 1000, CreditReason.identity_verified), NOW, 180) == 300


def test_a_penalty_fades_linearly_over_the_forgiveness_window() -> None:
    assert weight(entry(-100, 0), NOW, 180) == -100
    assert weight(entry(-100, 90), NOW, 180) == pytest.approx(-50)
    assert weight(entry(-100, 180), NOW, 180) == 0
    assert weight(entry(-100, 400), NOW, 180) == 0


def test_score_is_base_plus_entries_clamped_to_the_range() -> None:
    verified = entry(300, 10, CreditReason.identity_verified)
    assert compute_score([verified], NOW, CREDIT) == CREDIT.inputs.base + 300
    huge = entry(5000, 1, CreditReason.manual_adjustment)
    assert compute_score([huge], NOW, CREDIT) == CREDIT.score_max
    assert compute_score([entry(-5000, 0)], NOW, CREDIT) == CREDIT.score_min


def test_entries_from_the_future_do_not_count_yet() -> None:
    future = CreditEntry(1, 100, CreditReason.manual_adjustment, NOW + timedelta(days=1))
    assert compute_score([future], NOW, CREDIT) == CREDIT.inputs.base


def test_unverified_accounts_are_level_zero_whatever_the_score() -> None:
    assert level_for(900, verified=False, policy=CREDIT) == 0


def test_level_is_the_band_of_the_score_at_its_edges() -> None:
    assert level_for(499, True, CREDIT) == 1
    assert level_for(500, True, CREDIT) == 2
    assert level_for(699, True, CREDIT) == 2
    assert level_for(700, True, CREDIT) == 3


def test_demotion_waits_until_below_ninety_percent_of_the_floor() -> None:
    floor = CREDIT.level(2).min_score  # 500
    assert level_for(int(floor * 0.9), True, CREDIT, previous=2) == 2  # 450: kept
    assert level_for(int(floor * 0.9) - 1, True, CREDIT, previous=2) == 1  # 449: demoted


def test_promotion_happens_at_the_floor() -> None:
    assert level_for(700, True, CREDIT, previous=2) == 3


def test_a_locked_level_overrides_the_score() -> None:
    assert level_for(100, True, CREDIT, previous=3, locked=3) == 3


def test_direct_chats_and_small_family_groups_are_private() -> None:
    t = BOOK.tiers
    assert tier_of(GroupKind.direct, None, 2, JoinPolicy.invite_only, False, t) is Tier.private
    fam = GroupCategory.family
    assert tier_of(GroupKind.group, fam, 20, JoinPolicy.invite_only, False, t) is Tier.private
    assert tier_of(GroupKind.group, fam, 21, JoinPolicy.invite_only, False, t) is Tier.small


def test_size_decides_small_and_large_at_the_threshold() -> None:
    t, work = BOOK.tiers, GroupCategory.work
    assert tier_of(GroupKind.group, work, 100, JoinPolicy.approval, False, t) is Tier.small
    assert tier_of(GroupKind.group, work, 101, JoinPolicy.approval, False, t) is Tier.large


def test_open_and_discoverable_groups_are_public_at_any_size() -> None:
    t = BOOK.tiers
    assert tier_of(GroupKind.group, GroupCategory.interest, 3, JoinPolicy.open, True, t) is (
        Tier.public
    )
    assert tier_of(GroupKind.group, GroupCategory.interest, 3, JoinPolicy.open, False, t) is (
        Tier.small
    )


def test_activity_classes() -> None:
    policy = ActivityPolicy(dormant_after_days=30, busy_messages_per_day=500)
    assert activity_class(None, 0, NOW, policy) is ActivityClass.dormant
    assert activity_class(NOW - timedelta(days=31), 0, NOW, policy) is ActivityClass.dormant
    assert activity_class(NOW - timedelta(days=1), 499, NOW, policy) is ActivityClass.normal
    assert activity_class(NOW, 500, NOW, policy) is ActivityClass.busy


def test_quota_allows_up_to_the_limit_and_refuses_one_past_it() -> None:
    check_quota("groups_owned", 2, 3, 1, CREDIT)  # the third is allowed
    with pytest.raises(QuotaExceeded) as info:
        check_quota("groups_owned", 3, 3, 1, CREDIT)
    error = info.value
    assert error.code == "quota_exceeded"
    assert error.extra["quota"] == "groups_owned" and error.extra["limit"] == 3
    assert "level 2" in str(error.extra["raised_by"])


def test_quota_refusal_at_level_zero_says_to_verify() -> None:
    with pytest.raises(QuotaExceeded) as info:
        check_quota("groups_owned", 0, 0, 0, CREDIT)
    assert "Verify" in str(info.value.extra["raised_by"])


def test_sliding_window_forgets_events_older_than_the_window() -> None:
    window = SlidingWindow(timedelta(minutes=1))
    for s in range(3):
        window.add(7, NOW + timedelta(seconds=s))
    assert window.used(7, NOW + timedelta(seconds=30)) == 3
    assert window.used(7, NOW + timedelta(seconds=61)) == 1
    assert window.used(8, NOW) == 0


def test_platform_tier_table_covers_every_action_and_tier() -> None:
    assert len(PLATFORM_TIER_PERMISSIONS) == len(PlatformAction) * len(Tier)


@pytest.mark.parametrize("tier", list(Tier))
def test_no_tier_lets_the_platform_read_or_screen_unreported_content(tier: Tier) -> None:
    assert not platform_may(PlatformAction.read_unreported_content, tier)
    assert not platform_may(PlatformAction.proactive_screening, tier)
    assert platform_may(PlatformAction.read_reported_evidence, tier)


def test_private_spaces_get_no_context_window_and_no_group_sanctions() -> None:
    assert not platform_may(PlatformAction.read_report_context, Tier.private)
    assert not platform_may(PlatformAction.impose_group_sanction, Tier.private)
    assert platform_may(PlatformAction.impose_account_sanction, Tier.private)


def test_only_large_and_public_groups_route_reports_to_the_platform_first() -> None:
    routed = {t for t in Tier if platform_may(PlatformAction.route_reports_to_platform_first, t)}
    assert routed == {Tier.large, Tier.public}


def test_a_reversal_cancels_exactly_what_is_left_of_a_half_forgiven_penalty() -> None:
    penalty = entry(-150, 90)
    reversal = CreditEntry(1, 150, CreditReason.sanction_reversed, penalty.at)
    assert compute_score([penalty, reversal], NOW, CREDIT) == CREDIT.inputs.base


def test_account_age_and_activity_entries_never_fade() -> None:
    drop = entry(-20, 90, CreditReason.activity)
    assert weight(drop, NOW, 180) == -20
