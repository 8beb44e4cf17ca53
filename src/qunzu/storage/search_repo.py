"""The message search index on each database (docs/search.md).

Both keep ``message_search`` (id, group_id, seq): ``id`` orders hits newest first
(index order is commit order) and is the page cursor. SQLite adds a contentless
FTS5 table whose rowid is that id; PostgreSQL keeps a ``tsvector`` column with a GIN
index, written in the message's own transaction.

On SQLite a send writes only its ``message_search`` row: an FTS5 insert in a
transaction of its own costs 100-150 µs (each commit writes a new segment), against
about 10 µs in a batch. Rows above ``message_search_state.indexed_upto`` are *pending*:
every ``BATCH``-th send on a node moves them all into FTS5 in its transaction, and a
search reads the pending rows (a few dozen) with the exact rule, so a message is found
from its commit on, exactly as if it had been indexed at once.

The tokens are ``domain/search.index_tokens`` on both, so both find the same
messages; the query joins ``timeline`` and keeps only messages whose text is still
there, so an entry a removal failed to drop never shows.

The tables are created by migration 0016, not by ``tables.py``: their shape differs by
database (an FTS5 virtual table has no SQLAlchemy form).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from sqlalchemy import BigInteger, Text, text
from sqlalchemy.ext.asyncio import AsyncConnection

from qunzu.domain.models import EntryKind, TimelineEntry
from qunzu.domain.search import Query, index_tokens, matches
from qunzu.services.ports import MessageSearch, SearchHit
from qunzu.storage.fastsql import prebuilt
from qunzu.storage.tables import TS

FTS5_TOKENIZER = "unicode61 remove_diacritics 0"


def sqlite_doc(body: str) -> str:
    """The FTS5 text of a body: its tokens, space-separated (each is letters or digits)."""
    return " ".join(index_tokens(body))


def postgres_doc(body: str) -> str:
    """The ``tsvector`` literal of a body: each token quoted with its position."""
    # Positions past 16383 are clamped by PostgreSQL; a message is far shorter.
    return " ".join(f"'{tok}':{i}" for i, tok in enumerate(index_tokens(body), start=1))


_SQLITE_ADD_ROW = prebuilt(
    text("INSERT INTO message_search (group_id, seq) VALUES (:group_id, :seq)")
)
_SQLITE_WATERMARK = prebuilt(
    text("SELECT indexed_upto FROM message_search_state").columns(indexed_upto=BigInteger)
)
_SQLITE_PENDING = prebuilt(
    text(
        "SELECT s.id, t.body FROM message_search s JOIN timeline t "
        "ON t.group_id = s.group_id AND t.seq = s.seq WHERE s.id > :upto ORDER BY s.id"
    ).columns(id=BigInteger, body=Text)
)
_SQLITE_INDEX_DOC = prebuilt(text("INSERT INTO message_search_fts (rowid, doc) VALUES (:id, :doc)"))
_SQLITE_SET_WATERMARK = prebuilt(text("UPDATE message_search_state SET indexed_upto = :upto"))
# Sends per node between two moves of the pending rows into FTS5 (see the module doc).
BATCH = 32
_PG_ADD = text(
    "INSERT INTO message_search (group_id, seq, doc) "
    "VALUES (:group_id, :seq, CAST(:doc AS tsvector))"
)
_FIND = text(
    "SELECT s.id, t.body FROM message_search s JOIN timeline t "
    "ON t.group_id = s.group_id AND t.seq = s.seq WHERE s.group_id = :group_id AND s.seq = :seq"
)
_DELETE_ROW = text("DELETE FROM message_search WHERE id = :id")
_SQLITE_DELETE_DOC = text(
    "INSERT INTO message_search_fts (message_search_fts, rowid, doc) VALUES ('delete', :id, :doc)"
)

_HIT_COLUMNS: dict[str, Any] = {
    "id": BigInteger,
    "group_id": BigInteger,
    "seq": BigInteger,
    "sender_id": BigInteger,
    "body": Text,
    "created_at": TS,
}


_SQLITE_PENDING_HITS = text(
    "SELECT s.id, s.group_id, s.seq, t.sender_id, t.body, t.created_at "
    "FROM message_search s JOIN timeline t ON t.group_id = s.group_id AND t.seq = s.seq "
    "WHERE s.id > :upto AND t.kind = 'message' ORDER BY s.id"
).columns(**_HIT_COLUMNS)


def _window_sql(windows: Mapping[int, int]) -> str:
    """``group_id IN (…) AND seq >= CASE group_id WHEN … END``, the ids written as integer
    literals (``int()`` of our own ids: nothing a user typed), which spares SQLAlchemy
    parsing a hundred bind parameters per query; flat, so a member of hundreds of groups
    does not reach SQLite's expression depth limit."""
    groups = ", ".join(str(int(g)) for g in windows)
    whens = " ".join(f"WHEN {int(g)} THEN {int(first)}" for g, first in windows.items())
    return f"s.group_id IN ({groups}) AND s.seq >= CASE s.group_id {whens} END"


