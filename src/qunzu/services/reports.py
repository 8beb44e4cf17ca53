"""Filing reports (举报, Art. 12) and routing them: owner first, platform when needed (P8).

A report preserves its evidence: a copy of the reported messages and, outside the
private tier, the messages just before them, kept even if the originals go.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from qunzu.domain import permissions as perm
from qunzu.domain.duty import DutyEvent, DutyEventKind
from qunzu.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from qunzu.domain.models import EntryKind, Group, GroupRole, Membership
from qunzu.domain.permissions import visible_window
from qunzu.domain.quotas import check_quota
from qunzu.domain.reports import (
    CONTEXT_WINDOW,
    MAX_EXTRA_MESSAGES,
    Case,
    CaseStatus,
    EvidenceItem,
    Report,
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
from qunzu.domain.rulebook import Tier
from qunzu.services import governance
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.ledgers import current_level, record_duty
from qunzu.services.owner_handled import note_owner_action
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
    if escalate_to not in (None, "platform", "authorities"):
        raise InvalidInput("invalid_escalation", "Report up to the platform or the authorities.")
    statement = check_statement(statement)
    if len(extra_seqs) > MAX_EXTRA_MESSAGES:
        raise InvalidInput(
            "too_many_messages", f"Attach at most {MAX_EXTRA_MESSAGES} further messages."
        )
    now = ctx.clock.now()
    book = ctx.rulebooks.in_force(now)
    cat = category_of(book, category)
    async with transaction(ctx) as uow:
        record = await uow.reports.reporter_record(actor.id)
        if record.reporting_suspended_until and record.reporting_suspended_until > now:
            raise Forbidden(
                "reporting_suspended",
                "Your reporting is suspended after repeated manifestly unfounded reports "
                f"(until {record.reporting_suspended_until.isoformat()}).",
            )
        level = await current_level(ctx, uow, actor.id)
        used = await uow.reports.count_reports_since(actor.id, now - timedelta(days=1))
        quota = book.credit.level(level).quotas.reports_per_day
        check_quota("reports_per_day", used, quota, level, book.credit)

        group = await uow.groups.get(group_id)
        membership = await uow.memberships.get(group_id, actor.id) if group else None
        if group is None:
            raise NotFound("group_not_found", "No such group.")
        tier = await _tier(ctx, uow, group)
        is_member = membership is not None and membership.is_active
        # Anyone may report a public group; everything else is for its members.
        if not is_member and not (kind is TargetKind.group and tier is Tier.public):
            if membership is None and not group.discoverable:
                raise NotFound("group_not_found", "No such group.")
            raise Forbidden("not_a_member", "Only members can report what happens in a group.")

        target, conduct_at, reported = await _resolve_target(
            uow, group, membership, kind, seq, account_id, extra_seqs, now
        )
        if await uow.reports.report_by(actor.id, target.key) is not None:
            raise Conflict(
                "duplicate_report", "You already reported this; you will hear the outcome."
            )
        target_is_manager = await _is_manager(uow, group, target)
        # A direct chat has no owner or admin to hear first: the platform hears at once (P8).
        route = Route.platform if group.is_direct else route_for(cat, tier, target_is_manager)
        if escalate_to is not None:
            if membership is None or not membership.is_manager:
                raise Forbidden("not_permitted", "Only the owner or an admin reports up.")
            route = Route.platform
        window = now - timedelta(days=book.reporting.unfounded_window_days)
        recent = await uow.reports.count_unfounded_since(actor.id, window)
        weight = reporter_weight(level, replace(record, recent_unfounded=recent))

        case = await uow.reports.open_case_for(target.key)
        if case is None:
            visible = (
                now if route is Route.platform else now + timedelta(hours=book.owner_response_hours)
            )
            case = await uow.reports.add_case(
                Case(
                    id=0,
                    target=target,
                    category=cat.id,
                    severity=cat.severity,
                    tier=tier.value,
                    route=route,
                    status=CaseStatus.open,
                    created_at=now,
                    deadline_at=deadline(visible, cat),
                    platform_visible_at=visible,
                    conduct_at=conduct_at,
                    priority=priority(cat.severity, [weight]),
                    reporters=1,
                )
            )
            if route is Route.owner:
                await _notify_managers(uow, group, case)
        else:
            weights = [r.reporter_weight for r in await uow.reports.reports_for_case(case)]
            changes: dict[str, object] = {
                "reporters": case.reporters + 1,
                "priority": priority(
                    "severe" if "severe" in (case.severity, cat.severity) else "normal",
                    [*weights, weight],
                ),
            }
            if cat.severity == "severe" and case.severity != "severe":
                changes.update(severity="severe", category=cat.id)
            if route is Route.platform and case.route is Route.owner:
                # A severe report (or one about a manager) does not wait for the owner.
                changes.update(
                    route=Route.platform,
                    platform_visible_at=now,
                    deadline_at=min(case.deadline_at, deadline(now, cat)),
                )
            await uow.reports.update_case(case.id, **changes)
            case = await uow.reports.get_case(case.id)
            assert case is not None

        report = await uow.reports.add_report(
            Report(
                id=0,
                case_id=case.id,
                reporter_id=actor.id,
                target=target,
                category=cat.id,
                statement=statement,
                extra_seqs=tuple(extra_seqs),
                created_at=now,
                reporter_weight=weight,
            )
        )
        context = []
        if reported and perm.platform_may(perm.PlatformAction.read_report_context, tier):
            first_seq = min(e.seq for e in reported)
            assert membership is not None or kind is TargetKind.group
            floor = membership.joined_seq if membership is not None else 1
            start = max(floor - 1, first_seq - CONTEXT_WINDOW - 1)
            context = [
                EvidenceItem(e.seq, e.sender_id, e.body, e.created_at, e.kind.value, False)
                for e in await uow.timeline.after(
                    group_id, start, CONTEXT_WINDOW, upto=first_seq - 1
                )
            ]
        await uow.reports.add_evidence(case.id, [*context, *reported])
        if escalate_to is not None:
            duty_kind = (
                DutyEventKind.referred
                if escalate_to == "authorities"
                else DutyEventKind.reported_up
            )
            # Reporting up is a management act: the ledger and the managers' activity.
            await record_duty(
                ctx,
                uow,
                group_id,
                duty_kind,
                actor.id,
                seq=target.seq,
                subject_id=target.account_id,
                case_id=case.id,
                note=statement[:200],
            )
            if target.account_id is not None:
                await note_owner_action(
                    ctx, uow, group_id, target.account_id, f"reported it to the {escalate_to}"
                )
    return Receipt(report, case)


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
    reported: list[EvidenceItem] = []
    seqs: list[int] = []
    if kind is TargetKind.message:
        if seq is None:
            raise InvalidInput("seq_required", "Name the message by its seq.")
        seqs.append(seq)
    seqs.extend(s for s in extra_seqs if s not in seqs)
    for s in seqs:
        entry = await uow.timeline.get(group.id, s)
        window = visible_window(membership, group) if membership is not None else (1, 0)
        visible = entry is not None and window[0] <= s <= window[1]
        if entry is None or not visible or entry.kind is not EntryKind.message:
            raise NotFound("message_not_found", f"No message {s} that you can see in this group.")
        reported.append(
            EvidenceItem(entry.seq, entry.sender_id, entry.body, entry.created_at, "message", True)
        )
    if kind is TargetKind.message:
        first = reported[0]
        if first.sender_id is None:
            raise InvalidInput("not_reportable", "Only messages people sent can be reported.")
        return Target(kind, group.id, seq, first.sender_id), first.created_at, reported
    if kind is TargetKind.member:
        if account_id is None:
            raise InvalidInput("account_required", "Name the member by account_id.")
        member = await uow.memberships.get(group.id, account_id)
        if member is None:
            raise NotFound("member_not_found", "That account is not in this group.")
        return Target(kind, group.id, None, account_id), _conduct_at(reported, now), reported
    return Target(TargetKind.group, group.id), _conduct_at(reported, now), reported


def _conduct_at(reported: list[EvidenceItem], now: datetime) -> datetime:
    """A member or group report is judged at its earliest attached message, or now (P3)."""
    return min((e.created_at for e in reported), default=now)


async def _is_manager(uow: UnitOfWork, group: Group, target: Target) -> bool:
    if target.kind is TargetKind.group:
        return False
    if target.account_id is None:
        return False
    if group.owner_id == target.account_id:
        return True
    member = await uow.memberships.get(group.id, target.account_id)
    return member is not None and member.is_active and member.role is GroupRole.admin


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
        managed = [
            m.group_id for m, _ in await uow.memberships.for_account(actor.id) if m.is_manager
        ]
        out = []
        for case in await uow.reports.owner_cases(managed):
            evidence = await uow.reports.evidence(case.id)
            reported = next((e for e in evidence if e.reported), None)
            out.append(
                OwnerNotice(case, case.reporters, case.platform_visible_at.isoformat(), reported)
            )
    return out
