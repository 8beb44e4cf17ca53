"""Loading a group as the actor may see it, and the rights a manager holds in it.

Part of the services' bottom layer (docs/architecture.md).
"""

from __future__ import annotations

import secrets

from qunzu.domain import permissions as perm
from qunzu.domain.errors import Conflict
from qunzu.domain.models import Group, GroupRole, Membership
from qunzu.domain.owner_tools import (
    ALL_RIGHTS,
    OWNER_GRANTS_ONLY,
    AdminRight,
    check_right,
    rights_of,
)
from qunzu.services import enforcement
from qunzu.services.context import ServiceContext
from qunzu.services.ports import UnitOfWork

# What an admin made with the plain role endpoint may do: everything but appoint others
# and the rights only the owner grants by name.
DEFAULT_ADMIN_RIGHTS = ALL_RIGHTS - {AdminRight.appoint_admins, *OWNER_GRANTS_ONLY}


async def new_group_number(uow: UnitOfWork) -> int:
    for _ in range(20):
        number = 100_000_000 + secrets.randbelow(900_000_000)
        if not await uow.groups.number_taken(number):
            return number
    raise Conflict("number_exhausted", "Could not allocate a group number; try again.")


async def load_group(
    uow: UnitOfWork, actor_id: int, group_id: int
) -> tuple[Group, Membership | None]:
    group = await uow.groups.get(group_id)
    membership = await uow.memberships.get(group_id, actor_id) if group else None
    return perm.check_visible(group, membership), membership


async def held_rights(uow: UnitOfWork, membership: Membership | None) -> frozenset[AdminRight]:
    if membership is None or membership.role is not GroupRole.admin:
        return rights_of(membership)
    return rights_of(
        membership, await uow.owner.get_rights(membership.group_id, membership.account_id)
    )


async def require_right(
    ctx: ServiceContext,
    uow: UnitOfWork,
    group: Group,
    membership: Membership | None,
    right: AdminRight,
) -> Membership:
    """A manager with this right, whose management rights are not suspended."""
    member = perm.check_member(group, membership)
    check_right(await held_rights(uow, member), right)
    await enforcement.check_may_manage(ctx, uow, member.account_id, group.id)
    return member


async def grant_default_rights(
    ctx: ServiceContext, uow: UnitOfWork, group_id: int, account_id: int, by: int
) -> None:
    await uow.owner.put_rights(
        group_id, account_id, [r.value for r in DEFAULT_ADMIN_RIGHTS], by, ctx.clock.now()
    )
