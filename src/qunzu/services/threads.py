"""What every path that sends, shows or withdraws a message does for the conversation
around it: replies' quotes, mentions, group nicknames, and the withdrawal hook.

Bottom layer: ``messaging`` (send, history), ``realtime`` (catch-up), ``owner_tools``
(removal), ``conversation`` (recall) and ``reports`` (evidence) all call it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from qunzu.domain import conversation as conv
from qunzu.domain.models import EntryKind, Group, Membership, TimelineEntry
from qunzu.domain.owner_tools import AdminRight
from qunzu.domain.permissions import visible_window
from qunzu.domain.reports import EvidenceItem
from qunzu.services.context import ServiceContext
from qunzu.services.group_access import held_rights
from qunzu.services.ports import UnitOfWork
from qunzu.services.timeline import notify


@dataclass(frozen=True, slots=True)
class References:
    """What a message refers to, as the sender asked for it (all optional)."""

    reply_to: int | None = None
    mentions: tuple[int, ...] = ()
    mention_all: bool = False

    @property
    def empty(self) -> bool:
        return self.reply_to is None and not self.mentions and not self.mention_all


@dataclass(frozen=True, slots=True)
class Resolved:
    """References checked against the group: stored in the message's ``data``, and the
    quote that the sender's copy and the live frame show."""

    data: dict[str, object]
    shown: dict[str, object]
    original: TimelineEntry | None


async def resolve_references(
    ctx: ServiceContext,
    uow: UnitOfWork,
    group: Group,
    member: Membership,
    refs: References,
    now: datetime,
) -> Resolved:
    """Check a reply target and mentions inside the send's unit of work."""
    policy = ctx.rulebooks.in_force(now).conversation
    data: dict[str, object] = {}
    shown: dict[str, object] = {}
    original = None
    if refs.reply_to is not None:
        found = await uow.timeline.get(group.id, refs.reply_to)
        original = conv.check_reply_target(found, visible_window(member, group), group.id)
        data["reply_to"] = original.seq
        shown["quote"] = conv.quote_of(original, policy)
    mentions = conv.check_mention_list(list(refs.mentions), member.account_id, policy)
    if mentions:
        # At most the rulebook's max_mentions lookups, not the whole member list.
        active = set()
        for account_id in mentions:
            found_member = await uow.memberships.get(group.id, account_id)
            if found_member is not None and found_member.is_active:
                active.add(account_id)
        conv.check_mentions_are_members(mentions, active)
        data["mentions"] = list(mentions)
    if refs.mention_all:
        may = AdminRight.mention_all in await held_rights(uow, member)
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        used = await uow.conversation.mention_all_since(group.id, member.account_id, day_start)
        conv.check_mention_all(may, used, policy)
        data["mention_all"] = True
    return Resolved(data, shown, original)


async def record_references(
    ctx: ServiceContext, uow: UnitOfWork, entry: TimelineEntry, resolved: Resolved
) -> None:
    """Mention rows (for the counts) and notices to those mentioned or replied to."""
    sender = entry.sender_id
    assert sender is not None
    mentions = [int(m) for m in entry.data.get("mentions", [])]  # type: ignore[attr-defined]
    rows = [*mentions, *([conv.ALL_MEMBERS] if entry.data.get("mention_all") else [])]
    await uow.conversation.add_mentions(entry.group_id, entry.seq, sender, rows, entry.created_at)
    told = set()
    for account_id in mentions:
        notify(uow, account_id, "mentioned", group_id=entry.group_id, seq=entry.seq, by=sender)
        told.add(account_id)
    original = resolved.original
    to = original.sender_id if original is not None else None
    if original is not None and to is not None and to != sender and to not in told:
        notify(
            uow,
            to,
            "replied",
            group_id=entry.group_id,
            seq=entry.seq,
            reply_to=original.seq,
            by=sender,
        )


async def decorate(
    ctx: ServiceContext, uow: UnitOfWork, group_id: int, entries: list[TimelineEntry]
) -> list[TimelineEntry]:
    """Entries as members see them: each reply with the quote of its original as it
    stands now (a placeholder once removed or recalled), each message with its sender's
    group nickname, and recalled ones marked."""
    if not entries:
        return entries
    policy = ctx.rulebooks.in_force(ctx.clock.now()).conversation
    targets = {
        int(e.data["reply_to"])  # type: ignore[call-overload]
        for e in entries
        if "reply_to" in e.data
    }
    have = {e.seq: e for e in entries}
    originals = {s: have.get(s) or await uow.timeline.get(group_id, s) for s in targets}
    senders = [e.sender_id for e in entries if e.kind is EntryKind.message and e.sender_id]
    nicks = await uow.conversation.nicknames(group_id, senders)
    out = []
    for e in entries:
        extra: dict[str, object] = {}
        if "reply_to" in e.data:
            extra["quote"] = conv.quote_of(originals.get(int(e.data["reply_to"])), policy)  # type: ignore[call-overload]
        if e.sender_id in nicks and e.kind is EntryKind.message:
            extra["sender_nickname"] = nicks[e.sender_id]
        out.append(replace(e, data={**e.data, **extra}) if extra else e)
    return out


async def withdraw(ctx: ServiceContext, uow: UnitOfWork, group_id: int, seq: int) -> None:
    """A message stops being shown (removed or recalled): it leaves the pins, and every
    registered index drops it in this same unit of work (``message_withdrawn_hooks``).
    Called before the text is taken away: the SQLite search index deletes a message by
    its own tokens."""
    await uow.search.forget(group_id, seq)
    await uow.conversation.unpin(group_id, seq)
    for hook in ctx.message_withdrawn_hooks:
        await hook(uow, group_id, seq)


def recalled_keep_until(ctx: ServiceContext, now: datetime) -> datetime:
    days = ctx.rulebooks.in_force(now).conversation.recalled_retention_days
    return now + timedelta(days=days)


async def with_kept_text(
    uow: UnitOfWork, group_id: int, items: list[EvidenceItem]
) -> list[EvidenceItem]:
    """Evidence copies of recalled messages take the text kept at recall (it is gone from
    the timeline, not from the record, until the retention period ends)."""
    out = []
    for item in items:
        if item.body is None and item.kind == EntryKind.message.value:
            kept = await uow.conversation.recalled_body(group_id, item.seq)
            if kept is not None:
                item = replace(item, body=kept)
        out.append(item)
    return out


async def reply_originals(
    uow: UnitOfWork, group_id: int, items: list[EvidenceItem]
) -> list[EvidenceItem]:
    """The messages the reported replies answer, as context (not reported themselves)."""
    have = {i.seq for i in items}
    out = []
    for item in items:
        if not item.reported:
            continue
        entry = await uow.timeline.get(group_id, item.seq)
        target = entry.data.get("reply_to") if entry is not None else None
        if isinstance(target, int) and target not in have:
            original = await uow.timeline.get(group_id, target)
            if original is not None:
                have.add(target)
                out.append(
                    EvidenceItem(
                        original.seq,
                        original.sender_id,
                        original.body,
                        original.created_at,
                        original.kind.value,
                        False,
                    )
                )
    return out
