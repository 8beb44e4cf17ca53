"""Deleting one's own account (注销; PIPL article 47).

At once: the profile goes (the display name becomes "已注销用户 / deleted account"), every
session ends, every membership is left, and the handle stays reserved (the row stays, so
nobody takes the name and the group histories stay attributable). The person's messages
stay in their groups under that name, unless they chose to remove them too; copies a case
already holds stay with the case. The identity stays until its retention period ends and
no legal hold covers it (services.retention), so a sanction in force, which binds the
identity, is not escaped by deleting: the identity cannot verify another account meanwhile.
"""

from __future__ import annotations

from dataclasses import replace

from qunzu.domain.errors import Conflict, Forbidden
from qunzu.domain.models import EntryKind, GroupRole, Membership, MembershipState
from qunzu.services import governance
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.credentials import verify_password
from qunzu.services.ports import UnitOfWork
from qunzu.services.threads import withdraw
from qunzu.services.timeline import append_entry

DELETED_NAME = "已注销用户 / deleted account"
PAGE = 500


async def do_delete_account(
    ctx: ServiceContext, actor: Actor, password: str, remove_messages: bool
) -> None:
    """Delete the caller's account (their password confirms it)."""
    stored = await _password_hash(ctx, actor.id)
    if not await verify_password(ctx, stored, password):
        raise Forbidden("password_mismatch", "The password does not match.")
    now = ctx.clock.now()
    async with transaction(ctx) as uow:
        memberships = await uow.memberships.for_account(actor.id)
        owned = sorted(g.id for m, g in memberships if m.role is GroupRole.owner)
        if owned:
            raise Conflict(
                "owner_must_transfer",
                f"You own {len(owned)} group(s): transfer or dissolve them before deleting "
                "your account.",
                group_id=owned[0],
                groups=len(owned),
            )
        for member, _ in memberships:
            await _leave(ctx, uow, member)
        if remove_messages:
            for member, _ in await uow.memberships.for_account(actor.id, active_only=False):
                await _remove_own_messages(ctx, uow, member)
        for token in await uow.tokens.list_for(actor.id):
            if token.revoked_at is None:
                await uow.tokens.revoke(token.id, now)
        await uow.accounts.update(actor.id, display_name=DELETED_NAME, disabled=True)
        await uow.accounts.mark_deleted(actor.id, now, remove_messages)


async def _password_hash(ctx: ServiceContext, account_id: int) -> str:
    async with transaction(ctx, write=False) as uow:
        return await uow.accounts.password_hash(account_id)


async def _leave(ctx: ServiceContext, uow: UnitOfWork, member: Membership) -> None:
    data: dict[str, object] = {"account_id": member.account_id, "by": member.account_id}
    entry = await append_entry(
        ctx, uow, member.group_id, EntryKind.member_left, member.account_id, data=data
    )
    left = replace(member, state=MembershipState.left, left_seq=entry.seq, role=GroupRole.member)
    await uow.memberships.put(left)
    await uow.groups.add_member_count(member.group_id, -1)
    await governance.refresh_tier(ctx, uow, member.group_id)


async def _remove_own_messages(ctx: ServiceContext, uow: UnitOfWork, member: Membership) -> None:
    """The person's messages within this membership, their text removed (their place kept)."""
    after, upto = member.joined_seq, member.left_seq
    while page := await uow.timeline.after(member.group_id, after, PAGE, upto):
        after = page[-1].seq
        for e in page:
            if e.kind is EntryKind.message and e.sender_id == member.account_id and e.body:
                removed = {"by": member.account_id, "reason": "account deleted"}
                await withdraw(ctx, uow, member.group_id, e.seq)
                await uow.timeline.redact(member.group_id, e.seq, {**e.data, "removed": removed})
