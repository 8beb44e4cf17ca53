"""``ConversationRepository``: mentions, recalled texts, pins, group nicknames."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update

from qunzu.domain.conversation import ALL_MEMBERS, MENTION_COUNT_CAP
from qunzu.storage import tables as t


class SqlConversation:
    def __init__(self, c: Any) -> None:
        self.c = c

    async def add_mentions(
        self, group_id: int, seq: int, sender_id: int, account_ids: Sequence[int], at: datetime
    ) -> None:
        if account_ids:
            await self.c.execute(
                insert(t.message_mentions),
                [
                    {
                        "group_id": group_id,
                        "account_id": a,
                        "seq": seq,
                        "sender_id": sender_id,
                        "at": at,
                    }
                    for a in account_ids
                ],
            )

    async def count_mentions(
        self, group_id: int, account_id: int, after_seq: int, cap: int = MENTION_COUNT_CAP
    ) -> int:
        # An indexed range read on the primary key (group_id, account_id, seq) that stops
        # after ``cap`` messages; a message naming the account and @all counts once.
        m = t.message_mentions
        seqs = (
            select(m.c.seq)
            .where(
                m.c.group_id == group_id,
                or_(
                    m.c.account_id == account_id,
                    (m.c.account_id == ALL_MEMBERS) & (m.c.sender_id != account_id),
                ),
                m.c.seq > after_seq,
            )
            .distinct()
            .limit(cap)
            .subquery()
        )
        return int((await self.c.execute(select(func.count()).select_from(seqs))).scalar_one())

    async def mention_all_since(self, group_id: int, sender_id: int, since: datetime) -> int:
        m = t.message_mentions
        stmt = select(func.count()).where(
            m.c.group_id == group_id,
            m.c.account_id == ALL_MEMBERS,
            m.c.sender_id == sender_id,
            m.c.at >= since,
        )
        return int((await self.c.execute(stmt)).scalar_one())

    async def keep_recalled(
        self,
        group_id: int,
        seq: int,
        sender_id: int,
        body: str,
        recalled_at: datetime,
        keep_until: datetime,
    ) -> None:
        await self.c.execute(
            insert(t.recalled_messages).values(
                group_id=group_id,
                seq=seq,
                sender_id=sender_id,
                body=body,
                recalled_at=recalled_at,
                keep_until=keep_until,
            )
        )

    async def recalled_body(self, group_id: int, seq: int) -> str | None:
        r = t.recalled_messages
        row = (
            await self.c.execute(select(r.c.body).where(r.c.group_id == group_id, r.c.seq == seq))
        ).first()
        return None if row is None else str(row[0])

    async def purge_recalled(self, now: datetime) -> int:
        r = t.recalled_messages
        res = await self.c.execute(delete(r).where(r.c.keep_until <= now))
        return int(res.rowcount or 0)

    async def pins(self, group_id: int) -> list[tuple[int, int, datetime]]:
        p = t.pinned_messages
        rows = await self.c.execute(
            select(p.c.seq, p.c.pinned_by, p.c.pinned_at)
            .where(p.c.group_id == group_id)
            .order_by(p.c.pinned_at, p.c.seq)
        )
        return [(int(r.seq), int(r.pinned_by), r.pinned_at) for r in rows]

    async def pin(self, group_id: int, seq: int, by: int, at: datetime) -> None:
        await self.c.execute(
            insert(t.pinned_messages).values(group_id=group_id, seq=seq, pinned_by=by, pinned_at=at)
        )

    async def unpin(self, group_id: int, seq: int) -> bool:
        p = t.pinned_messages
        res = await self.c.execute(delete(p).where(p.c.group_id == group_id, p.c.seq == seq))
        return bool(res.rowcount)

    async def set_nickname(
        self, group_id: int, account_id: int, nickname: str | None, at: datetime
    ) -> None:
        n = t.group_nicknames
        where = (n.c.group_id == group_id, n.c.account_id == account_id)
        if nickname is None:
            await self.c.execute(delete(n).where(*where))
            return
        res = await self.c.execute(update(n).where(*where).values(nickname=nickname, set_at=at))
        if not res.rowcount:
            await self.c.execute(
                insert(n).values(
                    group_id=group_id, account_id=account_id, nickname=nickname, set_at=at
                )
            )

    async def nicknames(self, group_id: int, account_ids: Sequence[int]) -> dict[int, str]:
        if not account_ids:
            return {}
        n = t.group_nicknames
        rows = await self.c.execute(
            select(n.c.account_id, n.c.nickname).where(
                n.c.group_id == group_id, n.c.account_id.in_(sorted(set(account_ids)))
            )
        )
        return {int(r.account_id): str(r.nickname) for r in rows}
