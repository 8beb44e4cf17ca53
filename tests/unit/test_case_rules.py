"""A case's lifecycle as one state machine (domain.cases): every transition from every state.

The table below names, for each state a case can be in and each transition, whether the
transition is allowed (and the status it leads to) or refused (and with which code).
``test_the_table_covers_every_state_and_transition`` keeps it complete, so every illegal
transition is walked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from qunzu.domain.cases import (
    Case,
    CaseEventKind,
    Filing,
    OwnerAct,
    Reviewer,
    Transition,
    check_decision,
    conduct_rulebook,
    file_report,
    handled_by,
)
from qunzu.domain.duty import DutyEventKind
from qunzu.domain.errors import Conflict, DomainError, InvalidInput
from qunzu.domain.reports import CaseStatus, Decision, Route, Target, TargetKind, priority
from qunzu.domain.rulebook import RulebookSet, SanctionTarget, Tier
from qunzu.domain.sanctions import Sanction, SanctionState
from qunzu.policy import default_rulebook_text, parse_rulebook

BOOK = parse_rulebook(default_rulebook_text())
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
NORMAL = BOOK.report_categories["insult-defamation"]
SEVERE = BOOK.report_categories["threat-to-life"]
REVIEWER = Reviewer(9, senior=False)
SENIOR = Reviewer(10, senior=True)
OTHER_REVIEWER = 7
GROUP = 5
MESSAGE = Target(TargetKind.message, GROUP, seq=12, account_id=3)


def case(**changes: object) -> Case:
    values: dict[str, object] = {
        "id": 1,
        "target": MESSAGE,
        "category": NORMAL.id,
        "severity": "normal",
        "tier": "small",
        "route": Route.platform,
        "status": CaseStatus.open,
        "created_at": NOW - timedelta(hours=1),
        "deadline_at": NOW + timedelta(hours=23),
        "platform_visible_at": NOW - timedelta(hours=1),
        "conduct_at": NOW - timedelta(hours=2),
        "priority": 110.0,
        "reporters": 1,
    }
    values.update(changes)
    return Case(**values)  # type: ignore[arg-type]


STATES: dict[str, Case] = {
    "with_owner": case(route=Route.owner, platform_visible_at=NOW + timedelta(hours=3)),
    "owner_window_over": case(route=Route.owner, platform_visible_at=NOW - timedelta(seconds=1)),
    "open": case(),
    "claimed": case(status=CaseStatus.claimed, claimed_by=OTHER_REVIEWER),
    "escalated": case(status=CaseStatus.escalated),
    "escalated_claimed": case(status=CaseStatus.escalated, claimed_by=SENIOR.id),
    "decided_violation": case(
        status=CaseStatus.decided,
        decision=Decision.violation,
        decided_by=REVIEWER.id,
        decided_at=NOW - timedelta(days=1),
    ),
    "decided_no_violation": case(
        status=CaseStatus.decided,
        decision=Decision.no_violation,
        decided_by=REVIEWER.id,
        decided_at=NOW - timedelta(days=1),
    ),
    "handled_by_owner": case(
        route=Route.owner,
        status=CaseStatus.handled_by_owner,
        platform_visible_at=NOW + timedelta(hours=3),
        decided_at=NOW - timedelta(hours=1),
    ),
}

REMOVE_IT = OwnerAct(DutyEventKind.message_removed, GROUP, seq=12, account_id=3)

TRANSITIONS: dict[str, Callable[[Case], Transition]] = {
    "join": lambda c: c.join(NORMAL, Route.owner, [1.0, 1.0], NOW),
    "route_to_platform": lambda c: c.route_to_platform(NORMAL, NOW),
    "handle_by_owner": lambda c: c.handle_by_owner(REMOVE_IT, NOW),
    "claim": lambda c: c.claim(REVIEWER, NOW),
    "claim_senior": lambda c: c.claim(SENIOR, NOW),
    "escalate": lambda c: c.escalate(REVIEWER, "needs a senior", NOW),
    "decide": lambda c: c.decide(REVIEWER, Decision.no_violation, "", BOOK.version, NOW),
    "decide_senior": lambda c: c.decide(SENIOR, Decision.violation, "", BOOK.version, NOW),
    "request_review": lambda c: c.request_review(4, False, BOOK.appeal_window_days, NOW),
    "overturn": lambda c: c.overturn(BOOK, NOW),
}

OPEN, CLAIMED, ESC, DECIDED, HANDLED = (
    CaseStatus.open,
    CaseStatus.claimed,
    CaseStatus.escalated,
    CaseStatus.decided,
    CaseStatus.handled_by_owner,
)
# A status: allowed, leading to it. A string: refused with that code.
DONE = "case_decided"
NR = "not_reviewable"
PLATFORM = "already_with_platform"
NOT_OWNER = "not_with_owner"
TABLE: dict[str, dict[str, CaseStatus | str]] = {
    "with_owner": {
        "join": OPEN, "route_to_platform": OPEN, "handle_by_owner": HANDLED,
        "claim": "with_owner", "claim_senior": "with_owner", "escalate": "with_owner",
        "decide": "with_owner", "decide_senior": "with_owner",
        "request_review": NR, "overturn": NR,
    },
    "owner_window_over": {
        "join": OPEN, "route_to_platform": OPEN, "handle_by_owner": NOT_OWNER,
        "claim": CLAIMED, "claim_senior": CLAIMED, "escalate": ESC,
        "decide": DECIDED, "decide_senior": DECIDED,
        "request_review": NR, "overturn": NR,
    },
    "open": {
        "join": OPEN, "route_to_platform": PLATFORM, "handle_by_owner": NOT_OWNER,
        "claim": CLAIMED, "claim_senior": CLAIMED, "escalate": ESC,
        "decide": DECIDED, "decide_senior": DECIDED,
        "request_review": NR, "overturn": NR,
    },
    "claimed": {
        "join": CLAIMED, "route_to_platform": PLATFORM, "handle_by_owner": NOT_OWNER,
        "claim": "case_claimed", "claim_senior": "case_claimed", "escalate": "case_claimed",
        "decide": "case_claimed", "decide_senior": "case_claimed",
        "request_review": NR, "overturn": NR,
    },
    "escalated": {
        "join": ESC, "route_to_platform": PLATFORM, "handle_by_owner": NOT_OWNER,
        "claim": "senior_required", "claim_senior": ESC, "escalate": "already_escalated",
        "decide": "senior_required", "decide_senior": DECIDED,
        "request_review": NR, "overturn": NR,
    },
    "escalated_claimed": {
        "join": ESC, "route_to_platform": PLATFORM, "handle_by_owner": NOT_OWNER,
        "claim": "senior_required", "claim_senior": ESC, "escalate": "already_escalated",
        "decide": "senior_required", "decide_senior": DECIDED,
        "request_review": NR, "overturn": NR,
    },
    "decided_violation": {
        "join": DONE, "route_to_platform": DONE, "handle_by_owner": DONE,
        "claim": DONE, "claim_senior": DONE, "escalate": DONE,
        "decide": DONE, "decide_senior": DONE,
        "request_review": NR, "overturn": NR,
    },
    "decided_no_violation": {
        "join": DONE, "route_to_platform": DONE, "handle_by_owner": DONE,
        "claim": DONE, "claim_senior": DONE, "escalate": DONE,
        "decide": DONE, "decide_senior": DONE,
        "request_review": DECIDED, "overturn": ESC,
    },
    "handled_by_owner": {
        "join": DONE, "route_to_platform": DONE, "handle_by_owner": DONE,
        "claim": DONE, "claim_senior": DONE, "escalate": DONE,
        "decide": DONE, "decide_senior": DONE,
        "request_review": NR, "overturn": NR,
    },
}  # fmt: skip

CELLS = [(state, name) for state in TABLE for name in TABLE[state]]


def test_the_table_covers_every_state_and_transition() -> None:
    assert set(TABLE) == set(STATES)
    for row in TABLE.values():
        assert set(row) == set(TRANSITIONS)
    assert {s.status for s in STATES.values()} == set(CaseStatus)


@pytest.mark.parametrize(("state", "transition"), CELLS)
def test_each_transition_from_each_state_is_allowed_or_refused_with_its_code(
    state: str, transition: str
) -> None:
    expected = TABLE[state][transition]
    before = STATES[state]
    if isinstance(expected, CaseStatus):
        step = TRANSITIONS[transition](before)
        assert step.case.status is expected
        assert step.events, "every transition says what happened"
        assert step.case.id == before.id and step.case.target == before.target
    else:
        with pytest.raises(DomainError) as caught:
            TRANSITIONS[transition](before)
        assert caught.value.code == expected


def test_a_refused_transition_leaves_the_case_as_it_was() -> None:
    before = STATES["decided_violation"]
    snapshot = replace(before)
    with pytest.raises(Conflict):
        before.claim(REVIEWER, NOW)
    assert before == snapshot


# ---- what the allowed transitions change ---------------------------------------------------


def test_claiming_records_the_claimant_and_keeps_an_escalated_case_escalated() -> None:
    assert STATES["open"].claim(REVIEWER, NOW).case.claimed_by == REVIEWER.id
    step = STATES["escalated"].claim(SENIOR, NOW)
    assert (step.case.status, step.case.claimed_by) == (CaseStatus.escalated, SENIOR.id)
    assert step.has(CaseEventKind.claimed)


def test_escalating_frees_the_case_and_keeps_the_note() -> None:
    claimed = STATES["open"].claim(REVIEWER, NOW).case
    step = claimed.escalate(REVIEWER, "x" * 3000, NOW)
    assert step.case.claimed_by is None
    assert step.case.decision_note == "x" * 2000


def test_deciding_records_who_when_what_and_the_conduct_time_version() -> None:
    step = STATES["open"].decide(REVIEWER, Decision.violation, "upheld", "2017.1", NOW)
    c = step.case
    assert (c.decision, c.decided_by, c.decided_at) == (Decision.violation, REVIEWER.id, NOW)
    assert (c.rulebook_version, c.decision_note) == ("2017.1", "upheld")


def test_the_owner_handling_a_case_says_how() -> None:
    step = STATES["with_owner"].handle_by_owner(REMOVE_IT, NOW)
    assert step.case.decided_at == NOW
    assert step.case.decision_note == "handled by the group's managers: removed the message"
    assert step.has(CaseEventKind.handled_by_owner)


def test_an_act_on_something_else_does_not_handle_a_case() -> None:
    other = OwnerAct(DutyEventKind.message_removed, GROUP, seq=13, account_id=3)
    with pytest.raises(Conflict) as caught:
        STATES["with_owner"].handle_by_owner(other, NOW)
    assert caught.value.code == "target_not_addressed"


def test_overturning_a_no_violation_reopens_it_for_a_senior_with_a_fresh_deadline() -> None:
    c = STATES["decided_no_violation"].overturn(BOOK, NOW).case
    assert (c.status, c.decision, c.decided_by, c.decided_at) == (ESC, None, None, None)
    assert (c.platform_visible_at, c.deadline_at) == (NOW, NOW + timedelta(hours=24))


def test_a_review_request_is_once_and_within_the_window() -> None:
    decided = STATES["decided_no_violation"]
    with pytest.raises(Conflict) as caught:
        decided.request_review(4, True, 180, NOW)
    assert caught.value.code == "appeal_exists"
    with pytest.raises(DomainError) as late:
        decided.request_review(4, False, 0, NOW)
    assert late.value.code == "appeal_window_closed"


def test_the_platform_reads_a_case_only_once_it_reached_the_platform() -> None:
    for state in ("with_owner", "handled_by_owner"):
        with pytest.raises(DomainError) as caught:
            STATES[state].check_platform_may_read(NOW)
        assert caught.value.code == "with_owner"
    for state in ("owner_window_over", "open", "escalated", "decided_violation"):
        STATES[state].check_platform_may_read(NOW)


# ---- sanctions within a case ---------------------------------------------------------------


def sanction(**changes: object) -> Sanction:
    values: dict[str, object] = {
        "id": 4,
        "case_id": 1,
        "kind": "blacklist",
        "target": SanctionTarget.account,
        "group_id": None,
        "account_id": 3,
        "article": "art-11",
        "rulebook_version": "2017.1",
        "facts": "Insulted another member repeatedly.",
        "decided_by": REVIEWER.id,
        "automated": False,
        "starts_at": NOW - timedelta(days=1),
        "ends_at": NOW + timedelta(days=29),
        "state": SanctionState.active,
        "appeal_until": NOW + timedelta(days=179),
    }
    values.update(changes)
    return Sanction(**values)  # type: ignore[arg-type]


def test_lifting_ends_an_active_sanction_and_refuses_one_already_ended() -> None:
    decided = STATES["decided_violation"]
    step, lifted = decided.lift(sanction(), NOW)
    assert lifted.state is SanctionState.lifted and step.has(CaseEventKind.sanction_lifted)
    with pytest.raises(Conflict) as caught:
        decided.lift(lifted, NOW)
    assert caught.value.code == "sanction_not_active"


def test_overturning_a_sanction_ends_it_unless_it_already_ended() -> None:
    decided = STATES["decided_violation"]
    assert decided.overturn_sanction(sanction(), NOW)[1].state is SanctionState.overturned
    lifted = sanction(state=SanctionState.lifted)
    assert decided.overturn_sanction(lifted, NOW)[1] == lifted


@pytest.mark.parametrize("transition", ["appeal", "lift", "overturn_sanction"])
def test_a_sanction_of_another_case_is_refused(transition: str) -> None:
    foreign = sanction(case_id=2)
    decided = STATES["decided_violation"]
    with pytest.raises(InvalidInput) as caught:
        if transition == "appeal":
            decided.appeal(foreign, False, NOW)
        else:
            getattr(decided, transition)(foreign, NOW)
    assert caught.value.code == "wrong_case"


def test_an_appeal_is_once_and_within_the_sanctions_window() -> None:
    decided = STATES["decided_violation"]
    assert decided.appeal(sanction(), False, NOW).has(CaseEventKind.appealed)
    with pytest.raises(Conflict):
        decided.appeal(sanction(), True, NOW)
    with pytest.raises(DomainError) as late:
        decided.appeal(sanction(appeal_until=NOW - timedelta(seconds=1)), False, NOW)
    assert late.value.code == "appeal_window_closed"


@pytest.mark.parametrize(
    ("decision", "sanctions", "unfounded", "code"),
    [
        (Decision.no_violation, 1, False, "no_sanctions_without_violation"),
        (Decision.violation, 0, False, "sanction_required"),
        (Decision.violation, 1, True, "invalid_decision"),
        (Decision.violation, 9, False, "too_many_sanctions"),
    ],
)
def test_a_decision_and_its_sanctions_must_agree(
    decision: Decision, sanctions: int, unfounded: bool, code: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_decision(decision, sanctions, unfounded)
    assert caught.value.code == code


def test_an_account_measure_falls_on_the_reported_account_the_owner_or_a_named_manager() -> None:
    message_case = STATES["open"]
    group_case = case(target=Target(TargetKind.group, GROUP))
    assert message_case.measure_target(1, None, False) == 3
    assert group_case.measure_target(1, None, False) == 1
    assert message_case.measure_target(1, 8, True) == 8
    with pytest.raises(InvalidInput) as caught:
        message_case.measure_target(1, 8, False)
    assert caught.value.code == "wrong_target"


def test_conduct_before_the_first_rulebook_cannot_be_decided() -> None:
    early = case(conduct_at=datetime(2010, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidInput) as caught:
        conduct_rulebook(RulebookSet([BOOK]), early)
    assert caught.value.code == "article_not_in_force"
    assert conduct_rulebook(RulebookSet([BOOK]), STATES["open"]).version == BOOK.version


# ---- filing: merge or open, severity, route, priority, deadlines (P8) ---------------------


def filing(**changes: object) -> Filing:
    values: dict[str, object] = {
        "target": MESSAGE,
        "category": NORMAL,
        "tier": Tier.small,
        "conduct_at": NOW - timedelta(minutes=5),
        "weight": 1.0,
        "target_is_manager": False,
    }
    values.update(changes)
    return Filing(**values)  # type: ignore[arg-type]


def test_a_first_normal_report_in_a_small_group_opens_a_case_with_the_owner() -> None:
    step = file_report(filing(), None, [], 24, NOW)
    c = step.case
    assert (c.id, c.status, c.route, c.reporters) == (0, OPEN, Route.owner, 1)
    assert c.platform_visible_at == NOW + timedelta(hours=24)
    assert c.deadline_at == NOW + timedelta(hours=48)  # counted from reaching the platform
    assert c.priority == priority("normal", [1.0])
    assert [e.kind for e in step.events] == [CaseEventKind.opened, CaseEventKind.sent_to_owner]


@pytest.mark.parametrize(
    "changes",
    [
        {"category": SEVERE},
        {"tier": Tier.public},
        {"target_is_manager": True},
        {"direct": True},
        {"report_up": True},
    ],
)
def test_a_report_that_must_not_wait_opens_a_case_with_the_platform(
    changes: dict[str, object],
) -> None:
    step = file_report(filing(**changes), None, [], 24, NOW)
    assert (step.case.route, step.case.platform_visible_at) == (Route.platform, NOW)
    assert not step.has(CaseEventKind.sent_to_owner)


def test_a_further_report_joins_the_open_case_and_raises_its_priority() -> None:
    open_case = STATES["with_owner"]
    step = file_report(filing(weight=2.0), open_case, [1.0], 24, NOW)
    assert (step.case.id, step.case.reporters) == (open_case.id, 2)
    assert step.case.priority == priority("normal", [1.0, 2.0])
    assert step.case.route is Route.owner
    assert step.has(CaseEventKind.joined) and not step.has(CaseEventKind.opened)


def test_a_severe_report_makes_an_owner_case_severe_and_takes_it_to_the_platform() -> None:
    open_case = STATES["with_owner"]
    c = file_report(filing(category=SEVERE), open_case, [1.0], 24, NOW).case
    assert (c.severity, c.category, c.route) == ("severe", SEVERE.id, Route.platform)
    assert c.platform_visible_at == NOW
    assert c.deadline_at == NOW + timedelta(hours=2)


def test_a_manager_reporting_up_takes_an_owner_case_to_the_platform() -> None:
    c = file_report(filing(report_up=True), STATES["with_owner"], [1.0], 24, NOW).case
    assert (c.route, c.severity) == (Route.platform, "normal")


# ---- which cases an owner's act handles (issue 16, P7, P8) ---------------------------------

MEMBER = Target(TargetKind.member, GROUP, account_id=3)
OTHER_MESSAGE = Target(TargetKind.message, GROUP, seq=13, account_id=3)
OTHER_SENDER = Target(TargetKind.message, GROUP, seq=14, account_id=6)
WHOLE_GROUP = Target(TargetKind.group, GROUP)


@pytest.mark.parametrize(
    ("act", "handles"),
    [
        (OwnerAct(DutyEventKind.message_removed, GROUP, seq=12, account_id=3), {"message 12"}),
        (
            OwnerAct(DutyEventKind.member_muted, GROUP, account_id=3),
            {"message 12", "message 13", "member 3"},
        ),
        (
            OwnerAct(DutyEventKind.member_removed, GROUP, account_id=3),
            {"message 12", "message 13", "member 3"},
        ),
        (OwnerAct(DutyEventKind.group_muted, GROUP), {"group"}),
        (OwnerAct(DutyEventKind.message_removed, GROUP + 1, seq=12, account_id=3), set()),
        (OwnerAct(DutyEventKind.rules_changed, GROUP), set()),
    ],
)
def test_an_owner_act_addresses_exactly_the_targets_it_deals_with(
    act: OwnerAct, handles: set[str]
) -> None:
    targets = {
        "message 12": MESSAGE,
        "message 13": OTHER_MESSAGE,
        "message 14": OTHER_SENDER,
        "member 3": MEMBER,
        "group": WHOLE_GROUP,
    }
    assert {name for name, t in targets.items() if case(target=t).addressed_by(act)} == handles


def test_removing_one_message_handles_only_that_messages_case_still_with_the_owner() -> None:
    waiting = NOW + timedelta(hours=3)
    insult = case(id=1, target=OTHER_MESSAGE, route=Route.owner, platform_visible_at=waiting)
    spam = case(id=2, target=MESSAGE, route=Route.owner, platform_visible_at=waiting)
    late = case(id=3, target=MESSAGE, route=Route.owner, platform_visible_at=NOW)
    steps = handled_by(REMOVE_IT, [insult, spam, late], NOW)
    assert [(s.case.id, s.case.status) for s in steps] == [(2, HANDLED)]


def test_the_claimant_releases_a_case_back_to_the_open_queue() -> None:
    step = case(status=CaseStatus.claimed, claimed_by=REVIEWER.id).release(REVIEWER, NOW)
    assert step.case.status is CaseStatus.open and step.case.claimed_by is None
    assert step.has(CaseEventKind.released)


def test_a_released_escalated_case_stays_escalated() -> None:
    step = case(status=CaseStatus.escalated, claimed_by=SENIOR.id).release(SENIOR, NOW)
    assert step.case.status is CaseStatus.escalated and step.case.claimed_by is None


def test_a_senior_may_release_another_reviewers_claim_a_reviewer_may_not() -> None:
    claimed = case(status=CaseStatus.claimed, claimed_by=OTHER_REVIEWER)
    assert claimed.release(SENIOR, NOW).case.claimed_by is None
    with pytest.raises(Conflict) as refused:
        claimed.release(REVIEWER, NOW)
    assert refused.value.code == "case_claimed"


def test_an_unclaimed_case_cannot_be_released() -> None:
    with pytest.raises(Conflict) as refused:
        case(status=CaseStatus.open).release(REVIEWER, NOW)
    assert refused.value.code == "case_not_claimed"
