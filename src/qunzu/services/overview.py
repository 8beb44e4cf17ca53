"""What a person sees at a glance: their groups with unread counts and the last entry,
and what stands between them and posting in a group (rules to accept, a mute, slow mode).

Read-only views for the web app's pages (web/); the API has its own finer endpoints.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from qunzu.domain import permissions as perm
from qunzu.domain.models import (
    Account,
    EntryKind,
    Group,
    GroupRole,
    GroupRules,
    Membership,
    OwnershipOffer,
    TimelineEntry,
)
from qunzu.domain.owner_tools import AdminRight, GroupControls
from qunzu.domain.permissions import visible_window
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.group_access import held_rights, load_group


@dataclass(frozen=True, slots=True)
class InboxItem:
    group: Group
    membership: Membership
    unread: int  # timeline entries after the read cursor
    last: TimelineEntry | None  # the newest entry this member may see
    peer: Account | None  # in a direct chat, the other person

    @property
    def active_at(self) -> datetime:
        return self.last.created_at if self.last else self.group.created_at


async def list_inbox(ctx: ServiceContext, actor: Actor) -> list[InboxItem]:
    """The actor's groups, most recently active first."""
    items: list[InboxItem] = []
    async with transaction(ctx, write=False) as uow:
        rows = await uow.memberships.for_account(actor.id, active_only=True)
        peers: dict[int, int] = {}
        for membership, group in rows:
            first, last_seq = visible_window(membership, group)
            cursor = await uow.owner.get_read_cursor(group.id, actor.id)
            # The newest message, or the newest entry when the last few are all events.
            recent = await uow.timeline.before(group.id, last_seq + 1, 10, floor=first)
            newest = [e for e in recent if e.kind is EntryKind.message][-1:] or recent[-1:]
            if group.is_direct:
                others = [a for a in await uow.memberships.active_account_ids(group.id)]
                peer = next((a for a in others if a != actor.id), None)
                if peer is not None:
                    peers[group.id] = peer
            items.append(
                InboxItem(
                    group,
                    membership,
                    max(0, last_seq - max(cursor, first - 1)),
                    newest[0] if newest else None,
                    None,
                )
            )
        accounts = await uow.accounts.get_many(list(peers.values()))
    items = [
        InboxItem(i.group, i.membership, i.unread, i.last, accounts.get(peers.get(i.group.id, 0)))
        for i in items
    ]
    items.sort(key=lambda i: i.active_at, reverse=True)
    return items


async def accounts_by_id(ctx: ServiceContext, account_ids: Iterable[int]) -> dict[int, Account]:
    """Public faces (handle, display name, verified) of the accounts a page mentions."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    async with transaction(ctx, write=False) as uow:
        return await uow.accounts.get_many(ids)


@dataclass(frozen=True, slots=True)
class PostingView:
    """One member's standing in a group, for the composer and the management pages."""

    group: Group
    membership: Membership
    controls: GroupControls
    rights: frozenset[AdminRight]
    rules: GroupRules | None  # the version in force
    muted_until: datetime | None
    mute_reason: str
    slow_mode_wait: int  # seconds until slow mode lets this member post again
    read_cursor: int

    @property
    def rules_pending(self) -> bool:
        return self.group.rules_version > self.membership.accepted_rules_version

    @property
    def is_manager(self) -> bool:
        return self.membership.is_manager


async def get_posting_view(ctx: ServiceContext, actor: Actor, group_id: int) -> PostingView:
    now = ctx.clock.now()
    async with transaction(ctx, write=False) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        member = perm.check_member(group, membership)
        controls = await uow.owner.get_controls(group_id)
        rights = await held_rights(uow, member)
        rules = await uow.rules.get(group_id, group.rules_version) if group.rules_version else None
        mute = await uow.owner.get_mute(group_id, actor.id)
        wait = 0
        if controls.slow_mode_seconds and not member.is_manager:
            last = await uow.activity.member_last_active(group_id, actor.id)
            if last is not None:
                left = timedelta(seconds=controls.slow_mode_seconds) - (now - last)
                wait = max(0, int(left.total_seconds() + 0.999))
        cursor = await uow.owner.get_read_cursor(group_id, actor.id)
    muted = mute is not None and mute[0] > now and not member.is_manager
    return PostingView(
        group,
        member,
        controls,
        rights,
        rules,
        mute[0] if muted and mute else None,
        mute[1] if muted and mute else "",
        wait,
        cursor,
    )


async def list_offers_to_me(
    ctx: ServiceContext, actor: Actor
) -> list[tuple[OwnershipOffer, Group]]:
    """Pending offers of ownership made to the actor, in groups they belong to."""
    out = []
    async with transaction(ctx, write=False) as uow:
        for _membership, group in await uow.memberships.for_account(actor.id, active_only=True):
            offer = await uow.ownership_offers.pending_for_group(group.id)
            if offer is not None and offer.to_id == actor.id:
                out.append((offer, group))
    return out


async def list_rules_versions(ctx: ServiceContext, actor: Actor, group_id: int) -> list[GroupRules]:
    """Every published version of a group's rules, newest first (for its managers)."""
    async with transaction(ctx, write=False) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        perm.check_member(group, membership)
        versions = []
        for version in range(group.rules_version, 0, -1):
            rules = await uow.rules.get(group_id, version)
            if rules is not None:
                versions.append(rules)
    return versions


@dataclass(frozen=True, slots=True)
class MemberStanding:
    """What the members page shows beside each name: admins' rights and mutes in force."""

    rights: dict[int, frozenset[AdminRight]]
    muted_until: dict[int, datetime]


async def member_standing(
    ctx: ServiceContext, actor: Actor, group_id: int, limit: int = 500
) -> MemberStanding:
    now = ctx.clock.now()
    rights: dict[int, frozenset[AdminRight]] = {}
    muted: dict[int, datetime] = {}
    async with transaction(ctx, write=False) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        if not perm.check_member(group, membership).is_manager:
            raise perm.Forbidden("not_permitted", "This is for the group's owner and admins.")
        for m in await uow.memberships.list_active(group_id, limit, 0):
            if m.role is not GroupRole.member:
                rights[m.account_id] = await held_rights(uow, m)
            mute = await uow.owner.get_mute(group_id, m.account_id)
            if mute is not None and mute[0] > now:
                muted[m.account_id] = mute[0]
    return MemberStanding(rights, muted)
