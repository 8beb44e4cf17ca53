"""The review queue and decisions (Arts. 11, 12; P2, P3, P4).

Reviewers see only a case's evidence: there is no way from here to read a
group's content beyond what members reported (P2), and every view of a case
is audited. Decisions impose sanctions from the rulebook's closed catalogue,
each citing an article in force when the conduct happened (P3), each with a
statement of reasons delivered to whoever it affects.

The case decides (``domain.cases``), the reporters' settlement is a domain rule
(``domain.reporters``); this module loads, asks, saves, audits and publishes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from qunzu.domain.audit import AuditAction, check_not_self
from qunzu.domain.cases import (
    Case,
    CaseView,
    Reviewer,
    case_view,
    check_decision,
    check_disinterested,
    conduct_rulebook,
    upheld_report_penalty,
)
from qunzu.domain.credit import CreditReason
from qunzu.domain.duty import Assessment, DutyEvent, DutyEventKind
from qunzu.domain.errors import InvalidInput, NotFound
from qunzu.domain.lawful_access import ReferralSource, new_referral
from qunzu.domain.models import EntryKind, Group, GroupState, PlatformRole
from qunzu.domain.reporters import UnfoundedReport, misuse_lookback, settle_reporters
from qunzu.domain.reports import Decision, EvidenceItem, QueueFilter, Report
from qunzu.domain.rulebook import Rulebook, SanctionTarget, Tier
from qunzu.domain.sanctions import (
    TAKEDOWN,
    Sanction,
    SanctionRequest,
    check_lift_reason,
    check_measure_allowed,
    check_sanction_request,
    check_takedown_target,
    credit_penalty,
    impose,
    one_level_down,
)
from qunzu.services import attached, audit, duty, threads
from qunzu.services.actor import REVIEWERS, SENIORS, Actor
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.enforcement import bind_the_person, end_sanction, take_down
from qunzu.services.ledgers import recompute_account, record_credit
from qunzu.services.ports import UnitOfWork
from qunzu.services.timeline import append_entry, notify


@dataclass(frozen=True, slots=True)
class CaseFile:
    case: Case
    reports: list[Report]
    evidence: list[EvidenceItem]
    sanctions: list[Sanction]
    assessments: list[Assessment] = field(default_factory=list)
    # metadata: message bodies and reporters' statements withheld (domain.cases.case_view)
    view: CaseView = CaseView.evidence
    # seq -> attachments of that evidence message (reviewers fetch them: /v1/uploads/{id})
    attachments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)


# Who opens a case file: the review roles, and auditors (who read its metadata only).
CASE_FILE_ROLES = (*REVIEWERS, PlatformRole.auditor)


def _reviewer(actor: Actor) -> Reviewer:
    return Reviewer(actor.id, actor.account.platform_role in SENIORS)


async def _load_case(uow: UnitOfWork, case_id: int) -> Case:
    case = await uow.reports.get_case(case_id)
    if case is None:
        raise NotFound("case_not_found", "No such case.")
    return case


async def _case_for(uow: UnitOfWork, actor: Actor, case_id: int) -> Case:
    """The case, unless it is about the officer's own account or group."""
    case = await _load_case(uow, case_id)
    group = await uow.groups.get(case.target.group_id)
    check_disinterested(case, actor.id, group.owner_id if group is not None else None)
    return case


async def list_queue(
    ctx: ServiceContext, actor: Actor, flt: QueueFilter, limit: int = 50, offset: int = 0
) -> list[Case]:
    """Open cases the platform may act on, earliest deadline first."""
    if not 1 <= limit <= 200:
        raise InvalidInput("invalid_limit", "limit is 1 to 200.")
    subject = "queue"
    async with audit.privileged(
        ctx, actor, REVIEWERS, AuditAction.case_queue, subject, write=False
    ) as act:
        cases = await act.uow.reports.queue(ctx.clock.now(), flt, limit, offset)
        act.note(shown=len(cases), offset=offset)
    return cases


async def count_overdue(ctx: ServiceContext) -> int:
    async with transaction(ctx, write=False) as uow:
        return await uow.reports.count_overdue(ctx.clock.now())


# The queue's depth by time to deadline: the severe window (2 h), the normal one (24 h).
DEPTH_BANDS = (("overdue", 0), ("within_2h", 2), ("within_24h", 24))


