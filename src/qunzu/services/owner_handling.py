"""Managers' acts on their group (P7, P8): the duty-of-care ledger line, and the
owner-routed cases the act handles.

An act handles exactly the cases whose target it deals with (``Case.addressed_by``): a
removed message handles the report of that message, a muted or removed member the
reports of that member and of their messages, mute all the reports of the group. Those
cases close as ``handled_by_owner`` and their reporters are told how; every other case
stays with the owner until the window ends and then goes to the platform queue. The
ledger records which case each act handled, and how.

Part of the services' bottom layer: the owner tools and membership both call it.
"""

from __future__ import annotations

from qunzu.domain.cases import OwnerAct, handled_by
from qunzu.domain.reports import CaseStatus
from qunzu.services.context import ServiceContext
from qunzu.services.ledgers import record_duty
from qunzu.services.ports import UnitOfWork
from qunzu.services.timeline import notify


async def record_owner_act(
    ctx: ServiceContext, uow: UnitOfWork, act: OwnerAct, actor_id: int, note: str
) -> list[int]:
    """Write the act to the duty-of-care ledger and close the cases it handles; returns
    their ids."""
    now = ctx.clock.now()
    handled: list[int] = []
    for step in handled_by(act, await uow.reports.owner_cases([act.group_id]), now):
        case = await uow.reports.save_case(step.case)
        handled.append(case.id)
        for report in await uow.reports.reports_for_case(case):
            notify(
                uow,
                report.reporter_id,
                "report_outcome",
                report_id=report.id,
                case_id=case.id,
                outcome=CaseStatus.handled_by_owner.value,
                action=act.description,
            )
    # One line per case handled (the ledger names it), or one line for an act that
    # handled none.
    lines: list[int | None] = [*handled] or [None]
    for case_id in lines:
        await record_duty(
            ctx,
            uow,
            act.group_id,
            act.kind,
            actor_id,
            seq=act.seq,
            subject_id=act.account_id,
            case_id=case_id,
            note=note,
        )
    return handled
