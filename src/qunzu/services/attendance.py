"""Unattended groups (建群不能任性): whoever builds a group answers for it.

A periodic sweep (``qunzu groups sweep-unattended``) marks groups whose owner and
admins have been away past the rulebook's period while members keep posting:
the owner is reminded, with the choices to appoint admins, transfer ownership or
dissolve. After a second period with no response the group turns read-only until
someone takes ownership: an admin claims it, or, when there are none, the
platform decides. Dormant groups, where nobody posts, are left alone.
"""

from __future__ import annotations

from dataclasses import replace

from qunzu.domain.audit import AuditAction, check_not_self
from qunzu.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from qunzu.domain.models import EntryKind, GroupRole
from qunzu.domain.owner_tools import Attendance, attendance
from qunzu.services import audit
from qunzu.services.actor import SENIORS, SYSTEM, Actor
from qunzu.services.audit import privileged
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.ports import UnitOfWork
from qunzu.services.timeline import append_entry, notify

CHOICES = ["appoint_admins", "transfer_ownership", "dissolve"]


async def sweep_unattended(ctx: ServiceContext, batch: int = 500) -> dict[str, int]:
    """Move groups between attended, unattended and read-only, acting as the system (each
    move is audited); returns the counts moved."""
    policy = ctx.rulebooks.in_force(ctx.clock.now()).attendance
    moved = {"unattended": 0, "read_only": 0, "attended": 0}
    after = 0
    while True:
        async with transaction(ctx) as uow:
            rows = await uow.owner.attendance_rows(after, batch)
            now = ctx.clock.now()
            for row in rows:
                state = attendance(
                    row.managers_last_active,
                    row.last_activity_at,
                    row.unattended_since,
                    now,
                    policy,
                )
                controls = await uow.owner.get_controls(row.group_id)
                if state is Attendance.attended and row.unattended_since is not None:
                    await uow.owner.put_controls(
                        replace(controls, unattended_since=None, read_only_since=None)
                    )
                    await _changed(ctx, uow, row.group_id, "attended")
                    moved["attended"] += 1
                elif state is Attendance.unattended and row.unattended_since is None:
                    await uow.owner.put_controls(replace(controls, unattended_since=now))
                    await _changed(ctx, uow, row.group_id, "unattended")
                    if row.owner_id is not None:
                        notify(
                            uow,
                            row.owner_id,
                            "unattended_reminder",
                            group_id=row.group_id,
                            choices=CHOICES,
                            read_only_after_days=policy.response_days,
                        )
                    moved["unattended"] += 1
                elif state is Attendance.read_only and row.read_only_since is None:
                    await uow.owner.put_controls(replace(controls, read_only_since=now))
                    await _changed(ctx, uow, row.group_id, "read_only")
                    moved["read_only"] += 1
        if len(rows) < batch:
            return moved
        after = rows[-1].group_id


async def _changed(ctx: ServiceContext, uow: UnitOfWork, group_id: int, state: str) -> None:
    """The sweep moved a group: members see it in the timeline, and the move, the system's
    act (read-only restricts a whole group), is audited."""
    await append_entry(
        ctx, uow, group_id, EntryKind.attendance_changed, None, data={"state": state}
    )
    await audit.record(
        ctx, uow, SYSTEM, AuditAction.group_attendance, f"group:{group_id}", state=state
    )


async def _take_ownership(
    ctx: ServiceContext, uow: UnitOfWork, group_id: int, new_owner: int, via: str
) -> None:
    group = await uow.groups.get(group_id)
    assert group is not None
    if group.owner_id is not None:
        old = await uow.memberships.get(group_id, group.owner_id)
        if old is not None and old.is_active:
            # The absent owner steps down to member: the duty moves to whoever took it up.
            await uow.memberships.put(replace(old, role=GroupRole.member))
    me = await uow.memberships.get(group_id, new_owner)
    assert me is not None
    await uow.memberships.put(replace(me, role=GroupRole.owner))
    await uow.owner.delete_rights(group_id, new_owner)
    await uow.groups.update(group_id, owner_id=new_owner)
    controls = await uow.owner.get_controls(group_id)
    await uow.owner.put_controls(replace(controls, unattended_since=None, read_only_since=None))
    # Taking up the duty is the new owner's activity: the next sweep must not find the
    # group unattended again because the new owner had been quiet before.
    await uow.activity.touch(group_id, new_owner, ctx.clock.now())
    await append_entry(
        ctx,
        uow,
        group_id,
        EntryKind.ownership_transferred,
        new_owner,
        data={"from": group.owner_id, "to": new_owner, "via": via},
    )


async def do_claim_ownership(ctx: ServiceContext, actor: Actor, group_id: int) -> None:
    """An admin of an unattended group takes it over (the admins' own act is their consent).
    A group with no admins needs a platform decision; members ask the platform."""
    async with transaction(ctx) as uow:
        group = await uow.groups.get(group_id)
        me = await uow.memberships.get(group_id, actor.id) if group else None
        if group is None or me is None or not me.is_active:
            raise NotFound("group_not_found", "No such group among yours.")
        controls = await uow.owner.get_controls(group_id)
        if controls.unattended_since is None:
            raise Conflict("group_attended", "This group has an active owner.")
        if me.role is GroupRole.owner:
            raise Conflict("already_owner", "You own this group.")
        if me.role is not GroupRole.admin:
            raise Forbidden(
                "platform_decision_required",
                "Only an admin may claim an unattended group; with no admins the platform "
                "decides (report the group to the platform).",
            )
        await _take_ownership(ctx, uow, group_id, actor.id, "claim")
        if group.owner_id is not None:
            notify(uow, group.owner_id, "ownership_claimed", group_id=group_id, by=actor.id)


async def do_assign_owner(
    ctx: ServiceContext, actor: Actor, group_id: int, account_id: int, reason: str
) -> None:
    """A platform decision giving an unattended group without admins a new owner. Audited."""
    async with privileged(
        ctx,
        actor,
        SENIORS,
        AuditAction.group_assign_owner,
        f"group:{group_id}",
        account_id=account_id,
        reason=reason.strip()[:500],
    ) as act:
        check_not_self(actor.id, account_id)  # no officer hands a group to themselves
        if len(reason.strip()) < 5:
            raise InvalidInput("reason_required", "State the reason for the decision.")
        controls = await act.uow.owner.get_controls(group_id)
        if controls.unattended_since is None:
            raise Conflict("group_attended", "This group has an active owner.")
        member = await act.uow.memberships.get(group_id, account_id)
        if member is None or not member.is_active:
            raise NotFound("member_not_found", "The new owner must be a member.")
        await _take_ownership(ctx, act.uow, group_id, account_id, "platform")