def _hits(rows: Any) -> list[SearchHit]:
    return [SearchHit(r.id, r.group_id, r.seq, r.sender_id, r.body, r.created_at) for r in rows]


class _Search(ABC):
    """What both engines share; each names how it matches a query (``_select``)."""

    _order = "s.id"

    def __init__(self, conn: AsyncConnection) -> None:
        self.c = conn

    async def forget(self, group_id: int, seq: int) -> None:
        row = (await self.c.execute(_FIND, {"group_id": group_id, "seq": seq})).first()
        if row is None:
            return
        await self._drop_doc(row.id, row.body)
        await self.c.execute(_DELETE_ROW, {"id": row.id})

    async def _drop_doc(self, doc_id: int, body: str | None) -> None:  # noqa: B027
        """An index kept apart from the row drops the message here (SQLite's FTS5);
        PostgreSQL's index is a column of the row, which goes with it."""

    async def candidates(
        self, query: Query, windows: Mapping[int, int], before: int | None, limit: int
    ) -> list[SearchHit]:
        if not windows:
            return []
        params: dict[str, Any] = {"limit": limit, "kind": EntryKind.message.value}
        where = [_window_sql(windows), "t.kind = :kind", "t.body IS NOT NULL"]
        if before is not None:
            params["before"] = before
            where.append("s.id < :before")
        sql = self._select(query, params) + " AND ".join(where)
        sql += f" ORDER BY {self._order} DESC LIMIT :limit"
        rows = await self.c.execute(text(sql).columns(**_HIT_COLUMNS), params)
        return _hits(rows)

    @abstractmethod
    def _select(self, query: Query, params: dict[str, Any]) -> str:
        """The engine's SELECT of candidate rows, up to the WHERE clause's conditions."""


