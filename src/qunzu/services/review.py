"""The review queue and decisions (Arts. 11, 12; P2, P3, P4).

Reviewers see only a case's evidence: there is no way from here to read a
group's content beyond what members reported (P2), and every view of a case
is audited. Decisions impose sanctions from the rulebook's closed catalogue,
each citing an article in force when the conduct happened (P3), each with a
statement of reasons delivered to whoever it affects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import timedelta

from qunzu.domain import permissions as perm
from qunzu.domain.credit import CreditEntry, CreditReason
from qunzu.domain.duty import Assessment, DutyEvent, DutyEventKind
from qunzu.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from qunzu.domain.models import EntryKind, GroupState, PlatformRole
from qunzu.domain.reports import (
    OPEN_STATUSES,
    Case,
    CaseStatus,
    Decision,
    EvidenceItem,
    QueueFilter,
    Report,
    ReporterRecord,
    TargetKind,
)
from qunzu.domain.rulebook import SanctionTarget, Tier
from qunzu.domain.sanctions import (
    SEVERITY,
    Sanction,
    SanctionRequest,
    SanctionState,
    check_sanction_request,
    end_of,
)
from qunzu.services import audit, duty
from qunzu.services.actor import Actor, require_platform_role
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.enforcement import end_sanction
from qunzu.services.ledgers import recompute_account, record_credit
from qunzu.services.ports import UnitOfWork
from qunzu.services.timeline import append_entry, notify

REVIEWERS = (PlatformRole.reviewer, PlatformRole.senior_reviewer, PlatformRole.admin)
SENIORS = (PlatformRole.senior_reviewer, PlatformRole.admin)


@dataclass(frozen=True, slots=True)
class CaseFile:
    case: Case
    reports: list[Report]
    evidence: list[EvidenceItem]
    sanctions: list[Sanction]
    assessments: list[Assessment] = field(default_factory=list)


def _is_senior(actor: Actor) -> bool:
    return actor.account.platform_role in SENIORS


async def list_queue(
    ctx: ServiceContext, actor: Actor, flt: QueueFilter, limit: int = 50, offset: int = 0
) -> list[Case]:
    """Open cases the platform may act on, earliest deadline first."""
    require_platform_role(actor, *REVIEWERS)
    if not 1 <= limit <= 200:
        raise InvalidInput("invalid_limit", "limit is 1 to 200.")
    async with transaction(ctx, write=False) as uow:
        return await uow.reports.queue(ctx.clock.now(), flt, limit, offset)


async def count_overdue(ctx: ServiceContext) -> int:
    async with transaction(ctx, write=False) as uow:
        return await uow.reports.count_overdue(ctx.clock.now())


async def _case_for_platform(uow: UnitOfWork, case_id: int, now: object) -> Case:
    case = await uow.reports.get_case(case_id)
    if case is None:
        raise NotFound("case_not_found", "No such case.")
    return case


async def open_case_file(ctx: ServiceContext, actor: Actor, case_id: int) -> CaseFile:
    """A case with its reports and evidence. Reading it is audited (content access)."""
    require_platform_role(actor, *REVIEWERS)
    now = ctx.clock.now()
    async with transaction(ctx) as uow:
        case = await _case_for_platform(uow, case_id, now)
        if case.platform_visible_at > now and case.status in OPEN_STATUSES:
            raise Forbidden(
                "with_owner",
                "This case is with the group's owner until "
                f"{case.platform_visible_at.isoformat()} (P8).",
            )
        if case.status is CaseStatus.handled_by_owner:
            # The owner acted in time: the report never reached the platform (P2, P8).
            raise Forbidden("with_owner", "The group's owner handled this case in time (P8).")
        await audit.record(ctx, uow, actor.id, "case.view", f"case:{case_id}")
        return CaseFile(
            case,
            await uow.reports.reports_for_case(case),
            await uow.reports.evidence(case_id),
            await uow.reports.sanctions_for_case(case_id),
            await duty.assess_case(ctx, uow, case),
        )


async def do_claim_case(ctx: ServiceContext, actor: Actor, case_id: int) -> Case:
    require_platform_role(actor, *REVIEWERS)
    now = ctx.clock.now()
    async with transaction(ctx) as uow:
        case = await _case_for_platform(uow, case_id, now)
        _check_open(case, now)
        if case.status is CaseStatus.escalated and not _is_senior(actor):
            raise Forbidden("senior_required", "An escalated case is for a senior reviewer.")
        if case.claimed_by not in (None, actor.id):
            raise Conflict("case_claimed", "Another reviewer has claimed this case.")
        await uow.reports.update_case(
            case_id,
            claimed_by=actor.id,
            status=case.status if case.status is CaseStatus.escalated else CaseStatus.claimed,
        )
        await audit.record(ctx, uow, actor.id, "case.claim", f"case:{case_id}")
        fresh = await uow.reports.get_case(case_id)
    assert fresh is not None
    return fresh


async def do_escalate_case(ctx: ServiceContext, actor: Actor, case_id: int, note: str) -> Case:
    require_platform_role(actor, *REVIEWERS)
    now = ctx.clock.now()
    async with transaction(ctx) as uow:
        case = await _case_for_platform(uow, case_id, now)
        _check_open(case, now)
        if case.status is CaseStatus.escalated:
            raise Conflict("already_escalated", "This case is already with a senior reviewer.")
        if case.claimed_by not in (None, actor.id):
            raise Conflict("case_claimed", "Another reviewer has claimed this case.")
        await uow.reports.update_case(
            case_id, status=CaseStatus.escalated, claimed_by=None, decision_note=note[:2000]
        )
        await audit.record(ctx, uow, actor.id, "case.escalate", f"case:{case_id}", note=note[:500])
        fresh = await uow.reports.get_case(case_id)
    assert fresh is not None
    return fresh


def _check_open(case: Case, now: object) -> None:
    if case.status not in OPEN_STATUSES:
        raise Conflict("case_decided", f"This case is already {case.status.value}.")
    if case.platform_visible_at > now:  # type: ignore[operator]
        raise Forbidden("with_owner", "This case is still with the group's owner (P8).")


async def do_decide_case(
    ctx: ServiceContext,
    actor: Actor,
    case_id: int,
    decision: Decision,
    sanctions: list[SanctionRequest],
    note: str = "",
    manifestly_unfounded: bool = False,
    targets: list[int | None] | None = None,
) -> tuple[Case, list[Sanction]]:
    """Decide a case: no violation, or a violation with sanctions from the catalogue."""
    require_platform_role(actor, *REVIEWERS)
    now = ctx.clock.now()
    if decision is Decision.no_violation and sanctions:
        raise InvalidInput("no_sanctions_without_violation", "No violation means no sanctions.")
    if decision is Decision.violation and not sanctions:
        raise InvalidInput("sanction_required", "A violation names at least one sanction.")
    if decision is Decision.violation and manifestly_unfounded:
        raise InvalidInput("invalid_decision", "An upheld report is not unfounded.")
    if len(sanctions) > 8:
        raise InvalidInput("too_many_sanctions", "At most eight sanctions in one decision.")
    async with transaction(ctx) as uow:
        case = await _case_for_platform(uow, case_id, now)
        _check_open(case, now)
        if case.status is CaseStatus.escalated and not _is_senior(actor):
            raise Forbidden("senior_required", "An escalated case is decided by a senior reviewer.")
        if case.claimed_by not in (None, actor.id):
            raise Conflict("case_claimed", "Another reviewer has claimed this case.")
        try:
            conduct_book = ctx.rulebooks.in_force(case.conduct_at)
        except NotFound:
            raise InvalidInput(
                "article_not_in_force",
                "No rulebook was in force when the conduct happened (P3).",
            ) from None
        group = await uow.groups.get(case.target.group_id)
        assert group is not None
        reports = await uow.reports.reports_for_case(case)
        imposed: list[Sanction] = []
        for i, request in enumerate(sanctions):
            account_id = await _account_target(
                uow,
                case,
                group.owner_id,
                request,
                (targets or [])[i] if targets and i < len(targets) else None,
            )
            kind = check_sanction_request(request, conduct_book, True, account_id is not None)
            if kind.target is SanctionTarget.group:
                perm.check_platform_may(perm.PlatformAction.impose_group_sanction, Tier(case.tier))
            imposed.append(
                await _impose(
                    ctx,
                    uow,
                    case,
                    group.id,
                    account_id,
                    request,
                    kind.target,
                    conduct_book.version,
                    actor.id,
                    end_of(kind, now, request.days),
                )
            )
        await uow.reports.update_case(
            case_id,
            status=CaseStatus.decided,
            decision=decision,
            decided_by=actor.id,
            decided_at=now,
            decision_note=note[:2000],
            rulebook_version=conduct_book.version,
        )
        await _settle_reporters(ctx, uow, case, reports, decision, manifestly_unfounded)
        if decision is Decision.violation:
            await duty.credit_managers(ctx, uow, case)
        if decision is Decision.violation and case.target.account_id is not None:
            severity = "major" if case.severity == "severe" else "minor"
            delta = conduct_book.credit.inputs.upheld_report_against[severity]
            await record_credit(
                ctx,
                uow,
                case.target.account_id,
                delta,
                CreditReason.upheld_report_against,
                source=f"case:{case_id}",
            )
        await audit.record(
            ctx,
            uow,
            actor.id,
            "case.decide",
            f"case:{case_id}",
            decision=decision.value,
            sanctions=[s.id for s in imposed],
            note=note[:500],
        )
        fresh = await uow.reports.get_case(case_id)
    assert fresh is not None
    return fresh, imposed


async def _account_target(
    uow: UnitOfWork,
    case: Case,
    owner_id: int | None,
    request: SanctionRequest,
    explicit: int | None,
) -> int | None:
    """Account measures fall on the reported account, or (for a group report) the owner;
    a reviewer may name a manager of the group instead."""
    if explicit is not None:
        member = await uow.memberships.get(case.target.group_id, explicit)
        if explicit != case.target.account_id and (member is None or not member.is_manager):
            raise InvalidInput(
                "wrong_target", "Account measures fall on the reported account or a manager."
            )
        return explicit
    if case.target.kind is TargetKind.group:
        return owner_id
    return case.target.account_id


async def _impose(
    ctx: ServiceContext,
    uow: UnitOfWork,
    case: Case,
    group_id: int,
    account_id: int | None,
    request: SanctionRequest,
    target: SanctionTarget,
    version: str,
    decided_by: int,
    ends_at: object,
) -> Sanction:
    now = ctx.clock.now()
    book = ctx.rulebooks.in_force(now)
    on_group = target is SanctionTarget.group
    sanction = await uow.reports.add_sanction(
        Sanction(
            id=0,
            case_id=case.id,
            kind=request.kind,
            target=target,
            group_id=group_id if on_group else request.scope_group_id,
            account_id=None if on_group else account_id,
            article=request.article,
            rulebook_version=version,
            facts=request.facts.strip(),
            decided_by=decided_by,
            automated=False,
            starts_at=now,
            ends_at=ends_at,  # type: ignore[arg-type]
            state=SanctionState.active,
            appeal_until=now + timedelta(days=book.appeal_window_days),
        )
    )
    if on_group:
        if request.kind == "closure":
            await uow.groups.update(group_id, state=GroupState.closed)
        await append_entry(
            ctx,
            uow,
            group_id,
            EntryKind.sanction_imposed,
            None,
            data={
                "sanction_id": sanction.id,
                "kind": request.kind,
                "article": request.article,
                "until": sanction.ends_at.isoformat() if sanction.ends_at else None,
            },
        )
        members = await uow.memberships.list_active(group_id, limit=10_000, offset=0)
        affected = [m.account_id for m in members if m.is_manager]
        if request.kind == "warning":
            # A platform warning is notice to every manager (P7).
            for manager in affected:
                await uow.owner.add_duty(
                    group_id,
                    DutyEvent(
                        now,
                        DutyEventKind.notice_received,
                        manager,
                        seq=case.target.seq,
                        subject_id=case.target.account_id,
                        case_id=case.id,
                        note="platform warning",
                    ),
                )
    else:
        affected = [account_id] if account_id is not None else []
        if account_id is not None and target is SanctionTarget.account:
            delta = book.credit.inputs.sanction_penalty[SEVERITY.get(request.kind, "minor")]
            if request.kind == "lower_credit":
                delta = await _one_level_down(ctx, uow, account_id, delta)
            await record_credit(
                ctx,
                uow,
                account_id,
                delta,
                CreditReason.sanction,
                article=request.article,
                source=f"sanction:{sanction.id}",
            )
            await uow.reports.update_sanction(sanction.id, credit_delta=delta)
            sanction = replace(sanction, credit_delta=delta)
    for account in affected:
        notify(uow, account, "statement_of_reasons", sanction_id=sanction.id, measure=request.kind)
    return sanction


async def _one_level_down(
    ctx: ServiceContext, uow: UnitOfWork, account_id: int, penalty: int
) -> int:
    """ "Lower credit level" (降低信用等级) lowers it: at least the rulebook's penalty, and as
    much more as it takes to pass the demotion line of the current level."""
    policy = ctx.rulebooks.in_force(ctx.clock.now()).credit
    state = await recompute_account(ctx, uow, account_id)
    if state.level == 0:
        return penalty
    line = math.floor(policy.level(state.level).min_score * policy.demotion_hysteresis)
    return min(penalty, line - 1 - state.score)


async def _settle_reporters(
    ctx: ServiceContext,
    uow: UnitOfWork,
    case: Case,
    reports: list[Report],
    decision: Decision,
    unfounded: bool,
) -> None:
    """Tell every reporter the outcome; weigh their record (Discourse) and, for manifestly
    unfounded reports, warn then suspend repeat reporters (DSA Art. 23).

    Done for all the case's reporters at once (a few statements, not a few per reporter):
    a decision has a latency goal (docs/performance.md)."""
    now = ctx.clock.now()
    book = ctx.rulebooks.in_force(now)
    if unfounded:
        await uow.reports.mark_unfounded([r.id for r in reports])
    reporters = sorted({r.reporter_id for r in reports})
    records = await uow.reports.reporter_records(reporters)
    recent: dict[int, int] = {}
    if unfounded:
        window = now - timedelta(days=book.reporting.unfounded_window_days)
        recent = await uow.reports.count_unfounded_since_many(reporters, window)
    entries: list[CreditEntry] = []
    for reporter in reporters:
        record = records.get(reporter, ReporterRecord())
        if decision is Decision.violation:
            record = replace(record, upheld=record.upheld + 1)
            entries.append(
                CreditEntry(
                    reporter,
                    book.credit.inputs.report_upheld,
                    CreditReason.report_upheld,
                    now,
                    source=f"case:{case.id}",
                )
            )
        elif unfounded:
            record = replace(record, unfounded=record.unfounded + 1)
            entries.append(
                CreditEntry(
                    reporter,
                    book.credit.inputs.report_unfounded,
                    CreditReason.report_unfounded,
                    now,
                    source=f"case:{case.id}",
                )
            )
            count = recent.get(reporter, 0)
            if count >= book.reporting.suspension_after:
                until = now + timedelta(days=book.reporting.suspension_days)
                record = replace(record, reporting_suspended_until=until)
                notify(
                    uow,
                    reporter,
                    "reporting_suspended",
                    until=until.isoformat(),
                    unfounded_reports=count,
                    article="art-12",
                )
            elif count >= book.reporting.warning_after and record.warned_at is None:
                record = replace(record, warned_at=now)
                notify(uow, reporter, "reporting_warning", unfounded_reports=count)
        else:
            record = replace(record, no_violation=record.no_violation + 1)
        records[reporter] = record
    # Reporters' scores catch up when they look or at the daily recompute (add_credit_entry).
    await uow.credit.add_entries(entries)
    await uow.reports.put_reporter_records(records)
    for report in reports:
        notify(
            uow,
            report.reporter_id,
            "report_outcome",
            report_id=report.id,
            case_id=case.id,
            outcome=decision.value,
        )


async def do_lift_sanction(
    ctx: ServiceContext, actor: Actor, sanction_id: int, reason: str
) -> Sanction:
    require_platform_role(actor, *SENIORS)
    if len(reason.strip()) < 5:
        raise InvalidInput("reason_required", "State why the sanction is lifted.")
    async with transaction(ctx) as uow:
        sanction = await uow.reports.get_sanction(sanction_id)
        if sanction is None:
            raise NotFound("sanction_not_found", "No such sanction.")
        if sanction.state is not SanctionState.active:
            raise Conflict("sanction_not_active", f"This sanction is {sanction.state.value}.")
        await end_sanction(ctx, uow, sanction, SanctionState.lifted, reverse_credit=False)
        await audit.record(
            ctx,
            uow,
            actor.id,
            "sanction.lift",
            f"sanction:{sanction_id}",
            reason=reason.strip()[:500],
        )
        fresh = await uow.reports.get_sanction(sanction_id)
    assert fresh is not None
    return fresh


async def do_acknowledge_warning(ctx: ServiceContext, actor: Actor, sanction_id: int) -> Sanction:
    """The owner acknowledges a warning and undertakes to rectify: the banner comes down."""
    async with transaction(ctx) as uow:
        sanction = await uow.reports.get_sanction(sanction_id)
        if sanction is None or sanction.kind != "warning" or sanction.group_id is None:
            raise NotFound("sanction_not_found", "No such warning.")
        group = await uow.groups.get(sanction.group_id)
        if group is None or group.owner_id != actor.id:
            raise Forbidden("not_permitted", "Only the group's owner acknowledges a warning.")
        if sanction.acknowledged_at is not None:
            raise Conflict("already_acknowledged", "This warning is already acknowledged.")
        await uow.reports.update_sanction(sanction_id, acknowledged_at=ctx.clock.now())
        # Members see the banner come down: the owner has undertaken to rectify.
        await append_entry(
            ctx,
            uow,
            sanction.group_id,
            EntryKind.warning_acknowledged,
            actor.id,
            data={"sanction_id": sanction_id},
        )
        fresh = await uow.reports.get_sanction(sanction_id)
    assert fresh is not None
    return fresh
