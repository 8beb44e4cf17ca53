"""Liability assessment of a case (P7): the standing of the owner and each admin, computed
by the pure ``domain.duty.assess`` from the group's duty-of-care ledger."""

from __future__ import annotations

from datetime import timedelta

from qunzu.domain.credit import CreditReason
from qunzu.domain.duty import Assessment, Incident, Standing, acted_in_time, assess
from qunzu.domain.reports import Case
from qunzu.services.context import ServiceContext
from qunzu.services.ledgers import record_credit
from qunzu.services.ports import UnitOfWork


async def assess_case(ctx: ServiceContext, uow: UnitOfWork, case: Case) -> list[Assessment]:
    group_id = case.target.group_id
    book = ctx.rulebooks.in_force(ctx.clock.now())
    members = await uow.memberships.list_active(group_id, limit=10_000, offset=0)
    managers = [m.account_id for m in members if m.is_manager]
    ledger = await uow.owner.duty_events(group_id)
    incident = Incident(group_id, case.conduct_at, case.target.account_id, case.target.seq, case.id)
    window = timedelta(hours=book.owner_response_hours)
    return [assess(a, incident, ledger, window, ctx.clock.now()) for a in managers]


async def credit_managers(ctx: ServiceContext, uow: UnitOfWork, case: Case) -> list[Assessment]:
    """After an upheld violation: + for acting in time, − for liability. Sanctions on the
    owner remain a reviewer's separate decision."""
    inputs = ctx.rulebooks.in_force(ctx.clock.now()).credit.inputs
    assessments = await assess_case(ctx, uow, case)
    for a in assessments:
        if acted_in_time(a):
            await record_credit(
                ctx,
                uow,
                a.account_id,
                inputs.owner_acted_in_time,
                CreditReason.owner_acted_in_time,
                article="art-9",
                source=f"case:{case.id}",
            )
        elif a.standing in (Standing.liable_inaction, Standing.liable_participation):
            await record_credit(
                ctx,
                uow,
                a.account_id,
                inputs.owner_liable,
                CreditReason.owner_liable,
                article="art-9",
                source=f"case:{case.id}",
            )
    return assessments
