"""Statements of reasons and appeals (DSA Arts. 17, 20; P3, P4).

The affected user may appeal each sanction once within the rulebook's window; a
different, senior reviewer decides. Overturning lifts the sanction and reverses
its credit entry. A reporter may ask once for review of a ``no_violation``.
The measures against misuse of reporting are sanctions too, appealed the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from qunzu.domain.audit import AuditAction, check_not_self
from qunzu.domain.cases import Case, check_disinterested
from qunzu.domain.errors import InvalidInput, NotFound
from qunzu.domain.rulebook import Article
from qunzu.domain.sanctions import (
    Appeal,
    AppealKind,
    AppealState,
    Sanction,
)
from qunzu.services import audit
from qunzu.services.actor import REVIEWERS, SENIORS, Actor
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.enforcement import end_sanction
from qunzu.services.ports import UnitOfWork
from qunzu.services.timeline import notify


@dataclass(frozen=True, slots=True)
class StatementOfReasons:
    """What every sanctioned user and group is told (DSA Art. 17)."""

    sanction: Sanction
    article: Article | None
    measure_zh: str
    measure_en: str
    evidence_seqs: list[int]
    decided_by_role: str
    appeal: Appeal | None
    in_force: bool


async def _affects(uow: UnitOfWork, sanction: Sanction, account_id: int) -> bool:
    group = await uow.groups.get(sanction.group_id) if sanction.group_id is not None else None
    return sanction.affects(account_id, group.owner_id if group is not None else None)


async def statement_of_reasons(
    ctx: ServiceContext, actor: Actor, sanction_id: int
) -> StatementOfReasons:
    async with transaction(ctx, write=False) as uow:
        sanction = await uow.reports.get_sanction(sanction_id)
        if sanction is None:
            raise NotFound("sanction_not_found", "No such sanction.")
        is_staff = actor.account.platform_role in REVIEWERS
        visible = is_staff or await _affects(uow, sanction, actor.id)
        if not visible and sanction.group_id is not None:
            member = await uow.memberships.get(sanction.group_id, actor.id)
            visible = member is not None and member.is_manager
        if not visible:
            raise NotFound("sanction_not_found", "No such sanction.")
        # A misuse measure's facts name the reports; the case's messages are not its evidence.
        evidence = (
            []
            if sanction.is_misuse_measure
            else [e.seq for e in await uow.reports.evidence(sanction.case_id) if e.reported]
        )
        appeal = await uow.reports.find_appeal(
            AppealKind.sanction, sanction.case_id, None, sanction.id
        )
    version_book = next(
        (b for b in ctx.rulebooks.versions if b.version == sanction.rulebook_version),
        ctx.rulebooks.latest,
    )
    kind = version_book.sanctions.get(sanction.kind)
    return StatementOfReasons(
        sanction=sanction,
        article=version_book.articles.get(sanction.article),
        measure_zh=kind.title.zh if kind else sanction.kind,
        measure_en=kind.title.en if kind else sanction.kind,
        evidence_seqs=evidence,
        decided_by_role=sanction.decided_by_role,
        appeal=appeal,
        in_force=sanction.in_force(ctx.clock.now()),
    )


async def list_my_sanctions(ctx: ServiceContext, actor: Actor) -> list[Sanction]:
    """Sanctions on the actor's account and on the groups they own."""
    async with transaction(ctx, write=False) as uow:
        owned = [
            g.id for m, g in await uow.memberships.for_account(actor.id) if g.owner_id == actor.id
        ]
        return await uow.reports.sanctions_affecting(actor.id, owned)


def _statement(text: str) -> str:
    text = text.strip()
    if not 1 <= len(text) <= 2000:
        raise InvalidInput("statement_required", "Say why, in 1 to 2,000 characters.")
    return text


async def _load_case(uow: UnitOfWork, case_id: int) -> Case:
    case = await uow.reports.get_case(case_id)
    if case is None:
        raise NotFound("case_not_found", "No such case.")
    return case


