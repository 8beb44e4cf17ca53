"""Messages: sending (idempotent per sender and client transaction id), history, direct chats."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from qunzu.domain import permissions as perm
from qunzu.domain.errors import Conflict, InvalidInput, NotFound
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
from qunzu.domain.permissions import visible_window
from qunzu.domain.rulebook import Tier
from qunzu.services import enforcement, governance
from qunzu.services.actor import Actor, handle_key
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.group_access import load_group, new_group_number
from qunzu.services.timeline import append_entry, notify

_TXN_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")


@dataclass(frozen=True, slots=True)
class SendResult:
    entry: TimelineEntry
    created: bool  # False when a retried send returned the original message


@dataclass(frozen=True, slots=True)
class HistoryPage:
    entries: list[TimelineEntry]
    first_visible_seq: int
    last_visible_seq: int


def validate_body(ctx: ServiceContext, body: str) -> str:
    if not body.strip():
        raise InvalidInput("empty_message", "A message needs some text.")
    if len(body) > ctx.limits.max_message_chars:
        raise InvalidInput(
            "message_too_long",
            f"A message is at most {ctx.limits.max_message_chars} characters.",
            limit=ctx.limits.max_message_chars,
        )
    if "\x00" in body:
        raise InvalidInput("invalid_message", "A message cannot contain NUL characters.")
    return body


def validate_txn_id(client_txn_id: str) -> str:
    if not _TXN_RE.fullmatch(client_txn_id):  # match() lets '$' pass a trailing newline
        raise InvalidInput(
            "invalid_client_txn_id",
            "client_txn_id is 1 to 64 characters of letters, digits and . _ : -",
        )
    return client_txn_id


def _as_retry(previous: TimelineEntry, group_id: int, body: str) -> SendResult:
    """A send whose ``client_txn_id`` was used: the original, if it is the same message."""
    if previous.group_id != group_id or previous.body != body:
        raise Conflict(
            "txn_id_reused", "This client_txn_id was already used for a different message."
        )
    return SendResult(previous, created=False)


async def do_send_message(
    ctx: ServiceContext, actor: Actor, group_id: int, body: str, client_txn_id: str
) -> SendResult:
    """Post a message. A retry with the same ``client_txn_id`` returns the original."""
    body = validate_body(ctx, body)
    validate_txn_id(client_txn_id)
    try:
        result = await _send(ctx, actor, group_id, body, client_txn_id)
    except Conflict as exc:
        if exc.code != "duplicate":
            raise
        # A retry that raced its original (another node, or a second connection on
        # PostgreSQL): both read the id as unused, the original committed first and this
        # insert met the unique (sender, client_txn_id). It is a retry all the same.
        async with transaction(ctx, write=False) as uow:
            previous = await uow.timeline.get_by_txn(actor.id, client_txn_id)
        if previous is None:
            raise
        return _as_retry(previous, group_id, body)
    if result.created:
        governance.note_message(ctx, actor.id)
        ctx.observer.message_sent()
    return result


async def _send(
    ctx: ServiceContext, actor: Actor, group_id: int, body: str, client_txn_id: str
) -> SendResult:
    async with transaction(ctx) as uow:
        # One read for everything below (storage/posting_repo.py); the retry and the
        # sanctions are read in full only when that read says there is something to see.
        state = await uow.posting.load(group_id, actor.id, client_txn_id, ctx.clock.now())
        if state is None or state.txn_used:
            previous = await uow.timeline.get_by_txn(actor.id, client_txn_id)
            if previous is not None:
                return _as_retry(previous, group_id, body)
        group = perm.check_visible(
            state.group if state else None, state.membership if state else None
        )
        assert state is not None  # check_visible refused a missing group
        member = perm.check_can_post(actor.account, group, state.membership)
        if state.sanctions_in_force:
            await enforcement.check_may_post(ctx, uow, actor.id, group_id, member)
        await governance.check_send_controls(ctx, uow, state.controls, state.mute, member)
        governance.check_level_can_post(ctx, actor.level)
        governance.check_message_rate(ctx, actor.id, actor.level)
        entry = await append_entry(
            ctx, uow, group_id, EntryKind.message, actor.id, body=body, client_txn_id=client_txn_id
        )
        await governance.note_activity(
            ctx, uow, group_id, actor.id, exact=state.controls.slow_mode_seconds > 0
        )
    return SendResult(entry, created=True)


async def read_history(
    ctx: ServiceContext,
    actor: Actor,
    group_id: int,
    after: int | None = None,
    before: int | None = None,
    limit: int = 50,
) -> HistoryPage:
    """A page of the timeline, after or before a ``seq`` (not both); newest page by default."""
    if after is not None and before is not None:
        raise InvalidInput("invalid_cursor", "Give either after or before, not both.")
    if not 1 <= limit <= ctx.limits.history_page_max:
        raise InvalidInput("invalid_limit", f"limit is 1 to {ctx.limits.history_page_max}.")
    async with transaction(ctx, write=False) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        if membership is None:
            raise perm.Forbidden("not_a_member", "You are not a member of this group.")
        first, last = visible_window(membership, group)
        if after is not None:
            if after < 0 or after > group.last_seq:
                raise InvalidInput(
                    "invalid_cursor", "No such position in this group.", last_seq=group.last_seq
                )
            entries = await uow.timeline.after(group_id, max(after, first - 1), limit, upto=last)
        else:
            if before is None:
                before = last + 1
            elif before < 1 or before > group.last_seq + 1:
                raise InvalidInput(
                    "invalid_cursor", "No such position in this group.", last_seq=group.last_seq
                )
            entries = await uow.timeline.before(group_id, min(before, last + 1), limit, floor=first)
    return HistoryPage(entries, first, last)


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
