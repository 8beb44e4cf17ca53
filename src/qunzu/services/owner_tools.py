"""Owner and admin tools (Art. 9; P7) and the duty-of-care ledger they write.

Every management act is recorded in the group's append-only duty-of-care ledger
with its time, beside the notices the managers received: that ledger is what a
liability assessment reads (domain/duty.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from qunzu.domain import permissions as perm
from qunzu.domain.cases import OwnerAct
from qunzu.domain.duty import DutyEvent, DutyEventKind
from qunzu.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from qunzu.domain.models import EntryKind, Group, GroupRole
from qunzu.domain.owner_tools import (
    AdminRight,
    GroupControls,
    check_change_rights,
    check_grant,
    check_manager_may_read,
    check_may_remove_message_of,
    check_mute_minutes,
    check_slow_mode,
    parse_rights,
)
from qunzu.domain.text import TextKind, text_problem
from qunzu.services import enforcement, threads
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.group_access import held_rights, load_group, require_right
from qunzu.services.ledgers import record_duty
from qunzu.services.owner_handling import record_owner_act
from qunzu.services.timeline import append_entry, notify


def _reason(text: str) -> str:
    text = text.strip()
    if len(text) > 500 or text_problem(text) is not None:
        raise InvalidInput("invalid_reason", "A reason is at most 500 characters of text.")
    return text


# ---- admins -------------------------------------------------------------------------------


async def do_appoint_admin(
    ctx: ServiceContext, actor: Actor, group_id: int, account_id: int, rights: list[str]
) -> frozenset[AdminRight]:
    """Appoint an admin (or change their rights). One grants only rights one holds."""
    requested = parse_rights(rights)
    async with transaction(ctx) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        me = perm.check_member(group, membership)
        perm.check_active(group)
        held = await held_rights(uow, me)
        check_grant(held, requested, by_owner=True)  # owner-only rights: once the target is known
        await enforcement.check_may_manage(ctx, uow, actor.id, group_id)
        target = await uow.memberships.get(group_id, account_id)
        if target is None or not target.is_active:
            raise NotFound("member_not_found", "That account is not a member of this group.")
        if target.role is GroupRole.owner or account_id == actor.id:
            raise Forbidden(
                "not_permitted", "The owner's rights and your own are not yours to set."
            )
        by_owner = me.role is GroupRole.owner
        check_change_rights(held, await held_rights(uow, target), requested, by_owner)
        if target.role is not GroupRole.admin:
            await uow.memberships.put(replace(target, role=GroupRole.admin))
        await uow.owner.put_rights(
            group_id, account_id, [r.value for r in requested], actor.id, ctx.clock.now()
        )
        await append_entry(
            ctx,
            uow,
            group_id,
            EntryKind.role_changed,
            actor.id,
            data={
                "account_id": account_id,
                "role": "admin",
                "rights": sorted(r.value for r in requested),
            },
        )
    return requested


# ---- messages and members -----------------------------------------------------------------


async def do_remove_message(
    ctx: ServiceContext, actor: Actor, group_id: int, seq: int, reason: str
) -> None:
    """Remove a message (its sender is told why). Reported copies stay with their case."""
    reason = _reason(reason)
    async with transaction(ctx) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        me = await require_right(ctx, uow, group, membership, AdminRight.remove_messages)
        entry = await uow.timeline.get(group_id, seq)
        if entry is None or entry.kind is not EntryKind.message:
            raise NotFound("message_not_found", "No such message in this group.")
        # The window first: a message one may not read tells nothing of its sender.
        check_manager_may_read(me, await held_rights(uow, me), seq)
        sender = await uow.memberships.get(group_id, entry.sender_id) if entry.sender_id else None
        check_may_remove_message_of(me.role, actor.id, perm.role_of(sender), entry.sender_id)
        if entry.body is None:
            raise Conflict("message_already_removed", "This message was already removed.")
        # Before the text goes: the SQLite index deletes by the message's own tokens.
        await threads.withdraw(ctx, uow, group_id, seq)
        await uow.timeline.redact(
            group_id, seq, {**entry.data, "removed": {"by": actor.id, "reason": reason}}
        )
        await append_entry(
            ctx,
            uow,
            group_id,
            EntryKind.message_removed,
            actor.id,
            data={"seq": seq, "reason": reason},
        )
        if entry.sender_id is not None and entry.sender_id != actor.id:
            notify(
                uow, entry.sender_id, "message_removed", group_id=group_id, seq=seq, reason=reason
            )
        act = OwnerAct(DutyEventKind.message_removed, group_id, seq, entry.sender_id)
        await record_owner_act(ctx, uow, act, actor.id, reason)


async def do_mute_member(
    ctx: ServiceContext, actor: Actor, group_id: int, account_id: int, minutes: int, reason: str
) -> datetime:
    period = check_mute_minutes(minutes)
    reason = _reason(reason)
    async with transaction(ctx) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        me = await require_right(ctx, uow, group, membership, AdminRight.mute)
        target = await uow.memberships.get(group_id, account_id)
        if target is None or not target.is_active:
            raise NotFound("member_not_found", "That account is not a member of this group.")
        if target.role is GroupRole.owner or (
            target.role is GroupRole.admin and me.role is not GroupRole.owner
        ):
            raise Forbidden(
                "not_permitted", "Only the owner mutes an admin; no one mutes the owner."
            )
        until = ctx.clock.now() + period
        await uow.owner.put_mute(group_id, account_id, until, reason, actor.id, ctx.clock.now())
        await append_entry(
            ctx,
            uow,
            group_id,
            EntryKind.member_muted,
            actor.id,
            data={"account_id": account_id, "until": until.isoformat(), "reason": reason},
        )
        act = OwnerAct(DutyEventKind.member_muted, group_id, account_id=account_id)
        await record_owner_act(ctx, uow, act, actor.id, reason)
    return until


async def do_unmute_member(
    ctx: ServiceContext, actor: Actor, group_id: int, account_id: int
) -> None:
    async with transaction(ctx) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        await require_right(ctx, uow, group, membership, AdminRight.mute)
        if await uow.owner.get_mute(group_id, account_id) is None:
            raise NotFound("not_muted", "That member is not muted.")
        await uow.owner.delete_mute(group_id, account_id)
        await append_entry(
            ctx, uow, group_id, EntryKind.member_unmuted, actor.id, data={"account_id": account_id}
        )


async def _set_controls(
    ctx: ServiceContext,
    actor: Actor,
    group_id: int,
    right: AdminRight,
    act: OwnerAct | None = None,
    **changes: object,
) -> GroupControls:
    async with transaction(ctx) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        await require_right(ctx, uow, group, membership, right)
        perm.check_active(group)
        controls = replace(await uow.owner.get_controls(group_id), **changes)  # type: ignore[arg-type]
        await uow.owner.put_controls(controls)
        kind = EntryKind.notice_pinned if "notice_text" in changes else EntryKind.controls_changed
        data = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in changes.items()}
        await append_entry(ctx, uow, group_id, kind, actor.id, data=data)
        if act is not None:
            await record_owner_act(ctx, uow, act, actor.id, "mute all")
    return controls


async def do_set_mute_all(
    ctx: ServiceContext, actor: Actor, group_id: int, on: bool
) -> GroupControls:
    """Mute all (全员禁言): only the owner and admins may post. Switching it on is a
    management act in the ledger, and handles the owner-routed reports of the group."""
    act = OwnerAct(DutyEventKind.group_muted, group_id) if on else None
    return await _set_controls(ctx, actor, group_id, AdminRight.mute, act, mute_all=on)


async def do_set_slow_mode(
    ctx: ServiceContext, actor: Actor, group_id: int, seconds: int
) -> GroupControls:
    return await _set_controls(
        ctx, actor, group_id, AdminRight.mute, slow_mode_seconds=check_slow_mode(seconds)
    )


async def do_pin_notice(
    ctx: ServiceContext, actor: Actor, group_id: int, text: str
) -> GroupControls:
    """Pin the group notice (群公告); an empty text unpins it."""
    text = text.strip()
    if len(text) > 2000 or text_problem(text, TextKind.prose) is not None:
        raise InvalidInput(
            "invalid_notice",
            "A group notice is at most 2,000 characters, with no NUL or bidirectional controls.",
        )
    return await _set_controls(
        ctx,
        actor,
        group_id,
        AdminRight.pin_notices,
        notice_text=text or None,
        notice_by=actor.id,
        notice_at=ctx.clock.now(),
    )


async def get_controls(ctx: ServiceContext, actor: Actor, group_id: int) -> GroupControls:
    async with transaction(ctx, write=False) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        perm.check_member(group, membership)
        return await uow.owner.get_controls(group_id)


# ---- reading, reporting up ----------------------------------------------------------------


async def do_mark_read(ctx: ServiceContext, actor: Actor, group_id: int, seq: int) -> int:
    """Move your read cursor. A manager's cursor past a message is notice of it (P7)."""
    async with transaction(ctx) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        member = perm.check_member(group, membership)
        if not 0 <= seq <= group.last_seq:
            raise InvalidInput("invalid_cursor", "No such position in this group.")
        current = await uow.owner.get_read_cursor(group_id, actor.id)
        if seq <= current:
            return current
        await uow.owner.put_read_cursor(group_id, actor.id, seq, ctx.clock.now())
        if member.is_manager:
            await record_duty(ctx, uow, group_id, DutyEventKind.message_read, actor.id, seq=seq)
    return seq