class SqliteSearch(_Search):
    """FTS5, contentless, over the pair and word tokens; rowid = ``message_search.id``;
    the newest rows pending, moved into FTS5 every ``BATCH`` sends."""

    sends_since_flush = 0  # per process: only when to flush, never what is found
    # FTS5's own rowid: SQLite then walks the matches in that order and stops at the
    # limit; ordering by s.id (the same value) sorted every match first (0.9 ms against
    # 600 ms for a frequent pair over a million messages).
    _order = "f.rowid"

    async def add(self, entry: TimelineEntry) -> None:
        if entry.kind is not EntryKind.message or not entry.body:
            return
        await self.c.execute(_SQLITE_ADD_ROW, {"group_id": entry.group_id, "seq": entry.seq})
        SqliteSearch.sends_since_flush += 1
        if SqliteSearch.sends_since_flush >= BATCH:
            await self.flush()

    async def flush(self) -> int:
        """Move every pending row into FTS5; how many (inside the caller's transaction)."""
        SqliteSearch.sends_since_flush = 0
        upto = (await self.c.execute(_SQLITE_WATERMARK)).scalar_one()
        rows = (await self.c.execute(_SQLITE_PENDING, {"upto": upto})).all()
        for row in rows:
            if row.body:
                await self.c.execute(_SQLITE_INDEX_DOC, {"id": row.id, "doc": sqlite_doc(row.body)})
        if rows:
            await self.c.execute(_SQLITE_SET_WATERMARK, {"upto": rows[-1].id})
        return len(rows)

    async def _drop_doc(self, doc_id: int, body: str | None) -> None:
        # A contentless FTS5 table deletes by the tokens it was given; once the text is
        # gone only the row in message_search goes, which already hides the message.
        # A pending row has nothing in FTS5 yet.
        upto = (await self.c.execute(_SQLITE_WATERMARK)).scalar_one()
        if body and doc_id <= upto:
            await self.c.execute(_SQLITE_DELETE_DOC, {"id": doc_id, "doc": sqlite_doc(body)})

    async def candidates(
        self, query: Query, windows: Mapping[int, int], before: int | None, limit: int
    ) -> list[SearchHit]:
        if not windows:
            return []
        upto = (await self.c.execute(_SQLITE_WATERMARK)).scalar_one()
        pending = await self._pending(query, windows, before, upto)
        if len(pending) >= limit:
            return pending[:limit]
        indexed_before = upto + 1 if before is None else min(before, upto + 1)
        return pending + await super().candidates(
            query, windows, indexed_before, limit - len(pending)
        )

    async def _pending(
        self, query: Query, windows: Mapping[int, int], before: int | None, upto: int
    ) -> list[SearchHit]:
        """Pending rows holding the query, newest first, by the exact rule and filtered
        here (they are few, see BATCH; read by ``id`` alone so SQLite walks just them)."""
        rows = await self.c.execute(_SQLITE_PENDING_HITS, {"upto": upto})
        hits = [
            h
            for h in reversed(_hits(rows))
            if h.group_id in windows
            and h.seq >= windows[h.group_id]
            and (before is None or h.doc_id < before)
            and h.body is not None
            and matches(query, h.body)
        ]
        return hits

    def _select(self, query: Query, params: dict[str, Any]) -> str:
        params["match"] = query.fts5()
        # CROSS JOIN keeps FTS5 as the outer loop, walking its matches newest first and
        # stopping at ``limit``, rather than every message of the searcher's groups.
        return (
            "SELECT s.id, s.group_id, s.seq, t.sender_id, t.body, t.created_at "
            "FROM message_search_fts f CROSS JOIN message_search s ON s.id = f.rowid "
            "CROSS JOIN timeline t ON t.group_id = s.group_id AND t.seq = s.seq "
            "WHERE message_search_fts MATCH :match AND "
            + ("f.rowid < :before AND " if "before" in params else "")
        )


class PostgresSearch(_Search):
    """A ``tsvector`` of the same tokens with a GIN index, the groups as ``IN``."""

    async def add(self, entry: TimelineEntry) -> None:
        if entry.kind is not EntryKind.message or not entry.body:
            return
        await self.c.execute(
            _PG_ADD,
            {"group_id": entry.group_id, "seq": entry.seq, "doc": postgres_doc(entry.body)},
        )

    def _select(self, query: Query, params: dict[str, Any]) -> str:
        params["tsq"] = query.tsquery()
        return (
            "SELECT s.id, s.group_id, s.seq, t.sender_id, t.body, t.created_at "
            "FROM message_search s JOIN timeline t ON t.group_id = s.group_id AND t.seq = s.seq "
            "WHERE s.doc @@ CAST(:tsq AS tsquery) AND "
        )


def make_search(conn: AsyncConnection) -> MessageSearch:
    if conn.dialect.name == "postgresql":
        return PostgresSearch(conn)
    return SqliteSearch(conn)
