"""A manager acted on a reported member in time: the owner-routed cases close (P7, P8).

Its own module because both the owner tools and the reports services call it, and
reports already imports the owner tools (a cycle otherwise).
"""

from __future__ import annotations

from qunzu.domain.reports import CaseStatus
from qunzu.services.context import ServiceContext
from qunzu.services.ports import UnitOfWork
from qunzu.services.timeline import notify


async def note_owner_action(
    ctx: ServiceContext, uow: UnitOfWork, group_id: int, account_id: int, action: str
) -> None:
    """An owner or admin acted on a reported member in time: owner-routed cases about them
    close as handled by the owner, and the reporters are told (P7, P8)."""
    now = ctx.clock.now()
    for case in await uow.reports.owner_cases([group_id]):
        if case.target.account_id != account_id or case.platform_visible_at <= now:
            continue  # not about them, or the window already passed: the platform has it
        await uow.reports.update_case(
            case.id,
            status=CaseStatus.handled_by_owner,
            decided_at=now,
            decision_note=f"handled by the group's managers: {action}",
        )
        for report in await uow.reports.reports_for_case(case):
            notify(
                uow,
                report.reporter_id,
                "report_outcome",
                report_id=report.id,
                case_id=case.id,
                outcome=CaseStatus.handled_by_owner.value,
            )
