"""Message search (消息搜索): in the searcher's groups, inside their visible window, never
removed content (docs/search.md).

The engine behind ``uow.search`` finds candidates by tokens; this module keeps only
those the domain's exact rule (``domain/search.matches``) accepts, so no engine can
show a message that does not hold the query. The rate limit is per account and node,
in memory, as ``messages_per_minute`` is (services/messaging.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from qunzu.domain.errors import Forbidden, InvalidInput, QuotaExceeded
from qunzu.domain.permissions import visible_window
from qunzu.domain.rulebook import SearchPolicy
from qunzu.domain.search import Query, Segment, matches, parse_query, snippet
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.ports import SearchHit, UnitOfWork

# How many engine pages one request may walk to fill a page of exact hits; past it the
# page comes back short with a cursor to go on from (bounds the work of one request).
MAX_SCANS = 8


@dataclass(frozen=True, slots=True)
class SearchResult:
    group_id: int
    group_name: str
    seq: int
    sender_id: int | None
    sender_name: str
    created_at: datetime
    snippet: list[Segment]


@dataclass(frozen=True, slots=True)
class SearchPage:
    results: list[SearchResult]
    next_before: int | None  # the cursor for the next (older) page; None at the end


def check_search(policy: SearchPolicy, q: str, before: int | None, limit: int) -> Query:
    if not 1 <= limit <= policy.page_max:
        raise InvalidInput("invalid_limit", f"limit is 1 to {policy.page_max}.")
    if before is not None and before < 1:
        raise InvalidInput("invalid_cursor", "before is a cursor from a previous page.")
    return parse_query(q, policy.min_chars, policy.max_chars, policy.max_terms)


async def search_messages(
    ctx: ServiceContext,
    actor: Actor,
    q: str,
    group_id: int | None = None,
    before: int | None = None,
    limit: int = 20,
) -> SearchPage:
    """Messages holding ``q``, newest first, ``limit`` at a time, older than ``before``."""
    now = ctx.clock.now()
    policy = ctx.rulebooks.in_force(now).search
    query = check_search(policy, q, before, limit)
    if ctx.search_rate.used(actor.id, now) >= policy.per_minute:
        raise QuotaExceeded(
            "search_rate_limited",
            f"At most {policy.per_minute} searches a minute; try again shortly.",
            limit=policy.per_minute,
        )
    ctx.search_rate.add(actor.id, now)
    async with transaction(ctx, write=False) as uow:
        names, windows = await _windows(uow, actor.id, group_id)
        hits, next_before = await _exact_hits(uow, query, windows, before, limit)
        senders = await _sender_names(uow, hits)
    results = [
        SearchResult(
            h.group_id,
            names[h.group_id],
            h.seq,
            h.sender_id,
            senders.get(h.sender_id, ""),
            h.created_at,
            snippet(query, h.body),
        )
        for h in hits
    ]
    return SearchPage(results, next_before)


async def _windows(
    uow: UnitOfWork, account_id: int, group_id: int | None
) -> tuple[dict[int, str], dict[int, int]]:
    """Group names, and the first seq the member may see in each group they belong to
    (``visible_window``: a member who left and rejoined sees from the rejoining on)."""
    names: dict[int, str] = {}
    windows: dict[int, int] = {}
    for membership, group in await uow.memberships.for_account(account_id, active_only=True):
        names[group.id] = group.name
        windows[group.id] = visible_window(membership, group)[0]
    if group_id is not None:
        if group_id not in windows:
            raise Forbidden("not_a_member", "You are not a member of this group.")
        windows = {group_id: windows[group_id]}
    return names, windows


async def _exact_hits(
    uow: UnitOfWork, query: Query, windows: dict[int, int], before: int | None, limit: int
) -> tuple[list[SearchHit], int | None]:
    """Engine candidates the exact rule accepts, until ``limit`` and one more are found."""
    found: list[SearchHit] = []
    cursor = before
    for _ in range(MAX_SCANS):
        want = limit + 1 - len(found)
        batch = await uow.search.candidates(query, windows, cursor, want)
        found.extend(h for h in batch if matches(query, h.body))
        if len(found) > limit:
            return found[:limit], found[limit - 1].doc_id
        if len(batch) < want:
            return found, None
        cursor = batch[-1].doc_id
    # Scanned enough for one request: the page may be short, the cursor goes on from here.
    return found, cursor


async def _sender_names(uow: UnitOfWork, hits: list[SearchHit]) -> dict[int | None, str]:
    ids = sorted({h.sender_id for h in hits if h.sender_id is not None})
    accounts = await uow.accounts.get_many(ids) if ids else {}
    return {account_id: account.display_name for account_id, account in accounts.items()}
