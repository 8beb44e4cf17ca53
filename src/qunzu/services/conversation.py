"""Conversation use cases: recall (撤回), pinned messages, group nicknames (群昵称), and
unread and mention counts from each member's read cursor.

Sending a reply or a mention is part of the send (``messaging.do_send_message`` with
``threads.References``); what every path shares is in ``services/threads.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from qunzu.domain import conversation as conv
from qunzu.domain import permissions as perm
from qunzu.domain.errors import NotFound
from qunzu.domain.models import EntryKind, Group, Membership, TimelineEntry
from qunzu.domain.owner_tools import AdminRight
from qunzu.domain.permissions import visible_window
from qunzu.services.actor import Actor, handle_key
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.group_access import load_group, require_right
from qunzu.services.ports import UnitOfWork
from qunzu.services.threads import decorate, recalled_keep_until, withdraw
from qunzu.services.timeline import append_entry

# ---- recall -------------------------------------------------------------------------------


async def do_recall_message(ctx: ServiceContext, actor: Actor, group_id: int, seq: int) -> None:
    """The sender takes a message back within the rulebook's window. Members then see
    "recalled" in its place; the text is kept as evidence for the retention period, and
    any case that already copied it keeps its copy."""
    now = ctx.clock.now()
    policy = ctx.rulebooks.in_force(now).conversation
    async with transaction(ctx) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        perm.check_member(group, membership)
        entry = conv.check_recall(await uow.timeline.get(group_id, seq), actor.id, now, policy)
        assert entry.body is not None and entry.sender_id is not None
        await uow.conversation.keep_recalled(
            group_id, seq, entry.sender_id, entry.body, now, recalled_keep_until(ctx, now)
        )
        await withdraw(ctx, uow, group_id, seq)  # before the text goes (the index needs it)
        await uow.timeline.redact(
            group_id, seq, {**entry.data, "recalled": {"at": now.isoformat()}}
        )
        await append_entry(
            ctx, uow, group_id, EntryKind.message_recalled, actor.id, data={"seq": seq}
        )


async def purge_recalled(ctx: ServiceContext) -> int:
    """Drop recalled texts past their retention (a periodic job)."""
    async with transaction(ctx) as uow:
        return await uow.conversation.purge_recalled(ctx.clock.now())


# ---- pinned messages ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pin:
    entry: TimelineEntry
    pinned_by: int
    pinned_at: datetime


async def do_pin_message(ctx: ServiceContext, actor: Actor, group_id: int, seq: int) -> None:
    """Pin a message (owner, or an admin with ``pin_messages``), up to the rulebook's cap."""
    now = ctx.clock.now()
    policy = ctx.rulebooks.in_force(now).conversation
    async with transaction(ctx) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        me = await require_right(ctx, uow, group, membership, AdminRight.pin_messages)
        perm.check_active(group)
        pinned = [p[0] for p in await uow.conversation.pins(group_id)]
        entry = await uow.timeline.get(group_id, seq)
        conv.check_pin(entry, visible_window(me, group), pinned, policy)
        await uow.conversation.pin(group_id, seq, actor.id, now)
        await append_entry(
            ctx, uow, group_id, EntryKind.message_pinned, actor.id, data={"seq": seq}
        )


async def do_unpin_message(ctx: ServiceContext, actor: Actor, group_id: int, seq: int) -> None:
    async with transaction(ctx) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        await require_right(ctx, uow, group, membership, AdminRight.pin_messages)
        if not await uow.conversation.unpin(group_id, seq):
            raise NotFound("not_pinned", "That message is not pinned.")
        await append_entry(
            ctx, uow, group_id, EntryKind.message_unpinned, actor.id, data={"seq": seq}
        )


