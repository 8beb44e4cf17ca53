"""0016: the message search index (docs/search.md), filled from the messages already kept.

SQLite: ``message_search`` (id, group_id, seq), a contentless FTS5 table over the
tokens of ``domain/search.index_tokens`` and ``message_search_state`` (how far FTS5
holds the rows; those above are pending). PostgreSQL: ``message_search`` with those
tokens as a ``tsvector`` and a GIN index. Backfilled oldest first, so ids keep the
newest-first order of the messages.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qunzu.storage.search_repo import FTS5_TOKENIZER, postgres_doc, sqlite_doc

revision = "0016"
down_revision = "0015"

_BATCH = 2000


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        op.execute(
            "CREATE TABLE message_search (id BIGSERIAL PRIMARY KEY, group_id BIGINT NOT NULL, "
            "seq BIGINT NOT NULL, doc TSVECTOR NOT NULL)"
        )
        op.execute("CREATE INDEX ix_message_search_doc ON message_search USING GIN (doc)")
    else:
        op.execute(
            "CREATE TABLE message_search (id INTEGER PRIMARY KEY, group_id INTEGER NOT NULL, "
            "seq INTEGER NOT NULL)"
        )
        op.execute(
            "CREATE VIRTUAL TABLE message_search_fts USING fts5(doc, content='', "
            f"columnsize=0, tokenize='{FTS5_TOKENIZER}')"
        )
    op.execute("CREATE UNIQUE INDEX ux_message_search_group_seq ON message_search (group_id, seq)")
    _backfill(bind, postgres)
    if not postgres:
        # Rows above indexed_upto are pending, not yet in FTS5 (storage/search_repo.py).
        op.execute(
            "CREATE TABLE message_search_state (id INTEGER PRIMARY KEY CHECK (id = 1), "
            "indexed_upto INTEGER NOT NULL)"
        )
        op.execute(
            "INSERT INTO message_search_state (id, indexed_upto) "
            "SELECT 1, COALESCE(MAX(id), 0) FROM message_search"
        )


def _backfill(bind: sa.Connection, postgres: bool) -> None:
    rows = bind.execute(
        sa.text(
            "SELECT group_id, seq, body FROM timeline WHERE kind = 'message' "
            "AND body IS NOT NULL ORDER BY created_at, group_id, seq"
        )
    )
    while batch := rows.fetchmany(_BATCH):
        for group_id, seq, body in batch:
            if postgres:
                bind.execute(
                    sa.text(
                        "INSERT INTO message_search (group_id, seq, doc) "
                        "VALUES (:g, :s, CAST(:d AS tsvector))"
                    ),
                    {"g": group_id, "s": seq, "d": postgres_doc(body)},
                )
                continue
            doc_id = bind.execute(
                sa.text("INSERT INTO message_search (group_id, seq) VALUES (:g, :s) RETURNING id"),
                {"g": group_id, "s": seq},
            ).scalar_one()
            bind.execute(
                sa.text("INSERT INTO message_search_fts (rowid, doc) VALUES (:id, :d)"),
                {"id": doc_id, "d": sqlite_doc(body)},
            )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE message_search_fts")
        op.execute("DROP TABLE message_search_state")
    op.execute("DROP TABLE message_search")
