"""0015: conversation: message mentions, recalled messages kept as evidence, pinned
messages, per-group nicknames."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qunzu.storage.migrations.columns import ID, TS, fk

revision = "0015"
down_revision = "0014"


def upgrade() -> None:
    op.create_table(
        "message_mentions",
        sa.Column("group_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("sender_id", ID, nullable=False),
        sa.Column("at", TS, nullable=False),
        fk("message_mentions", "group_id", "groups"),
        sa.PrimaryKeyConstraint("group_id", "account_id", "seq", name=op.f("pk_message_mentions")),
    )
    op.create_table(
        "recalled_messages",
        sa.Column("group_id", ID, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("sender_id", ID, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("recalled_at", TS, nullable=False),
        sa.Column("keep_until", TS, nullable=False),
        fk("recalled_messages", "group_id", "groups"),
        sa.PrimaryKeyConstraint("group_id", "seq", name=op.f("pk_recalled_messages")),
    )
    op.create_table(
        "pinned_messages",
        sa.Column("group_id", ID, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("pinned_by", ID, nullable=False),
        sa.Column("pinned_at", TS, nullable=False),
        fk("pinned_messages", "group_id", "groups"),
        sa.PrimaryKeyConstraint("group_id", "seq", name=op.f("pk_pinned_messages")),
    )
    op.create_table(
        "group_nicknames",
        sa.Column("group_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("nickname", sa.String(64), nullable=False),
        sa.Column("set_at", TS, nullable=False),
        fk("group_nicknames", "account_id", "accounts"),
        fk("group_nicknames", "group_id", "groups"),
        sa.PrimaryKeyConstraint("group_id", "account_id", name=op.f("pk_group_nicknames")),
    )


def downgrade() -> None:
    for name in ("group_nicknames", "pinned_messages", "recalled_messages", "message_mentions"):
        op.drop_table(name)
