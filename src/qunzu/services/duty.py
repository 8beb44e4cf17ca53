"""Liability assessment of a case (P7): the standing of the owner and each admin, computed
by the pure ``domain.duty.assess`` from the group's duty-of-care ledger.

The response window is procedure: the one the managers were given when the report
reached them (the version in force when the case opened). The credit a standing brings
is a consequence of the decision: the version in force when the conduct happened (P3).
"""

from __future__ import annotations

from datetime import timedelta

from qunzu.domain.cases import Case
from qunzu.domain.duty import Assessment, Incident, assess, manager_credit
from qunzu.domain.rulebook import Rulebook
from qunzu.services.context import ServiceContext
from qunzu.services.ledgers import record_credit
from qunzu.services.ports import UnitOfWork


async def assess_case(ctx: ServiceContext, uow: UnitOfWork, case: Case) -> list[Assessment]:
    group_id = case.target.group_id
    book = ctx.rulebooks.in_force(case.created_at)
    members = await uow.memberships.list_active(group_id, limit=10_000, offset=0)
    managers = [m.account_id for m in members if m.is_manager]
    ledger = await uow.owner.duty_events(group_id)
    incident = Incident(group_id, case.conduct_at, case.target.account_id, case.target.seq, case.id)
    window = timedelta(hours=book.owner_response_hours)
    return [assess(a, incident, ledger, window, ctx.clock.now()) for a in managers]


async def credit_managers(
    ctx: ServiceContext, uow: UnitOfWork, case: Case, conduct: Rulebook
) -> list[Assessment]:
    """After an upheld violation: + for acting in time, − for liability, by the version
    in force when the conduct happened. Sanctions on the owner remain a reviewer's
    separate decision."""
    assessments = await assess_case(ctx, uow, case)
    for a in assessments:
        credit = manager_credit(a, conduct.credit.inputs)
        if credit is not None:
            await record_credit(
                ctx, uow, a.account_id, *credit, article="art-9", source=f"case:{case.id}"
            )
    return assessments
