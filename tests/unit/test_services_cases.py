"""Issue 16 through the services, on the fakes: owner acts handle what they address (P7,
P8); a decision's consequences follow the conduct-time rulebook (P3); measures against
misuse of reporting are sanctions with reasons and appeals (Art. 12; DSA Art. 23)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qunzu.domain.duty import DutyEventKind
from qunzu.domain.errors import Forbidden
from qunzu.domain.models import PlatformRole
from qunzu.domain.reports import CaseStatus, Decision, QueueFilter, TargetKind
from qunzu.domain.rulebook import RulebookSet
from qunzu.domain.sanctions import REPORTING_SUSPENSION, REPORTING_WARNING, SanctionRequest
from qunzu.policy import parse_rulebook
from qunzu.services.actor import SYSTEM
from qunzu.services.appeals import (
    do_appeal_sanction,
    do_decide_appeal,
    do_request_review,
    list_my_sanctions,
    statement_of_reasons,
)
from qunzu.services.context import ServiceContext
from qunzu.services.membership import do_remove_member
from qunzu.services.owner_tools import (
    do_mute_member,
    do_remove_message,
    do_set_mute_all,
    read_duty_ledger,
)
from qunzu.services.records import regulator_rows, transparency
from qunzu.services.reports import do_file_report, list_my_reports
from qunzu.services.review import do_decide_case, list_queue
from tests.fakes import frozen_clock, make_ctx
from tests.rulebooks import consequences_version_text, generous_rulebooks
from tests.unit.test_services_reports import (
    FACTS,
    case_of,
    friends_group,
    report_message,
    say,
    staff,
    unfounded_reports,
)
from tests.unit.world import listen_account, register

WINDOW = timedelta(hours=generous_rulebooks().latest.owner_response_hours)


# ---- 1. an owner act handles exactly the cases whose target it addresses ------------------


async def two_reports(ctx: ServiceContext):  # type: ignore[no-untyped-def]
    """A small group; the offender posted an insult and a spam message; two members
    reported one each (both go to the owner first)."""
    owner, offender, first, second = [
        await register(ctx, h) for h in ("owner", "offender", "first", "second")
    ]
    group = await friends_group(ctx, owner, offender, first, second)
    insult = await report_message(
        ctx, first, group.id, await say(ctx, offender, group.id, "you idiot")
    )
    spam = await report_message(
        ctx, second, group.id, await say(ctx, offender, group.id, "cheap pills"), "spam"
    )
    return owner, offender, group, insult, spam, first, second


async def test_removing_one_message_handles_only_the_report_of_that_message() -> None:
    ctx = make_ctx()
    owner, _, group, insult, spam, first, second = await two_reports(ctx)
    heard_first, heard_second = (
        await listen_account(ctx, first.id),
        await listen_account(ctx, second.id),
    )
    assert spam.case.target.seq is not None
    await do_remove_message(ctx, owner, group.id, spam.case.target.seq, "spam")
    assert (await case_of(ctx, spam.case.id)).status is CaseStatus.handled_by_owner
    assert (await case_of(ctx, insult.case.id)).status is CaseStatus.open
    (told,) = [f for f in heard_second.frames if f["kind"] == "report_outcome"]
    assert (told["outcome"], told["action"]) == ("handled_by_owner", "removed the message")
    assert "report_outcome" not in heard_first.kinds()
    (mine,) = await list_my_reports(ctx, first)
    assert (mine.case.status, mine.case.decision) == (CaseStatus.open, None)


async def test_a_case_the_act_did_not_address_reaches_the_platform_when_the_window_ends() -> None:
    ctx = make_ctx()
    owner, _, group, insult, spam, _, _ = await two_reports(ctx)
    assert spam.case.target.seq is not None
    await do_remove_message(ctx, owner, group.id, spam.case.target.seq, "spam")
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    assert await list_queue(ctx, reviewer, QueueFilter()) == []
    frozen_clock(ctx).advance(WINDOW)
    assert [c.id for c in await list_queue(ctx, reviewer, QueueFilter())] == [insult.case.id]


async def test_the_ledger_names_the_case_an_act_handled_and_how() -> None:
    ctx = make_ctx()
    owner, _, group, insult, spam, _, _ = await two_reports(ctx)
    assert spam.case.target.seq is not None
    await do_remove_message(ctx, owner, group.id, spam.case.target.seq, "advertising")
    removed = [
        e
        for e in await read_duty_ledger(ctx, owner, group.id)
        if e.kind is DutyEventKind.message_removed
    ]
    assert [(e.case_id, e.seq, e.note) for e in removed] == [
        (spam.case.id, spam.case.target.seq, "advertising")
    ]
    assert insult.case.id not in [e.case_id for e in removed]


async def test_muting_the_sender_handles_the_reports_of_them_and_their_messages() -> None:
    ctx = make_ctx()
    owner, offender, group, insult, spam, _, _ = await two_reports(ctx)
    await do_mute_member(ctx, owner, group.id, offender.id, 60, "cool off")
    for receipt in (insult, spam):
        assert (await case_of(ctx, receipt.case.id)).status is CaseStatus.handled_by_owner
    ledger = await read_duty_ledger(ctx, owner, group.id)
    muted = [e.case_id for e in ledger if e.kind is DutyEventKind.member_muted]
    assert sorted(muted) == sorted([insult.case.id, spam.case.id])  # type: ignore[type-var]


async def test_removing_another_member_leaves_the_cases_about_the_offender_open() -> None:
    ctx = make_ctx()
    owner, _, group, insult, spam, first, _ = await two_reports(ctx)
    await do_remove_member(ctx, owner, group.id, first.id, "leaving")
    for receipt in (insult, spam):
        assert (await case_of(ctx, receipt.case.id)).status is CaseStatus.open


async def test_mute_all_handles_a_report_of_the_group_and_no_report_of_a_message() -> None:
    ctx = make_ctx()
    owner, _, group, insult, _, first, _ = await two_reports(ctx)
    whole = await do_file_report(ctx, first, group.id, TargetKind.group, "spam", "all ads")
    await do_set_mute_all(ctx, owner, group.id, True)
    assert (await case_of(ctx, whole.case.id)).status is CaseStatus.handled_by_owner
    assert (await case_of(ctx, insult.case.id)).status is CaseStatus.open
    ledger = await read_duty_ledger(ctx, owner, group.id)
    assert [(e.kind, e.case_id) for e in ledger if e.kind is DutyEventKind.group_muted] == [
        (DutyEventKind.group_muted, whole.case.id)
    ]
    await do_set_mute_all(ctx, owner, group.id, False)  # switching it off is no act


async def test_reporting_one_target_up_leaves_the_other_reports_with_the_owner() -> None:
    ctx = make_ctx()
    owner, offender, group, insult, spam, _, _ = await two_reports(ctx)
    up = await do_file_report(
        ctx,
        owner,
        group.id,
        TargetKind.member,
        "fraud",
        "a scammer",
        account_id=offender.id,
        escalate_to="platform",
    )
    assert up.case.route.value == "platform"
    for receipt in (insult, spam):
        assert (await case_of(ctx, receipt.case.id)).status is CaseStatus.open


# ---- 2. every consequence by the version in force when the conduct happened (P3) -----------

V2_FROM = datetime(2026, 2, 1, tzinfo=UTC)


def two_versions() -> RulebookSet:
    later = parse_rulebook(consequences_version_text(V2_FROM.isoformat()))
    return RulebookSet([generous_rulebooks().latest, later])


async def test_a_decision_after_a_version_change_takes_its_penalty_from_the_conduct_time() -> None:
    books = two_versions()
    v1, v2 = books.versions
    ctx = make_ctx(rulebooks=books)
    owner, offender, reporter = [await register(ctx, h) for h in ("own", "off", "rep")]
    group = await friends_group(ctx, owner, offender, reporter, public=True)
    receipt = await report_message(ctx, reporter, group.id, await say(ctx, offender, group.id, "x"))
    frozen_clock(ctx).set(V2_FROM + timedelta(days=1))
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    request = SanctionRequest("blacklist", "art-11", FACTS)
    case, (imposed,) = await do_decide_case(
        ctx, reviewer, receipt.case.id, Decision.violation, [request]
    )
    assert case.rulebook_version == v1.version
    assert imposed.credit_delta == v1.credit.inputs.sanction_penalty["severe"]
    assert imposed.ends_at == imposed.starts_at + timedelta(days=365)  # v1's blacklist
    # The appeal window is procedure: the version in force at the decision.
    assert imposed.appeal_until == imposed.starts_at + timedelta(days=v2.appeal_window_days)


# ---- 3. misuse of reporting: recorded measures, reasons, appeals ---------------------------


async def serial_reporter(ctx: ServiceContext, suspended: bool = True):  # type: ignore[no-untyped-def]
    reporter = await register(ctx, "serial")
    policy = generous_rulebooks().latest.reporting
    await unfounded_reports(ctx, reporter, policy.suspension_after if suspended else 3)
    return reporter


async def test_the_warning_and_the_suspension_are_the_reporters_sanctions() -> None:
    ctx = make_ctx()
    reporter = await serial_reporter(ctx)
    mine = await list_my_sanctions(ctx, reporter)
    assert sorted(s.kind for s in mine) == [REPORTING_SUSPENSION, REPORTING_WARNING]
    for s in mine:
        assert (s.account_id, s.article, s.automated) == (reporter.id, "art-12", True)


async def test_the_statement_of_reasons_names_the_reports_and_the_rules() -> None:
    ctx = make_ctx()
    reporter = await serial_reporter(ctx)
    (suspension,) = [
        s for s in await list_my_sanctions(ctx, reporter) if s.kind == "reporting_suspension"
    ]
    sor = await statement_of_reasons(ctx, reporter, suspension.id)
    assert sor.article is not None and sor.article.id == "art-12"
    assert (sor.measure_zh, sor.measure_en) == ("暂停举报", "Suspension of reporting")
    assert sor.evidence_seqs == []
    assert sor.decided_by_role.startswith("automated")
    assert sor.sanction.facts.count("report ") >= 5
    assert "after 5" in sor.sanction.facts and "Rulebook 2017.1" in sor.sanction.facts


async def test_overturning_the_suspension_on_appeal_lets_the_reporter_report_again() -> None:
    ctx = make_ctx()
    reporter = await serial_reporter(ctx)
    owner = await register(ctx, "someone")
    group = await friends_group(ctx, owner, reporter)
    with pytest.raises(Forbidden):
        await report_message(ctx, reporter, group.id, await say(ctx, owner, group.id, "hi"))
    (suspension,) = [
        s for s in await list_my_sanctions(ctx, reporter) if s.kind == "reporting_suspension"
    ]
    appeal = await do_appeal_sanction(ctx, reporter, suspension.id, "they were real insults")
    senior = await staff(ctx, "senior", PlatformRole.senior_reviewer)
    await do_decide_appeal(ctx, senior, appeal.id, overturn=True)
    await report_message(ctx, reporter, group.id, await say(ctx, owner, group.id, "hi again"))


async def test_a_suspended_reporter_may_still_report_a_threat_to_life() -> None:
    ctx = make_ctx()
    reporter = await serial_reporter(ctx)
    owner = await register(ctx, "someone")
    group = await friends_group(ctx, owner, reporter)
    receipt = await report_message(
        ctx,
        reporter,
        group.id,
        await say(ctx, owner, group.id, "I will kill you"),
        "threat-to-life",
    )
    assert receipt.case.route.value == "platform"


async def test_misuse_measures_are_counted_and_exported() -> None:
    ctx = make_ctx()
    start = frozen_clock(ctx).now()
    reporter = await serial_reporter(ctx)
    end = frozen_clock(ctx).now() + timedelta(seconds=1)
    report = await transparency(ctx, start, end, SYSTEM)
    assert report["sanctions"] == {REPORTING_WARNING: 1, REPORTING_SUSPENSION: 1}
    rows = await regulator_rows(ctx, start, end, SYSTEM)
    assert sorted((r["measure"], r["account_id"], r["automated"]) for r in rows) == [
        (REPORTING_SUSPENSION, reporter.id, True),
        (REPORTING_WARNING, reporter.id, True),
    ]


async def test_a_no_violation_reopened_on_review_no_longer_counts_against_its_reporters() -> None:
    ctx = make_ctx()
    reporter = await serial_reporter(ctx, suspended=False)
    (mine, *_) = await list_my_reports(ctx, reporter)
    assert mine.report.manifestly_unfounded
    appeal = await do_request_review(ctx, reporter, mine.case.id, "it was an insult")
    senior = await staff(ctx, "senior", PlatformRole.senior_reviewer)
    await do_decide_appeal(ctx, senior, appeal.id, overturn=True)
    (again, *_) = await list_my_reports(ctx, reporter)
    assert again.case.status is CaseStatus.escalated
    assert not again.report.manifestly_unfounded
