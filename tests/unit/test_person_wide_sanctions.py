"""A blacklisting binds a person, not an account: every account of the same real identity
(by the identity's blind index) for the same term, and no new verification of that
identity meanwhile; lifting or overturning it frees them all."""

from __future__ import annotations

from datetime import timedelta

from qunzu.domain.errors import Forbidden
from qunzu.domain.models import GroupCategory, JoinPolicy, PlatformRole
from qunzu.domain.reports import Decision, TargetKind
from qunzu.domain.sanctions import Sanction, SanctionRequest, SanctionState
from qunzu.services import appeals, reports, review
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext
from qunzu.services.groups import do_create_group
from qunzu.services.identity import do_submit_identity
from qunzu.services.messaging import do_send_message
from tests.fakes import fake_uow, frozen_clock, make_ctx
from tests.unit.world import add_member, refusal, register, unique_resident_id

FACTS = "Insulted a member repeatedly."


async def blacklist(ctx: ServiceContext, offender: Actor, days: int = 30) -> Sanction:
    """The offender's insult in a public group, decided with a blacklisting."""
    owner, reporter = await register(ctx, "own"), await register(ctx, "rep")
    group = await do_create_group(
        ctx, owner, "朋友群", GroupCategory.friends, join_policy=JoinPolicy.open, discoverable=True
    )
    for member in (offender, reporter):
        await add_member(ctx, owner, group.id, member)
    sent = await do_send_message(ctx, offender, group.id, "you are an idiot", "txn-1")
    receipt = await reports.do_file_report(
        ctx,
        reporter,
        group.id,
        TargetKind.message,
        "insult-defamation",
        "insult",
        seq=sent.entry.seq,
    )
    reviewer = await register(ctx, "reviewer", verified=False, role=PlatformRole.reviewer)
    request = SanctionRequest("blacklist", "art-11", FACTS, days=days)
    _, (imposed,) = await review.do_decide_case(
        ctx, reviewer, receipt.case.id, Decision.violation, [request]
    )
    return imposed


def sanctions_on(ctx: ServiceContext, account_id: int) -> list[Sanction]:
    found = fake_uow(ctx).state.reports_tables.sanctions.values()
    return sorted((s for s in found if s.account_id == account_id), key=lambda s: s.id)


async def test_a_blacklisting_binds_every_account_of_the_same_identity() -> None:
    ctx = make_ctx()
    person = unique_resident_id()
    main = await register(ctx, "main", resident_id=person)
    second = await register(ctx, "second", resident_id=person)
    stranger = await register(ctx, "stranger")
    imposed = await blacklist(ctx, main)
    [twin] = sanctions_on(ctx, second.id)
    assert (twin.kind, twin.person_of, twin.ends_at, twin.case_id) == (
        "blacklist",
        imposed.id,
        imposed.ends_at,
        imposed.case_id,
    )
    assert "every account of the same real identity" in twin.facts
    assert twin.credit_delta == 0  # one penalty for one conduct
    assert sanctions_on(ctx, stranger.id) == []


async def test_the_persons_other_account_cannot_join_or_create_while_bound() -> None:
    ctx = make_ctx()
    person = unique_resident_id()
    main = await register(ctx, "main", resident_id=person)
    second = await register(ctx, "second", resident_id=person)
    await blacklist(ctx, main)
    code = await refusal(do_create_group(ctx, second, "新群", GroupCategory.friends), Forbidden)
    assert code == "blacklisted"


async def test_no_account_verifies_a_blacklisted_identity_until_the_term_ends() -> None:
    ctx = make_ctx()
    person = unique_resident_id()
    main = await register(ctx, "main", resident_id=person)
    await blacklist(ctx, main, days=30)
    newcomer = await register(ctx, "newcomer", verified=False)
    code = await refusal(
        do_submit_identity(ctx, newcomer, "张三", person, "13800138000"), Forbidden
    )
    assert code == "identity_blacklisted"
    other_person = await register(ctx, "other", verified=False)
    await do_submit_identity(ctx, other_person, "李四", unique_resident_id(), "13800138001")
    frozen_clock(ctx).advance(timedelta(days=31))
    masked = await do_submit_identity(ctx, newcomer, "张三", person, "13800138000")
    assert masked.verified


async def test_lifting_the_blacklisting_frees_every_account_of_the_person() -> None:
    ctx = make_ctx()
    person = unique_resident_id()
    main = await register(ctx, "main", resident_id=person)
    second = await register(ctx, "second", resident_id=person)
    imposed = await blacklist(ctx, main)
    senior = await register(ctx, "senior", verified=False, role=PlatformRole.senior_reviewer)
    await review.do_lift_sanction(ctx, senior, imposed.id, "imposed on the wrong person")
    assert [s.state for s in sanctions_on(ctx, second.id)] == [SanctionState.lifted]
    group = await do_create_group(ctx, second, "新群", GroupCategory.friends)
    assert group.owner_id == second.id


async def test_overturning_an_appeal_from_the_other_account_ends_the_measure_everywhere() -> None:
    ctx = make_ctx()
    person = unique_resident_id()
    main = await register(ctx, "main", resident_id=person)
    second = await register(ctx, "second", resident_id=person)
    imposed = await blacklist(ctx, main)
    [twin] = sanctions_on(ctx, second.id)
    appeal = await appeals.do_appeal_sanction(ctx, second, twin.id, "that was my brother")
    senior = await register(ctx, "senior", verified=False, role=PlatformRole.senior_reviewer)
    await appeals.do_decide_appeal(ctx, senior, appeal.id, overturn=True)
    states = {s.id: s.state for s in sanctions_on(ctx, main.id) + sanctions_on(ctx, second.id)}
    assert states == {imposed.id: SanctionState.overturned, twin.id: SanctionState.overturned}


async def test_the_bound_account_reads_its_statement_of_reasons() -> None:
    ctx = make_ctx()
    person = unique_resident_id()
    main = await register(ctx, "main", resident_id=person)
    second = await register(ctx, "second", resident_id=person)
    await blacklist(ctx, main)
    [twin] = sanctions_on(ctx, second.id)
    statement = await appeals.statement_of_reasons(ctx, second, twin.id)
    assert statement.in_force and statement.sanction.person_of is not None
