"""What a live event stream needs from storage: where to start, and what was missed.

A stream is resumable because every group event has a gap-free ``seq``: the client
keeps the last ``seq`` it saw per group (its cursor) and, on reconnecting, the
server replays everything after it from storage before going live.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qunzu.domain.errors import Forbidden, InvalidInput, NotFound
from qunzu.domain.models import TimelineEntry
from qunzu.domain.permissions import visible_window
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.threads import decorate

MAX_CURSOR_GROUPS = 5000
# ASCII digits only (str.isdigit also takes "²", which int() refuses), and short
# enough that int() never meets its digit limit.
_NUMBER = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True, slots=True)
class StreamStart:
    group_id: int
    after: int  # deliver entries with seq > after
    upto: int | None  # None: follow live; a number: the member left at that seq


def parse_since(raw: str | None) -> dict[int, int] | None:
    """``since`` is ``group:seq`` pairs separated by commas, e.g. ``12:40,15:3``."""
    if raw is None:
        return None
    cursors: dict[int, int] = {}
    if raw.strip() == "":
        return cursors
    parts = raw.split(",")
    if len(parts) > MAX_CURSOR_GROUPS:
        raise InvalidInput("invalid_cursor", f"A cursor names at most {MAX_CURSOR_GROUPS} groups.")
    for part in parts:
        group, sep, seq = part.strip().partition(":")
        if not sep or not _NUMBER.fullmatch(group) or not _NUMBER.fullmatch(seq):
            raise InvalidInput("invalid_cursor", "since is a list of group:seq pairs.")
        cursors[int(group)] = int(seq)
    return cursors


async def plan_stream(
    ctx: ServiceContext, actor: Actor, since: dict[int, int] | None
) -> list[StreamStart]:
    """Where each group's delivery starts.

    Without ``since`` the stream is live only (history comes from the REST API).
    With ``since``, named groups resume after their cursor and groups joined
    while away replay from the joining, so nothing is lost across a reconnect.
    A cursor for a group the account never belonged to, or past the group's
    newest entry, does not exist: refused.
    """
    async with transaction(ctx, write=False) as uow:
        rows = await uow.memberships.for_account(actor.id, active_only=False)
    memberships = {m.group_id: (m, g) for m, g in rows}
    plan: list[StreamStart] = []
    if since is not None:
        for group_id, seq in since.items():
            if group_id not in memberships:
                raise NotFound(
                    "cursor_not_found",
                    f"Cursor names group {group_id}, which you never belonged to.",
                    group_id=group_id,
                )
            membership, group = memberships[group_id]
            if seq > group.last_seq:
                raise NotFound(
                    "cursor_not_found",
                    f"Cursor {group_id}:{seq} is past the newest entry ({group.last_seq}).",
                    group_id=group_id,
                )
    for group_id, (membership, group) in memberships.items():
        first, last = visible_window(membership, group)
        if membership.is_active:
            if since is None:
                plan.append(StreamStart(group_id, group.last_seq, None))
            else:
                start = since.get(group_id, first - 1)
                plan.append(StreamStart(group_id, max(start, first - 1), None))
        elif since is not None and group_id in since and since[group_id] < last:
            plan.append(StreamStart(group_id, max(since[group_id], first - 1), last))
    return plan


async def entries_after(
    ctx: ServiceContext,
    account_id: int,
    group_id: int,
    after: int,
    limit: int,
    upto: int | None = None,
) -> list[TimelineEntry]:
    """Entries the account may see in a group after a seq (for catch-up and gap repair)."""
    async with transaction(ctx, write=False) as uow:
        membership = await uow.memberships.get(group_id, account_id)
        group = await uow.groups.get(group_id)
        if membership is None or group is None:
            raise Forbidden("not_a_member", "You are not a member of this group.")
        first, last = visible_window(membership, group)
        ceiling = last if upto is None else min(upto, last)
        entries = await uow.timeline.after(group_id, max(after, first - 1), limit, upto=ceiling)
        return await decorate(ctx, uow, group_id, entries)
