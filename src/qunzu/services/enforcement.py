"""Sanctions take effect on every path (posting, joining, creating, managing): this module
fetches the sanctions in force now and asks the domain rule
(``domain.sanctions.check_sanctions_allow``). Expiry needs no job: "in force" is
decided at the moment of the request."""

from __future__ import annotations

from qunzu.domain.models import GroupRole, Membership
from qunzu.domain.sanctions import (
    Sanction,
    SanctionedPath,
    check_sanctions_allow,
    check_tools_allowed,
)
from qunzu.services.context import ServiceContext
from qunzu.services.ports import UnitOfWork


async def in_force(
    ctx: ServiceContext, uow: UnitOfWork, group_id: int | None, account_id: int | None
) -> list[Sanction]:
    return await uow.reports.active_sanctions(ctx.clock.now(), group_id, account_id)


async def check_may_post(
    ctx: ServiceContext, uow: UnitOfWork, account_id: int, group_id: int, membership: Membership
) -> None:
    sanctions = await in_force(ctx, uow, group_id, account_id)
    if sanctions:
        manager = membership.role in (GroupRole.owner, GroupRole.admin)
        check_sanctions_allow(SanctionedPath.post, sanctions, account_id, group_id, manager)


async def check_may_join(ctx: ServiceContext, uow: UnitOfWork, account_id: int) -> None:
    check_sanctions_allow(
        SanctionedPath.join_group, await in_force(ctx, uow, None, account_id), account_id
    )


async def check_may_create(ctx: ServiceContext, uow: UnitOfWork, account_id: int) -> None:
    check_sanctions_allow(
        SanctionedPath.create_group, await in_force(ctx, uow, None, account_id), account_id
    )


async def check_may_manage(
    ctx: ServiceContext, uow: UnitOfWork, account_id: int, group_id: int
) -> None:
    """Owner and admin tools are refused while management rights are suspended (Art. 11),
    and, where the rulebook says so, while posting in the group is suspended."""
    suspend_tools = ctx.rulebooks.in_force(ctx.clock.now()).suspend_tools_under_posting_suspension
    sanctions = await in_force(ctx, uow, group_id if suspend_tools else None, account_id)
    check_sanctions_allow(SanctionedPath.manage, sanctions, account_id, group_id, True)
    check_tools_allowed(sanctions, group_id, suspend_tools)
