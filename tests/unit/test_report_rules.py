"""The pure rules of reports, cases, sanctions and appeals (P3, P4, P8; Arts. 11, 12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qunzu.domain.errors import Conflict, Forbidden, Gone, InvalidInput
from qunzu.domain.reports import (
    MAX_STATEMENT_CHARS,
    ReporterRecord,
    Route,
    Target,
    TargetKind,
    category_of,
    check_statement,
    deadline,
    priority,
    reporter_weight,
    route_for,
)
from qunzu.domain.rulebook import RulebookSet, SanctionTarget, Tier
from qunzu.domain.sanctions import (
    Sanction,
    SanctionRequest,
    SanctionState,
    check_appeal_allowed,
    check_appeal_decider,
    check_sanction_request,
    end_of,
)
from qunzu.policy import default_rulebook_text, parse_rulebook

BOOK = parse_rulebook(default_rulebook_text())
NOW = datetime(2026, 6, 1, tzinfo=UTC)
FACTS = "Posted a threat against another member."

NORMAL = BOOK.report_categories["insult-defamation"]
SEVERE_IDS = ("threat-to-life", "minors", "terrorism")


def later_version_text(effective_from: str = "2026-02-01T00:00:00+00:00") -> str:
    """The default rulebook as a later version that adds art-14 and lets warnings cite it."""
    text = default_rulebook_text()
    text = text.replace('version = "2017.1"', 'version = "2026.2"', 1)
    text = text.replace(
        "effective_from = 2017-10-08T00:00:00+08:00", f"effective_from = {effective_from}", 1
    )
    article = (
        '[[articles]]\nid = "art-14"\n'
        'title = { zh = "群公告", en = "Group notices" }\n'
        'text = { zh = "群公告不得发布违法信息。", en = "Group notices may not carry unlawful '
        'content." }\n\n[categories]'
    )
    text = text.replace("[categories]", article, 1)
    return text.replace(
        'articles = ["art-9", "art-10", "art-11"]',
        'articles = ["art-9", "art-10", "art-11", "art-14"]',
        1,
    )


def sanction(**changes: object) -> Sanction:
    values: dict[str, object] = {
        "id": 1,
        "case_id": 1,
        "kind": "blacklist",
        "target": SanctionTarget.account,
        "group_id": None,
        "account_id": 7,
        "article": "art-11",
        "rulebook_version": "2017.1",
        "facts": FACTS,
        "decided_by": 3,
        "automated": False,
        "starts_at": NOW,
        "ends_at": NOW + timedelta(days=30),
        "state": SanctionState.active,
        "appeal_until": NOW + timedelta(days=180),
    }
    values.update(changes)
    return Sanction(**values)  # type: ignore[arg-type]


# ---- routing (P8) -------------------------------------------------------------------------


@pytest.mark.parametrize("tier", [Tier.private, Tier.small])
def test_a_normal_report_in_a_private_or_small_group_goes_to_the_owner_first(tier: Tier) -> None:
    assert route_for(NORMAL, tier, target_is_manager=False) is Route.owner


@pytest.mark.parametrize("category", SEVERE_IDS)
@pytest.mark.parametrize("tier", list(Tier))
def test_a_severe_category_goes_to_the_platform_at_once_in_every_tier(
    category: str, tier: Tier
) -> None:
    assert route_for(BOOK.report_categories[category], tier, False) is Route.platform


@pytest.mark.parametrize("tier", [Tier.large, Tier.public])
def test_large_and_public_groups_go_to_the_platform_at_once(tier: Tier) -> None:
    assert route_for(NORMAL, tier, False) is Route.platform


@pytest.mark.parametrize("tier", list(Tier))
def test_a_report_about_the_owner_or_an_admin_goes_to_the_platform(tier: Tier) -> None:
    assert route_for(NORMAL, tier, target_is_manager=True) is Route.platform


def test_the_default_rulebook_marks_exactly_the_three_severe_categories() -> None:
    severe = {c.id for c in BOOK.report_categories.values() if c.severity == "severe"}
    assert severe == set(SEVERE_IDS)


# ---- reporter weight and priority (Discourse) ---------------------------------------------


def test_reporter_weight_grows_with_credit_level() -> None:
    weights = [reporter_weight(level, ReporterRecord()) for level in range(5)]
    assert weights == sorted(weights) and len(set(weights)) == 5
    assert reporter_weight(1, ReporterRecord()) == pytest.approx(1.0)


def test_reporter_weight_grows_with_upheld_reports_and_falls_with_unfounded_ones() -> None:
    fresh = reporter_weight(2, ReporterRecord())
    accurate = reporter_weight(2, ReporterRecord(upheld=4))
    unfounded = reporter_weight(2, ReporterRecord(unfounded=4))
    assert unfounded < fresh < accurate


def test_recent_unfounded_reports_halve_the_weight_each() -> None:
    base = reporter_weight(1, ReporterRecord())
    assert reporter_weight(1, ReporterRecord(recent_unfounded=1)) == pytest.approx(base / 2)
    assert reporter_weight(1, ReporterRecord(recent_unfounded=2)) == pytest.approx(base / 4)


def test_reporter_weight_stays_between_the_floor_and_the_ceiling() -> None:
    assert reporter_weight(0, ReporterRecord(unfounded=50, recent_unfounded=10)) == 0.2
    assert reporter_weight(4, ReporterRecord(upheld=1000)) == 3.0


def test_priority_puts_any_severe_case_above_any_normal_case() -> None:
    assert priority("severe", [0.2]) > priority("normal", [3.0] * 20)


def test_priority_rises_with_each_distinct_reporter() -> None:
    one = priority("normal", [1.0])
    two = priority("normal", [1.0, 1.0])
    assert two > one
    assert priority("normal", [1.0, 3.0]) > two  # weightier reporters count more


def test_deadline_is_24_hours_normally_and_2_for_severe_categories() -> None:
    assert deadline(NOW, NORMAL) == NOW + timedelta(hours=24)
    assert deadline(NOW, BOOK.report_categories["threat-to-life"]) == NOW + timedelta(hours=2)


# ---- reports ------------------------------------------------------------------------------


def test_reports_on_the_same_target_share_a_key_and_others_do_not() -> None:
    a = Target(TargetKind.message, 5, seq=9, account_id=2)
    b = Target(TargetKind.message, 5, seq=9, account_id=2)
    assert a.key == b.key == "message:5:9"
    assert Target(TargetKind.member, 5, account_id=2).key == "member:5:2"
    assert Target(TargetKind.group, 5).key == "group:5"
    assert len({a.key, Target(TargetKind.message, 5, seq=10).key, "group:5"}) == 3


def test_a_statement_over_1000_characters_is_refused() -> None:
    assert check_statement("  " + "x" * MAX_STATEMENT_CHARS + "  ") == "x" * MAX_STATEMENT_CHARS
    with pytest.raises(InvalidInput) as caught:
        check_statement("x" * (MAX_STATEMENT_CHARS + 1))
    assert caught.value.code == "statement_too_long"


def test_an_unknown_report_category_names_the_allowed_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        category_of(BOOK, "gossip")
    assert caught.value.code == "unknown_category"
    assert "insult-defamation" in caught.value.extra["allowed"]


# ---- sanctions (P3, P4) -------------------------------------------------------------------


def test_a_sanction_outside_the_catalogue_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_sanction_request(SanctionRequest("fine", "art-11", FACTS), BOOK, True, True)
    assert caught.value.code == "unknown_sanction"
    assert "blacklist" in caught.value.extra["allowed"]


def test_an_article_added_later_cannot_be_cited_for_earlier_conduct() -> None:
    books = RulebookSet([BOOK, parse_rulebook(later_version_text())])
    before = datetime(2026, 1, 15, tzinfo=UTC)
    after = datetime(2026, 2, 15, tzinfo=UTC)
    request = SanctionRequest("warning", "art-14", FACTS, days=7)
    with pytest.raises(InvalidInput) as caught:
        check_sanction_request(request, books.in_force(before), True, True)
    assert caught.value.code == "article_not_in_force"
    kind = check_sanction_request(request, books.in_force(after), True, True)
    assert kind.id == "warning"


def test_an_article_the_measure_may_not_cite_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_sanction_request(SanctionRequest("blacklist", "art-6", FACTS), BOOK, True, True)
    assert caught.value.code == "article_not_citable"


@pytest.mark.parametrize("facts", ["", "too short", "x" * 2001])
def test_a_sanction_needs_stated_facts(facts: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_sanction_request(SanctionRequest("blacklist", "art-11", facts), BOOK, True, True)
    assert caught.value.code == "facts_required"


@pytest.mark.parametrize(
    ("kind", "days"),
    [
        ("warning", 0),
        ("warning", 31),
        ("blacklist", 366),
        ("closure", 3),  # not time-limited: a closure lasts until lifted
        ("lower_credit", 30),
        ("refer_to_authority", 1),
    ],
)
def test_a_sanction_period_is_at_least_a_day_and_at_most_the_catalogue_maximum(
    kind: str, days: int
) -> None:
    article = BOOK.sanctions[kind].articles[-1]
    with pytest.raises(InvalidInput) as caught:
        check_sanction_request(SanctionRequest(kind, article, FACTS, days=days), BOOK, True, True)
    assert caught.value.code == "invalid_days"


def test_an_account_measure_needs_an_account_to_fall_on() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_sanction_request(SanctionRequest("blacklist", "art-11", FACTS), BOOK, True, False)
    assert caught.value.code == "wrong_target"


def test_a_sanction_ends_after_its_days_or_its_catalogue_maximum_or_never() -> None:
    warning, closure = BOOK.sanctions["warning"], BOOK.sanctions["closure"]
    assert end_of(warning, NOW, 3) == NOW + timedelta(days=3)
    assert end_of(warning, NOW, None) == NOW + timedelta(days=30)
    assert end_of(closure, NOW, None) is None


def test_a_sanction_is_in_force_from_its_start_until_its_end_while_active() -> None:
    s = sanction()
    assert not s.in_force(NOW - timedelta(seconds=1))
    assert s.in_force(NOW)
    assert not s.in_force(NOW + timedelta(days=30))
    assert not sanction(state=SanctionState.lifted).in_force(NOW + timedelta(days=1))


# ---- appeals ------------------------------------------------------------------------------


def test_an_appeal_within_the_window_is_allowed() -> None:
    check_appeal_allowed(sanction(), NOW + timedelta(days=180), already_appealed=False)


def test_an_appeal_after_the_window_is_gone() -> None:
    with pytest.raises(Gone) as caught:
        check_appeal_allowed(sanction(), NOW + timedelta(days=181), already_appealed=False)
    assert caught.value.code == "appeal_window_closed"


def test_a_second_appeal_of_the_same_sanction_is_refused() -> None:
    with pytest.raises(Conflict) as caught:
        check_appeal_allowed(sanction(), NOW, already_appealed=True)
    assert caught.value.code == "appeal_exists"


def test_whoever_made_the_decision_may_not_decide_its_appeal() -> None:
    with pytest.raises(Forbidden) as caught:
        check_appeal_decider(3, original_decider_id=3)
    assert caught.value.code == "own_decision"
    check_appeal_decider(4, original_decider_id=3)