async def queue_depth(ctx: ServiceContext) -> dict[str, int]:
    """Open cases in the platform queue by how soon they are due (for /metrics): overdue,
    due within 2 h, within 24 h, and later; each band excludes the ones before it."""
    now = ctx.clock.now()
    bounds = [now + timedelta(hours=h) for _, h in DEPTH_BANDS] + [datetime.max.replace(tzinfo=UTC)]
    async with transaction(ctx, write=False) as uow:
        counts = await uow.reports.count_open_by_deadline(now, bounds)
    names = [name for name, _ in DEPTH_BANDS] + ["later"]
    return {name: counts[i] - (counts[i - 1] if i else 0) for i, name in enumerate(names)}


async def open_case_file(ctx: ServiceContext, actor: Actor, case_id: int) -> CaseFile:
    """A case with its reports and evidence. Reading it is audited (content access)."""
    subject = f"case:{case_id}"
    async with audit.privileged(ctx, actor, CASE_FILE_ROLES, AuditAction.case_view, subject) as act:
        uow = act.uow
        case = await _case_for(uow, actor, case_id)
        case.check_platform_may_read(ctx.clock.now())
        view = case_view(case, actor.account.platform_role, actor.id)
        act.note(view=view.value)
        reports = await uow.reports.reports_for_case(case)
        evidence = await uow.reports.evidence(case_id)
        if view is CaseView.metadata:
            reports = [replace(r, statement="") for r in reports]
            evidence = [replace(e, body=None) for e in evidence]
        return CaseFile(
            case,
            reports,
            evidence,
            await uow.reports.sanctions_for_case(case_id),
            await duty.assess_case(ctx, uow, case),
            view,
            {}
            if view is CaseView.metadata
            else await attached.of_messages(uow, case.target.group_id, [e.seq for e in evidence]),
        )


async def do_claim_case(ctx: ServiceContext, actor: Actor, case_id: int) -> Case:
    subject = f"case:{case_id}"
    async with audit.privileged(ctx, actor, REVIEWERS, AuditAction.case_claim, subject) as act:
        step = (await _case_for(act.uow, actor, case_id)).claim(_reviewer(actor), ctx.clock.now())
        case = await act.uow.reports.save_case(step.case)
    return case


async def do_release_case(ctx: ServiceContext, actor: Actor, case_id: int) -> Case:
    """Give a claimed case back to the queue (its claimant, or a senior)."""
    subject = f"case:{case_id}"
    async with audit.privileged(ctx, actor, REVIEWERS, AuditAction.case_release, subject) as act:
        step = (await _load_case(act.uow, case_id)).release(_reviewer(actor), ctx.clock.now())
        case = await act.uow.reports.save_case(step.case)
    return case


async def do_escalate_case(ctx: ServiceContext, actor: Actor, case_id: int, note: str) -> Case:
    subject = f"case:{case_id}"
    async with audit.privileged(
        ctx, actor, REVIEWERS, AuditAction.case_escalate, subject, note=note[:500]
    ) as act:
        step = (await _case_for(act.uow, actor, case_id)).escalate(
            _reviewer(actor), note, ctx.clock.now()
        )
        case = await act.uow.reports.save_case(step.case)
    return case


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
    """Decide a case: no violation, or a violation with sanctions from the catalogue.
    Every consequence follows the rulebook version in force when the conduct happened
    (P3); procedure (the appeal window) the version in force now (docs/rulebook.md)."""
    now = ctx.clock.now()
    subject = f"case:{case_id}"
    async with audit.privileged(
        ctx, actor, REVIEWERS, AuditAction.case_decide, subject, decision=decision.value
    ) as act:
        check_decision(decision, len(sanctions), manifestly_unfounded)
        uow = act.uow
        case = await _case_for(uow, actor, case_id)
        conduct = conduct_rulebook(ctx.rulebooks, case)
        step = case.decide(_reviewer(actor), decision, note, conduct.version, now)
        imposed = await _impose_all(ctx, uow, step.case, sanctions, targets or [], conduct, actor)
        case = await uow.reports.save_case(step.case)
        automated = await _settle_reporters(ctx, uow, case, manifestly_unfounded, actor.id)
        if case.upheld:
            await duty.credit_managers(ctx, uow, case, conduct)
        charge = upheld_report_penalty(case, conduct)
        if charge is not None:
            await record_credit(
                ctx, uow, *charge, CreditReason.upheld_report_against, source=f"case:{case_id}"
            )
        await _refer_on(ctx, uow, case, imposed, note)
        act.note(sanctions=[s.id for s in imposed], automated_sanctions=automated, note=note[:500])
    return case, imposed