async def do_appeal_sanction(
    ctx: ServiceContext, actor: Actor, sanction_id: int, statement: str
) -> Appeal:
    text = _statement(statement)
    now = ctx.clock.now()
    async with transaction(ctx) as uow:
        sanction = await uow.reports.get_sanction(sanction_id)
        if sanction is None or not await _affects(uow, sanction, actor.id):
            raise NotFound("sanction_not_found", "No such sanction affecting you.")
        existing = await uow.reports.find_appeal(
            AppealKind.sanction, sanction.case_id, None, sanction.id
        )
        case = await _load_case(uow, sanction.case_id)
        case.appeal(sanction, existing is not None, now)
        return await uow.reports.add_appeal(
            Appeal(
                0,
                AppealKind.sanction,
                sanction.id,
                case.id,
                actor.id,
                text,
                now,
                AppealState.pending,
            )
        )


async def do_request_review(
    ctx: ServiceContext, actor: Actor, case_id: int, statement: str
) -> Appeal:
    """A reporter asks once for review of a no_violation decision, within the appeal
    window of the version in force when it was decided (procedure)."""
    text = _statement(statement)
    now = ctx.clock.now()
    async with transaction(ctx) as uow:
        case = await uow.reports.get_case(case_id)
        reports = await uow.reports.reports_for_case(case) if case else []
        if case is None or all(r.reporter_id != actor.id for r in reports):
            raise NotFound("case_not_found", "No such case among your reports.")
        existing = await uow.reports.find_appeal(
            AppealKind.reporter_review, case_id, actor.id, None
        )
        window = ctx.rulebooks.in_force(case.decided_at or now).appeal_window_days
        case.request_review(actor.id, existing is not None, window, now)
        return await uow.reports.add_appeal(
            Appeal(
                0,
                AppealKind.reporter_review,
                None,
                case_id,
                actor.id,
                text,
                now,
                AppealState.pending,
            )
        )


async def list_pending_appeals(ctx: ServiceContext, actor: Actor, limit: int = 100) -> list[Appeal]:
    async with audit.privileged(
        ctx, actor, SENIORS, AuditAction.appeal_queue, "appeals", write=False
    ) as act:
        pending = await act.uow.reports.pending_appeals(limit)
        act.note(shown=len(pending))
    return pending


async def do_decide_appeal(
    ctx: ServiceContext, actor: Actor, appeal_id: int, overturn: bool, note: str = ""
) -> Appeal:
    """A senior reviewer other than the original decider upholds or overturns.
    Overturning ends the sanction and reverses its credit, or reopens a no_violation."""
    now = ctx.clock.now()
    subject = f"appeal:{appeal_id}"
    async with audit.privileged(ctx, actor, SENIORS, AuditAction.appeal_decide, subject) as act:
        uow = act.uow
        appeal = await uow.reports.get_appeal(appeal_id)
        if appeal is None:
            raise NotFound("appeal_not_found", "No such appeal.")
        check_not_self(actor.id, appeal.appellant_id)
        case = await _load_case(uow, appeal.case_id)
        group = await uow.groups.get(case.target.group_id)
        check_disinterested(case, actor.id, group.owner_id if group is not None else None)
        sanction = (
            await uow.reports.get_sanction(appeal.sanction_id) if appeal.sanction_id else None
        )
        check_not_self(actor.id, sanction.account_id if sanction is not None else None)
        procedure = ctx.rulebooks.in_force(now)
        outcome = case.decide_appeal(appeal, sanction, actor.id, overturn, note, procedure, now)
        if outcome.ended is not None and sanction is not None:
            await end_sanction(ctx, uow, sanction, outcome.ended.state, reverse_credit=True)
        if outcome.reopened:
            await _reopen(uow, outcome.step.case)
        decided = outcome.appeal
        await uow.reports.update_appeal(
            appeal_id,
            state=decided.state,
            decided_by=decided.decided_by,
            decided_at=decided.decided_at,
            note=decided.note,
        )
        outcome_value = decided.state.value
        act.note(outcome=outcome_value, note=note[:500])
        notify(
            uow, appeal.appellant_id, "appeal_decided", appeal_id=appeal_id, outcome=outcome_value
        )
    return decided


async def _reopen(uow: UnitOfWork, case: Case) -> None:
    """The no_violation no longer stands: the case is back in the queue, and its reports
    no longer count as manifestly unfounded."""
    await uow.reports.save_case(case)
    await uow.reports.mark_unfounded(
        [r.id for r in await uow.reports.reports_for_case(case)], unfounded=False
    )
