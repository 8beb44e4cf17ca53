"""Reports, routing, review, sanctions, appeals and records through the services, on the fakes."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from qunzu.domain.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound, QuotaExceeded
from qunzu.domain.models import Group, GroupCategory, GroupRole, JoinPolicy, PlatformRole
from qunzu.domain.reports import (
    CaseStatus,
    Decision,
    QueueFilter,
    ReporterRecord,
    Route,
    TargetKind,
)
from qunzu.domain.reports import reporter_weight as weight_rule
from qunzu.domain.rulebook import RulebookSet
from qunzu.domain.sanctions import AppealState, SanctionRequest, SanctionState
from qunzu.policy import default_rulebook_text, parse_rulebook
from qunzu.services.actor import SYSTEM, Actor
from qunzu.services.appeals import (
    do_appeal_sanction,
    do_decide_appeal,
    do_request_review,
    statement_of_reasons,
)
from qunzu.services.context import ServiceContext
from qunzu.services.credit import get_my_credit
from qunzu.services.groups import do_create_group
from qunzu.services.membership import do_join, do_remove_member, do_set_role
from qunzu.services.messaging import do_open_direct, do_send_message
from qunzu.services.records import regulator_rows, render, transparency
from qunzu.services.reports import (
    Receipt,
    do_file_report,
    list_my_reports,
    list_owner_notices,
)
from qunzu.services.review import (
    count_overdue,
    do_decide_case,
    do_lift_sanction,
    list_queue,
    open_case_file,
)
from tests.fakes import fake_uow, frozen_clock, make_ctx
from tests.rulebooks import generous_rulebooks
from tests.unit.test_report_rules import later_version_text
from tests.unit.world import add_member, listen_account, register

FACTS = "Insulted another member repeatedly in the group."
_txn = itertools.count(1)


# ---- a small world --------------------------------------------------------------------------


async def friends_group(
    ctx: ServiceContext, owner: Actor, *members: Actor, public: bool = False
) -> Group:
    """A friends group (small tier; public when open and discoverable)."""
    group = await do_create_group(
        ctx,
        owner,
        "朋友群",
        GroupCategory.friends,
        join_policy=JoinPolicy.open if public else JoinPolicy.invite_only,
        discoverable=public,
    )
    for member in members:
        await add_member(ctx, owner, group.id, member)
    return group


async def say(ctx: ServiceContext, actor: Actor, group_id: int, body: str) -> int:
    sent = await do_send_message(ctx, actor, group_id, body, f"txn-{next(_txn)}")
    return sent.entry.seq


async def staff(ctx: ServiceContext, handle: str, role: PlatformRole) -> Actor:
    return await register(ctx, handle, verified=False, role=role)


async def report_message(
    ctx: ServiceContext,
    reporter: Actor,
    group_id: int,
    seq: int,
    category: str = "insult-defamation",
) -> Receipt:
    return await do_file_report(
        ctx, reporter, group_id, TargetKind.message, category, "insulting", seq=seq
    )


async def insult_case(ctx: ServiceContext) -> tuple[Actor, Actor, Actor, Group, Receipt]:
    """owner, offender, reporter; the offender's insult is reported in a public group
    (so the case reaches the platform at once)."""
    n = next(_txn)
    owner, offender, reporter = [await register(ctx, f"{h}{n}") for h in ("own", "off", "rep")]
    group = await friends_group(ctx, owner, offender, reporter, public=True)
    seq = await say(ctx, offender, group.id, "you are an idiot")
    return owner, offender, reporter, group, await report_message(ctx, reporter, group.id, seq)


def blacklist(days: int = 30) -> SanctionRequest:
    return SanctionRequest("blacklist", "art-11", FACTS, days=days)


async def case_of(ctx: ServiceContext, case_id: int):  # type: ignore[no-untyped-def]
    async with ctx.uow(write=False) as uow:
        return await uow.reports.get_case(case_id)


# ---- filing -------------------------------------------------------------------------------


async def test_a_report_opens_a_case_and_gives_the_reporter_a_receipt() -> None:
    ctx = make_ctx()
    _, offender, reporter, group, receipt = await insult_case(ctx)
    assert receipt.report.reporter_id == reporter.id
    assert receipt.case.status is CaseStatus.open
    assert receipt.case.target.account_id == offender.id
    assert receipt.case.target.group_id == group.id
    assert receipt.case.reporters == 1
    mine = await list_my_reports(ctx, reporter)
    assert [(r.report.id, r.case.id) for r in mine] == [(receipt.report.id, receipt.case.id)]


async def test_reporting_the_same_target_twice_is_a_duplicate() -> None:
    ctx = make_ctx()
    _, _, reporter, group, receipt = await insult_case(ctx)
    assert receipt.case.target.seq is not None
    with pytest.raises(Conflict) as caught:
        await report_message(ctx, reporter, group.id, receipt.case.target.seq)
    assert caught.value.code == "duplicate_report"


async def test_distinct_reporters_join_one_case_and_raise_its_priority() -> None:
    ctx = make_ctx()
    owner, offender, first, second = [
        await register(ctx, h) for h in ("own", "off", "rep1", "rep2")
    ]
    group = await friends_group(ctx, owner, offender, first, second, public=True)
    seq = await say(ctx, offender, group.id, "idiot")
    receipt = await report_message(ctx, first, group.id, seq)
    again = await report_message(ctx, second, group.id, seq)
    assert again.case.id == receipt.case.id
    assert again.case.reporters == 2
    assert again.case.priority > receipt.case.priority


async def test_a_message_sent_before_the_reporter_joined_cannot_be_reported() -> None:
    ctx = make_ctx()
    owner, late = await register(ctx, "owner"), await register(ctx, "late")
    group = await friends_group(ctx, owner)
    seq = await say(ctx, owner, group.id, "before you came")
    await add_member(ctx, owner, group.id, late)
    with pytest.raises(NotFound) as caught:
        await report_message(ctx, late, group.id, seq)
    assert caught.value.code == "message_not_found"


async def test_an_outsider_cannot_learn_that_a_hidden_group_exists_by_reporting() -> None:
    ctx = make_ctx()
    owner, outsider = await register(ctx, "owner"), await register(ctx, "outsider")
    group = await friends_group(ctx, owner)
    seq = await say(ctx, owner, group.id, "hello")
    with pytest.raises(NotFound) as caught:
        await report_message(ctx, outsider, group.id, seq)
    assert caught.value.code == "group_not_found"


async def test_anyone_may_report_a_public_group_but_not_its_messages() -> None:
    ctx = make_ctx()
    owner, outsider = await register(ctx, "owner"), await register(ctx, "outsider")
    group = await friends_group(ctx, owner, public=True)
    seq = await say(ctx, owner, group.id, "buy now")
    receipt = await do_file_report(ctx, outsider, group.id, TargetKind.group, "spam", "ads")
    assert receipt.case.target.kind is TargetKind.group
    with pytest.raises(Forbidden) as caught:
        await report_message(ctx, outsider, group.id, seq)
    assert caught.value.code == "not_a_member"


async def test_the_evidence_is_a_copy_kept_when_the_original_is_gone() -> None:
    ctx = make_ctx()
    _, _, _, group, receipt = await insult_case(ctx)
    seq = receipt.case.target.seq
    assert seq is not None
    state = fake_uow(ctx).state
    del state.timeline[(group.id, seq)]  # as if the message had been deleted
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    case_file = await open_case_file(ctx, reviewer, receipt.case.id)
    reported = [e for e in case_file.evidence if e.reported]
    assert [(e.seq, e.body) for e in reported] == [(seq, "you are an idiot")]


async def test_outside_the_private_tier_the_context_is_the_ten_messages_before() -> None:
    ctx = make_ctx()
    owner, reporter = await register(ctx, "owner"), await register(ctx, "reporter")
    group = await friends_group(ctx, owner, reporter, public=True)
    seqs = [await say(ctx, owner, group.id, f"message {i}") for i in range(14)]
    receipt = await report_message(ctx, reporter, group.id, seqs[-1])
    async with ctx.uow(write=False) as uow:
        evidence = await uow.reports.evidence(receipt.case.id)
    assert [e.seq for e in evidence] == seqs[-11:]
    assert [e.reported for e in evidence] == [False] * 10 + [True]
    assert evidence[0].body == "message 3"


async def test_the_context_never_reaches_before_the_reporter_joined() -> None:
    ctx = make_ctx()
    owner, reporter = await register(ctx, "owner"), await register(ctx, "reporter")
    group = await friends_group(ctx, owner, public=True)
    for i in range(5):
        await say(ctx, owner, group.id, f"before {i}")
    await add_member(ctx, owner, group.id, reporter)
    after = [await say(ctx, owner, group.id, f"after {i}") for i in range(3)]
    receipt = await report_message(ctx, reporter, group.id, after[-1])
    async with ctx.uow(write=False) as uow:
        evidence = await uow.reports.evidence(receipt.case.id)
    bodies = [e.body for e in evidence if e.kind == "message"]
    assert bodies == ["after 0", "after 1", "after 2"]


async def test_in_a_direct_chat_only_the_reported_message_is_kept() -> None:
    ctx = make_ctx()
    alice, bob = await register(ctx, "alice"), await register(ctx, "bob")
    direct = await do_open_direct(ctx, alice, "bob")
    for i in range(4):
        await say(ctx, bob, direct.id, f"private {i}")
    seq = await say(ctx, bob, direct.id, "a threat")
    receipt = await report_message(ctx, alice, direct.id, seq, "threat-to-life")
    async with ctx.uow(write=False) as uow:
        evidence = await uow.reports.evidence(receipt.case.id)
    assert [(e.seq, e.body, e.reported) for e in evidence] == [(seq, "a threat", True)]
    assert receipt.case.tier == "private"


async def test_a_report_in_a_direct_chat_goes_to_the_platform_as_there_is_no_owner() -> None:
    ctx = make_ctx()
    alice, bob = await register(ctx, "alice"), await register(ctx, "bob")
    direct = await do_open_direct(ctx, alice, "bob")
    seq = await say(ctx, bob, direct.id, "you idiot")
    receipt = await report_message(ctx, alice, direct.id, seq)
    assert receipt.case.route is Route.platform
    assert receipt.case.platform_visible_at == frozen_clock(ctx).now()


# ---- routing (P8) -------------------------------------------------------------------------


async def test_a_normal_report_in_a_small_group_notifies_owner_and_admins_only() -> None:
    ctx = make_ctx()
    owner, admin, offender, reporter = [
        await register(ctx, h) for h in ("owner", "admin", "offender", "reporter")
    ]
    group = await friends_group(ctx, owner, admin, offender, reporter)
    await do_set_role(ctx, owner, group.id, admin.id, GroupRole.admin)
    heard = {a.id: await listen_account(ctx, a.id) for a in (owner, admin, offender, reporter)}
    seq = await say(ctx, offender, group.id, "idiot")
    receipt = await report_message(ctx, reporter, group.id, seq)
    assert receipt.case.route is Route.owner
    hours = generous_rulebooks().latest.owner_response_hours
    assert receipt.case.platform_visible_at == frozen_clock(ctx).now() + timedelta(hours=hours)
    for who in (owner, admin):
        notice = next(f for f in heard[who.id].frames if f["kind"] == "owner_notice")
        assert notice["case_id"] == receipt.case.id
    assert "owner_notice" not in heard[offender.id].kinds() + heard[reporter.id].kinds()
    notices = await list_owner_notices(ctx, admin)
    assert [
        (n.case.id, n.reported_message.body if n.reported_message else None) for n in notices
    ] == [(receipt.case.id, "idiot")]


async def test_an_owner_case_enters_the_platform_queue_when_the_response_window_passes() -> None:
    ctx = make_ctx()
    owner, offender, reporter = [await register(ctx, h) for h in ("owner", "off", "rep")]
    group = await friends_group(ctx, owner, offender, reporter)
    receipt = await report_message(ctx, reporter, group.id, await say(ctx, offender, group.id, "x"))
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    assert await list_queue(ctx, reviewer, QueueFilter()) == []
    with pytest.raises(Forbidden) as caught:
        await open_case_file(ctx, reviewer, receipt.case.id)
    assert caught.value.code == "with_owner"
    frozen_clock(ctx).advance(timedelta(hours=24))
    assert [c.id for c in await list_queue(ctx, reviewer, QueueFilter())] == [receipt.case.id]


async def test_a_large_group_sends_reports_to_the_platform_at_once() -> None:
    ctx = make_ctx()
    owner, offender, reporter = [await register(ctx, h) for h in ("owner", "off", "rep")]
    group = await friends_group(ctx, owner, offender, reporter)
    for i in range(99):
        member = await register(ctx, f"member{i}", verified=False)
        await add_member(ctx, owner, group.id, member)
    seq = await say(ctx, offender, group.id, "idiot")
    receipt = await report_message(ctx, reporter, group.id, seq)
    assert receipt.case.tier == "large"
    assert receipt.case.route is Route.platform


async def test_a_report_about_an_admin_goes_to_the_platform_at_once() -> None:
    ctx = make_ctx()
    owner, admin, reporter = [await register(ctx, h) for h in ("owner", "admin", "rep")]
    group = await friends_group(ctx, owner, admin, reporter)
    await do_set_role(ctx, owner, group.id, admin.id, GroupRole.admin)
    receipt = await do_file_report(
        ctx, reporter, group.id, TargetKind.member, "insult-defamation", account_id=admin.id
    )
    assert receipt.case.route is Route.platform


async def test_a_severe_report_moves_an_owner_case_to_the_platform() -> None:
    ctx = make_ctx()
    owner, offender, first, second = [
        await register(ctx, h) for h in ("own", "off", "rep1", "rep2")
    ]
    group = await friends_group(ctx, owner, offender, first, second)
    seq = await say(ctx, offender, group.id, "I will hurt you")
    normal = await report_message(ctx, first, group.id, seq)
    assert normal.case.route is Route.owner
    severe = await report_message(ctx, second, group.id, seq, "threat-to-life")
    assert severe.case.id == normal.case.id
    assert severe.case.route is Route.platform
    assert severe.case.severity == "severe"
    assert severe.case.deadline_at == frozen_clock(ctx).now() + timedelta(hours=2)


async def test_removing_the_reported_member_in_time_closes_the_case_as_handled_by_owner() -> None:
    ctx = make_ctx()
    owner, offender, reporter = [await register(ctx, h) for h in ("owner", "off", "rep")]
    group = await friends_group(ctx, owner, offender, reporter)
    receipt = await report_message(ctx, reporter, group.id, await say(ctx, offender, group.id, "x"))
    heard = await listen_account(ctx, reporter.id)
    await do_remove_member(ctx, owner, group.id, offender.id, "insults")
    case = await case_of(ctx, receipt.case.id)
    assert case.status is CaseStatus.handled_by_owner
    outcome = next(f for f in heard.frames if f["kind"] == "report_outcome")
    assert outcome["outcome"] == "handled_by_owner"
    assert (await list_my_reports(ctx, reporter))[0].case.status is CaseStatus.handled_by_owner


async def test_removing_the_member_after_the_window_leaves_the_case_with_the_platform() -> None:
    ctx = make_ctx()
    owner, offender, reporter = [await register(ctx, h) for h in ("owner", "off", "rep")]
    group = await friends_group(ctx, owner, offender, reporter)
    receipt = await report_message(ctx, reporter, group.id, await say(ctx, offender, group.id, "x"))
    frozen_clock(ctx).advance(timedelta(hours=25))
    await do_remove_member(ctx, owner, group.id, offender.id)
    assert (await case_of(ctx, receipt.case.id)).status is CaseStatus.open


# ---- review -------------------------------------------------------------------------------


async def test_an_overdue_case_is_counted_until_it_is_decided() -> None:
    ctx = make_ctx()
    _, _, _, _, receipt = await insult_case(ctx)
    assert await count_overdue(ctx) == 0
    frozen_clock(ctx).advance(timedelta(hours=25))
    assert await count_overdue(ctx) == 1
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    await do_decide_case(ctx, reviewer, receipt.case.id, Decision.no_violation, [])
    assert await count_overdue(ctx) == 0


async def test_deciding_a_case_twice_is_refused() -> None:
    ctx = make_ctx()
    _, _, _, _, receipt = await insult_case(ctx)
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    await do_decide_case(ctx, reviewer, receipt.case.id, Decision.no_violation, [])
    with pytest.raises(Conflict) as caught:
        await do_decide_case(ctx, reviewer, receipt.case.id, Decision.violation, [blacklist()])
    assert caught.value.code == "case_decided"


async def test_a_member_without_a_platform_role_cannot_review() -> None:
    ctx = make_ctx()
    owner, _, _, _, receipt = await insult_case(ctx)
    with pytest.raises(Forbidden) as caught:
        await open_case_file(ctx, owner, receipt.case.id)
    assert caught.value.code == "platform_role_required"


async def test_a_violation_sanctions_notifies_and_settles_every_reporter() -> None:
    ctx = make_ctx()
    _, offender, reporter, _, receipt = await insult_case(ctx)
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    offender_hears = await listen_account(ctx, offender.id)
    reporter_hears = await listen_account(ctx, reporter.id)
    case, imposed = await do_decide_case(
        ctx, reviewer, receipt.case.id, Decision.violation, [blacklist()]
    )
    assert case.status is CaseStatus.decided and case.decision is Decision.violation
    assert [(s.kind, s.account_id, s.decided_by) for s in imposed] == [
        ("blacklist", offender.id, reviewer.id)
    ]
    sor = next(f for f in offender_hears.frames if f["kind"] == "statement_of_reasons")
    assert sor["sanction_id"] == imposed[0].id
    outcome = next(f for f in reporter_hears.frames if f["kind"] == "report_outcome")
    assert outcome["outcome"] == "violation"
    async with ctx.uow(write=False) as uow:
        assert (await uow.reports.reporter_record(reporter.id)).upheld == 1


async def test_the_statement_of_reasons_carries_facts_article_evidence_and_appeal() -> None:
    ctx = make_ctx()
    _, offender, _, _, receipt = await insult_case(ctx)
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    _, (imposed,) = await do_decide_case(
        ctx, reviewer, receipt.case.id, Decision.violation, [blacklist(days=10)]
    )
    sor = await statement_of_reasons(ctx, offender, imposed.id)
    assert sor.sanction.facts == FACTS
    assert sor.article is not None and sor.article.id == "art-11"
    assert (sor.measure_zh, sor.measure_en) == ("列入黑名单", "Blacklist")
    assert sor.evidence_seqs == [receipt.case.target.seq]
    assert sor.sanction.automated is False
    assert sor.sanction.ends_at == sor.sanction.starts_at + timedelta(days=10)
    assert sor.sanction.appeal_until == sor.sanction.starts_at + timedelta(days=180)
    assert sor.in_force


async def test_a_stranger_cannot_read_a_statement_of_reasons() -> None:
    ctx = make_ctx()
    _, _, _, _, receipt = await insult_case(ctx)
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    _, (imposed,) = await do_decide_case(
        ctx, reviewer, receipt.case.id, Decision.violation, [blacklist()]
    )
    stranger = await register(ctx, "stranger")
    with pytest.raises(NotFound):
        await statement_of_reasons(ctx, stranger, imposed.id)


async def test_an_article_added_after_the_conduct_cannot_be_cited() -> None:
    v1 = generous_rulebooks().latest
    ctx = make_ctx(rulebooks=RulebookSet([v1, parse_rulebook(later_version_text())]))
    _, _, _, group, receipt = await insult_case(ctx)  # the clock starts 2026-01-01
    frozen_clock(ctx).advance(timedelta(days=60))  # the new version is in force now
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    new_article = SanctionRequest("warning", "art-14", FACTS, days=7)
    with pytest.raises(InvalidInput) as caught:
        await do_decide_case(ctx, reviewer, receipt.case.id, Decision.violation, [new_article])
    assert caught.value.code == "article_not_in_force"
    case, (imposed,) = await do_decide_case(
        ctx,
        reviewer,
        receipt.case.id,
        Decision.violation,
        [SanctionRequest("warning", "art-10", FACTS, days=7)],
    )
    assert imposed.rulebook_version == case.rulebook_version == v1.version
    assert group.id == imposed.group_id


async def test_a_measure_outside_the_catalogue_is_refused_and_nothing_is_decided() -> None:
    ctx = make_ctx()
    _, _, _, _, receipt = await insult_case(ctx)
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    fine = SanctionRequest("fine", "art-11", FACTS)
    with pytest.raises(InvalidInput) as caught:
        await do_decide_case(ctx, reviewer, receipt.case.id, Decision.violation, [fine])
    assert caught.value.code == "unknown_sanction"
    assert (await case_of(ctx, receipt.case.id)).status is CaseStatus.open


async def test_a_group_measure_is_refused_in_a_private_space() -> None:
    ctx = make_ctx()
    alice, bob = await register(ctx, "alice"), await register(ctx, "bob")
    direct = await do_open_direct(ctx, alice, "bob")
    receipt = await report_message(ctx, alice, direct.id, await say(ctx, bob, direct.id, "x"))
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    closure = SanctionRequest("closure", "art-11", FACTS)
    with pytest.raises(Forbidden) as caught:
        await do_decide_case(ctx, reviewer, receipt.case.id, Decision.violation, [closure])
    assert caught.value.code == "tier_forbids"


# ---- enforcement, expiry, lifting ---------------------------------------------------------


async def test_a_posting_suspension_silences_members_but_not_managers_until_it_ends() -> None:
    ctx = make_ctx()
    owner, offender, _, group, receipt = await insult_case(ctx)
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    suspension = SanctionRequest("posting_suspension", "art-10", FACTS, days=3)
    await do_decide_case(ctx, reviewer, receipt.case.id, Decision.violation, [suspension])
    with pytest.raises(Forbidden) as caught:
        await say(ctx, offender, group.id, "still here")
    assert caught.value.code == "posting_suspended"
    await say(ctx, owner, group.id, "notice: please behave")
    frozen_clock(ctx).advance(timedelta(days=3))
    await say(ctx, offender, group.id, "back again")


async def test_lifting_a_sanction_ends_it_and_is_audited() -> None:
    ctx = make_ctx()
    _, offender, _, group, receipt = await insult_case(ctx)
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    senior = await staff(ctx, "senior", PlatformRole.senior_reviewer)
    _, (imposed,) = await do_decide_case(
        ctx, reviewer, receipt.case.id, Decision.violation, [blacklist()]
    )
    with pytest.raises(Forbidden):
        await do_lift_sanction(ctx, reviewer, imposed.id, "reviewers cannot lift")
    lifted = await do_lift_sanction(ctx, senior, imposed.id, "imposed in error")
    assert lifted.state is SanctionState.lifted
    await say(ctx, offender, group.id, "free again")
    audit = fake_uow(ctx).state.audit
    assert any(a.action == "sanction.lift" and a.actor_id == senior.id for a in audit)


# ---- appeals ------------------------------------------------------------------------------


async def test_overturning_an_appeal_lifts_the_sanction_and_reverses_its_credit() -> None:
    ctx = make_ctx()
    _, offender, _, group, receipt = await insult_case(ctx)
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    senior = await staff(ctx, "senior", PlatformRole.senior_reviewer)
    _, (imposed,) = await do_decide_case(
        ctx, reviewer, receipt.case.id, Decision.violation, [blacklist()]
    )
    assert imposed.credit_delta < 0
    appeal = await do_appeal_sanction(ctx, offender, imposed.id, "it was a joke between friends")
    decided = await do_decide_appeal(ctx, senior, appeal.id, overturn=True, note="context")
    assert decided.state is AppealState.overturned
    async with ctx.uow(write=False) as uow:
        after = await uow.reports.get_sanction(imposed.id)
    assert after is not None and after.state is SanctionState.overturned
    credit = await get_my_credit(ctx, offender, limit=50)
    reversed_ = [e.entry for e in credit.entries if e.entry.reason.value == "sanction_reversed"]
    assert [e.delta for e in reversed_] == [-imposed.credit_delta]
    await say(ctx, offender, group.id, "unblocked")


async def test_a_plain_reviewer_cannot_decide_an_appeal() -> None:
    ctx = make_ctx()
    _, offender, _, _, receipt = await insult_case(ctx)
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    other = await staff(ctx, "rev2", PlatformRole.reviewer)
    _, (imposed,) = await do_decide_case(
        ctx, reviewer, receipt.case.id, Decision.violation, [blacklist()]
    )
    appeal = await do_appeal_sanction(ctx, offender, imposed.id, "unfair")
    with pytest.raises(Forbidden) as caught:
        await do_decide_appeal(ctx, other, appeal.id, overturn=True)
    assert caught.value.code == "platform_role_required"


async def test_a_reporter_may_ask_once_for_review_of_no_violation() -> None:
    ctx = make_ctx()
    _, _, reporter, _, receipt = await insult_case(ctx)
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    senior = await staff(ctx, "senior", PlatformRole.senior_reviewer)
    await do_decide_case(ctx, reviewer, receipt.case.id, Decision.no_violation, [])
    appeal = await do_request_review(ctx, reporter, receipt.case.id, "it was clearly an insult")
    with pytest.raises(Conflict) as caught:
        await do_request_review(ctx, reporter, receipt.case.id, "again")
    assert caught.value.code == "appeal_exists"
    await do_decide_appeal(ctx, senior, appeal.id, overturn=True)
    case = await case_of(ctx, receipt.case.id)
    assert case.status is CaseStatus.escalated and case.decision is None


async def test_a_case_reopened_on_review_gets_a_fresh_deadline() -> None:
    ctx = make_ctx()
    _, _, reporter, _, receipt = await insult_case(ctx)
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    senior = await staff(ctx, "senior", PlatformRole.senior_reviewer)
    await do_decide_case(ctx, reviewer, receipt.case.id, Decision.no_violation, [])
    frozen_clock(ctx).advance(timedelta(days=3))  # long past the original deadline
    appeal = await do_request_review(ctx, reporter, receipt.case.id, "please look again")
    await do_decide_appeal(ctx, senior, appeal.id, overturn=True)
    case = await case_of(ctx, receipt.case.id)
    assert case.deadline_at == frozen_clock(ctx).now() + timedelta(hours=24)
    assert await count_overdue(ctx) == 0


async def test_only_a_no_violation_decision_can_be_reviewed_at_a_reporters_request() -> None:
    ctx = make_ctx()
    _, _, reporter, _, receipt = await insult_case(ctx)
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    await do_decide_case(ctx, reviewer, receipt.case.id, Decision.violation, [blacklist()])
    with pytest.raises(Conflict) as caught:
        await do_request_review(ctx, reporter, receipt.case.id, "more please")
    assert caught.value.code == "not_reviewable"


async def test_an_appeal_after_the_window_is_gone() -> None:
    ctx = make_ctx()
    _, offender, _, _, receipt = await insult_case(ctx)
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    _, (imposed,) = await do_decide_case(
        ctx, reviewer, receipt.case.id, Decision.violation, [blacklist(days=365)]
    )
    frozen_clock(ctx).advance(timedelta(days=181))
    with pytest.raises(Gone) as caught:
        await do_appeal_sanction(ctx, offender, imposed.id, "late")
    assert caught.value.code == "appeal_window_closed"


# ---- misuse of reporting and rate limits --------------------------------------------------


async def unfounded_reports(ctx: ServiceContext, reporter: Actor, n: int) -> None:
    """n manifestly unfounded reports by ``reporter``, each decided so."""
    k = next(_txn)
    owner = await register(ctx, f"owner{k}")
    group = await friends_group(ctx, owner, reporter, public=True)
    reviewer = await staff(ctx, f"rev{k}", PlatformRole.reviewer)
    for i in range(n):
        seq = await say(ctx, owner, group.id, f"a harmless message {i}")
        receipt = await report_message(ctx, reporter, group.id, seq)
        await do_decide_case(
            ctx,
            reviewer,
            receipt.case.id,
            Decision.no_violation,
            [],
            manifestly_unfounded=True,
        )


async def test_manifestly_unfounded_reports_bring_a_warning_then_a_reporting_suspension() -> None:
    ctx = make_ctx()
    reporter = await register(ctx, "serial")
    heard = await listen_account(ctx, reporter.id)
    book = generous_rulebooks().latest.reporting
    await unfounded_reports(ctx, reporter, book.warning_after)
    assert heard.kinds().count("reporting_warning") == 1
    assert "reporting_suspended" not in heard.kinds()
    await unfounded_reports(ctx, reporter, book.suspension_after - book.warning_after)
    suspended = next(f for f in heard.frames if f["kind"] == "reporting_suspended")
    assert suspended["unfounded_reports"] == book.suspension_after
    owner = await register(ctx, "someone")
    group = await friends_group(ctx, owner, reporter)
    with pytest.raises(Forbidden) as caught:
        await report_message(ctx, reporter, group.id, await say(ctx, owner, group.id, "hi"))
    assert caught.value.code == "reporting_suspended"
    frozen_clock(ctx).advance(timedelta(days=book.suspension_days, seconds=1))
    await report_message(ctx, reporter, group.id, await say(ctx, owner, group.id, "hi again"))


async def test_recent_unfounded_reports_weigh_a_reporters_next_report_down() -> None:
    ctx = make_ctx()
    reporter = await register(ctx, "serial")
    await unfounded_reports(ctx, reporter, 2)
    owner = await register(ctx, "someone")
    group = await friends_group(ctx, owner, reporter, public=True)
    receipt = await report_message(ctx, reporter, group.id, await say(ctx, owner, group.id, "x"))
    record = ReporterRecord(unfounded=2, recent_unfounded=2)
    assert receipt.report.reporter_weight == pytest.approx(weight_rule(1, record))
    assert receipt.report.reporter_weight < weight_rule(1, ReporterRecord(unfounded=2))


async def test_the_daily_report_quota_follows_the_credit_level() -> None:
    book = parse_rulebook(default_rulebook_text())
    ctx = make_ctx(rulebooks=RulebookSet([book]))
    owner = await register(ctx, "owner")
    verified = await register(ctx, "verified")
    unverified = await register(ctx, "unverified", verified=False)
    group = await friends_group(ctx, owner, verified, unverified)
    seqs = [await say(ctx, owner, group.id, f"m{i}") for i in range(12)]
    for reporter, level in ((unverified, 0), (verified, 1)):
        limit = book.credit.level(level).quotas.reports_per_day
        for seq in seqs[:limit]:
            await report_message(ctx, reporter, group.id, seq)
        with pytest.raises(QuotaExceeded) as caught:
            await report_message(ctx, reporter, group.id, seqs[limit])
        assert caught.value.extra["quota"] == "reports_per_day"
        assert (caught.value.extra["level"], caught.value.extra["limit"]) == (level, limit)
    frozen_clock(ctx).advance(timedelta(days=1, seconds=1))
    await report_message(ctx, unverified, group.id, seqs[-1])


# ---- records ------------------------------------------------------------------------------


async def test_the_regulator_export_lists_each_sanction_with_its_article_and_reasons() -> None:
    ctx = make_ctx()
    _, offender, _, group, receipt = await insult_case(ctx)
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    now = frozen_clock(ctx).now()
    await do_decide_case(
        ctx,
        reviewer,
        receipt.case.id,
        Decision.violation,
        [blacklist(), SanctionRequest("refer_to_authority", "art-13", FACTS)],
    )
    rows = await regulator_rows(ctx, now - timedelta(hours=1), now + timedelta(hours=1), SYSTEM)
    assert [(r["measure"], r["article"], r["account_id"]) for r in rows] == [
        ("blacklist", "art-11", offender.id),
        ("refer_to_authority", "art-13", offender.id),
    ]
    assert rows[0]["group_id"] == group.id and rows[0]["facts"] == FACTS
    assert rows[1]["target"] == "referral"
    csv_text = render(rows, "csv")
    assert csv_text.splitlines()[0].startswith("sanction_id,case_id,measure,target")
    assert len(csv_text.splitlines()) == 3
    later = (now + timedelta(hours=1), now + timedelta(hours=2))
    assert await regulator_rows(ctx, *later, SYSTEM) == []


async def test_the_transparency_report_counts_a_period() -> None:
    ctx = make_ctx()
    start = frozen_clock(ctx).now()
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    senior = await staff(ctx, "senior", PlatformRole.senior_reviewer)
    _, offender, _, _, first = await insult_case(ctx)
    frozen_clock(ctx).advance(timedelta(hours=2))
    _, (imposed,) = await do_decide_case(
        ctx, reviewer, first.case.id, Decision.violation, [blacklist()]
    )
    appeal = await do_appeal_sanction(ctx, offender, imposed.id, "unfair")
    await do_decide_appeal(ctx, senior, appeal.id, overturn=True)
    owner, _, _, _, second = await insult_case(ctx)
    frozen_clock(ctx).advance(timedelta(hours=30))  # past the deadline
    await do_decide_case(ctx, reviewer, second.case.id, Decision.no_violation, [])
    report = await transparency(ctx, start, frozen_clock(ctx).now(), SYSTEM)
    assert report["cases"] == 2 and report["reports"] == 2
    assert report["by_category"] == {"insult-defamation": 2}
    assert report["by_tier"] == {"public": 2}
    assert report["by_decision"] == {"violation": 1, "no_violation": 1}
    assert report["sanctions"] == {"blacklist": 1}
    assert report["median_hours_to_decision"] == pytest.approx(16.0)
    assert report["deadlines_missed"] == 1
    assert (report["appeals"], report["appeals_overturned"], report["overturn_rate"]) == (1, 1, 1.0)
    assert owner.id != offender.id


async def test_records_need_an_auditor_an_admin_or_a_senior_reviewer() -> None:
    ctx = make_ctx()
    now = frozen_clock(ctx).now()
    period = (now - timedelta(days=1), now)
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    with pytest.raises(Forbidden):
        await regulator_rows(ctx, *period, actor=reviewer)
    with pytest.raises(Forbidden):
        await transparency(ctx, *period, actor=reviewer)
    for i, role in enumerate(
        (PlatformRole.auditor, PlatformRole.admin, PlatformRole.senior_reviewer)
    ):
        allowed = await staff(ctx, f"rec{i}", role)
        assert await regulator_rows(ctx, *period, actor=allowed) == []
        assert (await transparency(ctx, *period, actor=allowed))["cases"] == 0


async def test_joining_is_refused_to_a_blacklisted_account() -> None:
    ctx = make_ctx()
    _, offender, _, _, receipt = await insult_case(ctx)
    reviewer = await staff(ctx, "rev", PlatformRole.reviewer)
    await do_decide_case(ctx, reviewer, receipt.case.id, Decision.violation, [blacklist()])
    other_owner = await register(ctx, "other")
    open_group = await friends_group(ctx, other_owner, public=True)
    with pytest.raises(Forbidden) as caught:
        await do_join(ctx, offender, open_group.id)
    assert caught.value.code == "blacklisted"
