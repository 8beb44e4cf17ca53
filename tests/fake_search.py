"""The message search index as a dictionary: doc id -> (group, seq), answered by the
domain's exact rule over the timeline (tests/fakes.py wires it into the fake unit of work)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from qunzu.domain.models import EntryKind, TimelineEntry
from qunzu.domain.search import Query, matches
from qunzu.services.ports import SearchHit

if TYPE_CHECKING:
    from tests.fakes import FakeUnitOfWork


class FakeSearch:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    async def add(self, entry: TimelineEntry) -> None:
        if entry.kind is not EntryKind.message or not entry.body:
            return
        s = self._uow.state_for_write()
        s.search_docs[self._uow.store.next_id("search_docs")] = (entry.group_id, entry.seq)

    async def forget(self, group_id: int, seq: int) -> None:
        s = self._uow.state_for_write()
        for doc_id, key in list(s.search_docs.items()):
            if key == (group_id, seq):
                del s.search_docs[doc_id]

    async def candidates(
        self, query: Query, windows: Mapping[int, int], before: int | None, limit: int
    ) -> list[SearchHit]:
        s = self._uow.state
        hits: list[SearchHit] = []
        for doc_id in sorted(s.search_docs, reverse=True):
            group_id, seq = s.search_docs[doc_id]
            entry = s.timeline.get((group_id, seq))
            if before is not None and doc_id >= before:
                continue
            if group_id not in windows or seq < windows[group_id]:
                continue
            if entry is None or entry.body is None or not matches(query, entry.body):
                continue
            hits.append(
                SearchHit(doc_id, group_id, seq, entry.sender_id, entry.body, entry.created_at)
            )
            if len(hits) == limit:
                break
        return hits
