"""Settling reporters and the measures against misuse of reporting (domain.reporters).

Art. 12; DSA Art. 23: a warning, then, once warned, a suspension of reporting, each a
sanction with reasons; severe reports are accepted while suspended; every threshold and
credit comes from the version in force when the report was filed (P3).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qunzu.domain.errors import Forbidden, InvalidInput
from qunzu.domain.reporters import (
    UnfoundedReport,
    check_may_report,
    misuse_lookback,
    misuse_measure,
    settle_reporters,
)
from qunzu.domain.reports import Decision, Report, ReporterRecord
from qunzu.domain.rulebook import RulebookSet, SanctionTarget
from qunzu.domain.sanctions import (
    REPORTING_SUSPENSION,
    REPORTING_WARNING,
    Sanction,
    SanctionRequest,
    SanctionState,
    check_sanction_request,
)
from qunzu.policy import default_rulebook_text, parse_rulebook
from tests.rulebooks import consequences_version_text
from tests.unit.test_case_rules import MESSAGE, case

V1 = parse_rulebook(default_rulebook_text())
V2_FROM = datetime(2026, 2, 1, tzinfo=UTC)
V2 = parse_rulebook(consequences_version_text(V2_FROM.isoformat()))
BOOKS = RulebookSet([V1])
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
REVIEWER = 9
CASE = case(id=40)
WARN, SUSPEND = V1.reporting.warning_after, V1.reporting.suspension_after


def report(rid: int, reporter: int, at: datetime = NOW - timedelta(hours=1)) -> Report:
    return Report(rid, CASE.id, reporter, MESSAGE, "insult-defamation", "", (), at, 1.0)


def unfounded(n: int, days_ago: float = 1.0) -> list[UnfoundedReport]:
    at = NOW - timedelta(days=days_ago)
    return [UnfoundedReport(100 + i, 200 + i, at + timedelta(minutes=i), at) for i in range(n)]


def measure(kind: str, starts: datetime, days: int, **changes: object) -> Sanction:
    values: dict[str, object] = {
        "id": 60,
        "case_id": 1,
        "kind": kind,
        "target": SanctionTarget.account,
        "group_id": None,
        "account_id": 4,
        "article": "art-12",
        "rulebook_version": "2017.1",
        "facts": "Repeated manifestly unfounded reports.",
        "decided_by": REVIEWER,
        "automated": True,
        "starts_at": starts,
        "ends_at": starts + timedelta(days=days),
        "state": SanctionState.active,
        "appeal_until": starts + timedelta(days=180),
    }
    values.update(changes)
    return Sanction(**values)  # type: ignore[arg-type]


def measure_now(history: list[UnfoundedReport], measures: list[Sanction]) -> Sanction | None:
    found = misuse_measure(4, history, measures, V1, V1, CASE, REVIEWER, NOW)
    return found.sanction if found else None


# ---- settlement ----------------------------------------------------------------------------


def test_an_upheld_report_counts_for_every_reporter_and_each_hears_the_outcome() -> None:
    reports = [report(1, 4), report(2, 5)]
    out = settle_reporters(
        CASE,
        reports,
        Decision.violation,
        False,
        {4: ReporterRecord(upheld=2)},
        {},
        {},
        BOOKS,
        REVIEWER,
        NOW,
    )
    assert out.records == {4: ReporterRecord(upheld=3), 5: ReporterRecord(upheld=1)}
    assert [(e.account_id, e.delta, e.reason.value) for e in out.credit] == [
        (4, V1.credit.inputs.report_upheld, "report_upheld"),
        (5, V1.credit.inputs.report_upheld, "report_upheld"),
    ]
    assert [(n.account_id, n.data["outcome"]) for n in out.notices] == [
        (4, "violation"),
        (5, "violation"),
    ]
    assert out.measures == []


def test_a_plain_no_violation_counts_without_credit_or_measures() -> None:
    out = settle_reporters(
        CASE, [report(1, 4)], Decision.no_violation, False, {}, {}, {}, BOOKS, REVIEWER, NOW
    )
    assert out.records == {4: ReporterRecord(no_violation=1)}
    assert out.credit == [] and out.measures == []


def test_a_manifestly_unfounded_report_costs_credit_and_counts_as_unfounded() -> None:
    out = settle_reporters(
        CASE, [report(1, 4)], Decision.no_violation, True, {}, {}, {}, BOOKS, REVIEWER, NOW
    )
    assert out.records == {4: ReporterRecord(unfounded=1)}
    assert [e.delta for e in out.credit] == [V1.credit.inputs.report_unfounded]


def test_the_warning_comes_with_the_report_that_reaches_the_threshold() -> None:
    history = {4: unfounded(WARN - 1)}
    out = settle_reporters(
        CASE, [report(1, 4)], Decision.no_violation, True, {}, history, {}, BOOKS, REVIEWER, NOW
    )
    (found,) = out.measures
    s = found.sanction
    assert (s.kind, s.account_id, s.article, s.automated) == (REPORTING_WARNING, 4, "art-12", True)
    assert (s.case_id, s.decided_by, s.rulebook_version) == (CASE.id, REVIEWER, V1.version)
    assert s.ends_at == NOW + timedelta(days=V1.reporting.unfounded_window_days)
    assert s.appeal_until == NOW + timedelta(days=V1.appeal_window_days)
    assert (found.notice.kind, found.notice.data["unfounded_reports"]) == (
        "reporting_warning",
        WARN,
    )


# ---- escalation ----------------------------------------------------------------------------


def test_below_the_warning_threshold_nothing_happens() -> None:
    assert measure_now(unfounded(WARN - 1), []) is None


def test_unfounded_reports_outside_the_window_do_not_count() -> None:
    old = unfounded(WARN, days_ago=V1.reporting.unfounded_window_days + 1)
    assert measure_now(old, []) is None


def test_without_a_warning_in_force_even_many_reports_bring_a_warning_first() -> None:
    found = measure_now(unfounded(SUSPEND + 3), [])
    assert found is not None and found.kind == REPORTING_WARNING


def test_once_warned_no_second_warning_until_the_suspension_threshold() -> None:
    warned = [measure(REPORTING_WARNING, NOW - timedelta(days=1), 90)]
    assert measure_now(unfounded(SUSPEND - 1), warned) is None
    found = measure_now(unfounded(SUSPEND), warned)
    assert found is not None and found.kind == REPORTING_SUSPENSION
    assert found.ends_at == NOW + timedelta(days=V1.reporting.suspension_days)


def test_an_overturned_warning_does_not_count_as_a_warning() -> None:
    overturned = [
        measure(REPORTING_WARNING, NOW - timedelta(days=1), 90, state=SanctionState.overturned)
    ]
    found = measure_now(unfounded(SUSPEND), overturned)
    assert found is not None and found.kind == REPORTING_WARNING


def test_no_second_suspension_while_one_is_in_force() -> None:
    measures = [
        measure(REPORTING_WARNING, NOW - timedelta(days=5), 90),
        measure(REPORTING_SUSPENSION, NOW - timedelta(days=1), 14, id=61),
    ]
    assert measure_now(unfounded(SUSPEND + 2, days_ago=3), measures) is None


def test_a_suspension_uses_up_the_reports_that_led_to_it() -> None:
    ended = NOW - timedelta(days=20)
    measures = [
        measure(REPORTING_WARNING, ended - timedelta(days=5), 90),
        measure(REPORTING_SUSPENSION, ended, 14, id=61),
    ]
    before = unfounded(SUSPEND, days_ago=25)
    assert measure_now(before, measures) is None
    after = unfounded(SUSPEND, days_ago=2)
    found = measure_now([*before, *after], measures)
    assert found is not None and found.kind == REPORTING_SUSPENSION


def test_the_facts_name_the_reports_when_they_were_decided_and_the_thresholds() -> None:
    found = measure_now(unfounded(WARN), [])
    assert found is not None
    for u in unfounded(WARN):
        assert f"report {u.report_id} (case {u.case_id}, decided" in found.facts
    assert f"a warning after {WARN}" in found.facts
    assert f"suspended for {V1.reporting.suspension_days} days after {SUSPEND}" in found.facts
    assert V1.version in found.facts
    assert 10 <= len(found.facts) <= 2000


def test_the_facts_stay_within_two_thousand_characters_for_a_serial_reporter() -> None:
    found = measure_now(unfounded(400), [])
    assert found is not None and len(found.facts) <= 2000
    assert "and 390 earlier" in found.facts


@pytest.mark.parametrize("kind", [REPORTING_WARNING, REPORTING_SUSPENSION])
def test_a_reviewer_cannot_impose_a_reporting_measure_in_a_decision(kind: str) -> None:
    request = SanctionRequest(kind, "art-12", "Reported harmless messages again and again.")
    with pytest.raises(InvalidInput) as caught:
        check_sanction_request(request, V1, True, True)
    assert caught.value.code == "automatic_measure"


# ---- reporting while suspended -------------------------------------------------------------


def test_a_suspended_reporter_may_not_report_a_normal_matter() -> None:
    suspended = [measure(REPORTING_SUSPENSION, NOW - timedelta(days=1), 14, id=61)]
    with pytest.raises(Forbidden) as caught:
        check_may_report(V1.report_categories["spam"], suspended, 4)
    assert caught.value.code == "reporting_suspended"
    assert caught.value.extra["sanction_id"] == 61


@pytest.mark.parametrize("category", ["threat-to-life", "minors", "terrorism"])
def test_a_suspended_reporter_may_still_report_a_severe_matter(category: str) -> None:
    suspended = [measure(REPORTING_SUSPENSION, NOW - timedelta(days=1), 14, id=61)]
    check_may_report(V1.report_categories[category], suspended, 4)


def test_other_sanctions_do_not_stop_reporting() -> None:
    blacklist = [measure("blacklist", NOW - timedelta(days=1), 14)]
    check_may_report(V1.report_categories["spam"], blacklist, 4)


# ---- P3: the version in force when the report was filed ------------------------------------


def test_reporters_are_settled_by_the_version_in_force_when_they_filed() -> None:
    books = RulebookSet([V1, V2])
    early = report(1, 4, at=V2_FROM - timedelta(days=1))
    late = report(2, 5, at=V2_FROM + timedelta(days=1))
    out = settle_reporters(
        CASE, [early, late], Decision.violation, False, {}, {}, {}, books, REVIEWER, NOW
    )
    assert [e.delta for e in out.credit] == [
        V1.credit.inputs.report_upheld,
        V2.credit.inputs.report_upheld,
    ]
    assert V1.credit.inputs.report_upheld != V2.credit.inputs.report_upheld


def test_misuse_thresholds_follow_the_version_in_force_when_the_report_was_filed() -> None:
    assert V2.reporting.warning_after < V1.reporting.warning_after
    books = RulebookSet([V1, V2])
    filed = V2_FROM - timedelta(days=1)
    history = {4: [UnfoundedReport(100, 200, filed - timedelta(hours=1), NOW)]}
    out = settle_reporters(
        CASE,
        [report(1, 4, at=filed)],
        Decision.no_violation,
        True,
        {},
        history,
        {},
        books,
        REVIEWER,
        NOW,
    )
    assert out.measures == []  # two of V1's three: no warning under V1's rules
    (entry,) = out.credit
    assert entry.delta == V1.credit.inputs.report_unfounded


def test_the_lookback_reaches_as_far_as_the_longest_window_involved() -> None:
    books = RulebookSet([V1, V2])
    reports = [report(1, 4, V2_FROM - timedelta(days=1)), report(2, 5, V2_FROM)]
    longest = max(V1.reporting.unfounded_window_days, V2.reporting.unfounded_window_days)
    assert misuse_lookback(reports, books, NOW) == NOW - timedelta(days=longest)
