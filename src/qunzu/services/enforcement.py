"""Sanctions take effect through these checks on every path (posting, joining, creating,
managing). They read the sanctions in force at this moment; expiry needs no job."""

from __future__ import annotations

from qunzu.domain.errors import Forbidden
from qunzu.domain.models import GroupRole, Membership
from qunzu.domain.rulebook import SanctionTarget
from qunzu.domain.sanctions import Sanction
from qunzu.services.context import ServiceContext
from qunzu.services.ports import UnitOfWork


async def in_force(
    ctx: ServiceContext, uow: UnitOfWork, group_id: int | None, account_id: int | None
) -> list[Sanction]:
    return await uow.reports.active_sanctions(ctx.clock.now(), group_id, account_id)


def _blacklisted(sanctions: list[Sanction], account_id: int) -> Sanction | None:
    return next(
        (s for s in sanctions if s.kind == "blacklist" and s.account_id == account_id), None
    )


def _until(s: Sanction) -> str:
    return s.ends_at.isoformat() if s.ends_at else "until lifted"


async def check_may_post(
    ctx: ServiceContext, uow: UnitOfWork, account_id: int, group_id: int, membership: Membership
) -> None:
    sanctions = await in_force(ctx, uow, group_id, account_id)
    if not sanctions:
        return
    black = _blacklisted(sanctions, account_id)
    if black is not None:
        raise Forbidden(
            "blacklisted",
            f"Your account is blacklisted ({_until(black)}); see GET /v1/me/sanctions.",
            sanction_id=black.id,
        )
    # Only owner and admin notices may be posted while a group is suspended.
    if membership.role in (GroupRole.owner, GroupRole.admin):
        return
    for s in sanctions:
        if s.kind == "posting_suspension" and s.target is SanctionTarget.group:
            raise Forbidden(
                "posting_suspended",
                f"Posting in this group is suspended by the platform ({_until(s)}).",
                sanction_id=s.id,
            )


async def check_may_join(ctx: ServiceContext, uow: UnitOfWork, account_id: int) -> None:
    black = _blacklisted(await in_force(ctx, uow, None, account_id), account_id)
    if black is not None:
        raise Forbidden(
            "blacklisted", f"Your account is blacklisted ({_until(black)}).", sanction_id=black.id
        )


async def check_may_create(ctx: ServiceContext, uow: UnitOfWork, account_id: int) -> None:
    for s in await in_force(ctx, uow, None, account_id):
        if s.kind in ("blacklist", "revoke_group_creation"):
            raise Forbidden(
                "group_creation_revoked" if s.kind == "revoke_group_creation" else "blacklisted",
                f"You may not create groups ({s.kind.replace('_', ' ')}, {_until(s)}).",
                sanction_id=s.id,
            )


async def check_may_manage(
    ctx: ServiceContext, uow: UnitOfWork, account_id: int, group_id: int
) -> None:
    """Owner and admin tools are refused while management rights are suspended (Art. 11)."""
    for s in await in_force(ctx, uow, None, account_id):
        if s.kind == "blacklist" or (
            s.kind == "suspend_admin_rights" and s.group_id in (None, group_id)
        ):
            raise Forbidden(
                "management_suspended",
                f"Your management rights are suspended ({_until(s)}).",
                sanction_id=s.id,
            )