@dataclass(frozen=True, slots=True)
class OwnedGroup:
    group: Group
    tier: str
    controls: GroupControls
    open_notices: list[tuple[int, datetime]]  # (case id, respond by)
    warnings_in_force: list[int]
    rules_published: bool


async def list_owned_groups(ctx: ServiceContext, actor: Actor) -> list[OwnedGroup]:
    """What an owner needs to stay exempt: notices and time left, warnings, rules, attendance."""
    now = ctx.clock.now()
    out = []
    async with transaction(ctx, write=False) as uow:
        for _membership, g in await uow.memberships.for_account(actor.id):
            if g.owner_id != actor.id:
                continue
            record = await uow.activity.get_group(g.id)
            cases = await uow.reports.owner_cases([g.id])
            sanctions = await uow.reports.active_sanctions(now, g.id, None)
            out.append(
                OwnedGroup(
                    g,
                    record.tier if record else "small",
                    await uow.owner.get_controls(g.id),
                    [(c.id, c.platform_visible_at) for c in cases if c.platform_visible_at > now],
                    [s.id for s in sanctions if s.kind == "warning" and s.acknowledged_at is None],
                    g.rules_version > 0,
                )
            )
    return out


async def read_duty_ledger(ctx: ServiceContext, actor: Actor, group_id: int) -> list[DutyEvent]:
    async with transaction(ctx, write=False) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        member = perm.check_member(group, membership)
        if not member.is_manager:
            raise Forbidden("not_permitted", "The duty-of-care ledger is for owner and admins.")
        return await uow.owner.duty_events(group_id)
