"""Filing reports (举报, Art. 12) and routing them: owner first, platform when needed (P8).

A report preserves its evidence: a copy of the reported messages and, outside the
private tier, the messages just before them, kept even if the originals go.

Where a report goes (merge into the open case or open one, severity, route, priority,
deadlines) is the domain's decision (``domain.cases.file_report``); who may report while
a misuse measure is in force is ``domain.reporters.check_may_report``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from qunzu.domain import permissions as perm
from qunzu.domain.cases import Case, CaseEventKind, Filing, file_report
from qunzu.domain.duty import DutyEvent, DutyEventKind
from qunzu.domain.errors import NotFound
from qunzu.domain.lawful_access import ReferralSource, new_referral
from qunzu.domain.models import Group, Membership
from qunzu.domain.owner_tools import manager_may_read
from qunzu.domain.permissions import visible_periods
from qunzu.domain.quotas import check_quota
from qunzu.domain.reporters import check_may_report
from qunzu.domain.reports import (
    CONTEXT_WINDOW,
    EvidenceItem,
    Report,
    Target,
    TargetKind,
    category_of,
    check_extra_messages,
    check_first_report,
    check_may_report_in,
    check_report_up,
    check_statement,
    context_start,
    is_manager_target,
    reported_message,
    reported_seqs,
    reporter_weight,
    target_of,
)
from qunzu.domain.rulebook import ReportCategory, Rulebook, Tier
from qunzu.services import enforcement, governance, threads
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.group_access import held_rights
from qunzu.services.ledgers import current_level, record_duty
from qunzu.services.ports import UnitOfWork
from qunzu.services.timeline import notify


@dataclass(frozen=True, slots=True)
class Receipt:
    report: Report
    case: Case


@dataclass(frozen=True, slots=True)
class OwnerNotice:
    case: Case
    reports: int
    respond_by: str
    reported_message: EvidenceItem | None
    # The reported message is outside this manager's window (owner_tools.manager_may_read).
    withheld: bool = False


async def _tier(ctx: ServiceContext, uow: UnitOfWork, group: Group) -> Tier:
    record = await uow.activity.get_group(group.id)
    return Tier(record.tier) if record else governance.compute_tier(ctx, group)


async def do_file_report(
    ctx: ServiceContext,
    actor: Actor,
    group_id: int,
    kind: TargetKind,
    category: str,
    statement: str = "",
    seq: int | None = None,
    account_id: int | None = None,
    extra_seqs: tuple[int, ...] = (),
    escalate_to: str | None = None,
) -> Receipt:
    """Report a message, a member or a group. One report per reporter and target.

    ``escalate_to`` ("platform" or "authorities") is an owner or admin reporting up
    (P7): it goes to the platform queue at once and counts in their duty-of-care ledger;
    "authorities" also asks the platform to refer the matter on (P4).
    """
    statement = check_statement(statement)
    check_extra_messages(extra_seqs)
    now = ctx.clock.now()
    book = ctx.rulebooks.in_force(now)
    cat = category_of(book, category)
    async with transaction(ctx) as uow:
        level = await _check_reporter(ctx, uow, actor, cat, book)
        group, membership, tier = await _place_of(ctx, uow, actor, group_id, kind)
        report_up = check_report_up(escalate_to, membership)
        target, conduct_at, reported = await _resolve_target(
            uow, group, membership, kind, seq, account_id, extra_seqs, now
        )
        check_first_report(await uow.reports.report_by(actor.id, target.key))
        filing = Filing(
            target,
            cat,
            tier,
            conduct_at,
            await _weight(uow, actor.id, level, book, now),
            await _is_manager(uow, group, target),
            direct=group.is_direct,
            report_up=report_up is not None,
        )
        case = await _place(uow, group, filing, book, now)
        report = await uow.reports.add_report(
            Report(0, case.id, actor.id, target, cat.id, statement, extra_seqs, now, filing.weight)
        )
        await _keep_evidence(uow, case, membership, tier, reported)
        if report_up is not None:
            # Reporting up is a management act: the ledger and the managers' activity.
            await _record_report_up(ctx, uow, report_up, report, case)
    return Receipt(report, case)


async def _record_report_up(
    ctx: ServiceContext, uow: UnitOfWork, kind: DutyEventKind, report: Report, case: Case
) -> None:
    await record_duty(
        ctx,
        uow,
        case.target.group_id,
        kind,
        report.reporter_id,
        seq=case.target.seq,
        subject_id=case.target.account_id,
        case_id=case.id,
        note=report.statement[:200],
    )
    if kind is DutyEventKind.referred:
        # The owner asked the platform to refer the matter on: it waits in the outbox.
        referral = new_referral(
            ReferralSource.owner_report_up,
            case.target.group_id,
            case.id,
            case.target.account_id,
            report.statement,
            ctx.clock.now(),
        )
        await uow.lawful.add_referral(referral)


async def _check_reporter(
    ctx: ServiceContext, uow: UnitOfWork, actor: Actor, category: ReportCategory, book: Rulebook
) -> int:
    """A reporting suspension in force, and the daily quota of the reporter's credit level;
    returns the level."""
    check_may_report(category, await enforcement.in_force(ctx, uow, None, actor.id), actor.id)
    level = await current_level(ctx, uow, actor.id)
    used = await uow.reports.count_reports_since(actor.id, ctx.clock.now() - governance.DAY)
    quota = book.credit.level(level).quotas.reports_per_day
    check_quota("reports_per_day", used, quota, level, book.credit)
    return level


async def _place_of(
    ctx: ServiceContext, uow: UnitOfWork, actor: Actor, group_id: int, kind: TargetKind
) -> tuple[Group, Membership | None, Tier]:
    group = await uow.groups.get(group_id)
    if group is None:
        raise NotFound("group_not_found", "No such group.")
    membership = await uow.memberships.get(group_id, actor.id)
    tier = await _tier(ctx, uow, group)
    check_may_report_in(group, membership, kind, tier)
    return group, membership, tier


async def _weight(
    uow: UnitOfWork, reporter_id: int, level: int, book: Rulebook, now: datetime
) -> float:
    record = await uow.reports.reporter_record(reporter_id)
    recent = await uow.reports.count_unfounded_since(reporter_id, book.reporting.since(now))
    return reporter_weight(level, replace(record, recent_unfounded=recent))


async def _place(
    uow: UnitOfWork, group: Group, filing: Filing, book: Rulebook, now: datetime
) -> Case:
    """Ask the domain where the report goes, store the case, tell the managers (P7)."""
    open_case = await uow.reports.open_case_for(filing.target.key)
    weights = (
        [r.reporter_weight for r in await uow.reports.reports_for_case(open_case)]
        if open_case is not None
        else []
    )
    step = file_report(filing, open_case, weights, book.owner_response_hours, now)
    case = await uow.reports.save_case(step.case)
    if step.has(CaseEventKind.sent_to_owner):
        await _notify_managers(uow, group, case)
    return case


async def _keep_evidence(
    uow: UnitOfWork,
    case: Case,
    membership: Membership | None,
    tier: Tier,
    reported: list[EvidenceItem],
) -> None:
    """The reported messages, and outside the private tier the messages before them."""
    context = []
    if reported and perm.platform_may(perm.PlatformAction.read_report_context, tier):
        first = min(e.seq for e in reported)
        joined = membership.joined_seq if membership is not None else 1
        if membership is not None:  # the period of the first reported message
            joined = max(a for a, _b in membership.periods if a <= first)
        context = [
            EvidenceItem(e.seq, e.sender_id, e.body, e.created_at, e.kind.value, False)
            for e in await uow.timeline.after(
                case.target.group_id, context_start(first, joined), CONTEXT_WINDOW, upto=first - 1
            )
        ]
        context += await threads.reply_originals(uow, case.target.group_id, [*context, *reported])
    items = await threads.with_kept_text(uow, case.target.group_id, [*context, *reported])
    await uow.reports.add_evidence(case.id, sorted(items, key=lambda e: e.seq))


async def _resolve_target(
    uow: UnitOfWork,
    group: Group,
    membership: Membership | None,
    kind: TargetKind,
    seq: int | None,
    account_id: int | None,
    extra_seqs: tuple[int, ...],
    now: datetime,
) -> tuple[Target, datetime, list[EvidenceItem]]:
    """The target, when the conduct happened, and copies of the messages named."""
    periods = visible_periods(membership, group) if membership is not None else []
    reported = [
        reported_message(await uow.timeline.get(group.id, s), s, periods)
        for s in reported_seqs(kind, seq, extra_seqs)
    ]
    named = account_id if kind is TargetKind.member else None
    is_in_group = named is not None and await uow.memberships.get(group.id, named) is not None
    target, conduct_at = target_of(kind, group.id, reported, account_id, is_in_group, now)
    return target, conduct_at, reported


async def _is_manager(uow: UnitOfWork, group: Group, target: Target) -> bool:
    member = (
        await uow.memberships.get(group.id, target.account_id)
        if target.account_id is not None
        else None
    )
    return is_manager_target(group, target, member)


async def _notify_managers(uow: UnitOfWork, group: Group, case: Case) -> None:
    """Owner notices: live to each manager, and into the duty-of-care ledger with the time
    (the clock of the owner's response window starts here, P7)."""
    members = await uow.memberships.list_active(group.id, limit=10_000, offset=0)
    for m in members:
        if m.is_manager:
            await uow.owner.add_duty(
                group.id,
                DutyEvent(
                    case.created_at,
                    DutyEventKind.notice_received,
                    m.account_id,
                    seq=case.target.seq,
                    subject_id=case.target.account_id,
                    case_id=case.id,
                    note=f"member report: {case.category}",
                ),
            )
            notify(
                uow,
                m.account_id,
                "owner_notice",
                case_id=case.id,
                group_id=group.id,
                respond_by=case.platform_visible_at.isoformat(),
            )


async def list_my_reports(ctx: ServiceContext, actor: Actor, limit: int = 50) -> list[Receipt]:
    """The reporter's receipts and, once decided, the outcome (Art. 12; DSA Art. 16)."""
    async with transaction(ctx, write=False) as uow:
        return [Receipt(r, c) for r, c in await uow.reports.reports_by(actor.id, limit)]


async def list_owner_notices(ctx: ServiceContext, actor: Actor) -> list[OwnerNotice]:
    """Reports waiting on the groups the actor manages, with the time left to act (P7)."""
    async with transaction(ctx, write=False) as uow:
        managed = {
            m.group_id: m for m, _ in await uow.memberships.for_account(actor.id) if m.is_manager
        }
        rights = {g: await held_rights(uow, m) for g, m in managed.items()}
        out = []
        for case in await uow.reports.owner_cases(list(managed)):
            evidence = await uow.reports.evidence(case.id)
            reported = next((e for e in evidence if e.reported), None)
            group_id = case.target.group_id
            withheld = reported is not None and not manager_may_read(
                managed[group_id], rights[group_id], reported.seq
            )
            out.append(
                OwnerNotice(
                    case,
                    case.reporters,
                    case.platform_visible_at.isoformat(),
                    None if withheld else reported,
                    withheld,
                )
            )
    return out
