"""Joining and leaving: invitations, join requests, removal, roles, ownership transfer."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from qunzu.domain import permissions as perm
from qunzu.domain.cases import OwnerAct
from qunzu.domain.duty import DutyEventKind
from qunzu.domain.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from qunzu.domain.models import (
    EntryKind,
    Group,
    GroupRole,
    Invitation,
    JoinPolicy,
    JoinRequest,
    Membership,
    MembershipState,
    OwnershipOffer,
    RequestState,
)
from qunzu.domain.owner_tools import AdminRight, Bar
from qunzu.domain.text import text_problem
from qunzu.services import enforcement, governance, group_access
from qunzu.services.actor import Actor, handle_key
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.group_access import load_group
from qunzu.services.owner_handling import record_owner_act
from qunzu.services.ports import UnitOfWork
from qunzu.services.timeline import append_entry, notify


async def _admit(
    ctx: ServiceContext,
    uow: UnitOfWork,
    group: Group,
    account_id: int,
    accepted_rules_version: int,
    via: str,
    by: int | None = None,
) -> Membership:
    await check_not_barred(uow, group.id, account_id)
    await enforcement.check_may_join(ctx, uow, account_id)
    # Art. 8 caps: the group's size (from its owner's level) and the joiner's own count.
    await governance.check_group_has_room(ctx, uow, group)
    await governance.check_can_join_more(ctx, uow, account_id)
    before = await uow.memberships.get(group.id, account_id)
    entry = await append_entry(
        ctx,
        uow,
        group.id,
        EntryKind.member_joined,
        account_id,
        data={"account_id": account_id, "via": via, "by": by},
    )
    membership = Membership(
        group_id=group.id,
        account_id=account_id,
        role=GroupRole.member,
        state=MembershipState.active,
        joined_at=ctx.clock.now(),
        joined_seq=entry.seq,
        accepted_rules_version=accepted_rules_version,
        earlier=_periods_so_far(before),
    )
    await uow.memberships.put(membership)
    await uow.groups.add_member_count(group.id, 1)
    await governance.refresh_tier(ctx, uow, group.id)
    notify(uow, account_id, "membership_added", group_id=group.id, joined_seq=entry.seq)
    return membership


def _periods_so_far(before: Membership | None) -> tuple[tuple[int, int], ...]:
    """A rejoining member keeps each earlier period of theirs (to read and report from)."""
    if before is None or before.left_seq is None:
        return ()
    return (*before.earlier, (before.joined_seq, before.left_seq))


async def check_not_barred(uow: UnitOfWork, group_id: int, account_id: int) -> None:
    """A member removed with a bar rejoins by no path until a manager lifts the bar."""
    barred_at = await uow.owner.get_bar(group_id, account_id)
    if barred_at is not None:
        raise Forbidden(
            "barred",
            "This account was removed from the group and barred from rejoining "
            "until its owner or an admin lifts the bar.",
            barred_at=barred_at.isoformat(),
        )


async def _part(
    ctx: ServiceContext,
    uow: UnitOfWork,
    member: Membership,
    kind: EntryKind,
    by: int,
    reason: str = "",
    bar: bool = False,
) -> Membership:
    data: dict[str, object] = {"account_id": member.account_id, "by": by, "reason": reason}
    if bar:
        data["barred"] = True
    entry = await append_entry(ctx, uow, member.group_id, kind, by, data=data)
    state = MembershipState.left if kind is EntryKind.member_left else MembershipState.removed
    parted = replace(member, state=state, left_seq=entry.seq, role=GroupRole.member)
    await uow.memberships.put(parted)
    await uow.groups.add_member_count(member.group_id, -1)
    await governance.refresh_tier(ctx, uow, member.group_id)
    return parted


async def _account_id(uow: UnitOfWork, handle_or_id: str | int) -> int:
    if isinstance(handle_or_id, int):
        account = await uow.accounts.get(handle_or_id)
    else:
        key = handle_key(handle_or_id)
        account = await uow.accounts.get_by_handle(key) if key else None
    if account is None:
        raise NotFound("account_not_found", "No such account.")
    return account.id


# ---- invitations ---------------------------------------------------------------------------


async def do_invite(
    ctx: ServiceContext, actor: Actor, group_id: int, invitee: str | int
) -> Invitation:
    async with transaction(ctx) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        perm.check_allowed(group, membership, perm.Action.invite)
        if membership is not None and membership.is_manager:
            await enforcement.check_may_manage(ctx, uow, actor.id, group_id)
        perm.check_active(group)
        invitee_id = await _account_id(uow, invitee)
        if invitee_id == actor.id:
            raise InvalidInput("cannot_invite_self", "You cannot invite yourself.")
        existing = await uow.memberships.get(group_id, invitee_id)
        if existing is not None and existing.is_active:
            raise Conflict("already_member", "That account is already a member.")
        await check_not_barred(uow, group_id, invitee_id)
        now = ctx.clock.now()
        pending = await uow.invitations.pending_for(group_id, invitee_id)
        if pending is not None:
            if pending.expires_at > now:
                raise Conflict("already_invited", "That account already has a pending invitation.")
            # The old invitation lapsed unanswered; close it so the new one is the only one.
            await uow.invitations.set_state(pending.id, RequestState.cancelled)
        await governance.check_can_invite_more(ctx, uow, actor.id)
        await governance.check_group_has_room(ctx, uow, group)
        invitation = await uow.invitations.add(
            group_id,
            actor.id,
            invitee_id,
            now,
            now + timedelta(days=ctx.limits.invitation_ttl_days),
        )
        notify(
            uow,
            invitee_id,
            "invitation",
            invitation_id=invitation.id,
            group_id=group_id,
            inviter_id=actor.id,
        )
    return invitation


async def list_my_invitations(ctx: ServiceContext, actor: Actor) -> list[Invitation]:
    now = ctx.clock.now()
    async with transaction(ctx, write=False) as uow:
        return [i for i in await uow.invitations.list_for_invitee(actor.id) if i.expires_at > now]


async def _pending_invitation(uow: UnitOfWork, actor: Actor, invitation_id: int) -> Invitation:
    invitation = await uow.invitations.get(invitation_id)
    if invitation is None or invitation.invitee_id != actor.id:
        raise NotFound("invitation_not_found", "No such invitation.")
    if invitation.state is not RequestState.pending:
        raise Conflict(
            "invitation_answered", f"This invitation is already {invitation.state.value}."
        )
    return invitation


async def do_accept_invitation(
    ctx: ServiceContext, actor: Actor, invitation_id: int, rules_version: int | None = None
) -> Membership:
    """Join through an invitation; naming the rules version read means accepting it."""
    async with transaction(ctx) as uow:
        invitation = await _pending_invitation(uow, actor, invitation_id)
        if invitation.expires_at <= ctx.clock.now():
            raise Gone("invitation_expired", "This invitation has expired; ask for a new one.")
        group = await uow.groups.get(invitation.group_id)
        assert group is not None
        current = await uow.memberships.get(group.id, actor.id)
        perm.check_can_join(actor.account, group, current)
        accepted = perm.check_rules_version(group, rules_version)
        await uow.invitations.set_state(invitation_id, RequestState.accepted)
        return await _admit(
            ctx, uow, group, actor.id, accepted, "invitation", invitation.inviter_id
        )


async def do_decline_invitation(ctx: ServiceContext, actor: Actor, invitation_id: int) -> None:
    async with transaction(ctx) as uow:
        await _pending_invitation(uow, actor, invitation_id)
        await uow.invitations.set_state(invitation_id, RequestState.declined)


# ---- joining open groups and requests to join ---------------------------------------------


async def do_join(
    ctx: ServiceContext, actor: Actor, group_id: int, rules_version: int | None = None
) -> Membership:
    """Join an open group directly (anyone with its number may, discoverable or not)."""
    async with transaction(ctx) as uow:
        group = await uow.groups.get(group_id)
        current = await uow.memberships.get(group_id, actor.id) if group else None
        if group is None or (
            group.join_policy is not JoinPolicy.open and current is None and not group.discoverable
        ):
            raise NotFound("group_not_found", "No such group.")
        perm.check_can_join(actor.account, group, current)
        await check_not_barred(uow, group_id, actor.id)
        if group.join_policy is JoinPolicy.approval:
            raise Conflict(
                "approval_required", "This group admits members on approval; send a request."
            )
        if group.join_policy is JoinPolicy.invite_only:
            raise Forbidden("invitation_required", "This group admits members by invitation only.")
        accepted = perm.check_rules_version(group, rules_version)
        return await _admit(ctx, uow, group, actor.id, accepted, "open")


async def do_request_join(
    ctx: ServiceContext,
    actor: Actor,
    group_id: int,
    note: str = "",
    rules_version: int | None = None,
) -> JoinRequest:
    if len(note) > 280:
        raise InvalidInput("note_too_long", "A note to the managers is at most 280 characters.")
    problem = text_problem(note)
    if problem is not None:
        raise InvalidInput("invalid_note", f"A note cannot contain {problem}.")
    async with transaction(ctx) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        perm.check_can_join(actor.account, group, membership)
        if group.join_policy is JoinPolicy.open:
            raise Conflict("group_is_open", "This group is open; join it directly.")
        if group.join_policy is JoinPolicy.invite_only:
            raise Forbidden("invitation_required", "This group admits members by invitation only.")
        accepted = perm.check_rules_version(group, rules_version)
        await check_not_barred(uow, group_id, actor.id)
        if await uow.join_requests.pending_for(group_id, actor.id) is not None:
            raise Conflict(
                "join_request_pending", "You already asked to join; wait for a decision."
            )
        request = await uow.join_requests.add(
            group_id, actor.id, note.strip(), accepted, ctx.clock.now()
        )
        for manager in await _managers(uow, group_id):
            notify(
                uow,
                manager,
                "join_request",
                request_id=request.id,
                group_id=group_id,
                account_id=actor.id,
            )
    return request


async def _managers(uow: UnitOfWork, group_id: int) -> list[int]:
    members = await uow.memberships.list_active(group_id, limit=10_000, offset=0)
    return [m.account_id for m in members if m.is_manager]


async def list_join_requests(ctx: ServiceContext, actor: Actor, group_id: int) -> list[JoinRequest]:
    async with transaction(ctx, write=False) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        perm.check_allowed(group, membership, perm.Action.decide_join_request)
        return await uow.join_requests.list_pending(group_id)


async def do_decide_join_request(
    ctx: ServiceContext, actor: Actor, request_id: int, approve: bool
) -> JoinRequest:
    async with transaction(ctx) as uow:
        request = await uow.join_requests.get(request_id)
        if request is None:
            raise NotFound("join_request_not_found", "No such join request.")
        group, membership = await load_group(uow, actor.id, request.group_id)
        perm.check_allowed(group, membership, perm.Action.decide_join_request)
        await group_access.require_right(ctx, uow, group, membership, AdminRight.approve_joins)
        if request.state is not RequestState.pending:
            raise Conflict(
                "join_request_decided", f"This request is already {request.state.value}."
            )
        state = RequestState.accepted if approve else RequestState.declined
        if approve:
            perm.check_active(group)
            current = await uow.memberships.get(group.id, request.account_id)
            if current is not None and current.is_active:
                raise Conflict("already_member", "That account is already a member.")
            await _admit(
                ctx, uow, group, request.account_id, request.rules_version, "approval", actor.id
            )
        await uow.join_requests.decide(request_id, state, actor.id)
        notify(
            uow,
            request.account_id,
            "join_request_decided",
            request_id=request_id,
            group_id=group.id,
            approved=approve,
        )
    return replace(request, state=state, decided_by=actor.id)


# ---- leaving and removal --------------------------------------------------------------------


async def do_leave(ctx: ServiceContext, actor: Actor, group_id: int) -> Membership:
    async with transaction(ctx) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        member = perm.check_member(group, membership)
        if member.role is GroupRole.owner:
            raise Conflict(
                "owner_must_transfer",
                "Transfer ownership or dissolve the group before leaving it.",
            )
        perm.check_allowed(group, member, perm.Action.leave)
        return await _part(ctx, uow, member, EntryKind.member_left, actor.id)


async def do_remove_member(
    ctx: ServiceContext,
    actor: Actor,
    group_id: int,
    account_id: int,
    reason: str = "",
    bar: bool = False,
) -> Membership:
    """Remove a member (移出). Admins may remove members; only the owner removes admins.
    With ``bar`` the account cannot rejoin (open join, request or invitation) until an
    owner or admin with the right to remove members lifts the bar."""
    if len(reason) > 500:
        raise InvalidInput("reason_too_long", "A reason is at most 500 characters.")
    problem = text_problem(reason)
    if problem is not None:
        raise InvalidInput("invalid_reason", f"A reason cannot contain {problem}.")
    async with transaction(ctx) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        me = perm.check_allowed(group, membership, perm.Action.remove_member)
        await group_access.require_right(ctx, uow, group, membership, AdminRight.remove_members)
        perm.check_active(group)
        if account_id == actor.id:
            raise InvalidInput("cannot_remove_self", "To leave a group, use leave.")
        target = await uow.memberships.get(group_id, account_id)
        if target is None or not target.is_active:
            raise NotFound("member_not_found", "That account is not a member of this group.")
        if target.role is GroupRole.owner or (
            target.role is GroupRole.admin and me.role is not GroupRole.owner
        ):
            raise Forbidden(
                "not_permitted", "Only the owner may remove an admin; no one removes the owner."
            )
        parted = await _part(
            ctx, uow, target, EntryKind.member_removed, actor.id, reason.strip(), bar
        )
        if bar:
            await uow.owner.put_bar(group_id, account_id, reason.strip(), actor.id, ctx.clock.now())
        # Removing a reported member in time is the owner's adequate action (P7, P8).
        act = OwnerAct(DutyEventKind.member_removed, group_id, account_id=account_id)
        await record_owner_act(
            ctx, uow, act, actor.id, ("barred: " if bar else "") + reason.strip()
        )
        return parted


async def do_lift_bar(ctx: ServiceContext, actor: Actor, group_id: int, account_id: int) -> None:
    """Lift a bar on rejoining (owner, or an admin with the right to remove members)."""
    async with transaction(ctx) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        await group_access.require_right(ctx, uow, group, membership, AdminRight.remove_members)
        if not await uow.owner.delete_bar(group_id, account_id):
            raise NotFound("not_barred", "That account is not barred from this group.")


# The most bars a page lists (a group barring more is not a group anyone runs by hand).
MAX_BARS_LISTED = 500


async def list_bars(ctx: ServiceContext, actor: Actor, group_id: int) -> list[tuple[Bar, str, str]]:
    """The group's bars on rejoining (拉黑), newest first, with each account's handle and
    display name: for the owner, and admins with the right to remove members (who may
    lift them)."""
    async with transaction(ctx, write=False) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        await group_access.require_right(ctx, uow, group, membership, AdminRight.remove_members)
        bars = await uow.owner.list_bars(group_id, MAX_BARS_LISTED)
        accounts = await uow.accounts.get_many([b.account_id for b in bars])
    return [
        (b, accounts[b.account_id].handle, accounts[b.account_id].display_name)
        for b in bars
        if b.account_id in accounts
    ]


async def do_set_role(
    ctx: ServiceContext, actor: Actor, group_id: int, account_id: int, role: GroupRole
) -> Membership:
    if role is GroupRole.owner:
        raise InvalidInput("use_transfer", "Ownership changes hands by transfer, not by role.")
    async with transaction(ctx) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        perm.check_allowed(group, membership, perm.Action.set_role)
        await enforcement.check_may_manage(ctx, uow, actor.id, group_id)
        perm.check_active(group)
        target = await uow.memberships.get(group_id, account_id)
        if target is None or not target.is_active:
            raise NotFound("member_not_found", "That account is not a member of this group.")
        if target.role is GroupRole.owner:
            raise Forbidden("not_permitted", "The owner's role changes only by transfer.")
        if target.role is role:
            raise Conflict("role_unchanged", f"That member is already {role.value}.")
        updated = replace(target, role=role)
        await uow.memberships.put(updated)
        if role is GroupRole.admin:
            await group_access.grant_default_rights(ctx, uow, group_id, account_id, actor.id)
        else:
            await uow.owner.delete_rights(group_id, account_id)
        await append_entry(
            ctx,
            uow,
            group_id,
            EntryKind.role_changed,
            actor.id,
            data={"account_id": account_id, "role": role.value},
        )
    return updated


async def list_members(
    ctx: ServiceContext, actor: Actor, group_id: int, limit: int, offset: int
) -> list[tuple[Membership, str, str]]:
    """Active members with handle and display name; members only."""
    async with transaction(ctx, write=False) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        perm.check_member(group, membership)
        members = await uow.memberships.list_active(group_id, limit, offset)
        accounts = await uow.accounts.get_many([m.account_id for m in members])
    return [
        (m, accounts[m.account_id].handle, accounts[m.account_id].display_name) for m in members
    ]


# ---- ownership transfer ------------------------------------------------------------------


async def do_offer_ownership(
    ctx: ServiceContext, actor: Actor, group_id: int, to_account_id: int
) -> OwnershipOffer:
    """Offer ownership to a member; it moves only when they accept (they take on the duty)."""
    async with transaction(ctx) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        perm.check_allowed(group, membership, perm.Action.transfer_ownership)
        perm.check_active(group)
        if to_account_id == actor.id:
            raise InvalidInput("cannot_transfer_to_self", "You already own this group.")
        target = await uow.memberships.get(group_id, to_account_id)
        if target is None or not target.is_active:
            raise NotFound("member_not_found", "Ownership goes only to a current member.")
        if await uow.ownership_offers.pending_for_group(group_id) is not None:
            raise Conflict(
                "offer_pending", "An ownership offer is already pending; cancel it first."
            )
        offer = await uow.ownership_offers.add(group_id, actor.id, to_account_id, ctx.clock.now())
        notify(
            uow,
            to_account_id,
            "ownership_offer",
            offer_id=offer.id,
            group_id=group_id,
            from_id=actor.id,
        )
    return offer


async def do_respond_ownership(
    ctx: ServiceContext, actor: Actor, offer_id: int, accept: bool
) -> OwnershipOffer:
    async with transaction(ctx) as uow:
        offer = await uow.ownership_offers.get(offer_id)
        if offer is None or actor.id not in (offer.to_id, offer.from_id):
            raise NotFound("offer_not_found", "No such ownership offer.")
        if offer.state is not RequestState.pending:
            raise Conflict("offer_answered", f"This offer is already {offer.state.value}.")
        if actor.id == offer.from_id:
            if accept:
                raise Forbidden("not_permitted", "Only the recipient can accept an offer.")
            await uow.ownership_offers.set_state(offer_id, RequestState.cancelled)
            return replace(offer, state=RequestState.cancelled)
        if not accept:
            await uow.ownership_offers.set_state(offer_id, RequestState.declined)
            notify(
                uow,
                offer.from_id,
                "ownership_offer_declined",
                offer_id=offer_id,
                group_id=offer.group_id,
            )
            return replace(offer, state=RequestState.declined)
        group = await uow.groups.get(offer.group_id)
        assert group is not None
        perm.check_active(group)
        me = await uow.memberships.get(group.id, actor.id)
        old = await uow.memberships.get(group.id, offer.from_id)
        if me is None or not me.is_active:
            raise Conflict("not_a_member", "You are no longer a member of this group.")
        if old is None or old.role is not GroupRole.owner or group.owner_id != offer.from_id:
            raise Conflict("offer_stale", "The group's ownership changed since this offer.")
        await uow.memberships.put(replace(old, role=GroupRole.admin))
        await group_access.grant_default_rights(ctx, uow, group.id, old.account_id, actor.id)
        await uow.memberships.put(replace(me, role=GroupRole.owner))
        await uow.groups.update(group.id, owner_id=actor.id)
        await uow.ownership_offers.set_state(offer_id, RequestState.accepted)
        await append_entry(
            ctx,
            uow,
            group.id,
            EntryKind.ownership_transferred,
            actor.id,
            data={"from": offer.from_id, "to": actor.id},
        )
    return replace(offer, state=RequestState.accepted)