async def list_pins(ctx: ServiceContext, actor: Actor, group_id: int) -> list[Pin]:
    """The group's pinned messages a member may see (within their visible window)."""
    async with transaction(ctx, write=False) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        first, last = visible_window(perm.check_member(group, membership), group)
        pins = []
        for seq, by, at in await uow.conversation.pins(group_id):
            entry = await uow.timeline.get(group_id, seq)
            if entry is not None and first <= seq <= last and not conv.is_withdrawn(entry):
                pins.append((entry, by, at))
        shown = await decorate(ctx, uow, group_id, [p[0] for p in pins])
    return [Pin(e, by, at) for e, (_e, by, at) in zip(shown, pins, strict=True)]


# ---- group nicknames ----------------------------------------------------------------------


async def do_set_nickname(
    ctx: ServiceContext, actor: Actor, group_id: int, nickname: str
) -> str | None:
    """Set (or, with an empty text, clear) your nickname in this group."""
    now = ctx.clock.now()
    name = conv.normalize_nickname(nickname, ctx.rulebooks.in_force(now).conversation)
    async with transaction(ctx) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        perm.check_member(group, membership)
        await uow.conversation.set_nickname(group_id, actor.id, name, now)
        await append_entry(
            ctx,
            uow,
            group_id,
            EntryKind.nickname_changed,
            actor.id,
            data={"account_id": actor.id, "nickname": name},
        )
    return name


async def nicknames(
    ctx: ServiceContext, actor: Actor, group_id: int, account_ids: list[int]
) -> dict[int, str]:
    async with transaction(ctx, write=False) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        perm.check_member(group, membership)
        return await uow.conversation.nicknames(group_id, account_ids)


# ---- unread and mention counts ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Counts:
    unread: int  # timeline entries past the read cursor, within the visible window
    mentions: int  # of those, messages mentioning the member or @all by someone else
    read_seq: int


async def counts_in(
    uow: UnitOfWork, account_id: int, membership: Membership, group: Group
) -> Counts:
    """From the read cursor: a subtraction and one indexed range count, never a scan."""
    first, last = visible_window(membership, group)
    cursor = max(await uow.owner.get_read_cursor(group.id, account_id), first - 1)
    unread = max(0, last - cursor)
    mentions = await uow.conversation.count_mentions(group.id, account_id, cursor) if unread else 0
    return Counts(unread, mentions, cursor)


async def my_counts(ctx: ServiceContext, actor: Actor) -> dict[int, Counts]:
    """Unread and mention counts for every group the actor is an active member of."""
    async with transaction(ctx, write=False) as uow:
        rows = await uow.memberships.for_account(actor.id, active_only=True)
        return {g.id: await counts_in(uow, actor.id, m, g) for m, g in rows}


async def member_ids_by_handle(
    ctx: ServiceContext, actor: Actor, group_id: int, handles: list[str]
) -> list[int]:
    """The current members of the group with these handles (for ``@handle`` typed in the
    web composer); other handles are left as plain text."""
    out: list[int] = []
    async with transaction(ctx, write=False) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        perm.check_member(group, membership)
        for raw in handles[: ctx.rulebooks.in_force(ctx.clock.now()).conversation.max_mentions]:
            key = handle_key(raw)
            account = await uow.accounts.get_by_handle(key) if key else None
            if account is None or account.id in out:
                continue
            found = await uow.memberships.get(group_id, account.id)
            if found is not None and found.is_active:
                out.append(account.id)
    return out


async def recall_deadline(
    ctx: ServiceContext, actor: Actor, group_id: int, seq: int
) -> datetime | None:
    """Until when the actor may still recall this message (None: not theirs or not now)."""
    now = ctx.clock.now()
    policy = ctx.rulebooks.in_force(now).conversation
    async with transaction(ctx, write=False) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        perm.check_member(group, membership)
        entry = await uow.timeline.get(group_id, seq)
    if entry is None or entry.sender_id != actor.id or conv.is_withdrawn(entry):
        return None
    until = entry.created_at + policy.recall_window
    return until if until > now else None
