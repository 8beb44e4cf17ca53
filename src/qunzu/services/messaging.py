"""Messages: sending (idempotent per sender and client transaction id), history, direct chats.

A send loads (one read, ``uow.posting.load``), asks the domain (``domain.posting``),
persists and publishes; every rule it applies lives in the domain.

``messages_per_minute`` is counted per node, in memory (as Synapse's rate limiter
does), and a send takes its slot in the same step as the check, before anything
else can run on the loop: so concurrent sends on one node cannot get past the limit
together, and a send that then fails gives its slot back. With several nodes behind a
balancer each node counts what it served: a sender spread over N nodes may post up to
N times the limit in a minute (docs/performance.md explains why not the database).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from qunzu.domain import permissions as perm
from qunzu.domain.errors import Conflict, InvalidInput, NotFound
from qunzu.domain.history import history_page
from qunzu.domain.models import (
    EntryKind,
    Group,
    GroupKind,
    GroupRole,
    GroupState,
    JoinPolicy,
    Membership,
    MembershipState,
    TimelineEntry,
)
from qunzu.domain.posting import (
    PostingState,
    Sender,
    activity_write_due,
    can_post,
    check_message,
    check_retry,
)
from qunzu.domain.rulebook import Rulebook, Tier
from qunzu.services import attached, enforcement
from qunzu.services.actor import Actor, handle_key
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.group_access import load_group, new_group_number
from qunzu.services.ports import UnitOfWork
from qunzu.services.threads import References, decorate, record_references, resolve_references
from qunzu.services.timeline import append_entry, notify

NO_REFERENCES = References()


@dataclass(frozen=True, slots=True)
class SendResult:
    entry: TimelineEntry
    created: bool  # False when a retried send returned the original message


@dataclass(frozen=True, slots=True)
class HistoryPage:
    entries: list[TimelineEntry]
    first_visible_seq: int
    last_visible_seq: int


async def do_send_message(
    ctx: ServiceContext,
    actor: Actor,
    group_id: int,
    body: str,
    client_txn_id: str,
    attachments: Sequence[int] = (),
    refs: References = NO_REFERENCES,
) -> SendResult:
    """Post a message, with the sender's uploads attached, perhaps a reply or with mentions
    (``refs``). A retry with the same
    ``client_txn_id`` returns the original."""
    book = ctx.rulebooks.in_force(ctx.clock.now())
    check_message(body, client_txn_id, book)
    try:
        result = await _send(ctx, actor, book, group_id, body, client_txn_id, attachments, refs)
    except Conflict as exc:
        if exc.code != "duplicate":
            raise
        # A retry that raced its original (another node, or a second connection on
        # PostgreSQL): both read the id as unused, the original committed first and this
        # insert met the unique (sender, client_txn_id). The posting read now sees it.
        async with transaction(ctx, write=False) as uow:
            state = await uow.posting.load(group_id, actor.id, client_txn_id, ctx.clock.now())
        if state is None or state.previous is None:
            raise
        check_retry(state.previous, group_id, body)
        return SendResult(state.previous, created=False)
    if result.created:
        ctx.observer.message_sent()
    return result


async def _send(
    ctx: ServiceContext,
    actor: Actor,
    book: Rulebook,
    group_id: int,
    body: str,
    client_txn_id: str,
    attachments: Sequence[int],
    refs: References,
) -> SendResult:
    rate, now, taken = ctx.message_rate, ctx.clock.now(), False
    try:
        async with transaction(ctx) as uow:
            state = await _posting_state(ctx, uow, actor.id, group_id, client_txn_id)
            if state is not None and state.previous is not None:
                check_retry(state.previous, group_id, body)
                return SendResult(state.previous, created=False)
            # Check and take the slot with nothing in between (no await): see the module doc.
            sender = Sender(actor.account, actor.level, rate.used(actor.id, now))
            posting = can_post(state, sender, book, now)
            rate.add(actor.id, now)
            taken = True
            data = (
                await attached.message_data(uow, actor.id, attachments, book) if attachments else {}
            )
            entry = await _append_message(ctx, uow, state, actor, body, client_txn_id, refs, data)
            await attached.link(uow, attachments, group_id, entry.seq)
            await _note_activity(ctx, uow, group_id, actor.id, posting.exact_activity)
    except BaseException:
        if taken:
            rate.remove(actor.id, now)
        raise
    return SendResult(entry, created=True)


async def _append_message(
    ctx: ServiceContext,
    uow: UnitOfWork,
    state: PostingState | None,
    actor: Actor,
    body: str,
    client_txn_id: str,
    refs: References,
    data: dict[str, Any],
) -> TimelineEntry:
    """The plain send appends at once; a reply or a mention is checked first (same unit).
    ``data``: what the message carries already (its attachments)."""
    assert state is not None and state.membership is not None  # can_post passed
    if refs.empty:
        return await append_entry(
            ctx,
            uow,
            state.group.id,
            EntryKind.message,
            actor.id,
            body=body,
            client_txn_id=client_txn_id,
            data=data,
        )
    resolved = await resolve_references(
        ctx, uow, state.group, state.membership, refs, ctx.clock.now()
    )
    entry = await append_entry(
        ctx,
        uow,
        state.group.id,
        EntryKind.message,
        actor.id,
        body=body,
        client_txn_id=client_txn_id,
        data={**data, **resolved.data},
        shown=resolved.shown,
    )
    await record_references(ctx, uow, entry, resolved)
    return entry


async def _posting_state(
    ctx: ServiceContext, uow: UnitOfWork, account_id: int, group_id: int, client_txn_id: str
) -> PostingState | None:
    """The posting read, with the sanctions in force when it says there are some."""
    state = await uow.posting.load(group_id, account_id, client_txn_id, ctx.clock.now())
    if state is None or not state.sanctions_in_force or state.previous is not None:
        return state
    sanctions = await enforcement.in_force(ctx, uow, group_id, account_id)
    return replace(state, sanctions=tuple(sanctions))


async def _note_activity(
    ctx: ServiceContext, uow: UnitOfWork, group_id: int, account_id: int, exact: bool
) -> None:
    """Last activity of group and member (Art. 7), and the account's active day for credit.

    Written at most once a minute per sender and node (``activity_write_due``); the
    active day once per day per node."""
    now = ctx.clock.now()
    noted = ctx.activity_noted
    key = (group_id, account_id)
    if activity_write_due(noted.get(key), now, exact):
        await uow.activity.touch(group_id, account_id, now)
        if len(noted) > 200_000:
            noted.clear()
        noted[key] = now
    day_key = (account_id, now.date().isoformat())
    if day_key not in ctx.active_days_seen:
        await uow.credit.mark_active_day(account_id, day_key[1])
        if len(ctx.active_days_seen) > 200_000:
            ctx.active_days_seen.clear()
        ctx.active_days_seen.add(day_key)


async def read_history(
    ctx: ServiceContext,
    actor: Actor,
    group_id: int,
    after: int | None = None,
    before: int | None = None,
    limit: int = 50,
) -> HistoryPage:
    """A page of the timeline, after or before a ``seq`` (not both); newest page by default."""
    async with transaction(ctx, write=False) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        page = history_page(group, membership, after, before, limit, ctx.limits.history_page_max)
        entries: list[TimelineEntry] = []
        # One read per membership period, until the page is full (the gaps are never read).
        if page.after is not None:
            for start, upto in page.forward():
                if len(entries) < limit:
                    more = await uow.timeline.after(
                        group_id, start, limit - len(entries), upto=upto
                    )
                    entries += more
        else:
            for end, floor in page.backward():
                if len(entries) < limit:
                    more = await uow.timeline.before(
                        group_id, end, limit - len(entries), floor=floor
                    )
                    entries[:0] = more
        entries = await decorate(ctx, uow, group_id, entries)
    return HistoryPage(entries, page.first, page.last)


async def do_open_direct(ctx: ServiceContext, actor: Actor, peer: str) -> Group:
    """Open (or return) the one-to-one conversation with another account: a private space (P1)."""
    perm.check_can_create_group(actor.account)
    async with transaction(ctx) as uow:
        key = handle_key(peer)
        other = await uow.accounts.get_by_handle(key) if key else None
        if other is None:
            raise NotFound("account_not_found", "No such account.")
        if other.id == actor.id:
            raise InvalidInput("cannot_message_self", "A direct conversation needs two people.")
        low, high = sorted((actor.id, other.id))
        key = f"{low}:{high}"
        existing = await uow.groups.get_direct(key)
        if existing is not None:
            return existing
        now = ctx.clock.now()
        draft = Group(
            id=0,
            number=0,
            kind=GroupKind.direct,
            name="",
            category=None,
            join_policy=JoinPolicy.invite_only,
            discoverable=False,
            owner_id=None,
            state=GroupState.active,
            created_at=now,
            member_count=2,
        )
        draft = replace(draft, number=await new_group_number(uow))
        group = await uow.groups.add(draft, direct_key=key)
        await uow.activity.init_group(group.id, actor.id, Tier.private.value)
        created = await append_entry(
            ctx,
            uow,
            group.id,
            EntryKind.group_created,
            actor.id,
            data={"kind": "direct", "members": [low, high]},
        )
        for account_id in (low, high):
            await uow.memberships.put(
                Membership(
                    group.id, account_id, GroupRole.member, MembershipState.active, now, created.seq
                )
            )
            notify(uow, account_id, "membership_added", group_id=group.id, joined_seq=created.seq)
        fresh = await uow.groups.get(group.id)
    assert fresh is not None
    return fresh
