"""In-memory ``ConversationRepository`` for the unit tests (mirrors
storage/conversation_repo.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from qunzu.domain.conversation import ALL_MEMBERS, MENTION_COUNT_CAP


class FakeConversationTables:
    def __init__(self) -> None:
        # (group, account, seq) -> (sender, at)
        self.mentions: dict[tuple[int, int, int], tuple[int, datetime]] = {}
        self.recalled: dict[tuple[int, int], tuple[int, str, datetime, datetime]] = {}
        self.pins: dict[tuple[int, int], tuple[int, datetime]] = {}
        self.nicknames: dict[tuple[int, int], str] = {}

    def __copy__(self) -> FakeConversationTables:
        other = FakeConversationTables()
        other.mentions = dict(self.mentions)
        other.recalled = dict(self.recalled)
        other.pins = dict(self.pins)
        other.nicknames = dict(self.nicknames)
        return other


class FakeConversation:
    def __init__(self, uow: Any) -> None:
        self._uow = uow

    @property
    def t(self) -> FakeConversationTables:
        return self._uow.state.conversation_tables  # type: ignore[no-any-return]

    def _w(self) -> FakeConversationTables:
        return self._uow.state_for_write().conversation_tables  # type: ignore[no-any-return]

    async def add_mentions(
        self, group_id: int, seq: int, sender_id: int, account_ids: Sequence[int], at: datetime
    ) -> None:
        if account_ids:
            w = self._w()
            for a in account_ids:
                w.mentions[(group_id, a, seq)] = (sender_id, at)

    async def count_mentions(
        self, group_id: int, account_id: int, after_seq: int, cap: int = MENTION_COUNT_CAP
    ) -> int:
        return min(
            cap,
            len(
                {
                    s
                    for (g, a, s), (sender, _at) in self.t.mentions.items()
                    if g == group_id
                    and s > after_seq
                    and (a == account_id or (a == ALL_MEMBERS and sender != account_id))
                }
            ),
        )

    async def mention_all_since(self, group_id: int, sender_id: int, since: datetime) -> int:
        return sum(
            1
            for (g, a, _s), (sender, at) in self.t.mentions.items()
            if g == group_id and a == ALL_MEMBERS and sender == sender_id and at >= since
        )

    async def keep_recalled(
        self,
        group_id: int,
        seq: int,
        sender_id: int,
        body: str,
        recalled_at: datetime,
        keep_until: datetime,
    ) -> None:
        self._w().recalled[(group_id, seq)] = (sender_id, body, recalled_at, keep_until)

    async def recalled_body(self, group_id: int, seq: int) -> str | None:
        row = self.t.recalled.get((group_id, seq))
        return None if row is None else row[1]

    async def purge_recalled(self, now: datetime) -> int:
        w = self._w()
        gone = [k for k, v in w.recalled.items() if v[3] <= now]
        for k in gone:
            del w.recalled[k]
        return len(gone)

    async def pins(self, group_id: int) -> list[tuple[int, int, datetime]]:
        rows = [(s, by, at) for (g, s), (by, at) in self.t.pins.items() if g == group_id]
        return sorted(rows, key=lambda r: (r[2], r[0]))

    async def pin(self, group_id: int, seq: int, by: int, at: datetime) -> None:
        self._w().pins[(group_id, seq)] = (by, at)

    async def unpin(self, group_id: int, seq: int) -> bool:
        return self._w().pins.pop((group_id, seq), None) is not None

    async def set_nickname(
        self, group_id: int, account_id: int, nickname: str | None, at: datetime
    ) -> None:
        w = self._w()
        if nickname is None:
            w.nicknames.pop((group_id, account_id), None)
        else:
            w.nicknames[(group_id, account_id)] = nickname

    async def nicknames(self, group_id: int, account_ids: Sequence[int]) -> dict[int, str]:
        return {
            a: self.t.nicknames[(group_id, a)]
            for a in set(account_ids)
            if (group_id, a) in self.t.nicknames
        }