async def _refer_on(
    ctx: ServiceContext, uow: UnitOfWork, case: Case, imposed: list[Sanction], note: str
) -> None:
    """A ``refer_to_authority`` measure puts the matter in the referral outbox."""
    for s in imposed:
        if s.kind == "refer_to_authority":
            summary = f"{s.article}: {s.facts} {note}"
            referral = new_referral(
                ReferralSource.reviewer_decision,
                case.target.group_id,
                case.id,
                s.account_id,
                summary,
                ctx.clock.now(),
            )
            await uow.lawful.add_referral(referral)


async def _impose_all(
    ctx: ServiceContext,
    uow: UnitOfWork,
    case: Case,
    requests: list[SanctionRequest],
    targets: list[int | None],
    conduct: Rulebook,
    actor: Actor,
) -> list[Sanction]:
    """Each requested measure, checked against the conduct-time catalogue, stored and
    carried out."""
    group = await uow.groups.get(case.target.group_id)
    assert group is not None
    imposed = []
    for i, request in enumerate(requests):
        named = targets[i] if i < len(targets) else None
        member = await uow.memberships.get(group.id, named) if named is not None else None
        account_id = case.measure_target(
            group.owner_id, named, member is not None and member.is_manager
        )
        kind = check_sanction_request(request, conduct, True, account_id is not None)
        check_takedown_target(kind.id, case.target.seq)
        # A measure on the officer's own account, or on a group they own, is theirs.
        on_group = kind.target is SanctionTarget.group
        check_not_self(actor.id, group.owner_id if on_group else account_id)
        check_measure_allowed(kind, Tier(case.tier))
        procedure = ctx.rulebooks.in_force(ctx.clock.now())
        sanction = await uow.reports.add_sanction(
            impose(
                request,
                kind,
                case.id,
                group.id,
                account_id,
                conduct.version,
                actor.id,
                procedure.appeal_window_days,
                ctx.clock.now(),
            )
        )
        imposed.append(await _carry_out(ctx, uow, case, group, sanction, conduct))
    return imposed


async def _carry_out(
    ctx: ServiceContext,
    uow: UnitOfWork,
    case: Case,
    group: Group,
    sanction: Sanction,
    conduct: Rulebook,
) -> Sanction:
    """A sanction's effects: on the group (state, timeline, managers' notice), or on the
    account (its credit penalty); and a statement of reasons to whoever it affects."""
    if sanction.on_group:
        affected = await _on_group(ctx, uow, case, group, sanction)
    else:
        affected = [sanction.account_id] if sanction.account_id is not None else []
        if sanction.costs_credit and sanction.account_id is not None:
            delta = await _penalty(ctx, uow, sanction, conduct)
            await record_credit(
                ctx,
                uow,
                sanction.account_id,
                delta,
                CreditReason.sanction,
                article=sanction.article,
                source=f"sanction:{sanction.id}",
            )
            await uow.reports.update_sanction(sanction.id, credit_delta=delta)
            sanction = replace(sanction, credit_delta=delta)
    for account in affected:
        notify(uow, account, "statement_of_reasons", sanction_id=sanction.id, measure=sanction.kind)
    if sanction.kind == TAKEDOWN and case.target.seq is not None:
        await threads.withdraw(ctx, uow, group.id, case.target.seq)
        await take_down(ctx, uow, group.id, case.target.seq, sanction)
    for account in await bind_the_person(ctx, uow, sanction):
        notify(uow, account, "statement_of_reasons", sanction_id=sanction.id, measure=sanction.kind)
    return sanction


async def _penalty(
    ctx: ServiceContext, uow: UnitOfWork, sanction: Sanction, conduct: Rulebook
) -> int:
    """The conduct-time penalty; "lower credit level" as much more as it takes to pass
    the demotion line of the level the account holds now."""
    penalty = credit_penalty(sanction.kind, conduct.credit)
    if not sanction.lowers_level or sanction.account_id is None:
        return penalty
    state = await recompute_account(ctx, uow, sanction.account_id)
    scale = ctx.rulebooks.in_force(ctx.clock.now()).credit
    return one_level_down(penalty, state.score, state.level, scale)


