"""Appending to a group's timeline: the one place that takes a ``seq``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from qunzu.domain.events import AccountNotified, TimelineAppended
from qunzu.domain.models import EntryKind, TimelineEntry
from qunzu.services.context import ServiceContext
from qunzu.services.ports import UnitOfWork


async def append_entry(
    ctx: ServiceContext,
    uow: UnitOfWork,
    group_id: int,
    kind: EntryKind,
    sender_id: int | None,
    *,
    body: str | None = None,
    client_txn_id: str | None = None,
    data: dict[str, Any] | None = None,
    shown: dict[str, Any] | None = None,
) -> TimelineEntry:
    """Append an entry. ``shown`` is data for the returned and published copy only (a
    reply's quote as it stands now), never stored with the entry."""
    seq = await uow.groups.next_seq(group_id)
    entry = TimelineEntry(
        group_id=group_id,
        seq=seq,
        kind=kind,
        sender_id=sender_id,
        created_at=ctx.clock.now(),
        body=body,
        client_txn_id=client_txn_id,
        data=data or {},
    )
    await uow.timeline.append(entry)
    # The search index in the message's own transaction: found once committed, never before.
    await uow.search.add(entry)
    if shown:
        entry = replace(entry, data={**entry.data, **shown})
    uow.events.append(TimelineAppended(entry))
    return entry


def notify(uow: UnitOfWork, recipient: int, kind: str, /, **data: Any) -> None:
    """Queue a per-account notice (delivered live only; the REST API is its record)."""
    uow.events.append(AccountNotified(recipient, kind, data))