async def _on_group(
    ctx: ServiceContext, uow: UnitOfWork, case: Case, group: Group, sanction: Sanction
) -> list[int]:
    """A group measure: closure closes it, the timeline shows it, a warning is notice to
    every manager (P7). Returns the managers, who receive the statement of reasons."""
    if sanction.closes_group:
        await uow.groups.update(group.id, state=GroupState.closed)
    await append_entry(
        ctx,
        uow,
        group.id,
        EntryKind.sanction_imposed,
        None,
        data={
            "sanction_id": sanction.id,
            "kind": sanction.kind,
            "article": sanction.article,
            "until": sanction.ends_at.isoformat() if sanction.ends_at else None,
        },
    )
    members = await uow.memberships.list_active(group.id, limit=10_000, offset=0)
    managers = [m.account_id for m in members if m.is_manager]
    if sanction.warns_managers:
        for manager in managers:
            await uow.owner.add_duty(
                group.id,
                DutyEvent(
                    sanction.starts_at,
                    DutyEventKind.notice_received,
                    manager,
                    seq=case.target.seq,
                    subject_id=case.target.account_id,
                    case_id=case.id,
                    note="platform warning",
                ),
            )
    return managers


async def _settle_reporters(
    ctx: ServiceContext, uow: UnitOfWork, case: Case, unfounded: bool, decided_by: int
) -> list[int]:
    """Tell every reporter the outcome, weigh their record, and impose the misuse
    measures the domain finds (``domain.reporters``); returns those measures' ids.

    Done for all the case's reporters at once (a few statements, not a few per reporter):
    a decision has a latency goal (docs/performance.md)."""
    now = ctx.clock.now()
    assert case.decision is not None
    reports = await uow.reports.reports_for_case(case)
    reporters = sorted({r.reporter_id for r in reports})
    records = await uow.reports.reporter_records(reporters)
    history: dict[int, list[UnfoundedReport]] = {}
    measures: dict[int, list[Sanction]] = {}
    if unfounded:
        await uow.reports.mark_unfounded([r.id for r in reports])
        since = misuse_lookback(reports, ctx.rulebooks, now)
        history = await uow.reports.unfounded_reports_since(reporters, since)
        measures = await uow.reports.misuse_measures(reporters)
    settled = settle_reporters(
        case,
        reports,
        case.decision,
        unfounded,
        records,
        history,
        measures,
        ctx.rulebooks,
        decided_by,
        now,
    )
    # Reporters' scores catch up when they look or at the daily recompute (add_credit_entry).
    await uow.credit.add_entries(settled.credit)
    await uow.reports.put_reporter_records(settled.records)
    stored = []
    for measure in settled.measures:
        sanction = await uow.reports.add_sanction(measure.sanction)
        stored.append(sanction.id)
        notify(
            uow,
            measure.notice.account_id,
            measure.notice.kind,
            sanction_id=sanction.id,
            **measure.notice.data,
        )
    for n in settled.notices:
        notify(uow, n.account_id, n.kind, **n.data)
    return stored


async def do_lift_sanction(
    ctx: ServiceContext, actor: Actor, sanction_id: int, reason: str
) -> Sanction:
    subject = f"sanction:{sanction_id}"
    async with audit.privileged(ctx, actor, SENIORS, AuditAction.sanction_lift, subject) as act:
        reason = check_lift_reason(reason)
        act.note(reason=reason)
        uow = act.uow
        sanction = await uow.reports.get_sanction(sanction_id)
        if sanction is None:
            raise NotFound("sanction_not_found", "No such sanction.")
        check_not_self(actor.id, sanction.account_id)
        group = await uow.groups.get(sanction.group_id) if sanction.group_id else None
        check_not_self(actor.id, group.owner_id if group is not None else None)
        case = await _load_case(uow, sanction.case_id)
        _, lifted = case.lift(sanction, ctx.clock.now())
        await end_sanction(ctx, uow, sanction, lifted.state, reverse_credit=False)
    return lifted


async def do_acknowledge_warning(ctx: ServiceContext, actor: Actor, sanction_id: int) -> Sanction:
    """The owner acknowledges a warning and undertakes to rectify: the banner comes down."""
    async with transaction(ctx) as uow:
        sanction = await uow.reports.get_sanction(sanction_id)
        if sanction is None or not sanction.warns_managers or sanction.group_id is None:
            raise NotFound("sanction_not_found", "No such warning.")
        group = await uow.groups.get(sanction.group_id)
        by_owner = group is not None and group.owner_id == actor.id
        acknowledged = sanction.acknowledged(by_owner, ctx.clock.now())
        await uow.reports.update_sanction(sanction_id, acknowledged_at=acknowledged.acknowledged_at)
        # Members see the banner come down: the owner has undertaken to rectify.
        await append_entry(
            ctx,
            uow,
            sanction.group_id,
            EntryKind.warning_acknowledged,
            actor.id,
            data={"sanction_id": sanction_id},
        )
    return acknowledged
